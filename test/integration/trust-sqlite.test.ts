/**
 * Trust in SQLite runs (issue 13, findings 4 and 8b), on real SQLite files through the real CLI:
 * one run-wide migration lock per SQLite database (up, down, stamp and reset serialize for the whole
 * run, a lock left by a process killed with kill -9 is recovered with no manual action, the wait is
 * bounded by SLUICE_LOCK_WAIT and the error names the holder), and read commands that work right
 * after a crash left a hot rollback journal behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { addRevision, cleanEnv, makeProject, REPO, runCli, type Env, upgradeTo, stampTo } from '../support/project.js';

const BP = '\n--> statement-breakpoint\n';
const CLI = path.join(REPO, 'dist', 'cli.cjs');
/** A statement that only burns time (about 130 ms per million rows here), inside the revision's transaction. */
const slow = (rows: number) => `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${rows}) SELECT count(*) FROM c;`;
const LOCK_MESSAGE = /another sluice run holds the migration lock on sqlite:/;

/**
 * A revision that holds its transaction (and so the run lock) until the test releases it: the SQL part
 * creates `<name>_a` (the journal appears), the TypeScript part waits, idle, for `release()` (at most
 * 60 s). Was a statement burning 5 s of CPU, which slowed every other test running meanwhile.
 */
function heldRevision(dir: string, name: string): { tag: string; release: () => void } {
  const tag = addRevision(dir, 'sqlite', name, `CREATE TABLE ${name}_a (id integer);`, `DROP TABLE ${name}_a;`);
  const flag = path.join(dir, `${name}.release`);
  writeFileSync(
    path.join(dir, 'drizzle', 'sqlite', `${tag}.ts`),
    `import { existsSync } from 'node:fs';\nexport async function up(): Promise<void> {\n  for (let i = 0; i < 1200 && !existsSync(${JSON.stringify(flag)}); i++) await new Promise((r) => setTimeout(r, 50));\n}\nexport async function down(): Promise<void> {}\n`,
  );
  return { tag, release: () => writeFileSync(flag, '') };
}

/** What each revision of the example history (drizzle/sqlite) creates: tables, and `table.column` for added columns. */
const EXAMPLE: [string, string[]][] = [
  ['0000_init', ['users', 'submissions']],
  ['0001_add_audits', ['audits']],
  ['0002_add_sessions_and_roles', ['sessions', 'users.role']],
  ['0003_add_phone_to_users', ['users.phone']],
];

interface Ran {
  status: number;
  stdout: string;
  stderr: string;
}

/** Start the CLI without waiting for it. */
function start(cwd: string, args: string[], env: Env): { child: ChildProcess; done: Promise<Ran> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(env) as NodeJS.ProcessEnv });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b) => (stdout += b));
  child.stderr!.on('data', (b) => (stderr += b));
  const done = new Promise<Ran>((resolve) => child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr })));
  return { child, done };
}

async function waitFor(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The version rows and the app objects of a SQLite file, read directly (only after every run has ended). */
function shapeOf(file: string): { rows: string[]; objects: Set<string> } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = (db.prepare('SELECT revision FROM sluice_version ORDER BY revision').all() as { revision: string }[]).map((r) => r.revision);
    const objects = new Set<string>();
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
    for (const { name } of tables) {
      objects.add(name);
      for (const c of db.prepare('SELECT name FROM pragma_table_info(?)').all(name) as { name: string }[]) objects.add(`${name}.${c.name}`);
    }
    return { rows, objects };
  } finally {
    db.close();
  }
}

/**
 * The file is in a state a serial order of runs produces: the version rows are the first `n` revisions
 * of the history for one of the `allowed` counts, and exactly the objects of those revisions exist.
 */
function expectSerialState(file: string, history: [string, string[]][], allowed: number[], note: string): number {
  const { rows, objects } = shapeOf(file);
  const n = rows.length;
  expect(allowed, `${note}: ${n} version rows (${rows.join(', ')})`).toContain(n);
  expect(rows, note).toEqual(history.slice(0, n).map(([id]) => id));
  for (const [i, [id, made]] of history.entries()) {
    for (const o of made) expect(objects.has(o), `${note}: ${o} of ${id} ${i < n ? 'applied but missing' : 'not applied but present'}`).toBe(i < n);
  }
  return n;
}

