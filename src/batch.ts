/**
 * Grouped runs for adapters whose round trips are costly (PostgreSQL): consecutive transactional
 * revisions go to the server as one script, each revision as `BEGIN; <statements>; <version row,
 * checked, with the search_path guard>; COMMIT;` (inside --single-transaction: see runInTransaction). The server stops at the first
 * error: the revisions before it are committed with their version rows, the failing one rolls back,
 * and the adapter's count of completed statements names the failing statement. Nothing is replayed.
 *
 * Values in the version-row statements are written as literals through the driver's escapeLiteral
 * (Connection.literal), the one place sluice does not bind values: a script of several statements
 * cannot carry bound parameters, and one round trip per revision is the point of this module.
 * execution_ms and applied_at come from the server's clock.
 */
import type { Connection } from './dialect/types.js';
import { VERSION_ROW_MARK } from './errors.js';
import type { PreparedStep } from './prepare.js';
import { VERSION_TABLE } from './store.js';

/** Revisions per script and characters per script at most (bounds memory and the size of one message). */
export const GROUP_LIMIT = { revisions: 200, chars: 4_000_000 };

export interface GroupItem {
  step: PreparedStep;
  /** Statements as they run (translated). */
  statements: string[];
}

export class GroupFailure extends Error {
  constructor(
    /** Index in the group of the revision that failed. */
    readonly item: number,
    /** 1-based statement of that revision, or undefined when recording or committing it failed. */
    readonly statement: number | undefined,
    readonly cause: unknown,
  ) {
    super('group failed');
  }
}

/** Milliseconds since the script began: now() is the script's start for every transaction in it. */
const SINCE_START = `round(extract(epoch from pg_catalog.clock_timestamp() - now()) * 1000)::integer`;

/**
 * The version-row statement of a revision in its own transaction. It returns the time since the
 * script began (the caller takes each revision's own from the differences). The stored duration is
 * the revision's own: since the previous revision's version row when that is the row before it in
 * this script, else since the script began (the first revision of a script).
 */
function recordSql(conn: Connection, step: PreparedStep, previousUp: string | undefined, check: string | undefined): string {
  const table = conn.table(VERSION_TABLE);
  const lit = (v: string) => conn.literal!(v);
  // One statement records the revision and checks the run: the row is written (or removed) in a WITH,
  // which runs whatever the rest reads; the SELECT, always evaluated (it reads no table at its top),
  // returns the time since the script began, fails when search_path moved (`check`, the guard) and
  // fails unless exactly one row was written or removed (a trigger returning NULL, RAISE(IGNORE) or a
  // rule on sluice_version would otherwise leave a revision that ran recorded wrongly: run again, or
  // reported applied after it was reverted). Each failure is the cast of a marked text, never a
  // constant one (the planner would fold it): the revision rolls back. As cheap on the server as the
  // separate guard SELECT it replaces (psql, 1000 revisions: 139-198 against 145-180 ms).
  const rows = (cte: string, what: string) =>
    `(SELECT CASE WHEN count(*) = 1 THEN NULL ELSE (${lit(`${VERSION_ROW_MARK}${what} `)} || count(*))::integer END FROM ${cte}) AS sluice_rows`;
  const select = (cte: string, what: string) => `SELECT ${SINCE_START} AS elapsed${check ? `, ${check} AS sluice_guard` : ''}, ${rows(cte, what)}`;
  if (step.direction === 'up') {
    const since = previousUp === undefined ? 'now()' : `COALESCE((SELECT "applied_at" FROM ${table} WHERE "revision" = ${lit(previousUp)}), now())`;
    const own = `round(extract(epoch from pg_catalog.clock_timestamp() - ${since}) * 1000)::integer`;
    return `WITH recorded AS (INSERT INTO ${table} ("revision", "name", "checksum", "applied_at", "execution_ms") VALUES (${lit(step.revision.id)}, ${lit(step.revision.message)}, ${lit(step.upChecksum)}, pg_catalog.clock_timestamp(), ${own}) RETURNING 1) ${select('recorded', 'rows written:')}`;
  }
  return `WITH removed AS (DELETE FROM ${table} WHERE "revision" = ${lit(step.revision.id)} RETURNING 1) ${select('removed', 'rows removed:')}`;
}

/** Where each item's statements sit in the script (`end`: after its last part). */
interface Span {
  start: number;
  end: number;
  statements: number;
}

/** A group's script, written before it runs (the engine writes the next one while the server runs this one). */
export interface PlannedGroup {
  items: GroupItem[];
  ownTransactions: boolean;
  script: string;
  spans: Span[];
}

/** Write the group's script: each revision in its own transaction, or (`ownTransactions` false) inside the run's one. */
export function planGroup(conn: Connection, items: GroupItem[], options: { ownTransactions: boolean }): PlannedGroup {
  const { parts, spans } = options.ownTransactions ? committingParts(conn, items) : inTransactionParts(conn, items);
  return { items, ownTransactions: options.ownTransactions, script: parts.join('\n;\n'), spans };
}

/**
 * Run the planned script. It leaves at once (before this returns its promise), so the caller can do
 * other work while the server runs it. Resolves with each revision's server-side duration in ms;
 * rejects with GroupFailure naming the revision and statement.
 */
