/**
 * --single-transaction on PostgreSQL prepares only its first revisions before the run starts and the
 * rest while the server runs those (engine.ts LaterSteps). What preparing a later revision refuses
 * (a statement the parser cannot read, a no-transaction marker, a missing or hand-written down, a
 * down's pre-check) must still refuse the whole run with the same line and change nothing: the run's
 * one transaction rolls back. Real PostgreSQL 15, through the CLI, on a generated 120-revision history
 * (revision i: a table when i % 4 is 0, then a column, an index and a foreign key on it).
 */
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { expect, it } from 'vitest';
import { generateProject } from '../../bench/generate.mjs';
import { quoteLiteral, textArrayInput } from '../../dist/sql.js';
import { dumpSchema, pgDescribe, pgUrl, REPO, runCli, sql, tempDir, uniqueSchema, type Env, upgradeTo } from '../support/project.js';
import { start } from '../support/signals.js';

const BP = '\n--> statement-breakpoint\n';
const N = 120;

function project(name: string, n = N): { dir: string; out: string; env: Env } {
  const dir = path.join(tempDir('sluice-later-'), name);
  const { out } = generateProject(dir, 'postgresql', n);
  symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  return { dir, out, env: { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema(name) } };
}

const file = (out: string, i: number, down = false) => path.join(out, `${String(i).padStart(4, '0')}_bench_${i}${down ? '.down' : ''}.sql`);

async function versions(dir: string, env: Env): Promise<number> {
  const rows = await sql<{ n: string }>(dir, env, `SELECT count(*) AS n FROM "${env.DATABASE_SCHEMA}".sluice_version`);
  return Number(rows[0]!.n);
}

async function tables(dir: string, env: Env): Promise<string[]> {
  return (await sql<{ t: string }>(dir, env, 'SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1', [env.DATABASE_SCHEMA])).map((r) => r.t);
}

/** Up the whole history (default mode), then `down base -1`: the refusal's status and line, and that nothing changed. */
async function refusedDown(dir: string, env: Env): Promise<{ status: number; stderr: string }> {
  const up = runCli(dir, ['up'], env);
  expect(up.status, up.stderr).toBe(0);
  const before = await dumpSchema(dir, env);
  const r = runCli(dir, ['down', 'base', '--single-transaction'], env);
  expect(await dumpSchema(dir, env)).toBe(before);
  expect(await versions(dir, env)).toBe(N);
  return { status: r.status, stderr: r.stderr };
}

/**
 * Up the whole history (default mode); revision 5's down gains a pre-check (NOT NULL) on a table "side"
 * that another session (`holder`) holds locked while `during` runs; afterwards the schema and version
 * rows must be as before.
 */
