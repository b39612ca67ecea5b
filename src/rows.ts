/**
 * Synthetic rows for the down verification: one row in every empty table where the constraints
 * allow it (values chosen from each column's type; foreign keys point at the parent's row, so
 * parents are filled first), and row counts to see whether a down loses rows in tables it keeps.
 * Each insert runs in its own savepoint: a table that refuses a row (a CHECK, a self-reference) is
 * named with the database's reason instead of failing the verification. Values are literals of
 * fixed, harmless shapes; identifiers are always quoted.
 */
import type { Connection } from './dialect/types.js';
import { describeCause } from './errors.js';
import { BOOKKEEPING } from './introspect.js';
import { quoteIdent, quoteLiteral } from './sql.js';

interface ColumnInfo {
  table: string;
  column: string;
  needed: boolean;
  value: string | null;
}

interface ForeignKeyInfo {
  table: string;
  column: string;
  ref: string;
  refColumn: string;
}

/**
 * A synthetic row's insert ended the whole transaction, savepoints included (SQLite: a trigger's
 * `RAISE(ROLLBACK)`). The caller is back where its transaction began and may begin again without `table`.
 */
export class RowsTransactionLost extends Error {
  constructor(
    readonly table: string,
    readonly reason: string,
  ) {
    super(`a synthetic row in ${table} ended the transaction: ${reason}`);
  }
}

export interface RowsResult {
  /** Tables that got a synthetic row. */
  filled: string[];
  /** Tables that could not get one, with the reason. */
  refused: { table: string; reason: string }[];
  /** Each table's rows before the synthetic ones. */
  counts: Map<string, number>;
}

// A table of another schema than the run's (`$1`) is named `[schema] name` (introspect's tag); `$3`: the schemas read.
const tagged = (ns: string, rel: string) => `CASE WHEN ${ns}.nspname = $1 THEN ${rel}.relname ELSE '[' || ${ns}.nspname || '] ' || ${rel}.relname END`;

const PG_COLUMNS = `
SELECT ${tagged('n', 'c')} AS "table", a.attname AS "column",
  (a.attnotnull AND d.adbin IS NULL AND a.attidentity = '' AND a.attgenerated = '') AS needed,
  CASE
    WHEN t.typtype = 'e' THEN quote_literal((SELECT e.enumlabel FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder LIMIT 1)) || '::' || pg_catalog.format_type(a.atttypid, a.atttypmod)
    WHEN t.typcategory = 'A' THEN '''{}''::' || pg_catalog.format_type(a.atttypid, a.atttypmod)
    WHEN t.typcategory = 'N' THEN '1::' || pg_catalog.format_type(a.atttypid, a.atttypmod)
    WHEN t.typcategory = 'S' THEN '''s''::' || pg_catalog.format_type(a.atttypid, a.atttypmod)
    WHEN t.typcategory = 'B' THEN 'true'
    WHEN t.typcategory = 'D' THEN 'now()::' || pg_catalog.format_type(a.atttypid, a.atttypmod)
    WHEN t.typcategory = 'T' THEN '''1 day''::interval'
    WHEN t.typcategory = 'I' THEN '''127.0.0.1''::' || pg_catalog.format_type(a.atttypid, a.atttypmod)
    WHEN t.typcategory = 'V' THEN 'B''0''::' || pg_catalog.format_type(a.atttypid, a.atttypmod)
    WHEN t.typname IN ('uuid') OR bt.typname = 'uuid' THEN '''00000000-0000-4000-8000-000000000001''::' || pg_catalog.format_type(a.atttypid, a.atttypmod)
    WHEN t.typname IN ('json', 'jsonb') OR bt.typname IN ('json', 'jsonb') THEN '''{}''::' || pg_catalog.format_type(a.atttypid, a.atttypmod)
    WHEN t.typname = 'bytea' THEN '''\\x00''::bytea'
    ELSE NULL
  END AS value
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = ANY($3::text[]) AND c.relkind IN ('r', 'p') AND NOT (c.relname = ANY($2::text[]))
ORDER BY c.relname, a.attnum`;

const PG_FOREIGN_KEYS = `
SELECT ${tagged('n', 'c')} AS "table", a.attname AS "column", ${tagged('rn', 'r')} AS ref, ra.attname AS "refColumn"
FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_class r ON r.oid = k.confrelid
JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
CROSS JOIN LATERAL unnest(k.conkey, k.confkey) AS u(col, refcol)
JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.col
JOIN pg_catalog.pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = u.refcol
WHERE k.contype = 'f' AND n.nspname = ANY($2::text[])`;


