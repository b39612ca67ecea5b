/**
 * The hostile battery's machinery (issue 13): case objects, their context, the runner that checks
 * every case, and the battery's figures (database snapshots and the serial-order model: hostile-db.ts).
 *
 * Every case runs the real CLI (dist/cli.cjs of a project copy, or make) as a child process against a
 * real SQLite file or a schema of the suite's PostgreSQL 15. Cases share one project copy: each gets
 * its own copy of its dialect's history folder and a plain `.mjs` config naming it (SLUICE_CONFIG; a
 * TypeScript config would be compiled again for every distinct DATABASE_URL), its own SQLite file or
 * schema, and is free to edit its folder. PostgreSQL URLs carry a password (the test cluster trusts
 * local connections, so it is never checked) whose marker must never appear in any output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { ExpectStatic } from 'vitest';
import { makeProject, pgUrl, REPO, uniqueSchema, type Env } from '../support/project.js';
import { changes, dbQuery, dropEscapes, outcomeOf, ownDatabase, serialStates, shape, stateKey, stateOf, type Shape, type State } from './hostile-db.js';

export type Dialect = 'sqlite' | 'postgresql';
export type Category = 'files' | 'messages' | 'env' | 'targets' | 'concurrency' | 'kill';
export const CATEGORIES: Category[] = ['files', 'messages', 'env', 'targets', 'concurrency', 'kill'];
export const BP = '\n--> statement-breakpoint\n';
export const HEAD = '0003_add_phone_to_users';
/** What each revision of the example history creates (both dialects): tables, and `table.column` for added columns. */
export const EXAMPLE: string[][] = [['users', 'submissions'], ['audits'], ['sessions', 'users.role'], ['users.phone']];

/** A password full of URL-special characters around a marker no legitimate output holds. */
export const MARKER = 'Hx7Qp';
export const PW = `${MARKER}-s3cr3t@:/?#%&+= x'y`;

/** The suite's PostgreSQL as its superuser, with a password (userinfo or ?password=, percent-encoded). */
export function pwUrl(options: { password?: string; where?: 'userinfo' | 'query'; database?: string } = {}): string {
  const u = new URL(pgUrl());
  const db = options.database ? `/${options.database}` : u.pathname;
  const pw = encodeURIComponent(options.password ?? PW);
  return options.where === 'query' ? `postgres://${u.username}@${u.host}${db}?password=${pw}` : `postgres://${u.username}:${pw}@${u.host}${db}`;
}

export interface Ran {
  args: string[];
  via: 'cli' | 'make';
  status: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}
export interface Started {
  child: ChildProcess;
  done: Promise<Ran>;
}
export interface RunOptions {
  env?: Env;
  via?: 'cli' | 'make';
  timeoutMs?: number;
  cwd?: string;
}

