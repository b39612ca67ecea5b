/**
 * upgrade, downgrade, stamp and reset: one plan (revision.ts), one engine (engine.ts).
 */
import { backupBeforeChange, backupKeep } from '../backup.js';
import { dropContext, loadContext, withSession, type CommandOptions, type Context, type Session } from '../context.js';
import { checksumOf, tsOf } from '../revisionreads.js';
import { checkIntegrity, missingPartWarnings } from '../integrity.js';
import { interruptedMessage, interruption, invalidIndexNote, keptAdvice, statementsRan, transactionEndedState } from './runreport.js';
import { needsPreCheck, preflightDown } from '../preflight.js';
import { checkCascadingDrops } from '../sqlitedrops.js';
import { groupsStatements, noTransactionInSingle, refusalsBeforeRun, runSteps, type LaterSteps, type StepResult } from '../engine.js';
import { type PreparedStep } from '../prepare.js';
import { prepareFor } from './stepprep.js';
import { openConnection, type Connection } from '../dialect/index.js';
import { checkpoint, ConnectionLost, describeCause, Interrupted, MigrationFailed, Refused, signalName, UsageError } from '../errors.js';
import { VersionStore } from '../store.js';
import { checkOptions, MOVE_OPTIONS } from '../options.js';
import { currentIndex, labelOf, lastAppliedLeft, outOfOrder, plan, planStamp, requireRevisionName, resolveTarget, type Step } from '../revision.js';
import { type RevisionFile } from '../source.js';
import { withGap } from '../tsrevision.js';
import { autoTakeover, planTakeover, type TakeoverSummary } from './takeover.js';

export interface MoveOptions extends CommandOptions {
  /** Target revision: head, base, +N, -N, a tag, a number. */
  revision?: string;
  /** Plan and return the SQL without touching the database. */
  dryRun?: boolean;
  /** Proceed although an applied up file changed (checksum mismatch). */
  allowChanged?: boolean;
  /** All revisions in one transaction (all or nothing) instead of one transaction per revision. */
  singleTransaction?: boolean;
  /** SQLite: skip the backup taken before a change. */
  noBackup?: boolean;
  onStep?: (result: StepResult) => void;
  /** Called once the steps are known, before the first runs (the CLI's progress: revision n/N). */
  onPlan?: (steps: { revision: string; direction: 'up' | 'down' }[]) => void;
  /** Called when the run takes the database over from drizzle's migrator (dry run: would), before any step. */
  onTakeover?: (takeover: TakeoverSummary, dryRun: boolean) => void;
  /**
   * Called with each of the result's `warnings` once the steps are known, before the first runs (dry run:
   * `dryRun` true), so that a run that then fails has shown them too (the CLI prints them then).
   */
  onWarning?: (warning: string, dryRun: boolean) => void;
  /**
   * Stops the run cleanly (PostgreSQL): aborting it cancels the statement running on the server, which
   * rolls its revision back, starts nothing more, and the command throws Interrupted saying where the
   * database is. The abort's reason names the signal ('SIGINT' or 'SIGTERM'; anything else reads as SIGINT).
   */
  signal?: AbortSignal;
  /**
   * Called with true when the run's steps begin on a connection the signal can stop (PostgreSQL), and
   * with false when they end (`finished`: the run's steps ended, and what follows only reads back and
   * reports). The CLI listens for Ctrl+C and SIGTERM in between, and after `finished` until it exits (a
   * signal then stops nothing: the result is printed with a note, exit 0); elsewhere, and on SQLite
   * (whose statements run synchronously in this process), a signal ends the process at once.
   */
  onInterruptible?: (possible: boolean, finished?: boolean) => void;
  /**
   * Up only: of the revisions the target takes in, apply only these (migrate-check's replay of a
   * database's applied set, where a pending revision older than the current one is left out).
   */
  only?: ReadonlySet<string>;
}

export interface MoveResult {
  database: string;
  from: string;
  to: string;
  dryRun: boolean;
  steps: StepResult[];
  /** Dry run: the statements each step would run. */
  sql?: { revision: string; direction: string; statements: string[] }[];
  /** Pending revisions that sort before the current one (merged from another branch); applied in order, reported. */
  outOfOrder: string[];
  /** SQLite: the backup taken before the change. */
  backup?: string;
  /** Set when this run took the database over from drizzle's migrator (commands/takeover.ts) before moving. */
  takeover?: TakeoverSummary;
  /** stamp --purge: the version table's rows removed, and the revisions recorded again (up to the target, today's checksums). */
  purged?: { removed: number; recorded: number };
  /** What the run did (or, dry, would do) that the user should know of: `down --allow-changed` reverting a revision whose TypeScript part is missing (also given to onWarning, before the first step). */
  warnings?: string[];
}

