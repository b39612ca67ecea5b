/**
 * What a run says when it did not simply end: the line of a run a signal stopped (interruptedMessage),
 * and where a revision stands whose TypeScript part ended sluice's transaction itself (migrate.ts).
 */
import type { StepResult } from '../engine.js';
import type { Connection } from '../dialect/types.js';
import { quoteLiteral } from '../sql.js';

/** Where a revision stands whose TypeScript part ended sluice's transaction itself (StepResult.transactionEnded). */
export function transactionEndedState(step: StepResult, single: boolean, now: string): string {
  const fn = step.failedIn ?? 'its TypeScript part';
  const earlier = single ? " (so do this run's earlier revisions)" : '';
  const recorded = step.direction === 'up' ? 'not recorded as applied' : 'still recorded as applied';
  const check = `The version table says the database is at ${now}; check its schema and data by hand before running again`;
  if (step.transactionEnded === 'committed') {
    const before = step.direction === 'up' ? 'its SQL part and what up() ran before its COMMIT' : 'what down() ran before its COMMIT (the down SQL had not run)';
    // what it ran after its COMMIT ran outside any transaction: kept too (was: not said, so a check by
    // hand looked only at what ran before it)
    return `NOT rolled back: ${fn} committed sluice's transaction itself, so ${before} stays${earlier}, and so does what it ran after that COMMIT outside a transaction of its own (each statement committed as it ran); the revision is ${recorded}. ${check}`;
  }
  if (step.transactionEnded === 'prepared') {
    const before = step.direction === 'up' ? 'its SQL part and what up() ran before its PREPARE TRANSACTION' : 'what down() ran before its PREPARE TRANSACTION (the down SQL had not run)';
    const gid = quoteLiteral(step.preparedAs ?? '?');
    return `NOT rolled back: ${fn} prepared sluice's transaction for two-phase commit itself (PREPARE TRANSACTION ${gid}), so ${before} is neither committed nor rolled back${single ? " (nor are this run's earlier revisions)" : ''} and holds its locks; the revision is ${recorded}, and the version table says the database is at ${now}. ${preparedWayOut(gid)}`;
  }
  if (step.transactionEnded === 'rolled-back') return `Rolled back by ${fn} itself: what it ran after its ROLLBACK ran outside any transaction and may be committed, and the revision is ${recorded}. ${check}`;
  return `Not known whether ${fn} committed sluice's transaction itself (the check after the rollback failed): what ran before may be committed${earlier}, and the revision is ${recorded}. ${check}`;
}

/** After a TypeScript part's PREPARE TRANSACTION: the safe way out first (the run can then be made again). */
export function preparedWayOut(gid: string): string {
  return `Run ROLLBACK PREPARED ${gid} (it undoes that work), then run the command again; COMMIT PREPARED ${gid} would keep it without its version row (then record it with make migrate-stamp)`;
}

/** What a no-transaction revision that stopped left behind. */
export function statementsRan(step: StepResult): string {
  const kept = step.statementsRun ?? 0;
  const undone = step.statementsUndone ?? 0;
  const inBlock = `${undone === 1 ? `statement ${kept + 1}` : `statements ${kept + 1}-${kept + undone}`} ran in a transaction the file opened and ${undone === 1 ? 'was' : 'were'} rolled back with it`;
  // a first statement that failed did run (a CREATE INDEX CONCURRENTLY leaves its invalid index: a hunt)
  if (!kept) return undone ? inBlock : step.failedStatement ? `no statement of it completed (statement ${step.failedStatement} failed)` : 'none of its statements ran';
  return `statements 1-${kept} of it ran and were NOT rolled back${undone ? `, ${inBlock}` : ''}`;
}

