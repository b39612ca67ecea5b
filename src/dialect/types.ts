/**
 * The dialect interface: what the engine, the version store and the checks need from a database.
 * One adapter per dialect (sqlite.ts, postgres.ts); nothing else knows which database it talks to.
 */
import type { DialectName } from '../config.js';

/** What became of a marked transaction after sluice's ROLLBACK (Connection.markState). */
export interface MarkState {
  state: 'committed' | 'prepared' | 'not-committed';
  /** PREPARE TRANSACTION's identifier, when `prepared`. */
  gid?: string;
}

export interface Capabilities {
  /** DDL runs inside transactions and rolls back with them. */
  transactionalDdl: boolean;
  /** Has schemas (namespaces) that sluice scopes everything to. */
  schemas: boolean;
  /** The migration lock covers the whole run (no other run can interleave between plan and apply). */
  runLock: boolean;
  /** Round trips are costly: send a revision's statements as one script, locating a failure afterwards. */
  batchStatements: boolean;
  /** Commits are costly (a durable sync each): consecutive revisions share one commit, each in a savepoint. */
  groupCommits?: boolean;
  /**
   * A script may be handed to executeScript while another still runs (the driver sends it when that one
   * ends) and its failure still counts only its own completed statements.
   */
  queuesScripts?: boolean;
}

/** A column a SQLite table rebuild would copy with changed values (dialect/sqlitecopy.ts): its declared types before and after, and the rows. */
export interface CopyChange {
  table: string;
  column: string;
  /** The copy's column it goes to (the same name unless the rebuild renames it). */
  target: string;
  from: string;
  to: string;
  rows: number;
}

/** A table rebuild among a step's statements: where its CREATE TABLE and its copy (INSERT … SELECT) stand. */
export interface TableCopy {
  at: number;
  copyAt: number;
  /**
   * The copied columns whose values the copy would change, as the database is now (nothing is written);
   * `now` reads the table's and columns' names back to the names they have now (renames earlier in the run).
   */
  changes(now?: { table(name: string): string | null; column(table: string, name: string): string | null }): Promise<CopyChange[]>;
}

/** Foreign-key violations by an identity a table rebuild keeps (child table, parent, key values as text: dialect/sqlitefk.ts), with their counts. */
export type ForeignKeyViolations = ReadonlyMap<string, number>;