export interface Ctx {
  c: Case;
  /** Short unique token: object names a case may leave in public start with `hx_<token>`. */
  token: string;
  dialect: Dialect;
  root: string;
  /** This case's own folder (config, SQLite file, scratch files). */
  dir: string;
  /** This case's history folder (a copy of drizzle/<dialect>). */
  folder: string;
  env: Env;
  schema?: string;
  /** PostgreSQL: the case's own database when `Case.ownDatabase` (else the suite's). */
  database?: string;
  file?: string;
  /** Objects of each revision of this case's history (for serial-state checks). */
  model: string[][];
  rng: () => number;
  runs: Ran[];
  cli(args: string[], options?: RunOptions): Promise<Ran>;
  start(args: string[], options?: RunOptions): Started;
  addRevision(name: string, up: string | Buffer, down: string | Buffer | null, objects?: string[]): string;
  journal(): { entries: { idx: number; tag: string; when: number; version?: string; breakpoints?: boolean }[]; [k: string]: unknown };
  writeJournal(j: unknown): void;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface SerialSpec {
  /** The arguments each main run was started with (same order as the runs `run` returns). */
  commands: string[][];
}

export interface Expect {
  /** Allowed exit code(s) of every main run, or per run. */
  exit: number | number[];
  exits?: (number | number[])[];
  /** The one stderr line of a run that did not exit 0. */
  line?: RegExp;
  /** A refusal: the structural snapshot after equals the one before. */
  unchanged?: boolean;
  /** stderr may hold more than one line (--verbose prints stack traces). */
  manyLines?: boolean;
  /** Strings that must not appear in any output, besides the password marker. */
  secrets?: string[];
  /** Sample every process's argv while the case runs; none may hold the marker, and one of these must be seen. */
  watchArgv?: RegExp;
  serial?: SerialSpec;
  after?: (ctx: Ctx, runs: Ran[], expect: ExpectStatic, shapes: { before: Shape; after: Shape }) => Promise<void> | void;
}

export interface Case {
  name: string;
  category: Category;
  dialect: Dialect;
  /** Where the database stands before setup: head (default, with two user rows), a revision number, base (version table only), none. */
  start?: 'head' | 'base' | 'none' | number;
  /** Needs its own project copy (runs generation or make with its own files). */
  project?: () => string;
  /** PostgreSQL: run in a database of its own (its SQL may create objects in public, which other suites expect empty). */
  ownDatabase?: boolean;
  setup?: (ctx: Ctx) => Promise<void> | void;
  run: (ctx: Ctx) => Promise<Ran | Ran[]>;
  expect: Expect;
}

// ---------------------------------------------------------------- figures

export const tally = {
  cases: 0,
  byCategory: Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>,
  rowsChangedByRefusals: 0,
  internalErrors: 0,
  passwordsSeen: 0,
  nonSerial: 0,
  runs: 0,
  notes: [] as string[],
};

export const SEED = Number(process.env.HOSTILE_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Each case's random moments: from the seed and the case's title, whatever order cases run in. */
const seedFor = (title: string) => [...title].reduce((h, ch) => (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0, SEED >>> 0);
/** mulberry32: reproducible with HOSTILE_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- shared resources

/**
 * A project copy (support/project.ts) whose dist/ is a complete build: the CLI runs from the copy's
 * dist, so a rebuild of the checkout's during the battery cannot change the program under test.
 */
export function projectCopy(): string {
  const built = path.join(REPO, 'dist', '.built');
  for (let waited = 0; !existsSync(built); waited += 200) {
    if (waited > 120_000) throw new Error('dist/ has no complete build (dist/.built); run npm run build');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
  const dir = makeProject({ ownProgram: true });
  copies.push(dir);
  if (!existsSync(path.join(dir, 'dist', '.built'))) throw new Error('dist/ changed while it was copied; run again');
  return dir;
}
const copies: string[] = [];
/** Remove the battery's project copies and scratch folders (HOSTILE_KEEP=1 keeps them to look at). */
export function removeCopies(): void {
  if (process.env.HOSTILE_KEEP === '1') return;
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
}
let shared: string | undefined;
export const sharedProject = (): string => (shared ??= projectCopy());

// ---------------------------------------------------------------- context

let caseCounter = 0;

export function makeCtx(c: Case): Ctx {
  caseCounter += 1;
  const token = `c${caseCounter}`;
  const root = c.project ? c.project() : sharedProject();
  const dir = path.join(root, 'hostile', `${token}_${c.name.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 40)}`);
  mkdirSync(dir, { recursive: true });
  const folder = c.project ? path.join(root, 'drizzle', c.dialect) : path.join(dir, c.dialect);
  const env: Env = { SLUICE_NO_BACKUP: '1', SLUICE_NO_CONFIG_CACHE: '1' };
  if (!c.project) {
    cpSync(path.join(root, 'drizzle', c.dialect), folder, { recursive: true });
    const config = path.join(dir, 'sluice.config.mjs');
    const models = c.dialect === 'sqlite' ? './models/sqlite.ts' : './models/postgres.ts';
    writeFileSync(config, `export const dialects = { ${c.dialect}: { schema: ${JSON.stringify(models)}, out: ${JSON.stringify(folder)} } };\n`);
    env.SLUICE_CONFIG = config;
  }
  let schema: string | undefined;
  let file: string | undefined;
  if (c.dialect === 'sqlite') {
    file = path.join(dir, 'db.sqlite');
    env.DATABASE_URL = `file:${file}`;
  } else {
    schema = uniqueSchema(`hx_${token}`);
    env.DATABASE_URL = pwUrl({ database: c.ownDatabase ? schema : undefined });
    env.DATABASE_SCHEMA = schema;
  }
  const runs: Ran[] = [];
  const ctx: Ctx = {
    c,
    token,
    dialect: c.dialect,
    root,
    dir,
    folder,
    env,
    schema,
    database: c.dialect === 'postgresql' && c.ownDatabase ? schema : undefined,
    file,
    model: EXAMPLE.map((o) => [...o]),
    rng: prng(seedFor(`${c.category} ${c.dialect} ${c.name}`)),
    runs,
    start: (args, options = {}) => startRun(ctx, args, options),
    cli: (args, options = {}) => startRun(ctx, args, options).done,
    addRevision: (name, up, down, objects = []) => {
      const j = ctx.journal();
      const idx = j.entries.length;
      const num = String(idx).padStart(4, '0');
      const tag = `${num}_${name}`;
      j.entries.push({ idx, version: j.entries[0]?.version ?? '7', when: Date.now(), tag, breakpoints: true });
      ctx.writeJournal(j);
      cpSync(path.join(folder, 'meta', `${String(idx - 1).padStart(4, '0')}_snapshot.json`), path.join(folder, 'meta', `${num}_snapshot.json`));
      writeFileSync(path.join(folder, `${tag}.sql`), up);
      if (down !== null) writeFileSync(path.join(folder, `${tag}.down.sql`), down);
      ctx.model.push(objects);
      return tag;
    },
    journal: () => JSON.parse(readFileSync(path.join(folder, 'meta', '_journal.json'), 'utf8')),
    writeJournal: (j) => writeFileSync(path.join(folder, 'meta', '_journal.json'), typeof j === 'string' ? j : JSON.stringify(j, null, 2)),
    query: <T>(sql: string, params: unknown[] = []) => dbQuery<T>(ctx, sql, params),
  };
  return ctx;
}

function startRun(ctx: Ctx, args: string[], options: RunOptions): Started {
  const via = options.via ?? 'cli';
  const merged: Env = { PATH: process.env.PATH, HOME: process.env.HOME, SHLVL: '1', NO_COLOR: '1', ...ctx.env, ...options.env };
  const env = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  // the project copy's dist: one build for the whole battery, whatever happens to the checkout's meanwhile
  const [cmd, argv] = via === 'make' ? ['make', ['--no-print-directory', ...args]] : [process.execPath, [path.join(ctx.root, 'dist', 'cli.cjs'), ...args]];
  const began = Date.now();
  const child = spawn(cmd, argv, { cwd: options.cwd ?? ctx.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout!.on('data', (b) => (stdout += b));
  child.stderr!.on('data', (b) => (stderr += b));
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 60_000);
  const done = new Promise<Ran>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const r: Ran = { args, via, status: code ?? -1, signal, stdout, stderr, ms: Date.now() - began, timedOut };
      ctx.runs.push(r);
      resolve(r);
    }),
  );
  return { child, done };
}

// ---------------------------------------------------------------- argv watcher

/** Samples every process's argv (every ~3 ms) until stopped: argvs holding the marker, and those matching `seen`. */
export async function watchArgv(seen: RegExp): Promise<{ stop: () => Promise<{ leaks: string[]; seen: string[] }> }> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'sluice-hx-argv-'));
  copies.push(scratch);
  const out = path.join(scratch, 'argv.log');
  const script = `
    const fs = require('node:fs');
    const { WATCH_MARKER: marker, WATCH_OUT: out, WATCH_SEEN: seenRe } = process.env;
    const self = String(process.pid), seen = new Set(), re = new RegExp(seenRe), nap = new Int32Array(new SharedArrayBuffer(4));
    process.stdout.write('ready\\n');
    for (;;) {
      for (const pid of fs.readdirSync('/proc')) {
        if (!/^\\d+$/.test(pid) || pid === self) continue;
        let argv;
        try { argv = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8'); } catch { continue; }
        if (!argv) continue;
        const shown = argv.split('\\0').join(' ').trim();
        const k = pid + ' ' + shown;
        if (seen.has(k)) continue;
        if (argv.includes(marker)) { seen.add(k); fs.appendFileSync(out, 'LEAK ' + shown + '\\n'); }
        else if (re.test(argv.split('\\0')[0].split('/').pop())) { seen.add(k); fs.appendFileSync(out, 'SEEN ' + shown + '\\n'); }
      }
      Atomics.wait(nap, 0, 0, 3);
    }`;
  const child = spawn(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH, WATCH_MARKER: MARKER, WATCH_OUT: out, WATCH_SEEN: seen.source },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('error', reject);
  });
  return {
    stop: async () => {
      await new Promise((r) => setTimeout(r, 50));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      const lines = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [];
      return { leaks: lines.filter((l) => l.startsWith('LEAK ')), seen: lines.filter((l) => l.startsWith('SEEN ')) };
    },
  };
}