type Kind = 'upgrade' | 'downgrade' | 'stamp';

/** Under --single-transaction on a server, the steps prepared before the run starts (the rest: while it runs). */
const EAGER_STEPS = 8;

async function move(kind: Kind, callerGiven: MoveOptions, defaultTarget: string): Promise<MoveResult> {
  const given: MoveOptions = { ...callerGiven, onPlan: reporting(callerGiven.onPlan), onTakeover: reporting(callerGiven.onTakeover), onWarning: reporting(callerGiven.onWarning), onInterruptible: reporting(callerGiven.onInterruptible) };
  // An explicitly empty target is a mistake (not "head"): refused before anything is opened or created.
  // A library caller's number (`revision: 3`) is read as its text from here on.
  const options = given.revision === undefined ? given : { ...given, revision: requireRevisionName(given.revision, kind === 'stamp' ? undefined : defaultTarget) };
  const write = !options.dryRun;
  const ctx = await loadContext(options, { connect: { write, prefetch: kind === 'upgrade' ? 'up' : kind === 'downgrade' ? 'down' : 'stat', signal: options.signal } });
  const backs = write && kind !== 'stamp' && !options.noBackup && ctx.env.SLUICE_NO_BACKUP !== '1';
  try {
    // a bad SLUICE_BACKUP_KEEP is refused before the database is opened (the backup comes after the lock)
    if (backs && ctx.target.dialect === 'sqlite') backupKeep(ctx.env);
    // a target that names no revision is refused before the database is opened or created (relative
    // targets need the version table: they are resolved in the session)
    if (options.revision !== undefined && !/^\s*[+-]/.test(options.revision)) resolveTarget(ctx.history.revisions, new Set(), options.revision);
    // SQLite sees a signal only at this checkpoint (it cannot cancel a statement): one given already stops
    // the command before the file is opened (was: an up created the file, empty, then refused)
    if (write && ctx.target.dialect === 'sqlite' && options.signal?.aborted && !ctx.connection) await checkpoint(options.signal, beforeAnyRevision(kind));
  } catch (err) {
    dropContext(ctx);
    throw err;
  }
  // A database drizzle's migrator manages is taken over first (under the lock, before sluice's table exists).
  let takeover: TakeoverSummary | undefined;
  const beforeEnsure = async (c: Connection, s: VersionStore) => {
    takeover = await autoTakeover(ctx, c, s);
    if (takeover) options.onTakeover?.(takeover, false);
  };
  // A refusal before any revision ran says "nothing was changed"; a takeover this run recorded is written by then
  const tookOver = (err: unknown): never => {
    if (takeover && write && err instanceof Error) err.message = err.message.replace('nothing was changed', `no revision ran (this run did record drizzle's ${takeover.rows} row(s) in sluice_version: the takeover, which runs no SQL)`);
    throw err;
  };
  let warned: string[] = [];
  return withSession(ctx, write, async (session) => {
    // A refusal before any revision runs leaves nothing behind: the sluice_version (and schema) this
    // session made for it, still empty, is removed (was: a refused first up left both, e.g. a
    // no-transaction revision under --single-transaction, or an up the parser cannot read).
    let running = false;
    try {
      return await moveIn(session, () => (running = true));
    } catch (err) {
      if (write && !running) await session.store.dropIfMadeEmpty();
      // the run's warnings go with its failure too (--json's error document): said before the steps ran
      if (warned.length && err instanceof Error) Object.assign(err, { warnings: warned });
      throw err;
    }
  }, { beforeEnsure, mayCreate: kind !== 'downgrade', rekeyLater: true, signal: options.signal, onInterruptible: options.onInterruptible }); // a down or reset never makes the SQLite file it would find empty

  async function moveIn({ conn, store, applied, appliedIds, rekey }: Session, starting: () => void): Promise<MoveResult> {
    if (!write) {
      const planned = await planTakeover(ctx, conn, store);
      if (planned) {
        const { records, ...summary } = planned;
        takeover = summary;
        applied = records;
        appliedIds = new Set(records.map((r) => r.revision));
        options.onTakeover?.(summary, true);
      }
    }
    // a stamp runs no SQL, so an applied file that changed does not stop it; rows the folder lacks do
    // (database ahead of the code: stamp --purge is the way, as every other command says)
    // `allowChanged: true` only (a JavaScript caller's 'false' was taken for yes; found by a hunt)
    checkIntegrity(ctx, applied, { allowChanged: kind === 'stamp' || options.allowChanged === true });
    const history = ctx.history.revisions;
    const spec = options.revision ?? defaultTarget;
    // `down +1` counts forward: a down never goes there (was, at head: "+1 is past head: only 0 revision(s) are pending")
    if (kind === 'downgrade' && /^\+\d+$/.test(spec.trim()) && Number(spec.trim().slice(1)) > 0) {
      throw new UsageError(`down ${spec.trim()}: +N counts forward, and a down goes back; give -N, a revision below the current one, or base (make migrate-down REVISION=-1)`);
    }
    const target = resolveTarget(history, appliedIds, spec);
    // `up <tag>` to a revision pending below the current one applies it; `up -1` never goes below
    const named = !/^[+-]\d+$/.test(spec.trim()) && !['head', 'heads', 'base'].includes(spec.trim());
    const planned: Step[] =
      kind === 'stamp' ? planStamp(history, appliedIds, target, { relative: /^[+-]\d+$/.test(spec.trim()) }) : plan(history, appliedIds, target, kind === 'upgrade' ? 'up' : 'down', { named });
    const steps = kind === 'upgrade' && options.only ? planned.filter((s) => options.only!.has(s.revision.id)) : planned;
    const left = kind === 'downgrade' && !named && spec.trim() !== 'base' ? lastAppliedLeft(history, applied, steps) : undefined;
    if (left) {
      const first = steps[0]!.revision.id;
      throw new Refused(`down ${spec.trim()} would revert ${first}, the current revision by place, but the revision applied last is ${left.revision.id} (out of order, ${left.appliedAt}), which it leaves applied; name the target to go ahead (make migrate-down REVISION=${labelOf(history, target)}); ${left.revision.id} is reverted only with the revisions above it (REVISION=${labelOf(history, left.revision.index - 1)}); nothing was changed`);
    }
    // --single-transaction on a server: only the first steps are prepared up front, the rest while
    // the server runs those (engine.ts LaterSteps); a refusal among them rolls the whole run back.
    const lazy = !!options.singleTransaction && write && kind !== 'stamp' && steps.length > EAGER_STEPS && groupsStatements(conn) && !steps.some((s) => tsOf(ctx, s.revision as RevisionFile));
    const prepared: PreparedStep[] = [];
    for (const s of lazy ? steps.slice(0, EAGER_STEPS) : steps) prepared.push(await prepareFor(ctx, s, kind === 'stamp'));
    const later: LaterSteps | undefined = lazy
      ? {
          steps: steps.slice(EAGER_STEPS),
          prepare: (s) => prepareFor(ctx, s, false),
          check: kind === 'downgrade' ? (ps) => preflightDown(conn, ps, { inTransaction: true }).catch(tookOver) : undefined,
          needsCheck: needsPreCheck,
        }
      : undefined;
    const early = outOfOrder(history, appliedIds)
      .filter((r) => r.index <= target)
      .map((r) => r.id);
    // Where the run leaves the database, from its steps: a down to a revision that was never applied
    // (pending out of order) leaves the one before it current, not the target.
    const after = new Set(appliedIds);
    for (const s of steps) s.direction === 'up' ? after.add(s.revision.id) : after.delete(s.revision.id);
    // --allow-changed lets a down through a revision whose TypeScript part is gone: its down(db) cannot run
    const warnings = kind === 'downgrade' && options.allowChanged === true ? missingPartWarnings(ctx, applied, steps.map((s) => s.revision as RevisionFile), !write) : [];
    const base = {
      database: conn.display,
      from: labelOf(history, currentIndex(history, appliedIds)),
      to: labelOf(history, currentIndex(history, after)),
      outOfOrder: kind === 'upgrade' ? early : [],
      ...(takeover ? { takeover } : {}),
      ...(warnings.length ? { warnings } : {}),
    };
    warned = warnings;
    for (const w of warnings) options.onWarning?.(w, !write);
    if (options.dryRun) {
      // what the real run refuses before its first step, but the TypeScript parts (a dry run never loads them)
      if (options.singleTransaction) {
        const nt = prepared.find((p) => p.noTransaction);
        if (nt) throw noTransactionInSingle(nt);
      }
      return {
        ...base,
        dryRun: true,
        steps: prepared.map((p) => ({ revision: p.revision.id, direction: p.direction, status: 'not-run' as const, ms: 0, statements: p.statements.length })),
        // A TypeScript step is never run by a dry run: a marked gap stands in its place.
        sql: prepared.map((p) => ({ revision: p.revision.id, direction: p.direction, statements: withGap(p.statements.map((s) => conn.translate(s)), p.typescript, p.direction) })),
      };
    }
    // A signal that came before anything ran stops the command on every dialect (SQLite cannot cancel a
    // statement, so there it is seen only here, before the backup): Interrupted, no revision ran.
    if (!(conn.cancel && options.signal)) await checkpoint(options.signal, beforeAnyRevision(kind));
    if (kind === 'downgrade') await preflightDown(conn, prepared).catch(tookOver);
    else if (kind === 'upgrade') await checkCascadingDrops(conn, prepared).catch(tookOver); // SQLite: an up's DROP TABLE too
    await refusalsBeforeRun(conn, prepared, { stampOnly: kind === 'stamp', single: options.singleTransaction });
    // Only a run that changes something backs up (a folder that cannot be written refuses nothing else).
    // A takeover this run recorded is written by then: the refusal says so instead of "nothing was changed".
    const backup = backs && prepared.length ? await backupBeforeChange(ctx, conn, applied.length > 0).catch(tookOver) : undefined;
    // accepted: the rows migrate-merge moved get their new tags before the steps write any
    await rekey();
    options.onPlan?.(steps.map((p) => ({ revision: p.revision.id, direction: p.direction })));
    const { signal } = options;
    const stoppable = !!conn.cancel && !!signal;

    starting();
    const results = await runCancellable(conn, options, () =>
      runSteps(conn, store, prepared, { stampOnly: kind === 'stamp', single: options.singleTransaction, onStep: reporting(options.onStep), signal: stoppable ? signal : undefined, later }),
    );
    const label = (rows: { revision: string }[]) => labelOf(history, currentIndex(history, new Set(rows.map((r) => r.revision))));
    const stop = stoppable && signal!.aborted ? interruption(results) : undefined;
    if (stop) {
      // The cancel request has reached the server by now; a late one could still stop this read once.
      const rows = await store.list().catch(() => store.list()).catch(() => undefined);
      const at = rows && label(rows);
      const name = signalName(signal!);
      if (rows?.length === 0 && !options.singleTransaction) await store.dropIfMadeEmpty(); // a first run that recorded nothing leaves no sluice_version
      const message = interruptedMessage(name, stop, results.length, !!options.singleTransaction, stop.during?.noTransaction ? await invalidIndexNote(conn) : '', at);
      throw Object.assign(new Interrupted(message, name, at, { cause: stop.during?.cause }), { results });
    }
    const failure = results.find((r) => r.status === 'failed');
    if (failure) {
      if (conn.lostConnection(failure.cause)) {
        const at = await readBackAfterLoss(ctx);
        const lost = `connection lost during ${failure.revision} (${failure.direction}): ${failure.error}`;
        // a no-transaction revision's statements that ran stay: a rerun would run them again (was: "Run the command again to continue" alone)
        const kept = failure.noTransaction ? `; it is marked sluice:no-transaction: ${statementsRan(failure)}` : '';
        const advice = keptAdvice(failure.noTransaction ? failure : undefined);
        throw Object.assign(
          new ConnectionLost(
            `${lost}${kept}; the database is at ${at === undefined ? 'an unknown revision (run make migrate-status when it is reachable)' : label(at)}. ${advice[0]!.toUpperCase()}${advice.slice(1)}`,
            failure.revision,
            at === undefined ? undefined : label(at),
            { cause: failure.cause, failure: lost },
          ),
          { results },
        );
      }
      // a signal that came with the failure may have sent a cancel that lands on this read: read once more
      const rows = await store.list().catch((err) => (signal?.aborted ? store.list() : Promise.reject(err)));
      const now = label(rows);
      // a first run that recorded nothing leaves no sluice_version (not under --single-transaction, whose
      // rollback leaves the table as it always did; nor after a function that ended the transaction itself)
      if (rows.length === 0 && !options.singleTransaction && !failure.transactionEnded) await store.dropIfMadeEmpty();
      const where = failure.failedStatement
        ? `at statement ${failure.failedStatement}/${failure.statements} (${failure.failedSql})`
        : failure.failedIn
          ? `in ${failure.failedIn}`
          : `after its ${failure.statements} statement(s), while recording and committing it`;
      let state = failure.noTransaction
        ? `It is marked sluice:no-transaction: ${statementsRan(failure)}; it is ${failure.direction === 'up' ? 'not recorded as applied' : 'still recorded as applied'}${await invalidIndexNote(conn)}. The database is at ${now}`
        : failure.transactionEnded
          ? transactionEndedState(failure, !!options.singleTransaction, now)
          : options.singleTransaction
          ? `Single transaction rolled back: the database is at ${now}, as before the run`
          : `Rolled back: the database is at ${now}`;
      // a database built before sluice kept it (Alembic, drizzle-kit push, a script): the first up meets its tables
      if (failure.direction === 'up' && rows.length === 0 && /already exists/i.test(failure.error ?? '')) {
        state += `. If another tool built this database (Alembic, drizzle-kit push, a script), record the revision it matches with make migrate-stamp REVISION=<revision> (make migrate-show REVISION=<revision> shows what each one builds), then make migrate-up`;
      }
      if (backup) state += `. Backup from before the run: ${backup}`;
      // the run's prepared version-row statements (batch.ts) dropped by something the revision's text does not show
      if (/prepared statement "sluice_run_/.test(failure.error ?? '')) {
        state += `. Something the revision ran (a function calling DEALLOCATE ALL?) dropped sluice's prepared statements; ${failure.direction === 'up' ? 'apply' : 'revert'} it in a run of fewer than four revisions (${failure.direction === 'up' ? 'make migrate-up REVISION=+1' : 'make migrate-down REVISION=-1'}), which does not prepare them`;
      }
      const failed = `revision ${failure.revision} (${failure.direction}) failed ${where}: ${failure.error}`;
      throw Object.assign(
        new MigrationFailed(`${failed}. ${state}`, failure.revision, failure.failedStatement ?? 0, { cause: failure.cause, failure: failed }),
        { results },
      );
    }
    return { ...base, dryRun: false, steps: results, backup };
  }
}

