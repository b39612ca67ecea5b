/**
 * Reliability on SQLite and the real PostgreSQL: transactions, no-transaction revisions, failure
 * reports, concurrency, timeouts, crash safety, backups and the remaining bad inputs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { downgrade, MigrationFailed, status, upgrade } from '../../dist/index.js';
import { generateProject } from '../../bench/generate.mjs';
import { pgDescribe, itFor, describeFor, addRevision, cleanEnv, dumpSchema, makeProject, pgUrl, REPO, runCli, sql, tempDir, uniqueSchema, type Env, upgradeTo, downgradeTo, stampTo } from '../support/project.js';

const BP = '\n--> statement-breakpoint\n';
type Dialect = 'sqlite' | 'postgresql';
const envFor = (dir: string, d: Dialect, name = 'r'): Env =>
  d === 'sqlite' ? { DATABASE_URL: `file:${path.join(dir, `${name}.sqlite`)}` } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema(name) };

const tables = async (dir: string, env: Env): Promise<string[]> =>
  env.DATABASE_SCHEMA
    ? (await sql<{ t: string }>(dir, env, 'SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1', [env.DATABASE_SCHEMA])).map((r) => r.t)
    : (await sql<{ t: string }>(dir, env, "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")).map((r) => r.t);

for (const d of ['sqlite', 'postgresql'] as const) {
  describeFor(d)(`transactions and failures on ${d}`, () => {
    let dir: string;
    beforeAll(() => {
      dir = makeProject();
      addRevision(dir, d, 'broken', `CREATE TABLE t_ok (id integer);${BP}ALTER TABLE no_such_table ADD COLUMN x integer;`, 'DROP TABLE t_ok;');
    });

    it('a failing revision leaves the database at the last good revision, with a full report', async () => {
      const env = envFor(dir, d, 'fail');
      const err = await upgrade({ cwd: dir, env }).catch((e) => e);
      expect(err).toBeInstanceOf(MigrationFailed);
      expect(err.message).toMatch(/revision 0004_broken \(up\) failed at statement 2\/2 \(ALTER TABLE no_such_table ADD COLUMN x integer;?\): .*no_such_table.*Rolled back: the database is at 0003_add_phone_to_users/);
      expect(err.results.map((r: { status: string }) => r.status)).toEqual(['applied', 'applied', 'applied', 'applied', 'failed']);
      expect(await tables(dir, env)).not.toContain('t_ok');
      expect((await status({ cwd: dir, env })).current).toBe('0003_add_phone_to_users');
    });

    it('--single-transaction: all or nothing', async () => {
      const env = envFor(dir, d, 'single');
      const r = runCli(dir, ['up', '--single-transaction'], env);
      expect(r.status).toBe(3);
      expect(r.stderr).toMatch(/0004_broken \(up\) failed at statement 2\/2 \(ALTER TABLE no_such_table .*Single transaction rolled back: the database is at base, as before the run/);
      // every revision of the run has its line, in order (was: only the failed one, numbered 1/5)
      expect(r.stdout.trim().split('\n').map((l) => l.replace(/ \[.*\]$/, ''))).toEqual([
        '↑ 0000_init rolled back',
        '↑ 0001_add_audits rolled back',
        '↑ 0002_add_sessions_and_roles rolled back',
        '↑ 0003_add_phone_to_users rolled back',
        '↑ 0004_broken FAILED',
      ]);
      expect(r.stdout).toMatch(/0004_broken FAILED \[5\/5/);
      expect(await tables(dir, env)).toEqual(['sluice_version']);
      await upgradeTo(dir, env, '3', { singleTransaction: true });
      expect((await status({ cwd: dir, env })).current).toBe('0003_add_phone_to_users');
    });
  });
}

pgDescribe('no-transaction revisions (PostgreSQL CREATE INDEX CONCURRENTLY)', () => {
  it('runs outside a transaction, records only after success, reports what ran on failure', async () => {
    const dir = makeProject();
    const env = envFor(dir, 'postgresql', 'nt');
    addRevision(dir, 'postgresql', 'concurrent_index', `-- sluice:no-transaction\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);`, `-- sluice:no-transaction\nDROP INDEX CONCURRENTLY users_name_idx;`);
    await upgrade({ cwd: dir, env });
    expect((await status({ cwd: dir, env })).current).toBe('0004_concurrent_index');
    await downgrade({ cwd: dir, env });
    addRevision(dir, 'postgresql', 'half', `-- sluice:no-transaction\nCREATE TABLE half_a (id int);${BP}CREATE TABLE half_a (id int);`, 'DROP TABLE half_a;');
    const r = runCli(dir, ['up'], env);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/0005_half \(up\) failed at statement 2\/2 .*statements 1-1 of it ran and were NOT rolled back; it is not recorded as applied. The database is at 0004_concurrent_index/);
    expect(await tables(dir, env)).toContain('half_a');
    // a no-transaction down that fails half way: its version row is removed only after success, so it is still recorded
    await sql(dir, env, 'DROP TABLE half_a');
    const doc = path.join(dir, 'drizzle', 'postgresql', '0004_concurrent_index.down.sql');
    writeFileSync(doc, `-- sluice:no-transaction\nDROP INDEX CONCURRENTLY users_name_idx;${BP}DROP INDEX CONCURRENTLY no_such_index;`);
    const d = runCli(dir, ['down', '0003_add_phone_to_users'], env);
    expect(d.status, d.stdout + d.stderr).toBe(3);
    expect(d.stderr).toMatch(/0004_concurrent_index \(down\) failed at statement 2\/2 .*statements 1-1 of it ran and were NOT rolled back; it is still recorded as applied. The database is at 0004_concurrent_index/);
  });
});

// A no-transaction file that manages transactions itself: whatever it leaves open at its end is
// committed before its version row (the database is asked, not the text), and a failure inside a
// block it opened rolls that block back and says which statements stay (found by review: COMMIT AND
// CHAIN, and a SAVEPOINT on SQLite, ran "applied" with no version row kept; a failure inside the
// file's own BEGIN was exit 1 on PostgreSQL and "NOT rolled back" for statements that were).
for (const d of ['sqlite', 'postgresql'] as const) {
  describeFor(d)(`no-transaction files that open transactions themselves (${d})`, () => {
    const NT = '-- sluice:no-transaction\n';
    const rows = async (dir: string, env: Env, q: string) => (await sql<{ v: unknown }>(dir, env, q)).map((r) => String(r.v));
    const recorded = (dir: string, env: Env) => rows(dir, env, `SELECT revision AS v FROM ${env.DATABASE_SCHEMA ? `"${env.DATABASE_SCHEMA}".` : ''}sluice_version ORDER BY 1`);

    it('a file ending inside a transaction it opened is committed and recorded once, the next revision runs after it', async () => {
      const dir = makeProject();
      const env = envFor(dir, d, 'ntopen');
      addRevision(dir, d, 'nt_log', 'CREATE TABLE nt_log (msg text);', 'DROP TABLE nt_log;');
      // PostgreSQL: COMMIT AND CHAIN opens the next transaction; SQLite: a SAVEPOINT outside a transaction opens one
      const opens = d === 'postgresql' ? `BEGIN;${BP}INSERT INTO nt_log VALUES ('a');${BP}COMMIT AND CHAIN;` : `INSERT INTO nt_log VALUES ('a');${BP}SAVEPOINT s1;`;
      addRevision(dir, d, 'nt_open', `${NT}${opens}${BP}INSERT INTO nt_log VALUES ('b');${BP}CREATE TABLE nt_made (x int);`, 'DROP TABLE nt_made;');
      addRevision(dir, d, 'after', 'CREATE TABLE t_after (x int);', 'DROP TABLE t_after;');
      // the file last in its run (nothing after it would commit what it left open), then followed by another revision
      const r = runCli(dir, ['up', '0005_nt_open'], env);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/-> 0005_nt_open \(6 revisions applied\)/);
      expect((await recorded(dir, env)).at(-1)).toBe('0005_nt_open');
      expect(await tables(dir, env)).toContain('nt_made');
      expect(await rows(dir, env, 'SELECT msg AS v FROM nt_log ORDER BY 1')).toEqual(['a', 'b']);
      await downgradeTo(dir, env, '0004_nt_log');
      const both = runCli(dir, ['up'], env);
      expect(both.status, both.stdout + both.stderr).toBe(0);
      expect(both.stdout).toMatch(/0004_nt_log -> 0006_after \(2 revisions applied\)/);
      expect((await recorded(dir, env)).slice(-2)).toEqual(['0005_nt_open', '0006_after']);
      expect(await tables(dir, env)).toEqual(expect.arrayContaining(['nt_made', 't_after']));
      expect(await rows(dir, env, 'SELECT msg AS v FROM nt_log ORDER BY 1')).toEqual(['a', 'a', 'b', 'b']);
      const again = runCli(dir, ['up'], env);
      expect(again.stdout, again.stderr).toMatch(/nothing to upgrade/);
      expect(await rows(dir, env, 'SELECT msg AS v FROM nt_log ORDER BY 1')).toEqual(['a', 'a', 'b', 'b']);
    });

    // PostgreSQL only: SQLite has no AND CHAIN (its failing COMMIT after the file takes the same path as PostgreSQL's below)
    if (d === 'postgresql') it('ROLLBACK AND CHAIN: what ran before it is undone, what follows is committed with the version row', async () => {
      const dir = makeProject();
      const env = envFor(dir, d, 'ntchain');
      addRevision(dir, d, 'nt_log', 'CREATE TABLE nt_log (msg text);', 'DROP TABLE nt_log;');
      addRevision(dir, d, 'nt_rb', `${NT}BEGIN;${BP}INSERT INTO nt_log VALUES ('undone');${BP}ROLLBACK AND CHAIN;${BP}INSERT INTO nt_log VALUES ('kept');`, "DELETE FROM nt_log;");
      await upgradeTo(dir, env);
      expect(await rows(dir, env, 'SELECT msg AS v FROM nt_log')).toEqual(['kept']);
      expect((await recorded(dir, env)).at(-1)).toBe('0005_nt_rb');
      expect(runCli(dir, ['up'], env).stdout).toMatch(/nothing to upgrade/);
      expect(await rows(dir, env, 'SELECT msg AS v FROM nt_log')).toEqual(['kept']);
    });

    it('a failure inside a block the file opened: the block is rolled back, the report says which statements stay', async () => {
      const dir = makeProject();
      const env = envFor(dir, d, 'ntfail');
      addRevision(dir, d, 'nt_half', `${NT}CREATE TABLE nt_one (x int);${BP}BEGIN;${BP}CREATE TABLE nt_two (x int);${BP}INSERT INTO users (id, email) VALUES (1, 'x'), (1, 'y');${BP}COMMIT;`, 'DROP TABLE nt_one;');
      const r = runCli(dir, ['up'], env);
      expect(r.status, r.stdout + r.stderr).toBe(3);
      expect(r.stderr).toMatch(
        /0004_nt_half \(up\) failed at statement 4\/5 \(INSERT INTO users .*It is marked sluice:no-transaction: statements 1-1 of it ran and were NOT rolled back, statements 2-3 ran in a transaction the file opened and were rolled back with it; it is not recorded as applied\. The database is at 0003_add_phone_to_users$/m,
      );
      expect(r.stderr).not.toMatch(/internal error/);
      const made = await tables(dir, env);
      expect(made).toContain('nt_one');
      expect(made).not.toContain('nt_two');
      expect((await recorded(dir, env)).at(-1)).toBe('0003_add_phone_to_users');
    });

    if (d === 'postgresql') it("a failure at the COMMIT sluice runs after the file (a deferred foreign key) is named as that COMMIT", async () => {
      const dir = makeProject();
      const env = envFor(dir, d, 'ntdefer');
      addRevision(dir, d, 'nt_fk', 'CREATE TABLE nt_p (id int PRIMARY KEY);' + BP + 'CREATE TABLE nt_c (pid int REFERENCES nt_p (id) DEFERRABLE INITIALLY DEFERRED);', 'DROP TABLE nt_c;' + BP + 'DROP TABLE nt_p;');
      addRevision(dir, d, 'nt_late', `${NT}BEGIN;${BP}CREATE TABLE nt_late (x int);${BP}INSERT INTO nt_c VALUES (99);`, 'DROP TABLE nt_late;');
      const r = runCli(dir, ['up'], env);
      expect(r.status, r.stdout + r.stderr).toBe(3);
      expect(r.stderr).toMatch(/0005_nt_late \(up\) failed in the COMMIT sluice runs after its last statement, which left a transaction it opened: .*nt_c.*statements 1-3 ran in a transaction the file opened and were rolled back with it; it is not recorded as applied\. The database is at 0004_nt_fk$/m);
      expect(await tables(dir, env)).not.toContain('nt_late');
    });
  });
}

// Found by review: SQLite named sluice's table unqualified, so a TEMP table of the same name made by a
// revision took its place for the rest of the session: exit 0, "applied", and the version rows gone
// with the connection (the next up ran the revisions again).
describeFor('sqlite')('a TEMP table named sluice_version (SQLite)', () => {
  it("does not take the place of sluice's table: every revision is recorded in the database file", async () => {
    const dir = makeProject();
    const env = envFor(dir, 'sqlite', 'temp');
    addRevision(dir, 'sqlite', 'temp_shadow', 'CREATE TEMP TABLE sluice_version ("revision" varchar(255) PRIMARY KEY NOT NULL, "name" text NOT NULL, "checksum" varchar(64) NOT NULL, "applied_at" text NOT NULL, "execution_ms" integer NOT NULL);', '');
    addRevision(dir, 'sqlite', 'after', 'CREATE TABLE t_after (x int);', 'DROP TABLE t_after;');
    const r = runCli(dir, ['up'], env);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect((await sql<{ r: string }>(dir, env, 'SELECT revision AS r FROM sluice_version ORDER BY 1')).map((x) => x.r).slice(-2)).toEqual(['0004_temp_shadow', '0005_after']);
    expect(runCli(dir, ['up'], env).stdout).toMatch(/nothing to upgrade/);
  });
});

pgDescribe('grouped PostgreSQL runs (one script for many revisions)', () => {
  // Every transaction of one script starts at the script's start: a duration taken from now() grows along the group.
  it("record each revision's own duration, in both modes", async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'slow', 'SELECT pg_sleep(0.4);', 'SELECT 1;');
    addRevision(dir, 'postgresql', 'after', 'CREATE TABLE t_after (id integer);', 'DROP TABLE t_after;');
    for (const singleTransaction of [false, true]) {
      const env = envFor(dir, 'postgresql', singleTransaction ? 'ms1' : 'ms');
      await upgrade({ cwd: dir, env, singleTransaction });
      const rows = await sql<{ revision: string; ms: number }>(dir, env, `SELECT revision, execution_ms AS ms FROM "${env.DATABASE_SCHEMA}".sluice_version ORDER BY revision`);
      const ms = Object.fromEntries(rows.map((r) => [r.revision, r.ms]));
      expect(Object.keys(ms), `single: ${singleTransaction}`).toHaveLength(6);
      expect(ms['0004_slow'], `single: ${singleTransaction}`).toBeGreaterThanOrEqual(350);
      expect(ms['0005_after'], `single: ${singleTransaction}`).toBeLessThan(350);
    }
  });

  // Found by a README walk: when a later revision of the group failed (or a signal stopped it), the ones
  // before it, committed, were reported with 0 ms, and the failed one with the whole group's time.
  it("report each revision's own duration when a later one of its group fails, in the lines and --json", async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'slow', 'SELECT pg_sleep(0.4);', 'SELECT 1;');
    addRevision(dir, 'postgresql', 'bad', 'CREATE TABLE t_bad (id integer);\n--> statement-breakpoint\nINSERT INTO no_such_table VALUES (1);', 'DROP TABLE t_bad;');
    for (const singleTransaction of [false, true]) {
      const env = envFor(dir, 'postgresql', singleTransaction ? 'fms1' : 'fms');
      const r = runCli(dir, ['--json', 'up', ...(singleTransaction ? ['--single-transaction'] : [])], env);
      expect(r.status, r.stderr).toBe(3);
      const steps = (JSON.parse(r.stdout) as { results: { revision: string; status: string; ms: number }[] }).results;
      const of = (id: string) => steps.find((x) => x.revision === id)!;
      expect(of('0004_slow').status).toBe(singleTransaction ? 'rolled-back' : 'applied');
      expect(of('0004_slow').ms, `single: ${singleTransaction}`).toBeGreaterThanOrEqual(350);
      expect(of('0005_bad').status).toBe('failed');
      expect(of('0005_bad').ms, `single: ${singleTransaction}`).toBeLessThan(350);
      if (!singleTransaction) {
        const rows = await sql<{ ms: number }>(dir, env, `SELECT execution_ms AS ms FROM "${env.DATABASE_SCHEMA}".sluice_version WHERE revision = '0004_slow'`);
        expect(rows[0]!.ms).toBeGreaterThanOrEqual(350);
        // the line says the same, on a database of its own
        const lines = runCli(dir, ['up'], envFor(dir, 'postgresql', 'fmsl'));
        expect(Number(/↑ 0004_slow applied \(1 statement, (\d+) ms\)/.exec(lines.stdout)?.[1])).toBeGreaterThanOrEqual(350);
      }
    }
  });

  // 450 revisions go in three scripts (200, 200, 50); the third is written while the second runs.
  it('a failure in the second of three scripts: the first stays, the failing revision is named, the third never runs; -1 keeps nothing', async () => {
    const dir = path.join(tempDir('sluice-proj-'), 'long');
    const project = generateProject(dir, 'postgresql', 450);
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    writeFileSync(path.join(project.out, '0320_bench_320.sql'), `CREATE TABLE "t_320" ("id" integer PRIMARY KEY NOT NULL, "name" text NOT NULL);${BP}ALTER TABLE no_such_table ADD COLUMN x integer;`);
    const env = envFor(dir, 'postgresql', 'g3');
    const r = runCli(dir, ['up'], env);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/revision 0320_bench_320 \(up\) failed at statement 2\/2 \(ALTER TABLE no_such_table ADD COLUMN x integer;?\): .*no_such_table.*Rolled back: the database is at 0319_bench_319/);
    expect(r.stdout.match(/ applied \(/g)).toHaveLength(320);
    const rows = await sql<{ n: string; last: string }>(dir, env, `SELECT count(*) AS n, max(revision) AS last FROM "${env.DATABASE_SCHEMA}".sluice_version`);
    expect(rows).toEqual([{ n: '320', last: '0319_bench_319' }]);
    const made = await tables(dir, env);
    expect(made).toContain('t_316');
    expect(made.filter((t) => /^t_(32\d|3[3-9]\d|4\d\d)$/.test(t))).toEqual([]);
    const single = envFor(dir, 'postgresql', 'g3s');
    const s1 = runCli(dir, ['up', '--single-transaction'], single);
    expect(s1.status).toBe(3);
    expect(s1.stderr).toMatch(/0320_bench_320 \(up\) failed at statement 2\/2 .*Single transaction rolled back: the database is at base, as before the run/);
    expect(await tables(dir, single)).toEqual(['sluice_version']);
  });

  // The version-row statements are prepared once per connection (PREPARE, then EXECUTE per revision).
  it('a revision that deallocates prepared statements (DEALLOCATE ALL, DISCARD PLANS) applies and reverts in a grouped run, both modes', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'deallocate', `CREATE TABLE t_dealloc (id integer);${BP}DEALLOCATE ALL;${BP}DISCARD PLANS;`, 'DROP TABLE t_dealloc;');
    addRevision(dir, 'postgresql', 'after', 'CREATE TABLE t_after (id integer);', 'DROP TABLE t_after;');
    for (const single of [false, true]) {
      const env = envFor(dir, 'postgresql', single ? 'dea1' : 'dea');
      const flag = single ? ['--single-transaction'] : [];
      const up = runCli(dir, ['up', ...flag], env);
      expect(up.status, up.stdout + up.stderr).toBe(0);
      const rows = await sql<{ revision: string }>(dir, env, `SELECT revision FROM "${env.DATABASE_SCHEMA}".sluice_version ORDER BY revision`);
      expect(rows.map((r) => r.revision)).toEqual(['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users', '0004_deallocate', '0005_after']);
      const down = runCli(dir, ['down', 'base', ...flag], env);
      expect(down.status, down.stdout + down.stderr).toBe(0);
      expect(await tables(dir, env)).toEqual(['sluice_version']);
    }
  });

  it('no-transaction revisions around ones that drop prepared statements (DEALLOCATE ALL grouped, and in one of them): each applies, is recorded and reverts (was: prepared statement "sluice_version_insert" does not exist, its statements kept and unrecorded)', async () => {
    const dir = makeProject();
    const nt = '-- sluice:no-transaction\n';
    addRevision(dir, 'postgresql', 'nt1', `${nt}CREATE TABLE t_nt1 (id integer);`, `${nt}DROP TABLE t_nt1;`);
    addRevision(dir, 'postgresql', 'grouped', `CREATE TABLE t_g (id integer);${BP}DEALLOCATE ALL;`, `DROP TABLE t_g;${BP}DEALLOCATE ALL;`);
    addRevision(dir, 'postgresql', 'nt2', `${nt}CREATE TABLE t_nt2 (id integer);${BP}DEALLOCATE ALL;`, `${nt}DROP TABLE t_nt2;${BP}DEALLOCATE ALL;`);
    addRevision(dir, 'postgresql', 'nt3', `${nt}CREATE TABLE t_nt3 (id integer);`, `${nt}DROP TABLE t_nt3;`);
    const env = envFor(dir, 'postgresql', 'ntdea');
    const up = runCli(dir, ['up'], env);
    expect(up.status, up.stdout + up.stderr).toBe(0);
    const rows = await sql<{ revision: string }>(dir, env, `SELECT revision FROM "${env.DATABASE_SCHEMA}".sluice_version WHERE revision >= '0004' ORDER BY revision`);
    expect(rows.map((r) => r.revision)).toEqual(['0004_nt1', '0005_grouped', '0006_nt2', '0007_nt3']);
    expect((await tables(dir, env)).filter((t) => t.startsWith('t_'))).toEqual(['t_g', 't_nt1', 't_nt2', 't_nt3']);
    const down = runCli(dir, ['down', 'base'], env);
    expect(down.status, down.stdout + down.stderr).toBe(0);
    expect(await tables(dir, env)).toEqual(['sluice_version']);
  });

  it("a connection the library reuses across runs: a short run after one that dropped prepared statements, and the caller's DEALLOCATE ALL between runs (was: prepared statement does not exist)", async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'nt', '-- sluice:no-transaction\nDEALLOCATE ALL;', '-- sluice:no-transaction\nSELECT 1;');
    addRevision(dir, 'postgresql', 'after', 'CREATE TABLE t_after (id integer);', 'DROP TABLE t_after;');
    const env = envFor(dir, 'postgresql', 'reuse');
    const { openConnection } = await import('../../dist/dialect/index.js');
    const { parseDatabaseTarget } = await import('../../dist/config.js');
    const connection = await openConnection(parseDatabaseTarget(env, dir), { write: true, env });
    try {
      await upgrade({ cwd: dir, env, connection, revision: '0003_add_phone_to_users' }); // four revisions: prepared, then released
      await upgrade({ cwd: dir, env, connection, revision: 'head' }); // two, the first deallocating everything
      await connection.execute('DEALLOCATE ALL'); // the caller's own, between runs
      const down = await downgrade({ cwd: dir, env, connection, revision: 'base' }); // six revisions: prepared afresh
      expect(down.to).toBe('base');
    } finally {
      await connection.close();
    }
    expect(await tables(dir, env)).toEqual(['sluice_version']);
  });

  it('a revision whose function drops the prepared statements where its text does not show it: fails, rolled back, saying what to do; one revision at a time applies', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'mkfn', "CREATE FUNCTION sluice_test_dropall() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DEALL' || 'OCATE ALL'; END $$;", 'DROP FUNCTION sluice_test_dropall();');
    addRevision(dir, 'postgresql', 'callfn', 'CREATE TABLE t_called (id integer);' + BP + 'SELECT sluice_test_dropall();', 'DROP TABLE t_called;');
    for (const n of ['a', 'b', 'c']) addRevision(dir, 'postgresql', `more_${n}`, `CREATE TABLE t_more_${n} (id integer);`, `DROP TABLE t_more_${n};`);
    const env = envFor(dir, 'postgresql', 'dropfn');
    await upgradeTo(dir, env, '0004');
    const r = runCli(dir, ['up'], env);
    expect(r.status, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/revision 0005_callfn \(up\) failed .*prepared statement "sluice_run_.*Rolled back: the database is at 0004_mkfn.*apply it in a run of fewer than four revisions \(make migrate-up REVISION=\+1\)/);
    expect(await tables(dir, env)).not.toContain('t_called');
    await upgradeTo(dir, env, '+1');
    await upgradeTo(dir, env);
    expect(await tables(dir, env)).toEqual(expect.arrayContaining(['t_called', 't_more_a', 't_more_b', 't_more_c']));
    // found by a hunt: a down failing so said "make migrate-up REVISION=+1", which applied again the
    // revisions the failed run had just reverted; it says the down's one-at-a-time command now
    writeFileSync(path.join(dir, 'drizzle', 'postgresql', '0005_callfn.down.sql'), 'SELECT sluice_test_dropall();' + BP + 'DROP TABLE t_called;');
    const d = runCli(dir, ['down', 'base'], env);
    expect(d.status, d.stdout + d.stderr).toBe(3);
    expect(d.stderr).toMatch(/revision 0005_callfn \(down\) failed .*Rolled back: the database is at 0005_callfn.*revert it in a run of fewer than four revisions \(make migrate-down REVISION=-1\)/);
    await downgradeTo(dir, env, '-1');
    await downgradeTo(dir, env, 'base');
    expect(await tables(dir, env)).toEqual(['sluice_version']);
  });

  it('--single-transaction: a revision that moves search_path is named and the whole run rolled back', async () => {
    const dir = makeProject();
    const env = envFor(dir, 'postgresql', 'sp1');
    addRevision(dir, 'postgresql', 'moves', `SELECT set_config('search_path', 'public', false);${BP}CREATE TABLE sp_escaped (id integer);`, 'DROP TABLE sp_escaped;');
    // run under the moved search_path, this one fails first (users is only in the schema): the blame must stay on 0004
    addRevision(dir, 'postgresql', 'later', 'ALTER TABLE users ADD COLUMN sp_later integer;', 'ALTER TABLE users DROP COLUMN sp_later;');
    const err = await upgrade({ cwd: dir, env, singleTransaction: true }).catch((e) => e);
    expect(err).toBeInstanceOf(MigrationFailed);
    expect(err.message).toMatch(/revision 0004_moves \(up\) failed .*the revision changed search_path to public, which would put objects outside DATABASE_SCHEMA.*Single transaction rolled back: the database is at base/);
    expect(await tables(dir, env)).toEqual(['sluice_version']);
    expect(await sql(dir, env, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'sp\\_%'")).toEqual([]);
  });
});

/**
 * Something acting on sluice_version: a trigger that drops a revision's version row (returns NULL /
 * RAISE(IGNORE)) or keeps the row a down removes, a rule that moves it elsewhere. The revision would
 * have run with its record wrong (to be run again, or reported reverted while still recorded). It
 * fails instead, named, and rolls back. A rule that only adds to an insert (an audit) changes nothing.
 */
