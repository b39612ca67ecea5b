/** Offline SQL (make migrate-sql): the printed script, run by sqlite3 / psql, gives what migrate-up gives. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { status } from '../../dist/index.js';
import { addRevision, describeFor, dumpSchema, itFor, makeProject, pgUrl, runCli, runMake, sql, uniqueSchema, type Env } from '../support/project.js';

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

// Found by a README walk: the header said "run it with psql -v ON_ERROR_STOP=1 -f, or sqlite3", and the
// plain shells go on after a failed statement. sqlite3 then ran a table rebuild's DROP TABLE after its
// failed copy, and recorded the revision: every row of the table lost. The script now stops them itself.
describeFor('sqlite')('make migrate-sql run by the plain sqlite3 shell (no -bail)', () => {
  it("stops at the first error: a rebuild whose copy fails keeps the table's rows and records nothing (was: table emptied, revision recorded)", async () => {
    const dir = makeProject();
    const models = path.join(dir, 'models', 'sqlite.ts');
    writeFileSync(models, readFileSync(models, 'utf8').replace("  phone: text('phone'),\n", "  phone: text('phone').notNull().default(''),\n"));
    expect(runCli(dir, ['create', '-m', 'phone required'], { SLUICE_VERIFY: 'off' }).status).toBe(0);
    addRevision(dir, 'sqlite', 'after', 'CREATE TABLE `after_it` (`id` integer);', 'DROP TABLE `after_it`;');
    const env: Env = { DATABASE_URL: 'file:plain.sqlite' };
    expect(runCli(dir, ['up', '0003'], env).status).toBe(0);
    await sql(dir, env, "INSERT INTO users (id, email, phone) VALUES (1, 'a@example.com', '555'), (2, 'b@example.com', NULL)");
    const script = runCli(dir, ['sql', '0003:head'], env);
    expect(script.status, script.stderr).toBe(0);
    expect(script.stdout.split('\n')[2]).toBe('.bail on');
    const r = spawnSync('sqlite3', [path.join(dir, 'plain.sqlite')], { input: script.stdout, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/NOT NULL constraint failed/);
    expect(await sql(dir, env, 'SELECT id FROM users ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await versions(dir, env)).toEqual(['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users']);
    expect(await sql(dir, env, "SELECT name FROM sqlite_master WHERE name IN ('after_it', '__new_users')")).toEqual([]);
  }, 60_000);
});

// found by a hunt: a down script run on a database not at its revisions went ahead wherever its
// statements could (here DROP TABLE IF EXISTS), and its DELETE of a version row that was not there too
describe('make migrate-sql: a down script checks each revision it reverts is recorded as applied', () => {
  for (const dialect of ['sqlite', 'postgresql'] as const) {
    itFor(dialect)(`${dialect}: run on a database below its start, it stops before the first down's statements`, async () => {
      const dir = makeProject();
      // a down that runs on any database (IF EXISTS), and with it one that drops what the up did not make
      const extra = addRevision(dir, dialect, 'extra', 'CREATE TABLE "extra" ("id" integer);', 'DROP TABLE IF EXISTS "extra";\n--> statement-breakpoint\nDELETE FROM "audits";');
      const env: Env = dialect === 'sqlite' ? { DATABASE_URL: 'file:guard.sqlite' } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('offguard') };
      expect(runCli(dir, ['up', '0003'], env).status).toBe(0); // not at the script's start: 0004_extra never applied
      await sql(dir, env, "INSERT INTO audits (action, status) VALUES ('kept', 'ok')");
      // the script run by the plain shell of the dialect (its own first lines make it stop at an error)
      const plainShell = (input: string) =>
        dialect === 'sqlite'
          ? spawnSync('sqlite3', [path.join(dir, 'guard.sqlite')], { input, encoding: 'utf8' })
          : spawnSync('psql', ['-X', '-q', '-d', env.DATABASE_URL!, '-f', '-'], { input, encoding: 'utf8' });
      const script = runCli(dir, ['sql', 'head:0003'], env);
      expect(script.status, script.stderr).toBe(0);
      const r = plainShell(script.stdout);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`sluice: the database is not at ${extra} (${extra} not recorded as applied, or not 5 version rows), which this script reverts from; stopped before its statements`);
      // the version rows as before, audits' row kept
      expect((await sql<{ n: number | string }>(dir, env, 'SELECT count(*) AS n FROM audits'))[0]!.n).toEqual(dialect === 'sqlite' ? 1 : '1');
      expect(await versions(dir, env)).toEqual(['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users']);
      // at its start, it runs
      expect(runCli(dir, ['up'], env).status).toBe(0);
      const ok = plainShell(script.stdout);
      expect(ok.status, ok.stderr).toBe(0);
      expect((await status({ cwd: dir, env })).current).toBe('0003_add_phone_to_users');
      // found by review: a script made to revert 0003 run on a database past it (0004 applied since)
      const older = runCli(dir, ['sql', '0003:0002'], env);
      expect(runCli(dir, ['up'], env).status).toBe(0);
      const past = plainShell(older.stdout);
      expect(past.status).not.toBe(0);
      expect(past.stderr).toContain('sluice: the database is not at 0003_add_phone_to_users (0003_add_phone_to_users not recorded as applied, or not 4 version rows)');
      expect((await status({ cwd: dir, env })).current).toBe(extra);
      // found by a hunt: an up script run on a database below its start recorded its revisions, the one
      // between never run (exit 0); it stops before its first statement, and runs at its start
      const upScript = runCli(dir, ['sql', '0002:head'], env).stdout;
      expect(runCli(dir, ['down', '0001'], env).status).toBe(0);
      const below = plainShell(upScript);
      expect(below.status).not.toBe(0);
      expect(below.stderr).toContain('sluice: the database is not at 0002_add_sessions_and_roles (0002_add_sessions_and_roles not recorded as applied, or not 3 version rows), which this script upgrades from; stopped before its statements');
      expect(await versions(dir, env)).toEqual(['0000_init', '0001_add_audits']);
      expect(runCli(dir, ['up', '0002'], env).status).toBe(0);
      const atStart = plainShell(upScript);
      expect(atStart.status, atStart.stderr).toBe(0);
      expect((await status({ cwd: dir, env })).current).toBe(extra);
    });
  }
});

describeFor('postgresql')('make migrate-sql run by plain psql -f (no -v ON_ERROR_STOP=1)', () => {
  it('stops at the first error: the revisions after a failed one do not run (was: run and recorded on a database without it)', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'fails', 'CREATE TABLE "half" ("id" integer);\n--> statement-breakpoint\nSELECT 1 / 0;', 'DROP TABLE "half";');
    addRevision(dir, 'postgresql', 'after', 'CREATE TABLE "after_it" ("id" integer);', 'DROP TABLE "after_it";');
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('offplain') };
    const script = runCli(dir, ['sql', 'base:head'], env);
    expect(script.status, script.stderr).toBe(0);
    expect(script.stdout.split('\n')[2]).toBe('\\set ON_ERROR_STOP on');
    const r = spawnSync('psql', ['-X', '-q', '-d', env.DATABASE_URL!, '-f', '-'], { input: script.stdout, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/division by zero/);
    expect(await versions(dir, env)).toEqual(['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users']);
    expect(await sql(dir, env, "SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 AND tablename IN ('half', 'after_it')", [env.DATABASE_SCHEMA])).toEqual([]);
  });

  // found by a review: a tag holding `$sluice$` closed the guard's DO block early, and what followed it
  // in the tag ran as a statement of its own where the client goes on after an error
  it("a revision tag holding $sluice$ stays inside the guard's DO block: the down runs, nothing else does", async () => {
    const dir = makeProject();
    const tag = addRevision(dir, 'postgresql', 'x$sluice$;DROP TABLE users;--', 'CREATE TABLE "odd" ("id" integer);', 'DROP TABLE "odd";');
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('offtag') };
    expect(runCli(dir, ['up'], env).status).toBe(0);
    const script = runCli(dir, ['sql', 'head:-1'], env);
    expect(script.status, script.stderr).toBe(0);
    const lines = script.stdout.split('\n');
    expect(lines[2]).toBe('\\set ON_ERROR_STOP on');
    // a client that goes on after an error (the header's advice for one other than psql: remove that line)
    const r = spawnSync('psql', ['-X', '-q', '-d', env.DATABASE_URL!, '-f', '-'], { input: lines.filter((_, i) => i !== 2).join('\n'), encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/ERROR/);
    expect(await versions(dir, env)).toEqual(['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users']);
    const tables = await sql<{ t: string }>(dir, env, "SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 AND tablename IN ('users', 'odd')", [env.DATABASE_SCHEMA]);
    expect(tables.map((x) => x.t)).toEqual(['users']);
    expect(tag).toContain('$sluice$');
  });
});

// Found by review: the printed script did less than migrate-up in three ways, and each ended in a
// false success (exit 0, the revision recorded) where migrate-up refuses or does more.
describeFor('sqlite')('make migrate-sql does what migrate-up does (SQLite)', () => {
  it('foreign keys are on, as on sluice\'s connection: a DELETE cascades, a broken key fails and records nothing (was: the sqlite3 shell\'s default, off)', async () => {
    const dir = makeProject();
    const bp = '\n--> statement-breakpoint\n';
    addRevision(dir, 'sqlite', 'seed', ["INSERT INTO `users` (`id`, `email`) VALUES (1, 'a@example.com');", "INSERT INTO `sessions` (`id`, `user_id`, `expires_at`) VALUES ('s1', 1, 0);"].join(bp), 'DELETE FROM `sessions`;\n--> statement-breakpoint\nDELETE FROM `users`;');
    // a lone PRAGMA foreign_keys=ON is no table rebuild: the DELETE still cascades (was: run with them off)
    addRevision(dir, 'sqlite', 'purge', ['PRAGMA foreign_keys=ON;', 'DELETE FROM `users` WHERE `id` = 1;'].join(bp), null);
    addRevision(dir, 'sqlite', 'orphan', "INSERT INTO `sessions` (`id`, `user_id`, `expires_at`) VALUES ('o', 999, 0);", "DELETE FROM `sessions` WHERE `id` = 'o';");
    const envA: Env = { DATABASE_URL: 'file:a.sqlite' };
    const envB: Env = { DATABASE_URL: 'file:b.sqlite' };
    const up = runCli(dir, ['up'], envA);
    expect(up.status, up.stdout + up.stderr).toBe(3);
    expect(up.stdout + up.stderr).toMatch(/0006_orphan[\s\S]*FOREIGN KEY constraint failed/);
    const script = runCli(dir, ['sql', 'base:head'], envB);
    expect(script.status, script.stderr).toBe(0);
    const r = spawnSync('sqlite3', ['-bail', path.join(dir, 'b.sqlite')], { input: script.stdout, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/FOREIGN KEY constraint failed/);
    for (const env of [envA, envB]) {
      expect(await versions(dir, env)).toEqual(['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users', '0004_seed', '0005_purge']);
      expect(await sql(dir, env, 'SELECT id FROM sessions')).toEqual([]); // by cascade
    }
  });
});

describeFor('postgresql')('make migrate-sql does what migrate-up does (PostgreSQL)', () => {
  // found by a hunt: migrate-down refused a narrowing down over a value it would cut; the script cut it, exit 0
  it('a down script counts the values a narrowing type change would cut, as migrate-down does, and stops before it', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'codes', 'CREATE TABLE "codes" ("c" varchar(5));', 'DROP TABLE "codes";');
    const wide = addRevision(dir, 'postgresql', 'wide', 'ALTER TABLE "codes" ALTER COLUMN "c" SET DATA TYPE varchar(50);', 'ALTER TABLE "codes" ALTER COLUMN "c" SET DATA TYPE varchar(5) USING "c"::varchar(5);');
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('offnarrow') };
    expect(runCli(dir, ['up'], env).status).toBe(0);
    await sql(dir, env, "INSERT INTO codes VALUES ('ABCDEFGHIJ')");
    const script = runCli(dir, ['sql', 'head:-1'], env).stdout;
    const r = spawnSync('psql', ['-X', '-q', '-d', env.DATABASE_URL!, '-f', '-'], { input: script, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`sluice: the down of ${wide} changes codes.c from character varying(50) to varchar(5), which would change the values of 1 row(s); stopped before it`);
    expect(await sql(dir, env, 'SELECT c FROM codes')).toEqual([{ c: 'ABCDEFGHIJ' }]);
    expect((await status({ cwd: dir, env })).current).toBe(wide);
    await sql(dir, env, "UPDATE codes SET c = 'abc'");
    runScript(env, dir, script);
    expect((await status({ cwd: dir, env })).current).toBe('0004_codes');
    expect(await sql(dir, env, 'SELECT c FROM codes')).toEqual([{ c: 'abc' }]);
  });

  it('a revision that moves search_path (set_config) stops the script before its version row, as up refuses it (was: the next tables made in public, both recorded)', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'setcfg', "SELECT pg_catalog.set_config('search_path', 'public', false);", 'SELECT 1;');
    addRevision(dir, 'postgresql', 'zz', 'CREATE TABLE "zz_offline" ("id" integer);', 'DROP TABLE "zz_offline";');
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('offguard') };
    const script = runCli(dir, ['sql', 'base:head'], env);
    expect(script.status, script.stderr).toBe(0);
    const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', env.DATABASE_URL!, '-f', '-'], { input: script.stdout, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/sluice: revision 0004_setcfg \(up\) changed search_path to public, outside DATABASE_SCHEMA; stopped before its version row/);
    expect(await versions(dir, env)).toEqual(['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users']);
    expect(await sql(dir, env, "SELECT schemaname AS s FROM pg_tables WHERE tablename = 'zz_offline'")).toEqual([]);
    // up refuses the same revision
    expect(runCli(dir, ['up'], { ...env, DATABASE_SCHEMA: uniqueSchema('offguard') }).status).toBe(3);
  });

  it('a statement ending in a line comment keeps its ";" off the comment, in the script and in a dry run (was: swallowed, joined with the next statement)', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'commented', 'CREATE TABLE "ca" ("id" integer) -- a note\n--> statement-breakpoint\nCREATE TABLE "cb" ("id" integer);', 'DROP TABLE "cb";\n--> statement-breakpoint\nDROP TABLE "ca";');
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('offcomment') };
    const script = runCli(dir, ['sql', 'base:head'], env);
    expect(script.stdout).toContain('CREATE TABLE "ca" ("id" integer) -- a note\n;\n');
    runScript(env, dir, script.stdout);
    expect((await sql<{ t: string }>(dir, env, "SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 AND tablename IN ('ca', 'cb') ORDER BY 1", [env.DATABASE_SCHEMA])).map((x) => x.t)).toEqual(['ca', 'cb']);
    const dry = runCli(dir, ['up', '--dry-run'], { ...env, DATABASE_SCHEMA: uniqueSchema('offcomment') });
    expect(dry.stdout).toContain('CREATE TABLE "ca" ("id" integer) -- a note\n;\n');
  });

  it('a system schema as DATABASE_SCHEMA is refused as up refuses it: exit 2, one line (was: a script that creates tables in information_schema)', () => {
    const dir = makeProject();
    for (const schema of ['information_schema', 'pg_catalog', 'pg_temp']) {
      const r = runCli(dir, ['sql', 'base:head'], { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: schema });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`DATABASE_SCHEMA=${schema} is a PostgreSQL system schema`));
    }
  });
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
