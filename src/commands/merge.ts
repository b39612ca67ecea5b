/**
 * `make migrate-merge`: after a git merge of two branches that each created revisions, drizzle-kit's
 * journal (and the snapshots both branches numbered alike) hold git's conflict markers. sluice keeps
 * "ours" (the branch merged into) in place and renumbers "theirs" after it: journal entries, tags,
 * file names, and snapshots recomputed on top of ours (each of their changes replayed onto our head,
 * see merge.ts); their downs are regenerated from the new snapshots. Their up files are not changed,
 * so a database that applied one under its old tag is recognised by its checksum (context.ts).
 * Two branches that changed the same object are refused before any file is touched.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyFor, loadProjectConfig, type DialectName, type SqliteEngine } from '../config.js';
import { resolveEnv, type CommandOptions } from '../context.js';
import { emptySnapshot } from '../downgen.js';
import { carryingNotRemoved, checkpoint, ConfigError, Interrupted, Refused, describeCause, scratchNote, signalName } from '../errors.js';
import { conflictSides, conflictingObjects, hasConflictMarkers, replay, type Snapshot } from '../merge.js';
import { journalFile, messageFromTag, parseDownHeader, readHistory, rel, writeNewFile, type RevisionFile } from '../source.js';
import { verifyDowns } from '../downproof.js';
import { renderDownFor, type RenderedDown } from './create.js';

interface Entry {
  idx: number;
  when: number;
  tag: string;
  [k: string]: unknown;
}

export interface MergedDialect {
  dialect: DialectName;
  folder: string;
  /** False when the history was not forked (nothing written). */
  merged: boolean;
  kept: string[];
  moved: { from: string; to: string }[];
}

export interface MergeResult {
  dialects: MergedDialect[];
  /** Scratch databases the downs' verification could not remove, and why: remove them by hand. */
  notRemoved?: string[];
}

function parseSide(text: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`${what}: one side of the conflict is not valid JSON (${describeCause(err)}); resolve it by hand`, { cause: err });
  }
}

const prefixOf = (tag: string) => /^(\d+)/.exec(tag)?.[1] ?? '';
const snapshotPath = (out: string, tag: string) => path.join(out, 'meta', `${prefixOf(tag)}_snapshot.json`);

/** One side's snapshot of a revision: the file as it is, or its side of git's conflict. */
function snapshotOf(out: string, tag: string, side: 'ours' | 'theirs'): Snapshot {
  const file = snapshotPath(out, tag);
  if (!existsSync(file)) throw new ConfigError(`snapshot ${rel(file)} of ${tag} is missing; restore it from the branch that created it`);
  const text = readFileSync(file, 'utf8');
  return parseSide(hasConflictMarkers(text) ? conflictSides(text)[side] : text, rel(file)) as Snapshot;
}

function revisionFile(out: string, tag: string, index: number): RevisionFile {
  return { id: tag, index, number: Number(prefixOf(tag) || index), message: messageFromTag(tag), createdAt: 0, upFile: path.join(out, `${tag}.sql`), downFile: path.join(out, `${tag}.down.sql`) };
}

interface Planned {
  result: MergedDialect;
  /**
   * Writes the merge; resolves false when the signal stopped the downs' verification (they are written
   * marked unverified). What the verification could not remove is added to `notRemoved`.
   */
  apply: (notRemoved: string[]) => Promise<boolean>;
}

