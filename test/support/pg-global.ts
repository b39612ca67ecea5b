/**
 * Starts one disposable PostgreSQL cluster for the whole suite (initdb + pg_ctl on a free loopback
 * port; as root the server runs as the postgres user) and stops it afterwards. If it cannot start,
 * the suite fails loudly; SLUICE_SKIP_PG=1 is the only way to run without PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startCluster, stopCluster } from '../../src/pgcluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

export default async function setup(project: TestProject) {
  if (process.env.SLUICE_SKIP_PG === '1') {
    const banner = '!'.repeat(78);
    process.stderr.write(`\n${banner}\n!! SLUICE_SKIP_PG=1: PostgreSQL tests are SKIPPED at your request. They did not run.\n${banner}\n\n`);
    project.provide('pgUrl', '');
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-test-pg-'));
  try {
    // prepared transactions on, so that a TypeScript revision's PREPARE TRANSACTION can be tested
    // (tsmigrations.test); no autovacuum: the suite makes and drops thousands of schemas and tables in
    // ~150 databases, and nothing it checks depends on the statistics or space autovacuum keeps
    const cluster = await startCluster(dir, { settings: { max_prepared_transactions: '4', autovacuum: 'off' } });
    project.provide('pgUrl', cluster.url);
    process.stderr.write(`[sluice tests] PostgreSQL started at ${cluster.url}\n`);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `PostgreSQL could not be started for the tests (${(err as Error).message}). The PostgreSQL tests cannot run; fix the installation or set SLUICE_SKIP_PG=1 to skip them explicitly.`,
    );
  }
  return async () => {
    await stopCluster(dir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
}
