/**
 * Grouped runs for adapters whose round trips are costly (PostgreSQL): consecutive transactional
 * revisions go to the server as one script, each revision as `BEGIN; <statements>; <search_path
 * guard>; <version row>; COMMIT;` (inside --single-transaction: see runInTransaction). The server stops at the first
 * error: the revisions before it are committed with their version rows, the failing one rolls back,
 * and the adapter's count of completed statements names the failing statement. Nothing is replayed.
 *
 * Values in the version-row statements are written as literals through the driver's escapeLiteral
 * (Connection.literal), the one place sluice does not bind values: a script of several statements
 * cannot carry bound parameters, and one round trip per revision is the point of this module.
 * execution_ms and applied_at come from the server's clock.
 */
import type { Connection } from './dialect/types.js';
import type { PreparedStep } from './engine.js';
import { VERSION_TABLE } from './store.js';
import { searchPathChanged } from './errors.js';

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

/**
 * The version-row statement of a revision in its own transaction. Its duration cannot use now(): every
 * transaction of one script starts at the script's start. The first revision counts from there, the
 * others from the session mark the one before set when it recorded itself.
 */
function recordSql(conn: Connection, step: PreparedStep, first: boolean): string {
  const table = conn.table(VERSION_TABLE);
  const lit = (v: string) => conn.literal!(v);
  const since = first ? 'now()' : `pg_catalog.current_setting('sluice.mark')::timestamptz`;
  const elapsed = `round(extract(epoch from pg_catalog.clock_timestamp() - ${since}) * 1000)::integer`;
  const mark = `pg_catalog.set_config('sluice.mark', pg_catalog.clock_timestamp()::text, false) AS mark`;
  if (step.direction === 'up') {
    return `INSERT INTO ${table} ("revision", "name", "checksum", "applied_at", "execution_ms") VALUES (${lit(step.revision.id)}, ${lit(step.revision.message)}, ${lit(step.upChecksum)}, pg_catalog.clock_timestamp(), ${elapsed}) RETURNING "execution_ms" AS ms, ${mark}`;
  }
  return `DELETE FROM ${table} WHERE "revision" = ${lit(step.revision.id)} RETURNING ${elapsed} AS ms, ${mark}`;
}

/**
 * Run the group as one script. Resolves with each revision's server-side duration in ms; rejects
 * with GroupFailure naming the revision and statement.
 */
export async function runGroup(conn: Connection, items: GroupItem[], options: { ownTransactions: boolean }): Promise<number[]> {
  return options.ownTransactions ? runCommitting(conn, items) : runInTransaction(conn, items);
}

/** Where each item's statements sit in the script (`end`: after its last part). */
interface Span {
  start: number;
  end: number;
  statements: number;
}

async function runScript(conn: Connection, parts: string[], spans: Span[], offset: number): Promise<Record<string, unknown>[][]> {
  try {
    return await conn.executeScript!(parts.join('\n;\n'));
  } catch (err) {
    const completed = (err as { completedStatements?: number }).completedStatements;
    if (completed === undefined) throw new GroupFailure(0, undefined, err);
    const item = Math.max(0, spans.findIndex((s) => completed < s.end));
    const pos = completed - spans[item]!.start - offset + 1;
    const statement = pos >= 1 && pos <= spans[item]!.statements ? pos : undefined;
    throw new GroupFailure(item, statement, err);
  }
}

/** Each revision in its own transaction: `BEGIN; <statements>; <guard>; <version row>; COMMIT;`. */
async function runCommitting(conn: Connection, items: GroupItem[]): Promise<number[]> {
  const parts: string[] = [];
  const spans: Span[] = [];
  const guard = conn.searchPathGuard?.();
  for (const [k, it] of items.entries()) {
    const start = parts.length;
    parts.push('BEGIN', ...it.statements, ...(guard ? [guard] : []), recordSql(conn, it.step, k === 0), 'COMMIT');
    spans.push({ start, end: parts.length, statements: it.statements.length });
  }
  const rows = await runScript(conn, parts, spans, 1);
  // The version-row statement of each revision returns its duration.
  return spans.map((s) => Number(rows[s.end - 2]?.[0]?.ms ?? 0));
}

/**
 * Inside --single-transaction, where nothing commits before the end: after each revision a plain
 * SELECT reads the clock and search_path (no version row, no PL/pgSQL per revision); the group's
 * version rows are then written in one statement, with each revision's own duration and end time.
 * A revision that moved search_path is named from those reads, and the caller rolls the whole
 * transaction back, so what ran after it under the wrong search_path goes too.
 */
async function runInTransaction(conn: Connection, items: GroupItem[]): Promise<number[]> {
  const mark = `SELECT pg_catalog.current_setting('search_path') AS sp, extract(epoch from pg_catalog.clock_timestamp()) * 1000 AS t, pg_catalog.clock_timestamp()::text AS at`;
  const parts: string[] = [mark];
  const spans: Span[] = [];
  for (const it of items) {
    const start = parts.length;
    parts.push(...it.statements, mark);
    spans.push({ start, end: parts.length, statements: it.statements.length });
  }
  const rows = await runScript(conn, parts, spans, 0);
  const read = (i: number) => rows[i]?.[0] as { sp: string; t: number | string; at: string } | undefined;
  const expected = conn.guardedSearchPath?.();
  const marks = spans.map((s) => read(s.end - 1));
  let before = Number(read(0)?.t);
  const ms = marks.map((m, k) => {
    if (!m) throw new GroupFailure(k, undefined, new Error('the server returned no result for the revision\'s check'));
    if (expected !== undefined && m.sp !== expected) throw new GroupFailure(k, undefined, new Error(searchPathChanged(m.sp)));
    const t = Number(m.t);
    const elapsed = Math.max(0, Math.round(t - before));
    before = t;
    return elapsed;
  });
  const table = conn.table(VERSION_TABLE);
  const lit = (v: string) => conn.literal!(v);
  const ups = items.flatMap((it, k) => (it.step.direction === 'up' ? [`(${lit(it.step.revision.id)}, ${lit(it.step.revision.message)}, ${lit(it.step.upChecksum)}, ${lit(marks[k]!.at)}::timestamptz, ${ms[k]})`] : []));
  const downs = items.flatMap((it) => (it.step.direction === 'down' ? [lit(it.step.revision.id)] : []));
  const record = [
    ...(downs.length ? [`DELETE FROM ${table} WHERE "revision" IN (${downs.join(', ')})`] : []),
    ...(ups.length ? [`INSERT INTO ${table} ("revision", "name", "checksum", "applied_at", "execution_ms") VALUES ${ups.join(', ')}`] : []),
  ];
  try {
    await conn.executeScript!(record.join(';\n'));
  } catch (err) {
    throw new GroupFailure(items.length - 1, undefined, err);
  }
  return ms;
}
