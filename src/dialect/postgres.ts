import pg from 'pg';
import type { DatabaseTarget } from '../config.js';
import { ConfigError, ConnectionError, ConnectionLost, SluiceError, ExitCode, describeCause, searchPathChanged, VERSION_ROW_MARK, versionRowSuppressed, LockWaitStopped } from '../errors.js';
import { quoteIdent, quoteLiteral, systemSchemaError } from '../sql.js';
import { readyToTranslate, translatePublic } from '../publicschema.js';
import type { Capabilities, Connection, MarkState } from './types.js';
import { drizzlePostgres } from './drizzle.js';
import { dumpPostgres } from './pgdump.js';

export interface PostgresOptions {
  /** Seconds to wait for a connection (SLUICE_CONNECT_TIMEOUT, default 10). */
  connectTimeoutS: number;
  /** Postgres lock_timeout for migration statements (SLUICE_LOCK_TIMEOUT, default 10s). */
  lockTimeout: string;
  /** Optional statement_timeout (SLUICE_STATEMENT_TIMEOUT). */
  statementTimeout?: string;
  /** Aborted: the socket is destroyed at once, whatever the server does (a connection opened ahead of need and not taken; see serverwarm.ts). */
  signal?: AbortSignal;
}

export function postgresOptions(env: Record<string, string | undefined>): PostgresOptions {
  const connectTimeoutS = Number(env.SLUICE_CONNECT_TIMEOUT ?? 10);
  // Node timers hold at most 2^31-1 ms: a longer wait would fire at once.
  if (!Number.isFinite(connectTimeoutS) || connectTimeoutS <= 0 || connectTimeoutS > 2_147_483) {
    throw new SluiceError('SLUICE_CONNECT_TIMEOUT must be a number of seconds from 0.001 to 2147483 (about 24 days)');
  }
  return { connectTimeoutS, lockTimeout: env.SLUICE_LOCK_TIMEOUT ?? '10s', statementTimeout: env.SLUICE_STATEMENT_TIMEOUT };
}

/**
 * The connection is gone: the server restarted or shut down (SQLSTATE 57P01-57P03), a connection
 * exception (class 08), or the socket closed under the driver.
 */
