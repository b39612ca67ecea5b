/**
 * A database's schema as sorted lines of structure, read from the catalogs (no pg_dump, so it works
 * the same on any server version and on the embedded engine). What the down verification compares:
 * tables; columns with their types, defaults, nullability, identity and generation; constraints;
 * indexes; enums with their value order; sequences; views; functions, triggers, policies and
 * extensions. Column order is not compared (a column re-added by a down comes last). sluice's version
 * table and drizzle's migrator table are bookkeeping, not schema. The schema's own name reads as `$`.
 * PostgreSQL: the other schemas a history names (drizzle's pgSchema) are read too when asked, each of
 * their lines tagged `[name] ` (so `[billing] table t` and `table t` differ, and what reads the run's
 * own lines, such as the rows check's tables, leaves them alone).
 */
import type { Connection } from './dialect/types.js';
import { sqliteIndexExtras, sqliteTableExtras } from './sqliteshape.js';
import { DRIZZLE_TABLE, VERSION_TABLE } from './store.js';

/** Bookkeeping tables, not schema: sluice's version table and drizzle's migrator table. */
export const BOOKKEEPING = [VERSION_TABLE, DRIZZLE_TABLE];

/**
 * Sorted lines describing the schema sluice's connection is scoped to. `standsFor` (PostgreSQL): the
 * schema a scratch schema replays (drift compares the two): its name is read as the schema's own too.
 * `others` (PostgreSQL): schemas read besides it, by their real names (otherSchemasOf: the ones the
 * history names; a history naming them is replayed in a database of its own, where they keep them).
 */
export async function introspect(conn: Connection, schema?: string, standsFor?: string, others: readonly string[] = []): Promise<string[]> {
  const lines = conn.dialect === 'postgresql' ? await postgresLines(conn, schema ?? 'public', standsFor, others) : await sqliteLines(conn);
  return lines.sort();
}

/** A line of introspect's without the `[schema] ` tag of another schema's lines. */
export function untagged(line: string): string {
  return line.startsWith('[') ? line.slice(line.indexOf('] ') + 2) : line;
}

/** Lines only in `expected` (`- `) or only in `actual` (`+ `), each once. */
export function schemaDiff(expected: string[], actual: string[]): string[] {
  const a = new Set(expected);
  const b = new Set(actual);
  return [...[...a].filter((l) => !b.has(l)).map((l) => `- ${l}`), ...[...b].filter((l) => !a.has(l)).map((l) => `+ ${l}`)];
}

/**
 * The schema's table names only (cheaper than introspect); with `others` (PostgreSQL), theirs too,
 * each as `[schema] name` (introspect's tag: tablesWithOthersIn, rows.ts tableSql).
 */
export async function listTables(conn: Connection, schema?: string, others: readonly string[] = []): Promise<string[]> {
  const own = schema ?? 'public';
  const rows =
    conn.dialect === 'postgresql'
      ? await conn.query<{ t: string }>(
          "SELECT CASE WHEN schemaname = $1 THEN tablename ELSE '[' || schemaname || '] ' || tablename END AS t FROM pg_catalog.pg_tables WHERE schemaname = ANY($3::text[]) AND NOT (tablename = ANY($2::text[]))",
          [own, BOOKKEEPING, [own, ...others]],
        )
      : (await conn.query<{ t: string }>("SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")).filter((r) => !BOOKKEEPING.includes(r.t));
  return rows.map((r) => r.t);
}

/**
 * Table names in a schema description: its `table` lines without what follows the name (PostgreSQL's
 * ` partitioned`, SQLite's ` without rowid` and ` strict`; a table whose name itself ends so is misread).
 */
export function tablesIn(lines: string[]): string[] {
  return lines.filter((l) => l.startsWith('table ')).map((l) => l.slice('table '.length).replace(TABLE_KIND, ''));
}
const TABLE_KIND = / (?:partitioned|without rowid(?: strict)?|strict)$/;

