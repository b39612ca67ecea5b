/** Temp copies of this project (the example app) for tests, and helpers to run the CLI and make. */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { pgBinDir } from '../../dist/pgcluster.js';

export const REPO = path.resolve(import.meta.dirname, '../..');

const COPY = ['drizzle.config.ts', 'models', 'drizzle', 'Makefile', 'package.json', 'package-lock.json', 'tsconfig.json', 'src', 'scripts', 'dist', 'docker'];

/**
 * A temp folder removed when the test file that made it ends (a project copy is ~2 MB, and a day of runs
 * left thousands in /tmp). SLUICE_KEEP_TEST_DIRS=1 keeps them, to look at after a failure.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
const made: string[] = [];
afterAll(() => {
  if (process.env.SLUICE_KEEP_TEST_DIRS === '1') return;
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * The project's folders a copy links to instead of copying: the program (dist/, 5.6 MB, and the src/ it
 * is built from), which no test changes through a project. Copying them was ~160 ms of CPU a project,
 * for ~400 projects a run. `ownProgram`: real copies, for a test that changes them or needs its caches
 * beside them (the V8 cache goes to the node_modules nearest the bin's real path).
 */
const LINKED = new Set(['src', 'dist']);

/** A copy of the project in a temp folder (timestamps kept so make sees it installed and built; node_modules linked). */
export function makeProject(options: { withoutHistory?: boolean; ownProgram?: boolean } = {}): string {
  const dir = tempDir('sluice-proj-');
  for (const name of COPY) {
    if (options.withoutHistory && name === 'drizzle') continue;
    if (LINKED.has(name) && !options.ownProgram) symlinkSync(path.join(REPO, name), path.join(dir, name));
    else cpSync(path.join(REPO, name), path.join(dir, name), { recursive: true, preserveTimestamps: true });
  }
  symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  // The copy shares this checkout's node_modules: make must never reinstall through that link, so the
  // manifests are dated before the install stamp whatever their mtimes in the checkout.
  const old = new Date(0);
  for (const f of ['package.json', 'package-lock.json']) utimesSync(path.join(dir, f), old, old);
  return dir;
}

/** makeProject with a node_modules of its own (links to the repository's packages), so sluice's caches are the project's alone. */
export function makeProjectWithOwnCache(): string {
  const dir = makeProject({ ownProgram: true });
  rmSync(path.join(dir, 'node_modules'));
  mkdirSync(path.join(dir, 'node_modules'));
  for (const name of readdirSync(path.join(REPO, 'node_modules'))) {
    if (name !== '.cache') symlinkSync(path.join(REPO, 'node_modules', name), path.join(dir, 'node_modules', name));
  }
  return dir;
}

/**
 * The URL of this test file's own database in the suite's cluster (made on first use, dropped when the
 * file ends). A database per file keeps each one's catalogs small: the suite makes a schema or more
 * for each PostgreSQL test, hundreds in all, and in one shared database every pg_dump and catalog read
 * late in the run walked all of them (a drift check by hand: 1.0 s on an empty database, 3.5 s beside
 * 3000 schemas). '' when PostgreSQL is skipped.
 */
export function pgUrl(): string {
  const base = inject('pgUrl');
  if (!base) return base;
  fileDatabase ??= makeFileDatabase(base);
  return fileDatabase;
}
let fileDatabase: string | undefined;

function makeFileDatabase(base: string): string {
  const name = `file_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  // synchronous (pgUrl is called while tests are collected, outside any hook): psql, from the same installation as the server
  const r = spawnSync(path.join(pgBinDir(), 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', base, '-c', `CREATE DATABASE "${name}"`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the test file's database could not be made in the suite's PostgreSQL: ${(r.stderr || String(r.error)).trim()}`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}