/** The line of a run its signal stopped (`note`: invalidIndexNote's; `at`: the revision read back). */
export function interruptedMessage(
  name: string,
  stop: NonNullable<ReturnType<typeof interruption>>,
  total: number,
  single: boolean,
  note: string,
  at: string | undefined,
): string {
  const { during, next } = stop;
  let message = `interrupted (${name}) ${during ? `during ${during.revision} (${during.direction})` : `before ${next!.revision} (${next!.direction})`}, ${stop.done} of ${total} revision(s) ${single ? 'run' : 'done'}: `;
  if (during?.transactionEnded === 'prepared') {
    // the way out is to resolve the prepared transaction first, not to run again
    const gid = quoteLiteral(during.preparedAs ?? '?');
    return `${message}${during.revision}'s TypeScript part prepared ${single ? 'the single transaction' : "sluice's transaction"} itself (PREPARE TRANSACTION ${gid}), so what ran before that${single && stop.done ? " (this run's earlier revisions included)" : ''} is neither committed nor rolled back and holds its locks; it is ${during.direction === 'up' ? 'not recorded' : 'still recorded'}. The database is at ${at ?? 'an unknown revision (run make migrate-status)'}. ${preparedWayOut(gid)}`;
  }
  // a TypeScript part that committed the transaction itself (never a no-transaction revision's: no mark)
  const ended = during?.transactionEnded === 'committed' || during?.transactionEnded === 'unknown' ? during.transactionEnded : undefined;
  if (during && ended) {
    const sure = ended === 'committed';
    message += `${during.revision}'s TypeScript part ${sure ? 'committed' : 'may have committed'} ${single ? 'the single transaction' : "sluice's transaction"} itself, so what ran before that${single ? " (this run's earlier revisions included)" : ''} ${sure ? 'stays' : 'may stay'}; it is ${during.direction === 'up' ? 'not recorded' : 'still recorded'}`;
  } else if (single) message += 'the single transaction was rolled back';
  else if (during?.noTransaction) {
    const n = during.failedStatement;
    const cancelled = n && n > (during.statementsRun ?? 0) && (during.cause as { code?: unknown })?.code === '57014';
    message += `${during.revision} is marked sluice:no-transaction: ${statementsRan(during)}${cancelled ? `, statement ${n} (${during.failedSql}) was cancelled` : n ? `, it stopped before statement ${n}` : ''}; it is ${during.direction === 'up' ? 'not recorded' : 'still recorded as applied'}${note}`;
  } else if (during) message += `${during.revision} was rolled back, the ones before it stay`;
  else message += 'every revision done stays';
  return `${message}. The database is at ${at ?? 'an unknown revision (run make migrate-status)'}; ${single ? 'run the command again to continue' : keptAdvice(during)}`;
}

/**
 * What to do after a run stopped: run it again, unless a no-transaction revision's statements that ran
 * stay (running it again would run them a second time: was "run the command again to continue", and
 * the rerun failed on its first statement, `relation "…" already exists`).
 */
export function keptAdvice(during: StepResult | undefined): string {
  if (!during?.noTransaction || !(during.statementsRun ?? 0) || during.transactionEnded) return 'run the command again to continue';
  const kept = during.statementsRun === 1 ? 'statement 1' : `statements 1-${during.statementsRun}`;
  return during.direction === 'up'
    ? `undo what ${kept} of ${during.revision} did before running the command again, or finish the revision by hand and record it with make migrate-stamp REVISION=${during.revision}`
    : `redo what ${kept} of the down of ${during.revision} undid before running the command again, or finish the down by hand and record it with make migrate-stamp REVISION=-1`;
}

/** A run the signal stopped before its end: the step it stopped (if one was running) or the first not run, and how many were done. */
export function interruption(results: StepResult[]): { during?: StepResult; next?: StepResult; done: number } | undefined {
  const during = results.find((r) => r.status === 'interrupted');
  const next = results.find((r) => r.status === 'not-run');
  if (!during && !next) return undefined; // it ended before the signal could stop it
  if (results.some((r) => r.status === 'failed')) return undefined; // a real failure came first: reported as one
  const done = results.filter((r) => r.status !== 'interrupted' && r.status !== 'not-run').length;
  return { during, next, done };
}

/**
 * After a no-transaction revision stopped: PostgreSQL leaves the index of a failed or cancelled CREATE
 * INDEX CONCURRENTLY in place, marked invalid, and a rerun's IF NOT EXISTS would keep it so. Names them.
 */
export async function invalidIndexNote(conn: Connection): Promise<string> {
  const names = await conn.invalidIndexes?.().catch(() => []);
  if (!names?.length) return '';
  return `. The schema holds invalid index(es) ${names.join(', ')} (a CREATE INDEX CONCURRENTLY that failed or was stopped leaves one): drop ${names.length > 1 ? 'them' : 'it'} with DROP INDEX CONCURRENTLY before running again, or an IF NOT EXISTS in the rerun keeps ${names.length > 1 ? 'them' : 'it'} invalid`;
}
