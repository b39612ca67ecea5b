/**
 * Ctrl+C (SIGINT) and SIGTERM during a run, on real processes. PostgreSQL: the statement running is
 * cancelled on the server, so nothing after it commits once sluice has gone (before, a grouped script
 * already sent went on committing on the server); the command says where the database is, exit
 * 130 / 143. SQLite: a signal still ends the process at once (its statements run synchronously; the
 * journal rolls the open transaction back).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { status } from '../../src/index.js';
import { addRevision, addUserColumn, cleanEnv, freshDatabase, makeProject, pgDescribe, pgUrl, REPO, runCli, sql, tempDir, uniqueSchema, type Env } from '../support/project.js';

const BP = '\n--> statement-breakpoint\n';

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Start the CLI (or `make <target>`, in a process group of its own, as a terminal runs it); `ended` resolves when it exits. */
function start(dir: string, args: string[], env: Env, viaMake = false): { child: ReturnType<typeof spawn>; ended: Promise<Ended> } {
  const child = viaMake
    ? spawn('make', ['--no-print-directory', ...args], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv, detached: true })
    : spawn(process.execPath, [path.join(REPO, 'dist', 'cli.js'), ...args], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b) => (stdout += b));
  child.stderr!.on('data', (b) => (stderr += b));
  const ended = new Promise<Ended>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, ended };
}

// Each PostgreSQL test here runs in a database of its own (freshDatabase): other test files run sluice
// beside this one, and the sessions below are told apart by their database.

/** sluice's sessions in the admin client's database that are in pg_sleep, and all of them. */
async function sessions(admin: pg.Client): Promise<{ sleeping: number; all: number }> {
  const r = await admin.query<{ sleeping: string; all: string }>(
    "SELECT count(*) FILTER (WHERE wait_event = 'PgSleep') AS sleeping, count(*) AS all FROM pg_stat_activity WHERE application_name = 'sluice' AND datname = current_database()",
  );
  return { sleeping: Number(r.rows[0]!.sleeping), all: Number(r.rows[0]!.all) };
}

