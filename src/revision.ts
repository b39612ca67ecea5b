/**
 * The revision map: pure code, no database and no files. A history is a linear list of revisions
 * (drizzle-kit journals are linear); the database state is the set of applied revision ids.
 * `plan` turns (history, applied, target) into the steps that upgrade, downgrade, stamp, status and
 * dry runs all share.
 */
import { AmbiguousRevision, TargetOutOfRange, UnknownRevision, UsageError } from './errors.js';

export interface Revision {
  /** The drizzle-kit tag, e.g. `0003_add_audits`: the revision id. */
  id: string;
  /** Position in the history, 0-based. */
  index: number;
  /** Number from the tag's leading digits (`0003` → 3), or the index when the tag has none. */
  number: number;
  /** Human message (from the down file's header, else derived from the tag). */
  message: string;
  /** Creation time (journal `when`), ms since epoch. */
  createdAt: number;
}

export type Direction = 'up' | 'down';

export interface Step {
  revision: Revision;
  direction: Direction;
}

/** Index of the newest revision, or -1 for an empty history. */
export const BASE = -1;

export function numberOfTag(tag: string, index: number): number {
  const n = leadingDigits(tag);
  return n ? Number(tag.slice(0, n)) : index;
}

/**
 * How many ASCII digits (what `\d` matches) a tag starts with. A loop rather than a regular expression:
 * every command derives the number and message of every revision, and for 1000 of them the regular
 * expressions took ~0.5 ms more in a fresh process.
 */
export function leadingDigits(tag: string): number {
  let i = 0;
  while (i < tag.length) {
    const c = tag.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i++;
  }
  return i;
}

/** The highest applied index (the "current" revision), or BASE when nothing is applied. */
export function currentIndex(history: readonly Revision[], applied: ReadonlySet<string>): number {
  for (let i = history.length - 1; i >= 0; i--) if (applied.has(history[i]!.id)) return i;
  return BASE;
}

/** Revision ids recorded as applied but absent from the history (database ahead of the code). */
export function unknownApplied(history: readonly Revision[], applied: Iterable<string>): string[] {
  const ids = new Set(history.map((r) => r.id));
  return [...applied].filter((id) => !ids.has(id));
}

/** Pending revisions that sort before the current one (merged from another branch). */
export function outOfOrder(history: readonly Revision[], applied: ReadonlySet<string>): Revision[] {
  const cur = currentIndex(history, applied);
  return history.filter((r) => r.index < cur && !applied.has(r.id));
}

/**
 * A revision given explicitly (an argument, REVISION=) must name something: an empty or blank string
 * is refused, never read as the default (`up ''` is not `up head`, `down ''` is not `down -1`). Leave
 * the argument out to get the default. Returns the name trimmed.
 */
export function requireRevisionName(spec: unknown, defaultHint?: string): string {
  // a library caller's whole number reads as its text (`3` is revision number 3, `-1` one back); any
  // other type is named (a hunt: `revision: 3` was refused as "empty revision")
  if (typeof spec === 'number' && Number.isSafeInteger(spec)) return String(spec);
  if (spec !== undefined && spec !== null && typeof spec !== 'string') {
    throw new UsageError(`revision ${typeof spec === 'number' ? String(spec) : `of type ${typeof spec}`} is not a revision; give head, base, +N, -N, a tag or a number, as a string`);
  }
  const name = typeof spec === 'string' ? spec.trim() : '';
  if (name === '') {
    const leaveOut = defaultHint ? ` (or leave it out for ${defaultHint})` : '';
    throw new UsageError(`empty revision; give head, base, +N, -N, a tag or a number${leaveOut}`);
  }
  return name;
}

/** Find a revision by tag, number (`3`, `0003`) or unique tag prefix. */
export function findRevision(history: readonly Revision[], spec: string): Revision {
  const name = requireRevisionName(spec);
  const exact = history.find((r) => r.id === name);
  if (exact) return exact;
  if (/^\d+$/.test(name)) {
    const n = Number(name);
    const byNumber = history.filter((r) => r.number === n);
    if (byNumber.length === 1) return byNumber[0]!;
    if (byNumber.length > 1) throw new AmbiguousRevision(name, byNumber.map((r) => r.id));
  }
  const byPrefix = history.filter((r) => r.id.startsWith(name));
  if (byPrefix.length === 1) return byPrefix[0]!;
  if (byPrefix.length > 1) throw new AmbiguousRevision(name, byPrefix.map((r) => r.id));
  throw new UnknownRevision(name, closeCandidates(history, name));
}

