/**
 * Applies planned steps. Every operation (upgrade, downgrade, stamp, reset) is this engine fed a
 * plan from revision.ts. By default each revision runs in its own transaction with its version row;
 * `single` wraps all steps in one transaction; a revision file marked `-- sluice:no-transaction`
 * runs statement by statement outside any transaction and its version row is written only after the
 * last statement succeeded. Results come back per step rather than as thrown strings.
 */
import type { Connection, ForeignKeyViolations } from './dialect/types.js';
import { describeCause, SluiceError, UsageError } from './errors.js';
import type { Direction, Step } from './revision.js';
import { GROUP_LIMIT, GroupFailure, mayDropPrepared, planGroup, prepareRunStatements, recordInTransaction, releaseRunStatements, retireRunStatementsFor, runPlanned, type PlannedGroup, type Unrecorded } from './batch.js';
import { runGroupOf, takeGroup, translated } from './grouprun.js';
import type { PreparedStep } from './prepare.js';
import { runSavepointGroup } from './savepoints.js';
import { doneStatus, runOneStep, StepInterrupted, stoppedBy } from './steprun.js';
import type { VersionStore } from './store.js';
import { loadTypeScript, type TypeScriptStep } from './tsrevision.js';
import { flushConsole } from './printer.js';
import { monotonicMs } from './clock.js';

/** `interrupted`: the run was stopped by its signal while this step ran; it is rolled back like a failed one. */
/** `prepared`: under --single-transaction, a revision done before a TypeScript part prepared the single transaction (PREPARE TRANSACTION): neither committed nor rolled back. */
export type StepStatus = 'applied' | 'reverted' | 'stamped' | 'unstamped' | 'failed' | 'interrupted' | 'not-run' | 'already-done' | 'rolled-back' | 'prepared';

/** SQL that makes a foreign key deferred or defers them all (SQLite: `DEFERRABLE INITIALLY DEFERRED`, `PRAGMA defer_foreign_keys`). */
const DEFERS_FOREIGN_KEYS = /\bdeferred\b|\bdefer_foreign_keys\b/i;

export interface StepResult {
  revision: string;
  direction: Direction;
  status: StepStatus;
  ms: number;
  statements: number;
  /** On failure: 1-based number of the failing statement, its first line and the database's message. */
  failedStatement?: number;
  failedSql?: string;
  /** On failure in a TypeScript revision's function: which (`drizzle/0004_x.ts up()`). */
  failedIn?: string;
  /**
   * A TypeScript revision's function and sluice's transaction: `committed` — it committed it itself,
   * so what ran before stays; `rolled-back` — it rolled it back itself, and what it ran afterwards ran
   * outside any transaction; `prepared` — it prepared it for two-phase commit (PREPARE TRANSACTION
   * `preparedAs`), so what ran before is neither committed nor rolled back; `unknown` — the check
   * after the rollback failed.
   */
  transactionEnded?: 'committed' | 'rolled-back' | 'prepared' | 'unknown';
  /** With `prepared`: the PREPARE TRANSACTION's identifier (COMMIT PREPARED / ROLLBACK PREPARED it). */
  preparedAs?: string;
  error?: string;
  /** No-transaction revision that failed: how many statements ran (and stay applied). */
  statementsRun?: number;
  /** A no-transaction revision: statements after those, run in a transaction the file opened and rolled back with it. */
  statementsUndone?: number;
  noTransaction?: boolean;
  cause?: unknown;
}

export interface RunOptions {
  /** Only write the version table (stamp). */
  stampOnly?: boolean;
  /** All steps in one transaction: all or nothing. */
  single?: boolean;
  onStep?: (result: StepResult) => void;
  now?: () => Date;
  /** SQLite: a group of revisions sharing a commit commits once it has run this long (default COMMIT_EVERY_MS). */
  commitEveryMs?: number;
  /**
   * Stops the run: no step starts once it is aborted, and the step running when it fires is reported
   * `interrupted` if the database stopped it (the caller cancels the statement: Connection.cancel).
   */
  signal?: AbortSignal;
  /** With `single`, on a connection that groups statements: steps prepared while the run's first ones run (LaterSteps). */
  later?: LaterSteps;
}

