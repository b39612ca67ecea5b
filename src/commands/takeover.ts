/**
 * Takeover of a database that drizzle's own migrator (drizzle-orm `migrate()`) manages.
 *
 * drizzle-orm records what it applied in `__drizzle_migrations` (PostgreSQL: in schema `drizzle`, or
 * the `migrations: { table, schema }` of drizzle.config.ts; SQLite: in the file), one row per applied
 * journal entry: `hash` = SHA-256 of the up file's text (drizzle-orm/migrator.js readMigrationFiles:
 * `createHash('sha256').update(readFileSync(file).toString())`, the same bytes as sluice's checksum
 * of a valid UTF-8 file) and `created_at` = the entry's journal `when`. Its "applied" rule
 * (pg-core / sqlite-core dialect `migrate()`): an entry runs when its `when` is greater than the
 * `created_at` of the newest row, so every entry whose `when` is at most that value counts as applied.
 *
 * The takeover matches every row to a revision by created_at and hash, checks that every entry
 * drizzle counts as applied has its row, and writes sluice_version rows (sluice's checksum, the
 * revision's name, applied_at = created_at, since drizzle records no apply time) in one transaction,
 * running no migration SQL. Anything that does not match is refused with the list; nothing is
 * written. drizzle's table is only read, never changed: a team can go back to drizzle's migrator as
 * long as sluice has not moved the database since.
 *
 * When: automatically, under the migration lock, on the first writing command (up, down, stamp,
 * reset, deploy) of a database where sluice_version does not exist yet; explicitly with
 * `sluice takeover`. status, history and show compute the same match read-only and show it.
 */
import { checkIntegrity, loadContext, tsOf, upChecksumOf, withSession, type CommandOptions, type Context } from '../context.js';
import type { Connection } from '../dialect/types.js';
import { ConfigError, IntegrityError, MigrationFailed, UsageError, describeCause } from '../errors.js';
import { currentIndex, labelOf } from '../revision.js';
import { existsSync } from 'node:fs';
import { readSnapshot, rel, snapshotFile, snapshotTables, type RevisionFile } from '../source.js';
import { quoteIdent } from '../sql.js';
import { VERSION_TABLE, isPrivilegeError, type AppliedRow, type VersionStore } from '../store.js';

export { DRIZZLE_TABLE } from '../store.js';
import { DRIZZLE_TABLE } from '../store.js';
export const DRIZZLE_SCHEMA = 'drizzle';

/** Where drizzle's migrator keeps its rows. */
export interface DrizzleSource {
  /** PostgreSQL only. */
  schema?: string;
  table: string;
  /** For messages: `drizzle.__drizzle_migrations`, or `__drizzle_migrations` in a SQLite file. */
  name: string;
}

/** What a takeover of this database would do (or why it cannot), computed without writing. */
export interface DrizzleState {
  source: string;
  /** Rows in drizzle's table. */
  rows: number;
  /** The sluice_version rows the takeover writes, in history order. */
  records: AppliedRow[];
  /** The newest revision drizzle's rows stand for (`base` when none). */
  at: string;
  /** Why the rows do not match the folder; empty when they do. */
  problems: string[];
  /** The app's schema (PostgreSQL: DATABASE_SCHEMA; SQLite: the file) holds no table of its own. */
  emptySchema: boolean;
  /**
   * Tables the snapshot of the newest revision drizzle's rows stand for declares (in the app's schema)
   * that the app's schema does not hold: the rows then describe another schema (or another database).
   */
  missingTables: string[];
}

