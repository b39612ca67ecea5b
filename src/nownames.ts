/**
 * The names a statement of a down run uses, as the database has them before the run: migrate-down checks
 * every step before the first one runs (preflight.ts), but a statement names tables and columns as the
 * run leaves them by then. A revision above renamed `name` to `full_name` (its down, run first, renames
 * it back), and the down of the revision below narrows `"users"."name"`: read as it stands, before the
 * run, the check found no such column and let the narrowing cut the values (a hunt: `migrate-down
 * 0000_init` cut 'Bartholomew the Great' to 'Barth', exit 0, where two `migrate-down` refused).
 *
 * Followed, in order: `ALTER TABLE t RENAME TO u`, `ALTER TABLE t RENAME [COLUMN] a TO b`, a table or a
 * column made or dropped by the run (not there before it: nothing to check), and a table rebuild (a
 * table made by the run renamed to the name of one it dropped: the same rows, under the same names).
 * Anything else keeps its name.
 */
import type { DialectName } from './config.js';

const IDENT = String.raw`(?:"(?:[^"]|"")+"|\`(?:[^\`]|\`\`)+\`|\[[^\]]+\]|[A-Za-z_][A-Za-z0-9_$]*)`;
const REF = String.raw`((?:${IDENT}\s*\.\s*)?${IDENT})`;
const RENAME_TABLE = new RegExp(String.raw`^ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?${REF}\s+RENAME\s+TO\s+(${IDENT})\s*;?\s*$`, 'i');
const RENAME_COLUMN = new RegExp(String.raw`^ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?${REF}\s+RENAME\s+(?:COLUMN\s+)?(?!TO\b)(${IDENT})\s+TO\s+(${IDENT})\s*;?\s*$`, 'i');
const CREATE_TABLE = new RegExp(String.raw`^CREATE\s+(?:UNLOGGED\s+|TEMP\s+|TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?${REF}`, 'i');
const DROP_TABLE = new RegExp(String.raw`^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?${REF}\s*(?:CASCADE|RESTRICT)?\s*;?\s*$`, 'i');
const ADD_COLUMN = new RegExp(String.raw`^ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?${REF}\s+ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?!CONSTRAINT\b|PRIMARY\b|UNIQUE\b|CHECK\b|FOREIGN\b)(${IDENT})`, 'i');
const DROP_COLUMN = new RegExp(String.raw`^ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?${REF}\s+DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?(?!CONSTRAINT\b)(${IDENT})`, 'i');

/** An identifier as the database reads it: quotes dropped, doubled quotes single. */
export function unquoteIdent(ident: string): string {
  const q = ident[0];
  if (q === '"' || q === '`') return ident.slice(1, -1).split(q + q).join(q);
  if (q === '[') return ident.slice(1, -1);
  return ident;
}

/** The last part of a possibly qualified reference (`"public"."users"` → users). */
function lastPart(ref: string): string {
  const parts = ref.match(new RegExp(IDENT, 'g')) ?? [ref];
  return unquoteIdent(parts[parts.length - 1]!);
}

/** `ref` with its last part replaced by `name`, quoted (the schema part kept as written). */
function withLastPart(ref: string, name: string): string {
  const parts = ref.match(new RegExp(IDENT, 'g')) ?? [ref];
  const quoted = `"${name.replace(/"/g, '""')}"`;
  return parts.length > 1 ? `${parts.slice(0, -1).join('.')}.${quoted}` : quoted;
}

/** null: not there before the run (made by it, or renamed or dropped away). */
type Now = string | null;

export class NowNames {
  private readonly tables = new Map<string, Now>();
  private readonly columns = new Map<string, Now>();
  /** Tables the run dropped, with what they were before it (a rebuild renames its copy to one of them). */
  private readonly dropped = new Map<string, Now>();
  private readonly made = new Set<string>();

  constructor(private readonly dialect: DialectName) {}

  private key(name: string): string {
    return this.dialect === 'sqlite' ? name.toLowerCase() : name;
  }

  /** The table (unquoted) as it is before the run, or null when it is not there then. */
  table(name: string): Now {
    const k = this.key(name);
    return this.tables.has(k) ? this.tables.get(k)! : name;
  }

  /** The column (unquoted) of a table named as before the run, or null. */
  column(nowTable: string, name: string): Now {
    const k = `${this.key(nowTable)}\0${this.key(name)}`;
    return this.columns.has(k) ? this.columns.get(k)! : name;
  }

  /** A reference as written (`"users"`, `"public"."users"`) as it is before the run, quoted, or null. */
  tableRef(ref: string): string | null {
    const now = this.table(lastPart(ref));
    return now === null ? null : withLastPart(ref, now);
  }

  /** A quoted column of a table reference, both as written, as before the run: quoted, or null. */
  columnRef(tableRef: string, column: string): string | null {
    const table = this.table(lastPart(tableRef));
    if (table === null) return null;
    const now = this.column(table, unquoteIdent(column));
    return now === null ? null : `"${now.replace(/"/g, '""')}"`;
  }

  /** Follow a statement the run will have run before the next ones (comments dropped). */
  see(sql: string): void {
    const s = sql.trim();
    let m = RENAME_TABLE.exec(s);
    if (m) {
      const from = lastPart(m[1]!);
      const to = unquoteIdent(m[2]!);
      // a rebuild: the copy, made by the run, takes the name of the table it replaces (the same rows)
      const before = this.made.has(this.key(from)) && this.dropped.has(this.key(to)) ? this.dropped.get(this.key(to))! : this.table(from);
      this.tables.set(this.key(from), null);
      this.tables.set(this.key(to), before);
      return;
    }
    m = RENAME_COLUMN.exec(s);
    if (m) {
      const table = this.table(lastPart(m[1]!));
      if (table === null) return;
      const from = unquoteIdent(m[2]!);
      const to = unquoteIdent(m[3]!);
      const before = this.column(table, from);
      this.columns.set(`${this.key(table)}\0${this.key(from)}`, null);
      this.columns.set(`${this.key(table)}\0${this.key(to)}`, before);
      return;
    }
    m = CREATE_TABLE.exec(s);
    if (m) {
      const name = this.key(lastPart(m[1]!));
      this.made.add(name);
      this.tables.set(name, null);
      return;
    }
    m = DROP_TABLE.exec(s);
    if (m) {
      const name = lastPart(m[1]!);
      this.dropped.set(this.key(name), this.table(name));
      this.tables.set(this.key(name), null);
      return;
    }
    m = ADD_COLUMN.exec(s) ?? DROP_COLUMN.exec(s);
    if (m) {
      const table = this.table(lastPart(m[1]!));
      if (table !== null) this.columns.set(`${this.key(table)}\0${this.key(unquoteIdent(m[2]!))}`, null);
    }
  }
}
