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
export async function drizzlePostgres(client: pg.Client): Promise<unknown> {
  const { NodePgSession, NodePgTransaction } = await import('drizzle-orm/node-postgres');
  const { PgDialect } = await import('drizzle-orm/pg-core');
  const dialect = new PgDialect();
  const session = new NodePgSession(client, dialect, undefined);
  const tx = new NodePgTransaction(dialect, session, undefined);
  return Object.assign(tx, { $client: client });
}

/**
 * SQLite: a BetterSQLite3Database on the connection. Its `transaction()` is better-sqlite3's, which
 * nests as a savepoint inside the engine's transaction (and takes a synchronous function).
 */
export async function drizzleSqlite(db: Database.Database): Promise<unknown> {
  const { drizzle } = await import('drizzle-orm/better-sqlite3');
  return drizzle(db);
}
