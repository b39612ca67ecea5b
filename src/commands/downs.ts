/**
 * migrate-downs: adopt an existing drizzle-kit history. Writes the missing `<tag>.down.sql` of every
 * revision from its snapshots; a down file that exists (a human may have written it) is left alone.
 */
import { loadProjectConfig, type DialectName, type HistoryConfig } from '../config.js';
import { resolveEnv, type CommandOptions } from '../context.js';
import { existsSync } from 'node:fs';
import { messageFromTag, readDown, readHistory, readUp, snapshotFile, tsFileOf, writeNewFiles, type RevisionFile } from '../source.js';
import { isOnlyComments } from '../sql.js';
import type { CreatedRevision } from './create.js';
import { renderDownFor, type RenderedDown } from './downfile.js';
import { startKitWorker, stopKitWorker } from '../kitworker.js';
import { verifyDowns, type PendingDown } from '../downproof.js';
import { carryingNotRemoved, checkpoint, scratchNote, stoppable } from '../errors.js';
import { withFolderLock } from '../folderlock.js';
import { verifyOff } from '../verifysetting.js';
import { checkOptions, COMMON_OPTIONS } from '../options.js';

export interface DownsResult {
  written: CreatedRevision[];
  kept: { dialect: DialectName; revision: string }[];
  /** Per dialect: what ran the verification (or why it did not), and how long it took. */
  verification: { dialect: DialectName; engine?: string; skipped?: string; ms: number }[];
  /** Scratch databases the verification could not remove, and why: remove them by hand. */
  notRemoved?: string[];
}

/**
 * `signal`: stops the command between the revisions it proves (Interrupted): no down file is written
 * (they are all written at the end) and the scratch databases are removed.
 */
export async function writeMissingDowns(options: CommandOptions & { signal?: AbortSignal } = {}): Promise<DownsResult> {
  checkOptions('writeMissingDowns', options, { ...COMMON_OPTIONS, signal: 'signal' });
  const { root, env } = resolveEnv(options);
  const project = await loadProjectConfig(root, options.config ?? env.SLUICE_CONFIG);
  // another migrate-downs (or migrate-create, migrate-merge) writing these folders refuses this one (folderlock.ts)
  return withFolderLock(root, Object.values(project.histories).map((h) => h.out), () => downsLocked(options, root, env, project));
}

async function downsLocked(
  options: CommandOptions & { signal?: AbortSignal },
  root: string,
  env: Record<string, string | undefined>,
  project: Awaited<ReturnType<typeof loadProjectConfig>>,
): Promise<DownsResult> {
  const result: DownsResult = { written: [], kept: [], verification: [] };
  const pending: RenderedDown[] = [];
  const verifying = !verifyOff(env);
  // Many snapshot pairs to diff: drizzle-kit's differ runs on a worker thread while the verification runs here.
  startKitWorker(root);
  const notRemoved: string[] = [];
  try {
    await stoppable(options.signal, () => `during migrate-downs: no down file was written, ${scratchNote(notRemoved)}; run it again`, () =>
      carryingNotRemoved(notRemoved, async () => {
        await downsOf(root, env, project, verifying, result, pending, options.signal, notRemoved);
        await checkpoint(options.signal, 'migrate-downs, before any down file was written; run it again');
      }),
    );
  } finally {
    // stopped: the process ends next, which ends the worker too (terminating a busy one takes up to ~1 s)
    if (options.signal?.aborted) void stopKitWorker();
    else await stopKitWorker();
  }
  // Everything computed first: a bad snapshot anywhere writes nothing. (A file that cannot be
  // written still names the scratch databases the verification could not remove.)
  await carryingNotRemoved(notRemoved, async () => {
    writeNewFiles(pending); // all or none
    result.written.push(...pending.map((p) => p.result));
  });
  return notRemoved.length ? { ...result, notRemoved } : result;
}

async function downsOf(
  root: string,
  env: Record<string, string | undefined>,
  project: Awaited<ReturnType<typeof loadProjectConfig>>,
  verifying: boolean,
  result: DownsResult,
  pending: RenderedDown[],
  signal: AbortSignal | undefined,
  notRemoved: string[],
): Promise<void> {
  for (const [dialect, h] of Object.entries(project.histories) as [DialectName, HistoryConfig][]) {
    await checkpoint(signal, 'migrate-downs');
    const revs = readHistory(h.out).revisions;
    const mine: PendingDown[] = [];
    let chain: Promise<unknown> = Promise.resolve();
    for (const rev of revs) {
      if (readDown(rev) !== null) {
        result.kept.push({ dialect, revision: rev.id });
        continue;
      }
      const empty = isOnlyComments(readUp(rev));
      // Running it decides (below); the text comparison of the up with its snapshots only when it cannot run.
      // Computed one after another while the verification below already runs the first ones.
      // a revision with a TypeScript part: its down names it (downheader.ts), as migrate-create --ts writes it
      const typescriptPart = existsSync(tsFileOf(rev));
      const rendered = chain.then(() => renderDownFor(root, dialect, h.out, rev, withSnapshot(h.out, revs, rev.index - 1), messageFromTag(rev.id), empty, verifying, undefined, typescriptPart));
      chain = rendered.catch(() => {});
      mine.push({ rev, empty, rendered });
    }
    // Proven by running the history's real ups and these downs on a scratch database (downproof.ts).
    let proved = await verifyDowns(mine, { root, dialect, engine: h.engine, dir: h.out, revisions: revs, env, checkUp: true, signal, notRemoved });
    if (proved.skipped && verifying) {
      const checked = [];
      for (const d of proved.downs) checked.push(d.empty ? d : await renderDownFor(root, dialect, h.out, d.rev, d.prev, messageFromTag(d.rev.id), false, false, undefined, existsSync(tsFileOf(d.rev))));
      proved = { ...proved, downs: (await verifyDowns(checked, { root, dialect, engine: h.engine, dir: h.out, revisions: revs, env, checkUp: true, notRun: proved.skipped, notRemoved })).downs };
    }
    if (mine.length) result.verification.push({ dialect, engine: proved.engine, skipped: proved.skipped, ms: proved.ms });
    pending.push(...proved.downs);
  }
}

/**
 * The revision a down goes back to, for its snapshot: the previous one, or the nearest earlier one that
 * has a snapshot when revisions in between were added by hand without one (the verification then
 * shows whether the down also undoes theirs).
 */
function withSnapshot(out: string, revs: RevisionFile[], index: number): RevisionFile | undefined {
  for (let i = index; i >= 0; i--) if (existsSync(snapshotFile(out, revs[i]!))) return revs[i];
  return index >= 0 ? revs[index] : undefined;
}
