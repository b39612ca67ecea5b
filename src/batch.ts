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
import { textArrayInput } from './sql.js';

/** Revisions per script and characters per script at most (bounds memory and the size of one message). */
export const GROUP_LIMIT = { revisions: 200, chars: 4_000_000 };

export interface GroupItem {
  step: PreparedStep;
  /** Statements as they run (translated). */
  statements: string[];
}

export class GroupFailure extends Error {
  /** The server-side duration of each revision before `item` (they completed), when the server's clock readings for them came back. */
  ms?: number[];
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
 * The statements every grouped revision runs besides its own (its version row, the record read back
 * with the search_path guard; the clock mark inside --single-transaction), prepared for one run with
 * PREPARE, so a revision's script says EXECUTE and the server does not parse and plan them again for
 * each revision: a thousand revisions' scripts ran in ~560 instead of ~750 ms on the server here. The
 * same SQL as the plain forms below (recordSql, checkSql), parameters for the literals. Each run
 * prepares them under names of its own and deallocates them when it ends (releaseRunStatements), so a
 * connection the library reuses never relies on statements a caller or an earlier run dropped. Where
 * PREPARE fails, or the run holds a statement that could drop prepared statements (DEALLOCATE, DISCARD,
 * even in a string or a comment) or a TypeScript revision (it may run anything), the plain forms are
 * written instead.
 */
const KINDS = ['first', 'after', 'down', 'checkUp', 'checkDown', 'mark'] as const;
type Kind = (typeof KINDS)[number];
/** The current run's statement names on each connection (absent: the plain forms). */
const runStatements = new WeakMap<Connection, Record<Kind, string>>();
const DROPS_PREPARED = /\b(deallocate|discard)\b/i;
let runSerial = 0;

/** A step that could drop prepared statements: its text says DEALLOCATE or DISCARD, or a TypeScript part (it may run anything). */
export const mayDropPrepared = (step: PreparedStep): boolean => !!step.typescript || step.statements.some((st) => DROPS_PREPARED.test(st));

/** PREPARE this run's statements; call it outside any transaction. True when they are in use (then call releaseRunStatements at the run's end). */
export async function prepareRunStatements(conn: Connection, steps: readonly PreparedStep[]): Promise<boolean> {
  runStatements.delete(conn);
  retired.delete(conn);
  if (conn.dialect !== 'postgresql' || !conn.executeScript || !conn.literal) return false;
  if (steps.some(mayDropPrepared)) return false;
  const serial = ++runSerial;
  const names = Object.fromEntries(KINDS.map((k) => [k, `sluice_run_${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_${process.pid}_${serial}`])) as Record<Kind, string>;
  const table = conn.table(VERSION_TABLE);
  const check = conn.searchPathCheck?.();
  const insert = (since: string) =>
    `INSERT INTO ${table} ("revision", "name", "checksum", "applied_at", "execution_ms") VALUES ($1, $2, $3, pg_catalog.clock_timestamp(), round(extract(epoch from pg_catalog.clock_timestamp() - ${since}) * 1000)::integer)`;
  const read = (test: string, what: string, where: string) =>
    `SELECT ${SINCE_START} AS elapsed${check ? `, ${check} AS sluice_guard` : ''}, (SELECT CASE WHEN ${test} THEN NULL ELSE (${conn.literal!(`${VERSION_ROW_MARK}${what}`)} || $1 || ', rows: ' || count(*))::integer END FROM ${table} WHERE ${where}) AS sluice_rows`;
  const clock = `extract(epoch from pg_catalog.clock_timestamp()) AS t`;
  const statements = [
    `PREPARE ${names.first}(text, text, text) AS ${insert('now()')}`,
    `PREPARE ${names.after}(text, text, text, text) AS ${insert(`COALESCE((SELECT "applied_at" FROM ${table} WHERE "revision" = $4), now())`)}`,
    `PREPARE ${names.down}(text) AS DELETE FROM ${table} WHERE "revision" = $1`,
    `PREPARE ${names.checkUp}(text, text) AS ${read('count(*) = 1', 'no record of ', '"revision" = $1 AND "checksum" = $2')}`,
    `PREPARE ${names.checkDown}(text) AS ${read('count(*) = 0', 'record left of ', '"revision" = $1')}`,
    `PREPARE ${names.mark} AS ${conn.searchPathGuard?.(clock) ?? `SELECT ${clock}`}`,
  ];
  try {
    await conn.executeScript(statements.join(';\n'));
  } catch {
    return false; // the table is not there yet...: the plain forms
  }
  runStatements.set(conn, names);
  return true;
}

/**
 * A step prepared after the run's statements were (engine.ts LaterSteps) that could drop them: the
 * groups written from now on use the plain forms (they are still deallocated at the end).
 */
export function retireRunStatementsFor(conn: Connection, step: PreparedStep): void {
  const names = runStatements.get(conn);
  if (!names || !mayDropPrepared(step)) return;
  runStatements.delete(conn);
  retired.set(conn, names);
}
const retired = new WeakMap<Connection, Record<Kind, string>>();

/** Deallocate the run's statements (best effort: a connection that is gone took them with it). */
export async function releaseRunStatements(conn: Connection): Promise<void> {
  const names = runStatements.get(conn) ?? retired.get(conn);
  runStatements.delete(conn);
  retired.delete(conn);
  if (!names) return;
  await conn.executeScript!(KINDS.map((k) => `DEALLOCATE ${names[k]}`).join(';\n')).catch(() => {});
}

/**
 * The version-row statement of a revision in its own transaction. It returns the time since the
 * script began (the caller takes each revision's own from the differences). The stored duration is
 * the revision's own: since the previous revision's version row when that is the row before it in
 * this script, else since the script began (the first revision of a script).
 */
function recordSql(conn: Connection, step: PreparedStep, previousUp: string | undefined, prepared: Record<Kind, string> | undefined): string {
  const table = conn.table(VERSION_TABLE);
  const lit = (v: string) => conn.literal!(v);
  if (prepared) {
    if (step.direction === 'down') return `EXECUTE ${prepared.down}(${lit(step.revision.id)})`;
    const values = `${lit(step.revision.id)}, ${lit(step.revision.message)}, ${lit(step.upChecksum)}`;
    return previousUp === undefined ? `EXECUTE ${prepared.first}(${values})` : `EXECUTE ${prepared.after}(${values}, ${lit(previousUp)})`;
  }
  if (step.direction === 'up') {
    const since = previousUp === undefined ? 'now()' : `COALESCE((SELECT "applied_at" FROM ${table} WHERE "revision" = ${lit(previousUp)}), now())`;
    const own = `round(extract(epoch from pg_catalog.clock_timestamp() - ${since}) * 1000)::integer`;
    return `INSERT INTO ${table} ("revision", "name", "checksum", "applied_at", "execution_ms") VALUES (${lit(step.revision.id)}, ${lit(step.revision.message)}, ${lit(step.upChecksum)}, pg_catalog.clock_timestamp(), ${own})`;
  }
  return `DELETE FROM ${table} WHERE "revision" = ${lit(step.revision.id)}`;
}

/**
 * After the version row, one SELECT (nothing at its top to read, so always evaluated): the time since
 * the script began; the search_path guard (`check`); and the record read back: after an up exactly
 * one row with the revision and its checksum, after a down none. A trigger that drops, changes or
 * moves the row (returning NULL, a rule), or the revision's own SQL, would otherwise leave a revision
 * that ran recorded wrongly: run again, or reported reverted while still recorded. Each failure is the
 * cast of a marked text that is never constant (the planner would fold a constant one while planning):
 * the revision rolls back. No RETURNING on the write: a table with rules takes none.
 */
function checkSql(conn: Connection, step: PreparedStep, check: string | undefined, prepared: Record<Kind, string> | undefined): string {
  const table = conn.table(VERSION_TABLE);
  const lit = (v: string) => conn.literal!(v);
  const id = step.revision.id;
  if (prepared) return step.direction === 'up' ? `EXECUTE ${prepared.checkUp}(${lit(id)}, ${lit(step.upChecksum)})` : `EXECUTE ${prepared.checkDown}(${lit(id)})`;
  const back =
    step.direction === 'up'
      ? `(SELECT CASE WHEN count(*) = 1 THEN NULL ELSE (${lit(`${VERSION_ROW_MARK}no record of ${id}, rows: `)} || count(*))::integer END FROM ${table} WHERE "revision" = ${lit(id)} AND "checksum" = ${lit(step.upChecksum)})`
      : `(SELECT CASE WHEN count(*) = 0 THEN NULL ELSE (${lit(`${VERSION_ROW_MARK}record left of ${id}, rows: `)} || count(*))::integer END FROM ${table} WHERE "revision" = ${lit(id)})`;
  return `SELECT ${SINCE_START} AS elapsed${check ? `, ${check} AS sluice_guard` : ''}, ${back} AS sluice_rows`;
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
 * rejects with GroupFailure naming the revision and statement. Inside --single-transaction, the
 * group's revisions are added to `unrecorded`: their version rows are recordInTransaction's.
 */
export function runPlanned(conn: Connection, planned: PlannedGroup, unrecorded: Unrecorded[]): Promise<number[]> {
  return planned.ownTransactions ? runCommitting(conn, planned) : runInTransaction(conn, planned, unrecorded);
}

/**
 * Run a group's script. On a failure, GroupFailure names the revision and statement, and carries the
 * durations of the revisions before it, read by `durations` from the rows of the statements that
 * completed (was: 0 ms for each, in the lines and --json, while their version rows had their own).
 */
async function runScript(conn: Connection, script: string, spans: Span[], offset: number, durations: (rows: Record<string, unknown>[][], spans: Span[]) => number[]): Promise<Record<string, unknown>[][]> {
  try {
    return await conn.executeScript!(script);
  } catch (err) {
    const { completedStatements: completed, completedRows } = err as { completedStatements?: number; completedRows?: Record<string, unknown>[][] };
    if (completed === undefined) throw new GroupFailure(0, undefined, err);
    const item = Math.max(0, spans.findIndex((s) => completed < s.end));
    const pos = completed - spans[item]!.start - offset + 1;
    const statement = pos >= 1 && pos <= spans[item]!.statements ? pos : undefined;
    const failure = new GroupFailure(item, statement, err);
    if (completedRows) {
      try {
        failure.ms = durations(completedRows, spans.slice(0, item));
      } catch {
        /* no clock reading: the lines say 0 ms, as before */
      }
    }
    throw failure;
  }
}

/** Each revision in its own transaction: `BEGIN; <statements>; <version row>; <its check, with the search_path guard>; COMMIT;`. */
function committingParts(conn: Connection, items: GroupItem[]): { parts: string[]; spans: Span[] } {
  const parts: string[] = [];
  const spans: Span[] = [];
  const check = conn.searchPathCheck?.();
  const prepared = runStatements.get(conn);
  for (const [k, it] of items.entries()) {
    const start = parts.length;
    const previous = items[k - 1]?.step;
    const previousUp = previous?.direction === 'up' && it.step.direction === 'up' ? previous.revision.id : undefined;
    parts.push('BEGIN', ...it.statements, recordSql(conn, it.step, previousUp, prepared), checkSql(conn, it.step, check, prepared), 'COMMIT');
    spans.push({ start, end: parts.length, statements: it.statements.length });
  }
  return { parts, spans };
}

async function runCommitting(conn: Connection, { script, spans }: PlannedGroup): Promise<number[]> {
  return committedDurations(await runScript(conn, script, spans, 1, committedDurations), spans);
}

/** Each revision's own duration: its check (just before COMMIT) returns the time since the script began. */
function committedDurations(rows: Record<string, unknown>[][], spans: Span[]): number[] {
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
 * version row per revision. The run's version rows (each revision's own duration and end time, as
 * epoch numbers: no text a revision's DateStyle could change) are written by recordInTransaction,
 * once for all the run's groups before its COMMIT (engine.ts): one round trip, not one per group.
 */
function inTransactionParts(conn: Connection, items: GroupItem[]): { parts: string[]; spans: Span[] } {
  const clock = `extract(epoch from pg_catalog.clock_timestamp()) AS t`;
  const names = runStatements.get(conn);
  const mark = names ? `EXECUTE ${names.mark}` : (conn.searchPathGuard?.(clock) ?? `SELECT ${clock}`);
  const parts: string[] = [mark];
  const spans: Span[] = [];
  for (const it of items) {
    const start = parts.length;
    parts.push(...it.statements, mark);
    spans.push({ start, end: parts.length, statements: it.statements.length });
  }
  return { parts, spans };
}

/** A revision run inside --single-transaction whose version row is not written yet (recordInTransaction). */
export interface Unrecorded {
  step: PreparedStep;
  /** When it ended, as the server's epoch text. */
  end: string;
  ms: number;
}

/** The group's revisions' durations; `unrecorded` gets each one for recordInTransaction. */
async function runInTransaction(conn: Connection, { items, script, spans }: PlannedGroup, unrecorded: Unrecorded[]): Promise<number[]> {
  const rows = await runScript(conn, script, spans, 0, (done, before) => clockDurations(done, before).ms);
  const { ends, ms } = clockDurations(rows, spans);
  items.forEach((it, k) => unrecorded.push({ step: it.step, end: ends[k]!, ms: ms[k]! }));
  return ms;
}

/** Inside --single-transaction: each revision's end (the server's epoch text, after it) and own duration, from the clock marks. */
function clockDurations(rows: Record<string, unknown>[][], spans: Span[]): { ends: string[]; ms: number[] } {
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
  return { ends, ms };
}

/**
 * Write the version rows of revisions run inside --single-transaction, in one statement each way,
 * and read them back as checkSql does: the first revision whose record is not as written is named
 * (GroupFailure's item is its index in `items`; else the last). The values go as one array literal per
 * column (unnest), which the server reads several times faster than a VALUES row per revision.
 */
export async function recordInTransaction(conn: Connection, items: readonly Unrecorded[]): Promise<void> {
  if (!items.length) return;
  const table = conn.table(VERSION_TABLE);
  const lit = (v: string) => conn.literal!(v);
  const texts = (values: string[]) => `pg_catalog.unnest(${lit(textArrayInput(values))}::text[])`;
  const ups = items.filter(({ step }) => step.direction === 'up');
  const downs = items.filter(({ step }) => step.direction === 'down');
  const ids = (xs: readonly Unrecorded[]) => xs.map(({ step }) => step.revision.id);
  // the ends are the server's epoch text, checked as digits (runInTransaction), and the ms integers
  const numbers = (values: string[], type: string) => `pg_catalog.unnest('{${values.join(',')}}'::${type}[])`;
  const [upIds, upSums] = [texts(ids(ups)), texts(ups.map(({ step }) => step.upChecksum))];
  const upRows = `ROWS FROM (${upIds}, ${upSums}) WITH ORDINALITY AS v(r, c, k)`;
  const firstWrong = (rows: string, test: string, what: string) =>
    `(SELECT (${lit(VERSION_ROW_MARK)} || ${lit(what)} || v.r || ', rows: ' || (SELECT count(*) FROM ${table} t WHERE t."revision" = v.r))::integer FROM ${rows} WHERE ${test} ORDER BY v.k LIMIT 1)`;
  const checks = [
    ...(downs.length ? [firstWrong(`ROWS FROM (${texts(ids(downs))}) WITH ORDINALITY AS v(r, k)`, `EXISTS (SELECT 1 FROM ${table} t WHERE t."revision" = v.r)`, 'record left of ')] : []),
    ...(ups.length ? [firstWrong(upRows, `NOT EXISTS (SELECT 1 FROM ${table} t WHERE t."revision" = v.r AND t."checksum" = v.c)`, 'no record of ')] : []),
  ];
  const record = [
    ...(downs.length ? [`DELETE FROM ${table} WHERE "revision" = ANY(${lit(textArrayInput(ids(downs)))}::text[])`] : []),
    ...(ups.length
      ? [
          `INSERT INTO ${table} ("revision", "name", "checksum", "applied_at", "execution_ms") SELECT r, n, c, pg_catalog.to_timestamp(e), m FROM ROWS FROM (${upIds}, ${texts(ups.map(({ step }) => step.revision.message))}, ${upSums}, ${numbers(ups.map(({ end }) => end), 'float8')}, ${numbers(ups.map(({ ms }) => String(ms)), 'integer')}) AS u(r, n, c, e, m)`,
        ]
      : []),
    `SELECT ${checks.map((c, i) => `${c} AS sluice_rows_${i}`).join(', ')}`,
  ];
  try {
    await conn.executeScript!(record.join(';\n'));
  } catch (err) {
    // the revision the check names, else the last
    const named = items.findIndex(({ step }) => String((err as Error)?.message).includes(`of ${step.revision.id}, rows: `));
    throw new GroupFailure(named >= 0 ? named : items.length - 1, undefined, err);
  }
}
