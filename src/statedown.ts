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
import { quoteIdent } from './sql.js';

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

const ID = '("(?:[^"]|"")+"|`(?:[^`]|``)+`|\\[[^\\]]+\\]|[A-Za-z_][\\w$]*)';
const RENAME_TABLE = new RegExp(`^ALTER\\s+TABLE\\s+${ID}\\s+RENAME\\s+TO\\s+${ID}\\s*;?\\s*$`, 'i');
const RENAME_COLUMN = new RegExp(`^ALTER\\s+TABLE\\s+${ID}\\s+RENAME\\s+(?:COLUMN\\s+)?${ID}\\s+TO\\s+${ID}\\s*;?\\s*$`, 'i');
const ADD_COLUMN = new RegExp(`^ALTER\\s+TABLE\\s+${ID}\\s+ADD\\s+(?:COLUMN\\s+)?${ID}`, 'i');
const CREATE_TABLE_NAME = new RegExp(`^(\\s*CREATE\\s+TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?)${ID}`, 'i');

function unquote(id: string): string {
  const q = id[0];
  if (q === '"' || q === '`') return id.slice(1, -1).replaceAll(q + q, q);
  if (q === '[') return id.slice(1, -1);
  return id;
}

type Op = { kind: 'table'; from: string; to: string } | { kind: 'column'; table: string; from: string; to: string } | { kind: 'add'; table: string; column: string };

/** The up's statements that rename tables or columns or add columns, in order (names unquoted). */
export function renamesIn(up: string[]): Op[] {
  const ops: Op[] = [];
  for (const raw of up) {
    const s = raw.replace(/^(\s*--[^\n]*\n)+/, '').trim();
    let m = RENAME_TABLE.exec(s);
    if (m) {
      ops.push({ kind: 'table', from: unquote(m[1]!), to: unquote(m[2]!) });
      continue;
    }
    m = RENAME_COLUMN.exec(s);
    if (m) {
      ops.push({ kind: 'column', table: unquote(m[1]!), from: unquote(m[2]!), to: unquote(m[3]!) });
      continue;
    }
    m = ADD_COLUMN.exec(s);
    if (m && !/^(CONSTRAINT|PRIMARY|UNIQUE|CHECK|FOREIGN)$/i.test(unquote(m[2]!))) ops.push({ kind: 'add', table: unquote(m[1]!), column: unquote(m[2]!) });
  }
  return ops;
}

/**
 * A table's CREATE TABLE under another name, its own qualified column references (`"t"."c"` in a CHECK,
 * as drizzle-kit writes them) following; renaming the table back turns them into the old name again.
 */
function renamedCreate(sql: string, from: string, to: string): string {
  const head = CREATE_TABLE_NAME.exec(sql)!;
  const esc = from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const own = new RegExp(`(?:"${esc}"|\`${esc}\`|\\[${esc}\\]|\\b${esc}\\b)(?=\\s*\\.)`, 'g');
  return `${head[1]}${quoteIdent(to)}${sql.slice(head[0].length).replace(own, quoteIdent(to))}`;
}

const same = (a: SqliteObject | undefined, b: SqliteObject | undefined) => !!a && !!b && a.type === b.type && a.table === b.table && a.sql === b.sql;

/**
 * Statements that take state N (`after`) back to state N-1 (`before`), or undefined when there is
 * nothing to do or the up's renames cannot be undone on state N.
 */
