/**
 * Opening a SQLite database with the engine its project's SQL is written for: SQLite itself
 * (better-sqlite3), or libSQL for drizzle's "turso" dialect (the `libsql` package, whose API is
 * better-sqlite3's; sluice uses only the part both share: exec, prepare with all/run/raw, pragma
 * without `simple`, inTransaction, close). libsql ignores `readonly` and `fileMustExist`: callers
 * check both themselves. Both drivers load on first use.
 */
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import type { SqliteEngine } from '../config.js';
import { ConfigError } from '../errors.js';

const require = createRequire(import.meta.url);

export function openSqliteDatabase(engine: SqliteEngine | undefined, file: string, options: Database.Options = {}): Database.Database {
  if (engine !== 'libsql') return new (require('better-sqlite3') as typeof Database)(file, options);
  let LibSql: typeof Database;
  try {
    LibSql = require('libsql') as typeof Database;
  } catch (err) {
    throw new ConfigError('dialect "turso" runs revisions with libSQL (its SQL has ALTER COLUMN, which SQLite lacks): install the libsql package (npm install --save-dev libsql)', {
      cause: err,
    });
  }
  return new LibSql(file, options);
}