/** The scratch schemas (scratch.ts names them sluice_check_<pid>_…) that the sluice process `pid` has on the admin client's database. */
const scratchSchemasOf = async (admin: pg.Client, pid: number): Promise<string[]> =>
  (await admin.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'sluice_check\\_' || $1 || '\\_%'", [String(pid)])).rows.map((r) => r.n);

const tablesOf = async (dir: string, env: Env) =>
  (await sql<{ t: string }>(dir, env, 'SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1', [env.DATABASE_SCHEMA])).map((r) => r.t);

pgDescribe('a signal during a PostgreSQL run', () => {
  const cases = [
    {
      name: 'Ctrl+C during up: the revision running is cancelled and rolled back, the ones before it stay, nothing after it runs',
      args: ['up'],
      signal: 'SIGINT' as const,
      code: 130,
      noTransaction: false,
      message: /^sluice: interrupted \(SIGINT\) during 0004_slow \(up\), 4 of 6 revision\(s\) done: 0004_slow was rolled back, the ones before it stay\. The database is at 0003_add_phone_to_users; run the command again to continue$/,
      at: '0003_add_phone_to_users',
      tables: ['audits', 'sessions', 'sluice_version', 'submissions', 'users'],
    },
    {
      name: 'SIGTERM during deploy --single-transaction: the single transaction is rolled back',
      args: ['deploy', '--single-transaction'],
      signal: 'SIGTERM' as const,
      code: 143,
      noTransaction: false,
      message: /^sluice: deploy failed: interrupted \(SIGTERM\) during 0004_slow \(up\), 4 of 6 revision\(s\) run: the single transaction was rolled back\. The database is at base; run the command again to continue$/,
      at: 'base',
      tables: ['sluice_version'],
    },
    {
      name: 'Ctrl+C during a no-transaction revision: its statements that ran stay and it is not recorded',
      args: ['up'],
      signal: 'SIGINT' as const,
      code: 130,
      noTransaction: true,
      message: /^sluice: interrupted \(SIGINT\) during 0004_slow \(up\), 4 of 6 revision\(s\) done: 0004_slow is marked sluice:no-transaction: statements 1-1 of it ran and were NOT rolled back, statement 2 \(SELECT pg_sleep\(60\)\) was cancelled; it is not recorded\. The database is at 0003_add_phone_to_users; run the command again to continue$/,
      at: '0003_add_phone_to_users',
      tables: ['audits', 'sessions', 'sluice_version', 'submissions', 't_slow', 'users'],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = makeProject();
      addRevision(dir, 'postgresql', 'slow', `${c.noTransaction ? '-- sluice:no-transaction\n' : ''}CREATE TABLE t_slow (id integer);${BP}SELECT pg_sleep(60);`, 'DROP TABLE t_slow;');
      addRevision(dir, 'postgresql', 'after', 'CREATE TABLE t_after (id integer);', 'DROP TABLE t_after;');
      const url = await freshDatabase('sig');
      const env: Env = { DATABASE_URL: url, DATABASE_SCHEMA: uniqueSchema('sig') };
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        const run = start(dir, c.args, env);
        for (let i = 0; i < 400 && (await sessions(admin)).sleeping === 0; i++) await new Promise((r) => setTimeout(r, 25));
        expect((await sessions(admin)).sleeping).toBe(1);
        run.child.kill(c.signal);
        const ended = await run.ended;
        expect(ended.code, ended.stderr).toBe(c.code);
        const lines = ended.stderr.split('\n').filter((l) => l.trim());
        expect(lines, ended.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(c.message);
        if (c.args[0] === 'up') expect(ended.stdout).toMatch(/↑ 0004_slow INTERRUPTED/);
        // the server stopped too: no sluice session is left running the sleep, or at all
        for (let i = 0; i < 40 && (await sessions(admin)).all > 0; i++) await new Promise((r) => setTimeout(r, 25));
        expect(await sessions(admin)).toEqual({ sleeping: 0, all: 0 });
      } finally {
        await admin.end();
      }
      expect((await status({ cwd: dir, env })).current).toBe(c.at);
      expect(await tablesOf(dir, env)).toEqual(c.tables);
      // the lock was released and the version table is usable: a normal command runs at once
      expect(runCli(dir, ['down', 'base'], env).status).toBe(0);
    });
  }
});

