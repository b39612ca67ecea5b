/**
 * What one statement does to tables (migrate-lint's rules, and prepare.ts), read from the real
 * parsers' trees (sqlparse.ts loads them): the table it creates, the tables and columns it drops, the
 * rows it writes or empties, what a DROP … CASCADE takes with it.
 */
import type { DialectName } from './config.js';
import { pgParser, sqliteParser } from './parsers.js';
import type { PgRawStmt } from './sqlparse.js';

export interface StatementChange {
  createsTable?: string;
  /** SQLite CREATE TABLE: the columns it defines. */
  createsColumns?: string[];
  dropsTables: string[];
  dropsColumns: { table: string; column: string }[];
  /** INSERT INTO <table> (<columns>) ...: the columns listed (empty when none are); SQLite: `from`, the one table its SELECT reads, when it reads one. */
  insertsInto?: { table: string; columns: string[]; from?: string };
  /** PostgreSQL INSERT / UPDATE / DELETE: the table whose rows it writes, with its schema when named. */
  writesRows?: { schema?: string; table: string };
  /** DELETE without WHERE, TRUNCATE: the tables it empties. */
  emptiesTables?: { tables: string[]; how: 'DELETE without WHERE' | 'DELETE whose WHERE is always true' | 'TRUNCATE' };
  /** PostgreSQL DROP OWNED BY: the roles whose objects (tables, with their rows, in every schema) it drops. */
  dropsOwned?: string[];
  /** A DROP … CASCADE (PostgreSQL): what it drops, and what of. */
  dropsCascade?: { kind: string; names: string[] };
  /** SQLite CREATE TRIGGER: its name and table (a table rebuild drops a table's triggers with it). */
  createsTrigger?: { name: string; table: string };
  /** SQLite DROP TRIGGER: its name. */
  dropsTrigger?: string;
  /** SQLite ALTER TABLE … RENAME TO: the table's triggers follow it. */
  renamesTable?: { from: string; to: string };
}

/**
 * What one statement (a SqlStatement's text) creates, drops or fills, read from the
 * parser's tree; names are unqualified. Text the parser cannot read changes nothing.
 */
export function statementChange(text: string, dialect: DialectName): StatementChange {
  const change: StatementChange = { dropsTables: [], dropsColumns: [] };
  try {
    if (dialect === 'postgresql') pgChange(text, change);
    else sqliteChange(text, change);
  } catch {
    /* not one readable statement: nothing to report */
  }
  return change;
}

/** The parsers' JSON trees, read defensively (every step may be missing). */
type Tree = any;

function pgChange(text: string, c: StatementChange): void {
  const stmt: Tree = (pgParser().parseSync(text) as { stmts?: PgRawStmt[] }).stmts?.[0]?.stmt ?? {};
  const last = (names: Tree[] | undefined): string => String(names?.at(-1)?.String?.sval ?? '');
  if (stmt.CreateStmt) c.createsTable = stmt.CreateStmt.relation?.relname;
  if (stmt.DropStmt?.removeType === 'OBJECT_TABLE') c.dropsTables = (stmt.DropStmt.objects ?? []).map((o: Tree) => last(o.List?.items));
  if (stmt.AlterTableStmt?.objtype === 'OBJECT_TABLE') {
    const table = String(stmt.AlterTableStmt.relation?.relname ?? '');
    for (const cmd of stmt.AlterTableStmt.cmds ?? []) if (cmd.AlterTableCmd?.subtype === 'AT_DropColumn') c.dropsColumns.push({ table, column: String(cmd.AlterTableCmd.name) });
  }
  if (stmt.InsertStmt) c.insertsInto = { table: String(stmt.InsertStmt.relation?.relname ?? ''), columns: (stmt.InsertStmt.cols ?? []).map((t: Tree) => String(t.ResTarget?.name)) };
  const relation = (stmt.InsertStmt ?? stmt.UpdateStmt ?? stmt.DeleteStmt)?.relation;
  if (relation?.relname) c.writesRows = { table: String(relation.relname), ...(relation.schemaname ? { schema: String(relation.schemaname) } : {}) };
  // a DELETE of every row: no WHERE, or one that is always true (`WHERE true`, `WHERE 1 = 1`), also as a
  // data-modifying WITH query (`WITH d AS (DELETE FROM t RETURNING *) SELECT …`)
  const top = stmt.SelectStmt ?? stmt.InsertStmt ?? stmt.UpdateStmt ?? stmt.DeleteStmt;
  for (const del of [stmt.DeleteStmt, ...(top?.withClause?.ctes ?? []).map((w: Tree) => w.CommonTableExpr?.ctequery?.DeleteStmt)]) {
    if (!del?.relation?.relname || (del.whereClause && !pgAlwaysTrue(del.whereClause))) continue;
    const how = del.whereClause ? 'DELETE whose WHERE is always true' : 'DELETE without WHERE';
    c.emptiesTables = { tables: [...(c.emptiesTables?.tables ?? []), String(del.relation.relname)], how: c.emptiesTables?.how ?? how };
  }
  if (stmt.DropOwnedStmt) c.dropsOwned = (stmt.DropOwnedStmt.roles ?? []).map((r: Tree) => String(r.RoleSpec?.rolename ?? r.RoleSpec?.roletype ?? ''));
  if (stmt.TruncateStmt) c.emptiesTables = { tables: (stmt.TruncateStmt.relations ?? []).map((r: Tree) => String(r.RangeVar?.relname ?? '')), how: 'TRUNCATE' };
  // CASCADE of what others can depend on: not a table (drop-table reports it), nor what nothing depends
  // on (drizzle-kit writes DROP POLICY … CASCADE for every policy it removes). An index is reported: a
  // foreign key can stand on a unique one, and goes with it.
  const quiet = ['OBJECT_TABLE', 'OBJECT_POLICY', 'OBJECT_TRIGGER', 'OBJECT_RULE'];
  if (stmt.DropStmt?.behavior === 'DROP_CASCADE' && !quiet.includes(stmt.DropStmt.removeType)) {
    const kind = String(stmt.DropStmt.removeType ?? 'OBJECT').replace(/^OBJECT_/, '').toLowerCase().replace(/_/g, ' ');
    const names = (stmt.DropStmt.objects ?? []).map((o: Tree) =>
      o.String?.sval !== undefined ? String(o.String.sval) : o.TypeName ? last(o.TypeName.names) : o.ObjectWithArgs ? last(o.ObjectWithArgs.objname) : last(o.List?.items),
    );
    c.dropsCascade = { kind, names };
  }
}

