/**
 * What makes a generated down faithful, beyond reversing the snapshot diff (pure functions on
 * drizzle-kit's snapshot JSON and its own SQL output):
 * - renames: the up's RENAME statements (the answers given to drizzle-kit's rename prompts) are read
 *   back, applied to the snapshot, and reversed as renames, so data is kept;
 * - PostgreSQL foreign keys: constraint drops go before table drops and are guarded with IF EXISTS
 *   (a DROP TABLE … CASCADE may already have removed them);
 * - type changes get a USING cast and a data-dependent warning; SET NOT NULL and NOT NULL columns
 *   without default are flagged;
 * - an up whose statements the snapshot pair does not produce (hand-written or edited SQL) is marked
 *   "manual down required".
 */
import type { DialectName } from './config.js';
import { quoteLiteralInBody } from './sql.js';

type Snapshot = Record<string, any>;

export interface Rename {
  /** `move`: PostgreSQL, a table moved to another schema (`from` and `to` are the schemas). */
  kind: 'table' | 'column' | 'enum' | 'move';
  /** The table (for an enum: its name before the rename, as for a table). */
  table: string;
  from: string;
  to: string;
  /** PostgreSQL enum: the schema the up named it in (kept in the reverse statement; unset when unqualified). */
  schema?: string;
}

const ID = String.raw`(?:[\`"]([^\`"]+)[\`"]\.)?[\`"]([^\`"]+)[\`"]`;
const RENAME_TABLE = new RegExp(String.raw`^ALTER TABLE ${ID} RENAME TO [\`"]([^\`"]+)[\`"]`, 'i');
const RENAME_COLUMN = new RegExp(String.raw`^ALTER TABLE ${ID} RENAME COLUMN [\`"]([^\`"]+)[\`"] TO [\`"]([^\`"]+)[\`"]`, 'i');
/** PostgreSQL: `ALTER TYPE [schema.]name RENAME TO new` (older drizzle-kit versions broke it over two lines). */
const RENAME_ENUM = /^ALTER\s+TYPE\s+(?:"([^"]+)"\.)?"([^"]+)"\s+RENAME\s+TO\s+"([^"]+)"\s*;?$/i;
/**
 * PostgreSQL: `ALTER TABLE [schema.]table SET SCHEMA other` (drizzle-kit's move of a table into or out
 * of a pgSchema, from the answer to its question). Was: the reverse diff saw a table made in one schema
 * and dropped in the other, and asked again on a terminal, where the default answer wrote a down that
 * dropped the table's rows (found by a hunt).
 */
const MOVE_TABLE = /^ALTER\s+TABLE\s+(?:"([^"]+)"\.)?"([^"]+)"\s+SET\s+SCHEMA\s+"([^"]+)"\s*;?$/i;

/** Renames in an up's statements, in order. */
export function renamesIn(statements: string[]): Rename[] {
  const out: Rename[] = [];
  for (const [i, raw] of statements.entries()) {
    const s = stripComments(raw).trim();
    const t = RENAME_TABLE.exec(s);
    if (t) {
      if (t[2]!.startsWith('__new_')) continue; // the last step of a SQLite table rebuild, not a rename
      out.push({ kind: 'table', table: t[2]!, from: t[2]!, to: t[3]! });
      continue;
    }
    const c = RENAME_COLUMN.exec(s);
    if (c) {
      out.push({ kind: 'column', table: c[2]!, from: c[3]!, to: c[4]! });
      continue;
    }
    const m = MOVE_TABLE.exec(s);
    if (m) {
      out.push({ kind: 'move', table: m[2]!, from: m[1] ?? 'public', to: m[3]! });
      continue;
    }
    const e = RENAME_ENUM.exec(s);
    // (an enum moved aside to be replaced — renamed, made anew under its old name, the old one dropped —
    // is no rename to undo: the snapshots see one enum whose values changed)
    if (e && !replacedLater(statements.slice(i + 1), e[2]!, e[3]!)) out.push({ kind: 'enum', table: e[2]!, from: e[2]!, to: e[3]!, ...(e[1] ? { schema: e[1] } : {}) });
  }
  return out;
}

