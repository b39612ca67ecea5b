/**
 * One revision's proof on the scratch database (prove.ts runs it for each down to prove): synthetic
 * rows, the down, then the up again — inside one transaction rolled back at the end, so the database
 * is at state N afterwards whatever happened; or, for a revision that runs outside a transaction, the
 * down and the up again for real.
 */
import type { Connection } from './dialect/types.js';
import { commitLeftOpen } from './steprun.js';
import type { PreparedStep } from './prepare.js';
import { describeCause } from './errors.js';
import { listTables, schemaDiff, tablesIn, tablesWithOthersIn } from './introspect.js';
import { renamesIn } from './downrules.js';
import { countRows, insertSyntheticRows, RowsTransactionLost, type RowsResult } from './rows.js';
import { otherSchemas, PREPARED_WORDS, shapeOf, step, timed } from './proofscratch.js';
import type { RevisionFile } from './source.js';
import type { Proof, ProveOptions } from './prove.js';

/** A statement of a down or up that failed while proving it. */
class ProofStepError extends Error {
  constructor(
    readonly statement: string,
    readonly what: string,
    readonly detail: string,
  ) {
    super(`${what} fails at "${statement.split('\n')[0]!.slice(0, 100)}": ${detail}`);
  }
}

/**
 * Rows, down, up again — inside one transaction rolled back at the end, so the database is at state
 * N afterwards whatever happened.
 */