const TRIGGERS = {
  postgresql: `CREATE FUNCTION sv_drop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.revision LIKE '0006%' THEN RETURN NULL; END IF; RETURN NEW; END $$;${BP}CREATE TRIGGER sv_drop BEFORE INSERT ON sluice_version FOR EACH ROW EXECUTE FUNCTION sv_drop();${BP}CREATE FUNCTION sv_keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF OLD.revision LIKE '0005%' THEN RETURN NULL; END IF; RETURN OLD; END $$;${BP}CREATE TRIGGER sv_keep BEFORE DELETE ON sluice_version FOR EACH ROW EXECUTE FUNCTION sv_keep();`,
  sqlite: `CREATE TRIGGER sv_drop BEFORE INSERT ON sluice_version WHEN NEW.revision LIKE '0006%' BEGIN SELECT RAISE(IGNORE); END;${BP}CREATE TRIGGER sv_keep BEFORE DELETE ON sluice_version WHEN OLD.revision LIKE '0005%' BEGIN SELECT RAISE(IGNORE); END;`,
};
const recordedIn = async (dir: string, env: Env) => (await sql<{ r: string }>(dir, env, 'SELECT "revision" AS r FROM sluice_version ORDER BY 1')).map((x) => x.r);
for (const d of ['sqlite', 'postgresql'] as const) {
  describeFor(d)(`something acting on sluice_version on ${d}`, () => {
    it('a trigger dropping an up\'s version row or keeping a down\'s: the revision fails, named, and rolls back; --single-transaction names it and rolls the run back', async () => {
      const dir = makeProject();
      addRevision(dir, d, 'triggers', TRIGGERS[d], null);
      addRevision(dir, d, 'five', 'CREATE TABLE t_five (id integer);', 'DROP TABLE t_five;');
      addRevision(dir, d, 'six', 'CREATE TABLE t_six (id integer);', 'DROP TABLE t_six;');
      addRevision(dir, d, 'seven', 'CREATE TABLE t_seven (id integer);', 'DROP TABLE t_seven;');
      const env = envFor(dir, d, 'trig');
      const up = runCli(dir, ['up'], env);
      expect(up.status, up.stdout + up.stderr).toBe(3);
      expect(up.stderr).toMatch(/revision 0006_six \(up\) failed .*sluice_version does not hold the revision's record as written \(no record of 0006_six, rows: 0\): something acted on the table.*Rolled back: the database is at 0005_five/);
      const after = await recordedIn(dir, env);
      expect(after).toHaveLength(6);
      expect(after.slice(-2)).toEqual(['0004_triggers', '0005_five']);
      expect(await tables(dir, env)).toContain('t_five');
      expect(await tables(dir, env)).not.toContain('t_six');
      // down: reverting 0005 would leave its row
      const down = runCli(dir, ['down', '0004_triggers'], env);
      expect(down.status, down.stdout + down.stderr).toBe(3);
      expect(down.stderr).toMatch(/revision 0005_five \(down\) failed .*\(record left of 0005_five, rows: 1\).*Rolled back: the database is at 0005_five/);
      expect(await recordedIn(dir, env)).toContain('0005_five');
      expect(await tables(dir, env)).toContain('t_five');
      // one transaction: the run rolls back, and the revision named is 0006, not the group's last
      const single = envFor(dir, d, 'trig1');
      const s1 = runCli(dir, ['up', '--single-transaction'], single);
      expect(s1.status, s1.stdout + s1.stderr).toBe(3);
      expect(s1.stderr).toMatch(/revision 0006_six \(up\) failed .*\(no record of 0006_six, rows: 0\).*Single transaction rolled back: the database is at base/);
      expect(await tables(dir, single)).toEqual(['sluice_version']);
    });
  });
}

pgDescribe('rules on sluice_version', () => {
  it('a rule that also audits each insert changes nothing; one that moves a revision\'s row elsewhere fails that revision, which rolls back', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'audit', `CREATE TABLE sv_audit (r text);${BP}CREATE RULE sv_audit AS ON INSERT TO sluice_version DO ALSO INSERT INTO sv_audit VALUES (NEW.revision);`, 'DROP RULE sv_audit ON sluice_version;\nDROP TABLE sv_audit;');
    addRevision(dir, 'postgresql', 'five', 'CREATE TABLE t_five (id integer);', 'DROP TABLE t_five;');
    const env = envFor(dir, 'postgresql', 'rule');
    const up = runCli(dir, ['up'], env);
    expect(up.status, up.stdout + up.stderr).toBe(0);
    expect((await sql<{ r: string }>(dir, env, 'SELECT r FROM sv_audit ORDER BY 1')).map((x) => x.r)).toEqual(['0004_audit', '0005_five']);
    const down = runCli(dir, ['down', '0003_add_phone_to_users'], env);
    expect(down.status, down.stdout + down.stderr).toBe(0);
    expect((await recordedIn(dir, env)).slice(-1)).toEqual(['0003_add_phone_to_users']);
    const single = runCli(dir, ['up', '--single-transaction'], env);
    expect(single.status, single.stdout + single.stderr).toBe(0);
    addRevision(dir, 'postgresql', 'moves', `CREATE TABLE sv_other (LIKE sluice_version);${BP}CREATE RULE sv_move AS ON INSERT TO sluice_version WHERE NEW.revision LIKE '0007%' DO INSTEAD INSERT INTO sv_other VALUES (NEW.*);`, 'DROP RULE sv_move ON sluice_version;\nDROP TABLE sv_other;');
    addRevision(dir, 'postgresql', 'seven', 'CREATE TABLE t_seven (id integer);', 'DROP TABLE t_seven;');
    const moved = runCli(dir, ['up'], env);
    expect(moved.status, moved.stdout + moved.stderr).toBe(3);
    expect(moved.stderr).toMatch(/revision 0007_seven \(up\) failed .*\(no record of 0007_seven, rows: 0\).*Rolled back: the database is at 0006_moves/);
    expect(await tables(dir, env)).not.toContain('t_seven');
  });

  it('a trigger that renames the row, or deletes it after the insert: the revision fails, which rolls back', async () => {
    const dir = makeProject();
    addRevision(
      dir,
      'postgresql',
      'triggers',
      `CREATE FUNCTION sv_rename() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.revision LIKE '0005%' THEN NEW.revision := NEW.revision || '_renamed'; END IF; RETURN NEW; END $$;${BP}CREATE TRIGGER sv_rename BEFORE INSERT ON sluice_version FOR EACH ROW EXECUTE FUNCTION sv_rename();${BP}CREATE FUNCTION sv_after() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM sluice_version WHERE revision = NEW.revision AND NEW.revision LIKE '0006%'; RETURN NULL; END $$;${BP}CREATE TRIGGER sv_after AFTER INSERT ON sluice_version FOR EACH ROW EXECUTE FUNCTION sv_after();`,
      null,
    );
    addRevision(dir, 'postgresql', 'five', 'CREATE TABLE t_five (id integer);', 'DROP TABLE t_five;');
    addRevision(dir, 'postgresql', 'six', 'CREATE TABLE t_six (id integer);', 'DROP TABLE t_six;');
    const env = envFor(dir, 'postgresql', 'trig2');
    const renamed = runCli(dir, ['up', '0005_five'], env);
    expect(renamed.status, renamed.stdout + renamed.stderr).toBe(3);
    expect(renamed.stderr).toMatch(/revision 0005_five \(up\) failed .*\(no record of 0005_five, rows: 0\).*Rolled back: the database is at 0004_triggers/);
    expect(await tables(dir, env)).not.toContain('t_five');
    await sql(dir, env, 'DROP TRIGGER sv_rename ON sluice_version');
    const deleted = runCli(dir, ['up'], env);
    expect(deleted.status, deleted.stdout + deleted.stderr).toBe(3);
    expect(deleted.stderr).toMatch(/revision 0006_six \(up\) failed .*\(no record of 0006_six, rows: 0\).*Rolled back: the database is at 0005_five/);
    expect(await tables(dir, env)).not.toContain('t_six');
    expect((await recordedIn(dir, env)).slice(-2)).toEqual(['0004_triggers', '0005_five']);
  });
});

