/**
 * drizzle database handles on sluice's own driver connections, for TypeScript revisions. Built on
 * demand (drizzle-orm is loaded only when a TypeScript revision runs) and bound to the open
 * transaction: the engine begins, commits and rolls back; the handle never does.
 */
import type pg from 'pg';
import type Database from 'better-sqlite3';

/**
 * PostgreSQL: a NodePgTransaction on the client, not a NodePgDatabase: its `transaction()` opens a
 * savepoint (a database's would send BEGIN and COMMIT, committing sluice's transaction half way) and
 * `rollback()` throws, failing the revision. `$client` as on a NodePgDatabase.
 */
export async function drizzlePostgres(client: pg.Client, signal?: AbortSignal): Promise<unknown> {
  const { NodePgSession, NodePgTransaction } = await import('drizzle-orm/node-postgres');
  const { PgDialect } = await import('drizzle-orm/pg-core');
  const dialect = new PgDialect();
  const session = new NodePgSession(signal ? stoppedWith(client, signal) : client, dialect, undefined);
  const tx = new NodePgTransaction(dialect, session, undefined);
  return Object.assign(tx, { $client: client });
}

/**
 * The client as drizzle's session sees it: once the run's signal fired, a query is not sent but fails
 * at once as a cancelled one would (SQLSTATE 57014), so a TypeScript revision that was between two
 * queries at Ctrl+C stops at its next one, as a running one is cancelled (commands/migrate.ts), instead
 * of going on (a long query, a loop of them) until its function returns, to be rolled back anyway.
 */
function stoppedWith(client: pg.Client, signal: AbortSignal): pg.Client {
  return new Proxy(client, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (key === 'query' && typeof value === 'function') {
        return (...args: unknown[]) => {
          if (!signal.aborted) return (value as (...a: unknown[]) => unknown).apply(target, args);
          const err = Object.assign(new Error(`not sent: the run was stopped (${String(signal.reason)})`), { code: '57014' });
          const callback = args.find((a) => typeof a === 'function') as ((e: Error) => void) | undefined;
          if (callback) return void process.nextTick(callback, err);
          return Promise.reject(err);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * SQLite: a BetterSQLite3Database on the connection. Its `transaction()` is better-sqlite3's, which
 * nests as a savepoint inside the engine's transaction (and takes a synchronous function).
 */
export async function drizzleSqlite(db: Database.Database): Promise<unknown> {
  const { drizzle } = await import('drizzle-orm/better-sqlite3');
  return drizzle(db);
}
