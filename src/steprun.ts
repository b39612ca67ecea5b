/**
 * One step run on its own, not in a group (grouprun.ts: revisions sent as one script; savepoints.ts:
 * SQLite revisions sharing a commit): a TypeScript revision, a no-transaction one, a SQLite table
 * rebuild, a step on a connection without either. Its transaction (unless it has none, or the run's
 * single one holds it), its statements, its TypeScript part and its version row. The result says how
 * it went; only a failure of the rollback itself is thrown.
 */
import type { Connection, ForeignKeyViolations } from './dialect/types.js';
import type { StepResult, StepStatus } from './engine.js';
import { describeCause, searchPathChanged } from './errors.js';
import type { PreparedStep } from './prepare.js';
import { mayDropPrepared } from './batch.js';
import { firstLine } from './sql.js';
import type { VersionStore } from './store.js';
import { runTypeScript, TypeScriptError, type TypeScriptStep } from './tsrevision.js';
import { monotonicMs } from './clock.js';

/**
 * The run's signal fired while a step ran and nothing was there to cancel (a TypeScript revision
 * between queries, a cancel request a pooler dropped): the step stops at its next checkpoint (before
 * its commit; a no-transaction revision, before its next statement) instead of completing.
 */
export class StepInterrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

/**
 * The step failed because the run's signal stopped it (PostgreSQL: query_canceled, StepInterrupted, or
 * a TypeScript revision's query not sent after the signal: dialect/drizzle.ts).
 */
export function stoppedBy(signal: AbortSignal | undefined, cause: unknown): boolean {
  const c = cause as { code?: unknown; stoppedBySignal?: unknown } | null;
  return !!signal?.aborted && (cause instanceof StepInterrupted || c?.code === '57014' || c?.stoppedBySignal === true);
}

/**
 * A no-transaction revision ended inside a transaction it opened (a BEGIN with no COMMIT, a SAVEPOINT
 * on SQLite, a COMMIT AND CHAIN): the COMMIT sluice runs for it before the version row failed.
 */
class CommitAfterFile extends Error {
  constructor(cause: unknown) {
    super(describeCause(cause), { cause });
  }
}

class StatementError extends Error {
  constructor(
    readonly index: number,
    cause: unknown,
  ) {
    super(describeCause(cause), { cause });
  }
}

export interface OneStepOptions {
  /** The step runs in a transaction of its own (the default mode); false inside --single-transaction's. */
  inTx: boolean;
  /** --single-transaction: the run's one transaction holds the step. */
  single: boolean;
  /** The step's loaded TypeScript part. */
  ts?: TypeScriptStep;
  signal?: AbortSignal;
  now?: () => Date;
  stampOnly: boolean;
  /** A grouped revision before it in the run may have dropped the driver's named statements: forget them first. */
  forgetPrepared?: boolean;
}