/** tablesIn, and the tables of the other schemas read (`[schema] table` lines), each as `[schema] name`. */
export function tablesWithOthersIn(lines: string[]): string[] {
  const others = lines.filter((l) => l.startsWith('[') && untagged(l).startsWith('table ')).map((l) => `${l.slice(0, l.indexOf('] ') + 2)}${untagged(l).slice('table '.length).replace(TABLE_KIND, '')}`);
  return [...tablesIn(lines), ...others];
}

// One round trip; every object of the schema except extension members. `$1` is the schema.
const PG_SCHEMA_SQL = `
WITH ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1),
rel AS (
  SELECT c.oid, c.relname, c.relkind FROM pg_catalog.pg_class c
  WHERE c.relnamespace = (SELECT oid FROM ns) AND NOT (c.relname = ANY($2::text[]))
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
)
SELECT line FROM (
  SELECT 'table ' || relname || CASE relkind WHEN 'p' THEN ' partitioned' ELSE '' END AS line FROM rel WHERE relkind IN ('r', 'p')
  UNION ALL
  SELECT 'column ' || r.relname || '.' || a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
    || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
    || COALESCE(' default ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
    || CASE a.attidentity WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity by default' ELSE '' END
    || CASE a.attgenerated WHEN 's' THEN ' stored generated' ELSE '' END
    || COALESCE(' collate ' || NULLIF(co.collname, 'default'), '')
    || CASE WHEN a.attstattarget >= 0 THEN ' statistics ' || a.attstattarget ELSE '' END
  FROM rel r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
    AND a.attcollation <> (SELECT typcollation FROM pg_catalog.pg_type WHERE oid = a.atttypid)
  WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'constraint ' || r.relname || '.' || k.conname || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
  FROM pg_catalog.pg_constraint k JOIN rel r ON r.oid = k.conrelid
  UNION ALL
  SELECT 'index ' || i.relname || ' ' || pg_catalog.pg_get_indexdef(i.oid)
  FROM rel i JOIN pg_catalog.pg_index x ON x.indexrelid = i.oid
  WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conrelid = x.indrelid AND k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x'))
  UNION ALL
  SELECT 'enum ' || t.typname || ' (' || string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) || ')'
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
  WHERE t.typnamespace = (SELECT oid FROM ns) GROUP BY t.typname
  UNION ALL
  SELECT 'domain ' || t.typname || ' ' || pg_catalog.format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END
    || COALESCE(' default ' || t.typdefault, '')
  FROM pg_catalog.pg_type t WHERE t.typnamespace = (SELECT oid FROM ns) AND t.typtype = 'd'
  UNION ALL
  SELECT 'domain constraint ' || t.typname || '.' || k.conname || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
  FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_type t ON t.oid = k.contypid WHERE t.typnamespace = (SELECT oid FROM ns)
  UNION ALL
  SELECT 'type ' || t.typname || ' (' || string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) || ')'
  FROM pg_catalog.pg_type t JOIN rel c ON c.oid = t.typrelid AND c.relkind = 'c' JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  GROUP BY t.typname
  UNION ALL
  SELECT 'sequence ' || r.relname || ' ' || pg_catalog.format_type(s.seqtypid, NULL) || ' start ' || s.seqstart || ' increment ' || s.seqincrement
    || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END
  FROM rel r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid
  UNION ALL
  SELECT CASE r.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END || r.relname || ' ' || regexp_replace(pg_catalog.pg_get_viewdef(r.oid), '\\s+', ' ', 'g')
    || COALESCE(' with ' || array_to_string(c.reloptions, ', '), '')
  FROM rel r JOIN pg_catalog.pg_class c ON c.oid = r.oid WHERE r.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'function ' || p.proname || '(' || pg_catalog.pg_get_function_arguments(p.oid) || ') ' || md5(p.prosrc)
    || COALESCE(' returns ' || pg_catalog.pg_get_function_result(p.oid), '') || ' ' || p.provolatile::text || CASE WHEN p.proisstrict THEN ' strict' ELSE '' END
    || CASE WHEN p.prosecdef THEN ' security definer' ELSE '' END || COALESCE(' set ' || array_to_string(p.proconfig, ' | '), '')
  FROM pg_catalog.pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns) AND p.prokind IN ('f', 'p', 'w')
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e')
  UNION ALL
  SELECT 'aggregate ' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ') ' || a.aggtransfn::text || ' ' || pg_catalog.format_type(a.aggtranstype, NULL)
    || COALESCE(' init ' || a.agginitval, '') || CASE WHEN a.aggfinalfn <> 0 THEN ' final ' || a.aggfinalfn::text ELSE '' END
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid WHERE p.pronamespace = (SELECT oid FROM ns)
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e')
  UNION ALL
  SELECT 'rule ' || r.relname || '.' || w.rulename || ' ' || regexp_replace(pg_catalog.pg_get_ruledef(w.oid), '\\s+', ' ', 'g')
  FROM pg_catalog.pg_rewrite w JOIN rel r ON r.oid = w.ev_class WHERE w.rulename <> '_RETURN'
  UNION ALL
  SELECT 'statistics ' || x.stxname || ' ' || pg_catalog.pg_get_statisticsobjdef(x.oid)
  FROM pg_catalog.pg_statistic_ext x WHERE x.stxnamespace = (SELECT oid FROM ns)
  UNION ALL
  SELECT 'trigger ' || r.relname || '.' || t.tgname || ' ' || pg_catalog.pg_get_triggerdef(t.oid)
    || CASE t.tgenabled WHEN 'D' THEN ' disabled' WHEN 'R' THEN ' enabled replica' WHEN 'A' THEN ' enabled always' ELSE '' END
  FROM pg_catalog.pg_trigger t JOIN rel r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'internal triggers ' || r.relname || ' ' || string_agg(DISTINCT t.tgenabled::text, '')
  FROM pg_catalog.pg_trigger t JOIN rel r ON r.oid = t.tgrelid WHERE t.tgisinternal AND t.tgenabled <> 'O' GROUP BY r.relname
  UNION ALL
  SELECT 'policy ' || r.relname || '.' || p.polname || ' ' || p.polcmd::text || ' ' || p.polpermissive::text
    || COALESCE(' using ' || pg_catalog.pg_get_expr(p.polqual, p.polrelid), '') || COALESCE(' check ' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '')
    || ' to ' || (SELECT string_agg(q.n, ', ' ORDER BY q.n) FROM (SELECT CASE WHEN o = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(o)::text END AS n FROM unnest(p.polroles) o) q)
  FROM pg_catalog.pg_policy p JOIN rel r ON r.oid = p.polrelid
  UNION ALL
  SELECT 'row level security ' || c.relname || CASE WHEN c.relforcerowsecurity THEN ' forced' ELSE '' END FROM pg_catalog.pg_class c JOIN rel r ON r.oid = c.oid WHERE c.relrowsecurity OR c.relforcerowsecurity
  UNION ALL
  SELECT 'replica identity ' || c.relname || ' ' || c.relreplident::text FROM pg_catalog.pg_class c JOIN rel r ON r.oid = c.oid WHERE c.relreplident <> 'd' AND c.relkind IN ('r', 'p')
  UNION ALL
  SELECT 'options ' || c.relname || ' ' || array_to_string(c.reloptions, ', ') FROM pg_catalog.pg_class c JOIN rel r ON r.oid = c.oid WHERE c.reloptions IS NOT NULL AND c.relkind IN ('r', 'p', 'm')
  UNION ALL
  SELECT 'unlogged ' || c.relname FROM pg_catalog.pg_class c JOIN rel r ON r.oid = c.oid WHERE c.relpersistence = 'u' AND c.relkind IN ('r', 'p', 'S')
  UNION ALL
  SELECT 'extension ' || extname FROM pg_catalog.pg_extension WHERE extnamespace = (SELECT oid FROM ns)
) lines`;

