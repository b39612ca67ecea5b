/**
 * Groups of revisions sent as one script (batch.ts writes it): which steps make a group, and one
 * group's run with its per-revision results.
 */
import { GROUP_LIMIT, GroupFailure, planGroup, runPlanned, type GroupItem, type PlannedGroup, type Unrecorded } from './batch.js';
import type { Connection } from './dialect/types.js';
import type { StepResult } from './engine.js';
import { describeCause } from './errors.js';
import type { PreparedStep } from './prepare.js';
import { firstLine } from './sql.js';
import { doneStatus, stoppedBy } from './steprun.js';
import { monotonicMs } from './clock.js';

/** Consecutive transactional steps from `from`, within GROUP_LIMIT. */
export function takeGroup(steps: PreparedStep[], from: number, fits: (s: PreparedStep) => boolean = (s) => !s.noTransaction && !s.typescript): PreparedStep[] {
  const group: PreparedStep[] = [];
  let chars = 0;
  for (let j = from; j < steps.length && fits(steps[j]!) && group.length < GROUP_LIMIT.revisions; j++) {
    const size = steps[j]!.statements.reduce((n, t) => n + t.length, 0);
    if (group.length && chars + size > GROUP_LIMIT.chars) break;
    chars += size;
    group.push(steps[j]!);
  }
  return group;
}

/** The group's statements as they run (translated for the target). */
export function translated(conn: Connection, group: PreparedStep[]): GroupItem[] {
  return group.map((step) => ({ step, statements: step.statements.map((t) => conn.translate(t)) }));
}

/**
 * Run a group in one round trip and emit its results; false when one of its revisions failed.
 * `planned`: its script, written while the previous group ran. `whileRunning`: work done once the
 * script has left, while the server runs it.
 */
export async function runGroupOf(
  conn: Connection,
  group: PreparedStep[],
  o: {
    inTx: boolean;
    unrecorded: Unrecorded[];
    stampOnly: boolean;
    emit: (r: StepResult) => void;
    signal?: AbortSignal;
    planned?: PlannedGroup;
    /** The planned script, already sent (runStepsOn's sendsAhead), and when the server could start it (sent, and the group before replied). */
    running?: Promise<number[]>;
    sentAt?: number;
    /** Told when this group's reply came (the next group, sent ahead, starts on the server then). */
    onSettled?: (at: number) => void;
    whileRunning?: (finished: () => boolean) => Promise<void>;
  },
): Promise<boolean> {
  const started = o.sentAt ?? monotonicMs();
  const planned = o.planned ?? planGroup(conn, translated(conn, group), { ownTransactions: o.inTx });
  const base = (step: PreparedStep) => ({ revision: step.revision.id, direction: step.direction, statements: step.statements.length });
  let side: Promise<void> | undefined;
  try {
    let finished = false;
    const running = (o.running ?? runPlanned(conn, planned, o.unrecorded)).finally(() => {
      finished = true;
      o.onSettled?.(monotonicMs());
    });
    side = o.whileRunning?.(() => finished).catch(() => {}); // keeps its own failures (runStepsOn's late)
    const ms = await running;
    await side;
    group.forEach((step, k) => o.emit({ ...base(step), status: doneStatus(step, o.stampOnly), ms: ms[k] ?? 0 }));
    return true;
  } catch (err) {
    await side;
    if (!(err instanceof GroupFailure)) throw err;
    await conn.rollback(); // the failing revision's transaction, or --single-transaction's
    // the failed revision's own time: the group's, less what the revisions before it took on the server
    const before = (err.ms ?? []).reduce((a, b) => a + b, 0);
    const elapsed = Math.max(0, Math.round(monotonicMs() - started - before));
    group.forEach((step, k) => {
      if (k < err.item) o.emit({ ...base(step), status: doneStatus(step, o.stampOnly), ms: err.ms?.[k] ?? 0 });
      else if (k > err.item) o.emit({ ...base(step), status: 'not-run', ms: 0 });
      else
        o.emit({
          ...base(step),
          status: stoppedBy(o.signal, err.cause) ? 'interrupted' : 'failed',
          ms: elapsed,
          failedStatement: err.statement,
          failedSql: err.statement ? firstLine(step.statements[err.statement - 1]!) : undefined,
          error: describeCause(err.cause),
          cause: err.cause,
        });
    });
    return false;
  }
}