export function sqliteStateDown(before: SqliteObject[], after: SqliteObject[], up: string[]): StateStatement[] | undefined {
  const out: StateStatement[] = [];
  const key = (o: SqliteObject) => `${o.type}\u0000${o.name}`;
  const beforeBy = new Map(before.map((o) => [key(o), o]));
  const afterBy = new Map(after.map((o) => [key(o), o]));
  // 1. objects hanging on tables: dropped unless state N-1 has them as they are
  const dropped = new Set<string>();
  for (const type of ['trigger', 'view', 'index'] as const) {
    for (const o of after.filter((x) => x.type === type && x.sql !== null)) {
      if (same(o, beforeBy.get(key(o)))) continue;
      out.push({ sql: `DROP ${type.toUpperCase()} ${quoteIdent(o.name)}` });
      dropped.add(key(o));
    }
  }
  // 2. the up's renames and added columns, undone in reverse order on a model of state N's tables
  const tables = new Map(after.filter((o) => o.type === 'table').map((o) => [o.name, { sql: o.sql, columns: [...(o.columns ?? [])] }]));
  const touched = new Set<string>();
  for (const op of renamesIn(up).reverse()) {
    if (op.kind === 'table') {
      const t = tables.get(op.to);
      // dropped later in the up, or a table the up made itself (a rebuild's `_new` renamed into place): nothing to move back
      if (!t || !before.some((o) => o.type === 'table' && o.name === op.from)) continue;
      if (tables.has(op.from)) return undefined;
      out.push({ sql: `ALTER TABLE ${quoteIdent(op.to)} RENAME TO ${quoteIdent(op.from)}` });
      tables.delete(op.to);
      tables.set(op.from, t);
      touched.add(op.from);
    } else if (op.kind === 'column') {
      const t = tables.get(op.table);
      if (!t) continue; // dropped later in the up: nothing to undo
      const i = t.columns.indexOf(op.to);
      if (i < 0 || t.columns.includes(op.from)) return undefined;
      out.push({ sql: `ALTER TABLE ${quoteIdent(op.table)} RENAME COLUMN ${quoteIdent(op.to)} TO ${quoteIdent(op.from)}` });
      t.columns[i] = op.from;
      touched.add(op.table);
    } else {
      const t = tables.get(op.table);
      // (the table had no such column right before the up added it, whatever state N-1 calls by that name)
      if (!t || !t.columns.includes(op.column)) continue;
      out.push({ sql: `ALTER TABLE ${quoteIdent(op.table)} DROP COLUMN ${quoteIdent(op.column)}` });
      t.columns = t.columns.filter((c) => c !== op.column);
      touched.add(op.table);
    }
  }
  // 3. tables
  const beforeTables = before.filter((o) => o.type === 'table');
  const gone = new Set<string>(); // tables dropped or rebuilt: their indexes and triggers went with them
  for (const [name] of tables) {
    if (beforeTables.some((t) => t.name === name)) continue;
    out.push({ sql: `DROP TABLE ${quoteIdent(name)}` });
    gone.add(name);
  }
  for (const t of beforeTables) {
    const now = tables.get(t.name);
    if (!t.sql) return undefined;
    if (!now) {
      out.push({ sql: t.sql, warning: `${t.name} is created again empty: the up dropped it with its rows` });
      gone.add(t.name);
      continue;
    }
    if (!touched.has(t.name) && now.sql === t.sql) continue;
    const temp = `__sluice_new_${t.name}`;
    if (!CREATE_TABLE_NAME.test(t.sql)) return undefined;
    const shared = (t.columns ?? []).filter((c) => now.columns.includes(c));
    const lost = now.columns.filter((c) => !shared.includes(c));
    const cols = shared.map(quoteIdent).join(', ');
    out.push(
      { sql: renamedCreate(t.sql, t.name, temp), warning: `${t.name} rebuilt as the previous revision's real schema has it (the snapshots' down did not restore it)` },
      {
        sql: `INSERT INTO ${quoteIdent(temp)} (${cols}) SELECT ${cols} FROM ${quoteIdent(t.name)}`,
        ...(lost.length ? { warning: `table rebuild: only the columns both shapes have are copied (not ${lost.join(', ')})` } : {}),
      },
      { sql: `DROP TABLE ${quoteIdent(t.name)}` },
      { sql: `ALTER TABLE ${quoteIdent(temp)} RENAME TO ${quoteIdent(t.name)}` },
    );
    if (!shared.length) out.splice(out.length - 3, 1);
    gone.add(t.name);
  }
  // 4. indexes, views, triggers of state N-1 that are not there now
  for (const type of ['index', 'view', 'trigger'] as const) {
    for (const o of before.filter((x) => x.type === type && x.sql !== null)) {
      const kept = afterBy.get(key(o));
      if (kept && !dropped.has(key(o)) && !gone.has(kept.table)) continue;
      out.push({ sql: o.sql! });
    }
  }
  if (!out.length) return undefined;
  return [
    { sql: 'PRAGMA foreign_keys=OFF', warning: 'read from the real schema before and after the up on the scratch database (the down from the snapshots did not restore it)' },
    ...out,
    { sql: 'PRAGMA foreign_keys=ON' },
  ].map((s) => ({ ...s, sql: `${s.sql};` }));
}
