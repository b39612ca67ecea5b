/**
 * `sluice deploy`: what a deploy runs before the app starts (container entrypoint, Kubernetes Job or
 * init container). Waits a bounded time for the database (SLUICE_DEPLOY_WAIT seconds, default 60),
 * retrying only what a database that is still coming up answers (connection refused, "the database
 * system is starting up", a host name DNS does not resolve yet, a connect timeout), then takes the
 * migration lock and applies every pending revision up to head, taking a database drizzle's migrator
 * manages over first (commands/takeover.ts). Any failure is a SluiceError with the README's exit code,
 * so the deploy fails.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_SQLITE_FILE } from '../config.js';
import { loadContext, resolveEnv, type CommandOptions, type Context } from '../context.js';
import { openConnection } from '../dialect/index.js';
import { ConnectionError, Interrupted, signalName, SluiceError, UsageError } from '../errors.js';
import type { StepResult } from '../engine.js';
import { reporting, upgrade, type MoveOptions, type MoveResult } from './migrate.js';
import type { TakeoverSummary } from './takeover.js';
import { checkOptions, COMMON_OPTIONS } from '../options.js';

export const DEFAULT_DEPLOY_WAIT_S = 60;
/** Pause between two connection attempts while waiting for the database. */
const RETRY_INTERVAL_MS = 1000;

export interface WaitAttempt {
  /** 1-based number of the failed attempt. */
  attempt: number;
  /** Why it failed, in a few words (connection refused, starting up, host not resolvable yet…). */
  reason: string;
  /** Seconds since the wait began. */
  elapsedS: number;
  /** SLUICE_DEPLOY_WAIT. */
  waitS: number;
  /** The database, password masked. */
  database: string;
}

export interface DeployOptions extends CommandOptions {
  /** All pending revisions in one transaction. */
  singleTransaction?: boolean;
  /** SQLite: skip the backup taken before a change. */
  noBackup?: boolean;
  /** Called after each failed connection attempt while waiting for the database. */
  onWait?: (attempt: WaitAttempt) => void;
  onStep?: (result: StepResult) => void;
  onTakeover?: MoveOptions['onTakeover'];
  /** Stops the run (PostgreSQL): see MoveOptions.signal. */
  signal?: MoveOptions['signal'];
  onInterruptible?: MoveOptions['onInterruptible'];
}

export interface DeployResult {
  /** deployed: revisions were applied; up-to-date: nothing to deploy. */
  status: 'deployed' | 'up-to-date';
  database: string;
  from: string;
  to: string;
  /** Revisions applied by this deploy, in order. */
  revisions: string[];
  steps: StepResult[];
  /** Seconds spent applying (after the database answered). */
  seconds: number;
  /** The wait for the database: connection attempts made and seconds waited. */
  wait: { attempts: number; seconds: number };
  /** Set when this deploy took the database over from drizzle's migrator. */
  takeover?: TakeoverSummary;
  backup?: string;
}

export function deployWaitSeconds(env: Record<string, string | undefined>): number {
  const raw = env.SLUICE_DEPLOY_WAIT;
  const s = raw === undefined || raw.trim() === '' ? DEFAULT_DEPLOY_WAIT_S : Number(raw);
  if (!Number.isFinite(s) || s < 0) throw new UsageError(`SLUICE_DEPLOY_WAIT must be a number of seconds (default ${DEFAULT_DEPLOY_WAIT_S}), not "${raw}"`);
  return s;
}

/**
 * Why a connection failed, when it is what a database still coming up answers (worth another try);
 * undefined for what waiting cannot fix (wrong password, missing database, bad settings).
 */