/**
 * Under --single-transaction, where a refusal found late still changes nothing (the run's one
 * transaction rolls back): the planned steps after the first few, prepared while the server runs
 * the ones before (reading, parsing and hashing a thousand files costs ~100 ms here, which would
 * otherwise come before the first statement leaves). Used only on connections that group statements
 * (groupsStatements) and for steps without a TypeScript part (the caller checks).
 */
export interface LaterSteps {
  /** The steps not prepared yet, in order. */
  steps: readonly Step[];
  /** Prepare one (what the caller would have done up front); throws what would have refused the run. */
  prepare(step: Step): Promise<PreparedStep>;
  /**
   * Checks that need the database (a down's pre-checks), on steps just prepared: run inside the
   * transaction with nothing else in flight, before those steps run; a throw refuses the run.
   */
  check?(steps: PreparedStep[]): Promise<void>;
  /** Whether `check` would read the database for this step; without it every step is taken to need its check. */
  needsCheck?(step: PreparedStep): boolean;
}

/** Later steps are prepared this many at a time while a group runs (the group's replies are let in between). */
const PULL_CHUNK = 16;

/** Whether runSteps sends consecutive revisions as one script on this connection (batch.ts). */
export function groupsStatements(conn: Connection): boolean {
  return !!conn.capabilities.batchStatements && !!conn.capabilities.runLock && !!conn.executeScript && !!conn.literal;
}

/** The refusal of a no-transaction revision under --single-transaction. */
export function noTransactionInSingle(step: PreparedStep): UsageError {
  return new UsageError(`revision ${step.revision.id} is marked sluice:no-transaction; it cannot run with --single-transaction`);
}

/** Run the steps in order; stops at the first failure and marks the rest not-run. */
export async function runSteps(conn: Connection, store: VersionStore, steps: PreparedStep[], options: RunOptions = {}): Promise<StepResult[]> {
  const grouping = groupsStatements(conn);
  // before any transaction: a PREPARE that fails must not abort one
  const prepared = grouping && steps.length >= 4 ? await prepareRunStatements(conn, steps) : false;
  try {
    return await runStepsOn(conn, store, steps, options, grouping);
  } finally {
    if (prepared) await releaseRunStatements(conn);
  }
}

/**
 * What would refuse the run before its first step (a no-transaction revision under --single-transaction,
 * a TypeScript part that does not load or lacks its function), checked before anything is changed: the
 * commands call it before their backup (a refused run took one, rotating an older one out). runSteps
 * checks again (cheaply: loaded TypeScript parts are kept) for callers that call it alone.
 */
export async function refusalsBeforeRun(conn: Connection, steps: PreparedStep[], options: Pick<RunOptions, 'single' | 'stampOnly'>): Promise<Map<PreparedStep, TypeScriptStep>> {
  if (options.single) {
    const nt = steps.find((s) => s.noTransaction);
    if (nt) throw noTransactionInSingle(nt);
  }
  return options.stampOnly ? new Map<PreparedStep, TypeScriptStep>() : await loadTypeScript(conn, steps);
}

