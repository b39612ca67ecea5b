/**
 * SQLite: a revision's `DROP TABLE t` (a down's, or an up's), run with foreign keys on, first deletes every row of t (SQLite's
 * implicit `DELETE FROM`), and the foreign keys of other tables act on it: ON DELETE CASCADE deletes
 * their rows, SET NULL / SET DEFAULT overwrites their column. Where such a table is one the run does
 * not drop (the app's own table, made beside the history), its rows would be lost by a down that never
 * names it (a hunt: `down base` emptied a `user_prefs` table referencing `users` ON DELETE CASCADE and
 * nulled another's column, "reverted", exit 0; PostgreSQL's `DROP TABLE … CASCADE` keeps those rows
 * and drops only the constraint). Checked before anything runs: such a run is refused (exit 6),
 * naming both tables and the rows. A step that turns foreign keys off (a table rebuild) drops nothing
 * that way, and is not checked.
 */
import type { Connection } from './dialect/types.js';
import type { PreparedStep } from './prepare.js';
import { Refused } from './errors.js';
import { quoteIdent } from './sql.js';

// a table's name as a down writes it: "quoted", `quoted`, [quoted] or plain, with an optional schema
const PART = String.raw`(?:"(?:[^"]|"")+"|\x60(?:[^\x60]|\x60\x60)+\x60|\[[^\]]+\]|[A-Za-z_\u0080-\uFFFF][A-Za-z0-9_$\u0080-\uFFFF]*)`;
const DROP_TABLE = new RegExp(String.raw`^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:(${PART})\s*\.\s*)?(${PART})\s*;?\s*$`, 'i');

/** A name part as SQLite reads it (its quotes taken off). */
function unquote(part: string): string {
  if (part.startsWith('"')) return part.slice(1, -1).replace(/""/g, '"');
  if (part.startsWith('\x60')) return part.slice(1, -1).replace(/\x60\x60/g, '\x60');
  if (part.startsWith('[')) return part.slice(1, -1);
  return part;
}

/** The tables a statement drops (a plain `DROP TABLE`, comments taken off), in the main schema. */
export function droppedTable(statement: string): string | undefined {
  const m = DROP_TABLE.exec(statement.replace(/^\s*--.*$/gm, '').trim());
  if (!m) return undefined;
  if (m[1] && unquote(m[1]).toLowerCase() !== 'main') return undefined;
  return unquote(m[2]!);
}

interface Referrer {
  child: string;
  column: string;
  action: string;
}

export async function checkCascadingDrops(conn: Connection, steps: PreparedStep[]): Promise<void> {
  if (conn.dialect !== 'sqlite' || !(await conn.foreignKeysOn?.())) return;
  // each step's dropped tables, read once (a table rebuild, foreign keys off, drops nothing that way)
  const drops = steps.map((step) => ({ step, rebuild: !!conn.foreignKeyRebuild?.(step.statements), tables: step.statements.map(droppedTable).filter((t): t is string => !!t) }));
  if (!drops.some((d) => !d.rebuild && d.tables.length)) return;
  // every table the run drops, in any step: its rows go with it whatever deletes them first
  const gone = new Set(drops.flatMap((d) => d.tables.map((t) => t.toLowerCase())));
  for (const { step, rebuild, tables } of drops) {
    if (rebuild) continue;
    for (const table of tables) {
      const referrers = await conn
        .query<Referrer>(
          `SELECT m.name AS child, f."from" AS "column", upper(f.on_delete) AS action FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f
           WHERE m.type = 'table' AND lower(f."table") = lower(?) AND upper(f.on_delete) IN ('CASCADE', 'SET NULL', 'SET DEFAULT') ORDER BY m.name, f.id, f.seq`,
          [table],
        )
        .catch(() => [] as Referrer[]); // a SQLite without pragma functions: not checked
      for (const r of referrers) {
        if (gone.has(r.child.toLowerCase())) continue;
        const rows = await conn.query<{ n: number }>(`SELECT count(*) AS n FROM ${quoteIdent(r.child)} WHERE ${quoteIdent(r.column)} IS NOT NULL`);
        const n = Number(rows[0]?.n ?? 0);
        if (!n) continue;
        const effect = r.action === 'CASCADE' ? 'delete' : `set "${r.column}" to ${r.action === 'SET NULL' ? 'NULL' : 'its default'} in`;
        throw new Refused(
          `the ${step.direction} of ${step.revision.id} drops table "${table}", which table "${r.child}" references (column "${r.column}", ON DELETE ${r.action}) and this run does not drop: ` +
            `with foreign keys on, SQLite first deletes the rows of "${table}", which would ${effect} the ${n} row(s) of "${r.child}" that reference it; nothing was changed; ` +
            `drop or change "${r.child}" (or its foreign key) first, or delete those rows yourself if they are to go`,
        );
      }
    }
  }
}
