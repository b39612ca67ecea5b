/**
 * Repairs of a generated down from what running it on the scratch database showed (downproof.ts asks,
 * prove.ts runs the repaired down again and keeps it only if it then proves out). The snapshots
 * describe what drizzle-kit thought the schema was; the run shows what the real ups built:
 * leftovers the up made by hand get their known inverse; objects the up re-created get the
 * definition an earlier up gave them; constraint names and enum values follow the real state; a
 * statement at odds with the real state (what it creates is there already, what it changes is not
 * there) is left out; a default that does not cast is dropped before the type change. PostgreSQL only.
 */
import type { RenderedDown } from './commands/downfile.js';
import { alteredColumnType, createdEnum, definitionsIn, inversesFor } from './inverse.js';
import type { Proof } from './prove.js';
import { readUp, type RevisionFile } from './source.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { renamesIn, type Rename } from './downrules.js';
import { parseSql } from './sqlparse.js';

/**
 * The down's statements mended for what its last attempt showed: a statement that fails because the
 * real state has (or lacks) the object the snapshots describe is left out; a type change
 * whose old default does not cast gets its default dropped first; leftovers get
 * the inverses of the up's statements that made them; constraint names and enum values follow the
 * previous revision's real state. Undefined when nothing applies.
 */
export function repairDown(rev: RevisionFile, statements: RenderedDown['statements'], proof: Proof, history: RevisionFile[]): RenderedDown['statements'] | undefined {
  const mended = proof.failed && mendFailure(statements, proof.failed);
  if (mended) return mended;
  const dependents = !!proof.failed && /other objects depend on it/.test(proof.failed.message);
  if (proof.failed ? !dependents : !proof.differences.length) return undefined;
  // Functions, triggers and indexes the up re-created get back the definition an earlier up gave them
  // (before the down's statements: an old trigger does not depend on the columns the down drops).
  const restored = previousDefinitions(rev, history);
  const inverted = proof.differences.length ? repairWithInverses(rev, statements, proof.differences, restored.map((r) => r.object)) : undefined;
  return inverted || restored.length ? [...restored.flatMap((r) => r.statements), ...(inverted ?? statements)] : undefined;
}

/**
 * Each function, trigger and index the up (re-)creates that an earlier up defined: its drop (triggers,
 * indexes) and the last earlier definition, as that up wrote it.
 */
function previousDefinitions(rev: RevisionFile, history: RevisionFile[]): { object: string; statements: RenderedDown['statements'] }[] {
  const mine = definitionsIn(parseSql(readUp(rev), 'postgresql').statements.map((s) => s.text));
  if (!mine.length) return [];
  const earlier = history.slice(0, history.findIndex((r) => r.id === rev.id)).reverse();
  const found = new Map<string, { object: string; statements: RenderedDown['statements'] }>();
  for (const r of earlier) {
    const wanted = mine.filter((m) => !found.has(m.object));
    if (!wanted.length) break;
    const theirs = definitionsIn(parseSql(readUp(r), 'postgresql').statements.map((s) => s.text));
    for (const m of wanted) {
      const def = theirs.filter((t) => t.object === m.object).at(-1);
      if (!def) continue;
      const text = def.text.replace(/^CREATE\s+FUNCTION\b/i, 'CREATE OR REPLACE FUNCTION');
      const drop = m.object.startsWith('function ') ? [] : [{ sql: `${def.drop};` }];
      found.set(m.object, { object: m.object, statements: [...drop, { sql: `-- sluice: ${m.object.replace(/\($/, '')} as ${r.id}'s up defined it (the up re-created it)\n${text};` }] });
    }
  }
  return [...found.values()];
}

/** PostgreSQL's words for a statement at odds with the state it runs on (the object is there already, or is not). */
const EXISTENCE = /already exists|does not exist/;

