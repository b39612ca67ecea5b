/**
 * What every command starts from: the project root, the environment, the configured histories,
 * the database DATABASE_URL names and that database's history. Commands receive options and return
 * results; nothing here prints or exits.
 */
import { realpathSync, type Stats } from 'node:fs';
import path from 'node:path';
import {
  historyFor,
  loadDotEnv,
  loadProjectConfig,
  parseDatabaseTarget,
  projectDatabaseTarget,
  type DatabaseTarget,
  type HistoryConfig,
  type ProjectConfig,
  UnopenableDatabase,
} from './config.js';
import { openConnection, startConnection, type Connection } from './dialect/index.js';
import { ConfigError, ConnectionLost, Interrupted, LockWaitStopped, SluiceError, ExitCode, describeCause, signalName } from './errors.js';
import { readHistory, type History } from './source.js';
import { cachedUpSum, isChecksumOf, tsTagsOf } from './revisionreads.js';
import { startPrefetch, type Prefetch } from './prefetch.js';
import { warmParseCache } from './parsecache.js';
import { VersionStore, type AppliedRow, type AppliedSum } from './store.js';
import type { TypeScriptPart } from './tsrevision.js';
import { ChecksumCache } from './checksums.js';
import { checksum } from './sql.js';
import { monotonicMs } from './clock.js';
import { parsePgUrl } from './pgconn.js';

export interface CommandOptions {
  /** Project folder (holds drizzle.config.ts). Default: process.cwd(). */
  cwd?: string;
  /** Environment to read DATABASE_URL and friends from. Default: process.env after reading .env. */
  env?: Record<string, string | undefined>;
  /** drizzle config path, relative to cwd. */
  config?: string;
  /**
   * An open connection to the database DATABASE_URL names, used instead of opening one (sluice
   * neither closes it nor leaves a transaction or its lock on it). For apps and checks that run many
   * commands in a row (db-test).
   */
  connection?: Connection;
}

export interface Context {
  root: string;
  env: Record<string, string | undefined>;
  project: ProjectConfig;
  target: DatabaseTarget;
  historyConfig: HistoryConfig;
  history: History;
  /** Up SQL read during this command, by revision id (each file is read once per command). */
  ups: Map<string, string>;
  /** TypeScript parts read during this command, by revision id (null: the revision has none). */
  tss?: Map<string, TypeScriptPart | null>;
  /** The tags with a `.ts` part in the history folder, found once per command (tsTagsOf). */
  tsTags?: Set<string>;
  /** The caller's open connection (CommandOptions.connection). */
  connection?: Connection;
  /** Up files' checksums by lstat, opened on first use (checksums.ts). */
  sums?: ChecksumCache;
  /** Checksums (checksumOf) computed during this command, by revision id. */
  checksums?: Map<string, string>;
  /** Up files' own checksums (upChecksumOf) computed during this command, by revision id. */
  upSums?: Map<string, string>;
  /** Up files' earlier checksums (upEarlierChecksumsOf) found during this command, by revision id. */
  upEarlier?: Map<string, string[]>;
  /** PostgreSQL: the connection loadContext began to open (`connect`), taken by the next withSession. */
  opening?: Promise<Connection>;
  /** The caller's signal cuts `opening` until withSession has it (then unlinked: a signal during the run cancels, not cuts). */
  openingLink?: ConnectLink;
  /** Down SQL read during this command, by revision id (null: no down file). */
  downs?: Map<string, string | null>;
  /** Up files' lstat taken while waiting for the database (prefetch.ts), by path; undefined: missing. */
  stats?: Map<string, Stats | undefined>;
  /** Stops the prefetch loadContext started (withSession calls it once the session is ready). */
  stopPrefetch?: () => void;
  /** The config names a database sluice cannot open (DATABASE_URL unset): withSession throws this. */
  unopenable?: UnopenableDatabase;
}

export function resolveEnv(options: CommandOptions): { root: string; env: Record<string, string | undefined> } {
  const root = path.resolve(options.cwd ?? process.cwd());
  if (options.env) return { root, env: options.env };
  loadDotEnv(root);
  return { root, env: process.env };
}

