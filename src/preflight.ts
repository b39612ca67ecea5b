/**
 * Data-dependent downs, checked before anything changes, so a run is refused up front (naming the
 * revision, the column and the rows) instead of failing half-way:
 * - a down that sets NOT NULL on a column holding NULLs;
 * - a down that re-creates an enum without values that rows still use.
 * - a down that narrows a column where PostgreSQL's cast would cut or round values (checkNarrowing),
 *   or whose SQLite table rebuild would change values as it copies them (checkCopy: dialect/sqlitecopy.ts);
 * - SQLite: a down whose DROP TABLE would delete or overwrite rows of a table the run keeps (sqlitedrops.ts).
 * Table and column names come from the migration files (as the statements themselves do); values
 * are bound.
 */
import type { Connection, TableCopy } from './dialect/types.js';
import type { PreparedStep } from './prepare.js';
import { describeCause, Refused } from './errors.js';
import { quoteLiteralInBody } from './sql.js';
import { NowNames } from './nownames.js';
import { alterTableActions, readyToSplit, SQL_NAME } from './altertable.js';
import { isPrimaryKeyDropBlock } from './downrules.js';
import { checkCascadingDrops } from './sqlitedrops.js';

// A name as a down may write it: quoted (drizzle-kit's, sluice's), or plain, as hand-written downs do
// (`ALTER TABLE prices ALTER COLUMN amount TYPE numeric(10,2)`: was not recognised, so not checked, and
// 1.505 was rounded to 1.51, exit 0, found by a hunt). Read through `canon`: quoted, folded as PostgreSQL folds.
// A quoted name may hold a doubled quote (`"a""b"`: was not matched, so a narrowing down of such a
// table or column ran unchecked, exit 0, found by a review); a plain one may hold non-ASCII letters
// (`café`: was not matched either).
const ID = SQL_NAME;
const NAME = String.raw`((?:${ID}\s*\.\s*)?${ID})`;
const ALTER_COLUMN = String.raw`^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?${NAME}\s+ALTER\s+(?:COLUMN\s+)?(${ID})\s+`;
const SET_NOT_NULL = new RegExp(String.raw`${ALTER_COLUMN}SET\s+NOT\s+NULL`, 'im');
// the value list read whole, quoted values and all: a value holding `)` ('medium (m)') ended it there,
// and the rows holding the values after it were counted as outside the enum (a hunt: a sound down refused)
const CREATE_ENUM = new RegExp(String.raw`^CREATE\s+TYPE\s+${NAME}\s+AS\s+ENUM\s*\(((?:'(?:[^']|'')*'|[^')])*)\)`, 'im');
const SET_ENUM = new RegExp(String.raw`${ALTER_COLUMN}(?:SET\s+DATA\s+)?TYPE\s+${NAME}\s+USING`, 'im');
/** A type change with no USING, or only the plain cast to its type (what drizzle-kit and sluice write): `USING` is group 4. */
// (a quoted name may hold `;`: a column "a;b" in the USING kept the whole statement from matching, and its
// values were cut, exit 0, found by a hunt)
const SET_TYPE = new RegExp(String.raw`${ALTER_COLUMN}(?:SET\s+DATA\s+)?TYPE\s+((?:"[^"]*"|[^;"])+?)(?:\s+USING\s+((?:"[^"]*"|[^;"])+?))?\s*;?\s*$`, 'i');

/** A name as PostgreSQL reads it, quoted: a plain part folded to lower case (`Prices.Amount` → `"prices"."amount"`). */
function canon(ref: string): string {
  // PostgreSQL folds only ASCII letters of a plain name (in UTF-8 databases)
  return (ref.match(new RegExp(ID, 'g')) ?? [ref]).map((p) => (p.startsWith('"') ? p : `"${p.replace(/[A-Z]+/g, (c) => c.toLowerCase())}"`)).join('.');
}

