/**
 * A command's reads of its history's files, each once per command and kept in its Context: up and
 * down SQL, TypeScript parts (which revisions have one: the folder's listing, cached with the
 * checksums), and checksums (from the checksum cache while a file's lstat is the cached one).
 */
import { statSync, lstatSync, type Stats } from 'node:fs';
import type { Context } from './context.js';
import { folderNames, readDown, readTsPart, readUp, tsFileOf, tsTagsIn, type RevisionFile } from './source.js';
import { rel } from './relpath.js';
import { earlierRevisionChecksums, revisionChecksum, type TypeScriptPart } from './tsrevision.js';
import { ChecksumCache } from './checksums.js';
import { checksum, earlierChecksums } from './sql.js';

/** A revision's up SQL, read once per command. */
export function upOf(ctx: Context, rev: RevisionFile): string {
  let text = ctx.ups.get(rev.id);
  if (text === undefined) {
    text = readUp(rev);
    ctx.ups.set(rev.id, text);
  }
  return text;
}

/** A revision's down SQL (null when it has no down file), read once per command. */
export function downOf(ctx: Context, rev: RevisionFile): string | null {
  const memo = (ctx.downs ??= new Map());
  let text = memo.get(rev.id);
  if (text === undefined) {
    text = readDown(rev);
    memo.set(rev.id, text);
  }
  return text;
}

/** A revision's TypeScript part (`<tag>.ts`), read once per command, or undefined for a plain SQL revision. */
export function tsOf(ctx: Context, rev: RevisionFile): TypeScriptPart | undefined {
  // most revisions have none: told by the folder's listing alone, nothing kept per revision
  if (!tsTagsOf(ctx).has(rev.id)) return undefined;
  const cache = (ctx.tss ??= new Map());
  let part = cache.get(rev.id);
  if (part === undefined) {
    const file = tsFileOf(rev);
    part = { file, display: rel(file), text: readTsPart(rev) };
    cache.set(rev.id, part);
  }
  return part;
}

/**
 * The tags with a `<tag>.ts` in the history folder, found once per command: from the checksum cache
 * while the folder's stat is the cached one (no entry came or went: checksums.ts), else from a
 * listing of the folder (its stat taken first, so a listing that changes meanwhile is never cached
 * under the stat it had before).
 */
export function tsTagsOf(ctx: Context): Set<string> {
  if (ctx.tsTags) return ctx.tsTags;
  const dir = ctx.history.dir;
  const cache = checksumCacheOf(ctx);
  let st: Stats | undefined;
  try {
    st = statSync(dir);
  } catch {
    /* no folder: no parts (the listing says so too) */
  }
  const cached = st && cache.tsTags(st);
  if (cached) return (ctx.tsTags = new Set(cached));
  const tags = tsTagsIn(folderNames(dir));
  if (st) cache.setTsTags(st, [...tags]);
  return (ctx.tsTags = tags);
}

/** A revision's checksum as the version table records it: its up SQL, and its TypeScript part when it has one. */
export function checksumOf(ctx: Context, rev: RevisionFile): string {
  const ts = tsOf(ctx, rev);
  if (!ts) return upChecksumOf(ctx, rev); // a plain SQL revision's is its up file's (memoized there)
  const memo = (ctx.checksums ??= new Map());
  let sum = memo.get(rev.id);
  if (sum === undefined) {
    sum = revisionChecksum(upOf(ctx, rev), ts.text);
    memo.set(rev.id, sum);
  }
  return sum;
}

/**
 * True when `recorded` (a version row's checksum) is the revision's: today's, or one a sluice that hashed
 * the files before reading CRLF as LF may have recorded of them (earlierRevisionChecksums: on a checkout
 * with CRLF line ends, git's autocrlf). The files are read only when today's differs.
 */