async function describe(conn: Connection, schema: string, tables: string[], others: readonly string[]): Promise<{ columns: ColumnInfo[]; fks: ForeignKeyInfo[] }> {
  if (conn.dialect === 'postgresql') {
    const schemas = [schema, ...others];
    const columns = await conn.query<ColumnInfo>(PG_COLUMNS, [schema, BOOKKEEPING, schemas]);
    const fks = await conn.query<ForeignKeyInfo>(PG_FOREIGN_KEYS, [schema, schemas]);
    return { columns, fks };
  }
  const columns: ColumnInfo[] = [];
  const fks: ForeignKeyInfo[] = [];
  for (const table of tables) {
    const cols = await conn.query<{ name: string; type: string; notnull: number; dflt_value: string | null; pk: number; hidden: number }>(
      `SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(${quoteLiteral(table)})`,
    );
    const rowidAlias = cols.filter((c) => c.pk > 0).length === 1 && cols.some((c) => c.pk > 0 && /^integer$/i.test(c.type.trim()));
    for (const c of cols) {
      if (c.hidden) continue;
      const needed = (!!c.notnull || (c.pk > 0 && !rowidAlias)) && c.dflt_value === null;
      columns.push({ table, column: c.name, needed, value: sqliteValue(c.type) });
    }
    const list = await conn.query<{ table: string; from: string; to: string | null }>(`SELECT "table", "from", "to" FROM pragma_foreign_key_list(${quoteLiteral(table)})`);
    for (const f of list) {
      let to = f.to;
      if (!to) to = (await conn.query<{ name: string }>(`SELECT name FROM pragma_table_info(${quoteLiteral(f.table)}) WHERE pk = 1`))[0]?.name ?? 'rowid';
      fks.push({ table, column: f.from, ref: f.table, refColumn: to });
    }
  }
  return { columns, fks };
}

/** A value of SQLite's type affinity for a declared type (SQLite's own rules, section 3.1 of its datatype page). */
function sqliteValue(type: string): string {
  const t = type.toUpperCase();
  if (t.includes('INT')) return '1';
  if (/CHAR|CLOB|TEXT/.test(t)) return "'s'";
  if (t === '' || t.includes('BLOB')) return "x'00'";
  if (/REAL|FLOA|DOUB/.test(t)) return '1.0';
  return '1';
}

/** Parents before children (a cycle keeps its given order). */
function parentsFirst(tables: string[], fks: ForeignKeyInfo[]): string[] {
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: string) => {
    if (state.get(t)) return;
    state.set(t, 'visiting');
    for (const f of fks) if (f.table === t && f.ref !== t && tables.includes(f.ref)) visit(f.ref);
    state.set(t, 'done');
    out.push(t);
  };
  tables.forEach(visit);
  return out;
}

/**
 * A table as the proofs name it, quoted for SQL: `name` in the run's schema, `[schema] name` (PostgreSQL,
 * introspect's tag) in another schema the history names (drizzle's pgSchema).
 */
export function tableSql(conn: Connection, table: string): string {
  const at = conn.dialect === 'postgresql' && table.startsWith('[') ? table.indexOf('] ') : -1;
  return at > 0 ? `${quoteIdent(table.slice(1, at))}.${quoteIdent(table.slice(at + 2))}` : quoteIdent(table);
}

/**
 * One row in each of `tables` that has none, and in those `fillAlso` names by their rows (the proofs:
 * a table its up inserted rows into). Runs inside the caller's transaction. `others` (PostgreSQL): the
 * other schemas read, whose tables `tables` names as `[schema] name`.
 */