/** Run one step and say how it went (a failure rolls back what the step's transaction holds). */
export async function runOneStep(conn: Connection, store: VersionStore, step: PreparedStep, options: OneStepOptions): Promise<StepResult> {
  const base = { revision: step.revision.id, direction: step.direction, statements: step.statements.length };
  const started = monotonicMs();
  const transactional = options.inTx && !step.noTransaction;
  let ran = 0;
  // A no-transaction revision: how many of its statements ran and stay (a prefix: those run outside a
  // transaction block, and those in one of the file's own blocks once it committed). Where the
  // adapter cannot tell whether a block is open, every statement that ran counts.
  let kept = 0;
  const blockOpen = () => conn.transactionOpen?.() ?? false;
  // SQLite table rebuild: foreign keys off outside the transaction, checked before commit (SQLite's 12-step ALTER).
  const rebuilt = step.noTransaction ? undefined : conn.foreignKeyRebuild?.(step.statements);
  const statements = rebuilt ?? step.statements;
  const fkWasOn = rebuilt && transactional ? await conn.setForeignKeys!(false) : false;
  // A no-transaction revision's own `PRAGMA foreign_keys=OFF` is its own: put back as it was after it
  // (found by a hunt: one without its `=ON` left them off for every later revision of the run, whose
  // ON DELETE CASCADE then did not fire: orphan rows, exit 0)
  const fkAtStart = step.noTransaction && conn.foreignKeysOn ? await conn.foreignKeysOn() : undefined;
  const fkBack = async () => {
    if (fkAtStart !== undefined && (await conn.foreignKeysOn!()) !== fkAtStart) await conn.setForeignKeys!(fkAtStart);
  };
  // a TypeScript part may end the transaction itself (README forbids it): marked, and checked after the rollback
  const mark: { value?: string } | undefined = options.ts && (transactional || options.single) ? {} : undefined;
  let fkBefore: ForeignKeyViolations | undefined;
  try {
    if (transactional) await conn.begin();
    if (rebuilt && fkWasOn) fkBefore = await conn.foreignKeyViolations!();
    if (!conn.capabilities.runLock && (await store.has(step.revision.id)) === (step.direction === 'up')) {
      // Another run did it while we waited for the database lock.
      if (transactional) await conn.rollback();
      return { ...base, status: 'already-done', ms: 0 };
    }
    const ts = options.ts;
    if (ts && step.direction === 'down') await runTypeScript(conn, step, ts, mark, options.signal);
    // A no-transaction revision runs statement by statement with nothing to roll back: search_path is
    // checked after each, so none runs after one that moved it (transactional ones: the group's check).
    const check = step.noTransaction ? conn.searchPathGuard?.() : undefined;
    const sequences = await conn.sequencesBefore?.(statements);
    for (const statement of statements) {
      // nothing to roll back here: a signal stops the revision before its next statement
      if (step.noTransaction && ran > 0 && options.signal?.aborted) throw new StatementError(ran + 1, new StepInterrupted());
      try {
        await conn.execute(conn.translate(statement));
      } catch (err) {
        throw new StatementError(ran + 1, err);
      }
      ran += 1;
      if (step.noTransaction && !blockOpen()) kept = ran;
      if (check) {
        await conn.execute(check).catch((err: { searchPath?: string }) => {
          throw new StatementError(ran, err?.searchPath === undefined ? err : new Error(searchPathChanged(err.searchPath, false), { cause: err }));
        });
      }
    }
    if (sequences) await conn.keepSequences!(sequences);
    // It ended inside a transaction it opened: committed before its version row (which would
    // otherwise be written in that transaction, and lost with it when the session ends).
    if (step.noTransaction) {
      const committed = await commitLeftOpen(conn).catch((err: unknown) => {
        throw new CommitAfterFile(err);
      });
      if (committed) kept = ran;
      await fkBack();
    }
    if (ts && step.direction === 'up') await runTypeScript(conn, step, ts, mark, options.signal);
    if ((transactional || options.single) && options.signal?.aborted) throw new StepInterrupted(); // rolled back, not committed
    const ms = Math.round(monotonicMs() - started);
    // the version row's statements are prepared by name, and the driver would only bind them again:
    // after a revision that may have dropped them (this one, or a grouped one before it), both forget them first
    if (options.forgetPrepared || mayDropPrepared(step)) await conn.forgetPrepared?.();
    if (step.direction === 'up') {
      await store.insert({
        revision: step.revision.id,
        name: step.revision.message,
        checksum: step.upChecksum,
        appliedAt: (options.now?.() ?? new Date()).toISOString(),
        executionMs: ms,
      });
    } else {
      await store.remove(step.revision.id);
    }
    if (rebuilt && fkWasOn) await conn.checkForeignKeys!(fkBefore, 'after the table rebuild');
    if (transactional) await conn.commit();
    if (rebuilt && fkWasOn) await conn.setForeignKeys!(true);
    return { ...base, status: doneStatus(step, options.stampOnly), ms };
  } catch (err) {
    if (transactional || options.single) await conn.rollback();
    // a no-transaction revision that failed inside a block it opened: that block is rolled back (as
    // the end of the session would), so the next statement, and the report's read, run outside it
    else if (step.noTransaction && blockOpen()) await conn.rollback();
    if (rebuilt && fkWasOn) await conn.setForeignKeys!(true);
    await fkBack().catch(() => {}); // (a connection lost: the next run opens its own)
    let ended: StepResult['transactionEnded'];
    let preparedAs: string | undefined;
    if (mark?.value !== undefined) {
      const state = () => conn.markState!(mark.value!);
      // The cancel request the run's signal sent (commands/migrate.ts) travels on a connection of its own:
      // sent while a query ran, it may reach the server only now, and cancel this read (seen in CI under
      // load: "may have committed sluice's transaction itself" for a part that never did); read once more.
      const found = await state()
        .catch((err: unknown) => (options.signal?.aborted ? state() : Promise.reject(err)))
        .then(
          (s) => s,
          () => undefined,
        );
      preparedAs = found?.gid;
      if (found === undefined) ended = 'unknown';
      else if (found.state !== 'not-committed') ended = found.state;
      else if (err instanceof TypeScriptError && err.endedTransaction) ended = 'rolled-back';
    }
    const ranAt = err instanceof StatementError ? err.index : undefined;
    // a table rebuild runs its statements without the file's PRAGMAs: numbered as in the file
    const stmt = ranAt && rebuilt ? placeIn(step.statements, rebuilt, ranAt) : ranAt;
    const inner = err instanceof StatementError || err instanceof TypeScriptError || err instanceof CommitAfterFile ? err.cause : err;
    return {
      ...base,
      status: stoppedBy(options.signal, inner) ? 'interrupted' : 'failed',
      ms: Math.round(monotonicMs() - started),
      failedStatement: stmt,
      failedSql: ranAt ? firstLine(statements[ranAt - 1]!) : undefined,
      failedIn: err instanceof TypeScriptError ? err.where : err instanceof CommitAfterFile ? 'the COMMIT sluice runs after its last statement, which left a transaction it opened' : undefined,
      transactionEnded: ended,
      preparedAs,
      error: err instanceof TypeScriptError ? err.what : describeCause(inner),
      statementsRun: step.noTransaction ? kept : undefined,
      statementsUndone: step.noTransaction && ran > kept ? ran - kept : undefined,
      noTransaction: step.noTransaction || undefined,
      cause: inner,
    };
  }
}

/**
 * After a no-transaction file's last statement: the transaction it opened and left open (a BEGIN with
 * no COMMIT, a COMMIT AND CHAIN, a SAVEPOINT on SQLite) is committed, as a run does before the version
 * row (and the proof's round trip of such a revision: prove.ts). Resolves to whether there was one.
 */
export async function commitLeftOpen(conn: Connection): Promise<boolean> {
  if (!conn.transactionOpen?.()) return false;
  await conn.commit();
  return true;
}

/** The 1-based place among `all` of `body`'s statement `n` (`body`: `all` in order, less some, as a rebuild's without its PRAGMAs). */
function placeIn(all: readonly string[], body: readonly string[], n: number): number {
  for (let k = 0, b = 0; k < all.length; k++) if (all[k] === body[b] && ++b === n) return k + 1;
  return n;
}

export function doneStatus(step: PreparedStep, stampOnly: boolean): StepStatus {
  if (stampOnly) return step.direction === 'up' ? 'stamped' : 'unstamped';
  return step.direction === 'up' ? 'applied' : 'reverted';
}
