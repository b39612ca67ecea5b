/**
 * drizzle's own migrations table (`__drizzle_migrations`, which drizzle-orm's `migrate()` keeps): where
 * it is for this database, reading its rows, and matching them to the folder's revisions. The
 * takeover (commands/takeover.ts) decides and writes from what this reads; nothing here writes.
 *
 * drizzle-orm records one row per applied journal entry: `hash` = SHA-256 of the up file's text
 * (drizzle-orm/migrator.js readMigrationFiles: `createHash('sha256').update(readFileSync(file).toString())`:
 * sluice's checksum of a file with LF line ends, one of sql.ts earlierChecksums' with CRLF ones) and `created_at` = the entry's journal
 * `when`. Its "applied" rule (pg-core / sqlite-core dialect `migrate()`): an entry runs when its `when`
 * is greater than the `created_at` of the newest row, so every entry whose `when` is at most that
 * value counts as applied.
 */
import type { Context } from './context.js';
import { tsOf, upChecksumOf, upEarlierChecksumsOf } from './revisionreads.js';
import { partNamedBy } from './integrity.js';
import type { Connection } from './dialect/types.js';
import { ConfigError, UsageError, describeCause } from './errors.js';
import { tsFileOf, type RevisionFile } from './source.js';
import { rel } from './relpath.js';
import { quoteIdent } from './sql.js';
import { DRIZZLE_TABLE, isPrivilegeError, type AppliedRow } from './store.js';

export const DRIZZLE_SCHEMA = 'drizzle';

/** Where drizzle's migrator keeps its rows. */
export interface DrizzleSource {
  /** PostgreSQL only. */
  schema?: string;
  table: string;
  /** For messages: `drizzle.__drizzle_migrations`, or `__drizzle_migrations` in a SQLite file. */
  name: string;
}

/** drizzle's table for this database: the config's `migrations: { table, schema }`, or `--table [schema.]name`. */
export function drizzleSource(ctx: Context, override?: string): DrizzleSource {
  let schema = ctx.historyConfig.migrations?.schema;
  let table = ctx.historyConfig.migrations?.table ?? DRIZZLE_TABLE;
  if (override !== undefined) {
    const parts = override.trim().split('.');
    if (parts.length > 2 || parts.some((p) => p === '') || (parts.length === 2 && ctx.target.dialect === 'sqlite')) {
      throw new UsageError(`--table "${override}" is not a table name; give ${ctx.target.dialect === 'sqlite' ? 'name' : '[schema.]name'} of drizzle's migrations table`);
    }
    table = parts[parts.length - 1]!;
    if (parts.length === 2) schema = parts[0]!;
  }
  if (ctx.target.dialect === 'sqlite') return { table, name: table };
  schema ??= DRIZZLE_SCHEMA;
  return { schema, table, name: `${schema}.${table}` };
}

export function qualified(src: DrizzleSource): string {
  return src.schema === undefined ? quoteIdent(src.table) : `${quoteIdent(src.schema)}.${quoteIdent(src.table)}`;
}

export async function drizzleTableExists(conn: Connection, src: DrizzleSource): Promise<boolean> {
  const rows =
    conn.dialect === 'postgresql'
      ? await conn.query('SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = $2', [src.schema, src.table])
      : await conn.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [src.table]);
  return rows.length > 0;
}

/** drizzle's table has exactly these columns (drizzle-orm's migrators create it so, on both dialects). */
const DRIZZLE_COLUMNS = 'created_at,hash,id';

/**
 * Tables shaped like drizzle's migrations table (its three columns) where drizzle's migrator may have
 * been told to keep it at run time (`migrationsSchema`, `migrationsTable`), which drizzle.config.ts
 * need not say: PostgreSQL, the schemas drizzle, public and DATABASE_SCHEMA; SQLite, the file.
 */