afterAll(async () => {
  if (!fileDatabase) return;
  const url = fileDatabase;
  const name = new URL(url).pathname.slice(1);
  fileDatabase = undefined;
  const admin = new pg.Client({ connectionString: inject('pgUrl') });
  await admin.connect();
  try {
    // a test that failed between PREPARE TRANSACTION and its ROLLBACK PREPARED left one behind: FORCE does not end those
    const prepared = await admin.query<{ gid: string }>('SELECT gid FROM pg_catalog.pg_prepared_xacts WHERE database = $1', [name]);
    if (prepared.rows.length) {
      const own = new pg.Client({ connectionString: url });
      await own.connect();
      for (const { gid } of prepared.rows) await own.query(`ROLLBACK PREPARED '${gid.replace(/'/g, "''")}'`);
      await own.end();
    }
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
});

let counter = 0;
export function uniqueSchema(prefix = 't'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}_${Math.floor(Math.random() * 1e6)}`;
}

/** A PostgreSQL database of the test's own in the suite's cluster, dropped when the test file ends; its URL. */
const databases: string[] = [];
export async function freshDatabase(prefix = 'db'): Promise<string> {
  const name = uniqueSchema(prefix);
  const admin = new pg.Client({ connectionString: inject('pgUrl') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  databases.push(name);
  const u = new URL(inject('pgUrl'));
  u.pathname = `/${name}`;
  return u.toString();
}
afterAll(async () => {
  if (!databases.length) return;
  const admin = new pg.Client({ connectionString: inject('pgUrl') });
  await admin.connect();
  for (const d of databases.splice(0)) await admin.query(`DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`).catch(() => {});
  await admin.end();
});

export type Env = Record<string, string | undefined>;

/** Environments for each dialect the tests run on. */
export function dialectEnvs(dir: string): { name: 'sqlite' | 'postgresql'; env: Env }[] {
  const list: { name: 'sqlite' | 'postgresql'; env: Env }[] = [{ name: 'sqlite', env: { DATABASE_URL: `file:${path.join(dir, 'test.sqlite')}` } }];
  list.push({ name: 'postgresql', env: { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema() } });
  return list;
}

/**
 * The environment of a sluice child process. Down verification (migrate-create, migrate-downs,
 * migrate-merge) runs on the suite's real PostgreSQL 15 (SLUICE_CHECK_DATABASE_URL), never on the
 * embedded engine, unless a test sets SLUICE_CHECK_DATABASE_URL itself ('' = the embedded engine).
 */
export function cleanEnv(extra: Env = {}): Env {
  let base: string | undefined;
  try {
    base = inject('pgUrl');
  } catch {
    base = undefined; // outside a vitest worker
  }
  // the test file's database: its scratch schemas are looked for there (a failure to make it is the test's)
  const check = base ? pgUrl() : undefined;
  // SHLVL as a login shell's children have it. Without it, a bash whose stdin is a socket (Node's
  // 'pipe' stdio is a socketpair) takes itself for one started by sshd and reads ~/.bashrc, which
  // on these machines runs `pyenv init` (~0.4 s for every recipe line make runs).
  const env: Env = { PATH: process.env.PATH, HOME: process.env.HOME, SHLVL: '1', NO_COLOR: '1', SLUICE_CHECK_DATABASE_URL: check, ...extra };
  return env;
}

export interface Ran {
  status: number;
  stdout: string;
  stderr: string;
}

export function runCli(cwd: string, args: string[], env: Env = {}): Ran {
  const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), ...args], { cwd, env: cleanEnv(env) as NodeJS.ProcessEnv, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A test's set-up and read-back through sluice's library, in this process (dist/index.js: the functions
 * the CLI calls, with the environment a CLI child gets), where what the test asserts is not the CLI's
 * own output: a CLI process costs ~0.3 s of CPU (node's start, the bundle, the config), the call
 * ~0.05 s, and the suite made ~500 such calls. A failure throws, naming what failed.
 */
export async function upgradeTo(dir: string, env: Env, revision = 'head', options: LibraryMoveOptions = {}) {
  const { upgrade } = await import('../../dist/index.js');
  return upgrade({ cwd: dir, env: cleanEnv(env), revision, ...options });
}
export async function downgradeTo(dir: string, env: Env, revision = '-1', options: LibraryMoveOptions = {}) {
  const { downgrade } = await import('../../dist/index.js');
  return downgrade({ cwd: dir, env: cleanEnv(env), revision, ...options });
}
export async function stampTo(dir: string, env: Env, revision: string) {
  const { stamp } = await import('../../dist/index.js');
  return stamp({ cwd: dir, env: cleanEnv(env), revision });
}
export async function statusOf(dir: string, env: Env) {
  const { status } = await import('../../dist/index.js');
  return status({ cwd: dir, env: cleanEnv(env) });
}
type LibraryMoveOptions = { singleTransaction?: boolean; noBackup?: boolean; allowChanged?: boolean; onWarning?: (warning: string, dryRun: boolean) => void };

/**
 * The CLI run as another user (nobody, through setpriv; the suite runs as root), for what root may do
 * and a user may not. `openToOthers(dir)` first: the project (a test's temporary copy) open to that
 * user, and this checkout's dist, node_modules and package.json readable by it (as a umask of 022
 * leaves them). The folders above them are searchable for the whole run (others-global.ts); nothing
 * else changes (a chmod -R of the system's temporary folder opened every folder there, and a
 * PostgreSQL data folder then refused to start).
 */
export function openToOthers(dir: string): void {
  if (process.getuid?.() !== 0) throw new Error('running the CLI as another user needs root (setpriv); run the suite as root (CI does)');
  for (const args of [['-R', 'a+rwX', dir], ['-R', 'a+rX', path.join(REPO, 'dist'), path.join(REPO, 'node_modules'), path.join(REPO, 'package.json')]]) {
    const r = spawnSync('chmod', args, { encoding: 'utf8' });
    // other test files write node_modules/.cache at the same time: a temporary file renamed away
    // while chmod walks the folder is no failure (seen in CI: ".../parsed/pack-….json.2144-e1c5…")
    const failures = r.stderr.split('\n').filter((line) => line && !/^chmod: cannot access '.*\/\.cache\/.*': No such file or directory$/.test(line));
    if (r.status !== 0 && failures.length > 0) throw new Error(`chmod ${args.join(' ')}: ${r.stderr}`);
  }
}

export function runCliAsNobody(cwd: string, args: string[], env: Env = {}): Ran {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(REPO, 'dist', 'cli.cjs'), ...args], {
    cwd,
    env: cleanEnv(env) as NodeJS.ProcessEnv,
    encoding: 'utf8',
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function runMake(cwd: string, args: string[], env: Env = {}): Ran {
  const r = spawnSync('make', ['--no-print-directory', ...args], { cwd, env: cleanEnv(env) as NodeJS.ProcessEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A connection to the database `env` names, through sluice's own code. Imported when first used: every
 * test file imports this one, and loading dist/config.js and dist/scratch.js with it (~1 s of a worker's
 * CPU, transform and import) was spent in each of the ~77 files, most of which never call these.
 */
async function connect(dir: string, env: Env, write: boolean) {
  const [{ openConnection }, { parseDatabaseTarget }] = await Promise.all([import('../../dist/dialect/index.js'), import('../../dist/config.js')]);
  return openConnection(parseDatabaseTarget(env, dir), { write, env });
}

/** The app schema of the database `env` names (pg_dump --schema-only -n, or SQLite's structure). */
export async function dumpSchema(dir: string, env: Env): Promise<string> {
  const conn = await connect(dir, env, false);
  try {
    return await conn.dumpSchema();
  } finally {
    await conn.close();
  }
}

export async function sql<T = Record<string, unknown>>(dir: string, env: Env, text: string, params: unknown[] = []): Promise<T[]> {
  const conn = await connect(dir, env, true);
  try {
    return await conn.query<T>(text, params);
  } finally {
    await conn.close();
  }
}

/** Add a column to the users table in both model files (what a developer does before migrate-create). */
export function addUserColumn(dir: string, column: string): void {
  for (const [file, def] of [
    ['models/postgres.ts', `  ${column}: text('${column}'),\n`],
    ['models/sqlite.ts', `  ${column}: text('${column}'),\n`],
  ] as const) {
    const p = path.join(dir, file);
    const src = readFileSync(p, 'utf8');
    writeFileSync(p, src.replace("  name: text('name'),\n", `  name: text('name'),\n${def}`));
  }
}

/** Append a hand-written revision to a dialect's history (journal entry, snapshot copy, up and down files). */
export function addRevision(dir: string, dialect: 'sqlite' | 'postgresql', name: string, up: string, down: string | null): string {
  const folder = path.join(dir, 'drizzle', dialect);
  const journalPath = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
  const idx = journal.entries.length;
  const num = String(idx).padStart(4, '0');
  const tag = `${num}_${name}`;
  journal.entries.push({ idx, version: journal.entries[0]?.version ?? '7', when: Date.now(), tag, breakpoints: true });
  writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  const prevSnap = path.join(folder, 'meta', `${String(idx - 1).padStart(4, '0')}_snapshot.json`);
  cpSync(prevSnap, path.join(folder, 'meta', `${num}_snapshot.json`));
  writeFileSync(path.join(folder, `${tag}.sql`), up);
  if (down !== null) writeFileSync(path.join(folder, `${tag}.down.sql`), down);
  return tag;
}

/**
 * SLUICE_SKIP_PG=1 is the explicit opt-out (the global setup prints a banner): PostgreSQL tests are
 * then reported as skipped. Without it they always run, and the suite fails if PostgreSQL cannot start.
 */
export const SKIP_PG = process.env.SLUICE_SKIP_PG === '1';
export const pgDescribe = describe.skipIf(SKIP_PG);
export const describeFor = (dialect: 'sqlite' | 'postgresql') => (dialect === 'postgresql' ? describe.skipIf(SKIP_PG) : describe);
export const itFor = (dialect: 'sqlite' | 'postgresql') => (dialect === 'postgresql' ? it.skipIf(SKIP_PG) : it);

/** A refused command: the exit code, exactly one line on stderr starting `sluice: `, no internal error, matching `pattern`. */
export function expectOneLineError(r: Ran, code: number, pattern: RegExp): void {
  expect(r.status, r.stdout + r.stderr).toBe(code);
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^sluice: /);
  expect(lines[0]).not.toMatch(/internal error/);
  expect(lines[0]).toMatch(pattern);
}

/**
 * A PostgreSQL scratch database on the embedded engine (PGlite) made for the project at `root` with
 * TMPDIR set to `tmpdir` (where its template is kept when no node_modules is above `root`): it
 * answers a query, and closing it leaves nothing behind. TMPDIR is put back afterwards.
 */
export async function embeddedScratchWorks(root: string, tmpdir: string): Promise<void> {
  const before = process.env.TMPDIR;
  process.env.TMPDIR = tmpdir;
  try {
    const { openScratch } = await import('../../dist/scratch.js');
    const scratch = await openScratch(root, 'postgresql', { SLUICE_CHECK_DATABASE_URL: '' });
    const c = await (await scratch.make('real')).open();
    expect(await c.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await c.close();
    expect(await scratch.close()).toEqual([]);
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
}