/** Where a signal that stops the command before its first step came (Interrupted's message). */
const beforeAnyRevision = (kind: Kind) => `migrate-${kind === 'upgrade' ? 'up' : kind === 'downgrade' ? 'down' : 'stamp'}, before any revision ran`;

/**
 * Run the steps, the signal (when the connection can be cancelled) cancelling the statement running;
 * onInterruptible tells the caller when a signal can stop the run this way.
 */
async function runCancellable(conn: Connection, options: MoveOptions, run: () => Promise<StepResult[]>): Promise<StepResult[]> {
  const { signal } = options;
  if (!conn.cancel || !signal) return run();
  const cancel = () => void conn.cancel!();
  signal.addEventListener('abort', cancel, { once: true });
  options.onInterruptible?.(true);
  try {
    return await run();
  } finally {
    signal.removeEventListener('abort', cancel);
    options.onInterruptible?.(false, true);
  }
}

/** After a lost connection: the version table as read on a new connection, or undefined when it cannot be read. */
async function readBackAfterLoss(ctx: Context): Promise<{ revision: string }[] | undefined> {
  try {
    const conn = await openConnection(ctx.target, { write: false, env: { ...ctx.env, SLUICE_CONNECT_TIMEOUT: ctx.env.SLUICE_CONNECT_TIMEOUT ?? '5' } });
    try {
      return await new VersionStore(conn).list();
    } finally {
      await conn.close();
    }
  } catch {
    return undefined;
  }
}

