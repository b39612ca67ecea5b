/**
 * drizzle-kit's up for a column renamed and changed in one model edit holds the RENAME alone: the
 * type, NOT NULL or default the new snapshot records for the column is never applied, and the database
 * no longer matches the models, with nothing said (a hunt: migrate-create "verified", migrate-check and
 * db-test ok). Read from the two snapshots and the up's statements, no database: what the snapshot
 * changed besides the name, when no other statement of the up touches the column.
 */
import { renamesIn } from './downrules.js';

type Column = { name?: string; type?: unknown; notNull?: unknown; default?: unknown; primaryKey?: unknown };
type Tables = Record<string, { name?: string; schema?: string; columns?: Record<string, Column> }>;

/** The column of table `table` (its name, as the up writes it) in a snapshot, by its name. */
function columnOf(snapshot: Record<string, unknown>, table: string, column: string): Column | undefined {
  const tables = (snapshot.tables ?? {}) as Tables;
  for (const t of Object.values(tables)) {
    if ((t?.name ?? '') !== table) continue;
    const c = Object.values(t.columns ?? {}).find((x) => x?.name === column);
    if (c) return c;
  }
  return undefined;
}

const shown = (v: unknown) => (v === undefined ? 'none' : typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Warnings for the up's column renames whose other changes the up leaves out: one per column, naming
 * what the snapshot changed (type, NOT NULL, default).
 */
export function renameChangesLeftOut(statements: string[], previous: Record<string, unknown> | undefined, current: Record<string, unknown>): string[] {
  if (!previous) return [];
  const out: string[] = [];
  for (const r of renamesIn(statements)) {
    if (r.kind !== 'column') continue;
    const before = columnOf(previous, r.table, r.from);
    const after = columnOf(current, r.table, r.to);
    if (!before || !after) continue;
    const changed: string[] = [];
    if (shown(before.type) !== shown(after.type)) changed.push(`type ${shown(before.type)} -> ${shown(after.type)}`);
    if (!!before.notNull !== !!after.notNull) changed.push(after.notNull ? 'NOT NULL' : 'NOT NULL dropped');
    if (shown(before.default) !== shown(after.default)) changed.push(`default ${shown(before.default)} -> ${shown(after.default)}`);
    if (!changed.length) continue;
    // another statement of the up that names the column (an ALTER COLUMN drizzle-kit or the author wrote)
    const quoted = new RegExp(`["\`]${r.to.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["\`]`);
    const others = statements.filter((s) => quoted.test(s) && !/\bRENAME\b/i.test(s));
    if (others.length) continue;
    out.push(
      `drizzle-kit's up renames ${r.table}.${r.from} to ${r.to} but leaves out its other changes (${changed.join(', ')}): the database will not match the models; add them to the up (ALTER TABLE … ALTER COLUMN "${r.to}" …), or make the rename and the change in two migrate-create runs`,
    );
  }
  return out;
}
