import { accessSync, chmodSync, constants, existsSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { DatabaseTarget, SqliteEngine } from '../config.js';
import { ConnectionError, ConfigError, describeCause, LockWaitStopped } from '../errors.js';
import { foreignKeyPragmas, quoteIdent } from '../sql.js';
import { newViolations, readViolations } from './sqlitefk.js';
import { keepSequences, readSequences } from './sqliteseq.js';
import { tableCopies } from './sqlitecopy.js';
import type { Connection, ForeignKeyViolations, MarkState } from './types.js';
import { VERSION_TABLE } from '../store.js';
import { drizzleSqlite } from './drizzle.js';
import { betterSqlite, openSqliteDatabase } from './sqlitedb.js';
import { pidAlive } from '../pids.js';
import { sqliteIndexExtras, sqliteTableExtras } from '../sqliteshape.js';
import { commandLine, readHolder, type Holder } from '../lockholder.js';

/**
 * How long a statement waits for a lock another connection holds on the file (SQLite's busy timeout):
 * SLUICE_LOCK_TIMEOUT, read as PostgreSQL reads its lock_timeout (`10s`, `500ms`, `2min`; a number
 * alone is milliseconds; 0 is no limit), default 10s. Was a constant 10 s.
 */
export function busyTimeoutMs(env: Record<string, string | undefined>): number {
  const raw = env.SLUICE_LOCK_TIMEOUT;
  if (raw === undefined) return 10_000;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(raw);
  if (!m) throw new ConfigError(`SLUICE_LOCK_TIMEOUT must be a duration as PostgreSQL reads it (10s, 500ms, 2min; a number alone is milliseconds), not ${JSON.stringify(raw)}`);
  const ms = Number(m[1]) * { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms']!;
  return ms === 0 ? 2_147_483_647 : Math.max(1, Math.min(Math.round(ms), 2_147_483_647));
}

/** A wait in words: `10s`, `500ms`. */
const waitText = (ms: number): string => (ms >= 2_147_483_647 ? 'ever' : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
/** Beside the database file: the file that carries the run-wide migration lock (see SqliteConnection.lock). */
export const LOCK_SUFFIX = '.sluice-lock';
/** Beside the database file, while a run holds the lock: who holds it (pid, host, command, since). */
export const HOLDER_SUFFIX = '.sluice-lock.holder';
const LOCK_POLL_MS = 50;

/** `create`: open for writing, creating a missing file, unless `mayCreate` is false (a down: a missing file reads as empty, and nothing is made). */
export function openSqlite(target: DatabaseTarget, options: { create: boolean; mayCreate?: boolean; env?: Record<string, string | undefined> }): Connection {
  const busyMs = busyTimeoutMs(options.env ?? process.env);
  const file = target.file!;
  const dir = path.dirname(file);
  const folder = statSync(dir, { throwIfNoEntry: false });
  if (!folder) throw new ConfigError(`folder ${dir} of the SQLite file does not exist; create it or fix DATABASE_URL`);
  if (!folder.isDirectory()) throw new ConfigError(`${dir}, where DATABASE_URL puts the SQLite file, is a file, not a folder; fix DATABASE_URL`);
  // A device (/dev/null), a folder or a pipe is no database: refused before anything (the lock file
  // beside it included) is created.
  const kind = statSync(file, { throwIfNoEntry: false });
  const exists = kind !== undefined;
  if (kind && !kind.isFile()) {
    const what = kind.isDirectory() ? 'a folder' : kind.isCharacterDevice() || kind.isBlockDevice() ? 'a device' : 'not a regular file';
    throw new ConfigError(`DATABASE_URL names ${file}, which is ${what}, not a SQLite file; point it at a file (it is created on the first up)`);
  }
  // Read commands never create the file: a missing one reads as empty.
  if ((!options.create || options.mayCreate === false) && !exists) return emptySqlite(target);
  if (exists && !canAccess(file, constants.R_OK | (options.create ? constants.W_OK : 0))) {
    throw new ConnectionError(`SQLite file ${target.display} is not ${options.create ? 'writable' : 'readable'}; check its permissions`);
  }
  // SQLite writes its journal beside the file: a folder it may not write fails the first revision otherwise
  if (options.create && !canAccess(dir, constants.W_OK)) {
    throw new ConnectionError(`the folder ${dir} of SQLite file ${target.display} is not writable (SQLite writes its journal beside the file); check its permissions`);
  }
  // Read commands open a writable file read-write (never creating it): a writer killed mid-transaction
  // leaves a hot rollback journal that only a read-write connection can roll back, and until it is
  // rolled back nobody can read the file. A file we may not write (permissions, chattr +i) is opened
  // read-only as before.
  const readonly = !options.create && !canAccess(file, constants.W_OK);
  let db: Database.Database | undefined;
  let readLater = false;
  try {
    db = openSqliteDatabase(target.engine, file, { readonly, fileMustExist: !options.create });
    // A writer does not wait here for a file another run is writing (a revision larger than SQLite's
    // page cache keeps the file exclusively locked until it commits): it reads it once it holds the
    // migration lock (lock), having waited SLUICE_LOCK_WAIT for that run. (Was: this read waited the
    // 10 s busy timeout, frozen, then "cannot open SQLite file: database is locked", exit 5: a second
    // deploy failed while the first still ran, and SLUICE_LOCK_WAIT=1 took 10 s naming nobody.)
    db.pragma(`busy_timeout = ${options.create ? 0 : busyMs}`);
    try {
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    } catch (err) {
      if (!options.create || !/^SQLITE_BUSY/.test(String((err as { code?: unknown }).code))) throw err;
      readLater = true;
    }
    if (options.create) db.pragma(`busy_timeout = ${busyMs}`);
  } catch (err) {
    // opened, then its first read failed (not a database, locked): closed, so a library caller that
    // polls status() keeps no handle per call (found by a review helper)
    try {
      db?.close();
    } catch {
      /* the error below is the one to report */
    }
    if (readonly && existsSync(`${file}-journal`) && /^SQLITE_READONLY/.test(String((err as { code?: unknown }).code))) {
      throw new ConnectionError(
        `SQLite file ${target.display} has an unfinished transaction left by a process that stopped mid-write (rollback journal ${path.basename(file)}-journal), and the file is not writable, so SQLite cannot roll it back; make the file writable (or run as its owner), then run again`,
        { cause: err },
      );
    }
    // a reader (status) while a run writes a revision larger than SQLite's page cache: the file is locked
    // to readers until it commits (was: "cannot open SQLite file …: database is locked", as if damaged)
    if (/^SQLITE_BUSY/.test(String((err as { code?: unknown }).code))) {
      const h = readHolder(`${safeRealpath(file)}${HOLDER_SUFFIX}`);
      const who = h ? `sluice run pid ${h.pid} on host ${h.host} ("${h.command}"), since ${h.since}` : 'an application, or a sluice run';
      throw new ConnectionError(`SQLite file ${target.display} stayed locked by a write for ${waitText(busyMs)} (${who}); run again once it has committed, or raise SLUICE_LOCK_TIMEOUT`, { cause: err });
    }
    throw new ConnectionError(`cannot open SQLite file ${target.display}: ${describeCause(err)}`, { cause: err });
  }
  const conn = new SqliteConnection(db!, target.display, file, target.engine ?? 'sqlite');
  conn.readLater = readLater;
  return conn;
}

function safeRealpath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

function canAccess(file: string, mode: number): boolean {
  try {
    accessSync(file, mode);
    return true;
  } catch {
    return false;
  }
}

class SqliteConnection implements Connection {
  readonly dialect = 'sqlite' as const;
  // runLock: lock() below holds one lock per database file for the whole run (plan and apply), so the
  // engine's per-revision "already done by another run" re-check is not needed.
  readonly capabilities = { transactionalDdl: true, schemas: false, runLock: true, batchStatements: false, groupCommits: true };
  readonly timestampType = 'text';
  /** The connection to the lock file while this connection holds the migration lock. */
  private lockDb: Database.Database | undefined;
  /** The file was locked when opened (another run writing it): its first read waits for the migration lock. */
  readLater = false;
  constructor(
    private readonly db: Database.Database,
    readonly display: string,
    /** The database file; undefined for the in-memory stand-in of a missing file (never locked). */
    private readonly file?: string,
    private readonly engine: SqliteEngine = 'sqlite',
  ) {}

  scopeFile(): string | undefined {
    return this.file;
  }

  private lockPath?: string;
  /**
   * Where the lock files go: beside the database file itself, links resolved, so that two paths to one
   * file (a symbolic link) take one lock (a review ran one revision twice through two links).
   */
  private lockBase(): string {
    if (this.lockPath === undefined) {
      try {
        this.lockPath = realpathSync(this.file!);
      } catch {
        this.lockPath = this.file!; // not there (yet): its own path
      }
    }
    return this.lockPath;
  }

  async execute(sql: string): Promise<void> {
    this.db.exec(sql);
  }
  lostConnection(): boolean {
    return false;
  }
  private readonly prepared = new Map<string, Database.Statement>();
  async query<T>(sql: string, params: unknown[] = [], name?: string): Promise<T[]> {
    let stmt = name ? this.prepared.get(name) : undefined;
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (name) this.prepared.set(name, stmt);
    }
    if (stmt.reader) return stmt.all(...params) as T[];
    stmt.run(...params);
    return [];
  }
  param(): string {
    return '?';
  }
  table(name: string): string {
    // main's: a TEMP table of the same name (a revision may make one) would otherwise hide it
    return `main.${quoteIdent(name)}`;
  }
  async tableExists(name: string): Promise<boolean> {
    return !!this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name);
  }
  missingTable(err: unknown): boolean {
    const message = (err as { message?: unknown } | null)?.message;
    return typeof message === 'string' && /^no such table\b/i.test(message);
  }
  async prepareNamespace(): Promise<boolean> {
    return false;
  }
  translate(sql: string): string {
    return sql;
  }
  async begin(): Promise<void> {
    this.db.exec('BEGIN IMMEDIATE');
  }
  async commit(): Promise<void> {
    this.db.exec('COMMIT');
  }
  async rollback(): Promise<void> {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }
  transactionOpen(): boolean {
    return this.db.inTransaction;
  }
  async adoptSession(): Promise<(() => Promise<void>) | undefined> {
    // an app that turned foreign keys off on this connection: revisions would run unchecked (a broken
    // row applied and recorded) where sluice's own connection refuses them; on for the run, off after
    if (await this.setForeignKeys(true)) return undefined;
    return async () => {
      await this.setForeignKeys(false);
    };
  }
  async markTransaction(): Promise<string> {
    // in the temp schema, which the transaction covers too: the row stays only if the transaction commits
    this.db.exec('CREATE TEMP TABLE IF NOT EXISTS "sluice_revision_mark" ("mark" text)');
    const mark = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    this.db.prepare('INSERT INTO temp."sluice_revision_mark" ("mark") VALUES (?)').run(mark);
    this.db.exec('SAVEPOINT "sluice_revision_mark"'); // gone with the transaction: a COMMIT then BEGIN is told apart
    return mark;
  }
  async markOpen(mark: string): Promise<boolean> {
    if (!this.db.inTransaction || !this.markRowPresent(mark)) return false;
    try {
      this.db.exec('RELEASE "sluice_revision_mark"');
    } catch {
      return false; // no such savepoint: this transaction is another one
    }
    // gone with this transaction's commit (a rollback brings it back without the row): the temp table
    // does not outlive the revision, where it would hide a main table of that name from later SQL
    this.db.exec('DROP TABLE temp."sluice_revision_mark"');
    return true;
  }
  async markState(mark: string): Promise<MarkState> {
    return { state: this.markRowPresent(mark) ? 'committed' : 'not-committed' };
  }
  private markRowPresent(mark: string): boolean {
    if (!this.db.prepare("SELECT 1 FROM temp.sqlite_master WHERE name = 'sluice_revision_mark'").get()) return false;
    return !!this.db.prepare('SELECT 1 FROM temp."sluice_revision_mark" WHERE "mark" = ?').get(mark);
  }
  /**
   * The run-wide migration lock: up, down, stamp and reset hold it from before they read the version
   * table until they are done, so runs on one database file serialize like PostgreSQL's advisory lock.
   *
   * Design. SQLite has no advisory lock, and holding a write transaction on the database itself for
   * the whole run would block the application's writes for as long, while the engine needs its own
   * transaction per revision on that file. So the lock is an exclusive transaction (BEGIN EXCLUSIVE)
   * on a companion file, `<database>.sluice-lock`, opened with better-sqlite3:
   * - SQLite's locks are POSIX locks owned by the process, so the kernel drops them when the process
   *   dies, kill -9 included: a dead holder never leaves a lock to detect, expire or delete by hand.
   * - Nothing is ever written to that file (no statement but BEGIN EXCLUSIVE and ROLLBACK,
   *   journal_mode=MEMORY so not even an empty journal appears beside it): it stays empty and cannot
   *   be corrupted by a crash.
   * - It is never deleted: a run waiting on the old file and a new run creating a fresh one would both
   *   "hold" the lock. It holds no data; README says so.
   * - The wait polls with busy_timeout 0 (like the PostgreSQL adapter's pg_try_advisory_lock loop)
   *   rather than a busy_timeout, because better-sqlite3 waits synchronously: a busy_timeout would
   *   freeze the event loop, and two runs in one process (library use) would deadlock. SQLite also
   *   tracks locks per file inside a process, so a second connection of the same process waits too.
   * - An exclusive transaction hides the lock file from waiters, so the holder records itself (pid,
   *   host, command, since) in `<database>.sluice-lock.holder` right after acquiring and removes that
   *   record before releasing. The record only names the holder in the timeout error; it decides
   *   nothing, so a record left by a killed holder is harmless and replaced by the next run.
   * (Like SQLite itself, this relies on working POSIX locks: not on network filesystems.)
   */
  async lock(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (!this.file) return;
    // Another run on this same connection (a caller's `connection` shared by two calls at once) holds
    // it: wait for it as another connection would (was: taken as held, both runs interleaved, and the
    // first one's end released the lock under the second).
    const deadline = Date.now() + timeoutMs;
    while (this.lockDb || this.locking) {
      if (signal?.aborted) throw new LockWaitStopped();
      if (Date.now() >= deadline) throw new ConnectionError(this.lockedMessage(timeoutMs));
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(LOCK_POLL_MS, deadline - Date.now()))));
    }
    this.locking = true;
    try {
      await this.lockFile(Math.max(0, deadline - Date.now()), timeoutMs, signal);
    } finally {
      this.locking = false;
    }
    if (!this.readLater) return;
    this.readLater = false;
    try {
      this.db.prepare('SELECT count(*) FROM sqlite_master').get(); // as openSqlite's read, now the other run is done
    } catch (err) {
      await this.unlock();
      throw new ConnectionError(`cannot open SQLite file ${this.display}: ${describeCause(err)}`, { cause: err });
    }
  }
  /** This connection is taking the lock (lockFile), before lockDb is set. */
  private locking = false;
  private async lockFile(remainingMs: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const lockFile = this.lockBase() + LOCK_SUFFIX;
    const created = !existsSync(lockFile);
    let db: Database.Database;
    try {
      db = betterSqlite(lockFile, { timeout: 0 });
    } catch (err) {
      const folder = existsSync(lockFile) && statSync(lockFile).isDirectory();
      throw new ConnectionError(
        `cannot ${folder ? 'open' : 'create'} the lock file ${this.besideDb(LOCK_SUFFIX)} of ${this.display}: ${folder ? 'it is a folder; remove it (sluice creates the file)' : `${describeCause(err)}; check that its folder is writable`}`,
        { cause: err },
      );
    }
    if (created) {
      // a database shared by a group: let the group take the lock too
      try {
        chmodSync(lockFile, statSync(this.file!).mode & 0o666);
      } catch {
        /* best effort */
      }
    }
    const deadline = Date.now() + remainingMs;
    let memoryJournal = false;
    for (;;) {
      try {
        if (!memoryJournal) {
          db.pragma('journal_mode = MEMORY'); // reads the file: busy while another run holds it
          memoryJournal = true;
        }
        db.exec('BEGIN EXCLUSIVE');
        break;
      } catch (err) {
        const busy = /^SQLITE_BUSY/.test(String((err as { code?: unknown }).code));
        if (busy && signal?.aborted) {
          db.close();
          throw new LockWaitStopped();
        }
        if (!busy || Date.now() >= deadline) {
          db.close();
          if (!busy) {
            throw new ConnectionError(
              `cannot take the migration lock on ${this.display} (lock file ${this.besideDb(LOCK_SUFFIX)}): ${describeCause(err)}; check the permissions of that file and its folder`,
              { cause: err },
            );
          }
          throw new ConnectionError(this.lockedMessage(timeoutMs));
        }
        await new Promise((r) => setTimeout(r, Math.max(1, Math.min(LOCK_POLL_MS, deadline - Date.now()))));
      }
    }
    this.lockDb = db;
    const holder: Holder = { pid: process.pid, host: os.hostname(), command: commandLine(), since: new Date().toISOString() };
    try {
      writeFileSync(this.lockBase() + HOLDER_SUFFIX, `${JSON.stringify(holder)}\n`);
    } catch {
      /* the record only names the holder in a waiter's error; the lock is held without it */
    }
  }
  async unlock(): Promise<void> {
    const db = this.lockDb;
    if (!db) return;
    this.lockDb = undefined;
    // remove the record while still holding the lock: it always describes the current holder
    try {
      rmSync(this.lockBase() + HOLDER_SUFFIX, { force: true });
    } catch {
      /* a record we could not remove is replaced by the next holder */
    }
    try {
      if (db.inTransaction) db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  }
  /** The one-line error of a run that waited SLUICE_LOCK_WAIT for the lock: who holds it, and what to do. */
  private lockedMessage(timeoutMs: number): string {
    const holder = readHolder(this.lockBase() + HOLDER_SUFFIX);
    const here = holder?.host === os.hostname();
    const alive = holder && (!here || pidAlive(holder.pid));
    const self = alive && here && holder.pid === process.pid;
    const who = !holder
      ? 'a process that has not recorded itself yet'
      : !alive
        ? `a process that has not recorded itself yet (the last record, pid ${holder.pid} on host ${holder.host}, is gone)`
        : `${self ? 'another run in this process, ' : ''}pid ${holder.pid} on host ${holder.host} ("${holder.command}"), since ${holder.since}`;
    const stuck = alive && !self ? `; if that process is stuck, stop it (kill ${holder.pid}): its lock is released when it exits, nothing to delete` : '';
    const waited = Number((timeoutMs / 1000).toFixed(1));
    return `another sluice run holds the migration lock on ${this.display}: ${who} (waited ${waited}s); wait for it to finish, or raise SLUICE_LOCK_WAIT${stuck}`;
  }
  /** A companion file's path as shown to users: next to the database as DATABASE_URL names it. */
  private besideDb(suffix: string): string {
    const base = this.file ? this.lockBase() : undefined;
    return base && base !== this.file ? base + suffix : this.display.replace(/^sqlite:/, '') + suffix;
  }
  drizzle(): Promise<unknown> {
    return drizzleSqlite(this.db);
  }
  async dumpSchema(): Promise<string> {
    return dumpSqlite(this.db);
  }
  /** Read once per statement list: the engine asks for each step several times (grouping, running). */
  private readonly rebuilds = new WeakMap<string[], string[] | null>();
  foreignKeyRebuild(statements: string[]): string[] | undefined {
    let body = this.rebuilds.get(statements);
    if (body === undefined) this.rebuilds.set(statements, (body = foreignKeyPragmas(statements)?.body ?? null));
    return body ?? undefined;
  }
  async sequencesBefore(statements: readonly string[]): Promise<ReadonlyMap<string, bigint> | undefined> {
    return readSequences(this.db, statements);
  }
  async keepSequences(before: ReadonlyMap<string, bigint>): Promise<void> {
    keepSequences(this.db, before);
  }
  readonly tableCopies = (statements: readonly string[]) => tableCopies(this.db, statements);
  async setForeignKeys(on: boolean): Promise<boolean> {
    const was = await this.foreignKeysOn();
    this.db.pragma(`foreign_keys = ${on ? 'ON' : 'OFF'}`);
    return was;
  }
  async foreignKeysOn(): Promise<boolean> {
    return (this.db.prepare('PRAGMA foreign_keys').raw().get() as unknown[])[0] === 1;
  }
  async deferredForeignKeys(): Promise<boolean> {
    return !!this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND sql LIKE '%deferred%' LIMIT 1").get();
  }
  async foreignKeyViolations(): Promise<ForeignKeyViolations> {
    return readViolations(this.db);
  }
  async checkForeignKeys(before?: ForeignKeyViolations, when?: string): Promise<void> {
    const now = readViolations(this.db);
    if (!now.size) return;
    const { added, pairs, total, dangling } = newViolations(before ?? new Map(), now);
    if (!added && !dangling.length) return;
    const older = total - added;
    // a parent table that is gone: a rename moved the keys to it (SQLite 3.26 on), then it was dropped
    const parentOf = (k: string) => (k.startsWith('\u0001') ? k.slice(k.lastIndexOf(' -> ') + 4) : k.split('\u0000')[1]!);
    const gone = [...new Set([...now.keys()].map(parentOf))].filter(
      (t) => !this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE").get(t),
    );
    const hint = gone.length
      ? `; table ${gone.join(', ')} no longer exists: SQLite moved those foreign keys to it when a table was renamed to it, so rebuild in SQLite's order instead (create the new table, copy the rows, drop the old table, rename the new one to its name)`
      : '';
    const rowsPart = added ? `${added} row(s) reference missing parents (${pairs.join(', ')})${older ? `; ${older} other row(s) did before it ran and are left as they were` : ''}` : '';
    const keysPart = !added && dangling.length ? `foreign key(s) ${dangling.join(', ')} name a table that no longer exists` : '';
    throw new Error(`foreign key check failed${when ? ` ${when}` : ''}: ${rowsPart || keysPart}${hint}`);
  }
  async backupTo(file: string): Promise<void> {
    // libsql has no online backup API; VACUUM INTO writes the same consistent copy
    if (this.engine === 'libsql') this.db.prepare('VACUUM INTO ?').run(file);
    else await this.db.backup(file);
  }
  async close(): Promise<void> {
    await this.unlock();
    this.db.close();
  }
}

