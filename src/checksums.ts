/**
 * A cache of up files' SHA-256, keyed by what `lstat` says of the file (size, mtime, ctime, inode,
 * device): the same test git uses to tell an unchanged file without reading it. `status`, and every
 * run's check that applied files did not change, then cost one `lstat` per applied revision instead
 * of reading and hashing the file. An edit (or a file put in its place) changes ctime, which no
 * program can set back, so an edited file always misses and is read again.
 *
 * Only regular files (not links) are cached, and only once their mtime and ctime are a few seconds old
 * (`SETTLED_MS`), so a file written again within one tick of a coarse file-system clock is never
 * mistaken for the cached one. Entries live in the nearest node_modules/.cache/sluice/checksums/, one
 * file per migration folder. A cache that cannot be read or written is only slower.
 * SLUICE_NO_CHECKSUM_CACHE=1 disables it.
 *
 * The same file keeps which revisions have a TypeScript part (`<tag>.ts`), keyed by the folder's own
 * `stat` under the same rules: adding, removing or renaming an entry changes the folder's mtime and
 * ctime, so a cached list is used only while no entry came or went, and a command that checks the
 * applied files needs no listing of a folder of thousands of names.
 */
import { readFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { FOLDER_CACHES_KEPT, pruneCacheFiles, sluiceCacheDir, writeAtomically } from './cachedir.js';
import { cacheName } from './hash.js';

const FORMAT = 3; // 3: checksums read CRLF as LF (sql.ts checksum)
/** A file whose mtime or ctime is younger than this is not cached (coarse file-system clocks). */
export const SETTLED_MS = 3000;

type Entry = [size: number, mtimeMs: number, ctimeMs: number, ino: number, dev: number, sum: string, earlier?: string[]];
/** The folder's `stat` (mtime, ctime, inode, device) and the tags that have a `<tag>.ts` in it. */
type TsEntry = [mtimeMs: number, ctimeMs: number, ino: number, dev: number, tags: string[]];

export class ChecksumCache {
  private entries: Record<string, Entry> = {};
  private ts: TsEntry | undefined;
  private dirty = false;

  private constructor(
    private readonly file: string | undefined,
    /** The migration folder, absolute: stored in the file and checked on read (file names are a 64-bit hash of it). */
    private readonly folder: string,
  ) {
    if (!file) return;
    try {
      const data = JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown; folder?: unknown; entries?: unknown; ts?: unknown };
      if (data.format === FORMAT && data.folder === folder && data.entries && typeof data.entries === 'object') {
        this.entries = data.entries as Record<string, Entry>;
        if (Array.isArray(data.ts)) this.ts = data.ts as TsEntry;
      }
    } catch {
      /* missing or unreadable: start empty */
    }
  }

  /** The cache of the migration folder `dir` in the project at `root` (an inert one when disabled or without node_modules). */
  static open(root: string, dir: string, env: Record<string, string | undefined> = process.env): ChecksumCache {
    return new ChecksumCache(env.SLUICE_NO_CHECKSUM_CACHE === '1' ? undefined : checksumCacheFile(root, dir), path.resolve(root, dir));
  }

  /** The cached checksum of `file` when `st` (its lstat) is exactly what was cached. */
  get(file: string, st: Stats): string | undefined {
    const e = this.entries[nameOf(file)];
    if (!e || !st.isFile()) return undefined;
    return e[0] === st.size && e[1] === st.mtimeMs && e[2] === st.ctimeMs && e[3] === st.ino && e[4] === st.dev && typeof e[5] === 'string' ? e[5] : undefined;
  }

  /** The file's earlier checksums (sql.ts earlierChecksums) when `st` is exactly what was cached with them. */
  earlier(file: string, st: Stats): string[] | undefined {
    const e = this.entries[nameOf(file)];
    if (!e || this.get(file, st) === undefined) return undefined;
    return Array.isArray(e[6]) && e[6].every((s) => typeof s === 'string') ? e[6] : undefined;
  }

  /** Keep the file's earlier checksums beside its cached checksum, when `st` (its lstat taken before reading it) is the cached one. */
  setEarlier(file: string, st: Stats, sums: string[]): void {
    const e = this.entries[nameOf(file)];
    if (!this.file || !e || this.get(file, st) === undefined) return;
    e[6] = sums;
    this.dirty = true;
  }

  /** Record `sum` for `file` as `st` (its lstat taken before reading it) describes it, once settled. */
  set(file: string, st: Stats, sum: string, now = Date.now()): void {
    if (!this.file || !st.isFile() || now - st.mtimeMs < SETTLED_MS || now - st.ctimeMs < SETTLED_MS) return;
    this.entries[nameOf(file)] = [st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev, sum];
    this.dirty = true;
  }

  /** The tags with a TypeScript part in the folder when `st` (the folder's stat) is exactly what was cached. */
  tsTags(st: Stats): string[] | undefined {
    const e = this.ts;
    if (!e || !st.isDirectory()) return undefined;
    return e[0] === st.mtimeMs && e[1] === st.ctimeMs && e[2] === st.ino && e[3] === st.dev && Array.isArray(e[4]) && e[4].every((t) => typeof t === 'string') ? e[4] : undefined;
  }

  /** Record the folder's tags with a TypeScript part as `st` (its stat taken before listing it) describes it, once settled. */
  setTsTags(st: Stats, tags: string[], now = Date.now()): void {
    if (!this.file || !st.isDirectory() || now - st.mtimeMs < SETTLED_MS || now - st.ctimeMs < SETTLED_MS) return;
    this.ts = [st.mtimeMs, st.ctimeMs, st.ino, st.dev, tags];
    this.dirty = true;
  }

  /** Write the entries when something was added (atomically: a reader sees the old file or the new one). */
  flush(): void {
    if (!this.file || !this.dirty) return;
    this.dirty = false;
    try {
      writeAtomically(this.file, JSON.stringify({ format: FORMAT, folder: this.folder, entries: this.entries, ...(this.ts ? { ts: this.ts } : {}) }));
      pruneCacheFiles(path.dirname(this.file), /^[0-9a-f]{16}\.json$/, FOLDER_CACHES_KEPT, this.file);
    } catch {
      /* a cache that cannot be written is only slower */
    }
  }
}

/** A file's name in its folder, the entry's key (what path.basename gives for a file's path, found in less time: one per applied revision). */
function nameOf(file: string): string {
  return file.slice(file.lastIndexOf(path.sep) + 1);
}

/** The cache file of the migration folder `dir` (relative to `root` or absolute), or undefined without node_modules. */
export function checksumCacheFile(root: string, dir: string): string | undefined {
  const folder = sluiceCacheDir(root, 'checksums');
  return folder && path.join(folder, `${cacheName(path.resolve(root, dir))}.json`);
}
