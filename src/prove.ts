/**
 * Downs proven by running them (issue: proven downs). On a scratch database (scratch.ts), the real
 * ups of the history are applied one by one through sluice's engine, exactly as migrate-up runs them.
 * For each revision whose down is to be proven, at state N:
 *  - up vs snapshot (adopted histories): a second scratch database follows the snapshots (drizzle-kit's
 *    own diff of each consecutive pair); its schema must equal the one the real up built;
 *  - rows: one synthetic row per table (rows.ts), then the down; every table the down keeps must keep
 *    its rows (rolled back to a savepoint afterwards);
 *  - round trip: the down, whose schema must equal state N-1, then the up again, whose schema must
 *    equal state N.
 * The rows and round-trip checks run inside one transaction that is rolled back, so the scratch
 * database is at state N again for the next revision (and for a second attempt with a repaired down).
 * Schemas are compared structurally (introspect.ts), never as SQL text.
 */
import type { Connection } from './dialect/types.js';
import { diffSnapshots, emptySnapshot } from './downgen.js';
import { resolvePrimaryKeyDrops } from './downrules.js';
import { runSteps } from './engine.js';
import { checkpoint, describeCause } from './errors.js';
import { schemaDiff, tablesWithOthersIn } from './introspect.js';
import { roundTrip, upWritesRows } from './proofround.js';
import { countRows } from './rows.js';
import { bringToPrefix, openProofScratch, profile, resync, shapeOf, step, timed, type HistoryOnScratch, type ProofAhead } from './proofscratch.js';
import { readSnapshot, type RevisionFile } from './source.js';
import { VERSION_TABLE } from './store.js';
import type { SqliteObject } from './statedown.js';
import { monotonicMs } from './clock.js';

export interface Proof {
  revision: string;
  verified: boolean;
  /** What was checked, for the down file's header. */
  checked: string[];
  /** Facts worth a line in the header that do not fail the proof. */
  notes: string[];
  /** Why it is not verified (one line), and the exact differences (`- expected`, `+ found`). */
  reason?: string;
  differences: string[];
  /** The up's schema differs from its snapshot's (before any repair): `- snapshot`, `+ up`. */
  upDifferences: string[];
  /** The down's statement that failed on the empty tables, with the database's message. */
  failed?: { statement: string; message: string };
  /** A revision proven outside a transaction left the scratch database off state N: proving stops. */
  scratchLost?: boolean;
  /** Tables the down keeps that took no synthetic row (a CHECK refused it…): their rows are not proven kept. */
  unfilled?: string[];
}

/** Repair attempts per down (each one more round trip on the scratch database). */
const REPAIRS = 6;

export interface ProveOptions extends HistoryOnScratch {
  /** Revision id → down text to prove (or its promise, while it is still being computed). Other revisions are only applied. */
  downs: Map<string, string | Promise<string>>;
  /** Compare each proven revision's up with its snapshot (adopted or edited histories). */
  checkUp: boolean;
  /**
   * Called when a down leaves differences or fails: a replacement down text to try again (e.g. with
   * the inverses of statements the snapshots do not describe), or undefined. Up to REPAIRS times.
   */
  repair?: (revision: RevisionFile, down: string, proof: Proof, states?: RealStates) => string | undefined;
  /** Stops the proof between revisions (Interrupted); the scratch databases are closed and removed. */
  signal?: AbortSignal;
  /** Where to add what the scratch databases' removal could not remove (scratch.ts, scratchNote), stopped or not. */
  notRemoved?: string[];
  /** The scratch database brought to the revision before the one to prove, ahead of need (proofscratch.ts): taken when it fits. */
  ahead?: ProofAhead;
}

/** SQLite: the real schema before the up and after it, as SQLite stores it (statedown.ts reads a down from them). */
export interface RealStates {
  before: SqliteObject[];
  after: SqliteObject[];
}

export interface ProveResult {
  engine: string;
  proofs: Map<string, Proof>;
  /** Down texts after repair, for revisions whose down was repaired. */
  repaired: Map<string, string>;
  /** Set when the history itself cannot be applied on a scratch database (all later proofs missing). */
  stoppedAt?: { revision: string; reason: string };
  /** The scratch database was the one replayed ahead (ProveOptions.ahead), not one made here. */
  fromAhead?: boolean;
  ms: number;
}

