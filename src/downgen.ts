/**
 * Generated downs: diff drizzle-kit's snapshots in reverse (the revision's snapshot → the previous
 * one) with drizzle-kit's own differ (`drizzle-kit/api`). drizzle-kit asks on a terminal whenever
 * one diff both removes and adds tables, columns or enums (a possible rename); sluice never needs a
 * terminal, so such a diff is split in two: first everything the reverse removes, then everything it
 * adds. Statements that re-create what the up dropped are marked with a WARNING: the rows come back
 * empty.
 */
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import type { DialectName } from './config.js';
import { SluiceError, ExitCode, describeCause } from './errors.js';
import { applyRenames, compareStatements, refineDown, renameSql, renamesIn, resolvePrimaryKeyDrops, reverseRenames } from './downrules.js';
import { largeCodeLoads } from './jit.js';
import { diffOnWorker } from './kitworker.js';
import { KitServiceGone, type KitService } from './kitgenerate.js';
import { splitStatements } from './sql.js';

type Snapshot = Record<string, any>;

export interface DownStatement {
  sql: string;
  warning?: string;
}

interface KitApi {
  generateDrizzleJson(imports: Record<string, unknown>, prevId?: string, schemaFilters?: string[], casing?: string): Snapshot;
  generateMigration(prev: Snapshot, cur: Snapshot): Promise<string[]>;
  generateSQLiteDrizzleJson(imports: Record<string, unknown>, prevId?: string, casing?: string): Promise<Snapshot>;
  generateSQLiteMigration(prev: Snapshot, cur: Snapshot): Promise<string[]>;
}

let api: KitApi | undefined;
function kit(root: string): KitApi {
  if (api) return api;
  largeCodeLoads();
  const req = createRequire(`${root}/package.json`);
  try {
    api = req('drizzle-kit/api') as KitApi;
  } catch {
    api = createRequire(import.meta.url)('drizzle-kit/api') as KitApi;
  }
  return api;
}

/** Load drizzle-kit's API now (it takes ~250 ms), e.g. while drizzle-kit generate runs in child processes. */
export function preloadKit(root: string): void {
  kit(root);
}

/** drizzle-kit's differ in a finished `drizzle-kit generate` process (migrate-create), used instead of its API here when given. */
export type Differ = Pick<KitService, 'diff' | 'empty'>;

export async function emptySnapshot(root: string, dialect: DialectName, differ?: Differ): Promise<Snapshot> {
  if (differ) {
    try {
      return await differ.empty();
    } catch (err) {
      if (!(err instanceof KitServiceGone)) throw err;
    }
  }
  const k = kit(root);
  return dialect === 'postgresql' ? k.generateDrizzleJson({}) : k.generateSQLiteDrizzleJson({});
}

/** The snapshot drizzle-kit would write for these model exports (no files touched), with drizzle.config's `casing`. */
export async function generateSnapshot(root: string, dialect: DialectName, imports: Record<string, unknown>, casing?: string): Promise<Snapshot> {
  const k = kit(root);
  return dialect === 'postgresql' ? k.generateDrizzleJson(imports, undefined, undefined, casing) : k.generateSQLiteDrizzleJson(imports, undefined, casing);
}

/**
 * SQL statements that take the schema from `from` to `to`, never prompting: by `differ` when given
 * (its process gone, here instead), else on the drizzle-kit worker when it runs, else in this thread.
 */
export async function diffSnapshots(root: string, dialect: DialectName, from: Snapshot, to: Snapshot, differ?: Differ, warnings?: string[]): Promise<string[]> {
  if (differ) {
    try {
      return await inTwo(dialect, from, to, (a, b) => differ.diff(a, b));
    } catch (err) {
      if (!(err instanceof KitServiceGone)) throw diffFailed(err);
    }
  }
  const remote = diffOnWorker(dialect, from, to, warnings);
  if (!remote) return diffLocally(root, dialect, from, to, warnings);
  try {
    return await remote;
  } catch (err) {
    throw diffFailed(err);
  }
}

