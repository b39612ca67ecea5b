/**
 * The scratch database a proof of downs runs on (prove.ts), brought to the state before the first
 * revision it proves: opened as openScratch chooses for the history, the version table made, the
 * revisions before that one applied in one engine run (grouped, like migrate-up), its schema read.
 *
 * The same work can start ahead of need (proofAhead): migrate-create knows the history before
 * drizzle-kit adds its revision, so the scratch database replays it while drizzle-kit runs, and the
 * proof of the new down starts at the new revision. A proof takes what was made ahead only when it is
 * exactly what it would make itself (takeAhead): the same revisions with the same ups, a scratch chosen
 * alike. Otherwise what was made ahead is removed, and the proof makes its own, as without it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DialectName, SqliteEngine } from './config.js';
import type { Connection } from './dialect/types.js';
import { runSteps } from './engine.js';
import { describeCause } from './errors.js';
import { introspect } from './introspect.js';
import { prepareStep, type PreparedStep } from './prepare.js';
import { extensionsCreated, foreignSchemas, namesPublic, openScratch, rolesCreated, type Scratch } from './scratch.js';
import { warmFor } from './serverwarm.js';
import { otherSchemasOf, readUp, type RevisionFile } from './source.js';
import { rel } from './relpath.js';
import { VersionStore } from './store.js';
import { monotonicMs } from './clock.js';

/** SLUICE_PROVE_PROFILE=1: time per phase (prove.ts prints it); one per proof (migrate-create proves two dialects at once). */
export const profile = new AsyncLocalStorage<Map<string, number>>();
export async function timed<T>(phase: string, f: () => Promise<T>): Promise<T> {
  const phases = profile.getStore();
  if (!phases) return f();
  const t = monotonicMs();
  try {
    return await f();
  } finally {
    phases.set(phase, (phases.get(phase) ?? 0) + monotonicMs() - t);
  }
}

/** What a proof replays a history with. */
export interface HistoryOnScratch {
  root: string;
  dialect: DialectName;
  /** SQLite: the engine the history's SQL is written for (libsql for drizzle's "turso" dialect). */
  engine?: SqliteEngine;
  /** The history's folder and revisions, in order. */
  dir: string;
  revisions: RevisionFile[];
  env: Record<string, string | undefined>;
  /** The downs proven are the project's as written (db-test): see ScratchOptions.downsAsWritten. */
  downsAsWritten?: boolean;
}

export interface AtPrefix {
  scratch: Scratch;
  real: Connection;
  store: VersionStore;
  /** The scratch schema the revisions run in (`main` on SQLite). */
  schema: string;
  /** The revisions applied, with the ups they ran. */
  applied: { id: string; up: string }[];
  /** The schema after them. */
  state: string[];
  /** The revisions do not apply (sluice refuses an up, or it fails): the proof stops there. */
  stopped?: { revision: string; reason: string };
}

/** How openScratch is to make the scratch databases for these revisions. */
async function scratchChoice(o: HistoryOnScratch): Promise<{ separate: boolean; extensions: string[]; publicNamed: () => Promise<boolean> }> {
  // A history that names schemas besides public (or is run with DATABASE_SEARCH_PATH) runs in scratch
  // databases of its own, never in a scratch schema beside somebody's data (its SQL would write into
  // their schemas of those names).
  // (asked only where it matters, on a server: PGlite is a database of its own, and this reads every file)
  const onServer = !!(o.env.SLUICE_CHECK_DATABASE_URL ?? '').trim();
  const separate = o.dialect === 'postgresql' && onServer && (await foreignSchemas(o.dir, o.revisions, o.env, otherSchemas(o))).length > 0;
  return { separate, extensions: o.dialect === 'postgresql' ? extensionsCreated(o.revisions) : [], publicNamed: () => namesPublic(o.revisions) };
}

export async function openProofScratch(o: HistoryOnScratch): Promise<Scratch> {
  const choice = await scratchChoice(o);
  return timed('open', () =>
    openScratch(o.root, o.dialect, o.env, { separateDatabases: choice.separate, engine: o.engine, extensions: () => choice.extensions, namesPublic: choice.publicNamed, downsAsWritten: o.downsAsWritten, roles: () => (o.dialect === 'postgresql' ? rolesCreated(o.revisions) : []) }),
  );
}