/** Apply pending revisions up to the target (default head). */
export async function upgrade(options: MoveOptions = {}): Promise<MoveResult> {
  checkOptions('upgrade', options, MOVE_OPTIONS);
  return move('upgrade', options, 'head');
}

/** Revert applied revisions down to the target (default -1). */
export async function downgrade(options: MoveOptions = {}): Promise<MoveResult> {
  checkOptions('downgrade', options, MOVE_OPTIONS);
  return move('downgrade', options, '-1');
}

/**
 * Record the database as being at the target, running no migration SQL. `purge` (Alembic's
 * `stamp --purge`): empty the version table first, whatever it holds, then record the target.
 */
export async function stamp(options: MoveOptions & { revision: string; purge?: boolean }): Promise<MoveResult> {
  checkOptions('stamp', options, { ...MOVE_OPTIONS, purge: 'boolean' }, ['revision']);
  const revision = requireRevisionName(options.revision);
  if (options.purge) return purgeAndStamp({ ...options, revision });
  return move('stamp', { ...options, revision }, revision);
}

/**
 * stamp --purge: for a version table the folder no longer explains (revisions it lacks, "database
 * ahead of the code"). In one transaction: delete every row, then record every revision up to the
 * target as applied now, with the checksum of today's up file. No migration SQL runs. Relative
 * targets are refused: once the table is emptied there is no current revision to count from.
 */