export async function drizzleTablesElsewhere(ctx: Context, conn: Connection, src: DrizzleSource): Promise<DrizzleSource[]> {
  if (conn.dialect === 'postgresql') {
    const schemas = [...new Set([src.schema ?? DRIZZLE_SCHEMA, DRIZZLE_SCHEMA, 'public', ctx.target.schema ?? 'public'])];
    // The tables of those schemas (found through pg_class's index on the schema) that have a "hash" column
    // (an index probe each); the column lists only of those, in a second query, none in the usual case.
    // Written so that the planner cannot turn the probe into a join: as a join it scanned all of
    // pg_attribute, ~20 ms in a new session on a catalog of a few thousand tables (each page's first
    // touch by the session), where this takes ~8; and no column list is read per table, so the plan's
    // estimate stays below jit_above_cost on large catalogs (a list read for every table made it grow
    // past it, and JIT compiling took ~40 ms of each up from base).
    const hashed = await conn.query<{ schema: string; table: string; oid: string }>(
      `SELECT n.nspname AS "schema", c.relname AS "table", c.oid::text AS "oid" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1::text[])
         AND (SELECT h.attnum FROM pg_catalog.pg_attribute h WHERE h.attrelid = c.oid AND h.attname = $2 AND NOT h.attisdropped) IS NOT NULL
       ORDER BY 1, 2`,
      [schemas, 'hash'],
    );
    if (!hashed.length) return [];
    const shaped = await conn.query<{ oid: string }>(
      `SELECT c.oid::text AS "oid" FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::oid[])
         AND (SELECT pg_catalog.string_agg(a.attname::text, ',' ORDER BY a.attname::text) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) = $2`,
      [hashed.map((r) => r.oid), DRIZZLE_COLUMNS],
    );
    const oids = new Set(shaped.map((r) => r.oid));
    return hashed.filter((r) => oids.has(r.oid)).map((r) => ({ schema: r.schema, table: r.table, name: `${r.schema}.${r.table}` }));
  }
  const rows = await conn.query<{ table: string }>(
    `SELECT m.name AS "table" FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%'
       AND (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info(m.name) ORDER BY name)) = ? ORDER BY 1`,
    [DRIZZLE_COLUMNS],
  );
  return rows.map((r) => ({ table: r.table, name: r.table }));
}

export interface DrizzleRow {
  id: string;
  hash: string;
  createdAt: number | null;
}

export async function readDrizzleRows(conn: Connection, src: DrizzleSource, display: string): Promise<DrizzleRow[]> {
  // drizzle's SQLite table declares `id SERIAL PRIMARY KEY`, which SQLite does not fill: its rowid numbers the rows there.
  const id = conn.dialect === 'sqlite' ? 'rowid' : '"id"';
  const rows = await conn.query<Record<string, unknown>>(`SELECT ${id} AS "id", "hash", "created_at" FROM ${qualified(src)} ORDER BY ${id}`).catch(async (err) => {
    // a table named by the config's migrations entry or --table that is not of drizzle's shape (was:
    // "internal error", exit 1, for every command of the project; found by a hunt)
    const column = /column "?(\w+)"? does not exist|no such column: "?(\w+)"?/.exec(describeCause(err));
    if ((err as { code?: unknown }).code === '42703' || column) {
      throw new ConfigError(
        `${src.name} in ${display} is not drizzle's migrations table: it has no ${column?.[1] ?? column?.[2] ?? 'id, hash or created_at'} column (drizzle's has id, hash and created_at); name drizzle's own table in drizzle.config.ts's migrations entry or with takeover --table`,
        { cause: err },
      );
    }
    if (!isPrivilegeError(err)) throw err;
    const who = await conn.query<{ role: string }>('SELECT current_user AS "role"').then((r) => r[0]?.role ?? '?', () => '?');
    throw new ConfigError(
      `role ${quoteIdent(who)} may not read drizzle's migrations table ${src.name} in ${display} (${describeCause(err)}, SQLSTATE 42501); have its owner GRANT USAGE ON SCHEMA ${quoteIdent(src.schema ?? '')} TO ${quoteIdent(who)} and GRANT SELECT ON ${qualified(src)} TO ${quoteIdent(who)}`,
      { cause: err },
    );
  });
  return rows.map((r) => {
    const c = r.created_at === null || r.created_at === undefined || r.created_at === '' ? NaN : Number(r.created_at);
    return { id: String(r.id), hash: String(r.hash), createdAt: Number.isFinite(c) ? c : null };
  });
}

const short = (hash: string) => hash.slice(0, 12);