async function withLockedPreCheck(name: string, during: (o: { dir: string; env: Env; holder: pg.Client }) => Promise<void>): Promise<void> {
  const { dir, out, env } = project(name);
  await upgradeTo(dir, env);
  await sql(dir, env, `CREATE TABLE "${env.DATABASE_SCHEMA}"."side" ("c" integer)`);
  const down = readFileSync(file(out, 5, true), 'utf8');
  writeFileSync(file(out, 5, true), `${down.trimEnd()}${BP}ALTER TABLE "side" ALTER COLUMN "c" SET NOT NULL;\n`);
  const before = await dumpSchema(dir, env);
  const holder = new pg.Client({ connectionString: pgUrl() });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE "${env.DATABASE_SCHEMA}"."side" IN ACCESS EXCLUSIVE MODE`);
    await during({ dir, env, holder });
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    await holder.end();
  }
  expect(await dumpSchema(dir, env)).toBe(before);
  expect(await versions(dir, env)).toBe(N);
}

/**
 * Poll (up to 30 s, while the run lives) until sluice's backend waits for the lock on "side"; then
 * `select` (`SELECT 1`, `SELECT pg_terminate_backend(pid)`) over it. Its row count, 0 if it never waited.
 * pg_stat_activity is read as of the reader's transaction start: the holder clears that snapshot first.
 */
async function whenPreCheckWaits(holder: pg.Client, child: { exitCode: number | null }, select: string): Promise<number> {
  for (let i = 0; i < 600 && child.exitCode === null; i++) {
    await new Promise((r) => setTimeout(r, 50));
    await holder.query('SELECT pg_catalog.pg_stat_clear_snapshot()');
    const res = await holder.query(`${select} FROM pg_stat_activity WHERE application_name = 'sluice' AND wait_event_type = 'Lock' AND query LIKE '%"side"%' AND pid <> pg_backend_pid()`);
    if (res.rowCount) return res.rowCount;
  }
  return 0;
}

/**
 * Poll (up to 30 s, while the run lives) until this run's session sleeps in pg_sleep; true when it did.
 * The script it runs names `schema` (the sleep's second column): other test files' sluice sessions
 * sleep in the same cluster at the same time, and a signal sent when one of theirs slept came before
 * this process had its handler (exit by the signal itself, code null).
 */
async function whenSleeping(child: { exitCode: number | null }, schema: string): Promise<boolean> {
  const watcher = new pg.Client({ connectionString: pgUrl() });
  await watcher.connect();
  try {
    for (let k = 0; k < 600 && child.exitCode === null; k++) {
      await new Promise((r) => setTimeout(r, 50));
      const res = await watcher.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'sluice' AND wait_event = 'PgSleep' AND strpos(query, $1) > 0", [`'${schema}'`]);
      if (res.rowCount) return true;
    }
    return false;
  } finally {
    await watcher.end();
  }
}

/**
 * A TCP proxy to the suite's PostgreSQL that forwards sessions and drops cancel requests (a new
 * connection whose first message is CancelRequest, code 80877102), as some poolers do.
 */
async function cancelDroppingProxy(): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(pgUrl());
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => client.destroy());
    client.once('data', (first: Buffer) => {
      if (first.length >= 8 && first.readInt32BE(4) === 80877102) return client.destroy(); // dropped
      const server = net.connect(Number(target.port), target.hostname, () => {
        server.write(first);
        client.pipe(server);
        server.pipe(client);
      });
      sockets.add(server);
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target.href);
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.href,
    close: async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

pgDescribe('--single-transaction: later revisions prepared while the first ones run', () => {
  it("a statement the parser cannot read in revision 100 refuses the run: the same line, nothing applied", async () => {
    const { dir, out, env } = project('lsyntax');
    writeFileSync(file(out, 100), `CREATE TABLE "t_100" ("id" integer PRIMARY KEY NOT NULL);${BP}CREAT TABLE "oops" ("id" integer);`);
    const r = runCli(dir, ['up', '--single-transaction'], env);
    expect(r.status).toBe(6);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/drizzle\/0100_bench_100\.sql line 3: .*cannot read it, so sluice will not run it\); fix the statement/);
    expect(await tables(dir, env)).toEqual(['sluice_version']);
    expect(await versions(dir, env)).toBe(0);
  });

  it('a no-transaction revision at 90 refuses the run as it did up front', async () => {
    const { dir, out, env } = project('lnotx');
    writeFileSync(file(out, 90), `-- sluice:no-transaction\n${readFileSync(file(out, 90), 'utf8')}`);
    const r = runCli(dir, ['up', '--single-transaction'], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/revision 0090_bench_90 is marked sluice:no-transaction; it cannot run with --single-transaction/);
    // a dry run refuses it too (was: a plan printed, exit 0)
    const dry = runCli(dir, ['up', '--single-transaction', '--dry-run'], env);
    expect([dry.status, dry.stderr.trim()]).toEqual([2, 'sluice: revision 0090_bench_90 is marked sluice:no-transaction; it cannot run with --single-transaction']);
    expect(await tables(dir, env)).toEqual(['sluice_version']);
    // without -1 it runs (on its own, outside a transaction)
    await upgradeTo(dir, env);
    expect(await versions(dir, env)).toBe(N);
  });

  it('a failure at revision 20 and a refusal at 100: the failure is reported, the run rolled back', async () => {
    const { dir, out, env } = project('lboth');
    writeFileSync(file(out, 20), `CREATE TABLE "t_20" ("id" integer PRIMARY KEY NOT NULL, "name" text NOT NULL);${BP}ALTER TABLE no_such_table ADD COLUMN x integer;`);
    writeFileSync(file(out, 100), `CREAT TABLE "oops" ("id" integer);`);
    const r = runCli(dir, ['up', '--single-transaction'], env);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/revision 0020_bench_20 \(up\) failed at statement 2\/2 .*Single transaction rolled back: the database is at base, as before the run/);
    expect(await tables(dir, env)).toEqual(['sluice_version']);
  });

  it('a failure in the first group while the next is already sent: none of the next runs (a sequence outside the transaction is untouched), reported not run, the run rolled back', async () => {
    const { dir, out, env } = project('lahead');
    const schema = env.DATABASE_SCHEMA!;
    // nextval is the one thing a rolled-back transaction keeps: revision 9 (in the group sent while the
    // first group, revisions 0-7, runs, and before any of that group's revisions that need revision 4's
    // table) moves the sequence if it runs at all, even in a transaction that fails later
    await sql(dir, env, `CREATE SCHEMA "${schema}"; CREATE SEQUENCE "${schema}"."outside"`);
    writeFileSync(file(out, 5), `ALTER TABLE "t_4" ADD COLUMN "c_5" text;${BP}ALTER TABLE no_such_table ADD COLUMN x integer;`);
    writeFileSync(file(out, 9), `${readFileSync(file(out, 9), 'utf8')}${BP}SELECT nextval('outside');`);
    const r = runCli(dir, ['up', '--single-transaction', '--json'], env);
    expect(r.status, r.stderr).toBe(3);
    const steps = (JSON.parse(r.stdout) as { results: { revision: string; status: string }[] }).results;
    const status = (i: number) => steps.find((s) => s.revision === `${String(i).padStart(4, '0')}_bench_${i}`)?.status;
    expect([0, 4].map(status)).toEqual(['rolled-back', 'rolled-back']);
    expect(status(5)).toBe('failed');
    expect([6, 8, 9, 119].map(status)).toEqual(['not-run', 'not-run', 'not-run', 'not-run']);
    expect((await sql<{ c: boolean }>(dir, env, `SELECT is_called AS c FROM "${schema}"."outside"`))[0]!.c).toBe(false);
    expect(await tables(dir, env)).toEqual(['sluice_version']);
    expect(await versions(dir, env)).toBe(0);
    // the same history without the failure: revision 9 runs once, and everything is applied
    writeFileSync(file(out, 5), `ALTER TABLE "t_4" ADD COLUMN "c_5" text;`);
    const ok = runCli(dir, ['up', '--single-transaction'], env);
    expect(ok.status, ok.stderr).toBe(0);
    expect(await versions(dir, env)).toBe(N);
    expect((await sql<{ v: string }>(dir, env, `SELECT last_value AS v FROM "${schema}"."outside"`))[0]!.v).toBe('1');
  });

  it('Ctrl+C while the first group runs and the next waits to be sent: exit 130, the running revision interrupted, none of the next runs', async () => {
    const { dir, out, env } = project('lahsig');
    const schema = env.DATABASE_SCHEMA!;
    await sql(dir, env, `CREATE SCHEMA "${schema}"; CREATE SEQUENCE "${schema}"."outside"`);
    writeFileSync(file(out, 3), `${readFileSync(file(out, 3), 'utf8')}${BP}SELECT pg_sleep(60), '${schema}';`);
    writeFileSync(file(out, 9), `${readFileSync(file(out, 9), 'utf8')}${BP}SELECT nextval('outside');`);
    const run = start(dir, ['up', '--single-transaction'], env);
    expect(await whenSleeping(run.child, schema), 'revision 3 reached its pg_sleep').toBe(true);
    run.child.kill('SIGINT');
    const ended = await run.ended;
    expect(ended.code, ended.stderr).toBe(130);
    const lines = ended.stderr.split('\n').filter((l) => l.trim());
    expect(lines, ended.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^sluice: interrupted \(SIGINT\).*0003_bench_3/);
    expect(ended.stdout).toMatch(/0009_bench_9 not run/);
    expect((await sql<{ c: boolean }>(dir, env, `SELECT is_called AS c FROM "${schema}"."outside"`))[0]!.c).toBe(false);
    expect(await tables(dir, env)).toEqual(['sluice_version']);
    expect(await versions(dir, env)).toBe(0);
  });

  it('Ctrl+C while the first group runs, its cancel dropped by a pooler, the last group already sent: exit 130, nothing commits (was: committed, exit 0)', async () => {
    const { dir, out, env } = project('ladrop', 12); // revisions 0-7 first, 8-11 (the last) sent while they run
    writeFileSync(file(out, 3), `${readFileSync(file(out, 3), 'utf8')}${BP}SELECT pg_sleep(2), '${env.DATABASE_SCHEMA}';`);
    const proxy = await cancelDroppingProxy();
    try {
      const run = start(dir, ['up', '--single-transaction'], { ...env, DATABASE_URL: proxy.url });
      expect(await whenSleeping(run.child, env.DATABASE_SCHEMA!), 'revision 3 reached its pg_sleep').toBe(true);
      run.child.kill('SIGINT');
      const ended = await run.ended;
      expect(ended.code, ended.stdout + ended.stderr).toBe(130);
      const lines = ended.stderr.split('\n').filter((l) => l.trim());
      expect(lines, ended.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^sluice: interrupted \(SIGINT\) during 0011_bench_11 \(up\).*rolled back/);
      expect(await tables(dir, env)).toEqual(['sluice_version']);
      expect(await versions(dir, env)).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('a later revision that deallocates prepared statements applies and reverts (the groups after it use the plain forms)', async () => {
    const { dir, out, env } = project('ldealloc');
    writeFileSync(file(out, 100), `${readFileSync(file(out, 100), 'utf8')}${BP}DEALLOCATE ALL;`);
    const up = runCli(dir, ['up', '--single-transaction'], env);
    expect(up.status, up.stderr).toBe(0);
    expect(await versions(dir, env)).toBe(N);
    const down = runCli(dir, ['down', 'base', '--single-transaction'], env);
    expect(down.status, down.stderr).toBe(0);
    expect(await tables(dir, env)).toEqual(['sluice_version']);
  });

  it('a missing down at revision 10 refuses `down base -1`: nothing reverted', async () => {
    const { dir, out, env } = project('lnodown');
    rmSync(file(out, 10, true));
    const r = await refusedDown(dir, env);
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/revision 0010_bench_10 has no down SQL while its up is not empty .*write the down statements in drizzle\/0010_bench_10\.down\.sql, then run again/);
  });

  it("a later down's pre-check (NOT NULL over rows holding NULL) refuses the run, checked inside it: nothing reverted", async () => {
    const { dir, out, env } = project('lnotnull');
    const down = readFileSync(file(out, 5, true), 'utf8');
    writeFileSync(file(out, 5, true), `${down.trimEnd()}${BP}ALTER TABLE "t_0" ALTER COLUMN "c_1" SET NOT NULL;\n`);
    runCli(dir, ['up'], env);
    await sql(dir, env, `INSERT INTO "${env.DATABASE_SCHEMA}"."t_0" ("id", "name") VALUES (1, 'x')`);
    const r = await refusedDown(dir, env);
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/the down of 0005_bench_5 sets t_0\.c_1 NOT NULL but 1 row\(s\) hold NULL there; fill them or edit the down file, nothing was changed/);
  });

  it("a later down's pre-check on a table that does not exist yet does not abort the run's transaction", async () => {
    const { dir, out, env } = project('lgone');
    const down = readFileSync(file(out, 6, true), 'utf8');
    writeFileSync(file(out, 6, true), `${down.trimEnd()}${BP}CREATE TABLE "gone" ("c" integer);${BP}ALTER TABLE "gone" ALTER COLUMN "c" SET NOT NULL;${BP}DROP TABLE "gone";\n`);
    await upgradeTo(dir, env);
    const r = runCli(dir, ['down', 'base', '--single-transaction'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(await tables(dir, env)).toEqual(['sluice_version']);
    expect(await versions(dir, env)).toBe(0);
  });

  for (const single of [false, true]) {
    it(`a down's pre-check that cannot read its table (a lock held past lock_timeout) refuses the run${single ? ' (-1, a later step: checked inside the run)' : ' (default mode: before any down runs)'}: exit 6, nothing reverted (was: read as no rows)`, async () => {
      await withLockedPreCheck(single ? 'lcheck1' : 'lcheck', async ({ dir, env }) => {
        const run = start(dir, ['down', 'base', ...(single ? ['--single-transaction'] : [])], { ...env, SLUICE_LOCK_TIMEOUT: '1s' });
        const ended = await run.ended;
        expect(ended.code, ended.stderr).toBe(6);
        const lines = ended.stderr.split('\n').filter((l) => l.trim());
        expect(lines, ended.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(/^sluice: could not check the down of 0005_bench_5 \(rows holding NULL in side\.c\): canceling statement due to lock timeout; nothing was changed; another session holds a lock on that table longer than SLUICE_LOCK_TIMEOUT \(default 10s\) allows: run the command again once it is released, or raise SLUICE_LOCK_TIMEOUT$/);
      });
    });
  }

  it("Ctrl+C while a later down's pre-check waits for a lock (-1): exit 130, interrupted, the run rolled back (not refused as a check that timed out)", async () => {
    await withLockedPreCheck('lsig', async ({ dir, env, holder }) => {
      const run = start(dir, ['down', 'base', '--single-transaction'], env);
      expect(await whenPreCheckWaits(holder, run.child, 'SELECT 1'), 'the pre-check reached the locked table').toBeGreaterThan(0);
      run.child.kill('SIGINT');
      const ended = await run.ended;
      expect(ended.code, ended.stderr).toBe(130);
      const lines = ended.stderr.split('\n').filter((l) => l.trim());
      expect(lines, ended.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^sluice: interrupted \(SIGINT\)/);
      expect(lines[0]).toMatch(/0119_bench_119/);
    });
  });

  it("the connection lost during a later down's pre-check: exit 7, one line naming where the database is (as before the run)", async () => {
    await withLockedPreCheck('llost', async ({ dir, env, holder }) => {
      const run = start(dir, ['down', 'base', '--single-transaction'], env);
      const killed = await whenPreCheckWaits(holder, run.child, 'SELECT pg_terminate_backend(pid)');
      if (!killed) await holder.query('ROLLBACK');
      expect(killed, `the pre-check reached the locked table: ${killed ? '' : JSON.stringify(await run.ended)}`).toBe(1);
      await holder.query('ROLLBACK');
      const ended = await run.ended;
      expect(ended.code, ended.stderr).toBe(7);
      const lines = ended.stderr.split('\n').filter((l) => l.trim());
      expect(lines, ended.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^sluice: connection lost during 0\\d{3}_bench_\\d+ \\(down\\): while checking 0005_bench_5 \\(down\\) before it: .*; the database is at ${String(N - 1).padStart(4, '0')}_bench_${N - 1}\\. Run the command again`));
      expect(lines[0]).not.toMatch(/no revision was being applied/);
    });
  });
});

pgDescribe('--single-transaction: the version rows written once before the commit', () => {
  it('textArrayInput: the server reads back every element as written (quotes, backslashes, commas, braces, NULL, empty)', async () => {
    const { dir, env } = project('larray');
    const values = [`it's`, 'a"b', 'c\\d', '\\"', 'e,f', '{g}', 'NULL', '', ' h ', 'ü'];
    const rows = await sql<{ a: string[] }>(dir, env, `SELECT ${quoteLiteral(textArrayInput(values))}::text[] AS a`);
    expect(rows[0]!.a).toEqual(values);
  });

  it('a revision named with quotes, a comma, braces and NULL is recorded as the default mode records it', async () => {
    const { dir, out, env } = project('lnames');
    const journalFile = path.join(out, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8'));
    const odd = `0012_it's_"odd",{x}_NULL`;
    for (const ext of ['.sql', '.down.sql']) writeFileSync(path.join(out, `${odd}${ext}`), readFileSync(path.join(out, `0012_bench_12${ext}`), 'utf8').replace('0012_bench_12', odd));
    for (const ext of ['.sql', '.down.sql']) rmSync(path.join(out, `0012_bench_12${ext}`));
    journal.entries[12].tag = odd;
    writeFileSync(journalFile, JSON.stringify(journal, null, 2));
    const single = runCli(dir, ['up', '--single-transaction'], env);
    expect(single.status, single.stderr).toBe(0);
    const other = { ...env, DATABASE_SCHEMA: uniqueSchema('lnames2') };
    await upgradeTo(dir, other);
    const rows = async (e: Env) => sql<{ revision: string; name: string; checksum: string }>(dir, e, `SELECT "revision", "name", "checksum" FROM "${e.DATABASE_SCHEMA}".sluice_version ORDER BY 1`);
    const [a, b] = [await rows(env), await rows(other)];
    expect(a).toHaveLength(N);
    expect(a).toEqual(b);
    expect(a.find((r) => r.revision === odd)).toBeTruthy();
    // and back: the down run deletes exactly these rows
    const down = runCli(dir, ['down', 'base', '--single-transaction'], env);
    expect(down.status, down.stderr).toBe(0);
    expect(await versions(dir, env)).toBe(0);
  });
});
