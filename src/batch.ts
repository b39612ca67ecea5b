/**
 * Grouped runs for adapters whose round trips are costly (PostgreSQL): consecutive transactional
 * revisions go to the server as one script, each revision as `BEGIN; <statements>; <version row>;
 * COMMIT;` (inside --single-transaction, without its own BEGIN/COMMIT). The server stops at the first
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

function recordSql(conn: Connection, step: PreparedStep): string {
  const table = conn.table(VERSION_TABLE);
  const lit = (v: string) => conn.literal!(v);
  const elapsed = `round(extract(epoch from clock_timestamp() - now()) * 1000)::integer`;
  if (step.direction === 'up') {
    return `INSERT INTO ${table} ("revision", "name", "checksum", "applied_at", "execution_ms") VALUES (${lit(step.revision.id)}, ${lit(step.revision.message)}, ${lit(step.upChecksum)}, clock_timestamp(), ${elapsed}) RETURNING "execution_ms" AS ms`;
  }
  return `DELETE FROM ${table} WHERE "revision" = ${lit(step.revision.id)} RETURNING ${elapsed} AS ms`;
}

/**
 * Run the group as one script. Resolves with each revision's server-side duration in ms; rejects
 * with GroupFailure naming the revision and statement.
 */
export async function runGroup(conn: Connection, items: GroupItem[], options: { ownTransactions: boolean }): Promise<number[]> {
  const parts: string[] = [];
  const spans: { start: number; end: number; statements: number }[] = [];
  for (const it of items) {
    const start = parts.length;
    if (options.ownTransactions) parts.push('BEGIN');
    const guard = conn.searchPathGuard?.();
    parts.push(...it.statements, ...(guard ? [guard] : []), recordSql(conn, it.step));
    if (options.ownTransactions) parts.push('COMMIT');
    spans.push({ start, end: parts.length, statements: it.statements.length });
  }
  let rows: Record<string, unknown>[][];
  try {
    rows = await conn.executeScript!(parts.join('\n;\n'));
  } catch (err) {
    const completed = (err as { completedStatements?: number }).completedStatements;
    if (completed === undefined) throw new GroupFailure(0, undefined, err);
    const item = Math.max(0, spans.findIndex((s) => completed < s.end));
    const pos = completed - spans[item]!.start - (options.ownTransactions ? 1 : 0) + 1;
    const statement = pos >= 1 && pos <= spans[item]!.statements ? pos : undefined;
    throw new GroupFailure(item, statement, err);
  }
  // The version-row statement of each revision returns its elapsed time since the transaction began.
  const since = spans.map((s) => Number(rows[s.end - 1 - (options.ownTransactions ? 1 : 0)]?.[0]?.ms ?? 0));
  return options.ownTransactions ? since : since.map((ms, i) => Math.max(0, ms - (i ? since[i - 1]! : 0)));
}
