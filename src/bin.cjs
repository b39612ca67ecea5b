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
 * - Keyed by the bundle's build (`version`: its inode, size and times, so a rebuilt or patched bundle
 *   never meets an old cache, which V8 itself checks only by the text's length) and by the command
 *   (`status`, `up`...), since the cache holds the functions that command ran.
 * - Written once per key, when absent or rejected: at exit, or before the CLI changes a V8 flag
 *   (cli.ts capOptimizedFunctionSize calls `flush` through the global below), since a cache made
 *   under other flags is rejected on the next start. Atomically: a reader sees a whole file or none.
 *   Older builds' caches are removed when a new one is written.
 * - The bundle's dynamic `import()`s call the function this file passes it (`__sluiceImport`, see
 *   scripts/bundle-cli.mjs): an `import()` compiled by node:vm would need an experimental option in
 *   Node.js 20, which prints a warning. This file sits beside the bundle, so specifiers resolve alike.
 * - SLUICE_NO_COMPILE_CACHE=1 turns it off: the bundle is then required as any CommonJS file.
 */
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const BUNDLE = path.join(__dirname, 'cli-bundle.cjs');
const FLUSH = Symbol.for('sluice.compileCache.flush');

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

const pending = [];

/** Writes the caches that were absent or rejected (once; best effort: a cache is only an optimization). */
function flush() {
  for (const { script, file, stale } of pending.splice(0)) {
    const dir = path.dirname(file);
    const tmp = `${file}.${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, file);
      for (const name of fs.readdirSync(dir)) if (stale(name)) fs.rmSync(path.join(dir, name), { force: true });
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
 * Which build the open file `fd` is, from its fstat: device, inode, size, modification and change times.
 * Any write to the file changes its change time (which no tool sets back), a new build or a copy its
 * inode too. (Not a hash of the text: node:crypto alone costs ~3.5 ms to load, which `status` does not.)
 */
function version(fd) {
  const st = fs.fstatSync(fd, { bigint: true });
  return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].map((n) => n.toString(36)).join('-');
}

/** Runs the CommonJS file `file` as a module through its code cache for `command`; returns its exports. */
function load(file, command, dir) {
  const fd = fs.openSync(file, 'r');
  let source, hash;
  try {
    hash = version(fd); // of the very file read: a build replacing it meanwhile is not mistaken for it
    source = fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
  const base = path.basename(file, '.cjs');
  const cacheFile = dir && path.join(dir, `${base}.${hash}.${command}.v8`);
  let cachedData;
  try {
    if (cacheFile) cachedData = fs.readFileSync(cacheFile);
  } catch {
    /* no cache yet */
  }
  const wrapped = `(function (exports, require, module, __filename, __dirname, __sluiceImport) { ${source.replace(/^#!.*/, '')}\n});`;
  const script = new vm.Script(wrapped, { filename: file, cachedData });
  if (cacheFile && (cachedData === undefined || script.cachedDataRejected)) {
    const mine = `${base}.${hash}.`;
    // other builds' files, and what a process killed while writing them left (`<name>.v8.<pid>-<hex>`)
    pending.push({ script, file: cacheFile, stale: (name) => name.startsWith(`${base}.`) && !name.startsWith(mine) });
  }
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  const own = Module.createRequire(file);
  const required = (id) => (id === './pg.cjs' ? pg(command, dir) : own(id));
  Object.assign(required, { resolve: own.resolve, cache: own.cache, main: require.main });
  script.runInThisContext().call(mod.exports, mod.exports, required, mod, file, path.dirname(file), dynamicImport);
  mod.loaded = true;
  return mod.exports;
}

/** The bundle's `import()`: resolved from this file's folder, which is the bundle's. */
const dynamicImport = (specifier) => import(specifier);

let pgExports;
function pg(command, dir) {
  return (pgExports ??= load(path.join(__dirname, 'pg.cjs'), command, dir));
}

if (process.env.SLUICE_NO_COMPILE_CACHE === '1') {
  require(BUNDLE);
} else {
  globalThis[FLUSH] = flush;
  process.once('exit', flush);
  load(BUNDLE, commandOf(process.argv.slice(2)), cacheDir());
}