export async function loadContext(
  options: CommandOptions,
  extra: { allowMissingFolder?: boolean; connect?: { write: boolean; prefetch?: Prefetch; signal?: AbortSignal } } = {},
): Promise<Context> {
  const { root, env } = resolveEnv(options);
  const plain = parseDatabaseTarget(env, root);
  // PostgreSQL (`connect`: the caller's withSession follows at once): the connection opens while the
  // configuration and the folder are read. Its errors surface where withSession takes it.
  let opening: Promise<Connection> | undefined;
  let link: ConnectLink | undefined;
  if (extra.connect && !options.connection && plain.dialect === 'postgresql') {
    link = connectLink(extra.connect.signal);
    opening = (await startConnection(plain, { write: extra.connect.write, env, signal: link.signal })).ready;
  }
  try {
    const project = await loadProjectConfig(root, options.config ?? env.SLUICE_CONFIG);
    const historyConfig = historyFor(project, plain.dialect, env);
    // a database the config names that sluice cannot open: refused where a command connects
    // (withSession), not before (offline SQL, and history/show from the files, need none: a review)
    let unopenable: UnopenableDatabase | undefined;
    let target: DatabaseTarget;
    try {
      target = projectDatabaseTarget(env, root, project, historyConfig.engine);
    } catch (err) {
      if (!(err instanceof UnopenableDatabase) || options.connection) throw err;
      unopenable = err;
      target = plain;
    }
    if (options.connection) checkCallerConnection(options.connection, target);
    const history = readHistory(historyConfig.out, { allowMissing: extra.allowMissingFolder });
    const ctx: Context = {
      root,
      env,
      project,
      target,
      historyConfig,
      history,
      ups: new Map(),
      ...(unopenable ? { unopenable } : {}),
      ...(options.connection ? { connection: options.connection } : {}),
      ...(opening ? { opening, openingLink: link } : {}),
    };
    // While the connection opens, the files the command needs are read (prefetch.ts).
    if (opening && extra.connect?.prefetch) {
      ctx.stats = new Map();
      ctx.downs = new Map();
      const prefetch = extra.connect.prefetch;
      ctx.stopPrefetch = startPrefetch(
        prefetch,
        { revisions: history.revisions, stats: ctx.stats, ups: ctx.ups, downs: ctx.downs },
        () => {
          try {
            if (prefetch !== 'stat') {
              checksum(''); // node:crypto's load
              warmParseCache(ctx.root);
            }
            tsTagsOf(ctx); // opens the checksum cache too
          } catch {
            /* left for the command's own call, which reports it */
          }
        },
        prefetch === 'stat' ? (rev, st) => cachedUpSum(ctx, rev, st) : undefined,
      );
    }
    return ctx;
  } catch (err) {
    abandon(opening, link);
    throw err;
  }
}

/**
 * A signal for a connection while it opens, following the caller's: a server that accepts and never
 * answers is cut when the caller's signal comes (was: the library call waited SLUICE_CONNECT_TIMEOUT,
 * then failed exit 5 "no answer", not Interrupted). `done` unlinks it once the connection is open.
 */
interface ConnectLink {
  signal?: AbortSignal;
  done: () => void;
}
function connectLink(signal: AbortSignal | undefined): ConnectLink {
  // already aborted: the command stops at its first step itself, saying where the database is
  if (!signal || signal.aborted) return { done: () => {} };
  const own = new AbortController();
  const follow = () => own.abort(signal.reason);
  signal.addEventListener('abort', follow, { once: true });
  return { signal: own.signal, done: () => signal.removeEventListener('abort', follow) };
}

/**
 * A caller's connection (`connection`) is one openConnection made, to the database DATABASE_URL and
 * DATABASE_SCHEMA name. Was: a pg Client failed with a TypeError; a PostgreSQL connection under a SQLite
 * DATABASE_URL ran the SQLite history on PostgreSQL; one opened for another schema migrated that schema.
 */
