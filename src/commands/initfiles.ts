/**
 * `sluice init`'s files: each one written only where nothing is (never overwriting), and what is in
 * the way named (a folder or a link to nothing where the file goes, a file where one of its folders
 * goes). Every write is recorded in `undo`, so a failing init puts the project back (init.ts).
 */
import { lstatSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, describeCause } from '../errors.js';
import type { InitFile } from './init.js';
import type { Undo } from './initpackage.js';

export function writeIfAbsent(root: string, rel: string, text: string, undo: Undo[], note?: string): InitFile {
  const file = path.join(root, rel);
  // a folder, or a link to nothing, where the file goes is no file to keep (was: "kept", exit 0, and the
  // Makefile's include of a dangling sluice.mk failed; found by a hunt)
  const entry = lstatOrNone(file); // none too where a folder of its path is a file (ENOTDIR): refused below
  if (entry) {
    const target = entry.isSymbolicLink() ? statSync(file, { throwIfNoEntry: false }) : entry;
    if (target?.isFile()) return { path: rel, status: 'kept', note: 'it exists; not changed' };
    const what = !target ? 'a link to nothing' : target.isDirectory() ? 'a folder' : 'not a regular file';
    throw new ConfigError(`cannot write ${rel}: it is ${what}, not the file; remove it (or point the link at a file)`);
  }
  try {
    const made = mkdirSync(path.dirname(file), { recursive: true });
    if (made) undo.push({ what: `${path.relative(root, made)}/`, run: () => rmSync(made, { recursive: true, force: true }) });
    writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`, { flag: 'wx' });
    undo.push({ what: rel, run: () => rmSync(file, { force: true }) });
  } catch (err) {
    // the file itself written meanwhile is kept; a file where one of its folders goes (mkdir's EEXIST,
    // was: "kept", exit 0, docker/compose.yml never written; found by a review) is refused
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && lstatOrNone(file)) return { path: rel, status: 'kept', note: 'it exists; not changed' };
    const blocking = (err as NodeJS.ErrnoException).code === 'EEXIST' || (err as NodeJS.ErrnoException).code === 'ENOTDIR' ? fileInPath(root, rel) : undefined;
    if (blocking) throw new ConfigError(`cannot write ${rel}: ${blocking} is a file, not a folder; remove or rename it`, { cause: err });
    throw new ConfigError(`cannot write ${rel}: ${describeCause(err)}`, { cause: err });
  }
  return { path: rel, status: 'written', ...(note ? { note } : {}) };
}

function lstatOrNone(file: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** The first folder of `rel`'s path that is something else (a file), relative to `root`. */
function fileInPath(root: string, rel: string): string | undefined {
  const parts = path.dirname(rel).split(path.sep).filter((p) => p && p !== '.');
  for (let k = 1; k <= parts.length; k++) {
    const at = parts.slice(0, k).join(path.sep);
    try {
      if (!statSync(path.join(root, at)).isDirectory()) return at;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
