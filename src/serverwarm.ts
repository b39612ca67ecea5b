/**
 * The connections a coming verification on a server (SLUICE_CHECK_DATABASE_URL) will need, opened
 * ahead of need while something else runs (migrate-create: drizzle-kit generate in child processes),
 * as pglite.ts starts PGlite ahead. Opening them is most of the server proof's set-up (a backend's
 * start and its authentication, twice).
 *
 * What is opened ahead leaves nothing on the server: the admin connection reads the server's version,
 * and the scratch schema's connection only sets its search_path to a name nothing has created yet
 * (the schema is created by the proof that takes it, and dropped by its scratch's close). What is not
 * taken is let go by coolServer() without waiting on the server: a connection still opening (a server
 * that accepts and never answers, a slow one) has its socket destroyed at once; an open one is closed.
 */
import { parseDatabaseTarget, type DatabaseTarget } from './config.js';
import { openConnection } from './dialect/index.js';
import type { Connection } from './dialect/types.js';
import { ConfigError, describeCause } from './errors.js';
import { saysVerifyOff } from './verifysetting.js';

export interface ServerAdmin {
  admin: Connection;
  /** server_version, for messages. */
  version: string;
  /** server_version_num. */
  versionNum: number;
}

/** A connection to `base` (SLUICE_CHECK_DATABASE_URL) and the server's version; its errors as serverScratch reports them. */
export async function openServerAdmin(base: DatabaseTarget, env: Record<string, string | undefined>, signal?: AbortSignal): Promise<ServerAdmin> {
  const admin = await openConnection(base, { write: true, env, signal }).catch((err) => {
    throw new ConfigError(`SLUICE_CHECK_DATABASE_URL: ${describeCause(err).replace(/\bDATABASE_URL\b/g, 'SLUICE_CHECK_DATABASE_URL')}; fix it, or unset it to verify on the embedded engine (PGlite)`, { cause: err });
  });
  try {
    const row = (await admin.query<{ v: string; n: string }>("SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n"))[0];
    return { admin, version: row?.v ?? '?', versionNum: Number(row?.n) };
  } catch (err) {
    await admin.close().catch(() => {});
    throw err;
  }
}

/** A scratch schema or database's name: unique per process and call. */
export function scratchName(purpose: string): string {
  return `sluice_check_${process.pid}_${Math.random().toString(36).slice(2, 8)}_${purpose}`;
}

/** The settings a connection is opened with: what opened ahead is taken only by a scratch with the same. */
const SETTINGS = ['SLUICE_CHECK_DATABASE_URL', 'SLUICE_CONNECT_TIMEOUT', 'SLUICE_LOCK_TIMEOUT', 'SLUICE_STATEMENT_TIMEOUT'] as const;
const settingsOf = (env: Record<string, string | undefined>) => JSON.stringify(SETTINGS.map((k) => (k === SETTINGS[0] ? (env[k] ?? '').trim() : env[k])));

/** A connection opened ahead: aborting `stop` destroys its socket; `open` is set once it is open. */
interface Opening<T> {
  stop: AbortController;
  ready: Promise<T>;
  open?: Connection;
}

function opening<T>(begin: (signal: AbortSignal) => Promise<T>, connectionOf: (t: T) => Connection): Opening<T> {
  const stop = new AbortController();
  const o: Opening<T> = { stop, ready: begin(stop.signal) };
  o.ready.then(
    (t) => void (o.open = connectionOf(t)),
    () => {},
  );
  return o;
}

/** Cut it if it is still opening, close it if it is open. */
async function letGo(o: Opening<unknown>): Promise<void> {
  if (!o.open) o.stop.abort();
  await o.ready.then(
    () => o.open?.close(),
    () => {},
  ).catch(() => {});
}

interface Warm {
  settings: string;
  admin: Opening<ServerAdmin>;
  /** The scratch schema's connection, for the first scratch made in a schema (not a database of its own). */
  schema: { name: string; conn: Opening<Connection> };
}

let warm: Warm | undefined;

/**
 * Begin opening what a verification on SLUICE_CHECK_DATABASE_URL will need. A no-op unless `env`
 * names a server and verifies; errors show where the connections are taken (takeWarmServer), as if
 * opened then. Pair with coolServer().
 */
export function warmServer(root: string, env: Record<string, string | undefined>): void {
  const url = (env.SLUICE_CHECK_DATABASE_URL ?? '').trim();
  if (warm || !url || saysVerifyOff(env)) return;
  let base: DatabaseTarget;
  let schemaTarget: DatabaseTarget;
  const name = scratchName('real');
  const schemaEnv = { ...env, DATABASE_URL: url, DATABASE_SCHEMA: name, SLUICE_TAKEOVER: 'off' };
  try {
    base = parseDatabaseTarget({ DATABASE_URL: url, DATABASE_SCHEMA: 'public' }, root);
    schemaTarget = parseDatabaseTarget(schemaEnv, root);
  } catch {
    return; // a URL that does not parse is reported where the scratch is opened
  }
  if (base.dialect !== 'postgresql') return;
  warm = {
    settings: settingsOf(env),
    admin: opening((signal) => openServerAdmin(base, env, signal), (a) => a.admin),
    schema: { name, conn: opening((signal) => openConnection(schemaTarget, { write: true, env: schemaEnv, signal }), (c) => c) },
  };
}

export interface TakenWarm {
  admin: Promise<ServerAdmin>;
  /** The scratch schema opened ahead (its name and connection), once; undefined after. */
  takeSchema(): { name: string; conn: Promise<Connection> } | undefined;
  /** Let go of the schema's connection if nothing took it. */
  release(): Promise<void>;
}

/** What warmServer opened for a scratch on these settings, or undefined; taken once. */
export function takeWarmServer(env: Record<string, string | undefined>): TakenWarm | undefined {
  const w = warm;
  if (!w || w.settings !== settingsOf(env)) return undefined;
  warm = undefined;
  let schema: Warm['schema'] | undefined = w.schema;
  return {
    admin: w.admin.ready,
    takeSchema() {
      const s = schema;
      schema = undefined;
      return s && { name: s.name, conn: s.conn.ready };
    },
    async release() {
      const s = schema;
      schema = undefined;
      if (s) await letGo(s.conn);
    },
  };
}

/** Let go of what warmServer opened and nothing took, without waiting on the server. */
export async function coolServer(): Promise<void> {
  const w = warm;
  warm = undefined;
  if (w) await Promise.all([letGo(w.admin), letGo(w.schema.conn)]);
}

/**
 * What warmServer opened for these settings, if anything: `open` settles to true once both connections
 * are open and still unclaimed, to false when one failed, or they were taken or let go meanwhile.
 */
export function warmFor(env: Record<string, string | undefined>): { open: Promise<boolean> } | undefined {
  const w = warm;
  if (!w || w.settings !== settingsOf(env)) return undefined;
  return {
    open: Promise.all([w.admin.ready, w.schema.conn.ready]).then(
      () => warm === w,
      () => false,
    ),
  };
}
