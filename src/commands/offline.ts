/**
 * Offline SQL (Alembic's `upgrade --sql`): the script a DBA runs by hand to move a database from one
 * revision to another, with no database connection. Same planner and the same file checks as
 * migrate-up/down; per dialect and DATABASE_SCHEMA; with the version-table statements and the
 * transaction boundaries (one transaction per revision; none for `-- sluice:no-transaction` ones).
 * A TypeScript revision's function is not SQL: a marked gap stands in its place (tsrevision.ts).
 */
import { loadContext, type CommandOptions } from '../context.js';
import { ConfigError, UsageError } from '../errors.js';
import { labelOf, plan, requireRevisionName, resolveTarget, type Step } from '../revision.js';
import { foreignKeyPragmas, quoteIdent, quoteLiteral, quoteLiteralInBody, systemSchemaError, terminated } from '../sql.js';
import { translatePublic } from '../publicschema.js';
import { versionTableDdl, VERSION_TABLE } from '../store.js';
import { withGap } from '../tsrevision.js';
import { prepareFor } from './stepprep.js';
import { narrowingGuards, readyToGuard } from '../preflight.js';
import { checkOptions, COMMON_OPTIONS } from '../options.js';

export interface OfflineOptions extends CommandOptions {
  /** `<from>:<to>` (from defaults to base), or `<to>` alone (from base). */
  range: string;
}

export interface OfflineResult {
  dialect: string;
  schema?: string;
  from: string;
  to: string;
  direction: 'up' | 'down';
  revisions: string[];
  /** Revisions whose TypeScript step the script leaves out (a marked gap in its place). */
  typescript: string[];
  sql: string;
}

