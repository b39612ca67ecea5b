/**
 * Hostile battery: concurrent commands, kill -9 and lost connections at random moments, on both
 * dialects. Each ends in a state some serial order of the runs gives (the runner's model: version
 * rows a prefix of the history, every revision's objects all there or all gone, and the pair reachable
 * by running the commands one after the other, a killed run having done any number of whole
 * revisions), and a rerun completes.
 */
import { BP, HEAD, sleep, waitFor, type Case, type Ctx, type Dialect, type Ran } from './hostile-battery.js';
import { admin } from './hostile-db.js';

const LOCK = /another sluice run holds the migration lock/;

/** A statement that only burns time inside the revision's transaction. */
const slow = (d: Dialect, seconds: number, tag = ''): string =>
  d === 'sqlite'
    ? `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${Math.round(seconds * 7_000_000)}) SELECT count(*) FROM c;`
    : `SELECT pg_sleep(${seconds})${tag ? `, '${tag}'` : ''};`;

/** Two revisions that take a while each way (tables hx_race_a, hx_race_b). */
function raceRevisions(ctx: Ctx, seconds = 0.25): void {
  for (const x of ['a', 'b']) {
    ctx.addRevision(`race_${x}`, [`CREATE TABLE hx_race_${x} (id integer);`, slow(ctx.dialect, seconds)].join(BP), [slow(ctx.dialect, seconds), `DROP TABLE hx_race_${x};`].join(BP), [`hx_race_${x}`]);
  }
}

async function upTo(ctx: Ctx, target: string): Promise<void> {
  const r = await ctx.cli(['up', target]);
  if (r.status !== 0) throw new Error(`setup up ${target} failed: ${r.stderr}`);
}

/** Start every command at once and wait for all. */
async function together(ctx: Ctx, commands: string[][]): Promise<Ran[]> {
  return Promise.all(commands.map((args) => ctx.start(args).done));
}

function concurrent(d: Dialect, name: string, commands: string[][], start: Case['start'], setup: (ctx: Ctx) => Promise<void> | void, also: { exit?: number[]; line?: RegExp } = {}): Case {
  return {
    name,
    category: 'concurrency',
    dialect: d,
    start,
    setup,
    run: (ctx) => together(ctx, commands),
    expect: { exit: [0, 5, ...(also.exit ?? [])], line: also.line ?? LOCK, serial: { commands } },
  };
}

/** kill -9 of a run at a random moment (0 to `maxMs` after it starts), then status must work at once. */
function killed(d: Dialect, name: string, args: string[], maxMs: number, setup: (ctx: Ctx) => Promise<void> | void): Case {
  return {
    name,
    category: 'kill',
    dialect: d,
    setup,
    run: async (ctx) => {
      const run = ctx.start(args);
      await sleep(ctx.rng() * maxMs);
      run.child.kill('SIGKILL');
      const r = await run.done;
      return [r, await ctx.cli(['status'])];
    },
    expect: { exit: [0, -1], exits: [[0, -1], 0], serial: { commands: [args, ['status']] } },
  };
}

/**
 * pg_terminate_backend, from another connection, of this case's sluice backends whose query matches;
 * `sleeping`: only while pg_sleep waits (a grouped run's query text is the whole script, so the marker
 * is visible before the marked statement starts).
 */
async function terminate(like: string, sleeping = false): Promise<number> {
  const res = await admin().query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sluice' AND query LIKE $1 ${sleeping ? SLEEPING : ''} AND pid <> pg_backend_pid()`,
    [like],
  );
  return res.rowCount ?? 0;
}

/** The backend is inside pg_sleep (the only statement of these cases that waits). */
const SLEEPING = "AND state = 'active' AND wait_event = 'PgSleep'";

/** The "the database is at X" of a connection-loss message is where the version table stands. */
async function atMatches(ctx: Ctx, r: Ran): Promise<string | undefined> {
  const at = /the database is at (\S+?)\. Run the command again/.exec(r.stderr)?.[1];
  const rows = await ctx.query<{ revision: string }>('SELECT revision FROM sluice_version ORDER BY revision');
  return at === undefined ? undefined : at === (rows.at(-1)?.revision ?? 'base') ? 'ok' : `message says ${at}, version table says ${rows.at(-1)?.revision ?? 'base'}`;
}

/**
 * Terminate the backend while it runs the revision marked `mark` (seen sleeping in pg_stat_activity),
 * a random 0-0.8 s into its 1.5 s sleep. The marked sleep is the only pg_sleep that waits in these cases.
 */
