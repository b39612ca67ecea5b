/**
 * Generated downs, proven: every down sluice computes (migrate-create, migrate-downs, migrate-merge)
 * is run on a scratch database before it is written (prove.ts), and its header says what was
 * checked — or, when it does not prove out, `sluice:manual-down-required` with the exact
 * difference, so migrate-down refuses it until a human has looked. Ups that change rows get a
 * WARNING and a marked place for the data reversal; statements the snapshots cannot describe get a
 * known inverse when one makes the down prove out (inverse.ts, repair.ts).
 * SLUICE_VERIFY=off skips the run (the down is then marked unverified, and an up the snapshots do not
 * explain is flagged from the text alone, as before).
 */
import type { DialectName, SqliteEngine } from './config.js';
import { composeDown, type RenderedDown } from './commands/downfile.js';
import { describeCause, Interrupted } from './errors.js';
import { proveDowns, type Proof, type ProveResult } from './prove.js';
import type { HistoryOnScratch, ProofAhead } from './proofscratch.js';
import { sqliteStateDown } from './statedown.js';
import { repairDown } from './repair.js';
import { loadParser, parseSql } from './sqlparse.js';
import { readUp, type RevisionFile } from './source.js';
import { monotonicMs } from './clock.js';
import { verifyOff } from './verifysetting.js';

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'CopyStmt', 'MergeStmt', 'insert_stmt', 'update_stmt', 'delete_stmt']);
/**
 * Statements that change no schema object by themselves (reads, settings, statistics), or whose effect
 * cannot be told from their kind (DO blocks, procedure calls): an up made only of these and rows may
 * prove out with an empty down.
 */
const NO_OBJECT = new Set([
  ...DML, 'SelectStmt', 'DoStmt', 'CallStmt', 'VariableSetStmt', 'VacuumStmt', 'ExplainStmt', 'TransactionStmt', 'LockStmt', 'ConstraintsSetStmt',
  'ReindexStmt', 'ClusterStmt', 'NotifyStmt', 'ListenStmt', 'UnlistenStmt', 'PrepareStmt', 'ExecuteStmt', 'DeallocateStmt', 'DiscardStmt', 'CheckPointStmt', 'LoadStmt',
]);
const MAX_DIFF_LINES = 25;

/** `revisions`: the whole history, in order (the downs' revisions are among them). */
export interface VerifyDownsOptions extends HistoryOnScratch {
  /** Compare the ups with their snapshots (adopted histories); false for an up drizzle-kit just generated. */
  checkUp: boolean;
  /** Do not run: say this in the header instead (the reason an earlier attempt could not run). */
  notRun?: string;
  /** Stops the proof between revisions (Interrupted), its scratch databases removed: prove.ts. */
  signal?: AbortSignal;
  /** Where to add what the scratch databases' removal could not remove (prove.ts). */
  notRemoved?: string[];
  /** The scratch database replayed ahead of need (proofscratch.ts), taken by the proof when it fits. */
  ahead?: ProofAhead;
}

export interface VerifyDownsResult {
  downs: RenderedDown[];
  /** What ran the scratch databases, or why nothing ran. */
  engine?: string;
  skipped?: string;
  ms: number;
}