function checkCallerConnection(conn: Connection, target: DatabaseTarget): void {
  const c = conn as Partial<Connection> | null;
  if (typeof c?.lock !== 'function' || typeof c.execute !== 'function' || (c.dialect !== 'postgresql' && c.dialect !== 'sqlite')) {
    throw new ConfigError('the connection passed to sluice is not one openConnection made (a pg Client or Pool, a driver\'s database object): pass await openConnection(parseDatabaseTarget(env, cwd), { write: true, env })');
  }
  if (c.dialect !== target.dialect) {
    throw new ConfigError(`the connection passed to sluice is to a ${c.dialect} database, but DATABASE_URL names a ${target.dialect} one (${target.display}): pass a connection to the database DATABASE_URL names`);
  }
  // SQLite: the file DATABASE_URL names (found by a hunt: a connection to a.db migrated a.db while
  // DATABASE_URL named b.db, and the result said so only in passing)
  const file = c.scopeFile?.();
  if (file !== undefined && target.file !== undefined && !sameFile(file, target.file)) {
    throw new ConfigError(`the connection passed to sluice is to SQLite file ${file}, but DATABASE_URL names ${target.display}: pass a connection to the file DATABASE_URL names`);
  }
  const schema = c.scopeSchema?.();
  if (schema !== undefined && target.schema !== undefined && schema !== target.schema) {
    throw new ConfigError(`the connection passed to sluice was opened for schema ${schema}, but DATABASE_SCHEMA is ${target.schema}: pass a connection opened with the same DATABASE_SCHEMA`);
  }
  // PostgreSQL: the server and database DATABASE_URL names (found by a hunt: a connection to database
  // "other" migrated it while DATABASE_URL named "postgres", and the result said so only in passing)
  const theirs = serverOf(c.scopeUrl?.());
  const ours = serverOf(target.url);
  if (theirs && ours && (theirs.host !== ours.host || theirs.port !== ours.port || (theirs.database !== undefined && ours.database !== undefined && theirs.database !== ours.database))) {
    const show = (s: Server) => `${s.host}:${s.port}/${s.database ?? '(its default database)'}`;
    throw new ConfigError(`the connection passed to sluice is to ${show(theirs)}, but DATABASE_URL names ${show(ours)}: pass a connection to the database DATABASE_URL names`);
  }
}

interface Server {
  host: string;
  port: string;
  database?: string;
}
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** A PostgreSQL URL's server and database, the loopback names read as one; undefined when it does not parse. */
function serverOf(url: string | undefined): Server | undefined {
  if (!url) return undefined;
  try {
    const p = parsePgUrl(url);
    const host = (p.params.host ?? p.host ?? 'localhost').toLowerCase();
    return { host: LOCAL_HOSTS.has(host) ? 'localhost' : host, port: p.params.port ?? p.port ?? '5432', database: p.database || undefined };
  } catch {
    return undefined;
  }
}

/** Two paths of one file (through links), or the same path when either cannot be resolved. */
function sameFile(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return real(a) === real(b);
}

/** Drop what the prefetch read (prefetch.ts): the command reads those files again itself. */
function forgetPrefetched(ctx: Context): void {
  if (!ctx.stopPrefetch) return;
  ctx.stopPrefetch();
  ctx.stopPrefetch = undefined;
  ctx.stats = undefined;
  ctx.upSums = undefined; // some may come from those lstats (cachedUpSum)
  ctx.upEarlier = undefined;
  ctx.checksums = undefined;
  ctx.tsTags = undefined; // a part added or removed meanwhile (was: kept, so an up skipped a new part's up(db))
  ctx.tss = undefined;
  ctx.ups.clear();
  ctx.downs?.clear();
}

/**
 * A command refused between loadContext and withSession: the connection loadContext began to open
 * is closed and the prefetch stopped (was: an unknown `revision` on PostgreSQL left the socket open,
 * and an app's process that called upgrade() never exited).
 */
export function dropContext(ctx: Context): void {
  const opening = ctx.opening;
  ctx.opening = undefined;
  const link = ctx.openingLink;
  ctx.openingLink = undefined;
  ctx.stopPrefetch?.();
  abandon(opening, link);
}

/**
 * Close a connection loadContext began to open, once it is open (a failed one has nothing to close),
 * and unlink it from the caller's signal.
 */
function abandon(opening: Promise<Connection> | undefined, link?: ConnectLink): void {
  link?.done();
  opening?.then((c) => c.close()).catch(() => {});
}

export interface Session<R extends AppliedSum = AppliedRow> {
  conn: Connection;
  store: VersionStore;
  applied: R[];
  appliedIds: Set<string>;
  /** Writers with `rekeyLater`: give the rows migrate-merge moved their new tags now (once; recognizeMoved). */
  rekey: () => Promise<void>;
}