/** A later statement makes an enum anew under `from`, or drops `to`. */
function replacedLater(later: string[], from: string, to: string): boolean {
  const name = (n: string) => `(?:"[^"]+"\\.)?"${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`;
  const made = new RegExp(`CREATE\\s+TYPE\\s+${name(from)}\\s+AS\\s+ENUM`, 'i');
  const dropped = new RegExp(`DROP\\s+TYPE\\s+(?:IF\\s+EXISTS\\s+)?${name(to)}`, 'i');
  return later.some((st) => made.test(st) || dropped.test(st));
}

export function stripComments(sql: string): string {
  return sql
    .split('\n')
    .filter((l) => !l.trim().startsWith('--'))
    .join('\n');
}

/** A copy of the snapshot with the renames applied (names as they are after each rename). */
export function applyRenames(snapshot: Snapshot, renames: Rename[], dialect: DialectName): Snapshot {
  const snap: Snapshot = structuredClone(snapshot);
  for (const r of renames) {
    if (r.kind === 'table') renameTable(snap, r.from, r.to, dialect);
    else if (r.kind === 'move') moveTable(snap, r.table, r.from, r.to);
    else if (r.kind === 'enum') renameEnum(snap, r.from, r.to, r.schema);
    else renameColumn(snap, r.table, r.from, r.to);
  }
  return snap;
}

/** The renames that undo `renames`, in reverse order. */
export function reverseRenames(renames: Rename[]): Rename[] {
  return [...renames].reverse().map((r) => (r.kind === 'column' || r.kind === 'move' ? { ...r, from: r.to, to: r.from } : { ...r, table: r.to, from: r.to, to: r.from }));
}

export function renameSql(r: Rename, dialect: DialectName): string {
  const q = (n: string) => (dialect === 'sqlite' ? `\`${n}\`` : `"${n}"`);
  if (r.kind === 'enum') return `ALTER TYPE ${r.schema ? `${q(r.schema)}.` : ''}${q(r.from)} RENAME TO ${q(r.to)};`;
  if (r.kind === 'move') return `ALTER TABLE ${q(r.from)}.${q(r.table)} SET SCHEMA ${q(r.to)};`;
  return r.kind === 'table' ? `ALTER TABLE ${q(r.from)} RENAME TO ${q(r.to)};` : `ALTER TABLE ${q(r.table)} RENAME COLUMN ${q(r.from)} TO ${q(r.to)};`;
}

/** PostgreSQL snapshot: the enum renamed, and every column of that type (arrays too) following it. */
function renameEnum(snap: Snapshot, from: string, to: string, schema: string | undefined): void {
  const found = (Object.entries(snap.enums ?? {}) as [string, Snapshot][]).find(([, e]) => e.name === from && (!schema || (e.schema || 'public') === schema));
  if (!found) return;
  const [key, en] = found;
  const enumSchema = en.schema || 'public';
  delete snap.enums[key];
  en.name = to;
  snap.enums[key.includes('.') ? `${enumSchema}.${to}` : to] = en; // older snapshots key enums by name alone
  for (const t of Object.values(snap.tables ?? {}) as Snapshot[]) {
    for (const col of Object.values(t.columns ?? {}) as Snapshot[]) {
      if (typeof col.type !== 'string' || (col.typeSchema && col.typeSchema !== enumSchema)) continue;
      const m = /^(.*?)((?:\[\d*\])*)$/.exec(col.type)!;
      if (m[1] === from) col.type = `${to}${m[2]}`;
    }
  }
}

function findTable(snap: Snapshot, name: string): [string, Snapshot] | undefined {
  return (Object.entries(snap.tables ?? {}) as [string, Snapshot][]).find(([, t]) => t.name === name);
}

function renameTable(snap: Snapshot, from: string, to: string, dialect: DialectName): void {
  const found = findTable(snap, from);
  if (!found) return;
  const [key, table] = found;
  delete snap.tables[key];
  table.name = to;
  snap.tables[dialect === 'postgresql' ? `${table.schema || 'public'}.${to}` : to] = table;
  for (const t of Object.values(snap.tables) as Snapshot[]) {
    for (const fk of Object.values(t.foreignKeys ?? {}) as Snapshot[]) {
      if (fk.tableFrom === from) fk.tableFrom = to;
      if (fk.tableTo === from) fk.tableTo = to;
    }
  }
}

