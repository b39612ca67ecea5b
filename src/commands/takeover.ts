/**
 * Takeover of a database that drizzle's own migrator (drizzle-orm `migrate()`) manages.
 *
 * drizzle-orm records what it applied in `__drizzle_migrations` (PostgreSQL: in schema `drizzle`, or
 * the `migrations: { table, schema }` of drizzle.config.ts; SQLite: in the file), one row per applied
 * journal entry (drizzlerows.ts reads it and matches it to the folder).
 *
 * The takeover matches every row to a revision by created_at and hash (by hash alone for a row whose
 * entry migrate-merge renumbered), checks that every entry drizzle counts as applied has its row, and
 * writes sluice_version rows (sluice's checksum, the revision's name, applied_at = created_at, since
 * drizzle records no apply time) in one transaction, running no migration SQL. Anything that does not
 * match is refused with the list; nothing is written. drizzle's table is only read, never changed: a
 * team can go back to drizzle's migrator as long as sluice has not moved the database since.
 *
 * When: automatically, under the migration lock, on the first writing command (up, down, stamp,
 * reset, deploy) of a database where sluice_version does not exist yet; explicitly with
 * `sluice takeover`. status, history and show compute the same match read-only and show it.
 */
import { existsSync } from 'node:fs';
import { loadContext, withSession, type CommandOptions, type Context } from '../context.js';
import { upChecksumOf, upEarlierChecksumsOf } from '../revisionreads.js';
import { checkIntegrity } from '../integrity.js';
import type { Connection } from '../dialect/types.js';
import { drizzleSource, drizzleTableExists, drizzleTablesElsewhere, matchDrizzleRows, readDrizzleRows, type DrizzleSource } from '../drizzlerows.js';
import { ConfigError, IntegrityError, MigrationFailed, UsageError, describeCause } from '../errors.js';
import { currentIndex, labelOf } from '../revision.js';
import { readSnapshot, snapshotFile, snapshotTables } from '../source.js';
import { rel } from '../relpath.js';
import { VERSION_TABLE, type AppliedRow, type VersionStore } from '../store.js';
import { checkOptions, COMMON_OPTIONS } from '../options.js';

export { DRIZZLE_TABLE } from '../store.js';

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
          for (const h of upEarlierChecksumsOf(ctx, r)) hashes.add(h); // drizzle read the file with CRLF line ends
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
  checkOptions('takeover', options, { ...COMMON_OPTIONS, dryRun: 'boolean', table: 'string' });
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
