/**
 * SQLite: a down read from the real states, for when the down drizzle-kit's snapshots give does not
 * prove out (a history whose ups and snapshots disagree: hand-edited ups, renames the diff could not
 * see). The scratch run knows the schema before the up (state N-1) and after it (state N) exactly, as
 * SQLite stores it (sqlite_master's SQL, each table's columns). Pure: prove.ts reads the states and runs
 * the result; it is kept only if it then proves out like any other down.
 *
 * The down, in order:
 * 1. triggers, views and indexes of state N that state N-1 does not have as they are, dropped;
 * 2. the up's renames and added columns undone in reverse order (so the rows of a renamed table or
 *    column stay with it instead of being copied by name);
 * 3. tables only state N has, dropped; tables only state N-1 has, created from their SQL (empty: the up
 *    dropped them with their rows); tables whose SQL differs, rebuilt from state N-1's SQL (new table,
 *    the columns both shapes have copied, old one dropped, new one renamed), foreign keys off meanwhile;
 * 4. the indexes, views and triggers of state N-1 that are not there now, from their SQL.
 */
import { quoteIdent, quoteLiteral } from './sql.js';

export interface SqliteObject {
  type: string;
  name: string;
  /** The table an index or trigger belongs to (the object itself for a table or view). */
  table: string;
  /** As sqlite_master stores it; null for the indexes SQLite makes for UNIQUE and PRIMARY KEY. */
  sql: string | null;
  /** Tables: column names in order. */
  columns?: string[];
}

export interface StateStatement {
  sql: string;
  warning?: string;
}

/**
 * The statement patterns, made on first use: an `iu` expression with Unicode classes costs ~0.3 ms to
 * construct, and every migrate-create loads this module before drizzle-kit starts, most never to use it.
 */
function patterns() {
  if (made) return made;
  const ID = `("(?:[^"]|"")+"|\`(?:[^\`]|\`\`)+\`|\\[[^\\]]+\\]|'(?:[^']|'')+'|[\\p{L}_][\\p{L}\\p{N}_$]*)`;
  /** A table name, optionally schema-qualified (group 1: schema, group 2: name). */
  const TABLE = `(?:${ID}\\s*\\.\\s*)?${ID}`;
  return (made = {
    RENAME_TABLE: new RegExp(`^ALTER\\s+TABLE\\s+${TABLE}\\s+RENAME\\s+TO\\s+${ID}\\s*;?\\s*$`, 'iu'),
    RENAME_COLUMN: new RegExp(`^ALTER\\s+TABLE\\s+${TABLE}\\s+RENAME\\s+(?:COLUMN\\s+)?${ID}\\s+TO\\s+${ID}\\s*;?\\s*$`, 'iu'),
    ADD_COLUMN: new RegExp(`^ALTER\\s+TABLE\\s+${TABLE}\\s+ADD\\s+(?:COLUMN\\s+)?${ID}`, 'iu'),
    DROP_COLUMN: new RegExp(`^ALTER\\s+TABLE\\s+${TABLE}\\s+DROP\\s+(?:COLUMN\\s+)?${ID}`, 'iu'),
    UPDATE: new RegExp(`^UPDATE\\s+(?:OR\\s+\\w+\\s+)?${TABLE}`, 'iu'),
    CREATE_TABLE_NAME: new RegExp(`^(\\s*CREATE\\s+TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?)${ID}`, 'iu'),
  });
}
let made: Record<'RENAME_TABLE' | 'RENAME_COLUMN' | 'ADD_COLUMN' | 'DROP_COLUMN' | 'UPDATE' | 'CREATE_TABLE_NAME', RegExp> | undefined;

function unquote(id: string): string {
  const q = id[0];
  if (q === '"' || q === '`' || q === "'") return id.slice(1, -1).replaceAll(q + q, q);
  if (q === '[') return id.slice(1, -1);
  return id;
}

/** SQLite compares names case-insensitively (ASCII). */
const fold = (name: string) => name.toLowerCase();
const has = (columns: string[], c: string) => columns.some((x) => fold(x) === fold(c));
/** A statement without its leading comment lines. */
const bare = (statement: string) => statement.replace(/^(\s*--[^\n]*\n)+/, '').trim();