const runAsync = (cwd: string, args: string[], env: Env) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), ...args], { cwd, env: cleanEnv(env) as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });

for (const d of ['sqlite', 'postgresql'] as const) {
  itFor(d)(`${d}: 8 concurrent migrate-up apply each revision exactly once`, async () => {
    const dir = makeProject();
    const env = { ...envFor(dir, d, 'conc'), SLUICE_NO_BACKUP: '1' };
    if (d === 'sqlite') await stampTo(dir, env, 'base'); // create the file first
    const runs = await Promise.all(Array.from({ length: 8 }, () => runAsync(dir, ['up'], env)));
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    const applied = runs.flatMap((r) => [...r.stdout.matchAll(/↑ (\S+) applied/g)].map((m) => m[1]));
    expect(applied.sort()).toEqual(['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users']);
    expect(await sql(dir, env, 'SELECT count(*) AS n FROM sluice_version')).toEqual([{ n: d === 'sqlite' ? 4 : '4' }]);
  });
}

pgDescribe('PostgreSQL locks and timeouts', () => {
  it('lock_timeout stops a migration queued behind a long transaction', async () => {
    const dir = makeProject();
    const env = envFor(dir, 'postgresql', 'lt');
    await upgrade({ cwd: dir, env });
    const blocker = new pg.Client({ connectionString: pgUrl() });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE "${env.DATABASE_SCHEMA}"."users" IN ACCESS EXCLUSIVE MODE`);
      const started = Date.now();
      const r = runCli(dir, ['down'], { ...env, SLUICE_LOCK_TIMEOUT: '500ms' });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(r.status).toBe(3);
      expect(r.stderr).toMatch(/0003_add_phone_to_users \(down\) failed at statement 1\/1 .*lock timeout.*the database is at 0003_add_phone_to_users/);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect((await status({ cwd: dir, env })).current).toBe('0003_add_phone_to_users');
  });

  it('a run that cannot get the migration lock says so after a bounded wait', async () => {
    const dir = makeProject();
    const env = envFor(dir, 'postgresql', 'lw');
    const holder = new pg.Client({ connectionString: pgUrl() });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtext($1))', [`sluice:${env.DATABASE_SCHEMA}`]);
      const r = runCli(dir, ['up'], { ...env, SLUICE_LOCK_WAIT: '1' });
      expect(r.status).toBe(5);
      expect(r.stderr).toMatch(/another sluice run holds the migration lock on schema .* \(waited 1s\)/);
      // the holder named (found by a README walk: not on PostgreSQL)
      const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      expect(r.stderr).toMatch(new RegExp(`another sluice run holds the migration lock on schema \\S+: backend pid ${pid} \\(.*connected since \\d{4}-.* UTC\\) \\(waited 1s\\); wait for it to finish, or raise SLUICE_LOCK_WAIT; if that session is stuck, SELECT pg_terminate_backend\\(${pid}\\) ends it and its lock`));
    } finally {
      await holder.end();
    }
    await upgradeTo(dir, env);
  });

  it('a wrong password is one clear line, password not shown', async () => {
    const dir = makeProject();
    const user = uniqueSchema('pw');
    await sql(dir, { DATABASE_URL: pgUrl() }, `CREATE ROLE ${user} LOGIN PASSWORD 'right-pass'`);
    const url = new URL(pgUrl());
    url.username = user;
    url.password = 'Wr0ngPass';
    const hba = (await sql<{ f: string }>(dir, { DATABASE_URL: pgUrl() }, 'SHOW hba_file'))[0] as unknown as { hba_file: string };
    const file = hba.hba_file;
    const { readFileSync } = await import('node:fs');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, `host all ${user} 127.0.0.1/32 scram-sha-256\n${original}`);
    await sql(dir, { DATABASE_URL: pgUrl() }, 'SELECT pg_reload_conf()');
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = runCli(dir, ['status'], { DATABASE_URL: url.toString() });
      expect(r.status).toBe(5);
      expect(r.stderr.trim()).toMatch(/^sluice: cannot connect to postgres:\/\/pw_.*:\*\*\*@127.0.0.1:\d+\/\w+: password authentication failed; check the user and password in DATABASE_URL$/);
      expect(r.stderr).not.toContain('Wr0ngPass');
    } finally {
      writeFileSync(file, original);
      await sql(dir, { DATABASE_URL: pgUrl() }, 'SELECT pg_reload_conf()');
    }
  });
});

/** At head with 0002 undone by hand and its record removed: 0002 pending, older than the current revision. */
async function withRevision0002Pending(dir: string, env: Env): Promise<void> {
  await upgrade({ cwd: dir, env });
  await sql(dir, env, 'DROP TABLE sessions');
  await sql(dir, env, 'ALTER TABLE users DROP COLUMN role');
  await sql(dir, env, "DELETE FROM sluice_version WHERE revision = '0002_add_sessions_and_roles'");
}

describe('out-of-order revisions', () => {
  it('a pending revision older than the current one is reported and applied, not skipped', async () => {
    const dir = makeProject();
    const env = envFor(dir, 'sqlite', 'ooo');
    await withRevision0002Pending(dir, env);
    const st = await status({ cwd: dir, env });
    expect(st.outOfOrder).toEqual(['0002_add_sessions_and_roles']);
    const r = runCli(dir, ['up'], env);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/note: 0002_add_sessions_and_roles sort\(s\) before the current revision/);
    expect(r.stdout).toMatch(/0002_add_sessions_and_roles applied/);
    expect((await status({ cwd: dir, env })).pending).toEqual([]);
  });

  // found by a hunt: after a merged branch's revision was applied out of order, `down` (-1, counting
  // places) reverted the current revision by place, the other branch's table and rows with it
  it('down -1 right after an out-of-order up is refused, naming both revisions; a named target goes ahead', async () => {
    const dir = makeProject();
    const env = envFor(dir, 'sqlite', 'ooodown');
    await withRevision0002Pending(dir, env);
    await new Promise((r) => setTimeout(r, 20)); // applied_at: later than the others
    await upgradeTo(dir, env);
    const refused = runCli(dir, ['down'], { ...env, SLUICE_NO_BACKUP: '1' });
    expect(refused.status, refused.stdout + refused.stderr).toBe(6);
    expect(refused.stderr).toMatch(/^sluice: down -1 would revert 0003_add_phone_to_users, the current revision by place, but the revision applied last is 0002_add_sessions_and_roles \(out of order, .*\), which it leaves applied; name the target to go ahead \(make migrate-down REVISION=0002_add_sessions_and_roles\); 0002_add_sessions_and_roles is reverted only with the revisions above it \(REVISION=0001_add_audits\); nothing was changed\n$/);
    expect((await status({ cwd: dir, env })).current).toBe('0003_add_phone_to_users');
    await downgradeTo(dir, env, '0002_add_sessions_and_roles');
    // now the revision applied last is the current one: -1 takes it back
    const again = runCli(dir, ['down', '-1'], env);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/0002_add_sessions_and_roles reverted/);
  });

  // found by a hunt: `stamp -1` recorded the pending 0002 as applied, so up never ran it
  it('stamp -1 only removes the current row: a revision pending below stays pending, and up applies it', async () => {
    const dir = makeProject();
    const env = envFor(dir, 'sqlite', 'ooostamp');
    await withRevision0002Pending(dir, env);
    const r = runCli(dir, ['stamp', '-1'], env);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/0002_add_sessions_and_roles stamped/);
    expect(await status({ cwd: dir, env })).toMatchObject({ current: '0001_add_audits', pending: ['0002_add_sessions_and_roles', '0003_add_phone_to_users'] });
    // the database still has 0003's column: stamped back, the user takes it out by hand, then up runs both
    await sql(dir, env, 'ALTER TABLE users DROP COLUMN phone');
    const up = runCli(dir, ['up'], env);
    expect(up.status, up.stdout + up.stderr).toBe(0);
    expect(await sql(dir, env, 'SELECT count(*) AS n FROM sessions')).toEqual([{ n: 0 }]);
    // a named target says the database is there: what is pending below it is recorded (Alembic's stamp)
    await withRevision0002Pending(dir, env);
    expect(runCli(dir, ['stamp', '0003_add_phone_to_users'], env).stdout).toMatch(/0002_add_sessions_and_roles stamped/);
  });

  it("a SQLite rebuild that spells its pragma '= false' / '= true' keeps the child rows (was: the pragma ran inside the transaction, ignored, and the DROP cascaded)", async () => {
    const dir = makeProject();
    const env = envFor(dir, 'sqlite', 'fkspell');
    await upgrade({ cwd: dir, env });
    await sql(dir, env, "INSERT INTO users (id, email) VALUES (1, 'a@example.com')");
    await sql(dir, env, "INSERT INTO sessions (id, user_id, expires_at) VALUES ('s1', 1, 0), ('s2', 1, 0)");
    const columns = '"id", "email", "name", "phone", "role", "created_at"';
    addRevision(dir, 'sqlite', 'rebuild_users', [
      'PRAGMA foreign_keys = false;',
      'CREATE TABLE `__new_users` (`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL, `email` text NOT NULL, `name` text, `phone` text, `role` text DEFAULT \'member\' NOT NULL, `created_at` integer DEFAULT (unixepoch()) NOT NULL);',
      `INSERT INTO \`__new_users\`(${columns}) SELECT ${columns} FROM \`users\`;`,
      'DROP TABLE `users`;',
      'ALTER TABLE `__new_users` RENAME TO `users`;',
      "PRAGMA main.foreign_keys = 'true';",
    ].join(BP), null);
    const r = runCli(dir, ['up'], env);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(await sql(dir, env, 'SELECT count(*) AS n FROM sessions')).toEqual([{ n: 2 }]);
  });

  it('the pragma words inside a string of an INSERT are data: stored as written (was: cut out of the row)', async () => {
    const dir = makeProject();
    const env = envFor(dir, 'sqlite', 'fkstring');
    addRevision(dir, 'sqlite', 'notes', ['CREATE TABLE notes (id integer, body text);', "INSERT INTO notes VALUES (1, 'Run PRAGMA foreign_keys = off; before bulk load');"].join(BP), 'DROP TABLE notes;');
    await upgradeTo(dir, env);
    expect(await sql(dir, env, 'SELECT body FROM notes')).toEqual([{ body: 'Run PRAGMA foreign_keys = off; before bulk load' }]);
  });

  it('a down to a revision pending out of order names where the database is, not the target (was: "-> 0002", at 0001)', async () => {
    const dir = makeProject();
    const env = envFor(dir, 'sqlite', 'ooo2');
    await withRevision0002Pending(dir, env);
    const r = runCli(dir, ['down', '0002'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/0003_add_phone_to_users -> 0001_add_audits \(1 revision reverted\)/);
    expect((await status({ cwd: dir, env })).current).toBe('0001_add_audits');
  });
});

