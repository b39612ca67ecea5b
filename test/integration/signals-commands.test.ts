/**
 * Ctrl+C (SIGINT) and SIGTERM during the commands that write files or make scratch databases, on real
 * processes: migrate-create (drizzle-kit stopped, the folder put back), db-test, migrate-downs and
 * migrate-check (scratch databases removed, a PostgreSQL db-test started stopped). Runs: signals.test.ts.
 */
import { appendFileSync, chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { addUserColumn, freshDatabase, makeProject, pgDescribe, pgUrl, runCli, tempDir, uniqueSchema, type Env } from '../support/project.js';
import { alive, childrenOf, endedWithin, listing, scratchSchemasOf, start } from '../support/signals.js';

describe('a signal during migrate-create', () => {
  const cases = [
    { name: 'SIGTERM to sluice alone while drizzle-kit runs: drizzle-kit is stopped too, nothing is kept', signal: 'SIGTERM' as const, code: 143, phase: 'drizzle-kit' },
    { name: 'Ctrl+C while the downs are verified (after drizzle-kit wrote its files): what it wrote is removed, the journal put back', signal: 'SIGINT' as const, code: 130, phase: 'verify' },
    {
      // the SQLite proof runs synchronously: the signal waits for it, and must still be seen before the down is written
      name: 'Ctrl+C during a SQLite proof of seconds (a slow statement earlier in the history): seen before the down is written, nothing is kept',
      signal: 'SIGINT' as const,
      code: 130,
      phase: 'verify',
      slowSqlite: true,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = makeProject();
      // a slow statement in an applied SQLite up: the proof of the new down replays it. SQLite listed
      // last (as it once had to be, for its proof to be the last step before its down is written)
      if (c.slowSqlite) {
        const config = path.join(dir, 'drizzle.config.ts');
        const text = readFileSync(config, 'utf8');
        const sqliteLine = "  sqlite: { schema: './models/sqlite.ts', out: './drizzle/sqlite' },\n";
        expect(text).toContain(sqliteLine);
        writeFileSync(config, text.replace(sqliteLine, '').replace("out: './drizzle/postgresql' },\n", `out: './drizzle/postgresql' },\n${sqliteLine}`));
      }
      if (c.slowSqlite) appendFileSync(path.join(dir, 'drizzle', 'sqlite', '0003_add_phone_to_users.sql'), '\n--> statement-breakpoint\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 15000000) SELECT count(*) FROM c;\n');
      addUserColumn(dir, 'nickname');
      const before = listing(path.join(dir, 'drizzle'));
      // verification on the embedded PGlite (seconds, long enough to be inside it), or the slow SQLite proof
      const run = start(dir, ['create', '-m', 'add nickname'], c.slowSqlite ? {} : { SLUICE_CHECK_DATABASE_URL: '' });
      const pid = run.child.pid!;
      let kits: number[] = [];
      for (let i = 0; i < 400 && !(kits = childrenOf(pid)).length; i++) await new Promise((r) => setTimeout(r, 10));
      expect(kits.length, 'drizzle-kit started').toBeGreaterThan(0);
      if (c.slowSqlite) {
        // both ups written by drizzle-kit (its exit is not seen here: an ended child stays a zombie until
        // sluice's event loop turns, which a synchronous SQLite proof holds up)
        const ups = ['sqlite', 'postgresql'].map((d) => path.join(dir, 'drizzle', d, '0004_add_nickname.sql'));
        for (let i = 0; i < 1000 && !ups.every((f) => existsSync(f)); i++) await new Promise((r) => setTimeout(r, 5));
        expect(ups.every((f) => existsSync(f)), 'drizzle-kit wrote both ups').toBe(true);
      } else if (c.phase === 'verify') {
        // both ups written: the downs are being made and verified (drizzle-kit's processes may still be up,
        // serving the down's diff: kitserve.cjs); on PGlite, whose start takes longer than drizzle-kit's run
        const ups = ['sqlite', 'postgresql'].map((d) => path.join(dir, 'drizzle', d, '0004_add_nickname.sql'));
        for (let i = 0; i < 1000 && !ups.every((f) => existsSync(f)); i++) await new Promise((r) => setTimeout(r, 5));
        expect(ups.every((f) => existsSync(f)), 'drizzle-kit wrote both ups').toBe(true);
        expect(existsSync(path.join(dir, 'drizzle', 'postgresql', '0004_add_nickname.down.sql')), 'the PostgreSQL down is not written yet').toBe(false);
      }
      if (c.slowSqlite) {
        // each dialect's down is made as its drizzle-kit ends, in either order: 500 ms after both wrote,
        // PostgreSQL's (on the suite's server, ~0.2 s) is done or not begun, and SQLite's proof (seconds) runs
        await new Promise((r) => setTimeout(r, 500));
        expect(existsSync(path.join(dir, 'drizzle', 'sqlite', '0004_add_nickname.down.sql')), 'the SQLite down is not written yet').toBe(false);
      }
      expect(alive(pid), run.child.exitCode === null ? '' : 'sluice ended before the signal').toBe(true);
      process.kill(pid, c.signal);
      // bounded: a hang here (once, in a loaded CI run) fails naming what was running and what was printed
      const ended = await endedWithin(run, 60_000);
      expect(ended.code, ended.stdout + ended.stderr).toBe(c.code);
      const lines = ended.stderr.split('\n').filter((l) => l.trim());
      expect(lines, ended.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^sluice: interrupted \\(${c.signal}\\) during migrate-create: nothing was kept \\(.*\\); run it again$`));
      await new Promise((r) => setTimeout(r, 300)); // an orphaned drizzle-kit would write by now
      expect(kits.filter(alive)).toEqual([]);
      expect(listing(path.join(dir, 'drizzle'))).toEqual(before);
      // and the command works again
      const again = runCli(dir, ['create', '-m', 'add nickname']);
      expect(again.status, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/0004_add_nickname/);
    });
  }
});

pgDescribe('a signal during db-test', () => {
  it('SIGTERM while it replays on the server: the scratch schema is dropped, exit 143', async () => {
    const dir = makeProject();
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('sigcheck') };
    const admin = new pg.Client({ connectionString: pgUrl() });
    await admin.connect();
    try {
      const run = start(dir, ['check'], env);
      const pid = run.child.pid!;
      const mine = () => scratchSchemasOf(admin, pid);
      for (let i = 0; i < 1000 && (await mine()).length === 0 && run.child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 10));
      expect(await mine(), 'the replay schema exists').not.toEqual([]);
      run.child.kill('SIGTERM');
      const ended = await run.ended;
      expect(ended.code, ended.stdout + ended.stderr).toBe(143);
      const lines = ended.stderr.split('\n').filter((l) => l.trim());
      expect(lines, ended.stderr).toEqual(['sluice: interrupted (SIGTERM) during db-test: its scratch databases were removed; nothing else had changed']);
      expect(await mine()).toEqual([]);
    } finally {
      await admin.end();
    }
  });

  it('Ctrl+C with no server (db-test started its own PostgreSQL): that server is stopped and its folder removed, exit 130', async () => {
    const dir = makeProject();
    const tmp = tempDir('sluice-sigtmp-');
    chmodSync(tmp, 0o755); // the server runs as the postgres user: it must reach its folder
    const run = start(dir, ['check'], { DATABASE_URL: `file:${path.join(dir, 'dev.sqlite')}`, SLUICE_CHECK_DATABASE_URL: undefined, TMPDIR: tmp });
    const clusterDir = () => readdirSync(tmp).find((n) => n.startsWith('sluice-check-pg-'));
    const pidFile = () => {
      const d = clusterDir();
      // the port file is written once pg_ctl has started the server (initdb's bootstrap writes a postmaster.pid too)
      return d && existsSync(path.join(tmp, d, 'port')) ? path.join(tmp, d, 'data', 'postmaster.pid') : undefined;
    };
    for (let i = 0; i < 3000 && !pidFile() && run.child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 10));
    const file = pidFile();
    expect(file, 'db-test started a server').toBeDefined();
    const postmaster = Number(readFileSync(file!, 'utf8').split('\n')[0]);
    expect(alive(postmaster)).toBe(true);
    run.child.kill('SIGINT');
    const ended = await run.ended;
    expect(ended.code, ended.stdout + ended.stderr).toBe(130);
    expect(ended.stderr.split('\n').filter((l) => l.trim())).toEqual(['sluice: interrupted (SIGINT) during db-test: its scratch databases were removed; nothing else had changed']);
    for (let i = 0; i < 100 && alive(postmaster); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(postmaster), 'the server it started is stopped').toBe(false);
    expect(readdirSync(tmp).filter((n) => n.startsWith('sluice-'))).toEqual([]); // (tsx keeps its cache there too)
  });
});

pgDescribe('a signal during migrate-downs', () => {
  it('Ctrl+C while the downs are proven on the server: no down file is written, the scratch schemas are dropped, exit 130', async () => {
    const dir = makeProject();
    const folder = path.join(dir, 'drizzle', 'postgresql');
    for (const name of readdirSync(folder)) if (name.endsWith('.down.sql')) rmSync(path.join(folder, name));
    const before = listing(path.join(dir, 'drizzle'));
    const admin = new pg.Client({ connectionString: pgUrl() });
    await admin.connect();
    try {
      const run = start(dir, ['downs'], { SLUICE_CHECK_DATABASE_URL: pgUrl() });
      const pid = run.child.pid!;
      const mine = () => scratchSchemasOf(admin, pid);
      for (let i = 0; i < 1000 && (await mine()).length === 0 && run.child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 5));
      expect(await mine(), 'the scratch schemas exist').not.toEqual([]);
      run.child.kill('SIGINT');
      const ended = await run.ended;
      expect(ended.code, ended.stdout + ended.stderr).toBe(130);
      const lines = ended.stderr.split('\n').filter((l) => l.trim());
      expect(lines, ended.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^sluice: interrupted \(SIGINT\) during migrate-downs[:,] .*run it again$/);
      expect(await mine()).toEqual([]);
    } finally {
      await admin.end();
    }
    expect(listing(path.join(dir, 'drizzle'))).toEqual(before);
  });
});

pgDescribe('a signal during migrate-check', () => {
  it("SIGTERM while the drift check replays the history beside the data: the scratch schema is dropped, exit 143", async () => {
    const dir = makeProject();
    const url = await freshDatabase('sig');
    const env: Env = { DATABASE_URL: url, DATABASE_SCHEMA: uniqueSchema('sigverify') };
    expect(runCli(dir, ['up'], env).status).toBe(0);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const run = start(dir, ['verify'], { ...env, SLUICE_CHECK_DATABASE_URL: url }); // the replay goes beside the data
      const pid = run.child.pid!;
      const mine = () => scratchSchemasOf(admin, pid);
      for (let i = 0; i < 3000 && (await mine()).length === 0 && run.child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 5));
      expect(await mine(), 'the replay schema exists').not.toEqual([]);
      run.child.kill('SIGTERM');
      const ended = await run.ended;
      expect(ended.code, ended.stdout + ended.stderr).toBe(143);
      expect(ended.stderr.split('\n').filter((l) => l.trim())).toEqual(['sluice: interrupted (SIGTERM) during migrate-check: its scratch databases were removed; nothing else had changed']);
      expect(await mine()).toEqual([]);
    } finally {
      await admin.end();
    }
  });
});
