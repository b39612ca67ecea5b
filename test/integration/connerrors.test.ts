/**
 * Connection failures a Unix-socket DATABASE_URL meets (found by a hunt): no socket file is a server
 * not running there (was: "connect ENOENT /tmp/.s.PGSQL.5432"), and `deploy` waits for one still being
 * made (a server or a proxy sidecar starting; was: exit 5 at once). Real CLI; no server needed.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { itFor, makeProject, pgUrl, runCli, tempDir, uniqueSchema, upgradeTo } from '../support/project.js';

describe('a Unix socket with no server behind it', () => {
  it('status says no server socket, exit 5; deploy waits for it within SLUICE_DEPLOY_WAIT', () => {
    const dir = makeProject();
    const folder = tempDir('sluice-nosock-');
    const env = { DATABASE_URL: `postgres://postgres@${encodeURIComponent(folder)}/postgres` };
    const status = runCli(dir, ['status'], env);
    expect(status.status, status.stdout + status.stderr).toBe(5);
    expect(status.stderr.trim().split('\n')).toHaveLength(1);
    expect(status.stderr).toContain(`no server socket at ${folder}/.s.PGSQL.5432; is the server running`);
    const deploy = runCli(dir, ['deploy'], { ...env, SLUICE_DEPLOY_WAIT: '2' });
    expect(deploy.status, deploy.stdout + deploy.stderr).toBe(5);
    expect(deploy.stderr).toMatch(/waiting for .*: no server socket \(yet\) \(attempt 1, /);
  });
});

// a hunt: a session holding a lock on sluice_version (LOCK TABLE, VACUUM FULL, an ALTER) past lock_timeout
// made sluice's own read of it an "internal error", exit 1
describe('sluice_version locked by another session', () => {
  itFor('postgresql')('status and up wait lock_timeout, then exit 5 with one line; nothing changed', async () => {
    const dir = makeProject();
    const schema = uniqueSchema('locked');
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: schema, SLUICE_LOCK_TIMEOUT: '1s' };
    await upgradeTo(dir, env, '1');
    const other = new pg.Client({ connectionString: pgUrl() });
    await other.connect();
    try {
      await other.query(`BEGIN; LOCK TABLE "${schema}"."sluice_version" IN ACCESS EXCLUSIVE MODE`);
      for (const args of [['status'], ['up']]) {
        const r = runCli(dir, args, env);
        expect(r.status, r.stdout + r.stderr).toBe(5);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(/one of sluice's own statements waited longer than lock_timeout \(SLUICE_LOCK_TIMEOUT\) for a lock another session holds/);
      }
      await other.query('ROLLBACK');
      const rows = await other.query(`SELECT revision FROM "${schema}"."sluice_version" ORDER BY 1`);
      expect(rows.rows.map((x) => x.revision)).toEqual(['0000_init', '0001_add_audits']);
    } finally {
      await other.end();
    }
  });
});