for (const d of ['sqlite', 'postgresql'] as const) {
  itFor(d)(`${d}: kill -9 at varied moments leaves a consistent revision; the next run completes`, async () => {
    const dir = makeProject();
    const env = { ...envFor(dir, d, 'kill'), SLUICE_NO_BACKUP: '1' };
    const slow =
      d === 'postgresql'
        ? 'SELECT pg_sleep(0.8);'
        : 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) SELECT count(*) FROM c;';
    addRevision(dir, d, 'slow', [`CREATE TABLE crash_a (id integer);`, slow, `CREATE TABLE crash_b (id integer);`, slow].join(BP), ['DROP TABLE crash_b;', slow, 'DROP TABLE crash_a;', slow].join(BP));
    await upgradeTo(dir, env);
    const headDump = await dumpSchema(dir, env);
    let killed = 0;
    for (const [i, delay] of [300, 600, 1000, 1300].entries()) {
      const direction = i % 2 === 0 ? ['down', 'base'] : ['up'];
      const child = spawn(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), ...direction], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv, stdio: 'ignore' });
      const closed = new Promise((r) => child.once('close', r));
      await new Promise((r) => setTimeout(r, delay));
      if (child.exitCode === null) killed += 1;
      child.kill('SIGKILL');
      await closed;
      // consistent: the version table matches the tables that exist
      const st = await status({ cwd: dir, env });
      const t = await tables(dir, env);
      const slowApplied = !st.pending.includes('0004_slow');
      expect(t.includes('crash_a') && t.includes('crash_b')).toBe(slowApplied);
      expect(t.includes('crash_a') || t.includes('crash_b')).toBe(slowApplied);
      expect(t.includes('users')).toBe(!st.pending.includes('0000_init'));
      const next = runCli(dir, i % 2 === 0 ? ['down', 'base'] : ['up'], env);
      expect(next.status, next.stderr).toBe(0);
      if (i % 2 === 0) expect(await tables(dir, env)).toEqual(['sluice_version']);
      else expect(await dumpSchema(dir, env)).toBe(headDump);
    }
    expect(killed).toBeGreaterThanOrEqual(3);
  });
}

