/**
 * Applies planned steps. Every operation (upgrade, downgrade, stamp, reset) is this engine fed a
 * plan from revision.ts: one transaction per revision by default, the version row written in the
 * same transaction, and a result per step rather than a thrown string.
 */
import type { Connection } from './dialect/types.js';
import { describeCause } from './errors.js';
import type { Direction, Revision } from './revision.js';
import { checksum, firstLine, splitStatements } from './sql.js';
import type { VersionStore } from './store.js';

export interface PreparedStep {
  revision: Revision;
  direction: Direction;
  /** The SQL to run (up or down file); empty for stamp. */
  statements: string[];
  /** Checksum of the up SQL, stored with the version row. */
  upChecksum: string;
}

export type StepStatus = 'applied' | 'reverted' | 'stamped' | 'unstamped' | 'failed' | 'not-run' | 'already-done';

export interface StepResult {
  revision: string;
  direction: Direction;
  status: StepStatus;
  ms: number;
  statements: number;
  /** On failure: 1-based number of the failing statement, its first line and the database's message. */
  failedStatement?: number;
  failedSql?: string;
  error?: string;
  cause?: unknown;
}

export interface RunOptions {
  /** Only write the version table (stamp). */
  stampOnly?: boolean;
  onStep?: (result: StepResult) => void;
  now?: () => Date;
}

export function prepareStep(revision: Revision, direction: Direction, upSql: string, downSql: string | null, stampOnly: boolean): PreparedStep {
  const text = direction === 'up' ? upSql : (downSql ?? '');
  return { revision, direction, statements: stampOnly ? [] : splitStatements(text), upChecksum: checksum(upSql) };
}

/** Run the steps in order; stops at the first failure and marks the rest not-run. */
export async function runSteps(conn: Connection, store: VersionStore, steps: PreparedStep[], options: RunOptions = {}): Promise<StepResult[]> {
  const results: StepResult[] = [];
  const emit = (r: StepResult) => {
    results.push(r);
    options.onStep?.(r);
  };
  let failed = false;
  for (const step of steps) {
    const base = { revision: step.revision.id, direction: step.direction, statements: step.statements.length };
    if (failed) {
      emit({ ...base, status: 'not-run', ms: 0 });
      continue;
    }
    const started = performance.now();
    let index = 0;
    try {
      await conn.begin();
      const present = await store.has(step.revision.id);
      if (present === (step.direction === 'up')) {
        // Another run did it while we waited for the lock.
        await conn.rollback();
        emit({ ...base, status: 'already-done', ms: 0 });
        continue;
      }
      for (const statement of step.statements) {
        index += 1;
        await conn.execute(conn.translate(statement));
      }
      index = 0;
      const ms = Math.round(performance.now() - started);
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
      await conn.commit();
      const status: StepStatus = options.stampOnly ? (step.direction === 'up' ? 'stamped' : 'unstamped') : step.direction === 'up' ? 'applied' : 'reverted';
      emit({ ...base, status, ms });
    } catch (err) {
      await conn.rollback();
      failed = true;
      emit({
        ...base,
        status: 'failed',
        ms: Math.round(performance.now() - started),
        failedStatement: index || undefined,
        failedSql: index ? firstLine(step.statements[index - 1]!) : undefined,
        error: describeCause(err),
        cause: err,
      });
    }
  }
  return results;
}
