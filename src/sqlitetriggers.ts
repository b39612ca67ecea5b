/**
 * SQLite triggers as a history's ups make and drop them, for the lint of a table rebuild: SQLite drops a
 * table's triggers with the table, and drizzle-kit's rebuild (copy into `__new_<table>`, DROP TABLE,
 * rename) does not make them again (found by a hunt: an audit trigger from a hand-written revision was
 * gone after a rebuild, and nothing said so). Read from the files, in revision order, once.
 */
import type { SqliteEngine } from './config.js';
import { readUp, type RevisionFile } from './source.js';
import { parseSql } from './sqlparse.js';
import { statementChange } from './sqlchange.js';

/** Table (lower case) → its triggers (lower-case name → name as written). */
export type TriggersByTable = Map<string, Map<string, string>>;

/** Files that cannot make, drop or move a trigger are not parsed. */
const MAY_CHANGE = /\b(TRIGGER|DROP\s+TABLE|RENAME)\b/i;

/**
 * `before(index)`: the triggers each table has once the revisions below `index` ran. Called with
 * rising indexes (lint's order), it reads each file once; a lower index starts over.
 */
export function sqliteTriggerTracker(history: readonly RevisionFile[], engine?: SqliteEngine): { before(index: number): TriggersByTable } {
  let on: TriggersByTable = new Map();
  let next = 0;
  return {
    before(index: number): TriggersByTable {
      if (index < next) {
        on = new Map();
        next = 0;
      }
      for (; next < index && next < history.length; next++) apply(on, history[next]!, engine);
      return on;
    },
  };
}

function apply(on: TriggersByTable, rev: RevisionFile, engine: SqliteEngine | undefined): void {
  let statements: string[];
  try {
    const text = readUp(rev);
    if (!MAY_CHANGE.test(text)) return;
    statements = parseSql(text, 'sqlite', engine).statements.map((s) => s.text);
  } catch {
    return; // a file that cannot be read or parsed is reported by the lint of its own revision
  }
  for (const sql of statements) {
    const c = statementChange(sql, 'sqlite');
    if (c.createsTrigger) {
      const table = c.createsTrigger.table.toLowerCase();
      if (!on.has(table)) on.set(table, new Map());
      on.get(table)!.set(c.createsTrigger.name.toLowerCase(), c.createsTrigger.name);
    }
    if (c.dropsTrigger) for (const triggers of on.values()) triggers.delete(c.dropsTrigger.toLowerCase());
    for (const t of c.dropsTables) on.delete(t.toLowerCase());
    if (c.renamesTable) {
      const moved = on.get(c.renamesTable.from.toLowerCase());
      on.delete(c.renamesTable.from.toLowerCase());
      if (moved) on.set(c.renamesTable.to.toLowerCase(), moved);
    }
  }
}
