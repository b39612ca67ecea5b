/**
 * The migration source: drizzle-kit's folder format (0.31.x) and sluice's down files, behind one
 * module so another format (drizzle-kit 1.0's folders) can be read by adding a reader here.
 *
 *   <out>/meta/_journal.json        entries {idx, when, tag, breakpoints}
 *   <out>/meta/<NNNN>_snapshot.json  schema snapshot after each revision
 *   <out>/<tag>.sql                  up SQL (drizzle-kit writes it)
 *   <out>/<tag>.down.sql             down SQL (sluice writes it; humans may edit it)
 *   <out>/<tag>.ts                   optional TypeScript part: up(db) / down(db) (tsrevision.ts)
 */
import { existsSync, linkSync, lstatSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ConfigError, IntegrityError, MultipleHeads, describeCause, fileProblemOf } from './errors.js';
import { conflictSides, hasConflictMarkers } from './merge.js';
import { leadingDigits, numberOfTag, type Revision } from './revision.js';
import { parseDownHeader } from './downheader.js';
import { rel } from './relpath.js';
import { readRevisionFile } from './revisionfile.js';
import { withoutBom } from './bom.js';

export interface RevisionFile extends Revision {
  upFile: string;
  downFile: string;
}

export interface History {
  dir: string;
  revisions: RevisionFile[];
}

interface JournalEntry {
  idx: number;
  when: number;
  tag: string;
  breakpoints?: boolean;
}

export function journalFile(out: string): string {
  return path.join(out, 'meta', '_journal.json');
}