function mendFailure(statements: RenderedDown['statements'], failed: NonNullable<Proof['failed']>): RenderedDown['statements'] | undefined {
  const at = statements.findIndex((st) => {
    const parsed = parseSql(st.sql, 'postgresql').statements;
    return parsed.length === 1 && parsed[0]!.text === failed.statement;
  });
  if (at < 0) return undefined;
  // The snapshots thought the schema was otherwise (an up edited by hand, a snapshot out of step): the
  // statement is left out, and the down is kept only if it then restores the previous state with its rows.
  const [kind] = parseSql(statements[at]!.sql, 'postgresql').statements.map((s) => s.kind);
  const typeInUse = kind === 'DropStmt' && /^DROP\s+TYPE\b/i.test(failed.statement) && /other objects depend on it/.test(failed.message);
  // (never a rename: it carries rows or values, and what the down does instead could drop them)
  if ((EXISTENCE.test(failed.message) && kind !== 'RenameStmt') || typeInUse) {
    const said = `${failed.statement.split('\n')[0]!.slice(0, 120)}: ${failed.message}`.replace(/[\r\n\u2028\u2029]+/g, ' ');
    return [...statements.slice(0, at), { sql: `-- sluice: left out, the real state differs from the snapshots (${said})` }, ...statements.slice(at + 1)];
  }
  // A column's type change whose old default does not cast: drop the default first (the down sets
  // the previous revision's default after it, when it had one).
  const column = /default for column .* cannot be cast automatically/.test(failed.message) ? alteredColumnType(failed.statement) : undefined;
  if (column) {
    const drop = { sql: `-- sluice: the default does not cast to the new type; dropped before the change\nALTER TABLE ${column[0]} ALTER COLUMN ${column[1]} DROP DEFAULT;` };
    return [...statements.slice(0, at), drop, ...statements.slice(at)];
  }
  return undefined;
}

/** The down's statements again with the inverses of the leftovers (statements the snapshots do not describe). */
function repairWithInverses(rev: RevisionFile, statements: RenderedDown['statements'], differences: string[], keep: string[] = []): RenderedDown['statements'] | undefined {
  const up = parseSql(readUp(rev), 'postgresql').statements.map((s) => s.text);
  const inverses = inversesFor(up, differences).filter((i) => !keep.some((k) => i.object.startsWith(k)));
  const renames = constraintRenames(differences);
  const reordered = withEnumOrder(statements, differences);
  const restored = [...restoredDefinitions(differences), ...restoredColumns(differences, renamesIn(up))];
  if (!inverses.length && !renames.length && !reordered && !restored.length) return undefined;
  const stmt = (i: (typeof inverses)[number]) => ({ sql: `-- sluice: inverse of the up's "${i.of.replace(/\s+/g, ' ')}" (not in the snapshots)\n${i.note ? `-- note: ${i.note}\n` : ''}${i.sql};` });
  const before = inverses.filter((i) => i.when === 'before').reverse().map(stmt);
  const after = inverses.filter((i) => i.when === 'after').reverse().map(stmt);
  return [...before, ...(reordered ?? statements), ...after, ...renames, ...restored];
}

/**
 * A definition as introspect.ts reads it, with the scratch schema (`$.` before a name) left to the
 * search path; a `$.` inside a string literal (a jsonpath) is left alone.
 */