// The same for several schemas in one round trip: `$1` their names, each line with its schema's.
const PG_SCHEMAS_SQL = `SELECT s.name AS schema, l.line FROM unnest($1::text[]) AS s(name) CROSS JOIN LATERAL (${PG_SCHEMA_SQL.replace('nspname = $1', 'nspname = s.name')}) l`;

async function postgresLines(conn: Connection, schema: string, standsFor: string | undefined, others: readonly string[]): Promise<string[]> {
  const names = [...new Set([schema, ...(standsFor ? [standsFor] : [])])];
  const more = [...new Set(others)].filter((o) => !names.includes(o));
  // (the common case, no other schema, keeps its one-schema query)
  const rows = more.length
    ? await conn.query<{ schema: string; line: string }>(PG_SCHEMAS_SQL, [[schema, ...more], BOOKKEEPING], 'sluice_introspect_schemas')
    : await conn.query<{ schema?: string; line: string }>(PG_SCHEMA_SQL, [schema, BOOKKEEPING], 'sluice_introspect');
  // The schema's own name, wherever the catalog printed it qualified (types, defaults, references).
  const own = (line: string) => names.reduce((l, n) => l.split(`"${n.replace(/"/g, '""')}".`).join('$.').split(`${n}.`).join('$.'), line);
  return rows.map((r) => {
    // a `table` line is the name as it is, nothing qualified: a table named "public.t2" under schema
    // public stays itself (was: `table $.t2`, which the rows check then queried, flagging its down)
    const line = r.line.startsWith('table ') ? r.line : r.line.startsWith('function ') ? ownSearchPath(own(r.line), names) : own(r.line);
    return r.schema === undefined || r.schema === schema ? line : `[${r.schema}] ${line}`;
  });
}