export async function step(o: HistoryOnScratch, rev: RevisionFile, direction: 'up' | 'down', down: string | undefined, schema: string, up = readUp(rev)): Promise<PreparedStep> {
  return prepareStep(rev, direction, up, down ?? null, false, { dialect: o.dialect, engine: o.engine, file: rel(direction === 'up' ? rev.upFile : rev.downFile), schema, root: o.root });
}

/**
 * The schema of a scratch database as a proof compares it: its own schema, and (PostgreSQL) the other
 * schemas the history's snapshots name (drizzle's pgSchema), read by their real names: such a history
 * runs in scratch databases of its own (scratchChoice). Read from the snapshots once per history.
 */
export function shapeOf(o: HistoryOnScratch, conn: Connection, schema: string): Promise<string[]> {
  return introspect(conn, schema, undefined, o.dialect === 'postgresql' ? otherSchemas(o) : []);
}
const othersOf = new WeakMap<RevisionFile[], string[]>();
/** The other schemas the history's snapshots name (PostgreSQL's pgSchema), read once per history. */
export function otherSchemas(o: HistoryOnScratch): string[] {
  let others = othersOf.get(o.revisions);
  if (!others) othersOf.set(o.revisions, (others = otherSchemasOf(o.dir, o.revisions)));
  return others;
}

/** Words that make a session's prepared statements change (prove.ts). */
export const PREPARED_WORDS = /\b(prepare|deallocate|discard)\b/i;

/** After statements that may have dropped the session's prepared statements, the driver forgets its own. */
export async function resync(conn: Connection, steps: PreparedStep[]): Promise<void> {
  if (steps.some((s) => s.statements.some((t) => PREPARED_WORDS.test(t)))) await conn.forgetPrepared?.();
}

/**
 * The real scratch database made on `scratch`, at the state before revision `prefix` (an index of
 * o.revisions). Everything it opened is closed again when it throws; the scratch itself is the
 * caller's. `ups`: the ups' texts to run (read here when absent). `signal` stops it: no step starts once
 * aborted and the statement running is cancelled (PostgreSQL); it then ends `stopped`.
 */
export async function bringToPrefix(o: HistoryOnScratch, scratch: Scratch, prefix: number, options: { ups?: (string | undefined)[]; signal?: AbortSignal } = {}): Promise<AtPrefix> {
  const { signal } = options;
  const realDb = await timed('make', () => scratch.make('real'));
  const real = await timed('connect', () => realDb.open());
  const cancel = () => void real.cancel?.().catch(() => {});
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    const schema = realDb.target.schema ?? 'main';
    const at: AtPrefix = { scratch, real, store: new VersionStore(real), schema, applied: [], state: [] };
    const stopped = () => ({ ...at, stopped: { revision: o.revisions[0]?.id ?? '', reason: 'stopped' } });
    if (signal?.aborted) return stopped(); // before anything is made in it
    await timed('ensure', () => at.store.ensure());
    if (prefix > 0) {
      const steps: PreparedStep[] = [];
      for (const [i, r] of o.revisions.slice(0, prefix).entries()) {
        let up: string;
        try {
          up = options.ups?.[i] ?? readUp(r);
          steps.push(await step(o, r, 'up', undefined, schema, up));
        } catch (err) {
          return { ...at, stopped: { revision: r.id, reason: `sluice refuses its up: ${describeCause(err)}` } };
        }
        at.applied.push({ id: r.id, up });
      }
      const ran = await timed('prefix', () => runSteps(real, at.store, steps, { signal }));
      if (signal?.aborted) return stopped();
      const failed = ran.find((s) => s.status === 'failed' || s.status === 'interrupted'); // (as the proof read it before: 'already-done' is no failure)
      if (failed) return { ...at, stopped: { revision: failed.revision, reason: `its up fails on a scratch database: ${failed.error ?? failed.status}` } };
      await resync(real, steps);
    }
    at.state = await timed('introspect', () => shapeOf(o, real, schema));
    return at;
  } catch (err) {
    await real.close().catch(() => {});
    throw err;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}