/**
 * Match drizzle's rows to the folder's revisions (pure apart from reading up files once per command).
 * drizzle counts as applied every entry whose `when` is at most the newest row's created_at; each
 * such entry must have a row with its created_at and its hash, and every row must be such an entry.
 * A row whose created_at no entry has any more is the revision of its hash when exactly one revision
 * (not matched otherwise) has that hash: migrate-merge moves the "when" of the revisions it renumbers,
 * and the SQL drizzle ran is that revision's. Such rows do not count for "newest": the other branch's
 * revisions the merge kept below them never ran here and are pending, as sluice applies them.
 */
export function matchDrizzleRows(ctx: Context, rows: DrizzleRow[]): { records: AppliedRow[]; problems: string[] } {
  const revs = ctx.history.revisions;
  const hash = (r: RevisionFile) => upChecksumOf(ctx, r); // memoized, and the checksum cache spares the read
  // drizzle hashes the file as it is: a checkout with CRLF line ends (git's autocrlf) gave it that text
  const hashes = (r: RevisionFile, h: string) => hash(r) === h || upEarlierChecksumsOf(ctx, r).includes(h);
  const problems: string[] = [];
  const matched = new Map<string, number>(); // revision -> the created_at of its row
  const reported = new Set<string>();
  const whens = new Set(revs.map((r) => r.createdAt));
  let newest = -Infinity;
  for (const row of rows) {
    if (row.createdAt === null) {
      problems.push(`row ${row.id} (hash ${short(row.hash)}) has no created_at`);
      continue;
    }
    if (!whens.has(row.createdAt)) continue; // by its hash, below
    newest = Math.max(newest, row.createdAt);
    const sameWhen = revs.filter((r) => r.createdAt === row.createdAt);
    const rev = sameWhen.find((r) => hashes(r, row.hash));
    if (!rev) {
      const r = sameWhen[0]!;
      reported.add(r.id);
      problems.push(
        `row ${row.id} (created_at ${row.createdAt}, that of ${r.id}) has hash ${short(row.hash)}, but ${rel(r.upFile)} hashes to ${short(hash(r))}: the file changed after drizzle applied it, or the row was edited`,
      );
      continue;
    }
    matched.set(rev.id, row.createdAt);
  }
  for (const row of rows) {
    if (row.createdAt === null || whens.has(row.createdAt)) continue;
    const sameHash = revs.filter((r) => hashes(r, row.hash));
    const free = sameHash.filter((r) => !matched.has(r.id) && !reported.has(r.id));
    if (sameHash.length === 1 && free.length === 1) {
      matched.set(free[0]!.id, row.createdAt);
      continue;
    }
    problems.push(
      sameHash.length
        ? `row ${row.id} (created_at ${row.createdAt}) has the hash of ${sameHash.map((r) => r.id).join(', ')}, none of whose journal "when" it holds, and ${sameHash.length > 1 ? 'they share it' : 'another row stands for it'}: record where the database really is with make migrate-stamp REVISION=<rev> PURGE=1`
        : `row ${row.id} (created_at ${row.createdAt}, hash ${short(row.hash)}) matches no revision of ${rel(ctx.history.dir)} (database ahead of the code, or another project's history)`,
    );
  }
  for (const r of revs) {
    if (r.createdAt <= newest && !matched.has(r.id) && !reported.has(r.id)) {
      problems.push(`${r.id} has no row although a later revision has one (drizzle's migrator skips it: it never ran here)`);
    }
    // drizzle's migrator runs only the SQL file: a TypeScript part's up(db) never ran here
    const ts = matched.has(r.id) ? tsOf(ctx, r) : undefined;
    if (ts) {
      problems.push(
        `${r.id} has a TypeScript part (${ts.display}), which drizzle's migrator never runs, so its up(db) did not run here; run what it does by hand first`,
      );
    } else if (matched.has(r.id)) {
      // its .ts missing, named by its up or down (migrate-create --ts): taken over, it would stand applied without it
      const by = partNamedBy(ctx, r, true); // as up tells it: no down read for an up with SQL
      if (by) {
        problems.push(
          `${r.id} has a TypeScript part ${rel(tsFileOf(r))} (its ${by} file names it), which is missing, and which drizzle's migrator never runs, so its up(db) did not run here; restore the file and run what it does by hand first`,
        );
      }
    }
  }
  const records = revs
    .filter((r) => matched.has(r.id))
    .map((r) => ({ revision: r.id, name: r.message, checksum: hash(r), appliedAt: new Date(matched.get(r.id)!).toISOString(), executionMs: 0 }));
  return { records, problems };
}