export function isChecksumOf(ctx: Context, rev: RevisionFile, recorded: string): boolean {
  if (checksumOf(ctx, rev) === recorded) return true;
  try {
    const ts = tsOf(ctx, rev);
    // a TypeScript revision's files are read for its checksum anyway; a plain one's earlier checksums are cached
    return (ts ? earlierRevisionChecksums(upOf(ctx, rev), ts.text) : upEarlierChecksumsOf(ctx, rev)).includes(recorded);
  } catch {
    return false; // unreadable now: not the recorded one
  }
}

/**
 * The up file's earlier checksums (sql.ts earlierChecksums; drizzle's migrator records one of them when
 * the file it read had CRLF line ends): from the checksum cache while the file's lstat is the cached
 * one, else read and hashed, and kept there beside its checksum. Empty when it cannot be read.
 */
export function upEarlierChecksumsOf(ctx: Context, rev: RevisionFile): string[] {
  return once((ctx.upEarlier ??= new Map()), rev.id, () => upEarlierOnce(ctx, rev));
}

function upEarlierOnce(ctx: Context, rev: RevisionFile): string[] {
  const cache = checksumCacheOf(ctx);
  const st = upLstat(ctx, rev);
  const hit = st && cache.earlier(rev.upFile, st);
  if (hit) return hit;
  let sums: string[];
  try {
    sums = earlierChecksums(upOf(ctx, rev));
  } catch {
    return [];
  }
  if (st) cache.setEarlier(rev.upFile, st, sums);
  return sums;
}

/**
 * SHA-256 of a revision's up SQL file: from its text when this command read it, else from the
 * checksum cache when the file's lstat is what was cached (checksums.ts), else read (and checked) and
 * hashed. The cache is written when the session ends (withSession).
 */
export function upChecksumOf(ctx: Context, rev: RevisionFile): string {
  return once((ctx.upSums ??= new Map()), rev.id, () => upChecksumOnce(ctx, rev));
}

function upChecksumOnce(ctx: Context, rev: RevisionFile): string {
  const text = ctx.ups.get(rev.id);
  if (text !== undefined) return checksum(text);
  const cache = checksumCacheOf(ctx);
  const st = upLstat(ctx, rev);
  const hit = st && cache.get(rev.upFile, st);
  if (hit) return hit;
  const sum = checksum(upOf(ctx, rev));
  if (st) cache.set(rev.upFile, st, sum);
  return sum;
}

/**
 * The up file's lstat, taken before any read of it (a file written after it never matches it in the
 * checksum cache): the one taken while waiting for the database (prefetch.ts), else one taken now.
 * Undefined when the file is missing or cannot be read (upOf names it; no throw: twice as fast).
 */
function upLstat(ctx: Context, rev: RevisionFile): Stats | undefined {
  if (ctx.stats?.has(rev.upFile)) return ctx.stats.get(rev.upFile);
  try {
    return lstatSync(rev.upFile, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** `compute()` once per command for `id`, kept in `memo`. */
function once<T>(memo: Map<string, T>, id: string, compute: () => T): T {
  let value = memo.get(id);
  if (value === undefined) {
    value = compute();
    memo.set(id, value);
  }
  return value;
}

/** The history folder's checksum cache, opened once per command (checksums.ts). */
function checksumCacheOf(ctx: Context): ChecksumCache {
  return (ctx.sums ??= ChecksumCache.open(ctx.root, ctx.history.dir, ctx.env));
}

/**
 * While waiting for the database (prefetch.ts, `stat`): a revision's up checksum taken from the
 * checksum cache when its lstat `st` is the cached one, so the applied-file check after the read is
 * only a comparison. Nothing is read; a miss is left to upChecksumOf. True when `st` was used up.
 */
export function cachedUpSum(ctx: Context, rev: RevisionFile, st: Stats | undefined): boolean {
  if (!st || !ctx.sums || ctx.ups.has(rev.id) || ctx.upSums?.has(rev.id)) return false;
  const hit = ctx.sums.get(rev.upFile, st);
  if (hit === undefined) return false;
  (ctx.upSums ??= new Map()).set(rev.id, hit);
  return true;
}