pgDescribe('a signal that finds nothing to cancel, or a CREATE INDEX CONCURRENTLY', () => {
  /** Run `up` on a fresh schema, wait until `ready` says the moment has come, send `signals` (ms apart), return what it ended with. */
  async function interrupt(dir: string, env: Env, ready: (admin: pg.Client) => Promise<boolean>, gaps: number[] = [0], hold?: (admin: pg.Client) => Promise<void>) {
    const admin = new pg.Client({ connectionString: env.DATABASE_URL });
    await admin.connect();
    // a session of its own (pg_stat_activity is read once per transaction: the poll needs its own)
    const holder = hold ? new pg.Client({ connectionString: env.DATABASE_URL }) : undefined;
    await holder?.connect();
    try {
      if (holder) await hold!(holder);
      const run = start(dir, ['up'], env);
      let ok = false;
      for (let i = 0; i < 800 && !(ok = await ready(admin)) && run.child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 10));
      expect(ok, 'the moment to interrupt came').toBe(true);
      for (const gap of gaps) {
        await new Promise((r) => setTimeout(r, gap));
        run.child.kill('SIGINT');
      }
      return await run.ended;
    } finally {
      await holder?.end();
      await admin.end();
    }
  }
  const sluiceIs = (state: string, waitType?: string) => async (admin: pg.Client) =>
    (await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'sluice' AND datname = current_database() AND state = $1 AND ($2::text IS NULL OR wait_event_type = $2)", [state, waitType ?? null])).rowCount! > 0;

  it('a TypeScript revision waiting between its queries (nothing to cancel) is rolled back at its end, not committed', async () => {
    const dir = makeProject();
    const tag = addRevision(dir, 'postgresql', 'ts_slow', '-- the TypeScript part does it\n', '-- and undoes it\n');
    writeFileSync(
      path.join(dir, 'drizzle', 'postgresql', `${tag}.ts`),
      `import { sql } from 'drizzle-orm';
export async function up(db: any): Promise<void> {
  await db.execute(sql\`CREATE TABLE t_ts (id integer)\`);
  await new Promise((r) => setTimeout(r, 3000));
  await db.execute(sql\`INSERT INTO t_ts VALUES (1)\`);
}
export async function down(db: any): Promise<void> {
  await db.execute(sql\`DROP TABLE t_ts\`);
}
`,
    );
    const env: Env = { DATABASE_URL: await freshDatabase('sig'), DATABASE_SCHEMA: uniqueSchema('sigts') };
    const ended = await interrupt(dir, env, sluiceIs('idle in transaction'));
    expect(ended.code, ended.stdout + ended.stderr).toBe(130);
    expect(ended.stderr.trim()).toMatch(/^sluice: interrupted \(SIGINT\) during 0004_ts_slow \(up\), 4 of 5 revision\(s\) done: 0004_ts_slow was rolled back, the ones before it stay\. The database is at 0003_add_phone_to_users; run the command again to continue$/);
    expect((await status({ cwd: dir, env })).current).toBe('0003_add_phone_to_users');
    expect(await tablesOf(dir, env)).not.toContain('t_ts');
  });

  it('more Ctrl+C within a second of the first (npm forwarding it, late on a loaded machine) do not cut the line off', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'slow', `CREATE TABLE t_slow (id integer);${BP}SELECT pg_sleep(60);`, 'DROP TABLE t_slow;');
    const env: Env = { DATABASE_URL: await freshDatabase('sig'), DATABASE_SCHEMA: uniqueSchema('sigdup') };
    // one every 5 ms for 400 ms: some land while the run reads where the database is and prints it
    const ended = await interrupt(dir, env, async (admin) => (await sessions(admin)).sleeping > 0, [0, ...Array<number>(80).fill(5)]);
    expect(ended.code, ended.stderr).toBe(130);
    expect(ended.stderr).toMatch(/^sluice: interrupted \(SIGINT\) during 0004_slow/);
  });

  it('a CREATE INDEX CONCURRENTLY cancelled in a no-transaction revision: the message names the invalid index it leaves', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'idx', `-- sluice:no-transaction\nSELECT 1;${BP}CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_name_u ON users (name);`, 'DROP INDEX CONCURRENTLY IF EXISTS users_name_u;');
    const env: Env = { DATABASE_URL: await freshDatabase('sig'), DATABASE_SCHEMA: uniqueSchema('sigidx') };
    // an open transaction with a snapshot: the index build waits for it after its catalog entry exists
    const ended = await interrupt(dir, env, sluiceIs('active', 'Lock'), [0], async (admin) => {
      await admin.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await admin.query('SELECT count(*) FROM pg_class');
    });
    expect(ended.code, ended.stdout + ended.stderr).toBe(130);
    expect(ended.stderr.trim()).toMatch(
      /^sluice: interrupted \(SIGINT\) during 0004_idx \(up\), 4 of 5 revision\(s\) done: 0004_idx is marked sluice:no-transaction: statements 1-1 of it ran and were NOT rolled back, statement 2 \(CREATE UNIQUE INDEX CONCURRENTLY .*\) was cancelled; it is not recorded\. The schema holds invalid index\(es\) users_name_u .*DROP INDEX CONCURRENTLY.*\. The database is at 0003_add_phone_to_users; run the command again to continue$/,
    );
  });
});