/**
 * drizzle-kit's diff refused its input: a snapshot that fails its validation (a hand edit, a file of
 * another drizzle-kit version) is bad input, named by its first problem (exit 2; was: an internal
 * error whose message was the first line of zod's JSON, "["); anything else is drizzle-kit's failure.
 */
function diffFailed(err: unknown): SluiceError {
  const issue = snapshotIssue(err);
  // a snapshot of an older drizzle-kit (v5/v6 "pg"): drizzle-kit up upgrades the folder (a hunt saw "[")
  const expected = issue && /^version: Invalid literal value, expected "(\d+)"/.exec(issue)?.[1];
  const received = expected ? Number(versionReceived(err)) : NaN;
  if (expected && received < Number(expected)) {
    return new SluiceError(`the history's snapshots are of an older drizzle-kit format (version ${received}) than version ${expected}: upgrade them with drizzle-kit up (npx drizzle-kit up), then run this again`, ExitCode.usage, { cause: err });
  }
  if (issue) return new SluiceError(`a snapshot in the history fails drizzle-kit's validation (${issue}): fix that snapshot in meta/, or restore it from git`, ExitCode.usage, { cause: err });
  return new SluiceError(`drizzle-kit could not diff the snapshots: ${describeCause(err)}`, ExitCode.internal, { cause: err });
}

/** The `version` a snapshot has, from zod's issue about it (a review: a newer one was told to run drizzle-kit up). */
function versionReceived(err: unknown): string | undefined {
  try {
    const issues = JSON.parse(err instanceof Error ? err.message : String(err)) as { path?: unknown[]; received?: unknown }[];
    const v = issues.find((i) => Array.isArray(i.path) && i.path.join('.') === 'version')?.received;
    return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
  } catch {
    return undefined;
  }
}