// ---------------------------------------------------------------- the runner

/** The lines of stderr that are sluice's (npm's notices and make's own closing line aside). */
export function stderrLines(r: Ran): string[] {
  return r.stderr.split('\n').filter((l) => l.trim() !== '' && !/^npm (warn|notice)/.test(l) && !(r.via === 'make' && /^make(\[\d+\])?: \*\*\* /.test(l)));
}
/** Exit 1 or the words "internal error" (a stack trace without --verbose fails the one-line check instead). */
const internal = (r: Ran) => r.status === 1 || /internal error/i.test(r.stdout + r.stderr);
const shown = (r: Ran) => `${r.via} ${JSON.stringify(r.args).slice(0, 300)} → exit ${r.status}${r.signal ? ` (${r.signal})` : ''}${r.timedOut ? ' TIMED OUT' : ''} in ${r.ms} ms\n--- stdout\n${r.stdout.slice(0, 2000)}\n--- stderr\n${r.stderr.slice(0, 2000)}`;
const allowed = (code: number | number[]) => (Array.isArray(code) ? code : [code]);

const USERS = "INSERT INTO users (email, name) VALUES ('hx1@example.com', 'one'), ('hx2@example.com', 'two')";
/** The build under test as a library (in process: no CLI start-up). */
const library = (root: string) => import(pathToFileURL(path.join(root, 'dist', 'index.js')).href) as Promise<typeof import('../../dist/index.js')>;