pgDescribe('Ctrl+C in a terminal running make migrate-up', () => {
  it('reaches make, npm and sluice at once (npm forwards it again): the run is cancelled on the server and reported, not cut off', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'slow', `CREATE TABLE t_slow (id integer);${BP}SELECT pg_sleep(60);`, 'DROP TABLE t_slow;');
    const url = await freshDatabase('sig');
    const env: Env = { DATABASE_URL: url, DATABASE_SCHEMA: uniqueSchema('sigmake') };
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const run = start(dir, ['migrate-up'], env, true);
      for (let i = 0; i < 400 && (await sessions(admin)).sleeping === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect((await sessions(admin)).sleeping).toBe(1);
      process.kill(-run.child.pid!, 'SIGINT'); // what the terminal does: the whole foreground process group
      const ended = await run.ended;
      expect(ended.code === 2 || ended.signal === 'SIGINT', `${ended.code} ${ended.signal}`).toBe(true);
      expect(ended.stderr).toMatch(/^sluice: interrupted \(SIGINT\) during 0004_slow \(up\), 4 of 5 revision\(s\) done: 0004_slow was rolled back, the ones before it stay\. The database is at 0003_add_phone_to_users; run the command again to continue$/m);
      for (let i = 0; i < 40 && (await sessions(admin)).all > 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(await sessions(admin)).toEqual({ sleeping: 0, all: 0 });
    } finally {
      await admin.end();
    }
    expect((await status({ cwd: dir, env })).current).toBe('0003_add_phone_to_users');
  });
});

describe('a signal during a SQLite run', () => {
  it('Ctrl+C ends the process at once, inside a long statement too; the database is at a committed revision', async () => {
    const dir = makeProject();
    // a statement that runs for minutes: only the default action of SIGINT can stop it
    addRevision(dir, 'sqlite', 'slow', `CREATE TABLE t_slow (id integer);${BP}WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000000) SELECT count(*) FROM c;`, 'DROP TABLE t_slow;');
    const env: Env = { DATABASE_URL: `file:${path.join(dir, 'sig.sqlite')}` };
    const run = start(dir, ['up', '--no-backup'], env);
    await new Promise((r) => setTimeout(r, 1500)); // started (~0.4 s here) and inside the statement
    run.child.kill('SIGINT');
    const ended = await run.ended;
    expect(ended.signal, ended.stdout + ended.stderr).toBe('SIGINT');
    expect(['base', '0003_add_phone_to_users']).toContain((await status({ cwd: dir, env })).current);
    const tables = (await sql<{ t: string }>(dir, env, "SELECT name AS t FROM sqlite_master WHERE type = 'table'")).map((r) => r.t);
    expect(tables).not.toContain('t_slow');
  });
});

/** Every file under `dir` with a hash of its bytes: two listings are equal when nothing was added, removed or changed. */
function listing(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

const childrenOf = (pid: number): number[] =>
  spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a signal during migrate-create', () => {
  const cases = [
    { name: 'SIGTERM to sluice alone while drizzle-kit runs: drizzle-kit is stopped too, nothing is kept', signal: 'SIGTERM' as const, code: 143, phase: 'drizzle-kit' },
    { name: 'Ctrl+C while the downs are verified (after drizzle-kit wrote its files): what it wrote is removed, the journal put back', signal: 'SIGINT' as const, code: 130, phase: 'verify' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = makeProject();
      addUserColumn(dir, 'nickname');
      const before = listing(path.join(dir, 'drizzle'));
      // verification on the embedded PGlite: seconds, long enough to be inside it
      const run = start(dir, ['create', '-m', 'add nickname'], { SLUICE_CHECK_DATABASE_URL: '' });
      const pid = run.child.pid!;
      let kits: number[] = [];
      for (let i = 0; i < 400 && !(kits = childrenOf(pid)).length; i++) await new Promise((r) => setTimeout(r, 10));
      expect(kits.length, 'drizzle-kit started').toBeGreaterThan(0);
      if (c.phase === 'verify') {
        for (let i = 0; i < 1000 && kits.some(alive); i++) await new Promise((r) => setTimeout(r, 10));
        expect(kits.some(alive), 'drizzle-kit ended').toBe(false);
        expect(Object.keys(listing(path.join(dir, 'drizzle'))).length, 'drizzle-kit wrote its files').toBeGreaterThan(Object.keys(before).length);
      }
      expect(alive(pid), run.child.exitCode === null ? '' : 'sluice ended before the signal').toBe(true);
      process.kill(pid, c.signal);
      const ended = await run.ended;
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