/** PostgreSQL snapshot: table `name` moved from schema `from` to `to`, and the foreign keys that point to it following it. */
function moveTable(snap: Snapshot, name: string, from: string, to: string): void {
  const schemaOf = (s: unknown) => (typeof s === 'string' && s !== '' ? s : 'public');
  const found = (Object.entries(snap.tables ?? {}) as [string, Snapshot][]).find(([, t]) => t.name === name && schemaOf(t.schema) === from);
  if (!found) return;
  const [key, table] = found;
  delete snap.tables[key];
  table.schema = to === 'public' ? '' : to;
  snap.tables[`${to}.${name}`] = table;
  for (const t of Object.values(snap.tables) as Snapshot[]) {
    for (const fk of Object.values(t.foreignKeys ?? {}) as Snapshot[]) {
      if (typeof fk === 'object' && fk.tableTo === name && schemaOf(fk.schemaTo) === from) fk.schemaTo = to;
    }
  }
}

function renameColumn(snap: Snapshot, tableName: string, from: string, to: string): void {
  const found = findTable(snap, tableName);
  if (!found) return;
  const table = found[1];
  const col = table.columns?.[from];
  if (!col) return;
  delete table.columns[from];
  col.name = to;
  table.columns[to] = col;
  const swap = (c: any) => (typeof c === 'string' ? (c === from ? to : c) : c && c.expression === from && !c.isExpression ? { ...c, expression: to } : c);
  for (const idx of Object.values(table.indexes ?? {}) as Snapshot[]) if (Array.isArray(idx.columns)) idx.columns = idx.columns.map(swap);
  for (const group of ['compositePrimaryKeys', 'uniqueConstraints']) {
    for (const c of Object.values(table[group] ?? {}) as Snapshot[]) if (Array.isArray(c.columns)) c.columns = c.columns.map(swap);
  }
  for (const fk of Object.values(table.foreignKeys ?? {}) as Snapshot[]) fk.columnsFrom = (fk.columnsFrom ?? []).map(swap);
  for (const t of Object.values(snap.tables) as Snapshot[]) {
    for (const fk of Object.values(t.foreignKeys ?? {}) as Snapshot[]) if (fk.tableTo === tableName) fk.columnsTo = (fk.columnsTo ?? []).map(swap);
  }
}

export interface Refined {
  sql: string;
  warning?: string;
}

const UNNAMED_PK_DROP = /\/\*[\s\S]*?can't automatically get name for primary key[\s\S]*?\*\/\s*--\s*ALTER TABLE ((?:"[^"]+"\.)?"[^"]+") DROP CONSTRAINT "<constraint_name>";?/;

/**
 * drizzle-kit cannot name a primary key it must drop and leaves the statement commented out, so the
 * ADD PRIMARY KEY that follows fails ("multiple primary keys"). Replace it with a block that looks up
 * the table's real primary-key constraint (in the schema sluice targets) and drops it.
 */
export function resolvePrimaryKeyDrops(statements: string[]): string[] {
  return statements.map(resolvePrimaryKeyDropsInText);
}

/** The same on a whole file's text. */
export function resolvePrimaryKeyDropsInText(text: string): string {
  return text.replace(new RegExp(UNNAMED_PK_DROP.source, 'g'), (_all, ref: string) => pkDropBlock(ref));
}

/** A string literal as pkDropBlock writes it (`'t'`, with `|| pg_catalog.chr(36) ||` between the parts of a name holding `$`). */
const BLOCK_LITERAL = String.raw`'(?:[^']|'')*'(?: \|\| pg_catalog\.chr\(36\) \|\| '(?:[^']|'')*')*`;
const PK_DROP_BLOCK = new RegExp(
  String.raw`^DO \$sluice\$ DECLARE pk text; BEGIN\s+SELECT conname INTO pk FROM pg_constraint WHERE conrelid = to_regclass\((${BLOCK_LITERAL})\) AND contype = 'p';\s+IF pk IS NOT NULL THEN EXECUTE format\('ALTER TABLE %s DROP CONSTRAINT %I', (${BLOCK_LITERAL}), pk\); END IF;\s+END \$sluice\$;?$`,
);

