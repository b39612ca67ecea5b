/**
 * Grouped commits for adapters where a commit is the cost (SQLite: one durable sync per commit).
 * Consecutive transactional revisions run in one transaction, each inside its own savepoint with its
 * version row. A failing revision is rolled back to its savepoint and the revisions before it are
 * committed: the database ends at the last good revision, as with one transaction per revision, for
 * the price of one commit. A crash (kill -9, power loss) during the group rolls back the whole group:
 * the database stays at the revision it had before the group, a state a serial run gives too.
 * Results are emitted only after the commit, so "applied" is never said of a revision that could
 * still roll back. When the group's commit itself fails (a full disk), nothing of it stayed: the
 * engine runs the same revisions again one transaction each, so the database still ends at the last
 * revision that could be committed.
 *
 * A group is committed once it has run for COMMIT_EVERY_MS (and at its end), whatever its number of
 * revisions: a thousand small revisions cost one commit, while slow ones (data migrations) never hold
 * the file's write lock, or risk a crash's rollback, for more than about that long plus one revision.
 */
import type { Connection } from './dialect/types.js';
import type { StepResult, StepStatus } from './engine.js';
import type { PreparedStep } from './prepare.js';
import { describeCause, environmentError } from './errors.js';
import { firstLine } from './sql.js';
import type { VersionStore } from './store.js';
import { monotonicMs } from './clock.js';

const SAVEPOINT = 'sluice_revision';
/** A group commits once it has run this long (ms), after the revision running then. */
export const COMMIT_EVERY_MS = 500;

/**
 * Run `group` from its start until it ends or has run COMMIT_EVERY_MS. `taken`: how many of its steps
 * this call covered (results for each, or, with `retry`, the ones whose commit failed).
 */
export async function runSavepointGroup(
  conn: Connection,
  store: VersionStore,
  group: PreparedStep[],
  o: { stampOnly: boolean; now?: () => Date; done: (step: PreparedStep) => StepStatus; commitEveryMs?: number },
): Promise<{ results: StepResult[]; ok: boolean; retry?: boolean; taken: number }> {
  const every = o.commitEveryMs ?? COMMIT_EVERY_MS;
  const base = (step: PreparedStep) => ({ revision: step.revision.id, direction: step.direction, statements: step.statements.length });
  const results: StepResult[] = [];
  const groupStarted = monotonicMs();
  await conn.begin();
  for (const [k, step] of group.entries()) {
    if (k > 0 && monotonicMs() - groupStarted >= every) break;
    const started = monotonicMs();
    let statement: number | undefined;
    try {
      await conn.execute(`SAVEPOINT ${SAVEPOINT}`);
      const sequences = await conn.sequencesBefore?.(step.statements);
      for (const [j, sql] of step.statements.entries()) {
        statement = j + 1;
        await conn.execute(conn.translate(sql));
      }
      statement = undefined;
      if (sequences) await conn.keepSequences!(sequences);
      const ms = Math.round(monotonicMs() - started);
      if (step.direction === 'up') {
        await store.insert({ revision: step.revision.id, name: step.revision.message, checksum: step.upChecksum, appliedAt: (o.now?.() ?? new Date()).toISOString(), executionMs: ms });
      } else {
        await store.remove(step.revision.id);
      }
      await conn.execute(`RELEASE ${SAVEPOINT}`);
      results.push({ ...base(step), status: o.done(step), ms });
    } catch (err) {
      const failed: StepResult = {
        ...base(step),
        status: 'failed',
        ms: Math.round(monotonicMs() - started),
        failedStatement: statement,
        failedSql: statement ? firstLine(step.statements[statement - 1]!) : undefined,
        error: describeCause(err),
        cause: err,
      };
      try {
        await conn.execute(`ROLLBACK TO ${SAVEPOINT}`);
        await conn.execute(`RELEASE ${SAVEPOINT}`);
        await conn.commit();
      } catch (commitErr) {
        // The earlier revisions could not be committed (a full disk...): nothing of the group stayed.
        await conn.rollback();
        busyCommit(commitErr);
        return { results: [], ok: false, retry: true, taken: k + 1 };
      }
      results.push(failed, ...group.slice(k + 1).map((s) => ({ ...base(s), status: 'not-run' as const, ms: 0 })));
      return { results, ok: false, taken: group.length };
    }
  }
  try {
    await conn.commit();
  } catch (err) {
    await conn.rollback();
    busyCommit(err);
    return { results: [], ok: false, retry: true, taken: results.length };
  }
  return { results, ok: true, taken: results.length };
}

/**
 * A commit another connection's lock kept waiting past the busy timeout (SQLite's SQLITE_BUSY: an app's
 * write, or its open read in rollback-journal mode) is no failure of the revisions, and running them
 * again one by one would only wait as long again (a hunt: 20 s, then "revision … failed", exit 3). It
 * ends the run as a lock held elsewhere does (exit 5), the group rolled back.
 */
function busyCommit(err: unknown): void {
  if (/^SQLITE_BUSY/.test(String((err as { code?: unknown })?.code ?? ''))) throw environmentError(err) ?? err;
}