/** How a command's run met drizzle's table. */
export interface TakeoverSummary {
  source: string;
  rows: number;
  /** Revisions recorded in sluice_version (in history order). */
  revisions: string[];
  at: string;
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

function qualified(src: DrizzleSource): string {
  return src.schema === undefined ? quoteIdent(src.table) : `${quoteIdent(src.schema)}.${quoteIdent(src.table)}`;
}

async function drizzleTableExists(conn: Connection, src: DrizzleSource): Promise<boolean> {
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
async function drizzleTablesElsewhere(ctx: Context, conn: Connection, src: DrizzleSource): Promise<DrizzleSource[]> {
  if (conn.dialect === 'postgresql') {
    const schemas = [...new Set([src.schema ?? DRIZZLE_SCHEMA, DRIZZLE_SCHEMA, 'public', ctx.target.schema ?? 'public'])];
    // The column list is read only for tables that have drizzle's "hash" column: a list read for every
    // table made the planner's estimate grow with the catalog (and with its dead rows, before
    // autovacuum analyzes it) past jit_above_cost, and JIT compiling took ~40 ms of each up from base.
    const rows = await conn.query<{ schema: string; table: string }>(
      `SELECT n.nspname AS "schema", c.relname AS "table" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1::text[])
         AND EXISTS (SELECT FROM pg_catalog.pg_attribute h WHERE h.attrelid = c.oid AND h.attname = $3 AND NOT h.attisdropped)
         AND (SELECT pg_catalog.string_agg(a.attname::text, ',' ORDER BY a.attname::text) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) = $2
       ORDER BY 1, 2`,
      [schemas, DRIZZLE_COLUMNS, 'hash'],
    );
    return rows.map((r) => ({ schema: r.schema, table: r.table, name: `${r.schema}.${r.table}` }));
  }
  const rows = await conn.query<{ table: string }>(
    `SELECT m.name AS "table" FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%'
       AND (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info(m.name) ORDER BY name)) = ? ORDER BY 1`,
    [DRIZZLE_COLUMNS],
  );
  return rows.map((r) => ({ table: r.table, name: r.table }));
}

/**
 * The configured drizzle table is absent: one of drizzle's shape elsewhere that holds rows means
 * drizzle's migrator ran here with another schema or table name. Migrating from base would run the
 * applied revisions again, so a takeover (and with it the automatic one of migrate-up) is refused
 * until the config or `--table` names it. Undefined when there is none.
 */
async function drizzleStateElsewhere(ctx: Context, conn: Connection, src: DrizzleSource): Promise<DrizzleState | undefined> {
  const candidates = await drizzleTablesElsewhere(ctx, conn, src);
  if (!candidates.length) return undefined; // the usual case: nothing read, nothing hashed
  // drizzle's rows, not a table of the app that happens to have those columns (an uploads table):
  // at least one row holds the "when" of one of the folder's entries, or the hash of one of its ups
  const whens = new Set(ctx.history.revisions.map((r) => r.createdAt));
  let hashes: Set<string> | undefined;
  const hashed = (hash: string) => {
    if (!hashes) {
      hashes = new Set();
      for (const r of ctx.history.revisions) {
        try {
          hashes.add(upChecksumOf(ctx, r));
        } catch {
          /* an up that cannot be read is reported where it is run */
        }
      }
    }
    return hashes.has(hash);
  };
  const found: { src: DrizzleSource; rows: number }[] = [];
  for (const other of candidates) {
    // one that cannot be read as drizzle's (a WITHOUT ROWID table, no SELECT right) is not taken for it
    const rows = await readDrizzleRows(conn, other, conn.display).catch(() => []);
    if (rows.some((r) => (r.createdAt !== null && whens.has(r.createdAt)) || hashed(r.hash))) found.push({ src: other, rows: rows.length });
  }
  if (!found.length) return undefined;
  const first = found[0]!;
  const where = found.map((f) => `${f.src.name} (${f.rows} row${f.rows === 1 ? '' : 's'})`).join(', ');
  const hint =
    ctx.target.dialect === 'postgresql'
      ? `migrations: { schema: ${JSON.stringify(first.src.schema)}, table: ${JSON.stringify(first.src.table)} }`
      : `migrations: { table: ${JSON.stringify(first.src.table)} }`;
  return {
    source: first.src.name,
    rows: first.rows,
    records: [],
    at: 'base',
    problems: [
      `drizzle.config.ts says drizzle's migrations table is ${src.name}, which does not exist, but ${where} has drizzle's shape: drizzle's migrator was run here with another ${ctx.target.dialect === 'postgresql' ? 'migrationsSchema or ' : ''}migrationsTable, and migrating from base would run what it applied again. Name it in drizzle.config.ts (${hint}) or run sluice takeover --table ${first.src.name}; if it is not this app's, set SLUICE_TAKEOVER=off to migrate from base`,
    ],
    emptySchema: false,
    missingTables: [],
  };
}

interface DrizzleRow {
  id: string;
  hash: string;
  createdAt: number | null;
}

async function readDrizzleRows(conn: Connection, src: DrizzleSource, display: string): Promise<DrizzleRow[]> {
  // drizzle's SQLite table declares `id SERIAL PRIMARY KEY`, which SQLite does not fill: its rowid numbers the rows there.
  const id = conn.dialect === 'sqlite' ? 'rowid' : '"id"';
  const rows = await conn.query<Record<string, unknown>>(`SELECT ${id} AS "id", "hash", "created_at" FROM ${qualified(src)} ORDER BY ${id}`).catch(async (err) => {
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

/** True when the app's schema holds no table or view other than sluice's and drizzle's. */
async function schemaIsEmpty(ctx: Context, conn: Connection, src: DrizzleSource): Promise<boolean> {
  if (conn.dialect === 'postgresql') {
    const rows = await conn.query(
      `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname <> $2 AND NOT (n.nspname = $3 AND c.relname = $4) LIMIT 1`,
      [ctx.target.schema, VERSION_TABLE, src.schema, src.table],
    );
    return rows.length === 0;
  }
  const rows = await conn.query("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT IN (?, ?) LIMIT 1", [
    VERSION_TABLE,
    src.table,
  ]);
  return rows.length === 0;
}

/**
 * Tables of the app's schema the snapshot of `revision` (or of the newest revision before it that has
 * one) declares, that the schema does not hold. Empty when no snapshot declares any: the empty-schema
 * rule then decides alone. PostgreSQL: tables drizzle-kit puts in public (sluice's DATABASE_SCHEMA).
 */
async function tablesMissing(ctx: Context, conn: Connection, revision: string | undefined): Promise<string[]> {
  const revs = ctx.history.revisions;
  let declared: string[] = [];
  for (let at = revs.findIndex((r) => r.id === revision); at >= 0; at--) {
    if (!existsSync(snapshotFile(ctx.history.dir, revs[at]!))) continue;
    let snapshot: Record<string, unknown>;
    try {
      snapshot = readSnapshot(ctx.history.dir, revs[at]!);
    } catch {
      continue; // a snapshot that does not read is another command's report
    }
    if (!snapshot.tables || typeof snapshot.tables !== 'object') continue;
    declared = snapshotTables(snapshot)
      .filter((t) => conn.dialect === 'sqlite' || !t.schema || t.schema === 'public')
      .map((t) => t.name);
    break;
  }
  if (!declared.length) return [];
  const held =
    conn.dialect === 'postgresql'
      ? await conn.query<{ name: string }>(
          `SELECT c.relname AS "name" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`,
          [ctx.target.schema],
        )
      : await conn.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'");
  const names = new Set(held.map((r) => r.name));
  return declared.filter((t) => !names.has(t));
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
    const rev = sameWhen.find((r) => hash(r) === row.hash);
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
    const sameHash = revs.filter((r) => hash(r) === row.hash);
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
        `${r.id} has a TypeScript part (${ts.display}), which drizzle's migrator never runs, so its up(db) did not run here; run what it does by hand, then record where the database stands with make migrate-stamp REVISION=<rev> PURGE=1`,
      );
    }
  }
  const records = revs
    .filter((r) => matched.has(r.id))
    .map((r) => ({ revision: r.id, name: r.message, checksum: hash(r), appliedAt: new Date(matched.get(r.id)!).toISOString(), executionMs: 0 }));
  return { records, problems };
}

/**
 * Read drizzle's table and match it to the folder, writing nothing. Undefined when the table does not
 * exist or has no rows (nothing to take over).
 */
export async function readDrizzleState(ctx: Context, conn: Connection, override?: string): Promise<DrizzleState | undefined> {
  const src = drizzleSource(ctx, override);
  if (!(await drizzleTableExists(conn, src))) return override === undefined ? drizzleStateElsewhere(ctx, conn, src) : undefined;
  const rows = await readDrizzleRows(conn, src, conn.display);
  if (rows.length === 0) return undefined;
  const { records, problems } = matchDrizzleRows(ctx, rows);
  const history = ctx.history.revisions;
  return {
    source: src.name,
    rows: rows.length,
    records,
    at: labelOf(history, currentIndex(history, new Set(records.map((r) => r.revision)))),
    problems,
    emptySchema: await schemaIsEmpty(ctx, conn, src),
    missingTables: problems.length ? [] : await tablesMissing(ctx, conn, records.at(-1)?.revision),
  };
}

/** SLUICE_TAKEOVER=off turns the automatic takeover off (the explicit `sluice takeover` still works). */
export function autoTakeoverEnabled(env: Record<string, string | undefined>): boolean {
  const v = (env.SLUICE_TAKEOVER ?? 'auto').trim().toLowerCase();
  if (v === '' || v === 'auto' || v === 'on' || v === '1') return true;
  if (v === 'off' || v === '0' || v === 'never') return false;
  throw new UsageError(`SLUICE_TAKEOVER must be auto or off, not "${env.SLUICE_TAKEOVER}"`);
}

/** Why a takeover is refused: the rows' problems, and for the automatic one an app schema without tables. */
function refusalReasons(ctx: Context, state: DrizzleState, automatic: boolean): string[] {
  const reasons = [...state.problems];
  if (automatic && !state.emptySchema && state.missingTables.length && reasons.length === 0) {
    const where = ctx.target.dialect === 'postgresql' ? `schema ${ctx.target.schema}` : 'the file';
    const shown = state.missingTables.slice(0, 5).join(', ') + (state.missingTables.length > 5 ? `, and ${state.missingTables.length - 5} more` : '');
    reasons.push(
      `${where} lacks tables that ${state.at}, where those rows stand, has (${shown}), so those rows describe another schema or database (drizzle's table is per database, sluice's per schema); set DATABASE_SCHEMA to the schema drizzle migrated, run sluice takeover if this is right, or set SLUICE_TAKEOVER=off to migrate ${where} from base`,
    );
  }
  if (automatic && state.emptySchema && reasons.length === 0) {
    const where = ctx.target.dialect === 'postgresql' ? `schema ${ctx.target.schema}` : 'the file';
    reasons.push(
      `${where} holds no table, so those rows describe another schema (drizzle's table is per database, sluice's per schema); set DATABASE_SCHEMA to the schema drizzle migrated, run sluice takeover if this is right, or set SLUICE_TAKEOVER=off to migrate ${where} from base`,
    );
  }
  return reasons;
}

/** The refusal of a takeover whose rows do not match: one line listing every problem; nothing was written. */
export function takeoverRefused(ctx: Context, database: string, state: DrizzleState, automatic: boolean): IntegrityError {
  const reasons = refusalReasons(ctx, state, automatic);
  const err = new IntegrityError(
    `cannot take over ${database} from drizzle's migrator: ${state.source} (${state.rows} row${state.rows === 1 ? '' : 's'}) does not match ${rel(ctx.history.dir)}: ${reasons.join('; ')}. Nothing was written. Fix the cause, or record where the database stands with make migrate-stamp REVISION=<rev> PURGE=1 (drizzle's table is then ignored)`,
  );
  return Object.assign(err, { results: { takeover: { source: state.source, rows: state.rows, problems: reasons } } });
}

/** Write the takeover's sluice_version rows in one transaction (creating sluice's table). Runs no migration SQL. */
async function record(conn: Connection, store: VersionStore, records: AppliedRow[], source: string, ctx: Context): Promise<void> {
  await conn.begin();
  try {
    await store.ensure();
    for (const r of records) await store.insert(r);
    await conn.commit();
  } catch (err) {
    await conn.rollback();
    if (err instanceof ConfigError) throw err;
    throw new MigrationFailed(`taking over from ${source} failed and was rolled back, nothing was written: ${describeCause(err)}`, ctx.history.revisions[0]?.id ?? '', 0, {
      cause: err,
    });
  }
}

function summary(state: DrizzleState): TakeoverSummary {
  return { source: state.source, rows: state.rows, revisions: state.records.map((r) => r.revision), at: state.at };
}

/**
 * The automatic takeover's decision, writing nothing: undefined where there is nothing to take over
 * (sluice_version exists, SLUICE_TAKEOVER=off, no drizzle table or no rows); throws the refusal when
 * the rows do not match or the app's schema is empty. Dry runs plan with its records.
 */
export async function planTakeover(ctx: Context, conn: Connection, store: VersionStore): Promise<(TakeoverSummary & { records: AppliedRow[] }) | undefined> {
  if (!autoTakeoverEnabled(ctx.env)) return undefined;
  if (await store.exists()) return undefined;
  const state = await readDrizzleState(ctx, conn);
  if (!state) return undefined;
  if (state.problems.length || state.emptySchema || state.missingTables.length) throw takeoverRefused(ctx, conn.display, state, true);
  return { ...summary(state), records: state.records };
}

/**
 * The automatic takeover, for writing commands (withSession's beforeEnsure hook: under the lock,
 * before sluice's table exists). Only where sluice_version does not exist yet; refuses (nothing
 * written) when the rows do not match or the app's schema is empty.
 */
export async function autoTakeover(ctx: Context, conn: Connection, store: VersionStore): Promise<TakeoverSummary | undefined> {
  const plan = await planTakeover(ctx, conn, store);
  if (!plan) return undefined;
  const { records, ...rest } = plan;
  await record(conn, store, records, rest.source, ctx);
  return rest;
}

/** What status, history, show and dry runs show about drizzle's table while sluice_version holds nothing. */
export interface TakeoverView extends TakeoverSummary {
  /**
   * pending: taken over on the next migrate-up (or down, stamp, deploy);
   * refused: the rows do not match (or the schema is empty): the next writing command refuses;
   * explicit: sluice_version exists but is empty (sluice went to base, or an earlier run created it):
   *   not taken over automatically, `sluice takeover` does it when sluice never applied anything here;
   * off: SLUICE_TAKEOVER=off.
   */
  state: 'pending' | 'refused' | 'explicit' | 'off';
  problems: string[];
  /** The rows sluice_version would hold after the takeover (state pending). */
  records: AppliedRow[];
}

/** Read-only: how drizzle's table stands, when sluice_version has no rows and drizzle's table has some. */
export async function takeoverView(ctx: Context, conn: Connection, store: VersionStore): Promise<TakeoverView | undefined> {
  let state: DrizzleState | undefined;
  try {
    state = await readDrizzleState(ctx, conn);
  } catch (err) {
    // a role that may not read drizzle's table: shown, not fatal for a read-only command
    if (!(err instanceof ConfigError)) throw err;
    const source = drizzleSource(ctx).name;
    return { source, rows: 0, revisions: [], at: 'base', records: [], state: 'refused', problems: [err.message] };
  }
  if (!state) return undefined;
  const base = { ...summary(state), records: state.records };
  if (!autoTakeoverEnabled(ctx.env)) return { ...base, state: 'off', problems: [] };
  if (await store.exists()) return { ...base, state: 'explicit', problems: state.problems };
  if (state.problems.length || state.emptySchema || state.missingTables.length) {
    return { ...base, state: 'refused', problems: refusalReasons(ctx, state, true) };
  }
  return { ...base, state: 'pending', problems: [] };
}

export interface TakeoverOptions extends CommandOptions {
  /** Show what would be recorded; write nothing. */
  dryRun?: boolean;
  /** drizzle's table as `[schema.]name`, instead of drizzle.config.ts's `migrations` (default drizzle.__drizzle_migrations). */
  table?: string;
}

export interface TakeoverResult {
  database: string;
  source: string;
  /** taken-over: rows written; already-managed: sluice_version already has rows (nothing written); dry-run: nothing written. */
  status: 'taken-over' | 'already-managed' | 'dry-run';
  rows: number;
  revisions: string[];
  at: string;
}

/**
 * `sluice takeover`: the explicit takeover. Unlike the automatic one it also runs where sluice_version
 * exists but is empty, and where the app's schema holds no table (you assert the rows describe it).
 * A database whose sluice_version already has rows is left alone.
 */
export async function takeover(options: TakeoverOptions = {}): Promise<TakeoverResult> {
  const ctx = await loadContext(options);
  const src = drizzleSource(ctx, options.table);
  // a SQLite file that is not there holds no drizzle table: refused before opening it would create it (and its lock file)
  if (ctx.target.dialect === 'sqlite' && ctx.target.file && !existsSync(ctx.target.file)) {
    throw new UsageError(`${ctx.target.display} does not exist, so it has no table ${src.name} to take over; nothing was created (check DATABASE_URL)`);
  }
  let result: TakeoverResult | undefined;
  const decide = async (conn: Connection, store: VersionStore, write: boolean): Promise<TakeoverResult> => {
    const existing = await store.list();
    if (existing.length) {
      checkIntegrity(ctx, existing, { allowChanged: true });
      const history = ctx.history.revisions;
      return {
        database: conn.display,
        source: src.name,
        status: 'already-managed',
        rows: 0,
        revisions: [],
        at: labelOf(history, currentIndex(history, new Set(existing.map((r) => r.revision)))),
      };
    }
    if (!(await drizzleTableExists(conn, src))) {
      throw new UsageError(
        `${conn.display} has no table ${src.name} (drizzle's migrator keeps its rows there); name the right one with migrations: { table, schema } in drizzle.config.ts or --table [schema.]name`,
      );
    }
    const state = await readDrizzleState(ctx, conn, options.table);
    if (!state) {
      // drizzle applied nothing here: recording nothing would only make sluice_version, which turns the automatic takeover off for good
      throw new UsageError(`${src.name} in ${conn.display} holds no rows: drizzle's migrator applied nothing here, so there is nothing to take over; nothing was written (run make migrate-up)`);
    }
    if (state.problems.length) throw takeoverRefused(ctx, conn.display, state, false);
    if (write) await record(conn, store, state.records, state.source, ctx);
    return { database: conn.display, ...summary(state), status: write ? 'taken-over' : 'dry-run' };
  };
  return withSession(
    ctx,
    !options.dryRun,
    async ({ conn, store }) => result ?? (await decide(conn, store, false)),
    options.dryRun ? {} : { beforeEnsure: async (conn, store) => void (result = await decide(conn, store, true)) },
  );
}