/** `re`'s match with the groups that are names read through canon. */
function matchNames(re: RegExp, sql: string, names: number[]): RegExpExecArray | null {
  const m = re.exec(sql);
  if (m) for (const g of names) if (m[g] !== undefined) m[g] = canon(m[g]!);
  return m;
}

/**
 * Type families within which PostgreSQL's cast keeps going where the value does not fit, cutting text
 * (`::varchar(5)`) or rounding numbers and times (`::numeric(10,0)`, `::integer`, `::timestamp(0)`,
 * a timestamp's time of day dropped by `::date`, an address's host bits by `::cidr`) instead of
 * failing: a down that narrows a column within one of them is checked for rows it changes.
 */
const LOSSY_FAMILIES = [
  /^(text|varchar|character varying|char|character|bpchar)\b/i,
  /^(numeric|decimal|smallint|integer|int|int2|int4|int8|bigint|real|float4|float8|double precision)\b/i,
  /^(timestamp|timestamptz|time|timetz|interval|date)\b/i,
  /^(inet|cidr)\b/i,
];
const familyOf = (type: string) => LOSSY_FAMILIES.findIndex((f) => f.test(type.trim()));
/** A statement that writes rows: a down doing so before a type change says itself what becomes of them. */
const ROW_WRITE = /^(UPDATE|DELETE|INSERT|DO|WITH|MERGE|CALL)\b/i;
/** ROW_WRITE, but for sluice's own primary-key drop (downrules.ts), which writes none (a hunt: it turned the checks after it off). */
const writesRows = (sql: string) => ROW_WRITE.test(sql) && !isPrimaryKeyDropBlock(sql);