async function runStepsOn(conn: Connection, store: VersionStore, ready: PreparedStep[], options: RunOptions, grouping: boolean): Promise<StepResult[]> {
  const typescript = await refusalsBeforeRun(conn, ready, options);
  const later = grouping && options.single ? options.later : undefined;
  const steps = later ? [...ready] : ready; // with later steps: grows as they are prepared
  const total = ready.length + (later?.steps.length ?? 0);
  let unchecked: PreparedStep[] = []; // later steps prepared, not yet given to later.check
  let late: { error: unknown } | undefined; // preparing later step steps.length failed while a group ran
  let checking: PreparedStep | undefined; // the later step whose checks run (named if the connection is lost)
  /** Prepare later steps until `upTo` steps are prepared (or none is left). */
  const pull = async (upTo: number) => {
    while (later && steps.length < Math.min(upTo, total)) {
      const step = await later.prepare(later.steps[steps.length - ready.length]!);
      if (step.noTransaction) throw noTransactionInSingle(step);
      retireRunStatementsFor(conn, step);
      steps.push(step);
      unchecked.push(step);
    }
  };
  /**
   * While a group runs: prepare the steps after it (`after`), a few at a time, letting the group's
   * replies in between, until a group's worth is ready or the group finished with at least one ready.
   */
  const pullWhile = async (after: number, finished: () => boolean) => {
    const upTo = Math.min(after + GROUP_LIMIT.revisions, total);
    while (steps.length < upTo) {
      await pull(Math.min(steps.length + PULL_CHUNK, upTo));
      if (finished() && steps.length > after) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  /** Step i's result fields before it runs (a later step not prepared yet: no statements counted). */
  const baseOf = (i: number) => {
    const at = steps[i] ?? later!.steps[i - ready.length]!;
    return { revision: at.revision.id, direction: at.direction, statements: steps[i]?.statements.length ?? 0 };
  };
  /** The steps that run at step i's turn: its group, or itself alone. */
  const turnAt = (i: number): PreparedStep[] => {
    const group = grouping ? takeGroup(steps, i) : [];
    return group.length ? group : [steps[i]!];
  };
  const results: StepResult[] = [];
  // --single-transaction: every result is told at the end, in order, once the run's commit or rollback
  // says what became of it (was: only the failed and not-run ones, so the revisions rolled back got no line)
  const emit = (r: StepResult) => {
    results.push(r);
    if (!options.single) options.onStep?.(r);
  };
  // --single-transaction: the grouped revisions run so far, whose version rows are written once, before
  // the commit or a step that runs alone (batch.ts recordInTransaction); false when one is not as written
  const unrecorded: Unrecorded[] = [];
  const record = async (): Promise<boolean> => {
    const items = unrecorded.splice(0);
    try {
      await recordInTransaction(conn, items);
      return true;
    } catch (err) {
      if (!(err instanceof GroupFailure)) throw err;
      await conn.rollback();
      const { step } = items[err.item]!;
      const named = results.find((r) => r.revision === step.revision.id && r.direction === step.direction)!;
      Object.assign(named, { status: stoppedBy(options.signal, err.cause) ? 'interrupted' : 'failed', error: describeCause(err.cause), cause: err.cause });
      return false;
    }
  };
  const inTx = !options.single;
  // SQLite: foreign keys are set outside a transaction only, so one rebuild turns them off for the whole run
  const singleRebuild = options.single ? steps.find((s) => conn.foreignKeyRebuild?.(s.statements)) : undefined;
  const fkWasOnSingle = singleRebuild ? await conn.setForeignKeys!(false) : false;
  if (options.single) await conn.begin();
  const fkBeforeSingle: ForeignKeyViolations | undefined = fkWasOnSingle ? await conn.foreignKeyViolations!() : undefined;
  let failed = false;
  let stopped = false; // the signal fired between steps: nothing more starts
  // SQLite: revisions share one commit, each in its own savepoint (not table rebuilds: they need foreign keys off outside a transaction).
  const savepoints = !grouping && !!conn.capabilities.runLock && !!conn.capabilities.groupCommits;
  let oneByOneUntil = 0;
  // a grouped revision may have dropped the driver's named statements (the version row's: steprun.ts)
  let droppedPrepared = false;
  // the next group's script, written while the server runs the current one; `running`: already sent (sendsAhead)
  let next: { first: number; planned: PlannedGroup; running?: Promise<number[]>; sentAt?: number; settled?: boolean } | undefined;
  let lastReplyAt = 0; // when the last group's reply came (its duration's start for a group sent ahead)
  /**
   * --single-transaction: a group whose steps need no check of their own is sent while the one before
   * it still runs (the driver holds it until that one's reply), so the server does not wait for sluice
   * between groups. A failure before it aborts the run's transaction: the server then refuses its
   * first statement, nothing of it runs, and it is reported not run; the run rolls back as always.
   */
  const sendsAhead = (group: PreparedStep[]) =>
    !!options.single && !!conn.capabilities.queuesScripts && (!later?.check || (!!later.needsCheck && !group.some((s) => later.needsCheck!(s))));
  // A TypeScript revision runs alone: its SQL part, its function and its version row in one transaction.
  // So does, from the first revision that may leave a deferred foreign key broken on, every revision: such
  // a key is checked at COMMIT, and a group's later revision could mend what a revision of its own fails.
  // A TypeScript part may make such keys too, unread: the database is asked again after one has run.
  let deferredFrom = Infinity;
  if (savepoints && inTx) {
    const k = (await conn.deferredForeignKeys?.()) ? 0 : steps.findIndex((s) => s.statements.some((sql) => DEFERS_FOREIGN_KEYS.test(sql)));
    if (k >= 0) deferredFrom = k;
  }
  const committable = (k: number) => {
    const s = steps[k]!;
    return k < deferredFrom && !s.noTransaction && !s.typescript && !conn.foreignKeyRebuild?.(s.statements);
  };
  for (let i = 0; i < total; i++) {
    // the lines said of the steps before go out before this one starts (SQLite runs it synchronously,
    // before the printer's own flush, and a signal ends such a run at once: see printer.ts)
    flushConsole();
    const queued = next?.first === i ? next : undefined;
    const sent = !!queued?.running; // this turn's group left already: its own reply says what the signal did
    if (!failed && !sent && options.signal?.aborted) failed = stopped = true;
    if (failed) {
      emit({ ...baseOf(i), status: 'not-run', ms: 0 });
      continue;
    }
    // the signal's cancel request reached the server between the group before and this one: it stops this one
    if (sent && options.signal?.aborted && !queued!.settled) void conn.cancel?.().catch(() => {});
    if (later) {
      try {
        // a later step that failed to prepare refuses the run when its turn comes (steps before it run
        // first: a failure among them is the one reported, whatever the timing)
        if (i >= steps.length && late) throw late.error;
        await pull(i + 1);
        // this turn's steps are checked, at the state the run left (a group sent ahead has none to check)
        const turn = new Set(queued ? queued.planned.items.map((it) => it.step) : turnAt(i));
        const fresh = unchecked.filter((s) => turn.has(s));
        unchecked = unchecked.filter((s) => !turn.has(s));
        if (later.check && !sent) {
          for (const step of fresh) {
            checking = step;
            await later.check([step]);
          }
        }
        checking = undefined;
      } catch (err) {
        // a refusal of a later step: what ran is in the run's one transaction, rolled back
        await conn.rollback().catch(() => {});
        if (!(err instanceof SluiceError) && conn.lostConnection(err)) {
          // the connection was lost while preparing or checking later steps: this turn's revision fails
          // with it (the run's results say rolled back; the command reads back where the database is)
          failed = true;
          const during = checking && checking !== (steps[i] ?? later.steps[i - ready.length]) ? `while checking ${checking.revision.id} (${checking.direction}) before it: ` : '';
          emit({ ...baseOf(i), status: 'failed', ms: 0, error: `${during}${describeCause(err)}`, cause: err });
          continue;
        }
        if (!options.signal?.aborted) throw err;
        // else the signal's cancel stopped a later step's check: stopped below
      }
      if (!sent && options.signal?.aborted) {
        // the signal came while later steps were prepared or checked: nothing more starts (rolled back)
        failed = stopped = true;
        emit({ ...baseOf(i), status: 'not-run', ms: 0 });
        continue;
      }
    }
    const step = steps[i]!;
    const base = { revision: step.revision.id, direction: step.direction, statements: step.statements.length };
    const grouped = grouping && !step.noTransaction && !step.typescript;
    if (!grouped && unrecorded.length && !(await record())) {
      failed = true;
      emit({ ...base, status: 'not-run', ms: 0 });
      continue;
    }
    if (grouped) {
      const group = queued ? queued.planned.items.map((it) => it.step) : takeGroup(steps, i);
      // The next group's script is written while the server runs this one (it is thrown away if this
      // one fails); later steps are prepared first, a failure kept for the loop's next turn.
      const after = i + group.length;
      next = undefined;
      failed = !(await runGroupOf(conn, group, {
        inTx,
        unrecorded,
        stampOnly: !!options.stampOnly,
        emit,
        signal: options.signal,
        planned: queued?.planned,
        running: queued?.running,
        // a group sent ahead waits in the driver until the one before replies: the server starts it then
        sentAt: queued?.sentAt === undefined ? undefined : Math.max(queued.sentAt, lastReplyAt),
        onSettled: (at) => (lastReplyAt = at),
        whileRunning: async (finished) => {
          if (later && !late) await pullWhile(after, finished).catch((error: unknown) => (late = { error }));
          const nextGroup = takeGroup(steps, after); // empty past the end, before a step that runs alone or one not prepared
          if (!nextGroup.length) return;
          try {
            next = { first: after, planned: planGroup(conn, translated(conn, nextGroup), { ownTransactions: inTx }) };
          } catch {
            return; /* planned again when its turn comes, which reports what failed */
          }
          if (sendsAhead(nextGroup) && !options.signal?.aborted) {
            const sent = next;
            sent.sentAt = monotonicMs();
            sent.running = runPlanned(conn, sent.planned, unrecorded);
            // awaited at its turn, or (a failure before it) not at all
            sent.running.then(
              () => (sent.settled = true),
              () => (sent.settled = true),
            );
          }
        },
      }));
      if (group.some(mayDropPrepared)) droppedPrepared = true;
      i += group.length - 1;
      continue;
    }
    if (savepoints && inTx && i >= oneByOneUntil && committable(i)) {
      // Every consecutive committable step: the group commits by time (savepoints.ts), not by count.
      let end = i;
      while (end < steps.length && committable(end)) end++;
      const r = await runSavepointGroup(conn, store, steps.slice(i, end), { stampOnly: !!options.stampOnly, now: options.now, done: (s) => doneStatus(s, !!options.stampOnly), commitEveryMs: options.commitEveryMs });
      if (r.retry) {
        oneByOneUntil = i + Math.max(1, r.taken); // its commit failed and nothing stayed: one transaction per revision
        i -= 1;
        continue;
      }
      r.results.forEach(emit);
      failed = !r.ok;
      i += r.taken - 1;
      continue;
    }
    const forgetPrepared = droppedPrepared;
    droppedPrepared = false;
    const r = await runOneStep(conn, store, step, { inTx, single: !!options.single, ts: typescript.get(step), signal: options.signal, now: options.now, stampOnly: !!options.stampOnly, forgetPrepared });
    emit(r);
    if (r.status === 'failed' || r.status === 'interrupted') failed = true;
    else if (step.typescript && savepoints && inTx && deferredFrom > i && (await conn.deferredForeignKeys?.())) deferredFrom = i + 1;
  }
  if (options.single && !failed && options.signal?.aborted) {
    // The signal came while the run's last scripts ran and no cancel stopped them (a pooler that drops
    // cancel requests, or one that reached the server between two scripts): nothing commits. The last
    // revision reads interrupted at the run's commit, as a revision run alone does at its own.
    failed = stopped = true;
    const last = results.at(-1);
    if (last) Object.assign(last, { status: 'interrupted', error: describeCause(new StepInterrupted()), cause: new StepInterrupted() });
  }
  if (options.single && !failed && unrecorded.length && !(await record())) failed = true;
  if (options.single) {
    if (failed) {
      if (stopped) await conn.rollback();
      // a TypeScript part that committed the transaction committed the run's earlier revisions too; one
      // that prepared it left them prepared, neither committed nor rolled back
      const ended = results.find((r) => r.transactionEnded === 'committed' || r.transactionEnded === 'prepared' || r.transactionEnded === 'unknown')?.transactionEnded;
      const earlier = ended === undefined ? 'rolled-back' : ended === 'prepared' ? 'prepared' : undefined;
      if (earlier) for (const r of results) if (r.status !== 'failed' && r.status !== 'interrupted' && r.status !== 'not-run' && r.status !== 'already-done') r.status = earlier;
      for (const r of results) options.onStep?.(r);
    } else {
      try {
        if (singleRebuild && fkWasOnSingle) {
          await conn.checkForeignKeys!(fkBeforeSingle, 'at the end of the single transaction').catch((err: unknown) => {
            throw new Error(
              `${describeCause(err)}. The run had foreign keys off throughout (${singleRebuild.revision.id} rebuilds a table, and SQLite sets them outside a transaction only), so any revision of it may have left those rows: a rebuild that dropped parent rows, or a delete whose ON DELETE action could not run. Run without --single-transaction: each revision then runs with its own setting and is checked on its own`,
              { cause: err },
            );
          });
        }
        await conn.commit();
      } catch (err) {
        await conn.rollback();
        const last = results.at(-1);
        for (const r of results) r.status = 'rolled-back';
        if (last) Object.assign(last, { status: 'failed', error: describeCause(err), cause: err });
      }
      for (const r of results) options.onStep?.(r);
    }
    if (fkWasOnSingle) await conn.setForeignKeys!(true);
  }
  return results;
}