interface SessionHooks {
  /** A writer that may still refuse after reading the rows: it calls `rekey` itself once it goes ahead, so a refusal changes nothing. */
  rekeyLater?: boolean;
  /** Writers: runs under the lock, before sluice's table is created (takeover of drizzle's table: commands/takeover.ts). */
  beforeEnsure?: (conn: Connection, store: VersionStore) => Promise<void>;
  /** false: a missing SQLite file, PostgreSQL schema or sluice table is not created (it reads as empty): a writer that only removes (down, reset). */
  mayCreate?: boolean;
  /**
   * Writers: a signal that stops the wait for the migration lock (Interrupted: nothing was changed);
   * `onInterruptible` is told while the wait can be stopped so (the CLI then catches Ctrl+C and SIGTERM).
   */
  signal?: AbortSignal;
  onInterruptible?: (possible: boolean) => void;
}

/**
 * Open the database, take the migration lock when writing, read the version table, run `fn`, and
 * always release and close. Reads never create anything.
 */
export async function withSession<T>(ctx: Context, write: boolean, fn: (s: Session) => Promise<T>, hooks?: SessionHooks): Promise<T>;
/** `sums`: the rows are read as revision and checksum only (VersionStore.sums), for a reader that needs no more (status). */
export async function withSession<T>(ctx: Context, write: false, fn: (s: Session<AppliedSum>) => Promise<T>, hooks: SessionHooks & { sums: true }): Promise<T>;
export async function withSession<T>(
  ctx: Context,
  write: boolean,
  fn: ((s: Session) => Promise<T>) | ((s: Session<AppliedSum>) => Promise<T>),
  hooks: SessionHooks & { sums?: boolean } = {},
): Promise<T> {
  // Writers hold the run-wide lock from before reading the version table to the end (plan + apply);
  // SLUICE_LOCK_WAIT is checked before opening (PostgreSQL's connection may be opening already: it is
  // closed), so a bad value changes nothing (creates no SQLite file).
  if (ctx.unopenable) throw ctx.unopenable;
  const opening = ctx.opening;
  ctx.opening = undefined;
  const openingLink = ctx.openingLink;
  ctx.openingLink = undefined;
  let waitMs = 0;
  try {
    waitMs = write ? lockWaitMs(ctx.env) : 0;
  } catch (err) {
    abandon(opening, openingLink);
    throw err;
  }
  let conn: Connection;
  if (ctx.connection) conn = ctx.connection;
  else {
    const link = opening ? (openingLink ?? connectLink(undefined)) : connectLink(hooks.signal);
    try {
      conn = await (opening ?? openConnection(ctx.target, { write, mayCreate: hooks.mayCreate, env: ctx.env, signal: link.signal }));
    } catch (err) {
      if (link.signal?.aborted && hooks.signal?.aborted) {
        const name = signalName(hooks.signal);
        throw new Interrupted(`interrupted (${name}) while connecting to ${ctx.target.display}: nothing was changed`, name, undefined, { cause: err });
      }
      throw err;
    } finally {
      link.done();
    }
  }
  // A caller's connection inside the caller's own transaction: sluice's BEGIN would not start one
  // (PostgreSQL only warns) and its COMMIT or ROLLBACK would end the caller's, with the caller's
  // uncommitted rows (a hunt: an app's rolled-back insert stayed committed after upgrade()).
  if (write && ctx.connection && conn.transactionOpen?.()) {
    throw new ConfigError(
      `the connection passed to sluice is inside a transaction of yours; sluice runs each revision in a transaction of its own and would commit or roll back yours with it: commit or roll back first, or pass a connection with no transaction open`,
    );
  }
  const store = new VersionStore(conn, { readFirst: !ctx.connection });
  let locked = false;
  let restoreSession: (() => Promise<void>) | undefined;
  try {
    // A caller's connection whose search_path (SQLite: foreign_keys) the caller changed: sluice's for the run, the caller's after.
    if (write && ctx.connection) restoreSession = await conn.adoptSession?.();
    if (write) {
      const asked = monotonicMs();
      hooks.onInterruptible?.(true);
      try {
        await conn.lock(waitMs, hooks.signal);
      } catch (err) {
        if (!(err instanceof LockWaitStopped) || !hooks.signal) throw err;
        const name = signalName(hooks.signal);
        // was: the process ended by the signal with no line at all
        throw new Interrupted(`interrupted (${name}) while waiting for the migration lock on ${conn.display}, which another run holds: nothing was changed`, name, undefined);
      } finally {
        hooks.onInterruptible?.(false);
      }
      locked = true;
      // Files read while another run held the lock may have changed since (that run may have been a
      // checkout's migrate): forgotten, read again now that nothing else runs.
      if (monotonicMs() - asked > 100) forgetPrefetched(ctx);
      await hooks.beforeEnsure?.(conn, store);
      // A down or reset creates nothing: where sluice's table is, there is nothing to make; where it is
      // not, nothing to revert (list() reads it as empty); a takeover makes its own. (Was: a mistyped
      // DATABASE_SCHEMA was created by reset, "already at base".)
      if (hooks.mayCreate !== false) await store.ensure();
    }
    const applied = recognizeMoved(ctx, await (hooks.sums ? store.sums() : store.list()));
    store.recheck();
    ctx.stopPrefetch?.(); // the wait is over: what is not read yet, the command reads itself
    let moves = write ? applied.flatMap((r) => (r.movedFrom ? [{ from: r.movedFrom, to: r.revision }] : [])) : [];
    const rekey = async () => {
      const now = moves;
      moves = [];
      await store.rekey(now);
    };
    if (!hooks.rekeyLater) await rekey();
    // the rows are AppliedRow unless `sums` was asked for, and then fn takes AppliedSum (the overloads)
    return await (fn as (s: Session<AppliedSum>) => Promise<T>)({ conn, store, applied, appliedIds: new Set(applied.map((r) => r.revision)), rekey });
  } catch (err) {
    // Lost outside a revision (reading the version table, taking the lock): nothing was changed by this run.
    if (!(err instanceof SluiceError) && conn.lostConnection(err)) {
      throw new ConnectionLost(
        `connection to ${conn.display} lost: ${describeCause(err)}; no revision was being applied. Run the command again when the server is back`,
        '',
        undefined,
        { cause: err },
      );
    }
    throw err;
  } finally {
    ctx.stopPrefetch?.();
    ctx.sums?.flush();
    if (locked) await conn.unlock();
    if (restoreSession) await restoreSession().catch(() => {});
    if (!ctx.connection) await conn.close();
  }
}