const unscoped = (def: string): string => {
  const parts = def.split(/('(?:[^']|'')*')/);
  return parts
    .map((part, i) =>
      i % 2
        ? /^::regclass\b/.test(parts[i + 1] ?? '') ? part.replace(/^'\$\./, "'") : part // nextval('$.seq'::regclass)
        : part.replace(/(^|[^\p{L}\p{N}_$"])\$\.(?=["\p{L}_])/gu, '$1'),
    )
    .join('');
};

/**
 * A name as introspect.ts writes it in a line (`table.name`, unquoted), read back only when it cannot
 * be read two ways: no dot, space or quote in it. Anything else is left to a hand (the down stays flagged).
 */
const PLAIN = /^[\p{L}\p{N}_$-]+$/u;

/**
 * Indexes and constraints the down leaves otherwise than the previous revision's real state has them
 * (a partial index the snapshots know without its WHERE, a CHECK added by hand): the ones the state
 * lacks are dropped, the ones it has are made again from the catalog's own definition
 * (pg_get_indexdef, pg_get_constraintdef). A constraint only renamed is left to constraintRenames.
 */
function restoredDefinitions(differences: string[]): RenderedDown['statements'] {
  type Def = { table: string; name: string; def: string };
  const read = (sign: string, kind: 'index' | 'constraint') =>
    new Map<string, Def>(
      differences.flatMap((l): [string, Def][] => {
        if (!l.startsWith(`${sign} ${kind} `)) return [];
        const rest = l.slice(sign.length + kind.length + 2);
        const m = kind === 'index' ? /^(\S+) (CREATE .+)$/.exec(rest) : /^([^ .]+)\.(\S+) (.+)$/.exec(rest);
        if (!m) return [];
        const d = kind === 'index' ? { table: '', name: m[1]!, def: m[2]! } : { table: m[1]!, name: m[2]!, def: m[3]! };
        if (!PLAIN.test(d.name) || (kind === 'constraint' && !PLAIN.test(d.table))) return [];
        return [[`${d.table}.${d.name}`, d]];
      }),
    );
  const drops: RenderedDown['statements'] = [];
  const adds: (RenderedDown['statements'][number] & { order: number })[] = [];
  const note = '-- sluice: as the previous revision\'s real state has it (not as its snapshot describes it)';
  for (const kind of ['index', 'constraint'] as const) {
    const wanted = read('-', kind);
    const found = read('+', kind);
    const drop = (o: Def) =>
      kind === 'index' ? `DROP INDEX IF EXISTS ${quoteIdent(o.name)};` : `ALTER TABLE ${quoteIdent(o.table)} DROP CONSTRAINT IF EXISTS ${quoteIdent(o.name)};`;
    // a constraint only renamed is constraintRenames' (same table, same definition, another name)
    const renamed = (o: Def, other: Map<string, Def>) =>
      kind === 'constraint' && [...other.values()].some((x) => x.table === o.table && x.def === o.def && x.name !== o.name);
    for (const [key, o] of found) if (wanted.get(key)?.def !== o.def && !renamed(o, wanted)) drops.push({ sql: drop(o) });
    for (const [key, o] of wanted) {
      if (found.get(key)?.def === o.def || renamed(o, found)) continue;
      const sql = kind === 'index' ? `${unscoped(o.def)};` : `ALTER TABLE ${quoteIdent(o.table)} ADD CONSTRAINT ${quoteIdent(o.name)} ${unscoped(o.def)};`;
      // keys before the foreign keys that may reference them
      adds.push({ sql: `${note}\n${sql}`, order: kind === 'index' ? 1 : /^(PRIMARY KEY|UNIQUE)/.test(o.def) ? 0 : 2 });
    }
  }
  return [...drops, ...adds.sort((a, b) => a.order - b.order).map(({ sql }) => ({ sql }))];
}

/**
 * Columns the down leaves otherwise than the previous revision's real state has them, in tables both
 * states have: one that state lacks is dropped; one with another nullability or default (same type)
 * gets SET/DROP NOT NULL, SET/DROP DEFAULT as that state has it. A column of another schema the
 * history names (introspect's `[schema] ` lines) is repaired the same way, its table qualified.
 */
function restoredColumns(differences: string[], upRenames: Rename[]): RenderedDown['statements'] {
  const read = (sign: string) =>
    new Map(differences.flatMap((l) => {
      const m = new RegExp(`^\\${sign} (?:\\[([^\\]]+)\\] )?column ([^ .]+)\\.(\\S+) (.+)$`).exec(l);
      if (!m || (m[1] !== undefined && !PLAIN.test(m[1])) || !PLAIN.test(m[2]!) || !PLAIN.test(m[3]!)) return [];
      const c = /^(.*?)( not null)?(?: default (.*))?$/.exec(m[4]!)!;
      const special = / identity | stored generated| collate /.test(` ${m[4]} `); // read, never changed here
      const tag = m[1] === undefined ? '' : `[${m[1]}] `;
      const relation = `${m[1] === undefined ? '' : `${quoteIdent(m[1])}.`}${quoteIdent(m[2]!)}`;
      return [[`${tag}${m[2]}.${m[3]}`, { tag, table: m[2]!, relation, column: m[3]!, type: c[1]!, notNull: !!c[2], dflt: c[3], special }] as const];
    }));
  const found = read('+');
  const wanted = read('-');
  const out: RenderedDown['statements'] = [];
  // a column of a table both states have (a table one state lacks is another repair's, or none's)
  const whole = (c: { tag: string; table: string }) => differences.includes(`+ ${c.tag}table ${c.table}`) || differences.includes(`- ${c.tag}table ${c.table}`);
  // a column the up renamed something to holds that something's values: never dropped here
  const renamedTo = (t: string, c: string) => upRenames.some((r) => r.kind === 'column' && r.to === c && (r.table === t || upRenames.some((x) => x.kind === 'table' && x.to === t && x.from === r.table)));
  for (const [key, f] of found) {
    if (wanted.has(key) || whole(f) || renamedTo(f.table, f.column)) continue;
    out.push({ sql: `-- sluice: the previous revision's real state has no such column (its snapshot says otherwise)\nALTER TABLE ${f.relation} DROP COLUMN ${quoteIdent(f.column)};` });
  }
  // (a column the previous state has and the down leaves out is not added back: it may be one the down
  // dropped with its rows, which an empty column would hide)
  for (const [key, w] of wanted) {
    const f = found.get(key);
    if (!f || f.type !== w.type || f.special || w.special) continue;
    const alter = `ALTER TABLE ${w.relation} ALTER COLUMN ${quoteIdent(w.column)}`;
    const fixes = [
      ...(f.dflt !== w.dflt ? [w.dflt === undefined ? `${alter} DROP DEFAULT;` : `${alter} SET DEFAULT ${unscoped(w.dflt)};`] : []),
      ...(f.notNull !== w.notNull ? [`${alter} ${w.notNull ? 'SET' : 'DROP'} NOT NULL;`] : []),
    ];
    const note = `-- sluice: the column as the previous revision's real state has it (not as its snapshot describes it)\n`;
    fixes.forEach((sql, k) => out.push({ sql: `${k ? '' : note}${sql}` }));
  }
  return out;
}

/** `'a', 'b''c'` (quote_literal's output, as introspect lists enum values) → `['a', "b'c"]`. */
const enumValues = (list: string): string[] => [...list.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replace(/''/g, "'"));

/**
 * An enum the down re-creates with the snapshot's values where the previous revision's real state has
 * others or another order (`ALTER TYPE … ADD VALUE` appends where drizzle-kit's snapshot may list the
 * value elsewhere; hand-edited ups): the down's CREATE TYPE gets the real values in the real order.
 * Kept only if the down then proves out. Undefined when no such enum.
 */
function withEnumOrder(statements: RenderedDown['statements'], differences: string[]): RenderedDown['statements'] | undefined {
  const enums = (sign: string) =>
    new Map(differences.flatMap((l) => {
      const m = new RegExp(`^\\${sign} enum ([^ ]+) \\((.*)\\)$`).exec(l);
      return m ? [[m[1]!, enumValues(m[2]!)] as const] : [];
    }));
  const found = enums('+');
  const wanted = [...enums('-')].filter(([name]) => found.has(name));
  if (!wanted.length) return undefined;
  const order = new Map(wanted);
  let changed = false;
  const out = statements.map((st) => {
    const typeName = createdEnum(st.sql);
    const values = typeName && order.get(typeName.at(-1)!);
    if (!values) return st;
    changed = true;
    return { ...st, sql: `-- sluice: the values as the previous revision's real state has them (not as its snapshot lists them)\nCREATE TYPE ${typeName!.map(quoteIdent).join('.')} AS ENUM (${values.map(quoteLiteral).join(', ')});` };
  });
  return changed ? out : undefined;
}

/**
 * A constraint the down re-creates under PostgreSQL's implicit name (`<table>_pkey`) where the
 * previous revision had another (drizzle-kit's snapshots do not record implicit names, e.g. of a table
 * created under an earlier name): renamed back, when the definition is the same.
 */
function constraintRenames(differences: string[]): RenderedDown['statements'] {
  const parse = (sign: string) =>
    differences.flatMap((l) => {
      const m = new RegExp(`^\\${sign} constraint ([^ .]+)\\.([^ ]+) (.+)$`).exec(l);
      return m ? [{ table: m[1]!, name: m[2]!, def: m[3]! }] : [];
    });
  const expected = parse('-');
  const found = parse('+');
  return expected.flatMap((e) => {
    const f = found.find((x) => x.table === e.table && x.def === e.def && x.name !== e.name);
    return f ? [{ sql: `-- sluice: the previous revision's name of this constraint (not in the snapshots)\nALTER TABLE ${quoteIdent(e.table)} RENAME CONSTRAINT ${quoteIdent(f.name)} TO ${quoteIdent(e.name)};` }] : [];
  });
}
