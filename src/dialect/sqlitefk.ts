/**
 * SQLite foreign-key violations, each with an identity that survives a table rebuild, so the check
 * after a revision fails it only for the rows it broke, not for rows that already broke a key before
 * it ran (written while enforcement was off, SQLite's default for a connection).
 *
 * `PRAGMA foreign_key_check` names a violation by rowid and key number, and a rebuild changes both: the
 * copy renumbers rows that have no INTEGER PRIMARY KEY, a WITHOUT ROWID table has no rowid at all, and
 * a key added in the rebuild shifts the numbers of the others. So a violation is named here by its
 * child table, its parent and the values of its key (as text: a rebuild may change their type), read
 * with one query per broken key, and counted: a revision fails when a name has more rows than before.
 * Not the row's own primary key, which a rebuild may add, retype or change, nor the key's column
 * names, which it may rename. Rows that query cannot read (a comparison SQLite's key check makes
 * otherwise) are counted under their child table and parent.
 */
import type Database from 'better-sqlite3';
import { quoteIdent } from '../sql.js';

/** Violations by identity: how many rows have it (more than one where rows share their key values). */
export type Violations = ReadonlyMap<string, number>;

interface CheckRow {
  table: string;
  parent: string;
  fkid: number;
}

/**
 * Foreign keys that name a table the database does not have, as `\u0001<child> -> <parent>` (counted
 * apart from rows: a child with no row breaks none, and its next insert fails). Found by a review: a
 * rebuild in the older order (rename away, create, copy, drop) left an empty child's key naming the
 * dropped `t_old`, "applied", exit 0.
 */
function danglingKeys(db: Database.Database): string[] {
  const rows = db
    .prepare(
      "SELECT DISTINCT m.name AS child, f.\"table\" AS parent FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table' AND NOT EXISTS (SELECT 1 FROM sqlite_master p WHERE p.type = 'table' AND p.name = f.\"table\" COLLATE NOCASE)",
    )
    .all() as { child: string; parent: string }[];
  return rows.map((r) => `\u0001${r.child} -> ${r.parent}`);
}

/** The database's violations now; empty (one pragma call) when there are none. */
export function readViolations(db: Database.Database): Violations {
  const rows = db.pragma('foreign_key_check') as CheckRow[];
  const out = new Map<string, number>();
  for (const k of danglingKeys(db)) out.set(k, 1);
  if (!rows.length) return out;
  const add = (key: string, n: number) => out.set(key, (out.get(key) ?? 0) + n);
  const byKey = new Map<string, CheckRow & { n: number }>();
  for (const r of rows) {
    const k = `${r.table}\u0000${r.fkid}`;
    const seen = byKey.get(k);
    if (seen) seen.n += 1;
    else byKey.set(k, { ...r, n: 1 });
  }
  for (const { table, parent, fkid, n } of byKey.values()) {
    const key = db.prepare('SELECT "from", "to" FROM pragma_foreign_key_list(?) WHERE "id" = ? ORDER BY "seq"').all(table, fkid) as { from: string; to: string | null }[];
    const from = key.map((c) => c.from);
    const group = `${table}\u0000${parent}`;
    const found = identify(db, table, parent, from, key.some((c) => c.to === null) ? primaryKey(db, parent) : key.map((c) => c.to!)).slice(0, n);
    for (const id of found) add(`${group}\u0000${id}`, 1);
    if (found.length < n) add(`${group}\u0000?`, n - found.length);
  }
  return out;
}

/** What `now` has that `before` had not: the rows added (by identity), the tables they sit in, and the total now. */
export function newViolations(before: Violations, now: Violations): { added: number; pairs: string[]; total: number; dangling: string[] } {
  let added = 0;
  let total = 0;
  const pairs = new Set<string>();
  const dangling: string[] = [];
  for (const [key, n] of now) {
    if (key.startsWith('\u0001')) {
      if (!before.has(key)) dangling.push(key.slice(1));
      continue;
    }
    total += n;
    const more = n - (before.get(key) ?? 0);
    if (more <= 0) continue;
    added += more;
    const [table, parent] = key.split('\u0000');
    pairs.add(`${table} -> ${parent}`);
  }
  return { added, pairs: [...pairs], total, dangling };
}

function primaryKey(db: Database.Database, table: string): string[] {
  return (db.prepare('SELECT "name" FROM pragma_table_info(?) WHERE "pk" > 0 ORDER BY "pk"').all(table) as { name: string }[]).map((c) => c.name);
}

/** The identities (the key's values as text, in JSON) of the rows whose key finds no parent row; [] when they cannot be read. */
function identify(db: Database.Database, table: string, parent: string, from: string[], to: string[]): string[] {
  if (!from.length || to.length !== from.length) return [];
  const col = (alias: string, c: string) => `${alias}.${quoteIdent(c)}`;
  const sql =
    `SELECT json_array(${from.map((c) => `CAST(${col('c', c)} AS TEXT)`).join(', ')}) AS id ` +
    `FROM main.${quoteIdent(table)} AS c WHERE ${from.map((c) => `${col('c', c)} IS NOT NULL`).join(' AND ')} ` +
    `AND NOT EXISTS (SELECT 1 FROM main.${quoteIdent(parent)} AS p WHERE ${from.map((c, i) => `${col('p', to[i]!)} = ${col('c', c)}`).join(' AND ')})`;
  try {
    return (db.prepare(sql).pluck().all() as string[]).sort();
  } catch {
    return []; // a table outside main, a key SQLite cannot compare so: counted under the child table and parent
  }
}
