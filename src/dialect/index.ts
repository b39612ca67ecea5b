import type { DatabaseTarget } from '../config.js';
import type { Connection } from './types.js';

export type { Connection } from './types.js';

/**
 * Open a connection to the target. `write: false` never creates anything (a missing SQLite file
 * reads as empty). Drivers load lazily so a command touches only the one it needs.
 */
export async function openConnection(target: DatabaseTarget, options: { write: boolean; env?: Record<string, string | undefined> }): Promise<Connection> {
  if (target.dialect === 'sqlite') {
    const { openSqlite } = await import('./sqlite.js');
    return openSqlite(target, { create: options.write });
  }
  const { openPostgres, postgresOptions } = await import('./postgres.js');
  return openPostgres(target, postgresOptions(options.env ?? process.env));
}