async function planMerge(root: string, dialect: DialectName, out: string, env: Record<string, string | undefined>, engine?: SqliteEngine, signal?: AbortSignal): Promise<Planned> {
  const jf = journalFile(out);
  const folder = rel(out);
  const text = existsSync(jf) ? readFileSync(jf, 'utf8') : '';
  if (!hasConflictMarkers(text)) return { result: { dialect, folder, merged: false, kept: [], moved: [] }, apply: async () => true };
  const sides = conflictSides(text);
  const oursJournal = parseSide(sides.ours, rel(jf));
  const a = (oursJournal.entries ?? []) as Entry[];
  const b = ((parseSide(sides.theirs, rel(jf)).entries ?? []) as Entry[]);
  let p = 0;
  while (p < a.length && p < b.length && a[p]!.tag === b[p]!.tag) p++;
  const ours = a.slice(p);
  const theirs = b.slice(p);
  // Read everything first: nothing is written until the merge is known to be possible.
  const base = p > 0 ? snapshotOf(out, a[p - 1]!.tag, 'ours') : ((await emptySnapshot(root, dialect)) as Snapshot);
  const oursSnaps = ours.map((e) => snapshotOf(out, e.tag, 'ours'));
  const theirsSnaps = theirs.map((e) => snapshotOf(out, e.tag, 'theirs'));
  const oursHead = oursSnaps.at(-1) ?? base;
  const conflicts = conflictingObjects(base, oursHead, theirsSnaps.at(-1) ?? base);
  if (conflicts.length) {
    throw new Refused(
      `${folder}: the branches do not commute — both changed ${conflicts.join('; ')} (theirs: ${theirs.map((e) => e.tag).join(', ')}; ours: ${ours.map((e) => e.tag).join(', ')}); nothing was changed: drop one side's revision, merge the models and run make migrate-create`,
    );
  }
  const width = Math.max(4, prefixOf(a[0]?.tag ?? '0000').length);
  const moved = theirs.map((e, k) => {
    const n = a.length + k;
    return { entry: e, from: e.tag, to: `${String(n).padStart(width, '0')}${e.tag.slice(prefixOf(e.tag).length)}`, idx: n };
  });
  let prev = oursHead;
  const newSnaps = moved.map((_m, k) => {
    const merged = replay(k === 0 ? base : theirsSnaps[k - 1], theirsSnaps[k], prev) as Snapshot;
    const snap = { ...merged, id: randomUUID(), prevId: prev.id ?? '00000000-0000-0000-0000-000000000000' } as Snapshot;
    prev = snap;
    return snap;
  });
  const messages = moved.map((m) => {
    const downFile = path.join(out, `${m.from}.down.sql`);
    const header = existsSync(downFile) ? parseDownHeader(readFileSync(downFile, 'utf8')).message : undefined;
    return header ?? messageFromTag(m.from);
  });
  for (const m of moved) if (!existsSync(path.join(out, `${m.from}.sql`))) throw new ConfigError(`${folder}/${m.from}.sql is missing; restore it from their branch`);

  const apply = async (notRemoved: string[]) => {
  // Write: our snapshots without markers, their files under temporary names, then final names, the journal.
  ours.forEach((e, k) => writeFileSync(snapshotPath(out, e.tag), `${JSON.stringify(oursSnaps[k], null, 2)}\n`));
  if (p > 0 && hasConflictMarkers(readFileSync(snapshotPath(out, a[p - 1]!.tag), 'utf8'))) writeFileSync(snapshotPath(out, a[p - 1]!.tag), `${JSON.stringify(base, null, 2)}\n`);
  const tmp = (m: { from: string }, ext: string) => path.join(out, `.${m.from}.merge-${process.pid}${ext}`);
  for (const m of moved) {
    renameSync(path.join(out, `${m.from}.sql`), tmp(m, '.sql'));
    if (existsSync(path.join(out, `${m.from}.down.sql`))) renameSync(path.join(out, `${m.from}.down.sql`), tmp(m, '.down.sql'));
    if (existsSync(path.join(out, `${m.from}.ts`))) renameSync(path.join(out, `${m.from}.ts`), tmp(m, '.ts')); // a TypeScript revision's part
  }
  moved.forEach((m, k) => {
    renameSync(tmp(m, '.sql'), path.join(out, `${m.to}.sql`));
    if (existsSync(tmp(m, '.down.sql'))) renameSync(tmp(m, '.down.sql'), path.join(out, `${m.to}.down.sql.old`));
    if (existsSync(tmp(m, '.ts'))) renameSync(tmp(m, '.ts'), path.join(out, `${m.to}.ts`));
    writeFileSync(snapshotPath(out, m.to), `${JSON.stringify(newSnaps[k], null, 2)}\n`);
  });
  const entries = [...a, ...moved.map((m) => ({ ...m.entry, idx: m.idx, tag: m.to }))];
  writeNewFile(jf, `${JSON.stringify({ ...oursJournal, entries }, null, 2)}\n`, { overwrite: true });
  // Their downs, regenerated from the recomputed snapshots (the old text stays as .down.sql.old until then; git has it too).
  // A down a human wrote (EMPTY=1, TS=1, or edited past sluice's header) is kept, under the new tag.
  const rendered: RenderedDown[] = [];
  for (const [k, m] of moved.entries()) {
    const old = path.join(out, `${m.to}.down.sql.old`);
    const text = existsSync(old) ? readFileSync(old, 'utf8') : undefined;
    if (text !== undefined && !/^-- Generated by sluice from drizzle-kit snapshots/m.test(text)) {
      writeNewFile(path.join(out, `${m.to}.down.sql`), text.replace(/^-- sluice:down \S+/m, `-- sluice:down ${m.to}`), { overwrite: true });
      rmSync(old, { force: true });
      continue;
    }
    const rev = revisionFile(out, m.to, m.idx);
    const prevRev = revisionFile(out, entries[m.idx - 1]!.tag, m.idx - 1);
    rendered.push(await renderDownFor(root, dialect, out, rev, prevRev, messages[k]!, false));
  }
  // Proven on a scratch database over the merged history (downproof.ts). Once a signal came, the merge
  // is finished without it (files are written in moments; a half-merged folder is worse than an
  // unverified down, which says so in its header).
  const verify = { root, dialect, engine, dir: out, revisions: readHistory(out).revisions, env, checkUp: true, notRemoved };
  const unverified = () => verifyDowns(rendered, { ...verify, notRun: `interrupted (${signalName(signal!)}) before it was verified; make db-test checks it` });
  let verified = !signal?.aborted;
  const proved = verified
    ? await verifyDowns(rendered, { ...verify, signal }).catch((err: unknown) => {
        if (!signal?.aborted) throw err;
        verified = false;
        return unverified();
      })
    : await unverified();
  for (const down of proved.downs) {
    writeNewFile(down.file, down.text, { overwrite: true });
    rmSync(`${down.file}.old`, { force: true });
  }
  return verified || !rendered.length;
  };
  return { result: { dialect, folder, merged: true, kept: ours.map((e) => e.tag), moved: moved.map((m) => ({ from: m.from, to: m.to })) }, apply };
}