const bare = (name: string) => name.replace(/"/g, '').replace(/^public\./, '');
const codeOf = (err: unknown) => String((err as { code?: unknown } | null)?.code);
const code = (sql: string) => sql.replace(/^\s*--.*$/gm, '').trim();

/**
 * Whether preflightDown would read the database for this step (a statement it checks). False means its
 * check does nothing: under --single-transaction the engine may send such a step before its turn.
 */
export function needsPreCheck(step: PreparedStep): boolean {
  return step.statements.some((s) => {
    const actions = alterTableActions(code(s));
    // several actions, and the scanner that splits them not loaded yet: assume a check
    if (!actions) return true;
    return actions.some((sql) => SET_NOT_NULL.test(sql) || SET_ENUM.test(sql) || narrowing(sql) !== undefined);
  });
}

/** Comments out of a type or USING as SET_TYPE reads them (a `-- note` before the `;` made the count's cast not parse), quoted names kept. */
const withoutComments = (t: string) => t.replace(/("(?:[^"]|"")*")|--[^\n]*|\/\*[\s\S]*?\*\//g, (_all, quoted?: string) => quoted ?? ' ').replace(/\s+/g, ' ').trim();

/**
 * The plain type changes of one statement (each action of an ALTER TABLE, split by PostgreSQL's
 * scanner: readyToSplit first), as narrowing reads them: table and column (quoted, canon) and the new
 * type. For migrate-lint's `narrowing-type` (lintnarrow.ts).
 */
export function plainRetypes(sql: string): { table: string; column: string; type: string }[] {
  return (alterTableActions(code(sql)) ?? [code(sql)]).flatMap((a) => narrowing(a) ?? []);
}

/** A type change whose USING (if any) is only the plain cast: table, column and the new type. */
function narrowing(sql: string): { table: string; column: string; type: string } | undefined {
  const m = SET_TYPE.exec(sql);
  if (!m) return undefined;
  const [, table, column, written, using] = m;
  // `TYPE varchar(32) COLLATE "C"`: the collation changes no value, and a cast cannot name one (was: the
  // count did not parse)
  const type = withoutComments(written!).replace(new RegExp(String.raw`\s*\bCOLLATE\s*${ID}(?:\s*\.\s*${ID})?\s*$`, 'i'), '');
  // a USING of the user's own (round(), a lookup...) is a conversion chosen by hand: not checked
  const plain = (t: string) => t.replace(/\s+/g, '').toLowerCase();
  if (using !== undefined && plain(withoutComments(using)) !== plain(`${column}::${type}`) && plain(withoutComments(using)) !== plain(`${canon(column!)}::${type}`)) return undefined;
  return { table: canon(table!), column: canon(column!), type: type!.trim() };
}

/**
 * migrate-sql's down scripts, run with no sluice at hand: checkNarrowing's count as a DO block just
 * before the type change, raising when a value would not come back unchanged (a hunt: `psql -f` cut the
 * values, recorded the down, exit 0). A value the cast refuses counts none: the down's own statement
 * then fails. Keyed by the statement (PostgreSQL).
 */
export function narrowingGuards(statements: string[], revision: string): Map<string, string> {
  const out = new Map<string, string>();
  let rowsTouched = false;
  for (const statement of statements) {
    const sql = code(statement);
    if (writesRows(sql)) rowsTouched = true;
    if (rowsTouched) continue;
    // each action of an ALTER TABLE of several gets its guard (the scanner is loaded: readyToGuard)
    const guards = (alterTableActions(sql) ?? [sql]).flatMap((action) => {
      const nw = narrowing(action);
      return nw ? [narrowingGuard(nw, revision)] : [];
    });
    if (guards.length) out.set(statement, guards.join('\n'));
  }
  return out;
}

/** Load what narrowingGuards needs for `statements` (the scanner, when one may hold several actions). */
export async function readyToGuard(statements: string[]): Promise<void> {
  await readyToSplit(statements.map(code));
}

/** The DO block of narrowingGuards for one type change. */
function narrowingGuard(nw: { table: string; column: string; type: string }, revision: string): string {
  const column = nw.column.slice(1, -1).replace(/""/g, '"');
  // inside a dollar-quoted body (no $), a RAISE format (% doubled), a literal (' doubled)
  const said = (t: string) => t.replace(/\$/g, '').replace(/%/g, '%%').replace(/'/g, "''");
  const change = `the down of ${said(revision)} changes ${said(`${bare(nw.table)}.${bare(nw.column)}`)} from % to ${said(nw.type)}`;
  const stopped = (effect: string) => `sluice: ${change}, which ${effect} of % row(s); stopped before it: change those rows, or edit the down (an UPDATE before it, or a USING of your own)`;
  const message = stopped('would change the values');
  const unchecked = `sluice: ${change}, and the rows that cast would change cannot be counted (%); stopped before it: write that type change as an ALTER TABLE of its own, or give it a USING of your own`;
  // a `$` never stands in the DO block's text (it could close $sluice$), but is kept in the name it
  // spells: chr(36) (was: dropped, so "price$" looked up "price", found none, and the values were cut)
  const lit = quoteLiteralInBody;
  const counted = (text: boolean) =>
    `EXECUTE pg_catalog.format('SELECT count(*) FROM %s WHERE %s${text ? '::text' : ''} IS DISTINCT FROM CAST(CAST(%s AS %s) AS %s)${text ? '::text' : ''}', ${lit(nw.table)}, ${lit(nw.column)}, ${lit(nw.column)}, ${lit(nw.type)}, today) INTO n;`;
  // as checkNarrowing counts: a type without equality (json) compared as text; a value the cast
  // refuses counts none (the down's own statement fails); a count that does not parse stops the script
  return [
    'DO $sluice$ DECLARE today text; n bigint := 0; BEGIN',
    `SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO today FROM pg_catalog.pg_attribute a WHERE a.attrelid = pg_catalog.to_regclass(${lit(nw.table)}) AND a.attname = ${lit(column)} AND NOT a.attisdropped;`,
    // json back to jsonb: only a key written twice is lost (checkNarrowing)
    ...(jsonToJsonb('json', nw.type)
      ? [
          "IF today = 'json' THEN",
          `  BEGIN EXECUTE pg_catalog.format(${lit(`SELECT count(*) FROM %1$s WHERE ${duplicateKeys('%2$s')}`)}, ${lit(nw.table)}, ${lit(nw.column)}) INTO n; EXCEPTION WHEN OTHERS THEN n := 0; END;`,
          `  IF n > 0 THEN RAISE EXCEPTION '${stopped('would drop a key written twice from the values')}', today, n; END IF;`,
          'ELSIF today IS NOT NULL THEN',
        ]
      : ['IF today IS NOT NULL THEN']),
    `  BEGIN ${counted(false)}`,
    `  EXCEPTION WHEN undefined_function THEN BEGIN ${counted(true)} EXCEPTION WHEN syntax_error THEN RAISE EXCEPTION '${unchecked}', today, SQLERRM; WHEN OTHERS THEN n := 0; END;`,
    `  WHEN syntax_error THEN RAISE EXCEPTION '${unchecked}', today, SQLERRM;`,
    '  WHEN OTHERS THEN n := 0; END;',
    `  IF n > 0 THEN RAISE EXCEPTION '${message}', today, n; END IF;`,
    'END IF; END $sluice$;',
  ].join('\n');
}

/**
 * json going back to jsonb: jsonb keeps the last of a key written twice, and orders and spaces the
 * rest its own way. Only the dropped keys are data lost, so only the values holding an object with a
 * key twice, at any depth, are counted (a hunt: the down dropped `"amount": 1` from `{"amount": 1,
 * "amount": 2}`, exit 0; compared as text, every compact value, as drivers write them, counted).
 */
const jsonToJsonb = (today: string, type: string) => today === 'json' && /^(?:pg_catalog\s*\.\s*)?"?jsonb"?$/i.test(type.trim());
const duplicateKeys = (column: string) =>
  `EXISTS (WITH RECURSIVE sluice_walk(sluice_v) AS (SELECT ${column} UNION ALL SELECT x.c FROM sluice_walk, LATERAL (SELECT value FROM pg_catalog.json_each(CASE WHEN pg_catalog.json_typeof(sluice_walk.sluice_v) = 'object' THEN sluice_walk.sluice_v END) UNION ALL SELECT value FROM pg_catalog.json_array_elements(CASE WHEN pg_catalog.json_typeof(sluice_walk.sluice_v) = 'array' THEN sluice_walk.sluice_v END)) AS x(c)) SELECT 1 FROM sluice_walk WHERE pg_catalog.json_typeof(sluice_walk.sluice_v) = 'object' AND (SELECT count(*) FROM pg_catalog.json_object_keys(sluice_walk.sluice_v)) <> (SELECT count(DISTINCT k) FROM pg_catalog.json_object_keys(sluice_walk.sluice_v) AS k))`;

/** Inside a run's transaction, a check that fails (no such table) must not abort it: it runs in this savepoint. */
const SAVEPOINT = 'sluice_preflight';

/**
 * The check was kept from reading by another session, whose lock the down's own statement would wait
 * for too: held past lock_timeout (55P03), or a deadlock (40P01). What to do, for the refusal's line. A
 * statement_timeout (57014) is not among them: the count scans the table, where the down's statement
 * may not (SET NOT NULL over a validated CHECK); it is read as a check that could not run, as before.
 */
const HELD_UP: Record<string, string> = {
  '55P03': 'another session holds a lock on that table longer than SLUICE_LOCK_TIMEOUT (default 10s) allows: run the command again once it is released, or raise SLUICE_LOCK_TIMEOUT',
  '40P01': 'run the command again',
};

async function count(conn: Connection, step: PreparedStep, what: string, sql: string, params: unknown[], inTransaction: boolean): Promise<number> {
  const n = await countOr(conn, step, what, sql, params, inTransaction);
  return typeof n === 'number' ? n : 0;
}

/** count, or the error the count failed with (after the savepoint's rollback) instead of none. */
async function countOr(conn: Connection, step: PreparedStep, what: string, sql: string, params: unknown[], inTransaction: boolean): Promise<number | { failed: unknown }> {
  await conn.readyToTranslate?.([sql]);
  if (inTransaction) await conn.execute(`SAVEPOINT ${SAVEPOINT}`);
  // A table that only comes to exist during the run cannot be checked up front (nor can what the check
  // cannot read otherwise). A check held up by another session (HELD_UP) refuses the run instead: read
  // as "no rows", the default mode would revert the revisions before this one and then wait on that lock.
  const rows = await conn.query<{ n: number | string }>(conn.translate(sql), params).catch(async (err: unknown) => {
    if (conn.lostConnection(err)) throw err; // the command reports the loss
    const todo = HELD_UP[String((err as { code?: unknown } | null)?.code)];
    if (todo) throw new Refused(`could not check the down of ${step.revision.id} (${what}): ${describeCause(err)}; nothing was changed; ${todo}`, { cause: err });
    if (inTransaction) await conn.execute(`ROLLBACK TO ${SAVEPOINT}`);
    return { failed: err };
  });
  if (inTransaction) await conn.execute(`RELEASE ${SAVEPOINT}`);
  if (!Array.isArray(rows)) return rows;
  return Number(rows[0]?.n ?? 0);
}

/**
 * `inTransaction`: the steps are checked inside the run's transaction, after the run's earlier steps
 * (--single-transaction's later steps: engine.ts LaterSteps), so they see what those left.
 */
export async function preflightDown(conn: Connection, steps: PreparedStep[], options: { inTransaction?: boolean } = {}): Promise<void> {
  const inTransaction = !!options.inTransaction;
  await checkCascadingDrops(conn, steps); // SQLite: a DROP TABLE whose foreign keys would act on a table the run keeps
  // Every step is checked before the first one runs: a statement's names are read back to the names the
  // database has now, through the renames (and tables or columns made or dropped) before it in the run.
  const now = new NowNames(conn.dialect);
  for (const step of steps) {
    const enums = new Map<string, string[]>();
    for (const statement of step.statements) {
      const e = matchNames(CREATE_ENUM, code(statement), [1]);
      if (e) enums.set(bare(e[1]!), [...e[2]!.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replace(/''/g, "'")));
    }
    const sqls = step.statements.map(code);
    // SQLite's table rebuilds: their copy (INSERT … SELECT) is counted, not taken for the down's own write
    const copies: TableCopy[] = conn.tableCopies?.(sqls) ?? [];
    let rowsTouched = false; // a statement before changes rows (a down that shortens or rounds them first)
    if (conn.dialect === 'postgresql') await readyToSplit(sqls);
    for (const [i, sql] of sqls.entries()) {
      if (writesRows(sql) && !copies.some((c) => c.copyAt === i)) rowsTouched = true;
      // an ALTER TABLE of several actions: each checked as a statement of its own, against the table
      // as it is before the statement (altertable.ts)
      const actions = conn.dialect === 'postgresql' ? (alterTableActions(sql) ?? [sql]) : [sql];
      // a column another action of the statement retypes or adds holds other values by the time its NOT
      // NULL is checked (`TYPE int USING coalesce(a, 0)::int, ALTER COLUMN a SET NOT NULL`): not counted
      // up front; the statement itself fails, rolled back, if NULLs are left (a review: a sound down refused)
      const rewritten = new Set(actions.length > 1 ? actions.flatMap(columnRewritten) : []);
      for (const action of actions) await checkAction(conn, step, action, { now, enums, rowsTouched, inTransaction, rewritten });
      const copy = rowsTouched ? undefined : copies.find((c) => c.at === i);
      if (copy) await checkCopy(step, copy, now);
      for (const action of actions) now.see(action);
    }
  }
}

const ADD_COLUMN = new RegExp(String.raw`^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?${NAME}\s+ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(${ID})\s`, 'i');
const RETYPE = new RegExp(String.raw`${ALTER_COLUMN}(?:SET\s+DATA\s+)?TYPE\b`, 'i');

/** The column (canon) an action retypes or adds, if it does. */
function columnRewritten(action: string): string[] {
  const m = matchNames(RETYPE, action, [1, 2]) ?? matchNames(ADD_COLUMN, action, [1, 2]);
  return m ? [m[2]!] : [];
}

/** preflightDown's checks of one statement (one action of an ALTER TABLE): NOT NULL, a narrowing type change, an enum's values. */
async function checkAction(
  conn: Connection,
  step: PreparedStep,
  sql: string,
  at: { now: NowNames; enums: Map<string, string[]>; rowsTouched: boolean; inTransaction: boolean; rewritten: Set<string> },
): Promise<void> {
  const { now, enums, inTransaction } = at;
  const notNull = matchNames(SET_NOT_NULL, sql, [1, 2]);
  const nn = notNull && !at.rewritten.has(notNull[2]!) ? notNull : null;
  const nnTable = nn ? now.tableRef(nn[1]!) : null;
  const nnColumn = nn ? now.columnRef(nn[1]!, nn[2]!) : null;
  if (nn && nnTable && nnColumn) {
    const n = await count(conn, step, `rows holding NULL in ${bare(nn[1]!)}.${bare(nn[2]!)}`, `SELECT count(*) AS n FROM ${nnTable} WHERE ${nnColumn} IS NULL`, [], inTransaction);
    if (n > 0) {
      throw new Refused(`the down of ${step.revision.id} sets ${bare(nn[1]!)}.${bare(nn[2]!)} NOT NULL but ${n} row(s) hold NULL there; fill them or edit the down file, nothing was changed`);
    }
  }
  const nw = conn.dialect === 'postgresql' && !at.rowsTouched ? narrowing(sql) : undefined;
  const nwTable = nw ? now.tableRef(nw.table) : null;
  const nwColumn = nw ? now.columnRef(nw.table, nw.column) : null;
  if (nw && nwTable && nwColumn) await checkNarrowing(conn, step, { ...nw, table: nwTable, column: nwColumn }, inTransaction, nw);
  const se = matchNames(SET_ENUM, sql, [1, 2, 3]);
  const values = se ? enums.get(bare(se[3]!)) : undefined;
  const seTable = se ? now.tableRef(se[1]!) : null;
  const seColumn = se ? now.columnRef(se[1]!, se[2]!) : null;
  if (se && values && seTable && seColumn) {
    const n = await count(conn, step, `values of ${bare(se[1]!)}.${bare(se[2]!)} outside enum ${bare(se[3]!)}`, `SELECT count(*) AS n FROM ${seTable} WHERE ${seColumn} IS NOT NULL AND NOT (${seColumn}::text = ANY(${conn.param(1)}))`, [values], inTransaction);
    if (n > 0) {
      throw new Refused(
        `the down of ${step.revision.id} re-creates enum ${bare(se[3]!)} without values that ${n} row(s) of ${bare(se[1]!)}.${bare(se[2]!)} still use; change those rows or edit the down file, nothing was changed`,
      );
    }
  }
}

/**
 * A down that narrows a column within a lossy family (the up widened it: varchar(5) to varchar(50),
 * numeric(10,0) to numeric(10,4), integer to numeric): PostgreSQL's cast would cut or round the values
 * that do not fit and the down would report success (was: `reverted`, exit 0, text cut to 5 characters).
 * The rows whose value does not come back unchanged from the new type to the column's type today are
 * counted; any refuses the run. So are casts across families ('007' back to integer is 7).
 */
async function checkNarrowing(conn: Connection, step: PreparedStep, nw: { table: string; column: string; type: string }, inTransaction: boolean, written = nw): Promise<void> {
  const what = `values of ${bare(written.table)}.${bare(written.column)} that ${nw.type} would change`;
  await conn.readyToTranslate?.([nw.table]);
  // inside the run's transaction, in a savepoint: a lookup that fails must not abort it
  if (inTransaction) await conn.execute(`SAVEPOINT ${SAVEPOINT}`);
  const typed = await conn
    .query<{ t: string | null }>(
      'SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) AS t FROM pg_catalog.pg_attribute a WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped',
      [conn.translate(nw.table), nw.column.slice(1, -1).replace(/""/g, '"')],
    )
    .catch(async (err: unknown) => {
      if (conn.lostConnection(err)) throw err;
      if (inTransaction) await conn.execute(`ROLLBACK TO ${SAVEPOINT}`);
      return [];
    });
  if (inTransaction) await conn.execute(`RELEASE ${SAVEPOINT}`);
  const today = typed[0]?.t;
  if (!today) return;
  // Across families too (a hunt: text back to integer made '007' 7 and ' 42 ' 42, text to boolean 'yes'
  // true, "reverted"): a value the cast refuses fails the count, which then reads none, and the down's own
  // statement fails the same way, rolled back.
  const counted = (text: string) => `SELECT count(*) AS n FROM ${nw.table} WHERE ${nw.column}${text} IS DISTINCT FROM CAST(CAST(${nw.column} AS ${nw.type}) AS ${today})${text}`;
  if (jsonToJsonb(today, nw.type)) {
    const n = await count(conn, step, what, `SELECT count(*) AS n FROM ${nw.table} WHERE ${duplicateKeys(nw.column)}`, [], inTransaction);
    if (n > 0) throw changesValues(step, `${bare(written.table)}.${bare(written.column)}`, today, nw.type, `would drop a key written twice from the values of ${n} row(s) (jsonb keeps one of each)`, 'a USING of your own');
    return;
  }
  let result = await countOr(conn, step, what, counted(''), [], inTransaction);
  // a type without an equality operator (xml, point; json but for jsonb, above): compared as text, which
  // such a type keeps as written (a hunt: json's count failed, read as no rows, exit 0)
  if (typeof result !== 'number' && codeOf(result.failed) === '42883') result = await countOr(conn, step, what, counted('::text'), [], inTransaction);
  if (typeof result !== 'number' && codeOf(result.failed) === '42601') {
    // the type change as sluice read it does not parse (a form of ALTER it does not take apart): not
    // counted, so not run (was: read as no rows)
    throw new Refused(
      `the down of ${step.revision.id} changes ${bare(written.table)}.${bare(written.column)} from ${today} to ${nw.type}, and sluice cannot count the rows that cast would change (${describeCause(result.failed)}); nothing was changed; write that type change as an ALTER TABLE of its own, or give it a USING of your own`,
      { cause: result.failed },
    );
  }
  const n = typeof result === 'number' ? result : 0;
  const effect = familyOf(today) >= 0 && familyOf(today) === familyOf(nw.type) ? 'would cut or round the values' : 'would change the values';
  if (n > 0) throw changesValues(step, `${bare(written.table)}.${bare(written.column)}`, today, nw.type, `${effect} of ${n} row(s)`, 'a USING of your own');
}

/**
 * A SQLite down that rebuilds a table (drizzle-kit's `__new_<table>` copy) whose copy would change
 * values it stores under a column's new type ('007' to 7 going back from text to integer): was
 * `reverted`, exit 0. The rows are counted as checkNarrowing counts them; any refuses the run.
 */
async function checkCopy(step: PreparedStep, copy: TableCopy, now: NowNames): Promise<void> {
  const [c] = await copy.changes(now);
  if (!c) return;
  const column = `${c.table}.${c.column}${c.target.toLowerCase() === c.column.toLowerCase() ? '' : ` (copied into ${c.target})`}`;
  const type = (t: string) => t || 'no declared type';
  throw changesValues(step, column, type(c.from), type(c.to), `would change the values of ${c.rows} row(s) as SQLite copies them (text that reads as a number becomes that number)`, 'a conversion of your own in its INSERT … SELECT');
}

/** The refusal of a down whose type change would change values (checkNarrowing, checkCopy): what it does, and what the user may do. */
function changesValues(step: PreparedStep, column: string, from: string, to: string, effect: string, own: string): Refused {
  return new Refused(
    `the down of ${step.revision.id} changes ${column} from ${from} to ${to}, which ${effect}; change those rows, or edit the down file (an UPDATE before it, or ${own}, says what becomes of them), nothing was changed`,
  );
}