/** What proofAhead made: taken by the proof it was made for, or discarded. */
export interface ProofAhead {
  /** Settles once the replay is done (true) or was not made, failed or was stopped (false). */
  replayed: Promise<boolean>;
  /**
   * The scratch at the end of the revisions it was given, when `o` is a proof of the revision right
   * after them, with the same ups, and its connection still answers; once. When it does not fit, the
   * replay is stopped at once (discard() still removes what it made).
   */
  take(o: HistoryOnScratch): Promise<AtPrefix | undefined>;
  /** Stop the replay and remove what it made, unless a proof took it; resolves to what could not be removed (scratchNote), once (then to nothing). */
  discard(): Promise<string[]>;
}

/**
 * Start replaying `o.revisions` on a scratch database now, for a proof of the revision that will
 * follow them (migrate-create, while drizzle-kit makes it). The ups are read now: take() compares the
 * files with these texts before it waits for anything. On a server (SLUICE_CHECK_DATABASE_URL), it
 * starts once the connections opened ahead (serverwarm.ts) are open, so that nothing is made on a
 * server before it has answered, and a server that never answers is let go by coolScratch at once.
 */
export function proofAhead(o: HistoryOnScratch): ProofAhead {
  let state: 'running' | 'taken' | 'discarded' = 'running';
  let discarded: Promise<string[]> | undefined;
  const stop = new AbortController();
  const ups = o.revisions.map(safeUp);
  let left: string[] = []; // what a replay that failed could not remove
  const warmed = o.dialect === 'postgresql' ? warmFor(o.env) : undefined; // now, before anything can let it go
  const made = (async (): Promise<AtPrefix | undefined> => {
    // only the plain case (a scratch schema, PGlite without extensions, a SQLite file), which take() can check the new revision for
    if (ups.some((u) => u === undefined) || !(await plain(o, o.revisions))) return undefined;
    // on a server whose connections were opened ahead: only once they are open (none is opened here)
    if ((warmed && !(await warmed.open)) || stop.signal.aborted) return undefined;
    const scratch = await openScratch(o.root, o.dialect, o.env, { engine: o.engine });
    try {
      return await bringToPrefix(o, scratch, o.revisions.length, { ups, signal: stop.signal });
    } catch (err) {
      left = await scratch.close();
      throw err;
    }
  })().catch(() => undefined); // the proof makes its own, and reports what fails then
  const unfit = () => {
    stop.abort();
    return undefined;
  };
  return {
    replayed: made.then((at) => !!at && !at.stopped),
    async take(p) {
      if (state !== 'running') return undefined;
      // what can be told without the replay first: the same history with the same ups, and a new revision that keeps the scratch chosen alike
      const ids = o.revisions.map((r) => r.id);
      if (p.dialect !== o.dialect || p.engine !== o.engine || p.dir !== o.dir || p.revisions.length !== ids.length + 1 || ids.some((id, i) => p.revisions[i]!.id !== id)) return unfit();
      if (ups.some((u, i) => safeUp(p.revisions[i]!) !== u)) return unfit();
      if (!(await plain(p, p.revisions.slice(-1)))) return unfit();
      const at = await made;
      if (!at || at.stopped || state !== 'running') return undefined;
      // its connection, idle since the replay, may have been ended by the server (idle_session_timeout, a
      // restart); the scratch's other one is only used to remove it, and its close() opens a new one if needed
      if (!(await at.real.query('SELECT 1').then(() => true, () => false))) return unfit();
      if (state !== 'running') return undefined;
      state = 'taken';
      othersOf.set(p.revisions, []); // plain: neither its revisions nor the new one name another schema
      return at;
    },
    async discard() {
      if (state === 'taken') return [];
      if (discarded) return discarded.then(() => []); // said once, by the first call
      state = 'discarded';
      stop.abort();
      discarded = made.then(async (at) => {
        if (!at) return left;
        await at.real.close().catch(() => {});
        return at.scratch.close();
      });
      return discarded;
    },
  };
}

/** openScratch makes a plain scratch for these revisions: no databases of their own, no extensions (scratchChoice). */
async function plain(o: HistoryOnScratch, revisions: RevisionFile[]): Promise<boolean> {
  if (o.dialect !== 'postgresql') return true;
  // a role is the whole server's: a scratch that replays CREATE ROLE must drop it after (scratchChoice's, with its roles)
  if (rolesCreated(revisions).length) return false;
  const choice = await scratchChoice({ ...o, revisions });
  return !choice.separate && !choice.extensions.length && !(await choice.publicNamed());
}

function safeUp(rev: RevisionFile): string | undefined {
  try {
    return readUp(rev);
  } catch {
    return undefined;
  }
}