// found by a hunt: `down base` with the app's own tables referencing `users` ON DELETE CASCADE / SET NULL:
// the down's DROP TABLE "users" (foreign keys on) emptied one and nulled the other's column, "reverted", exit 0
describe('SQLite: a run never deletes or overwrites rows of a table it keeps', () => {
  it("a down's (or an up's) DROP TABLE that the app's tables reference ON DELETE CASCADE or SET NULL is refused before anything runs, naming both; once their rows are gone, it runs", async () => {
    const dir = makeProject();
    const env = envFor(dir, 'sqlite', 'keep');
    await upgradeTo(dir, env, '0000');
    await sql(dir, env, "INSERT INTO users (id, email, name) VALUES (1, 'a@x', 'A')");
    await sql(dir, env, 'CREATE TABLE user_prefs (user_id integer REFERENCES users(id) ON DELETE CASCADE, pref text)');
    await sql(dir, env, "INSERT INTO user_prefs VALUES (1, 'dark mode')");
    await sql(dir, env, 'CREATE TABLE notes2 (user_id integer REFERENCES users(id) ON DELETE SET NULL, body text)');
    await sql(dir, env, "INSERT INTO notes2 VALUES (1, 'important')");
    for (const args of [['down', 'base'], ['reset', '--yes']]) {
      const r = runCli(dir, args, { ...env, SLUICE_NO_BACKUP: '1' });
      expect(r.status, r.stdout + r.stderr).toBe(6);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/the down of 0000_init drops table "users", which table "notes2" references \(column "user_id", ON DELETE SET NULL\) and this run does not drop: .*set "user_id" to NULL in the 1 row\(s\) of "notes2".*nothing was changed/);
      expect(await sql(dir, env, 'SELECT pref FROM user_prefs')).toEqual([{ pref: 'dark mode' }]);
      expect(await sql(dir, env, 'SELECT user_id, body FROM notes2')).toEqual([{ user_id: 1, body: 'important' }]);
      expect((await status({ cwd: dir, env })).current).toBe('0000_init');
    }
    await sql(dir, env, 'DELETE FROM notes2');
    expect(runCli(dir, ['down', 'base'], env).stderr).toMatch(/which table "user_prefs" references \(column "user_id", ON DELETE CASCADE\).*would delete the 1 row\(s\) of "user_prefs"/);
    expect(await sql(dir, env, 'SELECT count(*) AS n FROM user_prefs')).toEqual([{ n: 1 }]);
    await sql(dir, env, 'DELETE FROM user_prefs');
    const down = runCli(dir, ['down', 'base'], env);
    expect(down.status, down.stderr).toBe(0);
    expect((await status({ cwd: dir, env })).current).toBe('base');
    // an up's DROP TABLE the same way (a model removed): the app's rows referencing it are kept, the run refused
    await upgradeTo(dir, env);
    await sql(dir, env, "INSERT INTO users (id, email) VALUES (1, 'a@x')");
    await sql(dir, env, "INSERT INTO sessions (id, user_id, expires_at) VALUES ('s1', 1, 0)");
    await sql(dir, env, "CREATE TABLE session_notes (session_id text REFERENCES sessions(id) ON DELETE CASCADE, note text)");
    await sql(dir, env, "INSERT INTO session_notes VALUES ('s1', 'keep me')");
    addRevision(dir, 'sqlite', 'drop_sessions', 'DROP TABLE `sessions`;', 'SELECT 1;');
    const up = runCli(dir, ['up'], env);
    expect(up.status, up.stdout + up.stderr).toBe(6);
    expect(up.stderr).toMatch(/^sluice: the up of 0004_drop_sessions drops table "sessions", which table "session_notes" references \(column "session_id", ON DELETE CASCADE\)/);
    expect(await sql(dir, env, 'SELECT note FROM session_notes')).toEqual([{ note: 'keep me' }]);
  });
});