/**
 * sluice's own block of resolvePrimaryKeyDrops (comment lines removed): it drops a constraint and
 * writes no row, so a down's checks before a type change after it still run (preflight.ts; was: read
 * as a DO block that writes rows, the checks skipped, and the generated down rounded values, exit 0).
 */
export function isPrimaryKeyDropBlock(sql: string): boolean {
  const m = PK_DROP_BLOCK.exec(sql.trim());
  return !!m && m[1] === m[2];
}

function pkDropBlock(ref: string): string {
  const table = ref.replace(/^"public"\./, '');
  const literal = quoteLiteralInBody(table); // inside the DO block's body
  return [
    `-- sluice: drops the primary key whatever its name (drizzle-kit could not name it)`,
    `DO $sluice$ DECLARE pk text; BEGIN`,
    `  SELECT conname INTO pk FROM pg_constraint WHERE conrelid = to_regclass(${literal}) AND contype = 'p';`,
    `  IF pk IS NOT NULL THEN EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', ${literal}, pk); END IF;`,
    `END $sluice$;`,
  ].join('\n');
}

/** Order, guard and annotate drizzle-kit's down statements. */
export function refineDown(dialect: DialectName, statements: string[]): Refined[] {
  let list = (dialect === 'postgresql' ? resolvePrimaryKeyDrops(statements) : statements).map((s) => s.trim()).filter(Boolean);
  if (dialect === 'postgresql') {
    const isConstraintDrop = (s: string) => /^ALTER TABLE .* DROP CONSTRAINT /i.test(s);
    const lead = list.findIndex((s) => !/ RENAME (TO|COLUMN) /i.test(s));
    const renames = lead < 0 ? list : list.slice(0, lead);
    const rest = lead < 0 ? [] : list.slice(lead);
    list = [...renames, ...rest.filter(isConstraintDrop).map((s) => s.replace(/ DROP CONSTRAINT (?!IF EXISTS )/i, ' DROP CONSTRAINT IF EXISTS ')), ...rest.filter((s) => !isConstraintDrop(s))];
    list = hoistColumnDropsBeforeTypeDrops(list).map((s) => s.replace(/^DROP INDEX (?!IF EXISTS )/i, 'DROP INDEX IF EXISTS '));
    list = list.flatMap((s) => [s, ...identityRestart(s)]);
  }
  return list.map((sql, i) => regenerated(sql, list.slice(0, i)) ?? annotate(dialect, sql));
}

/**
 * After a down gives a column its identity back: the identity's sequence moved past the rows the
 * column holds (drizzle-kit writes `START WITH 1`, so the next insert took id 1 again and failed on
 * the primary key; found by a hunt). Nothing when the table is empty, or the identity counts down.
 * The table in the text is unqualified when it is `public`'s, found through search_path as the down runs.
 */