/**
 * SQLite files sluice migrated to a revision (two user rows added), made once per revision and copied
 * for each case: a file is what sluice left in it, so a copy starts every case from the same bytes.
 */
const templates = new Map<string, Promise<string>>();
function sqliteTemplate(revision: string): Promise<string> {
  let t = templates.get(revision);
  if (!t) {
    t = (async () => {
      const root = sharedProject();
      const dir = path.join(root, 'hostile', `template_${revision}`);
      mkdirSync(dir, { recursive: true });
      const config = path.join(dir, 'sluice.config.mjs');
      writeFileSync(config, `export const dialects = { sqlite: { schema: './models/sqlite.ts', out: ${JSON.stringify(path.join(root, 'drizzle', 'sqlite'))} } };\n`);
      const file = path.join(dir, 'db.sqlite');
      await (await library(root)).upgrade({ cwd: root, env: { DATABASE_URL: `file:${file}`, SLUICE_CONFIG: config, SLUICE_NO_BACKUP: '1' }, revision });
      const db = new Database(file);
      db.exec(USERS);
      db.close();
      return file;
    })();
    templates.set(revision, t);
  }
  return t;
}

async function baseline(ctx: Ctx, start: Case['start']): Promise<void> {
  if (start === 'none') return;
  const revision = start === undefined || start === 'head' ? 'head' : start === 'base' ? 'base' : String(start);
  if (revision === 'base' || ctx.c.project) {
    // a project of its own has the TypeScript config: through the CLI, like a user
    const r = await ctx.cli(revision === 'base' ? ['stamp', 'base'] : ['up', revision]);
    if (r.status !== 0) throw new Error(`baseline failed:\n${shown(r)}`);
    if (revision !== 'base') await ctx.query(USERS);
  } else if (ctx.dialect === 'sqlite') copyFileSync(await sqliteTemplate(revision), ctx.file!);
  else {
    await (await library(ctx.root)).upgrade({ cwd: ctx.root, env: { ...ctx.env }, revision });
    await ctx.query(USERS);
  }
}

