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
  const seen: { stop?: Error } = {};
  // the same client as `db.$client`: a query sent through it directly is not sent after the signal either
  const guarded = signal ? stoppedWith(client, signal, seen) : client;
  const session = new NodePgSession(guarded, dialect, undefined);
  const tx = new NodePgTransaction(dialect, session, undefined);
  stops.set(tx, seen);
  return Object.assign(tx, { $client: guarded });
}

const stops = new WeakMap<object, { stop?: Error }>();

/**
 * The first query of this handle the run's signal stopped (refused, or cancelled while it ran), if
 * any: a function that then fails, whatever error it throws of its own, was stopped by the signal.
 */
export function stoppedQuery(db: unknown): Error | undefined {
  return typeof db === 'object' && db !== null ? stops.get(db)?.stop : undefined;
}

/**
 * The client as drizzle's session sees it: once the run's signal fired, a query is not sent but fails
 * (`stoppedBySignal`, no SQLSTATE: a function retrying on a timeout's 57014 does not retry this), so a
 * TypeScript revision that was between two queries at Ctrl+C stops at its next one, as a running one
 * is cancelled (commands/migrate.ts), instead of going on (a long query, a loop of them) until its
 * function returns, to be rolled back anyway. The failure comes after a turn of the event loop, so a
 * function that catches it and tries again forever still lets a later signal end the process.
 * `seen.stop`: the first query stopped this way, or cancelled while it ran (57014 after the signal).
 */
function stoppedWith(client: pg.Client, signal: AbortSignal, seen: { stop?: Error }): pg.Client {
  return new Proxy(client, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (key === 'query' && typeof value === 'function') {
        return (...args: unknown[]) => {
          const callback = args.find((a) => typeof a === 'function') as ((e: Error) => void) | undefined;
          if (!signal.aborted) {
            const sent = (value as (...a: unknown[]) => unknown).apply(target, args);
            if (callback || !(sent instanceof Promise)) return sent;
            return sent.catch((err: unknown) => {
              if (signal.aborted && (err as { code?: unknown } | null)?.code === '57014') seen.stop ??= err as Error;
              throw err;
            });
          }
          const err = Object.assign(new Error(`not sent: the run was stopped (${String(signal.reason)})`), { stoppedBySignal: true });
          seen.stop ??= err;
          // answered the way node-postgres answers a failed query of that form: a submittable (a cursor,
          // a stream) gets the error and is returned; a config's own callback gets it; else a promise
          const first = args[0] as { submit?: unknown; handleError?: (e: Error) => void; callback?: unknown } | null | undefined;
          if (typeof first?.submit === 'function') {
            if (typeof args[1] === 'function' && !first.callback) first.callback = args[1]; // as node-postgres does
            setImmediate(() => first.handleError?.(err));
            return first;
          }
          const reply = callback ?? (typeof first?.callback === 'function' ? (first.callback as (e: Error) => void) : undefined);
          if (reply) return void setImmediate(reply, err);
          return new Promise((_, reject) => setImmediate(reject, err));
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