type Op =
  | { kind: 'table'; from: string; to: string }
  | { kind: 'column'; table: string; from: string; to: string }
  | { kind: 'add'; table: string; column: string }
  | { kind: 'drop'; table: string; column: string };

/**
 * The up's statements that rename tables or columns, add or drop columns, in order (names unquoted);
 * undefined when one of them names another schema than main, or an ALTER … RENAME cannot be read.
 */
export function renamesIn(up: string[]): Op[] | undefined {
  const ops: Op[] = [];
  const main = (schema: string | undefined) => schema === undefined || fold(unquote(schema)) === 'main';
  for (const raw of up) {
    const s = bare(raw);
    let m = patterns().RENAME_TABLE.exec(s);
    if (m) {
      if (!main(m[1])) return undefined;
      ops.push({ kind: 'table', from: unquote(m[2]!), to: unquote(m[3]!) });
      continue;
    }
    m = patterns().RENAME_COLUMN.exec(s);
    if (m) {
      if (!main(m[1])) return undefined;
      ops.push({ kind: 'column', table: unquote(m[2]!), from: unquote(m[3]!), to: unquote(m[4]!) });
      continue;
    }
    if (/^ALTER\s+TABLE\b[\s\S]*\bRENAME\b/i.test(s)) return undefined; // a rename it cannot follow
    for (const [kind, re] of [['add', patterns().ADD_COLUMN], ['drop', patterns().DROP_COLUMN]] as const) {
      m = re.exec(s);
      if (!m || /^(CONSTRAINT|PRIMARY|UNIQUE|CHECK|FOREIGN)$/i.test(unquote(m[3]!))) continue;
      if (!main(m[1])) return undefined;
      ops.push({ kind, table: unquote(m[2]!), column: unquote(m[3]!) });
    }
  }
  return ops;
}

/**
 * A table's CREATE TABLE under another name, its own qualified column references (`"t"."c"` in a CHECK,
 * as drizzle-kit writes them) following, string literals untouched; renaming the table back turns the
 * references into the old name again.
 */
function renamedCreate(sql: string, from: string, to: string): string {
  const head = patterns().CREATE_TABLE_NAME.exec(sql)!;
  const esc = from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const own = new RegExp(`(?:"${esc}"|\`${esc}\`|\\[${esc}\\]|(?<![\\p{L}\\p{N}_$])${esc}(?![\\p{L}\\p{N}_$]))(?=\\s*\\.)`, 'giu');
  const body = sql
    .slice(head[0].length)
    .split(/('(?:[^']|'')*')/)
    .map((part, i) => (i % 2 ? part : part.replace(own, quoteIdent(to))))
    .join('');
  return `${head[1]}${quoteIdent(to)}${body}`;
}

const same = (a: SqliteObject | undefined, b: SqliteObject | undefined) => !!a && !!b && a.type === b.type && fold(a.table) === fold(b.table) && a.sql === b.sql;

/**
 * Statements that take state N (`after`) back to state N-1 (`before`) (none when they are the same),
 * or undefined when the up's renames cannot be undone on state N, or undoing them would lose data a
 * rebuild cannot tell about (a column the up added in place of one it dropped).
 */
