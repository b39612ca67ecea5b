/**
 * AUTOINCREMENT counters across a SQLite table rebuild.
 *
 * drizzle-kit changes a SQLite column by rebuilding its table: `CREATE TABLE __new_t`, `INSERT … SELECT`,
 * `DROP TABLE t`, `ALTER TABLE __new_t RENAME TO t` (its ups, and the downs sluice generates from the
 * snapshots). SQLite deletes t's `sqlite_sequence` row with t, and the copy's row starts again from its
 * largest id, or is absent when the table is empty: the ids of rows deleted before the rebuild (above
 * the largest one left) are given out again, which AUTOINCREMENT exists to prevent (a URL, an audit log
 * or another system still naming the deleted row then names a new one).
 *
 * So a step that drops a table has the counters read before its statements and put back after them,
 * in its own transaction: a counter that went down is raised to where it was, and an AUTOINCREMENT table
 * of the same name that lost its row gets it again. A counter never goes down here, and a table the
 * step dropped for good (no table of that name after it) is left without one, as SQLite leaves it.
 * A table the step renames (`ALTER TABLE t RENAME TO u`, before or after its rebuild, as a rename and
 * a column change in one model edit give) has its counter put back under its new name too (was: only
 * under the old one, which no longer existed, so u's counter fell to its largest id left).
 */
import type Database from 'better-sqlite3';

const DROPS_TABLE = /\bDROP\s+TABLE\b/i;
const IDENT = String.raw`(?:"(?:[^"]|"")+"|\`(?:[^\`]|\`\`)+\`|\[[^\]]+\]|[A-Za-z_][A-Za-z0-9_$]*)`;
const RENAME = new RegExp(String.raw`^ALTER\s+TABLE\s+(?:(?:main|"main"|\`main\`|\[main\])\s*\.\s*)?(${IDENT})\s+RENAME\s+TO\s+(${IDENT})\s*;?$`, 'i');

/** An identifier as SQLite reads it: quotes dropped, doubled quotes single. */
function unquote(ident: string): string {
  const q = ident[0];
  if (q === '"' || q === '`') return ident.slice(1, -1).split(q + q).join(q);
  if (q === '[') return ident.slice(1, -1);
  return ident;
}

/**
 * The table renames among `statements` (comments aside), in order: [from, to]. A regular expression,
 * not sqlchange.ts statementChange (SQLite's parser, which sql.ts rebuildsByHand uses): every drizzle-kit
 * rebuild holds such a rename, and loading the parser for it would cost each rebuild step ~20 ms.
 */
function renames(statements: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const s of statements) {
    const m = RENAME.exec(s.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' ').trim());
    if (m) out.push([unquote(m[1]!), unquote(m[2]!)]);
  }
  return out;
}

/** The counters before `statements` run, when they may drop a table and the database has counters; else undefined. */
export function readSequences(db: Database.Database, statements: readonly string[]): Map<string, bigint> | undefined {
  if (!statements.some((s) => DROPS_TABLE.test(s))) return undefined;
  if (!db.prepare("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'").get()) return undefined;
  // as 64-bit integers (a counter past 2^53 would round as a JavaScript number), bound back as integers
  const rows = db.prepare('SELECT name, CAST(seq AS INTEGER) FROM main.sqlite_sequence').raw().safeIntegers(true).all() as [unknown, unknown][];
  const out = new Map<string, bigint>();
  const moves = renames(statements);
  const keep = (name: string, seq: bigint) => out.set(name, (out.get(name) ?? 0n) > seq ? out.get(name)! : seq);
  for (const [name, seq] of rows) {
    if (typeof name !== 'string' || typeof seq !== 'bigint' || seq <= 0n) continue;
    keep(name, seq);
    // the name the table has after the step's renames (SQLite moves its counter with it; a rebuild after
    // the rename then drops it): the counter is put back there too
    let now = name;
    for (const [from, to] of moves) if (from.toLowerCase() === now.toLowerCase()) now = to;
    if (now.toLowerCase() !== name.toLowerCase()) keep(now, seq);
  }
  return out.size ? out : undefined;
}

/** Put back the counters `before` held (readSequences), where a table of that name now has AUTOINCREMENT. */
export function keepSequences(db: Database.Database, before: ReadonlyMap<string, bigint>): void {
  const raise = db.prepare('UPDATE main.sqlite_sequence SET seq = @seq WHERE name = @name AND seq < @seq');
  const add = db.prepare(
    "INSERT INTO main.sqlite_sequence (name, seq) SELECT @name, @seq WHERE NOT EXISTS (SELECT 1 FROM main.sqlite_sequence WHERE name = @name) AND EXISTS (SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = @name AND sql LIKE '%AUTOINCREMENT%')",
  );
  for (const [name, seq] of before) {
    raise.run({ name, seq });
    add.run({ name, seq });
  }
}
