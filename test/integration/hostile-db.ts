/**
 * The hostile battery's view of the databases: superuser connections, a structural snapshot of a
 * case's database (objects, columns, row counts, version rows) and the serial-order model that says
 * which final states concurrent or killed runs may leave.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pgUrl } from '../support/project.js';
import type { Ctx, Ran } from './hostile-battery.js';

// ---------------------------------------------------------------- connections

let pool: pg.Pool | undefined;
/** Superuser connections to the suite's database. */
export function admin(): pg.Pool {
  if (!pool) {
    pool = new pg.Pool({ connectionString: pgUrl(), max: 4 });
    pool.on('error', () => {}); // an idle connection the server dropped: the next query reconnects
  }
  return pool;
}
export async function closeShared(): Promise<void> {
  await pool?.end();
  pool = undefined;
}
type Conn = { query: (sql: string, params?: unknown[]) => Promise<pg.QueryResult>; release: () => void };
/** A connection to the suite's database (pooled), or to a case's own (one client, dropped with the database). */
export async function connect(database?: string): Promise<Conn> {
  if (!database) {
    const c = await admin().connect();
    return { query: (sql, params) => c.query(sql, params), release: () => c.release() };
  }
  const u = new URL(pgUrl());
  u.pathname = `/${database}`;
  const c = new pg.Client({ connectionString: u.toString() });
  c.on('error', () => {});
  await c.connect();
  return { query: (sql, params) => c.query(sql, params), release: () => void c.end().catch(() => {}) };
}
export async function adminQuery<T = Record<string, unknown>>(sql: string, params: unknown[] = [], database?: string): Promise<{ rows: T[]; rowCount: number }> {
  const c = await connect(database);
  try {
    const r = await c.query(sql, params);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  } finally {
    c.release();
  }
}
/** A case's own database (cases whose SQL may reach public): created before the case, dropped after. */
export async function ownDatabase(ctx: Ctx, create: boolean): Promise<void> {
  await admin().query(create ? `CREATE DATABASE ${qi(ctx.database!)}` : `DROP DATABASE IF EXISTS ${qi(ctx.database!)} WITH (FORCE)`);
}

