/**
 * Issue 13, "Done when": the hostile battery. Every case is a row {name, category, dialect, setup,
 * run, expect} (hostile-files.ts, hostile-inputs.ts, hostile-races.ts) run on real SQLite files and
 * the suite's real PostgreSQL 15 through the real CLI, no mocks; the runner (hostile-battery.ts,
 * snapshots and serial-order model in hostile-db.ts) checks for each: the documented exit code (never 1), one clear line on stderr, no password in any
 * output (nor, where pg_dump/psql run, in any process's argv), for a refusal the same structural
 * snapshot (objects, columns, row counts, version rows) before and after, and for concurrent or
 * killed runs a final state some serial order gives plus a rerun that completes.
 *
 * Independent cases run a few at a time (HOSTILE_CONCURRENCY, default 4); the random moments of the
 * kill and connection-loss cases come from HOSTILE_SEED (printed in the summary) so a failure can be
 * replayed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SKIP_PG } from '../support/project.js';
import { CATEGORIES, removeCopies, runCase, SEED, tally, type Case } from './hostile-battery.js';
import { closeShared } from './hostile-db.js';
import { FILE_CASES } from './hostile-files.js';
import { INPUT_CASES } from './hostile-inputs.js';
import { RACE_CASES } from './hostile-races.js';

const CASES: Case[] = [...RACE_CASES, ...INPUT_CASES, ...FILE_CASES];
/** HOSTILE_ONLY=<regex>: run only the cases whose title matches (the others are reported as skipped). */
const only = process.env.HOSTILE_ONLY ? new RegExp(process.env.HOSTILE_ONLY) : undefined;
const title = (c: Case) => `${c.category} › ${c.dialect} › ${c.name}`;

/** At most `n` cases at once (each spawns CLI processes; the machine may have 2 cores). */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active += 1;
    try {
      return await fn();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}
const limit = limiter(Number(process.env.HOSTILE_CONCURRENCY ?? 4));

describe.concurrent('hostile battery', () => {
  for (const c of CASES) {
    const test = (c.dialect === 'postgresql' && SKIP_PG) || (only && !only.test(title(c))) ? it.skip : it;
    test(title(c), async ({ expect }) => limit(() => runCase(c, expect)), 180_000);
  }
});

afterAll(async () => {
  await closeShared();
  removeCopies();
  const ran = tally.cases;
  const per = CATEGORIES.map((k) => `${k} ${tally.byCategory[k]}`).join(', ');
  console.log(
    `hostile battery: ${ran} cases (${per}; ${tally.runs} runs, seed ${SEED}), ${tally.rowsChangedByRefusals} rows changed by refusals, ${tally.internalErrors} internal errors, ${tally.passwordsSeen} passwords seen, ${tally.nonSerial} non-serial states`,
  );
  if (process.env.HOSTILE_TIMES === '1') console.log(tally.notes.sort().reverse().join('\n'));
  expect(CASES.length, 'cases in the battery').toBeGreaterThanOrEqual(60);
  if (!SKIP_PG && !only) expect(ran, 'cases run').toBe(CASES.length);
  expect(tally.rowsChangedByRefusals, 'rows changed by refusals').toBe(0);
  expect(tally.internalErrors, 'internal errors').toBe(0);
  expect(tally.passwordsSeen, 'passwords seen').toBe(0);
  expect(tally.nonSerial, 'non-serial states').toBe(0);
});
