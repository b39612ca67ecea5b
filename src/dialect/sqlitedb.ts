/**
 * Opening a SQLite database with the engine its project's SQL is written for: SQLite itself
 * (better-sqlite3), or libSQL for drizzle's "turso" dialect (the `libsql` package, whose API is
 * better-sqlite3's; sluice uses only the part both share: exec, prepare with all/run/raw, pragma
 * without `simple`, inTransaction, close). libsql ignores `readonly` and `fileMustExist`: callers
 * check both themselves. Both drivers load on first use.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { SqliteEngine } from '../config.js';
import { ConfigError } from '../errors.js';

const require = createRequire(import.meta.url);

export function openSqliteDatabase(engine: SqliteEngine | undefined, file: string, options: Database.Options = {}): Database.Database {
  if (engine !== 'libsql') return betterSqlite(file, options);
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

let addon: object | null | undefined;

/**
 * A better-sqlite3 database, given its native addon when it sits where an install puts it
 * (`build/Release/better_sqlite3.node`). Without one, better-sqlite3 finds it through the `bindings`
 * package, which loads two more modules and reads a stack trace to find the package's folder:
 * ~3 ms of every SQLite command. `bindings` looks in `build/` and `build/Debug/` first, so a
 * package that has either is left to it, as is one without a Release build (other layouts).
 */
export function betterSqlite(file: string, options: Database.Options = {}): Database.Database {
  if (addon === undefined) {
    addon = null;
    try {
      const dir = path.join(path.dirname(require.resolve('better-sqlite3')), '..', 'build');
      const release = path.join(dir, 'Release', 'better_sqlite3.node');
      if (existsSync(release) && !existsSync(path.join(dir, 'better_sqlite3.node')) && !existsSync(path.join(dir, 'Debug', 'better_sqlite3.node'))) addon = require(release) as object;
    } catch {
      addon = null; // better-sqlite3 reports what is wrong itself, below
    }
  }
  const Better = require('better-sqlite3') as typeof Database;
  // better-sqlite3 takes the addon object itself (its types say only a path)
  return new Better(file, addon ? { ...options, nativeBinding: addon as unknown as string } : options);
}