/** zod's first issue (`tables.users.columns.phone.type: Expected string, received null`), from its error or from the message a worker passed on. */
function snapshotIssue(err: unknown): string | undefined {
  const message = err instanceof Error ? err.message : String(err);
  if (!message.trimStart().startsWith('[')) return undefined;
  try {
    const issues = JSON.parse(message) as { path?: unknown[]; message?: string }[];
    const first = Array.isArray(issues) ? issues.find((i) => i && Array.isArray(i.path) && typeof i.message === 'string') : undefined;
    return first ? `${first.path!.join('.') || 'the snapshot'}: ${first.message}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * drizzle-kit's `[Warning] …` lines written while `fn` runs, into `warnings` instead of stdout: a change
 * of the models it leaves out (SQLite cannot ADD a STORED generated column), which the models check must
 * not pass as unchanged (a review), and which broke `verify --json`'s output. Other output passes through.
 */
async function keepingWarnings<T>(warnings: string[] | undefined, fn: () => Promise<T>): Promise<T> {
  if (!warnings) return fn();
  const write = process.stdout.write;
  process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    if (typeof chunk === 'string' && chunk.includes('Warning')) {
      const plain = chunk.replace(/\u001b\[[0-9;]*m/g, '').trim();
      if (plain.startsWith('[Warning] ')) {
        warnings.push(plain.slice(10).replace(/\s+/g, ' '));
        return true;
      }
    }
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stdout.write;
  try {
    return await fn();
  } finally {
    process.stdout.write = write;
  }
}

/** diffSnapshots in this thread. */
export async function diffLocally(root: string, dialect: DialectName, from: Snapshot, to: Snapshot, warnings?: string[]): Promise<string[]> {
  const k = kit(root);
  const diff = (a: Snapshot, b: Snapshot) => (dialect === 'postgresql' ? k.generateMigration(a, b) : k.generateSQLiteMigration(a, b));
  try {
    return await withoutTerminal(() => keepingWarnings(warnings, () => inTwo(dialect, from, to, diff)));
  } catch (err) {
    // On the worker, the message crosses the thread and is wrapped there (diffSnapshots).
    if (!isMainThread) throw err;
    throw diffFailed(err);
  }
}

/**
 * `run` with process.stdin taken for no terminal: drizzle-kit's differ asks on a terminal where a diff
 * is ambiguous, and a down's diff must never ask (its default answer, "create", wrote a down that drops
 * a moved table's rows; found by a hunt); it fails instead, and the down is left to a hand.
 */
async function withoutTerminal<T>(run: () => Promise<T>): Promise<T> {
  if (!isMainThread) return run(); // a worker has no terminal
  const stdin = process.stdin as { isTTY?: boolean };
  const had = Object.getOwnPropertyDescriptor(stdin, 'isTTY');
  Object.defineProperty(stdin, 'isTTY', { value: false, configurable: true, writable: true });
  try {
    return await run();
  } finally {
    if (had) Object.defineProperty(stdin, 'isTTY', had);
    else delete stdin.isTTY;
  }
}

/** One diff, or two when one would both remove and add (removalsOnly): drizzle-kit would ask about renames. */
async function inTwo(dialect: DialectName, from: Snapshot, to: Snapshot, diff: (a: Snapshot, b: Snapshot) => Promise<string[]>): Promise<string[]> {
  const mid = removalsOnly(from, to, dialect);
  if (!mid) return diff(from, to);
  return [...(await diff(from, mid)), ...(await diff(mid, to))];
}

export interface DownPlan {
  statements: DownStatement[];
  /** Set when the down cannot be trusted without a human (hand-written or edited up SQL). */
  manualReason?: string;
}

/**
 * The down of a revision: from its snapshot back to the previous one. Renames in the up come back
 * as renames; the statements are ordered, guarded and annotated (downrules.ts); an up that the
 * snapshot pair does not explain is marked as needing a hand.
 */
export async function computeDown(
  root: string,
  dialect: DialectName,
  current: Snapshot,
  previous: Snapshot,
  upSql: string,
  options: { checkUp?: boolean; differ?: Differ } = {},
): Promise<DownPlan> {
  const up = splitStatements(upSql);
  const renames = renamesIn(up);
  const back = reverseRenames(renames);
  const reverse = [...back.map((r) => renameSql(r, dialect)), ...(await diffSnapshots(root, dialect, applyRenames(current, back, dialect), previous, options.differ))];
  // An up drizzle-kit has just generated matches its snapshots by construction: only adopted or
  // edited histories need the (costly) forward diff.
  const refined = (list: string[]) => (dialect === 'sqlite' ? childrenDroppedFirst(refineDown(dialect, list), current, previous) : refineDown(dialect, list));
  if (options.checkUp === false) return { statements: refined(reverse) };
  const forward = [...renames.map((r) => renameSql(r, dialect)), ...(await diffSnapshots(root, dialect, applyRenames(previous, renames, dialect), current, options.differ))];
  const pk = (list: string[]) => (dialect === 'postgresql' ? resolvePrimaryKeyDrops(list) : list);
  const { extra, missing } = compareStatements(pk(up), pk(forward));
  const manualReason = extra.length
    ? `the up has SQL that the snapshots do not describe (${extra.length} statement(s), first: ${extra[0]!.slice(0, 80)}); write its reversal by hand`
    : missing.length
      ? `the up lacks SQL that the snapshots describe (${missing.length} statement(s), first: ${missing[0]!.slice(0, 80)}); it was edited by hand: check the down`
      : undefined;
  return { statements: refined(reverse), manualReason };
}

/**
 * SQLite: drizzle-kit drops tables in name order. With foreign keys on, DROP TABLE deletes the rows
 * first, and that delete cascades into child tables, which fails ("no such table") when a child's
 * other parent was dropped before. The tables the down drops (in `current`, not in `previous`) are
 * dropped children first. The statements are recognised as exactly the text drizzle-kit writes for
 * a table this diff drops (`DROP TABLE \`name\`;`), nothing else is touched.
 */
export function childrenDroppedFirst(statements: DownStatement[], current: Snapshot, previous: Snapshot): DownStatement[] {
  const kept = new Set(Object.values(previous.tables ?? {}).map((t: any) => t.name as string));
  const dropped = (Object.values(current.tables ?? {}) as Snapshot[]).filter((t) => !kept.has(t.name));
  if (dropped.length < 2) return statements;
  const names = new Set(dropped.map((t) => t.name as string));
  const parents = new Map(dropped.map((t) => [t.name as string, (Object.values(t.foreignKeys ?? {}) as unknown[]).map((fk) => (typeof fk === 'string' ? fk.split(';')[2] : (fk as Snapshot).tableTo) as string).filter((p) => names.has(p) && p !== t.name)]));
  // children before parents: a table goes after every table that references it
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (t: string) => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const [child, ps] of parents) if (ps.includes(t)) visit(child);
    order.push(t);
  };
  [...names].sort().forEach(visit);
  const textOf = new Map(order.map((t) => [`DROP TABLE \`${t}\`;`, t]));
  const slots = statements.map((s, i) => (textOf.has(s.sql.trim()) ? i : -1)).filter((i) => i >= 0);
  const moved = slots.map((i) => statements[i]!).sort((a, b) => order.indexOf(textOf.get(a.sql.trim())!) - order.indexOf(textOf.get(b.sql.trim())!));
  const out = [...statements];
  slots.forEach((slot, k) => (out[slot] = moved[k]!));
  return out;
}