function readJournal(out: string, beforeFirst = false): JournalEntry[] {
  const file = journalFile(out);
  if (!existsSync(file)) {
    withoutJournal(out, beforeFirst);
    return [];
  }
  if (statSync(file).isDirectory()) throw new ConfigError(`${rel(file)} is a folder, not drizzle-kit's journal; restore the file from version control`);
  let parsed: unknown;
  const text = readFileSync(file, 'utf8');
  if (hasConflictMarkers(text)) {
    const tags = (side: string) => {
      try {
        return ((JSON.parse(side) as { entries?: { tag?: string }[] }).entries ?? []).map((e) => String(e.tag));
      } catch {
        return [];
      }
    };
    const { ours, theirs } = conflictSides(text);
    const heads = [tags(ours).at(-1), tags(theirs).at(-1)].filter((t): t is string => !!t);
    throw new MultipleHeads(heads, `${rel(file)} has git conflict markers: two branches each created revisions (heads ${heads.join(' and ') || 'unknown'}); run make migrate-merge`);
  }
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${rel(file)} is not valid JSON (${describeCause(err)}); restore it from version control`, { cause: err });
  }
  const entries = parsed !== null && typeof parsed === 'object' ? (parsed as { entries?: unknown }).entries : undefined;
  if (!Array.isArray(entries) || entries.some((e) => typeof e?.tag !== 'string')) {
    throw new ConfigError(`${rel(file)} has no valid "entries" list; restore it from version control`);
  }
  checkJournal(file, entries as JournalEntry[]);
  return entries as JournalEntry[];
}

/**
 * A folder without a journal is an empty history only when it holds no revisions either (a project
 * before its first migrate-create). Found by a hunt: `out` naming a file, the folder above the
 * history, an image that copied only `*.sql`, or drizzle-kit's layout from before 0.17 read as no
 * revision at all, so `deploy` said "nothing to deploy", exit 0 (drizzle's migrator refuses them).
 */
function withoutJournal(out: string, beforeFirst: boolean): void {
  const where = `${rel(out)} (drizzle.config.ts's "out")`;
  let st: Stats;
  try {
    st = statSync(out);
  } catch {
    return; // missing: readHistory's caller says so
  }
  if (!st.isDirectory()) throw new ConfigError(`migration folder ${where} is a file, not a folder; fix "out" in drizzle.config.ts`);
  let names: string[];
  try {
    names = readdirSync(out);
  } catch {
    return;
  }
  // (a command that makes the first revision takes other .sql files as not drizzle-kit's: a review, a
  // Supabase migrations folder shared with drizzle-kit's, before its first generate)
  const sql = names.filter((n) => n.endsWith('.sql'));
  if (sql.length && !beforeFirst) {
    throw new ConfigError(
      `migration folder ${where} holds ${sql.length} .sql file(s) but no meta/_journal.json, which lists the revisions in order (drizzle's migrator refuses it too); restore meta/ from version control (a build that copies only *.sql must copy meta/ too)`,
    );
  }
  const inside = (n: string, ...p: string[]) => existsSync(path.join(out, n, ...p));
  if (names.some((n) => /^\d{14}/.test(n) && inside(n, 'migration.sql'))) {
    throw new ConfigError(`migration folder ${where} is in drizzle-kit's layout from before 0.17 (<timestamp>/migration.sql); convert it with drizzle-kit up first`);
  }
  const nested = names.filter((n) => inside(n, 'meta', '_journal.json')).sort();
  if (nested.length) {
    const paths = nested.map((n) => rel(path.join(out, n)));
    throw new ConfigError(
      `migration folder ${where} has no meta/_journal.json, but ${nested.length === 1 ? `its folder ${nested[0]}/ has one: set "out" to ${paths[0]}` : `its folders ${nested.map((n) => `${n}/`).join(', ')} have one: set "out" to the one of this dialect (${paths.join(' or ')})`} in drizzle.config.ts`,
    );
  }
}

/**
 * Refuse a journal that names a revision twice or lists entries out of order (what a careless git
 * merge leaves): drizzle's own migrator would skip one of them silently.
 */
function checkJournal(file: string, entries: JournalEntry[]): void {
  const tags = new Map<string, number>();
  const idxs = new Map<number, string>();
  entries.forEach((e, i) => {
    if (e.tag === '' || e.tag.startsWith('.') || /[\/\\\0]/.test(e.tag)) {
      throw new IntegrityError(`${rel(file)}: entry ${i} has tag ${JSON.stringify(e.tag)}, which is not a file name in the folder; restore the journal from version control`);
    }
    const seen = tags.get(e.tag);
    if (seen !== undefined) {
      throw new IntegrityError(`${rel(file)} lists revision ${e.tag} twice (entries ${seen} and ${i}); remove the duplicate entry (a merge usually leaves it)`);
    }
    tags.set(e.tag, i);
    if (typeof e.idx === 'number') {
      const other = idxs.get(e.idx);
      if (other !== undefined) {
        throw new MultipleHeads(
          [other, e.tag],
          `${rel(file)} has two heads, ${other} and ${e.tag} (idx ${e.idx}: two branches each created a revision); renumber one of them after the other (its idx, tag, file names and snapshot prevId), then regenerate its down`,
        );
      }
      idxs.set(e.idx, e.tag);
      const prev = entries[i - 1];
      if (prev && typeof prev.idx === 'number' && e.idx < prev.idx) {
        throw new IntegrityError(`${rel(file)}: entry ${e.tag} (idx ${e.idx}) comes after ${prev.tag} (idx ${prev.idx}); order the entries by idx`);
      }
    }
  });
}

/** Read the history in a migration folder. A folder that does not exist is an error unless `allowMissing`. */
export function readHistory(out: string, options: { allowMissing?: boolean } = {}): History {
  if (!existsSync(out)) {
    if (options.allowMissing) return { dir: out, revisions: [] };
    throw new ConfigError(
      `migration folder ${rel(out)} does not exist; create the first revision with make migrate-create MSG="..." or fix "out" in drizzle.config.ts`,
    );
  }
  const base = path.join(out, 'x').slice(0, -1); // normalised once, with its separator (tags hold none)
  const revisions = readJournal(out, options.allowMissing).map((e, index) => ({
    id: e.tag,
    index,
    number: numberOfTag(e.tag, index),
    message: messageFromTag(e.tag),
    createdAt: Number(e.when) || 0,
    upFile: `${base}${e.tag}.sql`,
    downFile: `${base}${e.tag}.down.sql`,
  }));
  return { dir: out, revisions };
}

export function messageFromTag(tag: string): string {
  // the leading number and one underscore after it dropped (a tag without a number keeps a leading "_")
  let from = leadingDigits(tag);
  if (from > 0 && tag.charCodeAt(from) === 95) from++;
  return tag.slice(from).replaceAll('_', ' ');
}

/** The up SQL; `st`: the file's lstat (never a stat: a link must look like one) taken just now by the caller (the prefetch), not taken again. */
export function readUp(rev: RevisionFile, st?: Stats): string {
  return readRevisionFile(rev.upFile, `up SQL of revision ${rev.id}`, () => `up SQL of revision ${rev.id} is missing: ${rel(rev.upFile)}; restore it from version control`, st);
}

/**
 * The down SQL, or null when no down file exists. Without a leading byte order mark (an editor's), which
 * would hide a header line on the first line (`-- sluice:manual-down-required`, `-- sluice:up-checksum`)
 * from the header's reading: a hunt saw such a down run, exit 0. Nothing hashes a down's text.
 */
export function readDown(rev: RevisionFile): string | null {
  const text = readRevisionFile(rev.downFile, `down SQL of revision ${rev.id}`, null);
  return text === null ? null : withoutBom(text);
}

/** Where a revision's TypeScript part would be: `<tag>.ts` beside its up SQL. */
export function tsFileOf(rev: RevisionFile): string {
  return rev.upFile.replace(/\.sql$/, '.ts');
}

/** The TypeScript part's text, for a revision whose folder lists `<tag>.ts` (context.ts tsOf, which tells). */
export function readTsPart(rev: RevisionFile): string {
  return readRevisionFile(tsFileOf(rev), `TypeScript part of revision ${rev.id}`);
}

/** The tags whose `<tag>.ts` is among a folder's entry names (computed once per listing). */
export function tsTagsIn(names: Set<string>): Set<string> {
  let tags = tsTags.get(names);
  if (!tags) {
    tags = new Set();
    for (const n of names) if (n.endsWith('.ts')) tags.add(n.slice(0, -3));
    tsTags.set(names, tags);
  }
  return tags;
}
const tsTags = new WeakMap<Set<string>, Set<string>>();

/** The entry names of a history's folder (context.ts tsTagsOf: which revisions have a `.ts` part). */
export function folderNames(dir: string): Set<string> {
  return listing(dir);
}

/** A folder's entry names (a dangling symlink too), read again whenever the folder's mtime changes. */
const listings = new Map<string, { mtimeNs: bigint; names: Set<string> }>();
function listing(dir: string): Set<string> {
  let mtimeNs: bigint;
  try {
    mtimeNs = statSync(dir, { bigint: true }).mtimeNs;
  } catch {
    return new Set();
  }
  const known = listings.get(dir);
  if (known && known.mtimeNs === mtimeNs) return known.names;
  const names = new Set(readdirSync(dir));
  listings.set(dir, { mtimeNs, names });
  return names;
}

/** Fill each revision's message from its down file's header, where one exists. */
export function withMessages(history: History): History {
  for (const rev of history.revisions) {
    let down: string | null = null;
    try {
      down = readDown(rev);
    } catch {
      /* a broken down file is reported by the command that runs it */
    }
    const message = down ? parseDownHeader(down).message : undefined;
    if (message) rev.message = message;
  }
  return history;
}

export function snapshotFile(out: string, rev: Revision): string {
  const prefix = /^(\d+)/.exec(rev.id)?.[1] ?? String(rev.index).padStart(4, '0');
  return path.join(out, 'meta', `${prefix}_snapshot.json`);
}

/** A snapshot's tables: their key in `tables`, name and schema ('' when it gives none), whichever drizzle-kit version wrote it (v5 keys a table by name, v7 by `schema.name`). */
export function snapshotTables(snapshot: Record<string, unknown>): { key: string; name: string; schema: string }[] {
  const tables = snapshot.tables;
  if (!tables || typeof tables !== 'object' || Array.isArray(tables)) return [];
  return Object.entries(tables as Record<string, { name?: unknown; schema?: unknown } | null>).map(([key, t]) => ({
    key,
    name: typeof t?.name === 'string' ? t.name : key.slice(key.lastIndexOf('.') + 1),
    schema: typeof t?.schema === 'string' ? t.schema : '',
  }));
}

export function readSnapshot(out: string, rev: Revision): Record<string, unknown> {
  const file = snapshotFile(out, rev);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`snapshot ${rel(file)} of revision ${rev.id} is missing or not valid JSON (${describeCause(err)}); restore it from version control`, {
      cause: err,
    });
  }
}