export function sqliteStateDown(before: SqliteObject[], after: SqliteObject[], up: string[]): StateStatement[] | undefined {
  const ops = renamesIn(up);
  if (!ops) return undefined;
  const out: StateStatement[] = [];
  const key = (o: SqliteObject) => `${o.type}\u0000${fold(o.name)}`;
  const beforeBy = new Map(before.map((o) => [key(o), o]));
  const afterBy = new Map(after.map((o) => [key(o), o]));
  // 1. objects hanging on tables: dropped unless state N-1 has them as they are (views and triggers
  // are dropped all the same when the down changes tables, below: they hold no rows, and one that names
  // a table being rebuilt or renamed makes SQLite refuse the RENAME)
  const dropped = new Set<string>();
  const toDrop: SqliteObject[] = [];
  const dropObject = (o: SqliteObject) => {
    toDrop.push(o);
    dropped.add(key(o));
  };
  for (const o of after) if (o.type !== 'table' && o.sql !== null && !same(o, beforeBy.get(key(o)))) dropObject(o);
  // 2. the up's renames and added columns, undone in reverse order on a model of state N's tables
  // (keyed by folded name; `name` as the down must spell it now)
  const model = () => new Map(after.filter((o) => o.type === 'table').map((o) => [fold(o.name), { name: o.name, sql: o.sql, columns: [...(o.columns ?? [])] }]));
  const beforeTables = new Map(before.filter((o) => o.type === 'table').map((o) => [fold(o.name), o]));
  let undone = undoRenames(ops, model(), beforeTables, up);
  if (!undone) {
    // A column renamed only to be dropped later (rename, add anew, copy, drop: a default changed by hand)
    // and no table renamed: state N's columns keep state N-1's names, so the rebuild below copies them
    // by name, and nothing needs undoing first.
    const n = model();
    const temporary = ops.every((o) => o.kind === 'add' || o.kind === 'drop' || (o.kind === 'column' && !(n.get(fold(o.table))?.columns ?? []).some((c) => fold(c) === fold(o.to))));
    if (!temporary) return undefined;
    undone = { statements: [], tables: n, touched: new Set() };
  }
  out.push(...undone.statements);
  const { tables, touched } = undone;
  // 3. tables
  const gone = new Set<string>(); // tables dropped or rebuilt (folded): their indexes and triggers went with them
  for (const [k, t] of tables) {
    if (beforeTables.has(k)) continue;
    out.push({ sql: `DROP TABLE ${quoteIdent(t.name)}` });
    gone.add(k);
  }
  for (const [k, t] of beforeTables) {
    const now = tables.get(k);
    if (!t.sql) return undefined;
    if (!now) {
      out.push({ sql: t.sql, warning: `${t.name} is created again empty: the up dropped it with its rows` });
      gone.add(k);
      continue;
    }
    if (!touched.has(k) && now.sql === t.sql) continue;
    const temp = `__sluice_new_${t.name}`;
    if (!patterns().CREATE_TABLE_NAME.test(t.sql)) return undefined;
    const shared = (t.columns ?? []).filter((c) => has(now.columns, c));
    const notCopied = now.columns.filter((c) => !has(shared, c));
    const empty = (t.columns ?? []).filter((c) => !has(shared, c));
    // rowids go with their rows (a table without an INTEGER PRIMARY KEY would renumber them otherwise)
    const rowids = ![t.sql, now.sql ?? ''].some((x) => /\bWITHOUT\s+ROWID\b/i.test(x)) && ![...(t.columns ?? []), ...now.columns].some((c) => ['rowid', 'oid', '_rowid_'].includes(fold(c)));
    const cols = [...(rowids ? ['rowid'] : []), ...shared.map(quoteIdent)].join(', ');
    const lost = [
      ...(notCopied.length ? [`not copied: ${notCopied.join(', ')}`] : []),
      ...(empty.length ? [`created empty (or with their default): ${empty.join(', ')}`] : []),
    ];
    out.push({ sql: renamedCreate(t.sql, t.name, temp), warning: `${t.name} rebuilt as the previous revision's real schema has it (the snapshots' down did not restore it)` });
    if (shared.length) {
      out.push({
        sql: `INSERT INTO ${quoteIdent(temp)} (${cols}) SELECT ${cols} FROM ${quoteIdent(now.name)}`,
        ...(lost.length ? { warning: `table rebuild: only the columns both shapes have are copied (${lost.join('; ')})` } : {}),
      });
    }
    if (/\bAUTOINCREMENT\b/i.test(t.sql)) {
      // the sequence goes on where it was (the new table's own row would start from its largest id)
      out.push(
        { sql: `DELETE FROM sqlite_sequence WHERE name = ${quoteLiteral(temp)}` },
        { sql: `INSERT INTO sqlite_sequence (name, seq) SELECT ${quoteLiteral(temp)}, seq FROM sqlite_sequence WHERE name = ${quoteLiteral(now.name)}` },
      );
    }
    out.push({ sql: `DROP TABLE ${quoteIdent(now.name)}` }, { sql: `ALTER TABLE ${quoteIdent(temp)} RENAME TO ${quoteIdent(t.name)}` });
    gone.add(k);
  }
  if (out.length) for (const o of after.filter((x) => (x.type === 'view' || x.type === 'trigger') && x.sql !== null && !dropped.has(key(x)))) dropObject(o);
  // triggers first (a view's INSTEAD OF trigger goes with the view), then views, then indexes
  const order = ['trigger', 'view', 'index'];
  const drops = toDrop
    .sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type))
    .map((o) => ({ sql: `DROP ${o.type.toUpperCase()}${o.type === 'trigger' ? ' IF EXISTS' : ''} ${quoteIdent(o.name)}` }));
  out.unshift(...drops);
  // 4. indexes, views, triggers of state N-1 that are not there now
  for (const type of ['index', 'view', 'trigger'] as const) {
    for (const o of before.filter((x) => x.type === type && x.sql !== null)) {
      const kept = afterBy.get(key(o));
      if (kept && !dropped.has(key(o)) && !gone.has(fold(kept.table))) continue;
      out.push({ sql: o.sql! });
    }
  }
  // the same schema before and after (an up that only changes rows): nothing to undo in it
  if (!out.length) return [];
  return [
    { sql: 'PRAGMA foreign_keys=OFF', warning: 'read from the real schema before and after the up on the scratch database (the down from the snapshots did not restore it)' },
    ...out,
    { sql: 'PRAGMA foreign_keys=ON' },
  ].map((s) => ({ ...s, sql: `${s.sql};` }));
}