export function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (/^57P0[123]$/.test(code) || /^08/.test(code) || ['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT'].includes(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|connection error and is not queryable|Client was closed and is not queryable|terminating connection/i.test(message);
}

export async function openPostgres(target: DatabaseTarget, options: PostgresOptions): Promise<Connection> {
  const refused = systemSchemaError(target.schema!);
  if (refused) throw new ConfigError(refused);
  const client = new pg.Client({
    connectionString: target.url,
    connectionTimeoutMillis: options.connectTimeoutS * 1000,
    application_name: 'sluice',
  });
  client.on('error', () => {
    /* reported through the failing query */
  });
  let cut = (): void => {};
  if (options.signal) {
    if (options.signal.aborted) throw new ConnectionError(`cannot connect to ${target.display}: not needed any more`);
    // a server that accepts and never answers would hold the connect (and the process) for SLUICE_CONNECT_TIMEOUT
    const stream = (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream;
    cut = () => stream?.destroy?.();
    options.signal.addEventListener('abort', cut, { once: true });
  }
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw new ConnectionError(`cannot connect to ${target.display}: ${connectReason(err, options)}`, { cause: err });
  } finally {
    // for the connect only (was: kept on the signal: deploy's eleventh attempt printed Node.js's
    // MaxListenersExceededWarning, and a caller's long-lived signal kept one per connection)
    options.signal?.removeEventListener('abort', cut);
  }
  const conn = new PostgresConnection(client, target);
  const settings = await conn.executeScript(
    [
      `SET search_path TO ${[target.schema!, ...(target.lookup ?? [])].map((x) => quoteIdent(x)).join(', ')}`,
      `SET lock_timeout = ${quoteLiteral(options.lockTimeout)}`,
      options.statementTimeout ? `SET statement_timeout = ${quoteLiteral(options.statementTimeout)}` : '',
      'SHOW search_path',
    ]
      .filter(Boolean)
      .join(';'),
  ).catch(async (err) => {
    await client.end().catch(() => {});
    if (isConnectionLoss(err)) {
      throw new ConnectionLost(`connection to ${target.display} lost: ${describeCause(err)}; no revision was being applied. Run the command again when the server is back`, '', undefined, {
        cause: err,
      });
    }
    throw new SluiceError(`invalid session setting (SLUICE_LOCK_TIMEOUT / SLUICE_STATEMENT_TIMEOUT): ${describeCause(err)}`, ExitCode.usage, { cause: err });
  });
  conn.searchPath = String(settings.at(-1)?.[0]?.search_path ?? '');
  return conn;
}

function connectReason(err: unknown, options: PostgresOptions): string {
  const e = err as { code?: string; message?: string };
  if (e.code === 'ECONNREFUSED') return 'connection refused; is the server running (make db-up)?';
  // a Unix socket (host=/path): no socket file is a server not running there (a hunt: "connect ENOENT /tmp/.s.PGSQL.5432")
  if (e.code === 'ENOENT' && /\.s\.PGSQL\./.test(e.message ?? '')) return `no server socket at ${String(e.message).replace(/^connect ENOENT /, '')}; is the server running, and is the socket folder in DATABASE_URL its unix_socket_directories?`;
  // a server asking for a password that DATABASE_URL does not give (pg's own: "SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string")
  if (/client password must be a string/.test(e.message ?? '')) return 'the server asks for a password and DATABASE_URL gives none; put it in the URL (postgres://user:password@host/db, percent-encoded)';
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'host not found; check the host in DATABASE_URL';
  if (e.code === '28P01') return 'password authentication failed; check the user and password in DATABASE_URL';
  if (e.code === '28000') return `${e.message}; check the user in DATABASE_URL`;
  if (e.code === '3D000') return `${e.message}; create the database or fix DATABASE_URL`;
  if (/timeout/i.test(e.message ?? '')) return `no answer within ${options.connectTimeoutS}s (SLUICE_CONNECT_TIMEOUT); check host and port`;
  return describeCause(err);
}

/** What the search_path guard casts to integer when search_path moved: its error names the new value after it. */
const GUARD_MARK = 'sluice_guard:';


/**
 * The guard's failed cast (22P02, in the server's language) as the error it stands for, or undefined.
 * The value is what follows the marker up to the closing quote of the message.
 */
export function guardFailure(err: unknown): Error | undefined {
  const e = err as { code?: string; message?: string };
  if (e?.code !== '22P02' || typeof e.message !== 'string') return undefined;
  // the value ends where the message's closing quote begins, whatever the server's language quotes with
  const valueAfter = (at: number, mark: string) => e.message!.slice(at + mark.length).replace(/\s*["'\u00ab\u00bb\u201c\u201d\u201e\u300d]\s*$/u, '');
  const guard = e.message.indexOf(GUARD_MARK);
  if (guard >= 0) {
    const value = valueAfter(guard, GUARD_MARK);
    return Object.assign(new Error(searchPathChanged(value), { cause: err }), { code: e.code, searchPath: value });
  }
  const row = e.message.indexOf(VERSION_ROW_MARK);
  if (row >= 0) return Object.assign(new Error(versionRowSuppressed(valueAfter(row, VERSION_ROW_MARK)), { cause: err }), { code: e.code });
  return undefined;
}

class PostgresConnection implements Connection {
  readonly dialect = 'postgresql' as const;
  readonly capabilities: Capabilities;
  readonly timestampType = 'timestamptz';
  isoTimestamp(column: string): string {
    return `pg_catalog.to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  }
  jsonRows(columns: string, from: string, orderBy: string): string {
    return `SELECT COALESCE(pg_catalog.json_agg(q ORDER BY q.${orderBy})::text, '[]') AS "rows" FROM (SELECT ${columns} FROM ${from}) AS q`;
  }
  readonly display: string;
  private readonly schema: string;
  constructor(
    private readonly client: pg.Client,
    private readonly target: DatabaseTarget,
  ) {
    this.schema = target.schema!;
    this.display = `${target.display} (schema ${this.schema})`;
    // the server's transaction status after each query (ReadyForQuery: I idle, T in a block, E failed block)
    (client as unknown as { connection?: import('node:events').EventEmitter }).connection?.on('readyForQuery', (m: { status?: string }) => {
      this.txStatus = m.status;
    });
    // executeScript tells its own statements apart through node-postgres's query queue and active query
    // (see there; the active query's field is there once the session has been ready for a query)
    const driver = client as unknown as { queryQueue?: unknown };
    this.capabilities = {
      transactionalDdl: true,
      schemas: true,
      runLock: true,
      batchStatements: true,
      get queuesScripts() {
        return Array.isArray(driver.queryQueue) && 'activeQuery' in driver;
      },
    };
  }

  async execute(sql: string): Promise<void> {
    await this.executeScript(sql);
  }
  /**
   * Counts the server's CommandComplete messages: on failure the failing statement is the next one.
   * Only this script's: one handed over while another runs waits in node-postgres's queue, and the
   * messages of the one before are not its own (the driver's query object that is active tells them
   * apart; where the driver keeps it elsewhere, queuesScripts is off and scripts are sent one at a time).
   */
  async executeScript(sql: string): Promise<Record<string, unknown>[][]> {
    const client = this.client as unknown as { connection: import('node:events').EventEmitter; activeQuery?: unknown; queryQueue?: unknown[] };
    const wire = client.connection;
    let completed = 0;
    let mine: unknown;
    const onComplete = () => void (mine === undefined || client.activeQuery === mine ? (completed += 1) : 0);
    wire.on('commandComplete', onComplete);
    // the rows of the statements that completed, by statement: on a failure the driver drops them, and
    // the grouped run reads its revisions' clock readings there (batch.ts: each one's own duration)
    const rowsSoFar: Record<string, unknown>[][] = [];
    try {
      const running = this.client.query(sql);
      // node-postgres queues the query at once: the queue's last, or the active one if it was idle
      mine = (Array.isArray(client.queryQueue) ? client.queryQueue.at(-1) : undefined) ?? client.activeQuery;
      (mine as Partial<import('node:events').EventEmitter> | undefined)?.on?.('row', (row: Record<string, unknown>) => void (rowsSoFar[completed] ??= []).push(row));
      const res = (await running) as unknown as pg.QueryResult | pg.QueryResult[];
      return (Array.isArray(res) ? res : [res]).map((r) => r.rows as Record<string, unknown>[]);
    } catch (err) {
      const failure = guardFailure(err) ?? err;
      if (failure && typeof failure === 'object') Object.assign(failure, { completedStatements: completed, completedRows: rowsSoFar.slice(0, completed) });
      throw failure;
    } finally {
      wire.off('commandComplete', onComplete);
    }
  }
  literal(value: string): string {
    // The driver's escapeLiteral copies the text character by character to double quotes and
    // backslashes; a value with neither (revision ids, messages, checksums) comes out as itself in quotes.
    return /['\\]/.test(value) ? this.client.escapeLiteral(value) : `'${value}'`;
  }
  /** The search_path sluice set, read back once; the guard compares the session's with it. */
  searchPath?: string;
  guardedSearchPath(): string | undefined {
    return this.schema === 'public' ? undefined : this.searchPath;
  }
  /**
   * A plain SELECT, not a DO block (PL/pgSQL costs a compilation per revision, a tenth of a 1000-revision
   * run): when search_path moved, it fails casting a marked text to integer, and executeScript turns
   * that error into the message naming the new search_path (guardFailure).
   */
  searchPathGuard(also?: string): string | undefined {
    const check = this.searchPathCheck();
    return check === undefined ? undefined : `SELECT ${check} AS sluice_guard${also ? `, ${also}` : ''}`;
  }
  searchPathCheck(): string | undefined {
    const expected = this.guardedSearchPath();
    if (expected === undefined) return undefined;
    return `CASE WHEN pg_catalog.current_setting('search_path') IS DISTINCT FROM ${this.client.escapeLiteral(expected)} THEN (${this.client.escapeLiteral(GUARD_MARK)} || pg_catalog.current_setting('search_path'))::integer END`;
  }
  lostConnection(err: unknown): boolean {
    return isConnectionLoss(err);
  }
  async query<T>(sql: string, params: unknown[] = [], name?: string): Promise<T[]> {
    const res = await this.client.query(name ? { name, text: sql, values: params } : { text: sql, values: params });
    return res.rows as T[];
  }
  async forgetPrepared(): Promise<void> {
    // node-postgres remembers the names it prepared (and would only bind them again): forgotten with
    // them, or, where that memory is not found (another driver version), nothing is dropped
    const wire = (this.client as unknown as { connection?: { parsedStatements?: unknown } }).connection;
    if (typeof wire?.parsedStatements !== 'object' || wire.parsedStatements === null) return;
    await this.execute('DEALLOCATE ALL');
    wire.parsedStatements = {};
  }
  param(n: number): string {
    return `$${n}`;
  }
  table(name: string): string {
    return `${quoteIdent(this.schema)}.${quoteIdent(name)}`;
  }
  async tableExists(name: string): Promise<boolean> {
    const rows = await this.query('SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = $2', [this.schema, name]);
    return rows.length > 0;
  }
  missingTable(err: unknown): boolean {
    return (err as { code?: unknown } | null)?.code === '42P01';
  }
  async prepareNamespace(): Promise<boolean> {
    const rows = await this.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [this.schema]);
    if (rows.length > 0) return false;
    await this.execute(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`);
    return true;
  }
  async dropNamespaceIfEmpty(): Promise<void> {
    // RESTRICT (the default): refused when anything is in it, and then left as it is
    await this.execute(`DROP SCHEMA IF EXISTS ${quoteIdent(this.schema)}`);
  }
  translate(sql: string): string {
    return translatePublic(sql, this.schema);
  }
  async readyToTranslate(texts: readonly string[]): Promise<void> {
    await readyToTranslate(texts, this.schema);
  }
  async begin(): Promise<void> {
    await this.execute('BEGIN');
  }
  async commit(): Promise<void> {
    await this.execute('COMMIT');
  }
  async rollback(): Promise<void> {
    await this.execute('ROLLBACK').catch(() => {});
  }
  private txStatus: string | undefined;
  scopeSchema(): string {
    return this.schema;
  }
  scopeUrl(): string | undefined {
    return this.target.url;
  }
  async adoptSession(): Promise<(() => Promise<void>) | undefined> {
    if (this.searchPath === undefined) return undefined;
    const rows = await this.query<{ sp: string }>("SELECT pg_catalog.current_setting('search_path') AS sp");
    const theirs = rows[0]?.sp;
    if (theirs === undefined || theirs === this.searchPath) return undefined;
    // an app that set search_path on this connection: revisions' unqualified names would land in the
    // app's schema while the version table records them in DATABASE_SCHEMA (or the guard blamed the revision)
    await this.query("SELECT pg_catalog.set_config('search_path', $1, false)", [this.searchPath]);
    return async () => {
      await this.query("SELECT pg_catalog.set_config('search_path', $1, false)", [theirs]);
    };
  }
  transactionOpen(): boolean {
    return this.txStatus === 'T' || this.txStatus === 'E';
  }
  async markTransaction(): Promise<string> {
    const rows = await this.query<{ x: string }>('SELECT pg_catalog.txid_current()::text AS x');
    return rows[0]!.x;
  }
  async markOpen(mark: string): Promise<boolean> {
    try {
      const rows = await this.query<{ x: string | null }>('SELECT pg_catalog.txid_current_if_assigned()::text AS x');
      return rows[0]?.x === mark;
    } catch (err) {
      if ((err as { code?: string })?.code === '25P02') return true; // aborted: the version row fails next, and the rollback's check tells whose it was
      throw err;
    }
  }
  async markState(mark: string): Promise<MarkState> {
    // after sluice's ROLLBACK, a transaction id still in progress is a prepared one (PREPARE TRANSACTION):
    // pg_prepared_xacts names it by its 32-bit xid, the low half of txid_current()'s value
    const rows = await this.query<{ s: string | null; gid: string | null }>(
      'SELECT pg_catalog.txid_status($1::bigint) AS s, (SELECT p.gid FROM pg_catalog.pg_prepared_xacts p WHERE p.transaction::text = ($1::bigint % 4294967296)::text) AS gid',
      [mark],
    );
    const row = rows[0];
    if (row?.s === 'committed') return { state: 'committed' };
    if (row?.gid != null) return { state: 'prepared', gid: row.gid };
    return { state: 'not-committed' };
  }
  /**
   * This connection holds the migration lock, or is asking for it. PostgreSQL's advisory locks are
   * re-entrant within a session: two runs sharing a caller's connection (`connection`, two
   * `upgrade()` calls in one Promise.all) both "took" it and interleaved, a second `down -1` reporting
   * the revision the first had reverted as reverted again. The second now waits as another session would.
   */
  private holding = false;
  async lock(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.holding) {
        this.holding = true; // before the round trip: a second caller on this connection waits meanwhile
        let ok = false;
        try {
          const rows = await this.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [this.lockKey()]);
          ok = !!rows[0]?.ok;
        } finally {
          if (!ok) this.holding = false;
        }
        if (ok) return;
      }
      if (signal?.aborted) throw new LockWaitStopped();
      if (Date.now() >= deadline) {
        if (this.holding) {
          throw new ConnectionError(
            `another sluice run on this same connection holds the migration lock on schema ${this.schema} (waited ${Math.round(timeoutMs / 1000)}s); runs sharing one connection act one after the other: wait for it to finish, or raise SLUICE_LOCK_WAIT`,
          );
        }
        const pid = await this.lockHolder().catch(() => undefined);
        const who = pid ? `: backend pid ${pid.pid}${pid.details ? ` (${pid.details})` : ''}` : '';
        const stuck = pid ? `; if that session is stuck, SELECT pg_terminate_backend(${pid.pid}) ends it and its lock` : '';
        throw new ConnectionError(
          `another sluice run holds the migration lock on schema ${this.schema}${who} (waited ${Math.round(timeoutMs / 1000)}s); wait for it to finish, or raise SLUICE_LOCK_WAIT${stuck}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  /**
   * Who holds the migration lock: its backend pid and what pg_stat_activity shows of it (another role's
   * session shows less to a role that is not a member of pg_read_all_stats). README: exit 5 names it.
   */
  private async lockHolder(): Promise<{ pid: number; details: string } | undefined> {
    const rows = await this.query<{ pid: number; app: string | null; client: string | null; since: string | null }>(
      "SELECT a.pid, a.application_name AS app, host(a.client_addr) AS client, to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' AS since FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtext($1)::bigint AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())",
      [this.lockKey()],
    );
    const h = rows[0];
    if (!h) return undefined;
    const details = [h.app ? `application "${h.app}"` : '', h.client ? `from ${h.client}` : '', h.since ? `connected since ${h.since}` : ''].filter(Boolean).join(', ');
    return { pid: h.pid, details };
  }
  async unlock(): Promise<void> {
    if (!this.holding) return;
    try {
      await this.query('SELECT pg_advisory_unlock(hashtext($1))', [this.lockKey()]).catch(() => {});
    } finally {
      this.holding = false;
    }
  }
  private lockKey(): string {
    return `sluice:${this.schema}`;
  }
  drizzle(signal?: AbortSignal): Promise<unknown> {
    return drizzlePostgres(this.client, signal);
  }
  async dumpSchema(): Promise<string> {
    const exists = await this.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [this.schema]);
    if (exists.length === 0) return '';
    return dumpPostgres(this.target.url!, this.schema);
  }
  async invalidIndexes(): Promise<string[]> {
    const rows = await this.query<{ name: string }>(
      'SELECT c.relname AS name FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid AND n.nspname = $1 ORDER BY 1',
      [this.schema],
    );
    return rows.map((r) => r.name);
  }
  /**
   * node-postgres's cancel request (Client#cancel): a second connection to the same host and port that
   * sends only the backend's id and secret key, no authentication. Resolves when the server closes
   * that connection (it has signalled the backend by then), on an error, or after 3 s.
   */
  async cancel(): Promise<void> {
    const running = (this.client as unknown as { activeQuery?: unknown }).activeQuery;
    if (!running) return;
    const canceller = new pg.Client({ connectionString: this.target.url });
    const wire = (canceller as unknown as { connection: import('node:events').EventEmitter }).connection;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 3000);
      const done = () => (clearTimeout(timer), resolve());
      wire.once('end', done);
      wire.once('error', done);
      (canceller as unknown as { cancel(client: pg.Client, query: unknown): void }).cancel(this.client, running);
    });
  }
  /**
   * Ends the session: resolves once the client's Terminate message and the end of its side of the
   * socket are sent. The server then ends the backend on its own; waiting for that too (node-postgres's
   * `end()` waits for the server to close the socket) costs about 10-15 ms of every command here and
   * tells the caller nothing: the lock is released and every transaction ended before close. The
   * socket is reached through node-postgres's `connection.stream`; without it, `end()` is awaited.
   */
  async close(): Promise<void> {
    const ended = this.client.end().catch(() => {});
    const stream = (this.client as unknown as { connection?: { stream?: { once?: (event: string, listener: () => void) => unknown } } }).connection?.stream;
    if (typeof stream?.once !== 'function') return ended;
    await Promise.race([ended, new Promise<void>((resolve) => (stream.once!('finish', resolve), stream.once!('close', resolve)))]);
  }
}
