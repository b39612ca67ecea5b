'use strict';
/**
 * V8 code caches for the bin (src/bin.cjs: the CLI's bundle and node-postgres's) and for the CommonJS
 * files of packages a command loads (installModuleCache: drizzle-kit, drizzle-orm, the SQL parsers),
 * in the nearest node_modules/.cache/sluice/v8. Plain CommonJS, copied to dist/ by scripts/bundle-cli.mjs:
 * it runs before the bundle, and dist's ES modules cannot be required by Node.js 20.
 *
 * The rules (README "Caches"), the same for both kinds:
 * - A cache is V8's compiled code of a file, saved after a run so that the next start skips compiling
 *   what ran. V8 itself rejects a cache of another V8 version, flags or CPU, but checks only the
 *   text's length: the key (the file's device, inode, size and times) is what keeps an edited file
 *   from running old code, and a file is cached only once its times are 3 s old (SETTLED_NS), so that
 *   an edit within the same second on a file system keeping times to the second cannot share a key.
 * - Every cache file starts with a magic word and the CRC-32 of the rest, checked before V8 reads it:
 *   release builds of V8 do not verify a cache's payload, and a damaged one crashes the process or runs
 *   damaged code. A file that fails is ignored and written again. (Not against forgery: whoever can
 *   write node_modules can change the code there anyway.)
 * - Written atomically (a temporary file renamed), only by a run that exits 0, best effort (a folder
 *   that cannot be written leaves the run as it was). The folder keeps the KEPT most recently used files
 *   and drops what a killed writer left after a day.
 */
const fs = require('node:fs');
const path = require('node:path');

const MAGIC = 0x38564c53; // "SLV8", little-endian: one file's cache (the bin's)
const PACK_MAGIC = 0x50564c53; // "SLVP": the caches of a command's package files, in one file
const SETTLED_NS = 3_000_000_000n;
const KEPT = 64;
const DAY_MS = 24 * 60 * 60 * 1000;
/** A pack's name (`<what>.<command>`, as kitrun and the bin give it): its file is `<name>.v8pack`. */
const PACK = '[a-z][a-z0-9-]*\\.[a-z_][a-z-]*';
const PACK_NAME = new RegExp(`^${PACK}$`);
const NAME = new RegExp(`^(?:(?:cli-bundle|pg|sqlite|sqlparser|sucrase)\\.[0-9a-z-]+\\.[a-z_][a-z-]*\\.v8|${PACK}\\.v8pack)$`);

/** The cache folder for code in `dir`: under the nearest node_modules above it, or undefined without one. */
function cacheDir(dir) {
  const parts = dir.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  const modules = at > 0 ? parts.slice(0, at + 1).join(path.sep) : path.join(dir, '..', 'node_modules');
  return fs.existsSync(modules) ? path.join(modules, '.cache', 'sluice', 'v8') : undefined;
}

/** A file's build from its (bigint) stat: the key, and whether both its times are 3 s old. */
function buildOf(st) {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    key: [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].map((n) => n.toString(36)).join('-'),
    settled: now - st.mtimeNs >= SETTLED_NS && now - st.ctimeNs >= SETTLED_NS,
  };
}

/** The content of a cache file after its magic word and CRC-32, when they hold (marking the file used); else undefined. */
function readChecked(file, magic, crc32) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined; // none yet
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.size < 8) return undefined;
    const data = Buffer.allocUnsafe(st.size);
    if (fs.readSync(fd, data, 0, st.size, 0) !== st.size) return undefined;
    if (data.readUInt32LE(0) !== magic || data.readUInt32LE(4) !== crc32(data.subarray(8)) >>> 0) return undefined;
    if (Date.now() - st.mtimeMs > DAY_MS) {
      try {
        fs.futimesSync(fd, new Date(), new Date()); // used: kept by the pruning
      } catch {
        /* another user's file: used all the same */
      }
    }
    return data.subarray(8);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `payload` under its magic word and CRC-32, atomically; false when it could not. */