export function retryableReason(cause: unknown, connectTimeoutS: number): string | undefined {
  const e = (cause ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (code === 'ECONNREFUSED') return 'connection refused';
  // a Unix socket not made yet (a server or a proxy sidecar still starting)
  if (code === 'ENOENT' && /\.s\.PGSQL\./.test(message)) return 'no server socket (yet)';
  if (code === '57P03') return 'the database system is starting up';
  if (code === '57P01' || code === '57P02') return 'the server is restarting';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not resolvable (yet)';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection reset';
  if (code === 'ETIMEDOUT' || /timeout/i.test(message)) return `no answer within ${connectTimeoutS}s`;
  if (/Connection terminated unexpectedly/i.test(message)) return 'connection closed by the server';
  return undefined;
}

/**
 * Try to connect until the database answers or SLUICE_DEPLOY_WAIT runs out. SQLite files need no
 * wait. Throws a ConnectionError (exit 5) naming the database and the wait, or the first error that
 * waiting cannot fix.
 */
export async function waitForDatabase(
  ctx: Context,
  onWait?: (a: WaitAttempt) => void,
  stop: { signal?: AbortSignal; onInterruptible?: (possible: boolean) => void } = {},
): Promise<{ attempts: number; seconds: number }> {
  const waitS = deployWaitSeconds(ctx.env);
  if (ctx.target.dialect !== 'postgresql') return { attempts: 0, seconds: 0 };
  const connectTimeoutS = Number(ctx.env.SLUICE_CONNECT_TIMEOUT ?? 10);
  const start = Date.now();
  const deadline = start + waitS * 1000;
  const database = ctx.target.display;
  // Ctrl+C or SIGTERM (docker stop, a pipeline cancelled) while waiting: one line and the command's exit
  // code, nothing changed (was: the process ended by the signal, no line, and under --json no document)
  const { signal } = stop;
  stop.onInterruptible?.(true);
  try {
    for (let attempt = 1; ; attempt++) {
      const answered = await untilStopped(tryOnce(attempt), signal, (name) =>
        new Interrupted(`interrupted (${name}) while waiting for database ${database} (${attempt} attempt${attempt === 1 ? '' : 's'} in ${Math.round((Date.now() - start) / 1000)}s): nothing was changed`, name, undefined),
      );
      if (answered) return answered;
    }
  } finally {
    stop.onInterruptible?.(false);
  }

  /** One connection attempt: the wait's result once the database answered, undefined after a pause when it should be tried again. */
  async function tryOnce(attempt: number): Promise<{ attempts: number; seconds: number } | undefined> {
    // each attempt ends by the deadline (at least 1 s, so the last one can still answer)
    const timeoutS = Math.max(1, Math.min(Number.isFinite(connectTimeoutS) && connectTimeoutS > 0 ? connectTimeoutS : 10, Math.ceil((deadline - Date.now()) / 1000)));
    try {
      const conn = await openConnection(ctx.target, { write: false, env: { ...ctx.env, SLUICE_CONNECT_TIMEOUT: String(timeoutS) }, signal });
      await conn.close();
      return { attempts: attempt, seconds: round1((Date.now() - start) / 1000) };
    } catch (err) {
      const reason = err instanceof ConnectionError ? retryableReason(err.cause, timeoutS) : undefined;
      if (reason === undefined) throw err;
      const elapsedS = (Date.now() - start) / 1000;
      if (Date.now() >= deadline) {
        throw new ConnectionError(
          `deploy failed: database ${database} did not answer within SLUICE_DEPLOY_WAIT=${waitS}s (${attempt} attempt${attempt === 1 ? '' : 's'}; last: ${reason}); check that it runs and that DATABASE_URL names it`,
          { cause: err },
        );
      }
      if (signal?.aborted) return undefined; // stopped meanwhile: untilStopped has thrown already
      onWait?.({ attempt, reason, elapsedS: Math.round(elapsedS), waitS, database });
      await sleep(Math.max(0, Math.min(RETRY_INTERVAL_MS, deadline - Date.now())), undefined, { signal }).catch(() => undefined);
      return undefined;
    }
  }
}

/**
 * `work`, or the error `stopped` makes as soon as `signal` is aborted, whichever comes first. `work`
 * watches the same signal (the connection attempt's socket is destroyed, the pause cut short), so
 * nothing of it keeps running.
 */
async function untilStopped<T>(work: Promise<T>, signal: AbortSignal | undefined, stopped: (name: 'SIGINT' | 'SIGTERM') => Error): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) throw stopped(signalName(signal));
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(stopped(signalName(signal)));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
    work.catch(() => {});
  }
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** Wait for the database, then apply every pending revision (taking over from drizzle's migrator first). */
export async function deploy(options: DeployOptions = {}): Promise<DeployResult> {
  checkOptions('deploy', options, { ...COMMON_OPTIONS, singleTransaction: 'boolean', noBackup: 'boolean', onWait: 'function', onStep: 'function', onTakeover: 'function', signal: 'signal', onInterruptible: 'function' });
  try {
    return await deployUnlabelled(options);
  } catch (err) {
    // every deploy error says so on its one line (the exit code is the error's own)
    if (err instanceof SluiceError && !err.message.startsWith('deploy failed')) err.message = `deploy failed: ${err.message}`;
    throw err;
  }
}

async function deployUnlabelled(options: DeployOptions): Promise<DeployResult> {
  // A pipeline whose DATABASE_URL secret is missing would otherwise migrate the local SQLite default
  // and report success: deploy names its database, always.
  const { env } = resolveEnv(options); // .env read once: loadContext below takes this environment
  if (!(env.DATABASE_URL ?? '').trim()) {
    throw new UsageError(
      `DATABASE_URL is not set (or empty), so deploy would migrate the local default ${DEFAULT_SQLITE_FILE} instead of your database; set DATABASE_URL to the database to deploy (file:${DEFAULT_SQLITE_FILE} to deploy that SQLite file); nothing was changed`,
    );
  }
  const ctx = await loadContext({ ...options, env });
  const wait = await waitForDatabase(ctx, reporting(options.onWait), { signal: options.signal, onInterruptible: reporting(options.onInterruptible) });
  const started = Date.now();
  const moved: MoveResult = await upgrade({
    cwd: ctx.root,
    env: ctx.env,
    config: options.config,
    // the caller's connection, checked by loadContext to reach the database DATABASE_URL names (was: accepted, and a connection of deploy's own opened instead)
    connection: options.connection,
    revision: 'head',
    singleTransaction: options.singleTransaction,
    noBackup: options.noBackup,
    onStep: options.onStep,
    onTakeover: options.onTakeover,
    signal: options.signal,
    onInterruptible: options.onInterruptible,
  });
  const applied = moved.steps.filter((s) => s.status === 'applied').map((s) => s.revision);
  return {
    status: applied.length ? 'deployed' : 'up-to-date',
    database: moved.database,
    from: moved.from,
    to: moved.to,
    revisions: applied,
    steps: moved.steps,
    seconds: round1((Date.now() - started) / 1000),
    wait,
    ...(moved.takeover ? { takeover: moved.takeover } : {}),
    ...(moved.backup ? { backup: moved.backup } : {}),
  };
}