function identityRestart(sql: string): string[] {
  const m = /^ALTER TABLE ((?:"[^"]+"\.)?"[^"]+") ALTER COLUMN ("[^"]+") ADD GENERATED (?:ALWAYS|BY DEFAULT) AS IDENTITY/i.exec(sql);
  if (!m || /INCREMENT BY\s+-/i.test(sql)) return [];
  const [, table, column] = m;
  const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const seq = `pg_catalog.pg_get_serial_sequence(${literal(table!.replace(/^"public"\./, ''))}, ${literal(column!.slice(1, -1).replace(/""/g, '"'))})::regclass`;
  // only forward, within the sequence's bounds: an identity `START WITH 1000` above the ids held keeps
  // its start, and ids at or below 0 are left to it (found by a hunt: set back to 2 under START WITH
  // 1000; and `setval: value 0 is out of bounds`, which failed an up drizzle-kit's own would apply)
  return [
    `SELECT pg_catalog.setval(q.seqrelid, v.m) FROM (SELECT max(${column}) AS m FROM ${table}) v, pg_catalog.pg_sequence q WHERE q.seqrelid = ${seq} AND v.m >= q.seqstart AND v.m <= q.seqmax;`,
  ];
}

/**
 * The same after an up's `ADD GENERATED … AS IDENTITY` (a column made an identity, with its rows):
 * drizzle-kit's `START WITH 1` left the sequence below the ids the column holds, so the app's first
 * insert after migrate-up took id 1 again and failed on the primary key (a hunt). Applied to the up
 * file migrate-create writes, each statement as drizzle-kit separates them.
 */
export function restartIdentitiesInText(text: string): string {
  return text
    .split(/(-->\s*statement-breakpoint)/)
    .map((part) => {
      if (/^-->/.test(part)) return part;
      const trailing = /\s*$/.exec(part)![0];
      const body = part.slice(0, part.length - trailing.length);
      const restart = identityRestart(body.trim());
      return restart.length ? `${body}--> statement-breakpoint\n${restart.join('\n')}${trailing}` : part;
    })
    .join('');
}

/**
 * drizzle-kit may re-create an enum (DROP TYPE + CREATE TYPE) before dropping a column that still uses
 * it ("column … depends on type"): column drops that follow a type drop move in front of it.
 */
function hoistColumnDropsBeforeTypeDrops(list: string[]): string[] {
  const out = [...list];
  for (let i = 0; i < out.length; i++) {
    if (!/^DROP TYPE /i.test(out[i]!)) continue;
    const later = out.slice(i + 1).filter((s) => /^ALTER TABLE .* DROP COLUMN /i.test(s));
    if (!later.length) continue;
    const rest = out.slice(i).filter((s) => !later.includes(s));
    out.splice(i, out.length - i, ...later, ...rest);
    i += later.length;
  }
  return out;
}

/** A table as drizzle-kit writes it (`"t"`, `"s"."t"`), a quoted part possibly holding spaces, `.` or `""`; and a quoted column (its inner text). */
const QUOTED = '"(?:[^"]|"")+"';
const TABLE = `((?:${QUOTED}|[^\\s".]+)(?:\\.(?:${QUOTED}|[^\\s".]+))?)`;
const COLUMN = '"((?:[^"]|"")+)"';
/** A quoted name's inner text as the name reads (`""` is one `"`). */
const unquoted = (inner: string): string => inner.replace(/""/g, '"');

/**
 * A generated column the down adds again after dropping the plain column of that name: the up made it
 * plain (`DROP EXPRESSION`), and the down replaces what was written into it since with what its
 * expression computes (found by a hunt: 999 became 6, "verified", no warning).
 */
function regenerated(sql: string, before: string[]): Refined | undefined {
  const add = /^ALTER TABLE ((?:"(?:[^"]|"")+"\.)?"(?:[^"]|"")+") ADD (?:COLUMN )?"((?:[^"]|"")+)"(.*)$/is.exec(sql);
  if (!add || !/\bGENERATED\s+ALWAYS\s+AS\s*\(/i.test(add[3]!)) return undefined;
  const column = add[2]!;
  const dropped = before.some((s) => {
    const d = /^ALTER TABLE ((?:"(?:[^"]|"")+"\.)?"(?:[^"]|"")+") DROP COLUMN (?:IF EXISTS )?"((?:[^"]|"")+)"/i.exec(s.trim());
    return !!d && bare(d[1]!) === bare(add[1]!) && d[2] === column;
  });
  if (!dropped) return undefined;
  return { sql, warning: `column ${bare(add[1]!)}.${unquoted(column)} comes back generated, holding what its expression computes: the values written into it since the up made it a plain column are not restored` };
}