type TableModel = Map<string, { name: string; sql: string | null; columns: string[] }>;

/**
 * The up's renames and added columns undone in reverse order on `tables` (state N's, changed in place):
 * the statements, or undefined when state N contradicts them or a column added in place of a dropped
 * one may hold its data (the up wrote the table's rows).
 */
function undoRenames(ops: Op[], tables: TableModel, beforeTables: Map<string, SqliteObject>, up: string[]): { statements: StateStatement[]; tables: TableModel; touched: Set<string> } | undefined {
  const statements: StateStatement[] = [];
  const touched = new Set<string>();
  const written = new Set(
    up.flatMap((st) => {
      const m = patterns().UPDATE.exec(bare(st));
      return m ? [fold(unquote(m[2]!))] : [];
    }),
  );
  const replaced = new Set(ops.flatMap((o) => (o.kind === 'drop' && written.has(fold(o.table)) && has(tables.get(fold(o.table))?.columns ?? [], o.column) ? [fold(o.table)] : [])));
  for (const op of [...ops].reverse()) {
    if (op.kind === 'table') {
      const t = tables.get(fold(op.to));
      // dropped later in the up, or a table the up made itself (a rebuild's `_new` renamed into place): nothing to move back
      if (!t || !beforeTables.has(fold(op.from))) continue;
      if (tables.has(fold(op.from))) return undefined;
      statements.push({ sql: `ALTER TABLE ${quoteIdent(t.name)} RENAME TO ${quoteIdent(op.from)}` });
      tables.delete(fold(op.to));
      tables.set(fold(op.from), { ...t, name: op.from });
      touched.add(fold(op.from));
    } else if (op.kind === 'column') {
      const t = tables.get(fold(op.table));
      if (!t) continue; // dropped later in the up: nothing to undo
      const i = t.columns.findIndex((c) => fold(c) === fold(op.to));
      if (i < 0 || has(t.columns, op.from)) return undefined;
      statements.push({ sql: `ALTER TABLE ${quoteIdent(t.name)} RENAME COLUMN ${quoteIdent(t.columns[i]!)} TO ${quoteIdent(op.from)}` });
      t.columns[i] = op.from;
      touched.add(fold(t.name));
    } else if (op.kind === 'add') {
      const t = tables.get(fold(op.table));
      // (the table had no such column right before the up added it, whatever state N-1 calls by that name)
      if (!t || !has(t.columns, op.column)) continue;
      if (replaced.has(fold(op.table))) return undefined;
      statements.push({ sql: `ALTER TABLE ${quoteIdent(t.name)} DROP COLUMN ${quoteIdent(op.column)}` });
      t.columns = t.columns.filter((c) => fold(c) !== fold(op.column));
      touched.add(fold(t.name));
    }
  }
  return { statements, tables, touched };
}