export async function offlineSql(options: OfflineOptions): Promise<OfflineResult> {
  checkOptions('offlineSql', options, { ...COMMON_OPTIONS, range: 'revision' }, ['range']);
  const range = requireRevisionName(options.range);
  const ctx = await loadContext(options);
  const history = ctx.history.revisions;
  const [fromSpec, toSpec] = range.includes(':') ? [range.slice(0, range.indexOf(':')) || 'base', range.slice(range.indexOf(':') + 1)] : ['base', range];
  if (!toSpec) throw new UsageError(`revision range "${range}" has no target; write <from>:<to>, e.g. base:head or head:-2`);
  if (/^[+-]/.test(fromSpec)) throw new UsageError(`revision range "${range}": the start must be base, head, a tag or a number (relative steps go after the colon, e.g. head:-2)`);
  const fromIndex = resolveTarget(history, new Set<string>(), fromSpec);
  const appliedAtFrom = new Set(history.filter((r) => r.index <= fromIndex).map((r) => r.id));
  const toIndex = resolveTarget(history, appliedAtFrom, toSpec);
  const direction = toIndex >= fromIndex ? 'up' : 'down';
  const steps: Step[] = plan(history, appliedAtFrom, toIndex, direction);
  const pg = ctx.target.dialect === 'postgresql';
  const schema = ctx.target.schema ?? 'public';
  // refused as up and status refuse it (they do so when they connect; this command never does)
  const system = pg ? systemSchemaError(schema) : undefined;
  if (system) throw new ConfigError(system);
  // up's search_path guard (dialect/postgres.ts): a revision that moves search_path (set_config(), which
  // the file checks cannot see) stops the script inside its transaction, before its version row
  const guarded = pg && schema !== 'public';
  const table = pg ? `${quoteIdent(schema)}.${quoteIdent(VERSION_TABLE)}` : quoteIdent(VERSION_TABLE);
  const now = pg ? 'now()' : "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
  const out: string[] = [
    `-- sluice offline SQL: ${ctx.target.dialect}${pg ? `, schema ${schema}` : ''}, ${labelOf(history, fromIndex)} -> ${labelOf(history, toIndex)} (${direction}, ${steps.length} revision${steps.length === 1 ? '' : 's'})`,
    `-- Generated without a database connection; run it with ${pg ? 'psql -f' : 'sqlite3 (or sqlite3 -bail)'}. The next line makes ${pg ? 'psql' : 'the sqlite3 shell'} stop at the first error; any other client: remove it, and stop at the first error yourself.`,
    // Without it, the shell goes on after a failed statement: sqlite3 keeps the transaction open and runs
    // the rest of the revision (a table rebuild's DROP TABLE after its failed copy: the rows lost) and
    // its version row; psql runs the later revisions on a database without the failed one. A client that
    // is not the shell refuses this line before anything runs (a syntax error).
    pg ? '\\set ON_ERROR_STOP on' : '.bail on',
  ];
  if (pg) out.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)};`, `SET search_path TO ${[schema, ...(ctx.target.lookup ?? [])].map((x) => quoteIdent(x)).join(', ')};`);
  if (guarded) out.push("DO $sluice$ BEGIN PERFORM pg_catalog.set_config('sluice.search_path', pg_catalog.current_setting('search_path'), false); END $sluice$;");
  // sluice's connection has foreign keys on (an ON DELETE action fires, a broken key fails the
  // revision); the sqlite3 shell starts with them off
  if (!pg) out.push('PRAGMA foreign_keys=ON;');
  out.push(`${versionTableDdl(table, pg ? 'timestamptz' : 'text')};`);
  const typescript: string[] = [];
  for (const step of steps) {
    const prepared = await prepareFor(ctx, step, false);
    if (prepared.typescript) typescript.push(step.revision.id);
    let statements = prepared.statements.map((s) => (pg ? translatePublic(s, schema) : s));
    // A SQLite table rebuild's PRAGMA foreign_keys lines go outside the transaction, where SQLite applies
    // them (inside one it ignores them, and the rebuild's DROP TABLE would delete child rows by cascade
    // with foreign keys on). After it the script turns them on again, as sluice's connection has them.
    const pragmas = !pg && !prepared.noTransaction ? foreignKeyPragmas(statements) : undefined;
    if (pragmas) statements = pragmas.body;
    out.push('', `-- ${step.revision.id} (${step.direction})${prepared.noTransaction ? ': sluice:no-transaction, statements run one by one outside a transaction' : ''}`);
    if (pragmas?.before.length) out.push('-- its PRAGMA foreign_keys statements run outside the transaction, where SQLite applies them', ...pragmas.before.map((p) => `${p};`));
    if (!prepared.noTransaction) out.push('BEGIN;');
    // the first down also checks the database holds as many version rows as the script's start has revisions
    if (step.direction === 'down') out.push(...recordedGuard(pg, table, step.revision.id, labelOf(history, fromIndex), step === steps[0] ? fromIndex + 1 : undefined));
    // the first up checks the database is at the script's start (a hunt: one run on a database a revision
    // below it applied and recorded the later revision, the one between never run, exit 0)
    else if (step === steps[0]) out.push(...startGuard(pg, table, fromIndex >= 0 ? labelOf(history, fromIndex) : undefined, fromIndex + 1));
    // a PostgreSQL down's type change is counted first, as migrate-down counts it (preflight.ts)
    if (pg && step.direction === 'down') await readyToGuard(statements);
    const counted = pg && step.direction === 'down' ? narrowingGuards(statements, step.revision.id) : undefined;
    for (const s of withGap(statements, prepared.typescript, step.direction)) {
      const guard = counted?.get(s);
      if (guard) out.push(guard);
      out.push(s.startsWith('-- sluice: TypeScript') ? s : terminated(s));
    }
    if (prepared.endsInTransaction) out.push('COMMIT;'); // the file ends inside a transaction it opened: committed before its version row, as a run does
    if (guarded) {
      const id = step.revision.id.replace(/\$/g, '').replace(/%/g, '%%').replace(/'/g, "''"); // inside a dollar-quoted body, a format string, a literal
      out.push(
        `DO $sluice$ BEGIN IF pg_catalog.current_setting('search_path') IS DISTINCT FROM pg_catalog.current_setting('sluice.search_path') THEN RAISE EXCEPTION 'sluice: revision ${id} (${step.direction}) changed search_path to %, outside DATABASE_SCHEMA; stopped before its version row', pg_catalog.current_setting('search_path'); END IF; END $sluice$;`,
      );
    }
    out.push(
      step.direction === 'up'
        ? `INSERT INTO ${table} ("revision", "name", "checksum", "applied_at", "execution_ms") VALUES (${quoteLiteral(step.revision.id)}, ${quoteLiteral(step.revision.message)}, ${quoteLiteral(prepared.upChecksum)}, ${now}, 0);`
        : `DELETE FROM ${table} WHERE "revision" = ${quoteLiteral(step.revision.id)};`,
    );
    if (!prepared.noTransaction) out.push('COMMIT;');
    if (pragmas) out.push('PRAGMA foreign_keys=ON;'); // on again after a rebuild, as sluice's connection has them
  }
  if (typescript.length) {
    out.splice(
      3,
      0,
      `-- WARNING: ${typescript.join(', ')} ha${typescript.length === 1 ? 's a TypeScript step' : 've TypeScript steps'} (data migrations), marked "-- sluice: TypeScript step" below: this script leaves ${typescript.length === 1 ? 'it' : 'them'} out, and still records the revision. Apply such revisions with sluice (make migrate-up / migrate-down) instead.`,
    );
  }
  return {
    dialect: ctx.target.dialect,
    schema: pg ? schema : undefined,
    from: labelOf(history, fromIndex),
    to: labelOf(history, toIndex),
    direction,
    revisions: steps.map((s) => s.revision.id),
    typescript,
    sql: `${out.join('\n')}\n`,
  };
}

/**
 * Before a down's statements: its revision must be recorded as applied (and, for the script's first,
 * `rows` version rows must be there: the database at the script's start, not past it), or the script
 * stops there (was: run on a database at another revision, its statements ran whenever they could,
 * dropping what that database had, and the DELETE of a row that was not there went by; found by a
 * hunt, and by review for a database past the start). PostgreSQL: a DO block that raises; SQLite,
 * which has none: a row a CHECK refuses, in a TEMP table (nothing is written to the database), its
 * constraint named with the reason, which SQLite's error quotes.
 */
function recordedGuard(pg: boolean, table: string, revision: string, from: string, rows?: number): string[] {
  const reason =
    rows === undefined
      ? `sluice: revision ${revision} is not recorded as applied, and this script reverts a database at ${from}; stopped before its statements`
      : `sluice: the database is not at ${from} (${revision} not recorded as applied, or not ${rows} version rows), which this script reverts from; stopped before its statements`;
  // inside a DO block's dollar-quoted body: a tag holding `$sluice$` must not close it (found by a review)
  const lit = pg ? quoteLiteralInBody : quoteLiteral;
  const recorded = `(SELECT count(*) FROM ${table} WHERE "revision" = ${lit(revision)})`;
  const total = rows === undefined ? '' : ` AND (SELECT count(*) FROM ${table}) = ${rows}`;
  return guardLines(pg, `sluice_guard_${revision}`, `${recorded} = 1${total}`, reason);
}

/** Before the first up: the database is at the script's start, `from` recorded (none: base) and `rows` version rows there. */
function startGuard(pg: boolean, table: string, from: string | undefined, rows: number): string[] {
  const reason = `sluice: the database is not at ${from ?? 'base'} (${from ? `${from} not recorded as applied, or ` : ''}not ${rows} version rows), which this script upgrades from; stopped before its statements`;
  const lit = pg ? quoteLiteralInBody : quoteLiteral; // inside a DO block's body (recordedGuard)
  const recorded = from ? `(SELECT count(*) FROM ${table} WHERE "revision" = ${lit(from)}) = 1 AND ` : '';
  return guardLines(pg, 'sluice_guard_start', `${recorded}(SELECT count(*) FROM ${table}) = ${rows}`, reason);
}

/** A check the script stops at with `reason` when `condition` is false: PostgreSQL, a DO block; SQLite, a TEMP row a CHECK refuses. */
function guardLines(pg: boolean, name: string, condition: string, reason: string): string[] {
  if (pg) {
    const text = reason.replace(/\$/g, '').replace(/%/g, '%%').replace(/'/g, "''"); // inside a dollar-quoted body, a format string, a literal
    return [`DO $sluice$ BEGIN IF NOT (${condition}) THEN RAISE EXCEPTION '${text}'; END IF; END $sluice$;`];
  }
  const guard = quoteIdent(name);
  return [`CREATE TEMP TABLE ${guard} ("ok" integer CONSTRAINT ${quoteIdent(reason)} CHECK ("ok" = 1));`, `INSERT INTO ${guard} SELECT ${condition};`];
}
