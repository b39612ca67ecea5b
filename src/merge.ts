/**
 * Pure parts of `migrate-merge`: reading both sides of a file git left with conflict markers, and a
 * three-way merge of drizzle-kit snapshots (JSON objects keyed by object name). No files, no database.
 *
 * A branch's change is the difference between two of its snapshots; it is replayed onto the other
 * branch's head. Two branches that changed the same object (the same table's same column, the same
 * enum, the same index...) do not commute: `conflictingObjects` names them and nothing is merged.
 */

import { isDeepStrictEqual } from 'node:util';
import { snapshotTables } from './source.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Snapshot = Record<string, Json>;

/** Keys that identify a snapshot rather than describe the schema. */
const IDENTITY = new Set(['id', 'prevId']);

// A checkout with CRLF line ends (git's core.autocrlf, Git for Windows' default) has git write its
// markers with CRLF too: the line's \r is not part of the marker (was: the markers went unseen, and every
// command read the journal as invalid JSON, exit 2, migrate-merge included).
const START = /^<{7}(?: .*)?\r?$/;
const MIDDLE = /^={7}\r?$/;
const BASE = /^\|{7}(?: .*)?\r?$/;
const END = /^>{7}(?: .*)?\r?$/;

export function hasConflictMarkers(text: string): boolean {
  // every command reads the journal: without both markers' characters (nearly always) no line is split
  if (!text.includes('<<<<<<<') || !text.includes('>>>>>>>')) return false;
  const lines = text.split('\n');
  return lines.some((l) => START.test(l)) && lines.some((l) => END.test(l));
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

/**
 * The same JSON, whatever the order of an object's keys (an array's order counts). drizzle-kit writes one
 * foreign key's keys in another order in a `--custom` revision's snapshot than `generate` does (was:
 * compared as text, so a merge after an EMPTY=1 or TS=1 revision saw every foreign key changed on both
 * branches and refused).
 */
function equal(a: Json | undefined, b: Json | undefined): boolean {
  return isDeepStrictEqual(a, b);
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
const DROP_TABLE = new RegExp(String.raw`\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?${QUALIFIED}`, 'gi');
const RENAME_TABLE = new RegExp(String.raw`\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?${QUALIFIED}\s+RENAME\s+TO\b`, 'gi');

/** The table name of a QUALIFIED match (groups 5-8), unquoted. */
function tableName(m: RegExpMatchArray): string {
  for (let i = 5; i < 9; i++) if (m[i] !== undefined) return m[i]!.replace(/""/g, '"').replace(/``/g, '`');
  return '';
}

/**
 * Tables the SQL rebuilds: it drops a table (`DROP TABLE t`) or renames it away (`ALTER TABLE t
 * RENAME TO t_old`) that the snapshots given still declare (so it was made again: drizzle-kit's SQLite
 * recreation through `__new_t`, a hand-written copy into `t_old` or `CREATE TABLE … AS SELECT`). Such
 * SQL rewrites the whole table with the columns it lists: as paths (`tables › <key>`) of those
 * snapshots, for conflictingObjects. Names compare without case (SQLite's rule; PostgreSQL's unquoted
 * names fold too). Comments are read as text: a drop named in one only makes a merge refuse (the safe side).
 */
export function rebuiltTables(sql: string[], snapshots: Snapshot[]): string[][] {
  const gone = new Set<string>();
  for (const text of sql) {
    for (const m of text.matchAll(DROP_TABLE)) gone.add(tableName(m).toLowerCase());
    for (const m of text.matchAll(RENAME_TABLE)) gone.add(tableName(m).toLowerCase());
  }
  if (!gone.size) return [];
  const keys = new Set(snapshots.flatMap((snap) => snapshotTables(snap).filter((t) => gone.has(t.name.toLowerCase())).map((t) => t.key)));
  return [...keys].map((key) => ['tables', key]);
}