/**
 * `signal`: before any file is written, stops the command (Interrupted, nothing changed); once writing
 * began, the merge is finished and the downs the signal kept from being verified are written marked
 * `sluice:unverified`, then Interrupted says so.
 */
export async function merge(options: CommandOptions & { signal?: AbortSignal } = {}): Promise<MergeResult> {
  const { root, env } = resolveEnv(options);
  const { signal } = options;
  const project = await loadProjectConfig(root, options.config ?? env.SLUICE_CONFIG);
  // Every dialect is planned (and refused if it must be) before any file is written.
  const plans: Planned[] = [];
  for (const dialect of Object.keys(project.histories) as DialectName[]) plans.push(await planMerge(root, dialect, historyFor(project, dialect).out, env, historyFor(project, dialect).engine, signal));
  await checkpoint(signal, 'migrate-merge, before any file was written: nothing was changed');
  let verified = true;
  const notRemoved: string[] = [];
  await carryingNotRemoved(notRemoved, async () => {
    for (const p of plans) verified = (await p.apply(notRemoved)) && verified;
  });
  if (!verified) {
    const name = signalName(signal!);
    const left = notRemoved.length ? `; ${scratchNote(notRemoved)}` : '';
    throw new Interrupted(`interrupted (${name}) during migrate-merge: the merge was finished, but the regenerated downs of the moved revisions were written unverified (marked sluice:unverified in their headers)${left}; run make db-test to check them`, name, undefined);
  }
  return { dialects: plans.map((p) => p.result), ...(notRemoved.length ? { notRemoved } : {}) };
}