export async function insertSyntheticRows(conn: Connection, schema: string, tables: string[], others: readonly string[] = [], fillAlso?: (table: string, rows: number) => boolean): Promise<RowsResult> {
  const counts = await countRows(conn, tables);
  const result: RowsResult = { filled: [], refused: [], counts };
  const empty = tables.filter((t) => counts.get(t) === 0 || !!fillAlso?.(t, counts.get(t) ?? 0));
  if (!empty.length) return result;
  const { columns, fks } = await describe(conn, schema, empty, others);
  // Each table's row with its NOT NULL columns filled, and its nullable foreign-key columns pointing at
  // the parent's row too (drizzle's .references() makes them nullable; a row left NULL there would let a
  // down that deletes children by cascade look as if it kept them). A row refused that way is tried
  // again with the NOT NULL columns alone.
  const inserts: { table: string; sql: string; plain?: string }[] = [];
  for (const table of parentsFirst(empty, fks)) {
    const row = (withNullableKeys: boolean) => {
      const names: string[] = [];
      const values: string[] = [];
      let missing: string | undefined;
      for (const c of columns.filter((x) => x.table === table)) {
        const fk = fks.find((f) => f.table === table && f.column === c.column);
        if (!c.needed && !(withNullableKeys && fk && fk.ref !== table)) continue;
        names.push(quoteIdent(c.column));
        if (fk) values.push(`(SELECT ${quoteIdent(fk.refColumn)} FROM ${tableSql(conn, fk.ref)} LIMIT 1)`);
        else if (c.value !== null) values.push(c.value);
        else missing ??= c.column;
      }
      const sql = names.length ? `INSERT INTO ${tableSql(conn, table)} (${names.join(', ')}) VALUES (${values.join(', ')})` : `INSERT INTO ${tableSql(conn, table)} DEFAULT VALUES`;
      return { sql, missing };
    };
    const full = row(true);
    if (full.missing) {
      result.refused.push({ table, reason: `no value sluice can make up for column ${full.missing}'s type` });
      continue;
    }
    const plain = row(false).sql;
    inserts.push({ table, sql: full.sql, ...(plain !== full.sql ? { plain } : {}) });
  }
  // a row refused with its nullable keys filled is tried again at once without them, before its
  // children are (they point at it)
  const outcomes = conn.dialect === 'postgresql' ? await tryAllPostgres(conn, inserts) : await tryEach(conn, inserts);
  inserts.forEach((ins, k) => {
    const error = outcomes[k];
    if (error) result.refused.push({ table: ins.table, reason: error.split('\n')[0]! });
    else result.filled.push(ins.table);
  });
  return result;
}

/** Each insert (then its `plain` form, when the first is refused) in its own savepoint (SQLite: in-process, so cheap). Returns the error of each, or null. */
async function tryEach(conn: Connection, inserts: { table: string; sql: string; plain?: string }[]): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (const ins of inserts) {
    let error: string | null = null;
    for (const sql of ins.plain ? [ins.sql, ins.plain] : [ins.sql]) {
      await conn.execute('SAVEPOINT sluice_row');
      try {
        await conn.execute(sql);
        error = null;
      } catch (err) {
        if (conn.transactionOpen?.() === false) throw new RowsTransactionLost(ins.table, describeCause(err).split('\n')[0]!);
        await conn.execute('ROLLBACK TO SAVEPOINT sluice_row');
        error = describeCause(err);
      }
      await conn.execute('RELEASE SAVEPOINT sluice_row');
      if (error === null) break;
    }
    out.push(error);
  }
  return out;
}

/**
 * PostgreSQL: every insert in one round trip, in order, each in its own subtransaction, through a
 * session-local function (pg_temp, gone with the connection; the inserts are sluice's own, built above).
 */
async function tryAllPostgres(conn: Connection, inserts: { sql: string; plain?: string }[]): Promise<(string | null)[]> {
  if (!inserts.length) return [];
  await conn.execute(
    `CREATE OR REPLACE FUNCTION pg_temp.sluice_try(statement text, plain text) RETURNS text LANGUAGE plpgsql AS $sluice$ BEGIN EXECUTE statement; RETURN NULL; EXCEPTION WHEN OTHERS THEN IF plain IS NULL THEN RETURN SQLERRM; END IF; BEGIN EXECUTE plain; RETURN NULL; EXCEPTION WHEN OTHERS THEN RETURN SQLERRM; END; END $sluice$`,
  );
  const rows = await conn.query<{ i: number | string; error: string | null }>(
    'SELECT i, pg_temp.sluice_try(s, f) AS error FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(s, f, i) ORDER BY i',
    [inserts.map((x) => x.sql), inserts.map((x) => x.plain ?? null)],
  );
  return rows.map((r) => r.error);
}

/** Rows in each table (one round trip); a table of another schema named `[schema] name` (tableSql). */
export async function countRows(conn: Connection, tables: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < tables.length; i += 200) {
    const part = tables.slice(i, i + 200);
    const sql = part.map((t) => `SELECT ${quoteLiteral(t)} AS t, count(*) AS n FROM ${tableSql(conn, t)}`).join(' UNION ALL ');
    for (const r of await conn.query<{ t: string; n: number | string }>(sql)) counts.set(r.t, Number(r.n));
  }
  return counts;
}