export function runPlanned(conn: Connection, planned: PlannedGroup): Promise<number[]> {
  return planned.ownTransactions ? runCommitting(conn, planned) : runInTransaction(conn, planned);
}

async function runScript(conn: Connection, script: string, spans: Span[], offset: number): Promise<Record<string, unknown>[][]> {
  try {
    return await conn.executeScript!(script);
  } catch (err) {
    const completed = (err as { completedStatements?: number }).completedStatements;
    if (completed === undefined) throw new GroupFailure(0, undefined, err);
    const item = Math.max(0, spans.findIndex((s) => completed < s.end));
    const pos = completed - spans[item]!.start - offset + 1;
    const statement = pos >= 1 && pos <= spans[item]!.statements ? pos : undefined;
    throw new GroupFailure(item, statement, err);
  }
}

/** Each revision in its own transaction: `BEGIN; <statements>; <version row, checked, with the search_path guard>; COMMIT;`. */
function committingParts(conn: Connection, items: GroupItem[]): { parts: string[]; spans: Span[] } {
  const parts: string[] = [];
  const spans: Span[] = [];
  const guard = conn.searchPathGuard?.();
  const check = conn.searchPathCheck?.();
  for (const [k, it] of items.entries()) {
    const start = parts.length;
    const previous = items[k - 1]?.step;
    const previousUp = previous?.direction === 'up' && it.step.direction === 'up' ? previous.revision.id : undefined;
    // the guard rides on the record's statement (an adapter with only the statement form keeps it apart)
    parts.push('BEGIN', ...it.statements, ...(guard && check === undefined ? [guard] : []), recordSql(conn, it.step, previousUp, check), 'COMMIT');
    spans.push({ start, end: parts.length, statements: it.statements.length });
  }
  return { parts, spans };
}

async function runCommitting(conn: Connection, { script, spans }: PlannedGroup): Promise<number[]> {
  const rows = await runScript(conn, script, spans, 1);
  // The version-row statement of each revision returns the time since the script began.
  let before = 0;
  return spans.map((s) => {
    const elapsed = Number(rows[s.end - 2]?.[0]?.elapsed ?? before);
    const own = Math.max(0, elapsed - before);
    before = elapsed;
    return own;
  });
}

/**
 * Inside --single-transaction, where nothing commits before the end: after each revision a plain
 * SELECT checks search_path (failing there, as the guard does) and reads the clock; there is no
 * version row per revision. The group's version rows are then written in one statement, with each
 * revision's own duration and end time (as epoch numbers: no text a revision's DateStyle could change).
 */
function inTransactionParts(conn: Connection, items: GroupItem[]): { parts: string[]; spans: Span[] } {
  const clock = `extract(epoch from pg_catalog.clock_timestamp()) AS t`;
  const mark = conn.searchPathGuard?.(clock) ?? `SELECT ${clock}`;
  const parts: string[] = [mark];
  const spans: Span[] = [];
  for (const it of items) {
    const start = parts.length;
    parts.push(...it.statements, mark);
    spans.push({ start, end: parts.length, statements: it.statements.length });
  }
  return { parts, spans };
}

async function runInTransaction(conn: Connection, { items, script, spans }: PlannedGroup): Promise<number[]> {
  const rows = await runScript(conn, script, spans, 0);
  const epoch = (i: number, k: number): string => {
    const t = String(rows[i]?.[0]?.t ?? '');
    if (!/^\d+(\.\d+)?$/.test(t)) throw new GroupFailure(k, undefined, new Error(`the server returned no clock reading for the revision (${t || 'nothing'})`));
    return t;
  };
  let before = Number(epoch(0, 0));
  const ends = spans.map((s, k) => epoch(s.end - 1, k));
  const ms = ends.map((t) => {
    const own = Math.max(0, Math.round((Number(t) - before) * 1000));
    before = Number(t);
    return own;
  });
  const table = conn.table(VERSION_TABLE);
  const lit = (v: string) => conn.literal!(v);
  const ups = items.flatMap((it, k) => (it.step.direction === 'up' ? [`(${lit(it.step.revision.id)}, ${lit(it.step.revision.message)}, ${lit(it.step.upChecksum)}, pg_catalog.to_timestamp(${ends[k]}), ${ms[k]})`] : []));
  const downs = items.flatMap((it) => (it.step.direction === 'down' ? [lit(it.step.revision.id)] : []));
  // as recordSql: each write checked for the number of rows it took (a trigger or rule on sluice_version)
  const counted = (cte: string, write: string, n: number, what: string) =>
    `WITH ${cte} AS (${write} RETURNING 1) SELECT CASE WHEN count(*) = ${n} THEN NULL ELSE (${lit(`${VERSION_ROW_MARK}${what} `)} || count(*) || ' of ${n}')::integer END AS sluice_rows FROM ${cte}`;
  const record = [
    ...(downs.length ? [counted('removed', `DELETE FROM ${table} WHERE "revision" IN (${downs.join(', ')})`, downs.length, 'rows removed:')] : []),
    ...(ups.length ? [counted('recorded', `INSERT INTO ${table} ("revision", "name", "checksum", "applied_at", "execution_ms") VALUES ${ups.join(', ')}`, ups.length, 'rows written:')] : []),
  ];
  try {
    await conn.executeScript!(record.join(';\n'));
  } catch (err) {
    throw new GroupFailure(items.length - 1, undefined, err);
  }
  return ms;
}
