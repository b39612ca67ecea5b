/**
 * Generated downs, proven: every down sluice computes (migrate-create, migrate-downs, migrate-merge)
 * is run on a scratch database before it is written (prove.ts), and its header says what was
 * checked — or, when it does not prove out, `sluice:manual-down-required` with the exact
 * difference, so migrate-down refuses it until a human has looked. Ups that change rows get a
 * WARNING and a marked place for the data reversal; statements the snapshots cannot describe get a
 * known inverse when one makes the down prove out (inverse.ts).
 * SLUICE_VERIFY=off skips the run (the down is then marked unverified, and an up the snapshots do not
 * explain is flagged from the text alone, as before).
 */
import type { DialectName } from './config.js';
import { composeDown, type RenderedDown } from './commands/create.js';
import { describeCause } from './errors.js';
import { alteredColumnType, createdEnum, definitionsIn, inversesFor } from './inverse.js';
import { proveDowns, type Proof, type ProveResult } from './prove.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { loadParser, parseSql } from './sqlparse.js';
import { readUp, type RevisionFile } from './source.js';

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'CopyStmt', 'MergeStmt', 'insert_stmt', 'update_stmt', 'delete_stmt']);
const MAX_DIFF_LINES = 25;

export interface VerifyDownsOptions {
  root: string;
  dialect: DialectName;
  dir: string;
  /** The whole history, in order (the downs' revisions are among them). */
  revisions: RevisionFile[];
  env: Record<string, string | undefined>;
  /** Compare the ups with their snapshots (adopted histories); false for an up drizzle-kit just generated. */
  checkUp: boolean;
  /** Do not run: say this in the header instead (the reason an earlier attempt could not run). */
  notRun?: string;
}

export interface VerifyDownsResult {
  downs: RenderedDown[];
  /** What ran the scratch databases, or why nothing ran. */
  engine?: string;
  skipped?: string;
  ms: number;
}

