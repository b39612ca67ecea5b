/**
 * The values a SQLite table rebuild would change as it copies them.
 *
 * drizzle-kit changes a SQLite column's type by rebuilding its table: `CREATE TABLE __new_t (…)`,
 * `INSERT INTO __new_t(…) SELECT … FROM t`, `DROP TABLE t`, `ALTER TABLE __new_t RENAME TO t` (its ups,
 * and the downs sluice generates from the snapshots). The copy stores each value under the new
 * column's affinity, so a down from `text` back to `integer` turned '007' into 7, '1.50' into 1.5,
 * '1e3' into 1000 and ' 12 ' into 12, and said "reverted" (exit 0). preflight.ts counts those rows
 * before a down runs and refuses it, as it does for PostgreSQL's narrowing casts.
 *
 * A rebuild is found by its shape (any copy's name, not only `__new_`): a CREATE TABLE x, an INSERT
 * INTO x … SELECT … FROM t, a DROP TABLE t and an ALTER TABLE x RENAME TO t, in that order. Only the
 * columns the SELECT copies as they are (`"code"`, `t.code`) are compared: an expression (a CAST, a
 * function of the user's own) says itself what becomes of the value, as PostgreSQL's own USING does.
 *
 * The count runs in a transaction (or savepoint) rolled back: the rebuild's CREATE TABLE as written, then each copied
 * column's value beside the same value stored under the new column's affinity (a TEMP table), and
 * the rows where the two differ: not the same value (7 and 7.0 are) and not the same text ('7' and 7
 * are; '7' and 7.0 are not: a down back to `real` counts it). Identifiers are quoted again with quoteIdent; the table's rows are never written.
 */
import type Database from 'better-sqlite3';
import { quoteIdent } from '../sql.js';
import type { CopyChange, TableCopy } from './types.js';

const IDENT = String.raw`(?:"(?:[^"]|"")+"|\`(?:[^\`]|\`\`)+\`|\[[^\]]+\]|[A-Za-z_][A-Za-z0-9_$]*)`;
const CREATE = new RegExp(String.raw`^CREATE\s+TABLE\s+(${IDENT})\s*\(`, 'i');
const INSERT = new RegExp(String.raw`^INSERT\s+INTO\s+(${IDENT})\s*(?:\(([^)]*)\))?\s*SELECT\s+([\s\S]+?)\s+FROM\s+(${IDENT})\s*;?\s*$`, 'i');
const DROP = new RegExp(String.raw`^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(${IDENT})\s*;?\s*$`, 'i');
const RENAME = new RegExp(String.raw`^ALTER\s+TABLE\s+(${IDENT})\s+RENAME\s+TO\s+(${IDENT})\s*;?\s*$`, 'i');
const ONE_IDENT = new RegExp(`^${IDENT}$`);
/** A SELECT item that copies a column as it is: the column, maybe qualified, maybe given an alias. */
const PLAIN = new RegExp(String.raw`^(?:${IDENT}\s*\.\s*)?(${IDENT})(?:\s+(?:AS\s+)?${IDENT})?$`, 'i');

const SAVEPOINT = 'sluice_copy_check';
const SCRATCH = 'sluice_copy_check';

/** An identifier as SQLite reads it: quotes dropped, doubled quotes single. */
function unquote(ident: string): string {
  const q = ident[0];
  if (q === '"' || q === '`') return ident.slice(1, -1).split(q + q).join(q);
  if (q === '[') return ident.slice(1, -1);
  return ident;
}
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** Split a list at its top-level commas (not those inside parentheses or quotes). */
function splitList(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '[') quote = ']';
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(list.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(list.slice(start).trim());
  return out;
}

/** What a rebuild copies: the copy's and the table's names, the target columns (undefined: all, in order) and each SELECT item's column (undefined: an expression; `*`: all). */
export interface Rebuild {
  create: string;
  copy: string;
  table: string;
  into: string[] | undefined;
  items: (string | undefined)[] | '*';
}

/** The table rebuilds among `statements` (comments dropped): each with where its CREATE TABLE and its copy stand. */
export function findRebuilds(statements: readonly string[]): { at: number; copyAt: number; rebuild: Rebuild }[] {
  const sqls = statements.map((s) => s.trim());
  const inserts = sqls.map((s) => INSERT.exec(s));
  const drops = sqls.map((s) => DROP.exec(s)?.[1]);
  const renames = sqls.map((s) => RENAME.exec(s));
  const out: { at: number; copyAt: number; rebuild: Rebuild }[] = [];
  sqls.forEach((sql, at) => {
    const c = CREATE.exec(sql);
    if (!c) return;
    const copy = unquote(c[1]!);
    // the first copy into it, the table it copies dropped after that, and the copy renamed to it after that
    const copyAt = inserts.findIndex((m, i) => i > at && !!m && same(unquote(m[1]!), copy));
    if (copyAt < 0) return;
    const m = inserts[copyAt]!;
    const table = unquote(m[4]!);
    const dropAt = drops.findIndex((d, i) => i > copyAt && d !== undefined && same(unquote(d), table));
    if (dropAt < 0 || !renames.some((r, i) => i > dropAt && !!r && same(unquote(r[1]!), copy) && same(unquote(r[2]!), table))) return;
    const into = m[2] === undefined ? undefined : splitList(m[2]).map((t) => (ONE_IDENT.test(t) ? unquote(t) : ''));
    const select = m[3]!.trim();
    const items = select === '*' ? '*' : splitList(select).map((item) => PLAIN.exec(item)?.[1]).map((col) => (col === undefined ? undefined : unquote(col)));
    out.push({ at, copyAt, rebuild: { create: sql, copy, table, into, items } });
  });
  return out;
}