/** The up's statements that change rows, not schema (a SQLite rebuild's copy into `__new_` is schema). */
export function dataStatements(upSql: string, dialect: DialectName, engine?: SqliteEngine): string[] {
  let parsed;
  try {
    parsed = parseSql(upSql, dialect, engine);
  } catch {
    return []; // an up that does not parse is refused when it runs (and its down is not verified)
  }
  return parsed
    .statements.filter((s) => DML.has(s.kind) && !/^INSERT\s+INTO\s+[`"]?__new_/i.test(s.text))
    .map((s) => s.text.split('\n')[0]!.replace(/\s+/g, ' ').slice(0, 100));
}

/**
 * PostgreSQL statements whose whole effect the proof's comparison reads (introspect.ts): an empty down
 * that proves out for an up made of these (and of NO_OBJECT ones) is right, even when the up changes
 * something and changes it back (found on latitude's 0092: a column added and dropped). ALTER TABLE is
 * read but for UNREAD_ALTER's clauses.
 */
const READ = new Set([
  'CreateStmt', 'IndexStmt', 'DropStmt', 'RenameStmt', 'AlterTableStmt', 'CreateEnumStmt', 'AlterEnumStmt', 'CreateDomainStmt', 'AlterDomainStmt',
  'CompositeTypeStmt', 'CreateSeqStmt', 'AlterSeqStmt', 'ViewStmt', 'CreateTableAsStmt', 'RefreshMatViewStmt', 'CreateFunctionStmt', 'AlterFunctionStmt',
  'CreateTrigStmt', 'CreatePolicyStmt', 'AlterPolicyStmt', 'CreateExtensionStmt', 'CreateSchemaStmt', 'AlterObjectSchemaStmt',
]);
const UNREAD_ALTER = /\b(SET\s+STATISTICS|CLUSTER\s+ON|SET\s+WITHOUT\s+CLUSTER|OWNER\s+TO|SET\s+STORAGE|SET\s+COMPRESSION|SET\s+TABLESPACE|SET\s+ACCESS\s+METHOD)\b/i;

/**
 * PostgreSQL: the first of the up's statements whose effect the proof's comparison does not read (a
 * grant, a comment, an owner, a rule...), or undefined. An empty down that "proves out" for such an up
 * proves nothing (found by a hunt: `downs` wrote one marked verified for a grant-like change, and
 * migrate-down then "reverted" with 0 statements). SQLite's comparison reads every object's CREATE
 * statement: nothing there.
 */
function unreadStatement(upSql: string, dialect: DialectName): string | undefined {
  if (dialect !== 'postgresql') return undefined;
  try {
    const s = parseSql(upSql, dialect).statements.find((st) => !NO_OBJECT.has(st.kind) && (!READ.has(st.kind) || (st.kind === 'AlterTableStmt' && UNREAD_ALTER.test(st.text))));
    return s && s.text.split('\n')[0]!.replace(/\s+/g, ' ').slice(0, 100);
  } catch {
    return undefined;
  }
}

/** The up's statements as sluice runs them (none when it does not parse: it is refused when it runs). */
function upStatements(upSql: string, engine: SqliteEngine | undefined): string[] {
  try {
    return parseSql(upSql, 'sqlite', engine).statements.map((s) => s.text);
  } catch {
    return [];
  }
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
  const started = monotonicMs();
  const pending: PendingDown[] = list.map((d) => ('rendered' in d ? d : { rev: d.rev, empty: d.empty, rendered: Promise.resolve(d) }));
  for (const p of pending) handled(p.rendered);
  const all = () => Promise.all(pending.map((p) => p.rendered));
  const todo = pending.filter((d) => !d.empty);
  if (!todo.length) return { downs: await all(), ms: 0 };
  await loadParser(o.dialect);
  const notRun = o.notRun ?? (verifyOff(o.env) ? 'SLUICE_VERIFY=off' : undefined);
  if (notRun) return { downs: (await all()).map((d) => (d.empty ? d : annotate(d, o, undefined, notRun))), skipped: notRun, ms: 0 };
  const byId = new Map<string, RenderedDown>();
  for (const p of todo) void p.rendered.then((d) => byId.set(d.rev.id, d), () => {});
  const repairs = new Map<string, RenderedDown['statements']>();
  let proved: ProveResult;
  try {
    proved = await proveDowns({
      root: o.root,
      dialect: o.dialect,
      engine: o.engine,
      dir: o.dir,
      revisions: o.revisions,
      downs: new Map(todo.map((d) => [d.rev.id, handled(d.rendered.then((r) => r.text))])),
      checkUp: o.checkUp,
      env: o.env,
      signal: o.signal,
      notRemoved: o.notRemoved,
      ahead: o.ahead,
      repair:
        o.dialect === 'postgresql'
          ? (rev, _down, proof) => {
              const d = byId.get(rev.id)!;
              const fixed = repairDown(rev, repairs.get(rev.id) ?? d.statements, proof, o.revisions);
              if (fixed) repairs.set(rev.id, fixed);
              return fixed && composeDown(d.header, fixed);
            }
          : (rev, _down, _proof, states) => {
              // SQLite: the down read from the real states before and after the up (statedown.ts)
              const fixed = states && sqliteStateDown(states.before, states.after, upStatements(readUp(rev), o.engine));
              if (!fixed) return undefined;
              repairs.set(rev.id, fixed);
              return composeDown(byId.get(rev.id)!.header, fixed);
            },
    });
  } catch (err) {
    if (err instanceof Interrupted) throw err; // stopped by its signal: the caller decides what that means
    const downs = await all(); // a down that could not be computed (a corrupt snapshot) is that error, not this one
    const why = `no scratch database (${describeCause(err)})`;
    return { downs: downs.map((d) => (d.empty ? d : annotate(d, o, undefined, why))), skipped: why, ms: Math.round(monotonicMs() - started) };
  }
  const out = (await all()).map((d) => {
    if (d.empty) return d;
    const repaired = proved.repaired.get(d.rev.id);
    const base = repaired !== undefined ? { ...d, statements: repairs.get(d.rev.id)! } : d;
    const proof = proved.proofs.get(d.rev.id);
    const why = proof ? undefined : proved.stoppedAt ? `the history stops applying at ${proved.stoppedAt.revision}: ${proved.stoppedAt.reason}` : 'not reached';
    return annotate(base, o, proof, why);
  });
  return { downs: out, engine: proved.engine, ms: Math.round(monotonicMs() - started) };
}

/** The down's header says what was proven, or why it must be written by hand. */
function annotate(d: RenderedDown, o: VerifyDownsOptions, proof: Proof | undefined, whyNot?: string): RenderedDown {
  const header = d.header.filter((l) => !l.startsWith('-- sluice:manual-down-required') && !l.startsWith('-- When the statements below undo the up'));
  const lines: string[] = [];
  let manualReason: string | undefined;
  const data = dataStatements(readUp(d.rev), o.dialect, o.engine);
  const unseen = proof?.verified && !d.statements.length ? unreadStatement(readUp(d.rev), o.dialect) : undefined;
  if (unseen) {
    manualReason = `the down is empty, and the up changes what the proof's schema comparison does not read (first: ${unseen}), so running it proves nothing; write the statements that undo the up, or, when there is nothing to undo, put "-- sluice:verified by hand: nothing to undo" in place of this line`;
  } else if (proof?.verified) {
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
    result: { ...d.result, manualReason, warnings, downStatements: d.statements.length, verified: proof ? proof.verified && !unseen : undefined, ...(proof ? {} : { unverified: whyNot }) },
  };
}