/**
 * The PostgreSQL schemas besides public that a history's snapshots name (drizzle's pgSchema), read from
 * the files' text (`"schema": "<name>"` fields and the `"schemas"` list; no JSON parse of every
 * snapshot). Sorted.
 */
export function otherSchemasOf(out: string, revisions: Revision[]): string[] {
  const found = new Set<string>();
  for (const rev of revisions) {
    let text: string;
    try {
      text = readFileSync(snapshotFile(out, rev), 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(/"schema"\s*:\s*"([^"]+)"/g)) if (m[1] !== 'public') found.add(m[1]!);
    // the snapshot's own list of schemas: "schemas": { "name": "name", ... }
    const list = /"schemas"\s*:\s*\{([^}]*)\}/.exec(text)?.[1] ?? '';
    for (const m of list.matchAll(/"([^"]+)"\s*:/g)) if (m[1] !== 'public') found.add(m[1]!);
  }
  return [...found].sort();
}

/** A migrations folder as it was before a migrate-create: its entries and meta/'s, and the journal's text. */
export interface FolderState {
  out: string;
  entries: Set<string>;
  journal: string | undefined;
}

export function folderState(out: string): FolderState {
  const entries = new Set<string>();
  for (const dir of [out, path.join(out, 'meta')]) {
    entries.add(dir);
    try {
      for (const name of readdirSync(dir)) entries.add(path.join(dir, name));
    } catch {
      entries.delete(dir); // not there (yet)
    }
  }
  let journal: string | undefined;
  try {
    journal = readFileSync(journalFile(out), 'utf8');
  } catch {
    journal = undefined;
  }
  return { out, entries, journal };
}