/**
 * When one diff would both remove and add tables (per schema), columns (per table) or enums, return
 * `to` without the added ones (and whatever refers to them), so `from → mid` only removes and
 * `mid → to` only adds. Returns null when the diff is unambiguous.
 */
export function removalsOnly(from: Snapshot, to: Snapshot, dialect: DialectName): Snapshot | null {
  const mid: Snapshot = structuredClone(to);
  let changed = false;
  const schemaOf = (t: Snapshot) => (dialect === 'postgresql' ? (t.schema ?? 'public') : '');
  const fromTables = Object.values(from.tables ?? {}) as Snapshot[];
  const toTables = Object.values(to.tables ?? {}) as Snapshot[];
  const key = (t: Snapshot) => `${schemaOf(t)}.${t.name}`;
  const fromKeys = new Set(fromTables.map(key));
  const toKeys = new Set(toTables.map(key));
  for (const schema of new Set(toTables.map(schemaOf))) {
    const added = toTables.filter((t) => schemaOf(t) === schema && !fromKeys.has(key(t)));
    const removed = fromTables.filter((t) => schemaOf(t) === schema && !toKeys.has(key(t)));
    if (!added.length || !removed.length) continue;
    for (const t of added) {
      dropTable(mid, t, dialect);
      changed = true;
    }
  }
  for (const [tKey, t] of Object.entries(mid.tables ?? {}) as [string, Snapshot][]) {
    const before = fromTables.find((f) => key(f) === key(t));
    if (!before) continue;
    const addedCols = Object.keys(t.columns ?? {}).filter((c) => !(c in (before.columns ?? {})));
    const removedCols = Object.keys(before.columns ?? {}).filter((c) => !(c in (t.columns ?? {})));
    if (!addedCols.length || !removedCols.length) continue;
    for (const c of addedCols) dropColumn(mid, tKey, c, dialect);
    changed = true;
  }
  if (dialect === 'postgresql') {
    const addedEnums = Object.keys(to.enums ?? {}).filter((e) => !(e in (from.enums ?? {})));
    const removedEnums = Object.keys(from.enums ?? {}).filter((e) => !(e in (to.enums ?? {})));
    if (addedEnums.length && removedEnums.length) {
      for (const e of addedEnums) {
        const en = mid.enums[e];
        const users = (Object.entries(mid.tables ?? {}) as [string, Snapshot][]).flatMap(([tKey, t]) =>
          (Object.entries(t.columns ?? {}) as [string, Snapshot][])
            .filter(([, c]) => typeof c.type === 'string' && c.type.replace(/(\[\d*\])+$/, '') === en.name && (c.typeSchema ?? 'public') === (en.schema ?? 'public'))
            .map(([c]) => ({ tKey, t, c })),
        );
        // Columns of the new type that this diff adds go with it (a table this diff adds, whole): `mid →
        // to` makes the type, then them. A column that exists before and changes to the type keeps it
        // here (drizzle-kit then asks whether the type was renamed: the down is left to a hand).
        const tableBefore = (u: { t: Snapshot }) => fromTables.find((f) => key(f) === key(u.t));
        if (users.some((u) => tableBefore(u)?.columns?.[u.c])) continue;
        for (const u of users) {
          if (!tableBefore(u)) dropTable(mid, u.t, dialect);
          else if (mid.tables[u.tKey]) dropColumn(mid, u.tKey, u.c, dialect);
        }
        delete mid.enums[e];
        changed = true;
      }
    }
  }
  return changed ? mid : null;
}