function lostDuring(name: string, args: string[], setup: (ctx: Ctx) => Promise<void> | void, lostIn: RegExp): Case {
  return {
    name,
    category: 'kill',
    dialect: 'postgresql',
    setup,
    run: async (ctx) => {
      const run = ctx.start(args);
      const like = `%hx_${ctx.token}_sleep%`;
      let seen = false;
      await waitFor('the revision to run', async () => (seen = (await admin().query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'sluice' AND query LIKE $1 ${SLEEPING}`, [like])).rowCount! > 0) || run.child.exitCode !== null);
      if (seen) {
        await sleep(ctx.rng() * 800);
        await terminate(like, true);
      }
      return run.done;
    },
    expect: {
      exit: 7,
      line: lostIn,
      serial: { commands: [args] },
      after: async (ctx, [r], expect) => expect(await atMatches(ctx, r!), r!.stderr).toBe('ok'),
    },
  };
}

/** A revision creating (dropping) hx_<name>_a and _b around a sleep; `mark` puts this case's marker in the sleeping statement. */
const sleepy = (ctx: Ctx, name: string, up: number, down: number, mark: boolean) =>
  ctx.addRevision(
    name,
    [`CREATE TABLE hx_${name}_a (id integer);`, slow('postgresql', up, mark ? `hx_${ctx.token}_sleep` : ''), `CREATE TABLE hx_${name}_b (id integer);`].join(BP),
    [`DROP TABLE hx_${name}_b;`, slow('postgresql', down, mark ? `hx_${ctx.token}_sleep` : ''), `DROP TABLE hx_${name}_a;`].join(BP),
    [`hx_${name}_a`, `hx_${name}_b`],
  );

export const RACE_CASES: Case[] = [
  ...(['sqlite', 'postgresql'] as const).flatMap((d): Case[] => [
    concurrent(d, 'up and down started together', [['up'], ['down']], 'head', async (ctx) => {
      raceRevisions(ctx);
      await upTo(ctx, '4');
    }),
    concurrent(d, 'stamp 0 and stamp head started together', [['stamp', '0'], ['stamp', 'head']], 2, () => {}),
    concurrent(d, 'two ups started together on a database that does not exist yet', [['up'], ['up']], 'none', (ctx) => raceRevisions(ctx)),
    // stamp base first: the down then has nothing to revert (exit 2, "-1 is past base")
    concurrent(d, 'down and stamp base started together', [['down'], ['stamp', 'base']], 'head', async (ctx) => {
      raceRevisions(ctx);
      await upTo(ctx, 'head');
    }, { exit: [2], line: /holds the migration lock|-1 is past base: only 0 revision\(s\) are applied/ }),
    killed(d, 'kill -9 during up at a random moment; status right after', ['up'], 1800, (ctx) => raceRevisions(ctx, 0.4)),
    d === 'sqlite'
      ? killed(d, 'kill -9 during down base at a random moment; status right after', ['down', 'base'], 1800, async (ctx) => {
          raceRevisions(ctx, 0.4);
          await upTo(ctx, 'head');
        })
      : lostDuring('connection lost (pg_terminate_backend) during a down revision', ['down'], async (ctx) => {
          sleepy(ctx, 'slow_down', 0, 1.5, true);
          await upTo(ctx, 'head');
        }, /connection lost during 0004_slow_down \(down\): .*the database is at 0004_slow_down\. Run the command again/),
  ]),
  lostDuring('connection lost (pg_terminate_backend) during an up revision', ['up'], (ctx) => void sleepy(ctx, 'slow_up', 1.5, 0, true), /connection lost during 0004_slow_up \(up\): .*the database is at 0003_add_phone_to_users\. Run the command again/),
  lostDuring('connection lost during the second revision of --single-transaction', ['up', '--single-transaction'], (ctx) => {
    sleepy(ctx, 'first', 0, 0, false);
    sleepy(ctx, 'second', 1.5, 0, true);
  }, new RegExp(`connection lost during 0005_second \\(up\\): .*the database is at ${HEAD}\\. Run the command again`)),
  {
    name: 'connection lost at a random moment of an up (whatever it is doing)',
    category: 'kill',
    dialect: 'postgresql',
    setup: (ctx) => {
      sleepy(ctx, 'r1', 0.3, 0, false);
      sleepy(ctx, 'r2', 0.3, 0, false);
    },
    run: async (ctx) => {
      const run = ctx.start(['up']);
      await sleep(ctx.rng() * 1500);
      // every sluice backend of this case has the schema in its first query (SET search_path)
      await waitFor('one backend terminated, or the run over', async () => run.child.exitCode !== null || (await terminate(`%"${ctx.schema}"%`)) > 0, 20_000, 10);
      return run.done;
    },
    expect: {
      exit: [0, 7],
      line: /connection (lost during \S+ \((up|down)\): .*the database is at \S+\. Run the command again|to .* lost: .*no revision was being applied)/,
      serial: { commands: [['up']] },
      after: async (ctx, [r], expect) => {
        if (/the database is at/.test(r!.stderr)) expect(await atMatches(ctx, r!), r!.stderr).toBe('ok');
      },
    },
  },
];