/**
 * Put a folder back as `state` saw it (an interrupted migrate-create of revisions named `<prefix>_<slug>`):
 * the files such a run writes that were not there are removed — `<prefix>_<slug>.sql`, `.down.sql`,
 * `.ts`, `meta/<prefix>_snapshot.json`, the journal if there was none, and a write of this process left
 * half way — then meta/ and the folder itself when they were not there and are empty; the journal's text
 * is written back. Anything else (a file that was there, a file somebody else wrote meanwhile) is left
 * alone. Returns what was removed.
 */
export function restoreFolder(state: FolderState, slug: string): string[] {
  const meta = path.join(state.out, 'meta');
  const escaped = slug.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // drizzle-kit's prefix: digits (index, timestamp, unix), or none at all (`migrations.prefix: 'none'`)
  const revisionFile = new RegExp(`^\\d*_${escaped}\\.(sql|down\\.sql|ts)$`);
  const ours = (dir: string, name: string) =>
    name.endsWith(`.tmp-${process.pid}`) ||
    (dir === meta ? /^\d*_snapshot\.json$/.test(name) || (name === '_journal.json' && state.journal === undefined) : revisionFile.test(name));
  const removed: string[] = [];
  for (const dir of [path.join(state.out, 'meta'), state.out]) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const file = path.join(dir, name);
      if (state.entries.has(file) || !ours(dir, name) || lstatSync(file).isDirectory()) continue;
      rmSync(file, { force: true });
      removed.push(file);
    }
    if (!state.entries.has(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  }
  if (state.journal !== undefined) writeNewFile(journalFile(state.out), state.journal, { overwrite: true });
  return removed;
}

/**
 * Write new files all or none (migrate-downs' set of downs): every text goes to a temporary file
 * first, then each takes its name by a hard link, which fails if the name exists (no window between
 * a check and a rename); a failure at any point removes the temporary files and the files this call
 * already named, and the error names the file (not its temporary name) and says nothing was written.
 * On a file system without hard links, each name is checked and taken by a rename.
 */
export function writeNewFiles(files: readonly { file: string; text: string }[]): void {
  const temps: string[] = [];
  const named: string[] = [];
  let current = files[0]?.file;
  try {
    for (const { file, text } of files) {
      current = file;
      if (existsSync(file)) throw new ConfigError(`${rel(file)} already exists; sluice never overwrites a down file`);
      const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
      temps.push(tmp);
      writeFileSync(tmp, text, { flag: 'wx' });
    }
    for (const [i, { file }] of files.entries()) {
      current = file;
      try {
        linkSync(temps[i]!, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ConfigError(`${rel(file)} already exists; sluice never overwrites a down file`, { cause: err });
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
        if (existsSync(file)) throw new ConfigError(`${rel(file)} already exists; sluice never overwrites a down file`, { cause: err });
        renameSync(temps[i]!, file);
      }
      named.push(file);
    }
  } catch (err) {
    for (const f of [...temps, ...named]) {
      try {
        rmSync(f, { force: true });
      } catch {
        /* best effort: named in no message, as it was not there before */
      }
    }
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot write ${rel(current ?? '')}: ${fileProblemOf(err) ?? describeCause(err)}; no down file was written (run it again)`, { cause: err });
  }
  for (const tmp of temps) rmSync(tmp, { force: true });
}

/** Write a file atomically (temp file + rename), refusing to overwrite unless told to. */
export function writeNewFile(file: string, text: string, options: { overwrite?: boolean } = {}): void {
  if (!options.overwrite && existsSync(file)) throw new ConfigError(`${rel(file)} already exists; sluice never overwrites a down file`);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