/** A run that exits 0, or 5 because another run held the lock (with the lock message). */
function expectDoneOrLocked(r: Ran, what: string): void {
  expect([0, 5], `${what}: ${r.stderr}`).toContain(r.status);
  if (r.status === 5) expect(r.stderr).toMatch(LOCK_MESSAGE);
}

function project(name: string): { dir: string; file: string; env: Env } {
  const dir = makeProject();
  const file = path.join(dir, `${name}.sqlite`);
  return { dir, file, env: { DATABASE_URL: `file:${file}`, SLUICE_NO_BACKUP: '1' } };
}

describe('SQLite: one run-wide migration lock per database', () => {
  it('up and down started together end in a state a serial order produces (3 rounds)', async () => {
    const { dir, file, env } = project('race');
    // two revisions whose transactions take a while, so the runs overlap
    const a = addRevision(dir, 'sqlite', 'race_a', ['CREATE TABLE race_a (id integer);', slow(3_000_000)].join(BP), [slow(3_000_000), 'DROP TABLE race_a;'].join(BP));
    const b = addRevision(dir, 'sqlite', 'race_b', ['CREATE TABLE race_b (id integer);', slow(3_000_000)].join(BP), [slow(3_000_000), 'DROP TABLE race_b;'].join(BP));
    const history: [string, string[]][] = [...EXAMPLE, [a, ['race_a']], [b, ['race_b']]];
    await upgradeTo(dir, env, a);
    for (let round = 0; round < 3; round++) {
      const note = `round ${round}`;
      expectSerialState(file, history, [5], `${note}, before`);
      const up = start(dir, ['up'], env);
      const down = start(dir, ['down'], env);
      const [u, d] = await Promise.all([up.done, down.done]);
      expectDoneOrLocked(u, `${note} up`);
      expectDoneOrLocked(d, `${note} down`);
      expect(u.status + d.status, `${note}: both runs failed`).toBeLessThan(10);
      // from 0004: up then down → 0004 (5 rows); down then up → 0005 (6 rows); one alone → 6 or 4
      const allowed = u.status === 0 && d.status === 0 ? [5, 6] : u.status === 0 ? [6] : [4];
      const n = expectSerialState(file, history, allowed, note);
      if (n !== 5) expect(runCli(dir, [n < 5 ? 'up' : 'down', a], env).status).toBe(0);
    }
    // what stays next to the database: the file and its empty lock file, nothing else
    expect(readdirSync(dir).filter((f) => f.startsWith('race.sqlite')).sort()).toEqual(['race.sqlite', 'race.sqlite.sluice-lock']);
    expect(statSync(`${file}.sluice-lock`).size).toBe(0);
  });

  it('two stamps started together end in a state a serial order produces', async () => {
    const { dir, file, env } = project('stamps');
    await upgradeTo(dir, env);
    const ids = EXAMPLE.map(([id]) => id);
    for (let round = 0; round < 4; round++) {
      await stampTo(dir, env, '0002');
      // Even rounds: an application holds a write transaction for a moment while both stamps start
      // (both then read the version table before either can write), as an app writing does.
      let app: Database.Database | undefined;
      let released: Promise<void> = Promise.resolve();
      if (round % 2 === 0) {
        const db = new Database(file, { fileMustExist: true });
        db.exec('BEGIN IMMEDIATE');
        app = db;
        released = new Promise((r) =>
          setTimeout(() => {
            db.exec('ROLLBACK');
            db.close();
            r();
          }, 1500),
        );
      }
      const down = start(dir, ['stamp', '0000'], env);
      const up = start(dir, ['stamp', 'head'], env);
      const [d, u] = await Promise.all([down.done, up.done]);
      await released;
      expect(app === undefined || !app.open).toBe(true);
      expectDoneOrLocked(d, `round ${round} stamp 0000`);
      expectDoneOrLocked(u, `round ${round} stamp head`);
      const rows = shapeOf(file).rows;
      // from 0002: 0000 then head → all four; head then 0000 → 0000 alone
      const serial = [ids, ids.slice(0, 1)];
      if (d.status !== 0) serial.splice(1, 1);
      if (u.status !== 0) serial.splice(0, 1);
      expect(serial, `round ${round}: version rows ${rows.join(', ')}`).toContainEqual(rows);
    }
  });

  it('a lock left by a process killed with kill -9 is recovered by the next run, with no manual action', async () => {
    const { dir, file, env } = project('killed');
    await upgradeTo(dir, env, '1');
    // a process that takes the lock through the library, says so, and waits
    const script = [
      `import { openConnection } from ${JSON.stringify(pathToFileURL(path.join(REPO, 'dist', 'index.js')).href)};`,
      `const conn = await openConnection({ dialect: 'sqlite', file: ${JSON.stringify(file)}, display: 'sqlite:killed.sqlite', secrets: [] }, { write: true });`,
      'await conn.lock(10000);',
      "process.stdout.write('locked\\n');",
      'setInterval(() => conn.display, 1000);',
    ].join('\n');
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env: cleanEnv() as NodeJS.ProcessEnv });
    let out = '';
    holder.stdout.on('data', (b) => (out += b));
    holder.stderr.on('data', (b) => (out += b));
    const closed = new Promise((r) => holder.once('close', r));
    try {
      await waitFor('the holder to take the lock', () => out.includes('locked'));
      // the lock is really held: a run gives up after SLUICE_LOCK_WAIT, naming the holder
      const blocked = runCli(dir, ['up'], { ...env, SLUICE_LOCK_WAIT: '1' });
      expect(blocked.status, blocked.stderr).toBe(5);
      expect(blocked.stderr).toMatch(LOCK_MESSAGE);
      expect(blocked.stderr).toContain(`pid ${holder.pid}`);
    } finally {
      holder.kill('SIGKILL');
      await closed;
    }
    // no manual action: the next run takes the lock at once (a 3 s wait would otherwise end in exit 5)
    const next = runCli(dir, ['--json', 'up'], { ...env, SLUICE_LOCK_WAIT: '3' });
    expect(next.status, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout).to).toBe('0003_add_phone_to_users');
    expect(existsSync(`${file}.sluice-lock.holder`)).toBe(false); // the dead holder's record is gone too
  });

  it('SLUICE_LOCK_WAIT bounds the wait: exit 5 in seconds, naming the holder and the fix; readers do not wait', async () => {
    const { dir, file, env } = project('held');
    await upgradeTo(dir, env);
    const { tag, release } = heldRevision(dir, 'long');
    const holder = start(dir, ['up'], env);
    try {
      // the holder is inside its revision's transaction (it holds the run lock since before planning)
      await waitFor('the holder to start its revision', () => existsSync(`${file}-journal`));
      const st = runCli(dir, ['--json', 'status'], env);
      expect(st.status, st.stderr).toBe(0);
      expect(JSON.parse(st.stdout)).toMatchObject({ current: '0003_add_phone_to_users', pending: [tag] });
      const started = Date.now();
      const blocked = runCli(dir, ['up'], { ...env, SLUICE_LOCK_WAIT: '1' });
      const took = Date.now() - started;
      expect(blocked.status, blocked.stderr).toBe(5);
      expect(took).toBeLessThan(5_000);
      const line = blocked.stderr.trim();
      expect(line.split('\n')).toHaveLength(1);
      expect(line).toMatch(LOCK_MESSAGE);
      expect(line).toContain(`pid ${holder.child.pid}`);
      expect(line).toContain(`host ${os.hostname()}`);
      expect(line).toMatch(/"sluice up"/);
      expect(line).toMatch(/since \d{4}-\d\d-\d\dT/);
      expect(line).toMatch(/waited 1s/);
      expect(line).toMatch(/SLUICE_LOCK_WAIT/);
      expect(line).toMatch(new RegExp(`kill ${holder.child.pid}`));
    } finally {
      release();
      const r = await holder.done;
      expect(r.status, r.stderr).toBe(0);
    }
    expect(shapeOf(file).rows.at(-1)).toBe(tag);
  });

  // a hunt: a run whose revision writes more than SQLite's page cache holds the file's exclusive lock until
  // it commits; the second run's first read of the file (before it even asked for the migration lock)
  // waited SQLite's 10 s busy timeout, frozen, and ended "cannot open SQLite file …: database is locked",
  // exit 5: SLUICE_LOCK_WAIT=1 took 10 s and named nobody, and a second deploy failed after 10 s where
  // it should wait (SLUICE_LOCK_WAIT, default 60 s) and find the database up to date
  it('a run writing a large revision (the file exclusively locked) is waited for as SLUICE_LOCK_WAIT says: exit 5 in seconds naming it, or up to date once it is done', async () => {
    const { dir, file, env } = project('large');
    await upgradeTo(dir, env);
    const tag = addRevision(dir, 'sqlite', 'large', "CREATE TABLE large_a (b blob);\n--> statement-breakpoint\nINSERT INTO large_a WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) SELECT randomblob(200) FROM c;\n", 'DROP TABLE large_a;');
    const started = path.join(dir, 'large.started');
    const flag = path.join(dir, 'large.release');
    writeFileSync(
      path.join(dir, 'drizzle', 'sqlite', `${tag}.ts`),
      `import { existsSync, writeFileSync } from 'node:fs';\nexport async function up(): Promise<void> {\n  writeFileSync(${JSON.stringify(started)}, '');\n  for (let i = 0; i < 1200 && !existsSync(${JSON.stringify(flag)}); i++) await new Promise((r) => setTimeout(r, 50));\n}\nexport async function down(): Promise<void> {}\n`,
    );
    const holder = start(dir, ['deploy'], env);
    let second: ReturnType<typeof start> | undefined;
    try {
      await waitFor('the holder to write its rows', () => existsSync(started), 30_000);
      // the precondition: 20 MB written in the open transaction, so the file itself is locked to readers
      const reader = new Database(file, { readonly: true, timeout: 0 });
      try {
        expect(() => reader.prepare('SELECT count(*) FROM sqlite_master').get()).toThrow(/database is locked/);
      } finally {
        reader.close();
      }
      const t0 = Date.now();
      const blocked = runCli(dir, ['--json', 'up'], { ...env, SLUICE_LOCK_WAIT: '1' });
      const took = Date.now() - t0;
      expect(blocked.status, blocked.stdout + blocked.stderr).toBe(5);
      expect(JSON.parse(blocked.stdout).error).toMatch(LOCK_MESSAGE);
      expect(JSON.parse(blocked.stdout).error).toContain(`pid ${holder.child.pid}`);
      expect(took).toBeLessThan(5_000);
      // a second deploy waits for the first (longer than its SQLite busy wait, SLUICE_LOCK_TIMEOUT), then finds nothing to do
      second = start(dir, ['--json', 'deploy'], { ...env, SLUICE_LOCK_WAIT: '60', SLUICE_LOCK_TIMEOUT: '2s' });
      // a reader cannot read the file meanwhile (SQLite's rule): after SLUICE_LOCK_TIMEOUT it says who writes it
      // (was: "cannot open SQLite file …: database is locked", as if the file were damaged)
      const statusRun = start(dir, ['status'], { ...env, SLUICE_LOCK_TIMEOUT: '3s' });
      await new Promise((r) => setTimeout(r, 4_000));
      expect(second.child.exitCode, 'the second deploy gave up while the first still ran').toBe(null);
      const read = await statusRun.done;
      expect(read.status, read.stderr).toBe(5);
      expect(read.stderr.trim()).toBe(
        `sluice: SQLite file sqlite:large.sqlite stayed locked by a write for 3s (sluice run pid ${holder.child.pid} on host ${os.hostname()} ("sluice deploy"), since ${JSON.parse(readFileSync(`${file}.sluice-lock.holder`, 'utf8')).since}); run again once it has committed, or raise SLUICE_LOCK_TIMEOUT`,
      );
    } finally {
      writeFileSync(flag, '');
      const r = await holder.done;
      expect(r.status, r.stderr).toBe(0);
    }
    const r2 = await second!.done;
    expect(r2.status, r2.stderr).toBe(0);
    expect(JSON.parse(r2.stdout)).toMatchObject({ status: 'up-to-date', to: tag, revisions: [] });
    expect(shapeOf(file).rows.at(-1)).toBe(tag);
  }, 90_000);

  /** Another process holding a transaction on `file` for `ms` (BEGIN IMMEDIATE: a write; BEGIN + a read: a read); resolves once it holds it. */
  async function appHolding(file: string, kind: 'write' | 'read', ms: number): Promise<ReturnType<typeof spawn>> {
    const hold = kind === 'write' ? "db.exec('BEGIN IMMEDIATE'); db.exec('CREATE TABLE app_busy (id integer)');" : "db.exec('BEGIN'); db.prepare('SELECT count(*) FROM sluice_version').get();";
    const end = kind === 'write' ? 'ROLLBACK' : 'COMMIT';
    const app = spawn(process.execPath, ['-e', `const db = require(${JSON.stringify(path.join(REPO, 'node_modules', 'better-sqlite3'))})(${JSON.stringify(file)}); ${hold} process.stdout.write('held\\n'); setTimeout(() => { db.exec('${end}'); db.close(); }, ${ms});`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => app.stdout!.once('data', () => resolve()));
    return app;
  }

  it("an app holding a write transaction longer than SLUICE_LOCK_TIMEOUT: exit 5, one line (was: 'internal error: database is locked', exit 1); a longer SLUICE_LOCK_TIMEOUT waits it out", async () => {
    const { dir, file, env } = project('busy');
    await upgradeTo(dir, env, '2');
    const app = await appHolding(file, 'write', 6000);
    try {
      const t0 = Date.now();
      const r = runCli(dir, ['up'], { ...env, SLUICE_LOCK_TIMEOUT: '1s' });
      expect(r.status, r.stdout + r.stderr).toBe(5);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/the SQLite database is locked by another connection .*longer than sluice waits \(SLUICE_LOCK_TIMEOUT, default 10s\).*retry when it is done, or raise SLUICE_LOCK_TIMEOUT/);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      app.kill();
    }
    // the app's transaction ends within the wait: up waits for it and applies
    const short = await appHolding(file, 'write', 1500);
    try {
      const r = runCli(dir, ['up'], { ...env, SLUICE_LOCK_TIMEOUT: '20s' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    } finally {
      short.kill();
    }
    expect(shapeOf(file).rows).toHaveLength(4);
    // a value PostgreSQL would not read is refused before anything, as on PostgreSQL
    const bad = runCli(dir, ['status'], { ...env, SLUICE_LOCK_TIMEOUT: 'ten seconds' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('sluice: SLUICE_LOCK_TIMEOUT must be a duration as PostgreSQL reads it (10s, 500ms, 2min; a number alone is milliseconds), not "ten seconds"');
  }, 40_000);

  // a hunt: in rollback-journal mode an app's open read keeps sluice's commit waiting; the group's commit
  // was retried one revision at a time (waiting as long again) and reported as the revision failing, exit 3
  it('an app holding a read transaction (rollback journal) past the busy wait: exit 5, one line, nothing applied (was: "revision … failed", exit 3, after twice the wait)', async () => {
    const { dir, file, env } = project('reading');
    await upgradeTo(dir, env, '1');
    const before = shapeOf(file).rows;
    const app = await appHolding(file, 'read', 6000);
    try {
      const r = runCli(dir, ['up'], { ...env, SLUICE_LOCK_TIMEOUT: '1s' });
      expect(r.status, r.stdout + r.stderr).toBe(5);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/the SQLite database is locked by another connection .*a read, which keeps a commit waiting/);
    } finally {
      app.kill();
    }
    expect(shapeOf(file).rows).toEqual(before);
    await upgradeTo(dir, env);
  }, 40_000);

  it('two paths to one file (a symbolic link) take one lock: the second run waits, then exits 5 (was: it ran the pending revision again)', async () => {
    const { dir, file, env } = project('linked');
    await upgradeTo(dir, env);
    const { tag, release } = heldRevision(dir, 'long');
    const link = path.join(dir, 'link.sqlite');
    symlinkSync(file, link);
    const holder = start(dir, ['up'], env);
    try {
      await waitFor('the holder to start its revision', () => existsSync(`${file}-journal`));
      const blocked = runCli(dir, ['up'], { ...env, DATABASE_URL: `file:${link}`, SLUICE_LOCK_WAIT: '1' });
      expect(blocked.status, blocked.stdout + blocked.stderr).toBe(5);
      expect(blocked.stderr).toMatch(/another sluice run holds the migration lock/);
      expect(blocked.stderr).toContain(`pid ${holder.child.pid}`);
    } finally {
      release();
      const r = await holder.done;
      expect(r.status, r.stderr).toBe(0);
    }
    expect(shapeOf(file).rows.at(-1)).toBe(tag);
  });
});

describe('SQLite: read commands right after a crash', () => {
  it('after kill -9 mid-up, status works at once (no other write in between) and reports a consistent revision', async () => {
    const { dir, file, env } = project('crash');
    // A data migration on a table bigger than SQLite's page cache: the cache spills, so the rollback
    // journal is synced (its header written) and the database file itself is changed mid-transaction.
    // Killed then, the file needs that hot journal rolled back before anyone can read it.
    const rows = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 25000) SELECT x FROM c`;
    const bulk = addRevision(dir, 'sqlite', 'bulk', `CREATE TABLE bulk (id integer PRIMARY KEY, b blob);${BP}INSERT INTO bulk (b) SELECT randomblob(1000) FROM (${rows});`, 'DROP TABLE bulk;');
    const tag = addRevision(dir, 'sqlite', 'crash', ['CREATE TABLE crash_a (id integer);', 'UPDATE bulk SET b = randomblob(1000);', slow(60_000_000), 'CREATE TABLE crash_b (id integer);'].join(BP), `DROP TABLE crash_b;${BP}DROP TABLE crash_a;`);
    const history: [string, string[]][] = [...EXAMPLE, [bulk, ['bulk']], [tag, ['crash_a', 'crash_b']]];
    await upgradeTo(dir, env, bulk);
    const journal = `${file}-journal`;
    /** The journal's header is written (synced): SQLite treats it as hot. */
    const hot = () => {
      try {
        return readFileSync(journal).subarray(0, 8).toString('hex') === 'd9d505f920a163d7';
      } catch {
        return false;
      }
    };
    const crash = async () => {
      const run = start(dir, ['up'], env);
      await waitFor('the revision to spill into the database file', hot, 30_000);
      await new Promise((r) => setTimeout(r, 100));
      run.child.kill('SIGKILL');
      await run.done;
      expect(hot()).toBe(true);
    };
    for (let round = 0; round < 3; round++) {
      await crash();
      const st = runCli(dir, ['--json', 'status'], env); // the first thing to touch the file after the crash
      expect(st.status, `round ${round}: ${st.stderr}${st.stdout}`).toBe(0);
      expect(JSON.parse(st.stdout)).toMatchObject({ current: bulk, pending: [tag] });
      expect(existsSync(journal)).toBe(false); // rolled back by the read
      const h = runCli(dir, ['history'], env);
      expect(h.status, h.stderr).toBe(0);
      expectSerialState(file, history, [5], `round ${round}`);
    }

    // a file that cannot be written cannot be rolled back: one clear line, file unchanged
    await crash();
    const root = process.getuid?.() === 0;
    if (root) {
      const r = spawnSync('chattr', ['+i', file], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cannot make ${file} read-only for root (chattr +i: ${r.stderr.trim()})`);
    } else chmodSync(file, 0o444);
    try {
      const st = runCli(dir, ['status'], env);
      expect(st.status, st.stderr).toBe(5);
      expect(st.stderr.trim()).toMatch(/^sluice: SQLite file sqlite:crash\.sqlite has an unfinished transaction .*crash\.sqlite-journal.*not writable.*$/);
      expect(hot()).toBe(true);
    } finally {
      if (root) spawnSync('chattr', ['-i', file]);
      else chmodSync(file, 0o644);
    }
    const st = runCli(dir, ['--json', 'status'], env);
    expect(st.status, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout).current).toBe(bulk);

    // and the next run completes (the pending revision without the statement that only kept it running)
    const pendingFile = path.join(dir, 'drizzle', 'sqlite', `${tag}.sql`);
    writeFileSync(pendingFile, readFileSync(pendingFile, 'utf8').replace(`${slow(60_000_000)}${BP}`, ''));
    const next = runCli(dir, ['up'], env);
    expect(next.status, next.stderr).toBe(0);
    expectSerialState(file, history, [6], 'after the crashes');
  });

  it('a read-only database: status reads it, up is refused with the usual message, and no lock file appears', async () => {
    const { dir, file, env } = project('ro');
    await upgradeTo(dir, env, '1');
    rmSync(`${file}.sluice-lock`, { force: true }); // no run is going: the empty lock file may go
    const root = process.getuid?.() === 0;
    if (root) {
      const r = spawnSync('chattr', ['+i', file], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cannot make ${file} read-only for root (chattr +i: ${r.stderr.trim()})`);
    } else chmodSync(file, 0o444);
    try {
      const st = runCli(dir, ['--json', 'status'], env);
      expect(st.status, st.stderr).toBe(0);
      expect(JSON.parse(st.stdout).current).toBe('0001_add_audits');
      const up = runCli(dir, ['up'], env);
      expect(up.status, up.stderr).toBe(5);
      expect(up.stderr.trim()).toBe('sluice: SQLite file sqlite:ro.sqlite is not writable; check its permissions');
    } finally {
      if (root) spawnSync('chattr', ['-i', file]);
      else chmodSync(file, 0o644);
    }
    expect(existsSync(`${file}.sluice-lock`)).toBe(false); // the refused run created nothing
  });
});

describe('SQLite: a revision of its own PRAGMAs', () => {
  // found by a hunt: a no-transaction revision with `PRAGMA foreign_keys=OFF` and no `=ON` left them off
  // for every later revision of the run, whose ON DELETE CASCADE then did not fire (orphans, exit 0)
  it('foreign keys a no-transaction revision turns off are back on for the next revision of the run', async () => {
    const { dir, file, env } = project('fkleak');
    await upgradeTo(dir, env);
    const db = new Database(file);
    db.exec("INSERT INTO users (id, email) VALUES (1, 'a@x'), (2, 'b@x'); INSERT INTO sessions (id, user_id, expires_at) VALUES ('s1', 1, 1), ('s2', 2, 1)");
    db.close();
    addRevision(dir, 'sqlite', 'fk_off', `-- sluice:no-transaction\nPRAGMA foreign_keys=OFF;${BP}CREATE INDEX sessions_exp_idx ON sessions (expires_at);`, 'DROP INDEX sessions_exp_idx;');
    addRevision(dir, 'sqlite', 'drop_user', 'DELETE FROM users WHERE id = 2;', "INSERT INTO users (id, email) VALUES (2, 'b@x');");
    const up = runCli(dir, ['up'], env);
    expect(up.status, up.stdout + up.stderr).toBe(0);
    const after = new Database(file, { readonly: true });
    try {
      expect(after.prepare('SELECT id FROM sessions ORDER BY id').all()).toEqual([{ id: 's1' }]);
      expect(after.pragma('foreign_key_check')).toEqual([]);
    } finally {
      after.close();
    }
  });

  // found by a hunt: the older order of a rebuild (rename the table away, create it again, copy, drop the
  // renamed one), written without PRAGMAs, ran with foreign keys on: SQLite moved the children's keys to
  // users_old with the rename, and its DROP deleted every child row by cascade, "applied", exit 0
  it('a rebuild that renames the old table away first is run as a rebuild: the keys it breaks fail it, the child rows kept', async () => {
    const { dir, file, env } = project('renamefirst');
    await upgradeTo(dir, env);
    const db = new Database(file);
    db.exec("INSERT INTO users (id, email) VALUES (1, 'a@x'), (2, 'b@x'); INSERT INTO sessions (id, user_id, expires_at) VALUES ('s1', 1, 1), ('s2', 2, 1)");
    db.close();
    const tag = addRevision(
      dir,
      'sqlite',
      'rename_first',
      ['ALTER TABLE users RENAME TO users_old;', 'CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, name text, phone text, role text, extra text);', 'INSERT INTO users (id, email, name, phone, role) SELECT id, email, name, phone, role FROM users_old;', 'DROP TABLE users_old;'].join(BP),
      'SELECT 1;',
    );
    const up = runCli(dir, ['up'], env);
    expect(up.status, up.stdout + up.stderr).toBe(3);
    expect(up.stderr).toMatch(new RegExp(`revision ${tag} \\(up\\) failed.*reference missing parents \\(sessions -> users_old.*table users_old no longer exists: SQLite moved those foreign keys to it`));
    const after = new Database(file, { readonly: true });
    try {
      expect(after.prepare('SELECT id FROM sessions ORDER BY id').all()).toEqual([{ id: 's1' }, { id: 's2' }]);
      expect(after.prepare('SELECT sql FROM sqlite_master WHERE name = ?').get('sessions')).toMatchObject({ sql: expect.stringMatching(/REFERENCES [`"]?users[`"]?\s*\(/) });
    } finally {
      after.close();
    }
    // with no child row, the key left naming users_old fails it too (a review: "applied", exit 0, and the
    // next insert into sessions failed on "no such table: main.users_old")
    const empty = new Database(file);
    empty.exec('DELETE FROM sessions');
    empty.close();
    const again = runCli(dir, ['up'], env);
    expect(again.status, again.stdout + again.stderr).toBe(3);
    expect(again.stderr).toMatch(/foreign key check failed after the table rebuild: foreign key\(s\) (?:audits -> users_old, )?sessions -> users_old name a table that no longer exists; table users_old no longer exists/);
  });
});