describe('SQLite backups and files', () => {
  it('backs up before a change, rotates, restores, and --no-backup skips', async () => {
    const dir = makeProject();
    const env = { DATABASE_URL: `file:${path.join(dir, 'app.sqlite')}`, SLUICE_BACKUP_KEEP: '2' };
    const first = runCli(dir, ['up', '2'], env);
    expect(first.stdout).not.toMatch(/backup:/); // nothing to back up in a new file
    const r = runCli(dir, ['up'], env);
    const backup = /backup: (\S+)/.exec(r.stdout)?.[1];
    expect(backup).toMatch(/^\.sluice\/backups\/app\.\d{4}-.*\.sqlite$/);
    runCli(dir, ['down'], env);
    runCli(dir, ['up'], env);
    const files = readdirSync(path.join(dir, '.sluice', 'backups'));
    expect(files).toHaveLength(2);
    // restore the newest backup (taken before the last up, at 0002): the database is back at 0002
    const kept = files.sort().at(-1)!;
    copyFileSync(path.join(dir, '.sluice', 'backups', kept), path.join(dir, 'app.sqlite'));
    expect((await status({ cwd: dir, env })).current).toBe('0002_add_sessions_and_roles');
    expect(runCli(dir, ['up', '--no-backup'], env).stdout).not.toMatch(/backup:/);
    expect(readdirSync(path.join(dir, '.sluice', 'backups'))).toHaveLength(2);
  });

  // Found by a README walk: the restore steps removed only the WAL files; a run killed mid-revision (in
  // SQLite's default rollback-journal mode) leaves a hot journal, which SQLite replayed over the restored
  // file: pages of the killed run's database inside the backup's, integrity_check failing (this test,
  // with the journal left: 'malformed'; by hand, status said 0006 of a backup at 0003).
  it('restoring as README says after kill -9 mid-revision gives the backup, intact (the hot journal removed with it)', async () => {
    const dir = makeProject();
    const file = path.join(dir, 'app.sqlite');
    const env = { DATABASE_URL: `file:${file}` };
    await upgradeTo(dir, env, '2');
    const big = (t: string) => `CREATE TABLE \`${t}\` (\`id\` integer PRIMARY KEY, \`v\` text);\n--> statement-breakpoint\nINSERT INTO \`${t}\` (\`v\`) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT 'row' FROM c;`;
    addRevision(dir, 'sqlite', 'big1', big('big1'), 'DROP TABLE `big1`;');
    addRevision(dir, 'sqlite', 'big2', big('big2'), 'DROP TABLE `big2`;');
    addRevision(dir, 'sqlite', 'big3', big('big3'), 'DROP TABLE `big3`;');
    const child = spawn(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), 'up'], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'ignore'] });
    const ended = new Promise((resolve) => child.on('close', resolve));
    // big1 and big2 committed, big3's insert under way
    let out = '';
    child.stdout!.on('data', (b) => {
      out += b;
      if (/↑ 0005_big2 applied/.test(out)) setTimeout(() => child.kill('SIGKILL'), 300);
    });
    await ended;
    expect(out).toMatch(/↑ 0005_big2 applied/);
    expect(out).not.toMatch(/0006_big3 applied/);
    expect(existsSync(`${file}-journal`), 'a hot journal is left').toBe(true);
    const backups = path.join(dir, '.sluice', 'backups');
    const newest = readdirSync(backups).sort().at(-1)!;
    // README, SQLite backups, "To restore"
    for (const leftover of ['-journal', '-wal', '-shm']) rmSync(`${file}${leftover}`, { force: true });
    copyFileSync(path.join(backups, newest), file);
    expect(await sql(dir, env, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    expect((await status({ cwd: dir, env })).current).toBe('0002_add_sessions_and_roles');
  }, 60_000);

  it("rotation keeps each database's own backups: two files named app.sqlite in two folders (was: the second's rotation deleted the first's)", async () => {
    const dir = makeProject();
    mkdirSync(path.join(dir, 'a'));
    mkdirSync(path.join(dir, 'b'));
    const a = { DATABASE_URL: `file:${path.join(dir, 'a', 'app.sqlite')}`, SLUICE_BACKUP_KEEP: '1' };
    const b = { DATABASE_URL: `file:${path.join(dir, 'b', 'app.sqlite')}`, SLUICE_BACKUP_KEEP: '1' };
    await upgradeTo(dir, a, '2');
    const ba = /backup: (\S+)/.exec(runCli(dir, ['up'], a).stdout)?.[1];
    await upgradeTo(dir, b, '2');
    const bb1 = /backup: (\S+)/.exec(runCli(dir, ['up'], b).stdout)?.[1];
    const bb2 = /backup: (\S+)/.exec(runCli(dir, ['down'], b).stdout)?.[1];
    expect(ba && bb1 && bb2).toBeTruthy();
    const left = readdirSync(path.join(dir, '.sluice', 'backups')).map((f) => `.sluice/backups/${f}`).sort();
    expect(left).toEqual([ba, bb2].sort()); // a's one backup kept; b's older one rotated out
  });

  it('a backup an interrupted run left half written is never kept, restored or counted; a backup that cannot be written stops the run before any change', async () => {
    const dir = makeProject();
    const env = { DATABASE_URL: `file:${path.join(dir, 'app.sqlite')}`, SLUICE_BACKUP_KEEP: '1' };
    await upgradeTo(dir, env, '2');
    // what Ctrl+C during the copy leaves: the partial file (named with its database's path) and its SQLite journal
    const backups = path.join(dir, '.sluice', 'backups');
    mkdirSync(backups, { recursive: true });
    const own = createHash('sha256').update(path.join(dir, 'app.sqlite')).digest('hex').slice(0, 12);
    writeFileSync(path.join(backups, `app.2099-01-01T00-00-00-000Z.sqlite.${own}.partial`), 'half');
    writeFileSync(path.join(backups, `app.2099-01-01T00-00-00-000Z.sqlite.${own}.partial-journal`), 'half');
    // another database named app.sqlite (another folder) backing up at this moment: not ours to remove
    const other = 'app.2099-01-01T00-00-00-000Z.sqlite.0123456789ab.partial';
    writeFileSync(path.join(backups, other), 'copying');
    const r = runCli(dir, ['up', '3'], env);
    expect(r.status, r.stderr).toBe(0);
    const files = readdirSync(backups).filter((f) => f !== other);
    expect(files).toHaveLength(1); // the partial did not push the real backup out (KEEP=1), and is gone
    expect(files[0]).toMatch(new RegExp(`^app\\.\\d{4}-.*\\.${own}\\.sqlite$`));
    expect(readdirSync(backups)).toContain(other);
    expect(/backup: (\S+)/.exec(r.stdout)?.[1]).toBe(`.sluice/backups/${files[0]}`);
    // the backup folder is a file: one line, exit 2, the database unchanged
    rmSync(path.join(dir, '.sluice'), { recursive: true });
    writeFileSync(path.join(dir, '.sluice'), 'not a folder');
    const before = await dumpSchema(dir, env);
    const down = runCli(dir, ['down'], env);
    expect(down.status, down.stderr).toBe(2);
    expect(down.stderr.trim()).toMatch(/^sluice: cannot back up sqlite:app\.sqlite to \.sluice\/backups: .*not a directory.*; nothing was changed\. .*--no-backup/);
    expect(await dumpSchema(dir, env)).toBe(before);
    await downgradeTo(dir, env, '-1', { noBackup: true });
    const keep = runCli(dir, ['up'], { ...env, SLUICE_BACKUP_KEEP: 'abc' });
    expect(keep.status).toBe(2);
    expect(keep.stderr.trim()).toBe('sluice: SLUICE_BACKUP_KEEP must be a whole number of backups to keep, 1 or more (got "abc"); unset it for 10');
  });

  it('a read-only SQLite file is one clear error and stays unchanged', async () => {
    const dir = makeProject();
    const file = path.join(dir, 'ro.sqlite');
    const env = { DATABASE_URL: `file:${file}` };
    await upgradeTo(dir, env, '1');
    const before = await dumpSchema(dir, env);
    // root ignores permission bits: make the file immutable instead (ext4/xfs), plain chmod otherwise
    const root = process.getuid?.() === 0;
    if (root) {
      const r = spawnSync('chattr', ['+i', file], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cannot make ${file} read-only for root (chattr +i: ${r.stderr.trim()})`);
    } else chmodSync(file, 0o444);
    try {
      const r = runCli(dir, ['up'], env);
      expect(r.status, r.stderr).toBe(5);
      expect(r.stderr.trim()).toMatch(/^sluice: SQLite file sqlite:ro\.sqlite is not writable; check its permissions$/);
    } finally {
      if (root) spawnSync('chattr', ['-i', file]);
    }
    expect(await dumpSchema(dir, env)).toBe(before);
    expect(existsSync(path.join(dir, '.sluice', 'backups'))).toBe(false);
  });
});

describe('a full disk', () => {
  const root = process.getuid?.() === 0;
  // A small tmpfs needs root to mount; as another user this test is reported as skipped, not hidden.
  it.skipIf(!root)('SQLite on a full filesystem: the revision fails cleanly and the database stays at the last good revision', async () => {
    const dir = makeProject();
    const mnt = path.join(dir, 'small');
    mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=400k', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`cannot mount a small tmpfs to simulate a full disk: ${m.stderr.trim()}`);
    try {
      const env = { DATABASE_URL: `file:${path.join(mnt, 'full.sqlite')}`, SLUICE_NO_BACKUP: '1' };
      addRevision(dir, 'sqlite', 'fill', `CREATE TABLE big (x blob);${BP}WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 2000) INSERT INTO big SELECT randomblob(1000) FROM c;`, 'DROP TABLE big;');
      const r = runCli(dir, ['up'], env);
      expect(r.status, r.stdout + r.stderr).toBe(3);
      expect(r.stderr).toMatch(/0004_fill \(up\) failed .*database or disk is full\. Rolled back: the database is at 0003_add_phone_to_users/);
      expect((await status({ cwd: dir, env })).current).toBe('0003_add_phone_to_users');
      expect(await tables(dir, env)).not.toContain('big');
    } finally {
      spawnSync('umount', [mnt]);
    }
  });
});

// found by a hunt: the connection opened while the files are read was left open when the target was
// refused (an unknown revision), and an app's process that called upgrade() never exited
pgDescribe('a library call refused before its session', () => {
  it('upgrade, downgrade and stamp with an unknown revision on PostgreSQL: exit 2, and the process exits by itself', () => {
    const dir = makeProject();
    const env = envFor(dir, 'postgresql');
    const script = path.join(dir, 'app.mjs');
    writeFileSync(
      script,
      `import { upgrade, downgrade, stamp } from ${JSON.stringify(path.join(dir, 'dist', 'index.js'))};\n` +
        `for (const f of [upgrade, downgrade, stamp]) await f({ cwd: ${JSON.stringify(dir)}, env: ${JSON.stringify(env)}, revision: 'nosuch' }).then(() => console.log('resolved'), (e) => console.log(e.exitCode));\n`,
    );
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.stdout.trim().split('\n')).toEqual(['2', '2', '2']);
  });
});