/** A WHERE clause that holds for every row: `true`, or `=` between two equal constants (`1 = 1`). */
function pgAlwaysTrue(where: Tree): boolean {
  if (where.A_Const) return where.A_Const.boolval?.boolval === true;
  const e = where.A_Expr;
  if (e?.kind !== 'AEXPR_OP' || e.name?.length !== 1 || e.name[0]?.String?.sval !== '=' || !e.lexpr?.A_Const || !e.rexpr?.A_Const) return false;
  const value = (k: Tree) => JSON.stringify({ ...k.A_Const, location: undefined });
  return value(e.lexpr) === value(e.rexpr);
}

/** SQLite: `true`, a non-zero number, or `=` / `==` / `IS` between two equal literals. */
function sqliteAlwaysTrue(expr: Tree): boolean {
  if (expr?.type === 'boolean_literal') return expr.value === true;
  if (expr?.type === 'number_literal') return Number(expr.value) !== 0;
  if (expr?.type !== 'binary_expr' || !['=', '==', 'IS'].includes(String(expr.operator).toUpperCase())) return false;
  const literal = (x: Tree) => /_literal$/.test(String(x?.type)) && x.type !== 'null_literal';
  return literal(expr.left) && literal(expr.right) && expr.left.type === expr.right.type && String(expr.left.value ?? expr.left.text) === String(expr.right.value ?? expr.right.text);
}

function sqliteChange(text: string, c: StatementChange): void {
  const { parse } = sqliteParser();
  const stmt: Tree = (parse(text, { dialect: 'sqlite' }) as Tree).statements?.[0] ?? {};
  const name = (n: Tree): string => String(n?.type === 'member_expr' ? n.property?.name : n?.name ?? '');
  if (stmt.type === 'create_table_stmt') {
    c.createsTable = name(stmt.name);
    c.createsColumns = (stmt.columns?.expr?.items ?? []).filter((k: Tree) => k?.type === 'column_definition').map((k: Tree) => name(k.name));
  }
  if (stmt.type === 'drop_table_stmt') c.dropsTables = (stmt.tables?.items ?? []).map(name);
  if (stmt.type === 'alter_table_stmt') {
    const table = name(stmt.table);
    for (const a of stmt.actions?.items ?? []) {
      if (a.type === 'alter_action_drop_column') c.dropsColumns.push({ table, column: name(a.column) });
    }
  }
  if (stmt.type === 'create_trigger_stmt') c.createsTrigger = { name: name(stmt.name), table: name(stmt.target?.table) };
  if (stmt.type === 'drop_trigger_stmt') c.dropsTrigger = name(stmt.trigger);
  if (stmt.type === 'alter_table_stmt') {
    const rename = (stmt.actions?.items ?? []).find((a: Tree) => a.type === 'alter_action_rename');
    if (rename) c.renamesTable = { from: name(stmt.table), to: name(rename.newName) };
  }
  const insert = stmt.type === 'insert_stmt' ? stmt.clauses?.find((k: Tree) => k.type === 'insert_clause') : undefined;
  if (insert) {
    c.insertsInto = { table: name(insert.table), columns: (insert.columns?.expr?.items ?? []).map(name) };
    const select = stmt.clauses?.find((k: Tree) => k.type === 'select_stmt');
    const from = select?.clauses?.find((k: Tree) => k.type === 'from_clause')?.expr;
    const source = from?.type === 'alias' ? from.expr : from;
    if (source?.type === 'identifier' || source?.type === 'member_expr') c.insertsInto.from = name(source);
  }
  const where = stmt.type === 'delete_stmt' ? (stmt.clauses ?? []).find((k: Tree) => k.type === 'where_clause') : undefined;
  if (stmt.type === 'delete_stmt' && (!where || sqliteAlwaysTrue(where.expr))) {
    const from = (stmt.clauses ?? []).find((k: Tree) => k.type === 'delete_clause');
    if (from) c.emptiesTables = { tables: (from.tables?.items ?? [from.table]).filter(Boolean).map((t: Tree) => name(t?.type === 'alias' ? t.expr : t)), how: where ? 'DELETE whose WHERE is always true' : 'DELETE without WHERE' };
  }
}