export const qi = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** A query on the case's database (PostgreSQL: search_path set to its schema, in a transaction of its own). */
export async function dbQuery<T>(ctx: Ctx, sql: string, params: unknown[]): Promise<T[]> {
  if (ctx.dialect === 'sqlite') {
    const db = new Database(ctx.file!);
    try {
      const stmt = db.prepare(sql);
      return (stmt.reader ? stmt.all(...params) : (stmt.run(...params), [])) as T[];
    } finally {
      db.close();
    }
  }
  const client = await connect(ctx.database);
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL search_path TO ${qi(ctx.schema!)}`);
    const res = await client.query(sql, params);
    await client.query('COMMIT');
    return res.rows as T[];
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

// ---------------------------------------------------------------- structural snapshot

export interface Shape {
  exists: boolean;
  /** `table x`, `column x.y type`, `index i`, `type t`, `routine f`, `public <relation>` (escapes named after the case). */
  objects: string[];
  rows: Record<string, number>;
  /** `<revision> <checksum>` of every version row. */
  versions: string[];
}

const RELKIND: Record<string, string> = { r: 'table', p: 'table', i: 'index', I: 'index', S: 'sequence', v: 'view', m: 'view', f: 'foreign' };

export async function shape(ctx: Ctx): Promise<Shape> {
  return ctx.dialect === 'sqlite' ? sqliteShape(ctx.file!) : pgShape(ctx.schema!, ctx.token, ctx.database);
}

export function sqliteShape(file: string): Shape {
  if (!existsSync(file)) return { exists: false, objects: [], rows: {}, versions: [] };
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const objects: string[] = [];
    const rows: Record<string, number> = {};
    const master = db.prepare("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as { type: string; name: string }[];
    for (const o of master) {
      objects.push(`${o.type} ${o.name}`);
      if (o.type !== 'table') continue;
      for (const col of db.prepare('SELECT name, type FROM pragma_table_info(?)').all(o.name) as { name: string; type: string }[]) objects.push(`column ${o.name}.${col.name} ${col.type}`);
      rows[o.name] = (db.prepare(`SELECT count(*) AS n FROM ${qi(o.name)}`).get() as { n: number }).n;
    }
    const versions = master.some((o) => o.name === 'sluice_version')
      ? (db.prepare('SELECT revision, checksum FROM sluice_version ORDER BY revision').all() as { revision: string; checksum: string }[]).map((r) => `${r.revision} ${r.checksum}`)
      : [];
    return { exists: true, objects: objects.sort(), rows, versions };
  } finally {
    db.close();
  }
}

/**
 * One snapshot (a REPEATABLE READ transaction): objects and version rows read apart could straddle the
 * commit of a revision a killed run's server is still finishing (PostgreSQL runs what it received) and
 * show its table without its version row, a state no run made (the rerun then stamped it away).
 */
export async function pgShape(schema: string, token?: string, database?: string): Promise<Shape> {
  const c = await connect(database);
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return await pgShapeIn(async <T>(sql: string, params: unknown[] = []) => (await c.query(sql, params)).rows as T[], schema, token);
  } finally {
    await c.query('ROLLBACK').catch(() => {});
    c.release();
  }
}

async function pgShapeIn(q: <T>(sql: string, params?: unknown[]) => Promise<T[]>, schema: string, token?: string): Promise<Shape> {
  const escapes = token ? (await q<{ o: string }>("SELECT 'public ' || relname AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND relname LIKE $1", [`hx\\_${token}\\_%`])).map((r) => r.o) : [];
  if ((await q('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).length === 0) return { exists: false, objects: escapes.sort(), rows: {}, versions: [] };
  const rels = await q<{ relname: string; relkind: string }>('SELECT relname, relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1', [schema]);
  const objects = [...escapes, ...rels.map((r) => `${RELKIND[r.relkind] ?? r.relkind} ${r.relname}`)];
  for (const r of await q<{ o: string }>("SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type AS o FROM information_schema.columns WHERE table_schema = $1", [schema])) objects.push(r.o);
  for (const r of await q<{ o: string }>("SELECT 'type ' || typname AS o FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND typtype IN ('e', 'd')", [schema])) objects.push(r.o);
  for (const r of await q<{ o: string }>("SELECT 'routine ' || proname AS o FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1", [schema])) objects.push(r.o);
  const rows: Record<string, number> = {};
  for (const r of rels.filter((x) => x.relkind === 'r' || x.relkind === 'p')) {
    rows[r.relname] = Number((await q<{ n: string }>(`SELECT count(*) AS n FROM ${qi(schema)}.${qi(r.relname)}`))[0]!.n);
  }
  const versions = rels.some((r) => r.relname === 'sluice_version')
    ? (await q<{ revision: string; checksum: string }>(`SELECT revision, checksum FROM ${qi(schema)}.sluice_version ORDER BY revision`)).map((r) => `${r.revision} ${r.checksum}`)
    : [];
  return { exists: true, objects: objects.sort(), rows, versions };
}

/** How many objects, rows and version rows differ between two snapshots. */
export function changes(a: Shape, b: Shape): number {
  const sym = (x: string[], y: string[]) => x.filter((e) => !y.includes(e)).length + y.filter((e) => !x.includes(e)).length;
  let n = (a.exists !== b.exists ? 1 : 0) + sym(a.objects, b.objects) + sym(a.versions, b.versions);
  for (const t of new Set([...Object.keys(a.rows), ...Object.keys(b.rows)])) n += Math.abs((a.rows[t] ?? 0) - (b.rows[t] ?? 0));
  return n;
}

// ---------------------------------------------------------------- serial orders

/** A database state in model terms: `v` version rows (a prefix of the history), `o` revisions whose objects exist. */
export interface State {
  v: number;
  o: number[];
}
const key = (s: State) => `${s.v}|${[...s.o].sort((x, y) => x - y).join(',')}`;

/** The state a snapshot shows, or why it is not one any run can leave (version rows not a prefix, a half-present revision). */
export function stateOf(s: Shape, ctx: Ctx): State | string {
  const tags = ctx.journal().entries.map((e) => e.tag);
  const ids = s.versions.map((v) => v.split(' ')[0]!);
  if (ids.some((id, i) => id !== tags[i])) return `version rows ${ids.join(', ')} are not a prefix of the history`;
  const has = (o: string) => (o.includes('.') ? s.objects.some((x) => x.startsWith(`column ${o} `)) : s.objects.includes(`table ${o}`));
  const o: number[] = [];
  for (const [k, objects] of ctx.model.entries()) {
    const present = objects.filter(has).length;
    if (present === objects.length && objects.length) o.push(k);
    else if (present) return `revision ${tags[k]} is half there: ${objects.filter(has).join(', ')} but not ${objects.filter((x) => !has(x)).join(', ')}`;
  }
  return { v: ids.length, o };
}

/** One command run alone from `st`: its exit code and the state after each of its steps (each revision is atomic). */
export function simulate(args: string[], st: State, n: number): { exit: number; states: State[] } {
  const verb = args[0]!;
  const spec = args.slice(1).find((a) => !a.startsWith('--'));
  const cur = st.v - 1;
  const target = (s: string | undefined, dflt: string): number | undefined => {
    const t = s ?? dflt;
    if (t === 'head') return n - 1;
    if (t === 'base') return -1;
    const rel = /^([+-])(\d+)$/.exec(t);
    if (rel) {
      const x = rel[1] === '+' ? cur + Number(rel[2]) : cur - Number(rel[2]);
      return x > n - 1 || x < -1 ? undefined : x;
    }
    return /^\d+$/.test(t) && Number(t) < n ? Number(t) : undefined;
  };
  if (verb !== 'up' && verb !== 'down' && verb !== 'stamp') return { exit: 0, states: [st] }; // status, history, show
  const t = target(spec, verb === 'down' ? '-1' : 'head');
  const states: State[] = [st];
  if (t === undefined) return { exit: 2, states };
  let now: State = { v: st.v, o: [...st.o] };
  if (verb === 'stamp') {
    while (now.v !== t + 1) states.push((now = { v: now.v + (now.v < t + 1 ? 1 : -1), o: now.o }));
    return { exit: 0, states };
  }
  if (verb === 'up') {
    if (t < cur) return { exit: 2, states };
    for (let k = st.v; k <= t; k++) {
      if (now.o.includes(k)) return { exit: 3, states };
      states.push((now = { v: k + 1, o: [...now.o, k] }));
    }
    return { exit: 0, states };
  }
  if (t > cur) return { exit: 2, states };
  for (let k = cur; k > t; k--) {
    if (!now.o.includes(k)) return { exit: 3, states };
    states.push((now = { v: k, o: now.o.filter((x) => x !== k) }));
  }
  return { exit: 0, states };
}

export type Outcome = 'locked' | 'partial' | number;
export function outcomeOf(r: Ran): Outcome {
  if (r.signal === 'SIGKILL' || r.status === 7) return 'partial';
  if (r.status === 5 && /holds the migration lock/.test(r.stderr)) return 'locked';
  return r.status;
}

/** The final states some serial order of the runs gives, given how each run ended. */
export function serialStates(start: State, commands: string[][], outcomes: Outcome[], n: number): Set<string> {
  const finals = new Set<string>();
  const perms = (xs: number[]): number[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));
  const walk = (st: State, order: number[]): void => {
    if (order.length === 0) return void finals.add(key(st));
    const [i, ...rest] = order as [number, ...number[]];
    const out = outcomes[i]!;
    if (out === 'locked') return walk(st, rest);
    const sim = simulate(commands[i]!, st, n);
    if (out === 'partial') for (const s of sim.states) walk(s, rest);
    else if (sim.exit === out) walk(sim.states.at(-1)!, rest);
  };
  for (const order of perms(commands.map((_, i) => i))) walk(start, order);
  return finals;
}
export const stateKey = key;

/** Drop what a case left in public of the suite's database (other suites expect it empty). */
export async function dropEscapes(token: string): Promise<void> {
  const rows = (await admin().query("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND relkind = 'r' AND relname LIKE $1", [`hx\\_${token}\\_%`])).rows as { relname: string }[];
  for (const r of rows) await admin().query(`DROP TABLE IF EXISTS public.${qi(r.relname)} CASCADE`);
}

/** Wait for a condition, polling. */