export interface Connection {
  readonly dialect: DialectName;
  readonly capabilities: Capabilities;
  /** Where this connection points, password hidden. */
  readonly display: string;
  /**
   * Run one statement or a script of several, without results. When a script fails, the error
   * carries `completedStatements`: how many of its statements the server completed (where known).
   */
  execute(sql: string): Promise<void>;
  /** Batching adapters: run a script and return each statement's rows (errors carry `completedStatements`). */
  executeScript?(sql: string): Promise<Record<string, unknown>[][]>;
  /**
   * A statement that fails the revision when it changed the session's search_path (PostgreSQL under a
   * non-public DATABASE_SCHEMA: set_config(), dynamic SQL...), so nothing lands outside the schema.
   * `also`: further columns the same SELECT returns (batch.ts reads the clock with it).
   */
  searchPathGuard?(also?: string): string | undefined;
  /** The same check as an expression (NULL, or the failing cast): grouped scripts (batch.ts) put it in each revision's record check. Batching adapters that guard define it. */
  searchPathCheck?(): string | undefined;
  /** The search_path the guard expects, when it guards (a client-side check compares it: batch.ts). */
  guardedSearchPath?(): string | undefined;
  /** Batching adapters: a string as a SQL literal, escaped by the driver (only for grouped scripts: see batch.ts). */
  literal?(value: string): string;
  /** True when `err` means the connection to the server is gone (restart, network, terminated backend). */
  lostConnection(err: unknown): boolean;
  /**
   * Drop the session's prepared statements, on the server and in the driver's memory of them: a caller
   * that runs several commands on one connection (db-test) gives each the clean session a CLI run has
   * (a TypeScript revision's named statement, prepared again after a down re-created the types it
   * returns, fails with "cached plan must not change result type" on a reused session).
   */
  forgetPrepared?(): Promise<void>;
  /** Run one statement with bound values and return its rows. `name` lets the driver prepare it once per connection. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], name?: string): Promise<T[]>;
  /** Placeholder for the n-th bound value (1-based). */
  param(n: number): string;
  /** Quoted, schema-qualified name of a table in sluice's namespace. */
  table(name: string): string;
  /** SQL type for the version table's applied-at column. */
  readonly timestampType: string;
  /**
   * A SELECT expression reading a column of `timestampType` as ISO 8601 text in UTC with milliseconds
   * (`2026-12-02T20:11:56.099Z`, what `Date.toISOString` gives), so no row needs a Date parsed on
   * the client. Absent where the column holds that text already.
   */
  isoTimestamp?(column: string): string;
  /**
   * A SELECT of one row whose one text column `rows` holds the rows of `SELECT <columns> FROM <from>`
   * (`from`: the table, and a WHERE clause when the caller gives one),
   * sorted by the column `orderBy` (quoted) as `ORDER BY` sorts it, as a JSON array of objects keyed by
   * column name (`[]` when there are none). Where each row costs the driver a message to decode
   * (node-postgres: ~10 µs a row), one value to decode is cheaper. Absent where rows come cheap.
   */
  jsonRows?(columns: string, from: string, orderBy: string): string;
  tableExists(name: string): Promise<boolean>;
  /**
   * Whether `err`, from a statement reading a table in sluice's namespace, says that table (or its
   * namespace) is not there (PostgreSQL 42P01, SQLite "no such table"): VersionStore's first read asks
   * the table directly instead of asking first whether it exists.
   */
  missingTable?(err: unknown): boolean;
  /** Make the namespace exist (PostgreSQL: CREATE SCHEMA IF NOT EXISTS). Called before writing. True when this call created it. */
  prepareNamespace(): Promise<boolean>;
  /** Remove the namespace prepareNamespace created, when nothing is in it (PostgreSQL: DROP SCHEMA, which refuses a schema holding anything). */
  dropNamespaceIfEmpty?(): Promise<void>;
  /** Adapt a migration's SQL to this target (schema translation). */
  translate(sql: string): string;
  /** Make translate ready for these texts (PostgreSQL: loads the scanner when one's `public` qualifiers are not known yet). */
  readyToTranslate?(texts: readonly string[]): Promise<void>;
  begin(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /**
   * Whether the session is inside a transaction block now, as the database says after the last
   * statement (PostgreSQL: ReadyForQuery's status; SQLite: not in autocommit mode): a no-transaction
   * revision's own BEGIN, SAVEPOINT or COMMIT AND CHAIN leaves one open (steprun.ts). Absent: unknown.
   */
  transactionOpen?(): boolean;
  /**
   * A caller's connection (`connection`): put back the session settings sluice's revisions rely on
   * (PostgreSQL: the search_path openConnection set; SQLite: foreign keys on) when the caller changed them since, and return
   * what puts the caller's back at the end of the run (undefined: nothing was changed).
   */
  adoptSession?(): Promise<(() => Promise<void>) | undefined>;
  /** PostgreSQL: the schema (DATABASE_SCHEMA) the connection was opened for. */
  scopeSchema?(): string;
  /** PostgreSQL: the URL the connection was opened with (its server and database; context.ts compares them). */
  scopeUrl?(): string | undefined;
  /** SQLite: the database file the connection was opened on (undefined for the in-memory stand-in of a missing file). */
  scopeFile?(): string | undefined;
  /**
   * Mark the open transaction before code sluice cannot read (a TypeScript revision) runs in it;
   * returns the mark (PostgreSQL: its transaction id; SQLite: a row in a temporary table).
   */
  markTransaction?(): Promise<string>;
  /**
   * After sluice's ROLLBACK: what became of the marked transaction. `committed` — by a COMMIT sluice
   * did not send, so what ran in it is not rolled back; `prepared` (PostgreSQL) — by a PREPARE
   * TRANSACTION, so it is neither committed nor rolled back, and holds its locks, until a COMMIT
   * PREPARED or ROLLBACK PREPARED of `gid`; `not-committed` — rolled back (or never committed).
   */
  markState?(mark: string): Promise<MarkState>;
  /** Before sluice writes the version row: whether the marked transaction is still the open one. */
  markOpen?(mark: string): Promise<boolean>;
  /**
   * Take the migration lock, waiting at most `timeoutMs`; throws a clear error when it cannot be had,
   * and LockWaitStopped when `signal` is aborted while it waits (nothing held, nothing changed).
   */
  lock(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  unlock(): Promise<void>;
  /**
   * SQLite table rebuilds: drizzle-kit brackets them with `PRAGMA foreign_keys=OFF/ON`, which is a
   * no-op inside a transaction. Returns the statements without those pragmas when the revision has
   * them (the engine then follows SQLite's 12-step procedure), or undefined.
   */
  foreignKeyRebuild?(statements: string[]): string[] | undefined;
  /**
   * SQLite: AUTOINCREMENT counters before a step's statements, when they may drop a table (a rebuild
   * would give deleted rows' ids out again: dialect/sqliteseq.ts); undefined when there is nothing to keep.
   */
  sequencesBefore?(statements: readonly string[]): Promise<ReadonlyMap<string, bigint> | undefined>;
  /** SQLite: after the step's statements, in its transaction: the counters sequencesBefore read, put back. */
  keepSequences?(before: ReadonlyMap<string, bigint>): Promise<void>;
  /**
   * SQLite: the table rebuilds among a step's statements (comments dropped), whose copy the check
   * before a down counts (preflight.ts, dialect/sqlitecopy.ts); their INSERT … SELECT is schema, not a
   * write of the rows of their own.
   */
  tableCopies?(statements: readonly string[]): TableCopy[];
  /** Turn foreign-key enforcement off/on outside a transaction; returns whether it was on. */
  setForeignKeys?(on: boolean): Promise<boolean>;
  /** Whether foreign-key enforcement is on (SQLite's `PRAGMA foreign_keys`). */
  foreignKeysOn?(): Promise<boolean>;
  /**
   * SQLite: whether a table declares a foreign key `DEFERRABLE INITIALLY DEFERRED` (checked at COMMIT:
   * grouped revisions, which share one, then run alone). May say yes for less (the word in a name).
   */
  deferredForeignKeys?(): Promise<boolean>;
  /** The rows that violate foreign keys now (PRAGMA foreign_key_check), to tell a run's new ones from older ones. */
  foreignKeyViolations?(): Promise<ForeignKeyViolations>;
  /**
   * Throw when rows violate foreign keys, naming the tables; with `before` (foreignKeyViolations'
   * answer before the statements ran), only for violations those statements added: rows that broke a
   * key before (written while enforcement was off, SQLite's default) are not the revision's doing.
   * `when` completes the message ("foreign key check failed <when>: ...").
   */
  checkForeignKeys?(before?: ForeignKeyViolations, when?: string): Promise<void>;
  /** SQLite: a consistent copy of the database file (SQLite's backup API). Absent where not supported. */
  backupTo?(file: string): Promise<void>;
  /**
   * TypeScript revisions (tsrevision.ts): a drizzle database bound to this connection and to the
   * transaction the engine has open on it (PostgreSQL: drizzle-orm/node-postgres, as a transaction
   * object whose nested transactions are savepoints; SQLite: drizzle-orm/better-sqlite3).
   */
  drizzle?(
    /** PostgreSQL: once aborted, the handle sends no more queries (each fails, after a turn of the event loop: dialect/drizzle.ts). */
    signal?: AbortSignal,
  ): Promise<unknown>;
  /** A textual description of the app's schema (sluice's own table excluded), for comparisons. */
  dumpSchema(): Promise<string>;
  /**
   * Ask the server to stop the statement running on this connection (PostgreSQL's cancel request, sent
   * on a connection of its own): the statement fails with SQLSTATE 57014, its transaction is rolled back
   * with it, and nothing after it in the same script runs. Resolves once the server has taken the
   * request, or at once when nothing is running. Absent where a run cannot be stopped from outside
   * (SQLite runs in this process, synchronously: a signal ends the process and its journal rolls back).
   */
  cancel?(): Promise<void>;
  /** PostgreSQL: the indexes of sluice's schema marked invalid (a CREATE INDEX CONCURRENTLY that failed or was cancelled leaves one). */
  invalidIndexes?(): Promise<string[]>;
  close(): Promise<void>;
}