export async function roundTrip(
  o: ProveOptions,
  conn: Connection,
  schema: string,
  rev: RevisionFile,
  downText: string,
  before: string[],
  stateN: string[],
  /** Rows of each table before the up ran (prove.ts, when the up may write rows: upWritesRows). */
  rowsBefore?: Map<string, number>,
): Promise<Proof> {
  const proof: Proof = { revision: rev.id, verified: false, checked: [], notes: [], differences: [], upDifferences: [] };
  let downStep: PreparedStep;
  let upStep: PreparedStep;
  try {
    downStep = await step(o, rev, 'down', downText, schema);
    upStep = await step(o, rev, 'up', undefined, schema);
  } catch (err) {
    return { ...proof, reason: describeCause(err) };
  }
  if (downStep.noTransaction || upStep.noTransaction) {
    await roundTripOutside(o, conn, schema, downStep.statements, upStep.statements, before, stateN, proof);
    return conclude(proof);
  }
  const rebuild = (s: PreparedStep) => conn.foreignKeyRebuild?.(s.statements);
  const downSql = rebuild(downStep) ?? downStep.statements;
  const upSql = rebuild(upStep) ?? upStep.statements;
  // Foreign keys as a run has them: a run of the down turns them off only when the down itself is a
  // table rebuild (steprun.ts), so the rows check runs it so (with them on, a down that drops and
  // re-creates a parent deletes its children by cascade); the schema check (the down, then the up
  // again) turns them off when either side is one. SQLite sets them outside a transaction only: the
  // checks then run in two transactions.
  const downRebuild = !!rebuild(downStep);
  const schemaRebuild = downRebuild || !!rebuild(upStep);
  let fkWasOn = false;
  let fkOff = false;
  const foreignKeysOff = async (off: boolean) => {
    if (off === fkOff) return;
    if (off) fkWasOn = await conn.setForeignKeys!(false);
    else if (fkWasOn) await conn.setForeignKeys!(true);
    fkOff = off;
  };
  const run = async (what: string, statements: string[]) => {
    const before = fkOff && fkWasOn ? await conn.foreignKeyViolations!() : undefined;
    await runAll(conn, what, statements, downSql.concat(upSql));
    if (fkOff && fkWasOn) {
      try {
        await conn.checkForeignKeys!(before);
      } catch (err) {
        throw new Error(`${what}: ${describeCause(err)}`);
      }
    }
  };
  // the tables of the other schemas the history names (drizzle's pgSchema) too, as `[schema] name` (a
  // hunt: a down losing the rows of such a table was "verified, rows kept")
  const others = o.dialect === 'postgresql' ? otherSchemas(o) : [];
  const tablesN = tablesWithOthersIn(stateN);
  const keptTables = tablesWithOthersIn(before).filter((t) => tablesN.includes(t));
  // a table the up renamed: its rows counted under its new name before the down, its old one after (a
  // hunt: a down emptying such a table was "verified, rows kept", in db-test too)
  const renamed = renamesIn(upStep.statements).filter((r) => r.kind === 'table' && tablesIn(before).includes(r.from) && !tablesIn(stateN).includes(r.from) && tablesIn(stateN).includes(r.to));
  await foreignKeysOff(downRebuild);
  await conn.begin();
  try {
    // 1. rows: a synthetic row in every table, the down, then the tables it keeps must keep their rows.
    await conn.execute('SAVEPOINT sluice_rows');
    // rows its up inserted (seed data) the down may delete, not more: a table its up inserted rows into
    // gets a synthetic row too, as a user's row the down must keep (a hunt: a down deleting its up's
    // seed rows failed as "rows lost"; without the row, a down emptying the table would pass)
    const nameBefore = (t: string) => renamed.find((r) => r.to === t)?.from ?? t;
    const inserted = (t: string, rowsN: number) => (rowsBefore ? Math.max(0, rowsN - (rowsBefore.get(nameBefore(t)) ?? 0)) : 0);
    const kept = (t: string) => keptTables.includes(t) || renamed.some((r) => r.to === t);
    const rows = await timed('rows', () => syntheticRows(conn, schema, tablesN, others, (t, n) => kept(t) && inserted(t, n) > 0));
    const byUp = new Map([...rows.counts].map(([t, n]) => [t, inserted(t, n)]));
    try {
      const countsBefore = await timed('rows', () => countRows(conn, [...keptTables, ...renamed.map((r) => r.to)]));
      await timed('down', () => run('the down', downSql));
      const after = await timed('introspect', () => listTables(conn, schema, others));
      const countsAfter = await timed('rows', () => countRows(conn, [...keptTables, ...renamed.map((r) => r.from)].filter((t) => after.includes(t))));
      // [name before the down, name after]
      const pairs = [...keptTables.map((t) => [t, t] as const), ...renamed.map((r) => [r.to, r.from] as const)];
      const lost = pairs.filter(([b, a]) => (countsBefore.get(b) ?? 0) - (byUp.get(b) ?? 0) > (countsAfter.get(a) ?? 0));
      const mark = (b: string) => (byUp.get(b) ? ` (${byUp.get(b)} of them inserted by its up)` : '');
      if (lost.length) proof.differences.push(...lost.map(([b, a]) => `rows lost in ${b}${a === b ? '' : ` (${a} again after the down)`}: ${countsBefore.get(b)} before the down${mark(b)}, ${countsAfter.get(a) ?? 0} after`));
      proof.checked.push(`rows kept in the ${pairs.length} table(s) it keeps (a synthetic row in ${rows.filled.length} of ${tablesN.length})`);
    } catch (err) {
      // Not a wrong down: it refuses (and rolls back) when rows stand in its way, e.g. NOT NULL without default.
      proof.notes.push(`with a row in every table ${describeCause(err)}; on empty tables it was checked below`);
    }
    // a trigger's RAISE(ROLLBACK) in the down ended the transaction: state N again, in a new one
    if (conn.transactionOpen?.() === false) await conn.begin();
    else await conn.execute('ROLLBACK TO SAVEPOINT sluice_rows');
    for (const r of rows.refused) proof.notes.push(`no synthetic row in ${r.table}: ${r.reason}`);
    // a table it keeps with no row in it: its rows are not proven kept (db-test says so; found by a hunt:
    // a CHECK refused the row, and a down emptying that table was "rows kept")
    const unfilled = rows.refused.map((r) => r.table).filter((t) => kept(t));
    if (unfilled.length) proof.unfilled = unfilled;
    if (schemaRebuild !== downRebuild) {
      await conn.rollback();
      await foreignKeysOff(schemaRebuild);
      await conn.begin();
    }
    // 2. schema: the down gives back state N-1, the up again gives state N.
    await timed('down', () => run('the down', downSql));
    const restored = await timed('introspect', () => shapeOf(o, conn, schema));
    const downDiff = schemaDiff(before, restored);
    proof.differences.push(...downDiff);
    proof.checked.push('the down restores the previous schema');
    if (!downDiff.length) {
      await timed('up', () => run('the up, applied again after the down,', upSql));
      const again = schemaDiff(stateN, await timed('introspect', () => shapeOf(o, conn, schema)));
      proof.differences.push(...again.map((d) => `after the up again: ${d}`));
      proof.checked.push('the up applies again');
    }
  } catch (err) {
    failedWith(proof, err);
  } finally {
    await conn.rollback();
    await foreignKeysOff(false);
  }
  return conclude(proof);
}

/**
 * Whether an up may write rows (a TypeScript part, or a statement that is not plain DDL): the proof
 * then counts the rows before it, so that its down may delete the rows it inserted.
 */