/** The up's statements that change rows, not schema (a SQLite rebuild's copy into `__new_` is schema). */
export function dataStatements(upSql: string, dialect: DialectName): string[] {
  let parsed;
  try {
    parsed = parseSql(upSql, dialect);
  } catch {
    return []; // an up that does not parse is refused when it runs (and its down is not verified)
  }
  return parsed
    .statements.filter((s) => DML.has(s.kind) && !/^INSERT\s+INTO\s+[`"]?__new_/i.test(s.text))
    .map((s) => s.text.split('\n')[0]!.replace(/\s+/g, ' ').slice(0, 100));
}

/** The promise, with its rejection marked as handled: it is awaited later, in order (no unhandled-rejection exit meanwhile). */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** A down still being computed: verification starts on the first one while the rest are rendered. */
export interface PendingDown {
  rev: RevisionFile;
  empty: boolean;
  rendered: Promise<RenderedDown>;
}

export async function verifyDowns(list: (RenderedDown | PendingDown)[], o: VerifyDownsOptions): Promise<VerifyDownsResult> {
  const started = performance.now();
  const pending: PendingDown[] = list.map((d) => ('rendered' in d ? d : { rev: d.rev, empty: d.empty, rendered: Promise.resolve(d) }));
  for (const p of pending) handled(p.rendered);
  const all = () => Promise.all(pending.map((p) => p.rendered));
  const todo = pending.filter((d) => !d.empty);
  if (!todo.length) return { downs: await all(), ms: 0 };
  await loadParser(o.dialect);
  const notRun = o.notRun ?? ((o.env.SLUICE_VERIFY ?? '').toLowerCase() === 'off' ? 'SLUICE_VERIFY=off' : undefined);
  if (notRun) return { downs: (await all()).map((d) => (d.empty ? d : annotate(d, o, undefined, notRun))), skipped: notRun, ms: 0 };
  const byId = new Map<string, RenderedDown>();
  for (const p of todo) void p.rendered.then((d) => byId.set(d.rev.id, d), () => {});
  const repairs = new Map<string, RenderedDown['statements']>();
  let proved: ProveResult;
  try {
    proved = await proveDowns({
      root: o.root,
      dialect: o.dialect,
      dir: o.dir,
      revisions: o.revisions,
      downs: new Map(todo.map((d) => [d.rev.id, handled(d.rendered.then((r) => r.text))])),
      checkUp: o.checkUp,
      env: o.env,
      repair:
        o.dialect === 'postgresql'
          ? (rev, _down, proof) => {
              const d = byId.get(rev.id)!;
              const fixed = repairDown(rev, repairs.get(rev.id) ?? d.statements, proof, o.revisions);
              if (fixed) repairs.set(rev.id, fixed);
              return fixed && composeDown(d.header, fixed);
            }
          : undefined,
    });
  } catch (err) {
    const downs = await all(); // a down that could not be computed (a corrupt snapshot) is that error, not this one
    const why = `no scratch database (${describeCause(err)})`;
    return { downs: downs.map((d) => (d.empty ? d : annotate(d, o, undefined, why))), skipped: why, ms: Math.round(performance.now() - started) };
  }
  const out = (await all()).map((d) => {
    if (d.empty) return d;
    const repaired = proved.repaired.get(d.rev.id);
    const base = repaired !== undefined ? { ...d, statements: repairs.get(d.rev.id)! } : d;
    const proof = proved.proofs.get(d.rev.id);
    const why = proof ? undefined : proved.stoppedAt ? `the history stops applying at ${proved.stoppedAt.revision}: ${proved.stoppedAt.reason}` : 'not reached';
    return annotate(base, o, proof, why);
  });
  return { downs: out, engine: proved.engine, ms: Math.round(performance.now() - started) };
}

/**
 * The down's statements mended for what its last attempt showed: a CREATE TYPE / DROP TYPE that fails
 * because the real state has (or lacks) the enum the snapshots describe is left out; a type change
 * whose old default does not cast gets its default dropped first; leftovers get
 * the inverses of the up's statements that made them; constraint names and enum values follow the
 * previous revision's real state. Undefined when nothing applies.
 */
function repairDown(rev: RevisionFile, statements: RenderedDown['statements'], proof: Proof, history: RevisionFile[]): RenderedDown['statements'] | undefined {
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

const TYPE_EXISTENCE = /already exists|does not exist|other objects depend on it/;

function mendFailure(statements: RenderedDown['statements'], failed: NonNullable<Proof['failed']>): RenderedDown['statements'] | undefined {
  const at = statements.findIndex((st) => {
    const parsed = parseSql(st.sql, 'postgresql').statements;
    return parsed.length === 1 && parsed[0]!.text === failed.statement;
  });
  if (at < 0) return undefined;
  const [kind] = parseSql(statements[at]!.sql, 'postgresql').statements.map((s) => s.kind);
  const isTypeStatement = kind === 'CreateEnumStmt' || (kind === 'DropStmt' && /^DROP\s+TYPE\b/i.test(failed.statement));
  if (isTypeStatement && TYPE_EXISTENCE.test(failed.message)) return [...statements.slice(0, at), ...statements.slice(at + 1)];
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
  if (!inverses.length && !renames.length && !reordered) return undefined;
  const stmt = (i: (typeof inverses)[number]) => ({ sql: `-- sluice: inverse of the up's "${i.of.replace(/\s+/g, ' ')}" (not in the snapshots)\n${i.sql};` });
  const before = inverses.filter((i) => i.when === 'before').reverse().map(stmt);
  const after = inverses.filter((i) => i.when === 'after').reverse().map(stmt);
  return [...before, ...(reordered ?? statements), ...after, ...renames];
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

/** The down's header says what was proven, or why it must be written by hand. */
function annotate(d: RenderedDown, o: VerifyDownsOptions, proof: Proof | undefined, whyNot?: string): RenderedDown {
  const header = d.header.filter((l) => !l.startsWith('-- sluice:manual-down-required') && !l.startsWith('-- When the statements below undo the up'));
  const lines: string[] = [];
  let manualReason: string | undefined;
  const data = dataStatements(readUp(d.rev), o.dialect);
  if (proof?.verified) {
    lines.push(`-- sluice:verified by running it on a scratch database: ${proof.checked.join('; ')}`);
    for (const n of proof.notes) lines.push(`-- note: ${n}`);
  } else if (proof) {
    manualReason = `${d.result.manualReason && !d.statements.length ? `${d.result.manualReason}; ` : ''}verification failed: ${proof.reason}`;
    for (const n of proof.notes) lines.push(`-- note: ${n}`);
    const shown = proof.differences.slice(0, MAX_DIFF_LINES);
    for (const diff of shown) lines.push(`-- difference: ${diff}`);
    if (proof.differences.length > shown.length) lines.push(`-- difference: … ${proof.differences.length - shown.length} more`);
  } else {
    // Not run: the text comparison is all there is.
    lines.push(`-- sluice:unverified ${whyNot}`);
    manualReason = d.result.manualReason;
  }
  if (manualReason) lines.push(`-- sluice:manual-down-required ${manualReason}`, '-- When the statements below undo the up, delete the line above; until then migrate-down refuses this revision.');
  const statements = [...d.statements];
  if (data.length) {
    const warning = `the up changes rows (${data.length} statement(s), first: ${data[0]}); this down restores the schema, not that data change`;
    lines.push(`-- WARNING: ${warning}`);
    statements.unshift({ sql: '-- sluice:data-reversal: write here the statements that undo the up\'s data change, if it must be undone' });
  }
  const fullHeader = [...header, ...lines];
  const warnings = [...d.result.warnings, ...(data.length ? [`${d.rev.id}: the up changes rows; the down restores the schema only`] : [])];
  return {
    ...d,
    header: fullHeader,
    statements,
    text: composeDown(fullHeader, statements),
    result: { ...d.result, manualReason, warnings, downStatements: d.statements.length, verified: proof ? proof.verified : undefined },
  };
}