/**
 * A function line's settings (` set a=1 | search_path=x, y`): a search_path element naming one of
 * `names` (whole elements, unquoted) reads as `$`, as the schema does elsewhere.
 */
function ownSearchPath(line: string, names: string[]): string {
  const at = line.indexOf(' set ');
  if (at < 0) return line;
  const settings = line
    .slice(at + 5)
    .split(' | ')
    .map((kv) => {
      if (!kv.startsWith('search_path=')) return kv;
      const path = kv.slice('search_path='.length).split(',').map((e) => e.trim().replace(/^"(.*)"$/, '$1'));
      return `search_path=${path.map((e) => (names.includes(e) ? '$' : e)).join(', ')}`;
    });
  return `${line.slice(0, at)} set ${settings.join(' | ')}`;
}

// ---------------------------------------------------------------- SQLite

interface SqliteColumn {
  name: string;
  type: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
  hidden: number;
}

/** Rows grouped by a key, the groups in the order their keys first come, each in the rows' own order. */
function groupBy<T, K = string>(rows: readonly T[], keyOf: (row: T) => K): Map<K, T[]> {
  const map = new Map<K, T[]>();
  for (const r of rows) {
    const key = keyOf(r);
    const list = map.get(key);
    if (list) list.push(r);
    else map.set(key, [r]);
  }
  return map;
}
/** A per-table pragma's rows for every table, by table. */
const byTable = <T extends { tbl: string }>(rows: readonly T[]): Map<string, T[]> => groupBy(rows, (r) => r.tbl);

/**
 * Every table's columns, foreign keys, indexes and index columns, each pragma joined to the schema table
 * (four queries: it was three a table and one an index, for every state a proof or db-test compares:
 * ~1.9 s of a db-test of an 84-revision history here). Each pragma's rows keep its own order (cid; id
 * and seq; seq; seqno).
 */