function writeChecked(file, magic, payload, crc32) {
  const tmp = `${file}.${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const head = Buffer.alloc(8);
    head.writeUInt32LE(magic, 0);
    head.writeUInt32LE(crc32(payload) >>> 0, 4);
    fs.writeFileSync(tmp, Buffer.concat([head, payload]));
    fs.renameSync(tmp, file);
    prune(path.dirname(file), file);
    return true;
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* nothing more to do */
    }
    return false;
  }
}

/**
 * Keep the KEPT most recently used cache files of `dir` (never `except`); drop other files of a day or more.
 * The rule of cachedir.ts pruneCacheFiles and markUsed, written again here: this file runs before the
 * bundle, and dist/cachedir.js is an ES module, which Node.js 20 cannot require.
 */
function prune(dir, except) {
  const now = Date.now();
  const files = [];
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    try {
      const { mtimeMs } = fs.statSync(file);
      if (NAME.test(name)) files.push({ file, mtimeMs });
      else if (now - mtimeMs > DAY_MS) fs.rmSync(file, { force: true }); // left by a writer killed before its rename
    } catch {
      /* gone meanwhile */
    }
  }
  files.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { file } of files.slice(KEPT)) if (file !== except) fs.rmSync(file, { force: true });
}

/** The function a CommonJS file's text is run as (Node.js's own wrapper, plus the import() stand-in). */
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname, __sluiceImport) { ';
const WRAP_TAIL = '\n});';
function wrap(source) {
  return `${WRAP_HEAD}${source}${WRAP_TAIL}`;
}

/**
 * The wrapped text (`wrap`) of the ASCII file open as `fd`, `size` bytes long, its hashbang blanked
 * (`withoutHashbang`), made as one flat string: read between the wrapper's two ends in one buffer,
 * then decoded once. A concatenation would leave V8 to flatten the whole text again before it looks
 * the script up in its cache (a second copy: ~0.6 MB for the bundle, ~180 pages to fault in).
 * `undefined` when the file is not `size` bytes long any more (cut short or grown while it was read).
 */
function wrappedText(fd, size) {
  const head = Buffer.from(WRAP_HEAD, 'latin1');
  const bytes = Buffer.allocUnsafeSlow(head.length + size + WRAP_TAIL.length);
  head.copy(bytes, 0);
  let at = 0;
  while (at < size) {
    const n = fs.readSync(fd, bytes, head.length + at, size - at, at);
    if (n === 0) return undefined;
    at += n;
  }
  if (fs.readSync(fd, Buffer.alloc(1), 0, 1, size) !== 0) return undefined; // grown meanwhile
  bytes.write(WRAP_TAIL, head.length + size, 'latin1');
  if (bytes[head.length] === 0x23 && bytes[head.length + 1] === 0x21) {
    let end = head.length + 2;
    while (end < head.length + size && bytes[end] !== 10 && bytes[end] !== 13) end++;
    bytes.fill(0x20, head.length, end);
  }
  return bytes.latin1Slice(0, bytes.length);
}

/** The length of `text`'s hashbang line (up to its end of line), 0 without one. */
function hashbangLength(text) {
  if (!text.startsWith('#!')) return 0;
  let n = 2;
  while (n < text.length && text.charCodeAt(n) !== 10 && text.charCodeAt(n) !== 13) n++;
  return n;
}

/** A hashbang line blanked to spaces of the same length (a function body cannot start with one; offsets stay). */
function withoutHashbang(text) {
  const n = hashbangLength(text);
  return n ? ' '.repeat(n) + text.slice(n) : text;
}

module.exports = { MAGIC, PACK_MAGIC, PACK_NAME, cacheDir, buildOf, readChecked, writeChecked, wrap, wrappedText, WRAP_HEAD, WRAP_TAIL, hashbangLength, withoutHashbang };