export async function proveDowns(o: ProveOptions): Promise<ProveResult> {
  if (o.env.SLUICE_PROVE_PROFILE !== '1') return proveAll(o);
  const phases = new Map<string, number>();
  const result = await profile.run(phases, () => proveAll(o));
  process.stderr.write(`prove ${o.dialect}: ${result.ms} ms; ${[...phases].map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')}\n`);
  return result;
}

async function proveAll(o: ProveOptions): Promise<ProveResult> {
  const started = monotonicMs();
  const snapshots = o.checkUp ? o.revisions.map((r) => safeSnapshot(o.dir, r)) : [];
  const last = Math.max(-1, ...o.revisions.map((r, i) => (o.downs.has(r.id) ? i : -1)));
  // Revisions before the first one to prove are applied in one engine run (grouped, like migrate-up).
  const first = o.revisions.findIndex((r) => o.downs.has(r.id));
  const prefix = o.checkUp ? 0 : Math.max(0, first);
  // made ahead (migrate-create: while drizzle-kit ran), when it is what would be made here (proofscratch.ts)
  const ahead = prefix === o.revisions.length - 1 ? await o.ahead?.take(o) : undefined;
  const scratch = ahead?.scratch ?? (await openProofScratch(o));
  const result: ProveResult = { engine: scratch.engine, proofs: new Map(), repaired: new Map(), ms: 0, ...(ahead ? { fromAhead: true } : {}) };
  let real: Connection | undefined;
  let model: Connection | undefined;
  try {
    const at = ahead ?? (await bringToPrefix(o, scratch, prefix));
    ({ real } = at);
    const { store, schema } = at;
    result.engine = scratch.engine; // known once a database runs (PGlite reports its server version)
    if (at.stopped) return stop(result, at.stopped.revision, at.stopped.reason);
    let modelOk = o.checkUp;
    let modelStopped: string | undefined;
    let modelSchema = 'public';
    if (o.checkUp) {
      const modelDb = await timed('make', () => scratch.make('model'));
      model = await timed('connect', () => modelDb.open());
      modelSchema = modelDb.target.schema ?? 'main';
      await model.prepareNamespace();
    }
    let previousSnapshot = o.checkUp ? await emptySnapshot(o.root, o.dialect) : undefined;
    // SQLite histories with a repair: the stored schema of each state, for a down read from the states
    const objectsOf = o.dialect === 'sqlite' && o.repair ? (c: Connection) => timed('introspect', () => sqliteObjects(c)) : undefined;
    let state = at.state;
    let objects = await objectsOf?.(real);
    for (let i = prefix; i <= last; i++) {
      await checkpoint(o.signal, 'the proof of the downs');
      const rev = o.revisions[i]!;
      // An up sluice refuses to run (transaction control, unparseable SQL) ends what can be proven here.
      const up = await timed('parse', () => step(o, rev, 'up', undefined, schema).catch((err: unknown) => err as Error));
      if (up instanceof Error) return stop(result, rev.id, `sluice refuses its up: ${describeCause(up)}`);
      // the rows before an up that may write some: a down may delete the rows its up inserted (seed
      // data), not more (a hunt: a down removing its up's seed rows failed db-test as "rows lost")
      const rowsBefore = upWritesRows(up) ? await timed('rows', () => countRows(real!, tablesWithOthersIn(state))) : undefined;
      const ran = (await timed('up', () => runSteps(real!, store, [up])))[0]!;
      if (ran.status === 'failed') return stop(result, rev.id, `its up fails on a scratch database${i ? ` at ${o.revisions[i - 1]!.id}` : ''}: ${ran.error}`);
      await resync(real, [up]);
      const stateN = await timed('introspect', () => shapeOf(o, real!, schema));
      const objectsN = await objectsOf?.(real);
      // The snapshots' side (drizzle-kit's diff on its worker, run on the model database) goes on
      // beside the round trip: another database, another connection.
      const snap = snapshots[i];
      const followSnapshot = async (): Promise<string[]> => {
        if (!modelOk || !model || !snap) return [];
        try {
          if (!previousSnapshot) throw new Error(`the snapshot of ${rev.id} cannot be read`);
          const diff = await timed('kit diff', () => diffSnapshots(o.root, o.dialect, previousSnapshot!, snap));
          // drizzle-kit leaves an unnamed primary key's drop commented out: the same fix as migrate-create's.
          await timed('model', async () => {
            for (const s of o.dialect === 'postgresql' ? resolvePrimaryKeyDrops(diff) : diff) await model!.execute(model!.translate(s));
          });
          previousSnapshot = snap;
          return schemaDiff(await timed('introspect', () => shapeOf(o, model!, modelSchema)), stateN);
        } catch (err) {
          modelOk = false;
          modelStopped = `the ups were not compared with their snapshots from ${rev.id} on: drizzle-kit's diff of the snapshots does not apply (${describeCause(err).split('\n')[0]})`;
          return [];
        }
      };
      const modelSide = followSnapshot();
      const down = await o.downs.get(rev.id);
      if (down === undefined) {
        await modelSide;
      } else {
        let proof = await timed('round trip', () => roundTrip(o, real!, schema, rev, down, state, stateN, rowsBefore));
        // Repairs build on each other (each attempt sees the last one's failure); the file keeps the
        // first down and its difference unless an attempt proves out.
        let tried = down;
        let last = proof;
        for (let attempt = 0; attempt < REPAIRS && !last.verified && !last.scratchLost && o.repair; attempt++) {
          const fixed = o.repair(rev, tried, last, objects && objectsN ? { before: objects, after: objectsN } : undefined);
          if (fixed === undefined || fixed === tried) break;
          tried = fixed;
          last = await roundTrip(o, real, schema, rev, fixed, state, stateN, rowsBefore);
          if (last.verified) {
            result.repaired.set(rev.id, fixed);
            proof = last;
          }
        }
        const upDifferences = await modelSide;
        proof.upDifferences = upDifferences;
        if (upDifferences.length) {
          // `- ` lines: the snapshot has what the up does not build; `+ `: the up builds what the snapshot lacks (a hunt: "does more" was said of both)
          const less = upDifferences.some((d) => d.startsWith('- '));
          const more = upDifferences.some((d) => d.startsWith('+ '));
          const what = more && less ? 'does not build what its snapshot describes' : less ? 'builds less than its snapshot describes' : 'does more than its snapshot describes';
          proof.notes.push(`the up ${what} (${upDifferences.length} difference(s), first: ${upDifferences[0]}); checked by running it`);
        } else if (modelOk && snap) proof.checked.unshift('the up builds what its snapshot describes');
        if (modelStopped) proof.notes.push(modelStopped);
        result.proofs.set(rev.id, proof);
        if (last.scratchLost) return stop(result, rev.id, 'its down, run outside a transaction on the scratch database, did not leave it where the next revisions can be proven');
      }
      state = stateN;
      objects = objectsN;
    }
  } finally {
    await real?.close().catch(() => {});
    await model?.close().catch(() => {});
    // (not `o.notRemoved?.push(...(await …))`: without a notRemoved, that would skip the close itself)
    const left = await timed('close', () => scratch.close());
    o.notRemoved?.push(...left);
    result.ms = Math.round(monotonicMs() - started);
  }
  return result;
}

/** Every table, index, view and trigger as sqlite_master stores it, tables with their columns (sluice's version table left out). */
async function sqliteObjects(conn: Connection): Promise<SqliteObject[]> {
  const rows = await conn.query<{ type: string; name: string; table: string; sql: string | null }>(
    "SELECT type, name, tbl_name AS \"table\", sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND tbl_name <> ? ORDER BY rowid",
    [VERSION_TABLE],
  );
  const cols = await conn.query<{ t: string; c: string }>(
    "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.name, p.cid",
  );
  return rows.map((r) => (r.type === 'table' ? { ...r, columns: cols.filter((c) => c.t === r.name).map((c) => c.c) } : r));
}

function stop(result: ProveResult, revision: string, reason: string): ProveResult {
  result.stoppedAt = { revision, reason };
  return result;
}

function safeSnapshot(dir: string, rev: RevisionFile): Record<string, any> | undefined {
  try {
    return readSnapshot(dir, rev) as Record<string, any>;
  } catch {
    return undefined;
  }
}


