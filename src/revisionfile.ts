/**
 * Reading a revision file (source.ts's readers, and anything else that runs one): a regular file
 * inside its migration folder, valid UTF-8, without NUL bytes, or an IntegrityError naming the file
 * and what to do.
 */
import { isUtf8 } from 'node:buffer';
import { lstatSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { IntegrityError } from './errors.js';
import { rel } from './relpath.js';

/**
 * A revision file is data sluice runs: it must be a regular file inside the migration folder (a
 * symlink may point elsewhere inside it), valid UTF-8, without NUL bytes (SQLite stops reading a
 * statement at NUL and would record the revision as applied).
 */
export function readRevisionFile(file: string, what: string, missing?: () => string, taken?: Stats): string;
/** `missing` null: null when the file does not exist (a link to nothing is still an error). */
export function readRevisionFile(file: string, what: string, missing: null): string | null;
export function readRevisionFile(file: string, what: string, missing?: (() => string) | null, taken?: Stats): string | null {
  const folder = path.dirname(file);
  let st: Stats | undefined;
  try {
    // one system call for "is it there" and "is it a link"; without throwing when it is not there,
    // which costs Node.js twice the call (none when the caller took it just now)
    st = taken ?? lstatSync(file, { throwIfNoEntry: false });
    if (!st) {
      if (missing === null) return null;
      throw Object.assign(new Error(`ENOENT: no such file or directory, lstat '${file}'`), { code: 'ENOENT', path: file, syscall: 'lstat' });
    }
  } catch (err) {
    if (missing === null && (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    if (missing) throw new IntegrityError(missing(), { cause: err });
    throw err;
  }
  let real = file;
  if (st.isSymbolicLink()) {
    try {
      real = realpathSync.native(file);
    } catch (err) {
      throw new IntegrityError(`${what}: ${rel(file)} is a link to nothing; restore the file from version control`, { cause: err });
    }
    const inside = path.relative(realFolder(folder), real);
    if (inside.startsWith('..') || path.isAbsolute(inside)) {
      throw new IntegrityError(`${what}: ${rel(file)} points outside the migration folder (to ${real}); replace the link with the file itself`);
    }
    st = statSync(real);
  }
  if (!st.isFile()) throw new IntegrityError(`${what}: ${rel(file)} is not a regular file (a ${st.isDirectory() ? 'directory' : 'special file'}); replace it with the SQL file`);
  // Node.js decodes UTF-8 in C++ without a Buffer in between; a text without U+0000 or U+FFFD
  // (what every invalid byte decodes to) came from valid UTF-8 without NUL bytes. Only a file with
  // either is read again as bytes, to tell a real U+FFFD from a broken byte and name the offset.
  const text = readFileSync(real, 'utf8');
  if (!text.includes('\0') && !text.includes('\uFFFD')) return text;
  const bytes = readFileSync(real);
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new IntegrityError(`${what}: ${rel(file)} holds a NUL byte at offset ${nul}; remove it (no SQL contains one)`);
  const bad = invalidUtf8At(bytes);
  if (bad >= 0) throw new IntegrityError(`${what}: ${rel(file)} is not valid UTF-8 (byte offset ${bad}); save it as UTF-8`);
  return bytes.toString('utf8');
}

const realFolders = new Map<string, string>();
function realFolder(folder: string): string {
  let real = realFolders.get(folder);
  if (!real) realFolders.set(folder, (real = realpathSync.native(folder)));
  return real;
}

/** Offset of the first byte that breaks UTF-8, or -1 (overlongs, surrogates and > U+10FFFF included). */
export function invalidUtf8At(b: Uint8Array): number {
  if (isUtf8(b)) return -1;
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    const n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n === 0 || i + n > b.length || !isUtf8(b.subarray(i, i + n))) return i;
    i += n;
  }
  return -1;
}