function annotate(dialect: DialectName, sql: string): Refined {
  const type = new RegExp(`^ALTER TABLE ${TABLE} ALTER COLUMN ${COLUMN} SET DATA TYPE (.+?)( USING .*)?;?$`, 'is').exec(sql);
  if (type) {
    const [, table, column, newType, using] = type;
    const target = `${bare(table!)}.${unquoted(column!)}`;
    const cast = using ? sql : `ALTER TABLE ${table} ALTER COLUMN "${column}" SET DATA TYPE ${newType} USING "${column}"::${newType};`;
    if (/^(text|varchar|character varying)\b/i.test(newType!)) return { sql: cast };
    if (using) return { sql, warning: `data-dependent: every value of ${target} must be a value of ${bare(newType!)} (checked before migrate-down for enums)` };
    return { sql: cast, warning: `data-dependent: every value of ${target} must convert to ${newType} (USING cast added)` };
  }
  // The up made a plain column generated (PostgreSQL cannot in place: drizzle-kit drops it and adds it
  // generated); the down makes it plain again, holding what the expression computed, not its old values
  const expression = new RegExp(`^ALTER TABLE ${TABLE} ALTER COLUMN ${COLUMN} DROP EXPRESSION`, 'i').exec(sql);
  if (expression) {
    return { sql, warning: `column ${bare(expression[1]!)}.${unquoted(expression[2]!)} comes back holding the values its expression computed: the values it had before the up made it generated are not restored` };
  }
  const notNull = new RegExp(`^ALTER TABLE ${TABLE} ALTER COLUMN ${COLUMN} SET NOT NULL`, 'i').exec(sql);
  if (notNull) return { sql, warning: `data-dependent: fails if ${bare(notNull[1]!)}.${unquoted(notNull[2]!)} holds NULLs` };
  // a sequence the up dropped starts again where it was declared to start (found by a hunt: the numbers
  // given out before were given out again, "verified", no warning)
  const sequence = /^CREATE SEQUENCE (?:IF NOT EXISTS )?((?:"[^"]+"\.)?"[^"]+")/i.exec(sql);
  if (sequence) return { sql, warning: `sequence ${bare(sequence[1]!)} comes back at its start: the numbers it gave out before the up dropped it are given out again; move it past them (SELECT setval(…)) if rows keep them` };
  const table = /^CREATE TABLE [`"]([^`"]+)[`"]/i.exec(sql);
  if (table && !table[1]!.startsWith('__new_')) return { sql, warning: `table ${table[1]} comes back empty: the rows the up dropped are not restored` };
  const column = /^ALTER TABLE [`"]([^`"]+)[`"](?:\.[`"]([^`"]+)[`"])? ADD (?:COLUMN )?[`"]([^`"]+)[`"](.*)$/is.exec(sql);
  if (column) {
    const name = `${column[2] ?? column[1]}.${column[3]}`;
    // a generated column is computed again from its expression: nothing of it is lost (a hunt's remark:
    // "comes back empty" was said of it)
    if (/\bGENERATED\s+ALWAYS\s+AS\s*\(/i.test(column[4]!)) return { sql };
    if (/NOT NULL/i.test(column[4]!) && !/DEFAULT/i.test(column[4]!)) {
      return { sql, warning: `data-dependent: adds NOT NULL column ${name} without a default, which fails if the table has rows; and it comes back empty` };
    }
    return { sql, warning: `column ${name} comes back empty (NULL or its default): the values the up dropped are not restored` };
  }
  if (dialect === 'sqlite' && /^INSERT INTO [`"]__new_/i.test(sql)) {
    return { sql, warning: 'table rebuild: only the columns both shapes have are copied' };
  }
  return { sql };
}

function bare(name: string): string {
  return name.replace(/[`"]/g, '').replace(/^public\./, '');
}

/** Normalised statement text for comparing an up with what the snapshots produce. */
export function normalise(sql: string): string {
  return stripComments(sql)
    .replace(/`/g, '"') // drizzle-kit mixes quote styles in SQLite (RENAME COLUMN "a" TO "b")
    .replace(/\s+/g, ' ')
    .replace(/\s*;\s*$/, '')
    .trim()
    .toLowerCase();
}

/** Statements of `up` that `expected` lacks, and the other way round (as sets). */
export function compareStatements(up: string[], expected: string[]): { extra: string[]; missing: string[] } {
  const exp = new Set(expected.map(normalise));
  const got = new Set(up.map(normalise).filter(Boolean));
  return { extra: [...got].filter((s) => !exp.has(s)), missing: [...exp].filter((s) => !got.has(s)) };
}
