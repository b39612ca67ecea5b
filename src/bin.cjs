'use strict';
/**
 * The `sluice` bin (copied to dist/cli.cjs by scripts/bundle-cli.mjs): it runs the CLI's bundle
 * (dist/cli-bundle.cjs) and node-postgres's (dist/pg.cjs) through a V8 code cache.
 *
 * Why: compiling the 500 KB bundle and then each function it calls, on every start, is ~15 ms of a
 * `status` that takes ~145 ms (`node -e 0`: ~85 ms). V8 can save what it compiled (bytecode of the
 * functions that ran, not only the top level) and reuse it on the next start, where it checks the V8
 * version, its flags and CPU features and rejects a cache that does not match them.
 *
 * - Where: the nearest node_modules/.cache/sluice/v8 of the bin (`<project>/node_modules` for an
 *   installed package, the repository's own node_modules here): the project's own folder, as trusted
 *   as node_modules itself. Nothing is written when it cannot be (a read-only install): the bin then
 *   compiles as Node.js does.
 * - Keyed by the bundle's build (`version`: its device, inode, size and times) and by the command
 *   (`status`, `up`...), since the cache holds the functions that command ran. V8 itself checks only
 *   the text's length, so the key is what keeps a rebuilt or patched bundle from running an older
 *   build's code. It is used only for a bundle whose times are 3 s old (SETTLED_NS): a file system
 *   that keeps times to the second (or two) would otherwise give an edit made within the same second
 *   the same key; any later write moves the change time past the settled one, which no tool sets back.
 * - Checked before V8 sees it: release builds of V8 do not verify a code cache's payload, and a
 *   damaged one crashes the process or runs damaged code. Each file starts with a magic word and the
 *   CRC-32 of the rest (node:zlib's crc32: node:crypto would cost ~3 ms to load); a file that fails
 *   is ignored and written again. (Not against forgery: whoever can write node_modules can change
 *   sluice's code there anyway.) A Node.js without zlib.crc32 (before 20.15) runs without the cache.
 * - Written when absent or rejected, by a run that succeeds (exit 0: a mistyped command leaves no
 *   file), at exit or before the CLI changes a V8 flag (cli.ts capOptimizedFunctionSize calls `flush`
 *   through the global below; a cache made under other flags is rejected on the next start).
 *   Atomically (a reader sees a whole file or none). The folder keeps the KEPT most recently used
 *   files (a used file's time is moved once a day) and drops what a killed writer left after a day:
 *   checkouts sharing one node_modules keep their own files side by side.
 * - The bundle's dynamic `import()`s call the function this file passes it (`__sluiceImport`, see
 *   scripts/bundle-cli.mjs): an `import()` compiled by node:vm would need an experimental option in
 *   Node.js 20, which prints a warning. This file sits beside the bundle, so specifiers resolve alike.
 * - SLUICE_NO_COMPILE_CACHE=1 turns it off: the bundle is then required as any CommonJS file.
 */
const fs = require('node:fs');
const path = require('node:path');

const BUNDLE = path.join(__dirname, 'cli-bundle.cjs');
const FLUSH = Symbol.for('sluice.compileCache.flush');
const MAGIC = 0x38564c53; // "SLV8", little-endian
const SETTLED_NS = 3_000_000_000n;
const KEPT = 64;
const DAY_MS = 24 * 60 * 60 * 1000;
const NAME = /^(?:cli-bundle|pg)\.[0-9a-z-]+\.[a-z_][a-z-]*\.v8$/;

/** The folder of the caches, or undefined without a node_modules to hold it. */
function cacheDir() {
  const parts = __dirname.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  const modules = at > 0 ? parts.slice(0, at + 1).join(path.sep) : path.join(__dirname, '..', 'node_modules');
  return fs.existsSync(modules) ? path.join(modules, '.cache', 'sluice', 'v8') : undefined;
}

/** The command word of the arguments (the cache key's second part): `db` for `db up`, `_` when none. */
function commandOf(args) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-C' || a === '--cwd' || a === '--config') i++;
    else if (!a.startsWith('-')) return /^[a-z][a-z-]{0,30}$/.test(a) ? a : '_';
  }
  return '_';
}

/**
 * Which build the open file `fd` is, from its fstat (device, inode, size, modification and change
 * times), and whether it is settled: both times at least 3 s old.
 */
function version(fd) {
  const st = fs.fstatSync(fd, { bigint: true });
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    key: [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].map((n) => n.toString(36)).join('-'),
    settled: now - st.mtimeNs >= SETTLED_NS && now - st.ctimeNs >= SETTLED_NS,
  };
}

/** The payload of a cache file when its magic word and CRC-32 hold, else undefined (marking the file used). */
function readCache(file, crc32) {
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
    if (data.readUInt32LE(0) !== MAGIC || data.readUInt32LE(4) !== crc32(data.subarray(8)) >>> 0) return undefined;
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

const pending = [];

/** Writes the caches that were absent, damaged or rejected (best effort: a cache is only an optimization). */
function flush(crc32) {
  for (const { script, file } of pending.splice(0)) {
    const tmp = `${file}.${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const payload = script.createCachedData();
      const head = Buffer.alloc(8);
      head.writeUInt32LE(MAGIC, 0);
      head.writeUInt32LE(crc32(payload) >>> 0, 4);
      fs.writeFileSync(tmp, Buffer.concat([head, payload]));
      fs.renameSync(tmp, file);
      prune(path.dirname(file), file);
    } catch {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        /* nothing more to do */
      }
    }
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

/** Runs the CommonJS file `file` as a module through its code cache for `command`; returns its exports. */
function load(file, command, dir, crc32) {
  const vm = require('node:vm');
  const Module = require('node:module');
  const fd = fs.openSync(file, 'r');
  let source, build;
  try {
    build = version(fd); // of the very file read: a build replacing it meanwhile is not mistaken for it
    source = fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
  const cacheFile = dir && build.settled ? path.join(dir, `${path.basename(file, '.cjs')}.${build.key}.${command}.v8`) : undefined;
  const cachedData = cacheFile && readCache(cacheFile, crc32);
  const wrapped = `(function (exports, require, module, __filename, __dirname, __sluiceImport) { ${source.replace(/^#!.*/, '')}\n});`;
  const script = new vm.Script(wrapped, { filename: file, cachedData });
  if (cacheFile && (cachedData === undefined || script.cachedDataRejected)) pending.push({ script, file: cacheFile });
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  const own = Module.createRequire(file);
  const required = (id) => (id === './pg.cjs' ? pg(command, dir, crc32) : own(id));
  Object.assign(required, { resolve: own.resolve, cache: own.cache, main: require.main });
  script.runInThisContext().call(mod.exports, mod.exports, required, mod, file, path.dirname(file), dynamicImport);
  mod.loaded = true;
  return mod.exports;
}

/** The bundle's `import()`: resolved from this file's folder, which is the bundle's. */
const dynamicImport = (specifier) => import(specifier);

let pgExports;
function pg(command, dir, crc32) {
  return (pgExports ??= load(path.join(__dirname, 'pg.cjs'), command, dir, crc32));
}

const crc32 = process.env.SLUICE_NO_COMPILE_CACHE === '1' ? undefined : require('node:zlib').crc32;
if (typeof crc32 !== 'function') {
  require(BUNDLE);
} else {
  globalThis[FLUSH] = () => flush(crc32); // before a V8 flag changes: the run has reached a command's work
  process.once('exit', (code) => {
    if (code === 0) flush(crc32);
  });
  load(BUNDLE, commandOf(process.argv.slice(2)), cacheDir(), crc32);
}