/**
 * Version rows migrate-merge renumbered: the row's tag is gone from the folder, or now names another up
 * (two revisions of one name on a branch, 0004_fix and 0005_fix moved to 0005_fix and 0006_fix), and
 * exactly one revision of the same name that no other row holds has the row's checksum (its up file
 * is unchanged). They are read as that revision, and writers re-key the rows (VersionStore.rekey).
 * Looked at only when a row's tag is not in the folder: the usual case costs nothing.
 */
export function recognizeMoved<R extends AppliedSum>(ctx: Context, rows: R[]): (R & { movedFrom?: string })[] {
  const byId = new Map(ctx.history.revisions.map((r) => [r.id, r]));
  if (rows.every((r) => byId.has(r.revision))) return rows;
  // rows where they belong hold their tags; the others may move
  const loose = new Set(rows.filter((r) => !byId.has(r.revision) || !isChecksumOf(ctx, byId.get(r.revision)!, r.checksum)));
  const name = (id: string) => id.replace(/^\d+/, '');
  let moves = new Map<R, string>();
  // each pass frees the tags of the rows the last one moved; as many passes as rows at most
  for (let pass = 0; pass <= rows.length; pass++) {
    const held = new Set(rows.filter((r) => !loose.has(r) || !moves.has(r)).map((r) => r.revision));
    const next = new Map<R, string>();
    for (const row of loose) {
      const matches = ctx.history.revisions.filter((rev) => !held.has(rev.id) && name(rev.id) === name(row.revision) && isChecksumOf(ctx, rev, row.checksum));
      if (matches.length === 1) next.set(row, matches[0]!.id);
    }
    // two rows for one revision: neither moves
    const targets = [...next.values()];
    for (const [row, to] of next) if (targets.indexOf(to) !== targets.lastIndexOf(to)) next.delete(row);
    if (next.size === moves.size && [...next].every(([row, to]) => moves.get(row) === to)) break;
    moves = next;
  }
  return rows.map((row) => (moves.has(row) ? { ...row, revision: moves.get(row)!, movedFrom: row.revision } : row));
}

function lockWaitMs(env: Record<string, string | undefined>): number {
  const s = Number(env.SLUICE_LOCK_WAIT ?? 60);
  if (!Number.isFinite(s) || s < 0) throw new SluiceError('SLUICE_LOCK_WAIT must be a number of seconds', ExitCode.usage);
  return s * 1000;
}