export function upWritesRows(up: PreparedStep): boolean {
  return !!up.typescript || up.statements.some((s) => !DDL.test(s));
}
const DDL = /^\s*(?:(?:--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)\s*)*(?:create|alter|drop|comment|grant|revoke)\b/i;

/**
 * insertSyntheticRows, begun again without a table whose row ended the transaction (a SQLite trigger's
 * `RAISE(ROLLBACK)`): that table is named as refused, and the rows step goes on in a new transaction.
 */
async function syntheticRows(conn: Connection, schema: string, tables: string[], others: readonly string[], fillAlso: (table: string, rows: number) => boolean): Promise<RowsResult> {
  const lost: RowsResult['refused'] = [];
  for (;;) {
    try {
      const result = await insertSyntheticRows(conn, schema, tables.filter((t) => !lost.some((l) => l.table === t)), others, fillAlso);
      result.refused.push(...lost);
      return result;
    } catch (err) {
      if (!(err instanceof RowsTransactionLost)) throw err;
      lost.push({ table: err.table, reason: `${err.reason} (it ended the transaction)` });
      await conn.begin();
      await conn.execute('SAVEPOINT sluice_rows');
    }
  }
}

/**
 * Run `statements` (what a revision's down or up runs) as a command would, on a session of its own:
 * where the revision's SQL (`all`: its down and up) says PREPARE, DEALLOCATE or DISCARD, the statements
 * prepared before are dropped first (a user's down and up again run in separate sessions; on this one,
 * the up's PREPARE would find its name taken), and again after (the driver then no longer believes
 * sluice's own named statements, which a DEALLOCATE ALL dropped, still there).
 */
async function runAll(conn: Connection, what: string, statements: string[], all: string[]): Promise<void> {
  const clean = all.some((s) => PREPARED_WORDS.test(s));
  if (clean) await conn.forgetPrepared?.();
  for (const s of statements) {
    try {
      await conn.execute(conn.translate(s));
    } catch (err) {
      throw new ProofStepError(s, what, describeCause(err).split('\n')[0]!);
    }
  }
  if (clean) await conn.forgetPrepared?.();
}

function failedWith(proof: Proof, err: unknown): void {
  proof.reason = describeCause(err);
  if (err instanceof ProofStepError && err.what === 'the down') proof.failed = { statement: err.statement, message: err.detail };
}

/**
 * A revision that runs outside a transaction (CREATE INDEX CONCURRENTLY…) cannot be tried and rolled
 * back: on the scratch database its down runs for real, statement by statement, then its up again.
 * No synthetic rows (they could not be removed). When the database does not end at state N again,
 * `scratchLost` tells the caller that nothing after it can be proven on this database.
 */
async function roundTripOutside(o: ProveOptions, conn: Connection, schema: string, downSql: string[], upSql: string[], before: string[], stateN: string[], proof: Proof): Promise<void> {
  proof.notes.push('it runs outside a transaction: checked by running the down and the up again for real on the scratch database, without synthetic rows');
  // each side as a run does it (steprun.ts): a transaction the file leaves open is committed after its
  // last statement, and one it was in when a statement failed is rolled back
  const side = async (what: string, statements: string[]) => {
    try {
      await runAll(conn, what, statements, downSql.concat(upSql));
    } catch (err) {
      if (conn.transactionOpen?.()) await conn.rollback();
      throw err;
    }
    await commitLeftOpen(conn).catch((err: unknown) => {
      throw new ProofStepError("COMMIT (sluice's, after the last statement left a transaction the file opened)", what, describeCause(err).split('\n')[0]!);
    });
  };
  try {
    await side('the down', downSql);
    const downDiff = schemaDiff(before, await shapeOf(o, conn, schema));
    proof.differences.push(...downDiff);
    proof.checked.push('the down restores the previous schema');
    await side('the up, applied again after the down,', upSql);
    const again = schemaDiff(stateN, await shapeOf(o, conn, schema));
    if (!downDiff.length) proof.differences.push(...again.map((d) => `after the up again: ${d}`));
    proof.checked.push('the up applies again');
    proof.scratchLost = again.length > 0;
  } catch (err) {
    failedWith(proof, err);
    proof.scratchLost = true;
  }
}

function conclude(proof: Proof): Proof {
  if (!proof.reason && proof.differences.length) {
    proof.reason = proof.differences.some((d) => d.startsWith('rows lost'))
      ? `the down loses rows in tables it keeps (${proof.differences.find((d) => d.startsWith('rows lost'))})`
      : `the down leaves the schema different from the previous revision's (${proof.differences.length} difference(s), first: ${proof.differences[0]})`;
  }
  proof.verified = !proof.reason;
  return proof;
}
