/**
 * Pure parts of `migrate-merge`: reading both sides of a file git left with conflict markers, and a
 * three-way merge of drizzle-kit snapshots (JSON objects keyed by object name). No files, no database.
 *
 * A branch's change is the difference between two of its snapshots; it is replayed onto the other
 * branch's head. Two branches that changed the same object (the same table's same column, the same
 * enum, the same index...) do not commute: `conflictingObjects` names them and nothing is merged.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Snapshot = Record<string, Json>;

/** Keys that identify a snapshot rather than describe the schema. */
const IDENTITY = new Set(['id', 'prevId']);

const START = /^<{7}(?: .*)?$/;
const MIDDLE = /^={7}$/;
const BASE = /^\|{7}(?: .*)?$/;
const END = /^>{7}(?: .*)?$/;

export function hasConflictMarkers(text: string): boolean {
  return text.split('\n').some((l) => START.test(l)) && text.split('\n').some((l) => END.test(l));
}

/** Both sides of a file with git's conflict markers (merge and diff3 styles). */
export function conflictSides(text: string): { ours: string; theirs: string } {
  const ours: string[] = [];
  const theirs: string[] = [];
  let state: 'both' | 'ours' | 'base' | 'theirs' = 'both';
  for (const line of text.split('\n')) {
    if (state === 'both' && START.test(line)) state = 'ours';
    else if (state === 'ours' && BASE.test(line)) state = 'base';
    else if ((state === 'ours' || state === 'base') && MIDDLE.test(line)) state = 'theirs';
    else if (state === 'theirs' && END.test(line)) state = 'both';
    else if (state === 'both') {
      ours.push(line);
      theirs.push(line);
    } else if (state === 'ours') ours.push(line);
    else if (state === 'theirs') theirs.push(line);
  }
  return { ours: ours.join('\n'), theirs: theirs.join('\n') };
}

function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function equal(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Paths of the objects that differ between two snapshots (descending into objects present in both). */
export function changedPaths(from: Json | undefined, to: Json | undefined, at: string[] = []): string[][] {
  if (equal(from, to)) return [];
  if (!isObject(from) || !isObject(to) || at.length >= 4) return [at];
  const out: string[][] = [];
  for (const k of new Set([...Object.keys(from), ...Object.keys(to)])) {
    if (at.length === 0 && (IDENTITY.has(k) || k === '_meta')) continue;
    out.push(...changedPaths(from[k], to[k], [...at, k]));
  }
  return out;
}

/**
 * Objects both branches changed since their common snapshot, as readable paths; empty when they commute.
 * `whole`: paths each side changed as a whole beyond what its snapshots show (rebuiltTables).
 */
export function conflictingObjects(base: Snapshot, ours: Snapshot, theirs: Snapshot, whole: { ours?: string[][]; theirs?: string[][] } = {}): string[] {
  const a = [...changedPaths(base, ours), ...(whole.ours ?? [])];
  const b = [...changedPaths(base, theirs), ...(whole.theirs ?? [])];
  const prefix = (p: string[], q: string[]) => p.length <= q.length && p.every((x, i) => q[i] === x);
  const hits = new Set<string>();
  for (const p of a) for (const q of b) if (prefix(p, q) || prefix(q, p)) hits.add((p.length <= q.length ? p : q).join(' › '));
  return [...hits].sort();
}

/** `target` with the change from `before` to `after` replayed onto it (identity keys left alone). */
export function replay(before: Json | undefined, after: Json | undefined, target: Json | undefined, depth = 0): Json | undefined {
  if (equal(before, after)) return target;
  if (!isObject(before) || !isObject(after) || !isObject(target)) return after;
  const out: { [k: string]: Json } = { ...target };
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (depth === 0 && IDENTITY.has(k)) continue;
    const v = replay(before[k], after[k], target[k], depth + 1);
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

const NAME = String.raw`(?:"((?:[^"]|"")+)"|\`((?:[^\`]|\`\`)+)\`|\[([^\]]+)\]|([A-Za-z_][\w$]*))`;
const QUALIFIED = String.raw`(?:${NAME}\s*\.\s*)?${NAME}`;
const REBUILD_COPY = new RegExp(String.raw`\bINSERT\s+INTO\s+${QUALIFIED}[\s\S]*?\bSELECT\b[\s\S]*?\bFROM\s+${QUALIFIED}`, 'gi');
const DROP_TABLE = new RegExp(String.raw`\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?${QUALIFIED}`, 'gi');

function unquote(m: RegExpExecArray, from: number): string {
  for (let i = from; i < from + 4; i++) if (m[i] !== undefined) return m[i]!.replace(/""/g, '"').replace(/``/g, '`');
  return '';
}

/**
 * Tables the up SQL rebuilds: drizzle-kit's SQLite recreation (`CREATE TABLE __new_t`, rows copied
 * with `INSERT INTO __new_t (…) SELECT … FROM t`, `DROP TABLE t`, rename), or any up that copies a
 * table's rows into another and drops it. Such an up rewrites the whole table with the columns it
 * lists: as paths (`tables › <key>`) of the snapshots given, for conflictingObjects. Comments are
 * read as text: a rebuild named in one only makes a merge refuse (the safe side).
 */
export function rebuiltTables(ups: string[], snapshots: Snapshot[]): string[][] {
  const names = new Set<string>();
  for (const up of ups) {
    const dropped = new Set<string>();
    for (const m of up.matchAll(DROP_TABLE)) dropped.add(unquote(m as RegExpExecArray, 5));
    for (const m of up.matchAll(REBUILD_COPY)) {
      const source = unquote(m as RegExpExecArray, 13);
      const target = unquote(m as RegExpExecArray, 5);
      if (dropped.has(source) || target.startsWith('__new_')) names.add(source);
    }
    for (const m of up.matchAll(/\b__new_(\w+)/g)) names.add(m[1]!);
  }
  const paths = new Map<string, string[]>();
  for (const snap of snapshots) {
    const tables = snap.tables;
    if (!isObject(tables)) continue;
    for (const [key, t] of Object.entries(tables)) {
      const name = isObject(t) && typeof t.name === 'string' ? t.name : key.slice(key.lastIndexOf('.') + 1);
      if (names.has(name)) paths.set(key, ['tables', key]);
    }
  }
  return [...paths.values()];
}