async function purgeAndStamp(options: MoveOptions & { revision: string }): Promise<MoveResult> {
  if (/^[+-]\d+$/.test(options.revision)) {
    throw new UsageError(`stamp --purge needs head, base, a tag or a number, not the relative ${options.revision}: the purged table has no current revision to count from`);
  }
  const ctx = await loadContext(options);
  const history = ctx.history.revisions;
  const target = resolveTarget(history, new Set(), options.revision);
  return withSession(ctx, !options.dryRun, async ({ conn, store, applied, appliedIds }) => {
    const keep = history.filter((r) => r.index <= target);
    const keepIds = new Set(keep.map((r) => r.id));
    const steps: StepResult[] = [
      ...applied.filter((a) => !keepIds.has(a.revision)).reverse().map((a) => ({ revision: a.revision, direction: 'down' as const, status: 'unstamped' as const, ms: 0, statements: 0 })),
      ...keep.filter((r) => !appliedIds.has(r.id)).map((r) => ({ revision: r.id, direction: 'up' as const, status: 'stamped' as const, ms: 0, statements: 0 })),
    ];
    const base = {
      database: conn.display,
      from: applied.length ? applied[applied.length - 1]!.revision : 'base',
      to: labelOf(history, target),
      outOfOrder: [],
    };
    // every row goes and every kept revision is written again (today's checksum, applied now), steps or not
    const purged = { removed: applied.length, recorded: keep.length };
    if (options.dryRun) return { ...base, dryRun: true, steps: steps.map((s) => ({ ...s, status: 'not-run' as const })), sql: [], purged };
    const now = new Date().toISOString();
    await conn.begin();
    try {
      await store.purge();
      for (const r of keep) {
        await store.insert({ revision: r.id, name: r.message, checksum: checksumOf(ctx, r as RevisionFile), appliedAt: now, executionMs: 0 });
      }
      await conn.commit();
    } catch (err) {
      await conn.rollback();
      throw new MigrationFailed(`stamp --purge failed and was rolled back, the version table is as before: ${describeCause(err)}`, labelOf(history, target), 0, { cause: err });
    }
    const onStep = reporting(options.onStep);
    for (const s of steps) onStep?.(s);
    return { ...base, dryRun: false, steps, purged };
  }, { signal: options.signal, onInterruptible: reporting(options.onInterruptible) });
}