function dropTable(snap: Snapshot, table: Snapshot, dialect: DialectName): void {
  const k = Object.keys(snap.tables).find((x) => snap.tables[x] === table || (snap.tables[x].name === table.name && (snap.tables[x].schema ?? '') === (table.schema ?? '')));
  if (k) delete snap.tables[k];
  for (const t of Object.values(snap.tables) as Snapshot[]) {
    for (const [name, fk] of Object.entries(t.foreignKeys ?? {}) as [string, Snapshot][]) {
      const target = parseFk(fk, dialect);
      if (target.tableTo === table.name && (dialect === 'sqlite' || (target.schemaTo || 'public') === (table.schema || 'public'))) delete t.foreignKeys[name];
    }
  }
}

function dropColumn(snap: Snapshot, tableKey: string, column: string, dialect: DialectName): void {
  const t = snap.tables[tableKey];
  delete t.columns[column];
  const colsOf = (cols: unknown[]): string[] => cols.map((c: any) => (typeof c === 'string' ? c : (c.expression ?? c.name)));
  for (const [name, idx] of Object.entries(t.indexes ?? {}) as [string, Snapshot][]) {
    const cols = typeof idx === 'string' ? (idx as string).split(';')[1]?.split(',') ?? [] : colsOf(idx.columns ?? []);
    if (cols.includes(column)) delete t.indexes[name];
  }
  for (const group of ['compositePrimaryKeys', 'uniqueConstraints']) {
    for (const [name, c] of Object.entries(t[group] ?? {}) as [string, Snapshot][]) {
      if ((c.columns ?? []).includes(column)) delete t[group][name];
    }
  }
  for (const [name, fk] of Object.entries(t.foreignKeys ?? {}) as [string, Snapshot][]) {
    if (parseFk(fk, dialect).columnsFrom.includes(column)) delete t.foreignKeys[name];
  }
  for (const other of Object.values(snap.tables) as Snapshot[]) {
    for (const [name, fk] of Object.entries(other.foreignKeys ?? {}) as [string, Snapshot][]) {
      const f = parseFk(fk, dialect);
      if (f.tableTo === t.name && f.columnsTo.includes(column)) delete other.foreignKeys[name];
    }
  }
}

function parseFk(fk: Snapshot, _dialect: DialectName): { tableTo: string; schemaTo?: string; columnsFrom: string[]; columnsTo: string[] } {
  return { tableTo: fk.tableTo, schemaTo: fk.schemaTo, columnsFrom: fk.columnsFrom ?? [], columnsTo: fk.columnsTo ?? [] };
}