async function sqlitePragmas(conn: Connection) {
  const TABLES = "FROM sqlite_master m, %s WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
  const from = (pragmas: string) => TABLES.replace('%s', pragmas);
  const [columns, fks, indexes, indexColumns] = await Promise.all([
    conn.query<SqliteColumn & { tbl: string }>(`SELECT m.name AS tbl, c.name, c.type, c."notnull", c.dflt_value, c.pk, c.hidden ${from('pragma_table_xinfo(m.name) c')} ORDER BY m.name, c.cid`),
    conn.query<{ tbl: string; id: number; seq: number; table: string; from: string; to: string | null; on_update: string; on_delete: string }>(
      `SELECT m.name AS tbl, f.id, f.seq, f."table", f."from", f."to", f.on_update, f.on_delete ${from('pragma_foreign_key_list(m.name) f')} ORDER BY m.name, f.id, f.seq`,
    ),
    conn.query<{ tbl: string; name: string; unique: number; origin: string; partial: number }>(`SELECT m.name AS tbl, il.name, il."unique", il.origin, il.partial ${from('pragma_index_list(m.name) il')} ORDER BY m.name, il.seq`),
    conn.query<{ tbl: string; ix: string; name: string | null; desc: number; coll: string }>(
      `SELECT m.name AS tbl, il.name AS ix, x.name, x."desc", x.coll ${from('pragma_index_list(m.name) il, pragma_index_xinfo(il.name) x')} AND x."key" = 1 ORDER BY m.name, il.seq, x.seqno`,
    ),
  ]);
  const ixCols = groupBy(indexColumns, (c) => `${c.tbl}\0${c.ix}`);
  return { columns: byTable(columns), fks: byTable(fks), indexes: byTable(indexes), indexColumns: (table: string, index: string) => ixCols.get(`${table}\0${index}`) ?? [] };
}

async function sqliteLines(conn: Connection): Promise<string[]> {
  const objects = await conn.query<{ type: string; name: string; tbl_name: string; sql: string | null }>(
    "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
  );
  const pragmas = await sqlitePragmas(conn);
  const lines: string[] = [];
  const sqlOf = new Map(objects.filter((o) => o.type === 'index').map((o) => [o.name, o.sql]));
  for (const o of objects) {
    if (BOOKKEEPING.includes(o.tbl_name)) continue;
    if (o.type === 'table') {
      lines.push(`table ${o.name}${/\bWITHOUT\s+ROWID\b/i.test(o.sql ?? '') ? ' without rowid' : ''}${/\bSTRICT\s*$/i.test(o.sql ?? '') ? ' strict' : ''}`);
      lines.push(...sqliteTableExtras(o.name, o.sql));
      for (const c of pragmas.columns.get(o.name) ?? []) {
        lines.push(
          `column ${o.name}.${c.name} ${c.type.toLowerCase().replace(/\s+/g, ' ')}${c.notnull ? ' not null' : ''}${c.dflt_value !== null ? ` default ${c.dflt_value}` : ''}${
            c.pk ? ` primary key ${c.pk}` : ''
          }${c.hidden === 2 || c.hidden === 3 ? ' generated' : ''}`,
        );
      }
      const byId = groupBy(pragmas.fks.get(o.name) ?? [], (f) => f.id);
      for (const group of byId.values()) {
        const f = group[0]!;
        lines.push(
          `foreign key ${o.name}(${group.map((g) => g.from).join(', ')}) references ${f.table}(${group.map((g) => g.to ?? '').join(', ')}) on update ${f.on_update.toLowerCase()} on delete ${f.on_delete.toLowerCase()}`,
        );
      }
      for (const ix of pragmas.indexes.get(o.name) ?? []) {
        const cols = pragmas.indexColumns(o.name, ix.name);
        const what = cols.map((c) => `${c.name ?? '<expr>'}${c.desc ? ' desc' : ''}${c.coll !== 'BINARY' ? ` collate ${c.coll}` : ''}`).join(', ');
        // Automatic indexes (UNIQUE / PRIMARY KEY constraints) are named by position: compare what they cover.
        const name = ix.origin === 'c' ? ix.name : ix.origin === 'pk' ? 'primary key' : 'unique constraint';
        const extras = ix.origin === 'c' ? sqliteIndexExtras(o.name, sqlOf.get(ix.name) ?? null) : '';
        lines.push(`index ${o.name}.${name}${ix.unique ? ' unique' : ''}${ix.partial ? ' partial' : ''} (${what})${extras}`);
      }
    } else if (o.type === 'view' || o.type === 'trigger') {
      lines.push(`${o.type} ${o.name} ${(o.sql ?? '').replace(/\s+/g, ' ').trim()}`);
    }
  }
  return lines;
}
