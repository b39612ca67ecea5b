import type { DatabaseTarget } from '../config.js';
import type { Connection } from './types.js';

export type { Connection } from './types.js';

/**
 * Open a connection to the target. `write: false` never creates anything (a missing SQLite file
 * reads as empty), nor does `mayCreate: false` (a writer that only removes: down, reset). Drivers load lazily so a command touches only the one it needs.
 */
export async function openConnection(
  target: DatabaseTarget,
  options: { write: boolean; mayCreate?: boolean; env?: Record<string, string | undefined>; signal?: AbortSignal },
): Promise<Connection> {
  if (target.dialect === 'sqlite') {
    const { openSqlite } = await import('./sqlite.js');
    return openSqlite(target, { create: options.write, mayCreate: options.mayCreate, env: options.env });
  }
  return (await beginPostgres(target, options.env, options.signal)).ready;
}

/** Load the PostgreSQL adapter and start opening (boxed: awaiting it does not wait for the connection). */
async function beginPostgres(target: DatabaseTarget, env: Record<string, string | undefined> | undefined, signal?: AbortSignal): Promise<{ ready: Promise<Connection> }> {
  const { openPostgres, postgresOptions } = await import('./postgres.js');
  // openPostgres runs up to the client's connect() before it returns its promise
  return { ready: openPostgres(target, { ...postgresOptions(env ?? process.env), signal }) };
}

/**
 * Begin opening a PostgreSQL connection for a caller with other work to do first: resolves once the
 * driver is loaded and the client has sent its connection request, so the server's start of a backend
 * and its authentication go on while the caller reads its files. `ready` settles as openConnection's
 * promise would (every error, a bad setting included, surfaces there, where the caller takes the
 * connection). SQLite opens in an instant: nothing is begun and `ready` is undefined.
 */
export async function startConnection(
  target: DatabaseTarget,
  options: { write: boolean; env?: Record<string, string | undefined>; signal?: AbortSignal },
): Promise<{ ready?: Promise<Connection> }> {
  if (target.dialect !== 'postgresql') return {};
  let ready: Promise<Connection>;
  try {
    ({ ready } = await beginPostgres(target, options.env, options.signal));
  } catch (err) {
    ready = Promise.reject(err);
  }
  ready.catch(() => {}); // taken and reported by the caller
  // one turn of the event loop: the socket's connect event, on which the client sends its startup message
  await new Promise<void>((resolve) => setImmediate(resolve));
  return { ready };
}
