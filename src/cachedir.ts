/** Where sluice keeps caches: the nearest node_modules/.cache/sluice of a project. */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The nearest node_modules of each project root asked about (looked up once per process). */
const modulesOf = new Map<string, string | undefined>();

/** sluice's folder in the nearest node_modules/.cache of the project at `root` (undefined without node_modules). */
export function sluiceCacheDir(root: string, name: string): string | undefined {
  if (!modulesOf.has(root)) {
    let found: string | undefined;
    for (let dir = root; ; dir = path.dirname(dir)) {
      if (existsSync(path.join(dir, 'node_modules'))) {
        found = path.join(dir, 'node_modules');
        break;
      }
      if (dir === path.dirname(dir)) break;
    }
    modulesOf.set(root, found);
  }
  const modules = modulesOf.get(root);
  return modules && path.join(modules, '.cache', 'sluice', name);
}

/**
 * Keep the `keep` most recently used files of `dir` whose names match `pattern` (by mtime: written, or
 * marked used by `markUsed`), remove the others, never `except` (the entry just written): entries keyed
 * by what changes (a config's mtime, the values of the variables it reads) would otherwise pile up, one
 * per edit or per database switched to. Temporary files of `writeAtomically` more than a day old go
 * too. Best effort: a file that cannot be read or removed stays.
 */
export function pruneCacheFiles(dir: string, pattern: RegExp, keep: number, except?: string): void {
  let all: string[];
  try {
    all = readdirSync(dir);
  } catch {
    return;
  }
  sweep(dir, all, Date.now()); // the one listing serves the temporary files too
  const names = all.filter((n) => pattern.test(n));
  if (names.length <= keep) return;
  const aged = names.flatMap((n) => {
    try {
      return [{ file: path.join(dir, n), mtime: statSync(path.join(dir, n)).mtimeMs }];
    } catch {
      return [];
    }
  });
  aged.sort((a, b) => b.mtime - a.mtime);
  for (const { file } of aged.slice(keep)) {
    if (file === except) continue;
    try {
      rmSync(file, { force: true });
    } catch {
      /* left for the next prune */
    }
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Checksum and parse caches kept per cache folder (one per migration folder, one per project root), the
 * most recently written: a node_modules shared by many checkouts or temporary copies of a project would
 * otherwise gather one for each, for ever.
 */
export const FOLDER_CACHES_KEPT = 64;

/** A cache file read and used: its mtime becomes now when it is more than a day old (one write a day at most), so pruning keeps what is used. */
export function markUsed(file: string): void {
  try {
    if (Date.now() - statSync(file).mtimeMs > DAY_MS) utimesSync(file, new Date(), new Date());
  } catch {
    /* best effort */
  }
}

/** A temporary file of `writeAtomically` (`<name>.<pid>-<hex>`; `<name>.<pid>` before) or of PGlite's template (`<name>.<pid>.<hex>.tmp`). */
const TEMPORARY = /\.\d+(?:-[0-9a-f]{8}|\.[0-9a-f]{8}\.tmp)?$/;

/**
 * Write a cache file atomically (a reader sees the old file or the new one): a temporary file of its
 * own beside it, renamed over it. A write that fails (a full disk) removes its temporary file and
 * throws. Temporary files a process killed between the write and the rename left are removed, once a
 * day old, by the pruneCacheFiles that follows every cache write.
 */
export function writeAtomically(file: string, data: string | Uint8Array): void {
  // the pid alone can be another container's too, on a node_modules they share: a random part as well,
  // and a file that exists already is never written over
  const tmp = `${file}.${process.pid}-${Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0')}`;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(tmp, data, { flag: 'wx' });
    renameSync(tmp, file);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'EEXIST') rmSync(tmp, { force: true }); // never another writer's
    throw err;
  }
}

/** Remove the temporary files of `dir` older than a day (best effort). */
export function sweepTemporaries(dir: string, now = Date.now()): void {
  try {
    sweep(dir, readdirSync(dir), now);
  } catch {
    /* a folder that cannot be read */
  }
}

function sweep(dir: string, names: string[], now: number): void {
  for (const name of names) {
    if (!TEMPORARY.test(name)) continue;
    const file = path.join(dir, name);
    try {
      if (now - statSync(file).mtimeMs > DAY_MS) rmSync(file, { force: true });
    } catch {
      /* gone meanwhile, or not ours to remove */
    }
  }
}