function closeCandidates(history: readonly Revision[], name: string): string[] {
  const needle = name.toLowerCase().replace(/^\d+_?/, '');
  const scored = history
    .map((r) => {
      const hay = r.id.toLowerCase();
      const d = distance(needle, hay.replace(/^\d+_?/, ''));
      const contains = needle.length >= 3 && hay.includes(needle);
      return { id: r.id, score: contains ? 0 : d };
    })
    .filter((s) => s.score <= Math.max(2, Math.floor(needle.length / 3)))
    .sort((a, b) => a.score - b.score);
  return scored.slice(0, 3).map((s) => s.id);
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/**
 * Resolve a target name to an index (BASE for base). `head`, `base`, `+N`, `-N`, a tag, a number or a
 * unique tag prefix. Relative targets count places from the current revision and must stay inside the history.
 */
export function resolveTarget(history: readonly Revision[], applied: ReadonlySet<string>, spec: string): number {
  const name = requireRevisionName(spec);
  if (name === 'head' || name === 'heads') return history.length - 1;
  if (name === 'base') return BASE;
  const rel = /^([+-])(\d+)$/.exec(name);
  if (rel) {
    // places in the history from the current revision (where a revision is pending below the current
    // one, as a merge leaves it, `up +1` applies it too: an up takes every pending revision up to its
    // target); counting pending or applied revisions instead let `stamp +1` land below the current
    // revision and unrecord it (found by review), so relative names stay positional
    const n = Number(rel[2]);
    const cur = currentIndex(history, applied);
    if (rel[1] === '+') {
      const t = cur + n;
      if (t > history.length - 1) {
        throw new TargetOutOfRange(`${name} is past head: only ${history.length - 1 - cur} revision(s) are pending after the current one`);
      }
      return t;
    }
    const t = cur - n;
    if (t < BASE) {
      // places, not applied revisions, where one is pending below the current revision (a hunt: "only 4 applied" of 3)
      const below = cur + 1;
      const count = history.slice(0, below).filter((r) => applied.has(r.id)).length;
      throw new TargetOutOfRange(`${name} is past base: only ${count} revision(s) are applied${count === below ? '' : ` (the current revision is ${below} places from base: ${below - count} below it pending)`}`);
    }
    return t;
  }
  return findRevision(history, name).index;
}

/**
 * Steps to go from the applied set to `target` (an index). Up applies every pending revision ≤ target in
 * order (with `named`, also to a target below the current revision); down reverts every applied
 * revision > target, newest first.
 */
export function plan(history: readonly Revision[], applied: ReadonlySet<string>, target: number, direction: Direction, options: { named?: boolean } = {}): Step[] {
  const cur = currentIndex(history, applied);
  if (direction === 'up') {
    const pending = history.filter((r) => r.index <= target && !applied.has(r.id));
    // a target below the current revision is refused, unless it was named (a tag or a number, not -N)
    // and something is pending up to it (a revision a merged branch put below the current one): up
    // applies that, as a plain up would
    if (target < cur && !(options.named && pending.length)) {
      throw new TargetOutOfRange(
        `${labelOf(history, target)} is below the current revision ${history[cur]!.id}; use migrate-down to go back`,
      );
    }
    return pending.map((revision) => ({ revision, direction }));
  }
  if (target > cur) {
    throw new TargetOutOfRange(`${labelOf(history, target)} is above the current revision ${labelOf(history, cur)}; use migrate-up to go forward`);
  }
  return history
    .filter((r) => r.index > target && applied.has(r.id))
    .reverse()
    .map((revision) => ({ revision, direction }));
}

/**
 * Steps for stamp: like plan, but the direction follows from where the target lies. A target named
 * (a tag, a number, head), or one above the current revision, says the database is there: every
 * pending revision up to it is recorded (Alembic's stamp, Atlas's `migrate set`). A relative target at
 * or below the current revision (`stamp -1`) only removes rows: a revision pending below it (out of
 * order, from a merged branch) stays pending (was: recorded as applied although it never ran, so up
 * never ran it, and a down would have reverted what was never made).
 */
export function planStamp(history: readonly Revision[], applied: ReadonlySet<string>, target: number, options: { relative?: boolean } = {}): Step[] {
  const down = history
    .filter((r) => r.index > target && applied.has(r.id))
    .reverse()
    .map((revision) => ({ revision, direction: 'down' as const }));
  const records = !options.relative || target > currentIndex(history, applied);
  const up = records ? history.filter((r) => r.index <= target && !applied.has(r.id)).map((revision) => ({ revision, direction: 'up' as const })) : [];
  return [...down, ...up];
}

/**
 * The revision applied last (by time, then place), when the steps of a down leave it applied: after an
 * up that applied a revision pending out of order (a merged branch's), `down -1` counts places and
 * takes back the current revision by place, not the one just applied (found by a hunt: the other
 * branch's table and rows were dropped). Undefined when the down takes it back, or no down runs.
 */
export function lastAppliedLeft(history: readonly Revision[], rows: readonly { revision: string; appliedAt: string }[], steps: readonly Step[]): { revision: Revision; appliedAt: string } | undefined {
  if (!steps.length) return undefined;
  const at = new Map(history.map((r) => [r.id, r]));
  let last: { revision: Revision; appliedAt: string; t: number } | undefined;
  for (const row of rows) {
    const revision = at.get(row.revision);
    if (!revision) continue;
    const t = Date.parse(row.appliedAt);
    if (Number.isNaN(t)) return undefined; // a time sluice cannot read: no order to go by
    if (!last || t > last.t || (t === last.t && revision.index > last.revision.index)) last = { revision, appliedAt: row.appliedAt, t };
  }
  if (!last || steps.some((s) => s.revision.id === last!.revision.id)) return undefined;
  return { revision: last.revision, appliedAt: last.appliedAt };
}

export function labelOf(history: readonly Revision[], index: number): string {
  return index === BASE ? 'base' : (history[index]?.id ?? `#${index}`);
}

/**
 * The order of two revision tags by their leading number (drizzle-kit's index or timestamp prefix),
 * then as text; `base` comes before every tag. For revisions the folder does not have (status).
 */
export function compareTags(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'base') return -1;
  if (b === 'base') return 1;
  const na = /^\d+/.exec(a)?.[0];
  const nb = /^\d+/.exec(b)?.[0];
  if (na !== undefined && nb !== undefined && BigInt(na) !== BigInt(nb)) return BigInt(na) < BigInt(nb) ? -1 : 1;
  return a < b ? -1 : 1;
}

/**
 * The current revision when it is not in the folder: the newest applied revision the folder lacks,
 * when its tag comes after the folder's current one (the database ahead of the code, as status says);
 * undefined when the current revision is the folder's (one applied from another branch, or since
 * removed, below it is not current). Shared by status, history and show.
 */
export function currentOutsideFolder(history: readonly Revision[], applied: ReadonlySet<string>): string | undefined {
  const known = new Set(history.map((r) => r.id));
  const newest = [...applied].filter((id) => !known.has(id)).sort(compareTags).at(-1);
  return newest !== undefined && comesAfter(newest, labelOf(history, currentIndex(history, applied))) ? newest : undefined;
}

/**
 * Whether tag `a` comes after `b` in a history: a larger number (index or timestamp); `b` base; tags
 * without numbers by text. Two of the same number are two branches' revisions: neither comes after.
 */
export function comesAfter(a: string, b: string): boolean {
  if (b === 'base') return a !== 'base';
  const na = /^\d+/.exec(a)?.[0];
  const nb = /^\d+/.exec(b)?.[0];
  if (na !== undefined && nb !== undefined) return BigInt(na) > BigInt(nb);
  return compareTags(a, b) > 0;
}