/** Run one case and check everything the battery promises about it; figures are counted before any assertion. */
export async function runCase(c: Case, expect: ExpectStatic): Promise<void> {
  const ctx = makeCtx(c);
  const began = Date.now();
  tally.cases += 1;
  tally.byCategory[c.category] += 1;
  const phases: string[] = [];
  let mark = Date.now();
  const phase = (name: string) => {
    phases.push(`${name} ${Date.now() - mark}`);
    mark = Date.now();
  };
  try {
    if (ctx.database) await ownDatabase(ctx, true);
    await baseline(ctx, c.start);
    phase('baseline');
    await c.setup?.(ctx);
    phase('setup');
    const before = await shape(ctx);
    phase('shape');
    const watcher = c.expect.watchArgv ? await watchArgv(c.expect.watchArgv) : undefined;
    let runs: Ran[];
    let argv: { leaks: string[]; seen: string[] } = { leaks: [], seen: [] };
    try {
      const r = await c.run(ctx);
      runs = Array.isArray(r) ? r : [r];
    } finally {
      if (watcher) argv = await watcher.stop();
    }
    phase('run');
    const after = await shape(ctx);
    if (ctx.dialect === 'postgresql' && !ctx.database) await dropEscapes(ctx.token); // other suites expect public empty
    phase('shape');

    // --- figures (before any assertion can stop the case)
    const changed = c.expect.unchanged ? changes(before, after) : 0;
    tally.rowsChangedByRefusals += changed;
    const secrets = [MARKER, ...(c.expect.secrets ?? [])];
    const leakingRuns = () => ctx.runs.filter((r) => secrets.some((s) => r.stdout.includes(s) || r.stderr.includes(s)));
    let serial: { ok: boolean; why: string } | undefined;
    if (c.expect.serial) serial = checkSerial(ctx, before, after, runs, c.expect.serial);
    if (serial && !serial.ok) tally.nonSerial += 1;
    const count = () => {
      tally.internalErrors += ctx.runs.filter(internal).length;
      tally.passwordsSeen += leakingRuns().length + argv.leaks.length;
      tally.runs += ctx.runs.length;
    };

    // --- assertions
    try {
      for (const [i, r] of runs.entries()) {
        const codes = allowed(c.expect.exits?.[i] ?? c.expect.exit);
        expect(codes, `unexpected exit code: ${shown(r)}`).toContain(r.status);
        const lines = stderrLines(r);
        if (r.signal === 'SIGKILL') continue; // killed by the case: nothing to say
        if (r.status !== 0 && !c.expect.manyLines) {
          expect(lines, `one clear line on stderr: ${shown(r)}`).toHaveLength(1);
          expect(lines[0], shown(r)).toMatch(/^sluice: /);
          if (c.expect.line) expect(lines[0], shown(r)).toMatch(c.expect.line);
        }
        if (r.status === 0 && !c.expect.manyLines) expect(lines, `nothing on stderr after success: ${shown(r)}`).toEqual([]);
      }
      expect(ctx.runs.filter(internal).map(shown), 'internal errors').toEqual([]);
      expect(leakingRuns().map(shown), 'passwords shown').toEqual([]);
      expect(argv.leaks, 'argv holding the password').toEqual([]);
      if (c.expect.watchArgv) expect(argv.seen.length, `the argv watcher saw no ${c.expect.watchArgv}`).toBeGreaterThan(0);
      if (c.expect.unchanged) expect(after, `a refusal changed ${changed} object(s)/row(s)`).toEqual(before);
      if (serial) expect(serial.ok, serial.why).toBe(true);
      if (c.expect.after) await c.expect.after(ctx, runs, expect, { before, after });
      if (c.expect.serial) await rerun(ctx, expect);
    } finally {
      count();
      phase('checks');
      tally.notes.push(`${String(Date.now() - began).padStart(6)} ms ${ctx.runs.length} runs [${phases.join(', ')}; ${ctx.runs.map((r) => r.ms).join('+')}] ${c.category} › ${c.dialect} › ${c.name}`);
    }
  } finally {
    if (ctx.database) await ownDatabase(ctx, false);
    else if (ctx.dialect === 'postgresql') await dropEscapes(ctx.token);
  }
}

function checkSerial(ctx: Ctx, before: Shape, after: Shape, runs: Ran[], spec: SerialSpec): { ok: boolean; why: string } {
  const start = stateOf(before, ctx);
  const end = stateOf(after, ctx);
  if (typeof start === 'string') return { ok: false, why: `start state: ${start}` };
  if (typeof end === 'string') return { ok: false, why: `final state is no state a serial order gives: ${end}\n${runs.map(shown).join('\n')}` };
  const n = ctx.journal().entries.length;
  const finals = serialStates(start, spec.commands, runs.map(outcomeOf), n);
  const ok = finals.has(stateKey(end));
  return { ok, why: `final state ${stateKey(end)} from ${stateKey(start)}; serial orders of ${spec.commands.map((a) => a.join(' ')).join(' | ')} with outcomes ${runs.map(outcomeOf).join(', ')} give ${[...finals].join(' or ') || 'nothing'}\n${runs.map(shown).join('\n')}` };
}

/** A rerun completes: stamp where the objects are (when a stamp left them apart), then up to head. */
async function rerun(ctx: Ctx, expect: ExpectStatic): Promise<void> {
  const st = stateOf(await shape(ctx), ctx) as State;
  const m = st.o.length;
  expect(st.o, 'objects are a prefix of the history').toEqual([...Array(m).keys()]);
  const tags = ctx.journal().entries.map((e) => e.tag);
  if (st.v !== m) {
    const r = await ctx.cli(['stamp', m === 0 ? 'base' : tags[m - 1]!]);
    expect(r.status, shown(r)).toBe(0);
  }
  const r = await ctx.cli(['up']);
  expect(r.status, `the rerun did not complete: ${shown(r)}`).toBe(0);
  const end = stateOf(await shape(ctx), ctx);
  expect(end, 'after the rerun').toEqual({ v: tags.length, o: [...tags.keys()] });
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000, every = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
