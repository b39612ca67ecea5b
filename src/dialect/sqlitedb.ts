/**
 * Opening a SQLite database with the engine its project's SQL is written for: SQLite itself
 * (better-sqlite3), or libSQL for drizzle's "turso" dialect (the `libsql` package, whose API is
 * better-sqlite3's; sluice uses only the part both share: exec, prepare with all/run/raw, pragma
 * without `simple`, inTransaction, close). libsql ignores `readonly` and `fileMustExist`: callers
 * check both themselves. Both drivers load on first use.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { SqliteEngine } from '../config.js';
import { bundledBuild } from '../bundledbuild.js';
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
/** better-sqlite3's folder (where lib/ and build/ are), when the addon fast path applies. */
let packageDir: string | undefined;
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
      packageDir = path.join(path.dirname(require.resolve('better-sqlite3')), '..');
      const dir = path.join(packageDir, 'build');
      const release = path.join(dir, 'Release', 'better_sqlite3.node');
      if (existsSync(release) && !existsSync(path.join(dir, 'better_sqlite3.node')) && !existsSync(path.join(dir, 'Debug', 'better_sqlite3.node'))) addon = require(release) as object;
    } catch {
      addon = null; // better-sqlite3 reports what is wrong itself, below
    }
  }
  const Better = (addon && bundled()) || (require('better-sqlite3') as typeof Database);
  // better-sqlite3 takes the addon object itself (its types say only a path)
  return new Better(file, addon ? { ...options, nativeBinding: addon as unknown as string } : options);
}

/**
 * better-sqlite3's JavaScript from the bin's bundle of it (dist/sqlite.cjs, through its code cache:
 * ~4 ms less than requiring its 14 files), when the installed package is the version that bundle was
 * built from: the addon given to it is the installed one, and the two must match. Else undefined.
 */
function bundled(): typeof Database | undefined {
  if (!packageDir) return undefined;
  const dir = packageDir;
  const version = () => (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version;
  return bundledBuild<{ Database: typeof Database }>('sqlite', version)?.Database;
}
