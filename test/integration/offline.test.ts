/** Offline SQL (make migrate-sql): the printed script, run by sqlite3 / psql, gives what migrate-up gives. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeFor, dumpSchema, makeProject, pgUrl, runCli, runMake, sql, uniqueSchema, type Env } from '../support/project.js';

function runScript(env: Env, dir: string, script: string): void {
  const r = env.DATABASE_SCHEMA
    ? spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', env.DATABASE_URL!, '-f', '-'], { input: script, encoding: 'utf8' })
    : spawnSync('sqlite3', ['-bail', path.join(dir, env.DATABASE_URL!.replace(/^file:/, ''))], { input: script, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}
/** The schema's structure with its name replaced, so two schemas compare. */
const structure = async (dir: string, env: Env) => (await dumpSchema(dir, env)).split(env.DATABASE_SCHEMA ?? '\0').join('<schema>');
const versions = async (dir: string, env: Env) => (await sql<{ r: string }>(dir, env, 'SELECT "revision" AS r FROM sluice_version ORDER BY 1')).map((x) => x.r);

for (const d of ['sqlite', 'postgresql'] as const) {
  describeFor(d)(`make migrate-sql (${d})`, () => {
    it('base:head run by the database client equals migrate-up; head:base and 0001:head too; no connection needed', async () => {
      const dir = makeProject();
      const envA: Env = d === 'sqlite' ? { DATABASE_URL: 'file:a.sqlite' } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('offA') };
      const envB: Env = d === 'sqlite' ? { DATABASE_URL: 'file:b.sqlite' } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('offB') };
      expect(runCli(dir, ['up'], envA).status).toBe(0);
      // no connection: a PostgreSQL URL to a closed port still prints the script
      const offlineEnv = d === 'sqlite' ? envB : { ...envB, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
      const full = runMake(dir, ['migrate-sql', 'REVISION=base:head'], offlineEnv);
      expect(full.status, full.stderr).toBe(0);
      expect(full.stdout).toMatch(/^-- sluice offline SQL: .*base -> 0003_add_phone_to_users \(up, 4 revisions\)/m);
      expect(full.stdout.match(/^BEGIN;$/gm)).toHaveLength(4);
      runScript(envB, dir, full.stdout);
      expect(await structure(dir, envB)).toBe(await structure(dir, envA));
      expect(await versions(dir, envB)).toEqual(await versions(dir, envA));
      // the checksums it records are the ones migrate-up checks
      expect(runCli(dir, ['up'], envB).stdout).toMatch(/nothing to do|already at|0 revisions|at head/i);
      const down = runCli(dir, ['sql', 'head:base'], offlineEnv);
      expect(down.status, down.stderr).toBe(0);
      runScript(envB, dir, down.stdout);
      expect(await versions(dir, envB)).toEqual([]);
      const left = envB.DATABASE_SCHEMA
        ? await sql<{ t: string }>(dir, envB, "SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 UNION ALL SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND t.typtype = 'e'", [envB.DATABASE_SCHEMA])
        : await sql<{ t: string }>(dir, envB, "SELECT name AS t FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'");
      expect(left.map((x) => x.t)).toEqual(['sluice_version']);
      const part = runCli(dir, ['sql', '0001:head'], offlineEnv);
      runScript(envB, dir, runCli(dir, ['sql', 'base:0001'], offlineEnv).stdout);
      runScript(envB, dir, part.stdout);
      expect(await structure(dir, envB)).toBe(await structure(dir, envA));
    });
  });
}

describeFor('sqlite')('make migrate-sql: a SQLite table rebuild', () => {
  it("puts the rebuild's PRAGMA foreign_keys outside the revision's transaction: child rows survive a runner with foreign keys on (was: deleted by cascade)", async () => {
    const dir = makeProject();
    const models = path.join(dir, 'models', 'sqlite.ts');
    writeFileSync(models, readFileSync(models, 'utf8').replace("  phone: text('phone'),\n", "  phone: text('phone').notNull().default(''),\n"));
    const made = runCli(dir, ['create', '-m', 'phone required'], { SLUICE_VERIFY: 'off' });
    expect(made.status, made.stderr).toBe(0);
    const up = readFileSync(path.join(dir, 'drizzle', 'sqlite', '0004_phone_required.sql'), 'utf8');
    expect(up).toMatch(/PRAGMA foreign_keys=OFF/); // drizzle-kit rebuilds users (sessions reference it, ON DELETE CASCADE)
    const env: Env = { DATABASE_URL: 'file:rebuild.sqlite' };
    expect(runCli(dir, ['up', '0003'], env).status).toBe(0);
    await sql(dir, env, "INSERT INTO users (id, email, phone) VALUES (1, 'a@example.com', '555')");
    await sql(dir, env, "INSERT INTO sessions (id, user_id, expires_at) VALUES ('s1', 1, 0)");
    const script = runCli(dir, ['sql', '0003:0004'], env);
    expect(script.status, script.stderr).toBe(0);
    expect(script.stdout).toMatch(/^PRAGMA foreign_keys=OFF;\nBEGIN;$/m);
    expect(script.stdout).toMatch(/^COMMIT;\nPRAGMA foreign_keys=ON;$/m);
    const r = spawnSync('sqlite3', ['-bail', '-cmd', 'PRAGMA foreign_keys=ON', path.join(dir, 'rebuild.sqlite')], { input: script.stdout, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(await sql(dir, env, 'SELECT id FROM sessions')).toEqual([{ id: 's1' }]);
    expect(await versions(dir, env)).toContain('0004_phone_required');
  }, 60_000);
});

describe('make migrate-sql refusals', () => {
  it('a bad range is one line, exit 2', () => {
    const dir = makeProject();
    for (const [range, msg] of [
      ['-1:head', /the start must be base, head, a tag or a number/],
      ['head:', /has no target/],
      ['nope:head', /unknown revision "nope"/],
    ] as const) {
      const r = runCli(dir, ['sql', '--', range]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
  });
});