/** Structural description: per table its columns, indexes and foreign keys; views and triggers by SQL. */
function dumpSqlite(db: Database.Database): string {
  const objects = db
    .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ? ORDER BY type, name")
    .all(VERSION_TABLE) as { type: string; name: string; tbl_name: string; sql: string | null }[];
  const lines: string[] = [];
  for (const o of objects) {
    if (o.type === 'table') {
      lines.push(`table ${o.name}`);
      // column order is cosmetic (a column re-added by a down comes last): sorted
      const columns = (db.prepare(`PRAGMA table_xinfo(${quoteIdent(o.name)})`).all() as Record<string, unknown>[]).map(
        (c) => `  column ${c.name} ${c.type} notnull=${c.notnull} default=${c.dflt_value} pk=${c.pk} hidden=${c.hidden}`,
      );
      lines.push(...columns.sort());
      const fks = (db.prepare(`PRAGMA foreign_key_list(${quoteIdent(o.name)})`).all() as Record<string, unknown>[]).map(
        (f) => `  fk ${f.from} -> ${f.table}(${f.to}) on_update=${f.on_update} on_delete=${f.on_delete}`,
      );
      lines.push(...fks.sort());
      const autoinc = /AUTOINCREMENT/i.test(o.sql ?? '');
      lines.push(`  autoincrement=${autoinc}`);
      lines.push(...sqliteTableExtras(o.name, o.sql).map((l) => `  ${l}`));
    } else if (o.type === 'index') {
      const cols = (db.prepare(`PRAGMA index_xinfo(${quoteIdent(o.name)})`).all() as Record<string, unknown>[])
        .filter((c) => c.key)
        .map((c) => `${c.name ?? 'expr'}${c.desc ? ' desc' : ''}`);
      const unique = (db.prepare(`PRAGMA index_list(${quoteIdent(o.tbl_name)})`).all() as Record<string, unknown>[]).find(
        (i) => i.name === o.name,
      )?.unique;
      lines.push(`index ${o.name} on ${o.tbl_name} (${cols.join(', ')}) unique=${unique} partial=${/\bWHERE\b/i.test(o.sql ?? '')}${sqliteIndexExtras(o.tbl_name, o.sql)}`);
    } else {
      lines.push(`${o.type} ${o.name}: ${o.sql}`);
    }
  }
  return lines.join('\n');
}

/** A database file that does not exist yet reads as empty: read-only commands never create it. */
function emptySqlite(target: DatabaseTarget): Connection {
  const db = betterSqlite(':memory:');
  return new SqliteConnection(db, target.display);
}
