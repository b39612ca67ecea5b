/**
 * What SQLite's pragmas do not tell of a table or an index, read from its CREATE statement
 * (sqlite_master.sql) with the SQLite parser: CHECK constraints, column collations, an index's
 * expressions and its WHERE. Lines for the structure comparisons: the down proofs (introspect.ts) and
 * db-test's and drift's dump (dialect/sqlite.ts). Found by a hunt: a partial index made again with
 * another predicate, a CHECK dropped or a column given COLLATE NOCASE compared equal, so an empty down
 * was "verified" and drift said ok. Spacing, quoting and keyword case are not differences; a statement
 * the parser cannot read gives no line.
 */
import { sqliteParser } from './parsers.js';

/** Any: the parser's tree, read defensively. */
type Tree = any;

/**
 * An expression as compared: as written, outside string literals with quotes dropped, lower case, one
 * space between words and none around punctuation (so `a IN (1,2)` stays apart from a call `ain(1,2)`),
 * and `<table>.` dropped.
 */
function norm(expr: Tree, table: string): string {
  const text = String(sqliteParser().show(expr));
  const prefix = `${table.toLowerCase()}.`;
  return text
    .split(/('(?:[^']|'')*')/)
    .map((part, i) =>
      i % 2
        ? part
        : part
            .replace(/["`[\]]/g, '')
            .toLowerCase()
            .replace(/\s+/g, ' ')
            .replace(/\s*([(),.=<>!+\-*/|%~&])\s*/g, '$1')
            .split(prefix)
            .join(''),
    )
    .join('')
    .trim();
}

function parsed(sql: string | null): Tree | undefined {
  if (!sql) return undefined;
  try {
    return (sqliteParser().parse(sql, { dialect: 'sqlite', includeSpaces: true }) as Tree).statements?.[0];
  } catch {
    return undefined;
  }
}

/**
 * Read once per text: a comparison reads every state of a history, where the same CREATE statements come
 * back each time (db-test on a 94-revision history read each index thousands of times).
 */
const seen = new Map<string, unknown>();
function once<T>(key: string, read: () => T): T {
  if (seen.has(key)) return seen.get(key) as T;
  const value = read();
  if (seen.size > 20_000) seen.clear();
  seen.set(key, value);
  return value;
}

/**
 * A table's CHECK constraints (column and table ones, sorted), its columns' collations, generated
 * columns' expressions, AUTOINCREMENT and ON CONFLICT clauses (found by a hunt: a generated column made
 * again with another expression, or a UNIQUE given ON CONFLICT REPLACE, which deletes rows on insert,
 * compared equal: db-test passed a down that left them, and drift said ok).
 */
export function sqliteTableExtras(table: string, sql: string | null): string[] {
  if (!sql || !/\b(CHECK|COLLATE|AUTOINCREMENT|CONFLICT)\b|\bAS\s*\(/i.test(sql)) return [];
  return once(`t\0${table}\0${sql}`, () => tableExtras(table, sql));
}

function tableExtras(table: string, sql: string): string[] {
  const stmt = parsed(sql);
  const items: Tree[] = stmt?.type === 'create_table_stmt' ? (stmt.columns?.expr?.items ?? []) : [];
  const checks: string[] = [];
  const lines: string[] = [];
  const unwrap = (c: Tree) => (c?.type === 'constraint' ? c.constraint : c);
  const kind = (c: Tree) => String(c?.type ?? '').replace(/^constraint_/, '').replace(/_/g, ' ');
  const onConflict = (c: Tree, what: string) => {
    const clause = (c?.clauses ?? []).find((x: Tree) => x?.type === 'on_conflict_clause');
    if (clause) lines.push(`on conflict ${what} ${kind(c)} ${String(clause.resolutionKw?.name ?? '').toLowerCase()}`);
  };
  for (const item of items) {
    if (item.type === 'column_definition') {
      const column = `${table}.${item.name?.name}`;
      for (const c of (item.constraints ?? []).map(unwrap)) {
        if (c?.type === 'constraint_check') checks.push(norm(c.expr, table));
        if (c?.type === 'constraint_collate') lines.push(`collate ${column} ${String(c.collation?.name ?? '').toLowerCase()}`);
        if (c?.type === 'constraint_generated') lines.push(`generated ${column} ${norm(c.expr, table)} ${String(c.storageKw?.name ?? 'virtual').toLowerCase()}`);
        if (c?.type === 'constraint_auto_increment') lines.push(`autoincrement ${column}`);
        onConflict(c, column);
      }
    } else {
      const c = unwrap(item);
      if (c?.type === 'constraint_check') checks.push(norm(c.expr, table));
      onConflict(c, table);
    }
  }
  return [...lines.sort(), ...checks.sort().map((c) => `check ${table} ${c}`)];
}

/** An index's key expressions (those that are not plain columns) and its WHERE, as one suffix ('' when none). */
export function sqliteIndexExtras(table: string, sql: string | null): string {
  // a plain column list has one "(": nothing to read without a WHERE or an expression
  if (!sql || (!/\bWHERE\b/i.test(sql) && (sql.match(/\(/g) ?? []).length < 2)) return '';
  return once(`i\0${table}\0${sql}`, () => indexExtras(table, sql));
}

function indexExtras(table: string, sql: string): string {
  const stmt = parsed(sql);
  if (stmt?.type !== 'create_index_stmt') return '';
  const exprs = (stmt.columns?.expr?.items ?? []).map((s: Tree) => s?.expr ?? s).filter((e: Tree) => e && e.type !== 'identifier');
  const where = (stmt.clauses ?? []).find((c: Tree) => c?.type === 'where_clause');
  return `${exprs.length ? ` on ${exprs.map((e: Tree) => norm(e, table)).join(', ')}` : ''}${where ? ` where ${norm(where.expr, table)}` : ''}`;
}