/**
 * A caller's callback (`onStep`, `onPlan`, `onTakeover`, `onInterruptible`, deploy's `onWait`), for
 * reporting only: what it throws (or an async one rejects with) is ignored, so it never stops a run half
 * way or fails a run that completed (found by hunts: a throwing onStep, and then onInterruptible(false,
 * true), rejected upgrade() with its own error, no exitCode or results, after every revision was
 * committed; an async onStep's, onPlan's or onWait's rejection crashed the process).
 */
export function reporting<A extends unknown[]>(callback: ((...args: A) => unknown) | undefined): ((...args: A) => void) | undefined {
  if (!callback) return undefined;
  return (...args) => {
    try {
      const back = callback(...args);
      if (back && typeof (back as Promise<unknown>).catch === 'function') (back as Promise<unknown>).catch(() => {});
    } catch {
      /* the caller's: see above */
    }
  };
}

/** Down to base. Needs `confirmed` (the CLI asks on a terminal, or takes YES=1 / --yes). */
export async function reset(options: MoveOptions & { confirmed: boolean }): Promise<MoveResult> {
  // no revision: reset goes to base (a review: `reset({ revision: '-1' })` reverted everything, the option ignored)
  const { revision: _target, ...resetOptions } = MOVE_OPTIONS;
  checkOptions('reset', options, { ...resetOptions, confirmed: 'boolean' });
  // `confirmed: true` only: a JavaScript caller's 'no' or 'false' is no confirmation (found by a hunt: every table dropped)
  if (options.confirmed !== true && !options.dryRun) throw new Refused('migrate-reset reverts every revision; confirm with YES=1 (or --yes)');
  return move('downgrade', { ...options, revision: 'base' }, 'base');
}