/** A declared type's affinity, as a type name that gives a TEMP table's column the same ('' for none). */
function affinity(type: string, strict: boolean): string {
  const t = type.toUpperCase();
  if (strict && t === 'ANY') return ''; // a STRICT table's ANY keeps every value as it is
  if (t.includes('INT')) return 'INTEGER';
  if (/CHAR|CLOB|TEXT/.test(t)) return 'TEXT';
  if (t === '' || t.includes('BLOB')) return '';
  if (/REAL|FLOA|DOUB/.test(t)) return 'REAL';
  return 'NUMERIC';
}

function columns(db: Database.Database, table: string): { name: string; type: string }[] {
  return db.prepare("SELECT name, type FROM pragma_table_info(?, 'main')").all(table) as { name: string; type: string }[];
}

function isStrict(db: Database.Database, table: string): boolean {
  try {
    const rows = db.prepare("SELECT strict FROM pragma_table_list(?) WHERE schema = 'main'").all(table) as { strict: number }[];
    return rows[0]?.strict === 1;
  } catch {
    return false; // a SQLite before 3.37 has no STRICT tables
  }
}

/**
 * The copied columns of `rebuild` whose values the copy would change, with their rows (only those with
 * some). Empty where it cannot be read today (no such table or column yet, the copy's name taken): the
 * run then meets what the check met.
 */
export function copyChanges(db: Database.Database, written: Rebuild, now?: { table(name: string): string | null; column(table: string, name: string): string | null }): CopyChange[] {
  // the table and the columns it copies as they are named before the run (a rename earlier in it)
  const table = now ? now.table(written.table) : written.table;
  if (table === null) return [];
  const items = written.items === '*' || !now ? written.items : written.items.map((c) => (c === undefined ? undefined : (now.column(table, c) ?? undefined)));
  const rebuild: Rebuild = { ...written, table, items };
  // Outside a transaction, one of its own rolled back: a savepoint released there would commit, and
  // the commit would count a change in the file's header though nothing changed.
  const own = !db.inTransaction;
  try {
    db.exec(own ? 'BEGIN' : `SAVEPOINT ${SAVEPOINT}`);
  } catch {
    return [];
  }
  try {
    const before = columns(db, rebuild.table);
    if (!before.length) return [];
    db.prepare(rebuild.create).run();
    const after = columns(db, rebuild.copy);
    const strict = isStrict(db, rebuild.copy);
    const targets = rebuild.into ?? after.map((c) => c.name);
    const sources = rebuild.items === '*' ? before.map((c) => c.name) : rebuild.items;
    const pairs: { from: { name: string; type: string }; to: { name: string; type: string } }[] = [];
    targets.forEach((target, i) => {
      const to = after.find((c) => same(c.name, target));
      const source = sources[i];
      const from = source === undefined ? undefined : before.find((c) => same(c.name, source));
      if (to && from) pairs.push({ from, to });
    });
    if (!pairs.length) return [];
    const o = (i: number) => quoteIdent(`o${i}`);
    const n = (i: number) => quoteIdent(`n${i}`);
    const scratch = `temp.${quoteIdent(SCRATCH)}`;
    db.exec(`CREATE TEMP TABLE ${quoteIdent(SCRATCH)} (${pairs.map((p, i) => `${o(i)}, ${n(i)} ${affinity(p.to.type, strict)}`).join(', ')})`);
    db.exec(`INSERT INTO ${scratch} SELECT ${pairs.map((p) => `${quoteIdent(p.from.name)}, ${quoteIdent(p.from.name)}`).join(', ')} FROM main.${quoteIdent(rebuild.table)}`);
    // unary + takes the columns' affinity away: 7 and 7.0 are the same value, '7' and 7 are not (but read alike)
    const counts = db.prepare(`SELECT ${pairs.map((_, i) => `total(NOT (+${n(i)} IS +${o(i)}) AND CAST(${n(i)} AS TEXT) IS NOT CAST(${o(i)} AS TEXT))`).join(', ')} FROM ${scratch}`).raw().all() as number[][];
    return pairs
      .map((p, i) => ({ table: rebuild.table, column: p.from.name, target: p.to.name, from: p.from.type, to: p.to.type, rows: Number(counts[0]?.[i] ?? 0) }))
      .filter((c) => c.rows > 0);
  } catch {
    return [];
  } finally {
    if (!own) db.exec(`ROLLBACK TO ${SAVEPOINT}; RELEASE ${SAVEPOINT}`);
    else if (db.inTransaction) db.exec('ROLLBACK'); // an error may have ended it
  }
}

/** The table copies of a step's statements (comments dropped), for the check before a down (Connection.tableCopies). */
export function tableCopies(db: Database.Database, statements: readonly string[]): TableCopy[] {
  return findRebuilds(statements).map(({ at, copyAt, rebuild }) => ({ at, copyAt, changes: async (now) => copyChanges(db, rebuild, now) }));
}
