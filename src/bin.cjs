'use strict';
/**
 * The `sluice` bin (copied to dist/cli.cjs by scripts/bundle-cli.mjs): it runs the CLI's bundle
 * (dist/cli-bundle.cjs), node-postgres's (dist/pg.cjs), better-sqlite3's JavaScript (dist/sqlite.cjs,
 * through the global below: dialect/sqlitedb.ts), the SQLite parser (dist/sqlparser.cjs, likewise:
 * sqlparse.ts) and sucrase (dist/sucrase.cjs, likewise: configimport.ts, a config's first load) through
 * a V8 code cache.
 *
 * Why: compiling the 500 KB bundle and then each function it calls, on every start, is ~15 ms of a
 * `status` that takes ~145 ms (`node -e 0`: ~85 ms). V8 can save what it compiled (bytecode of the
 * functions that ran, not only the top level) and reuse it on the next start, where it checks the V8
 * version, its flags and CPU features and rejects a cache that does not match them.
 *
 * - Where: the nearest node_modules/.cache/sluice/v8 of the bin (`<project>/node_modules` for an
 *   installed package, the repository's own node_modules here). Keyed by the bundle's build and by
 *   the command (`status`, `up`...), since a cache holds the functions that command ran. How a build
 *   is told apart, why a bundle is used only once settled, the CRC check before V8 reads a file, the
 *   atomic writes and the pruning: src/v8cache.cjs. Written when absent or rejected, by a run that
 *   exits 0, at exit or before the CLI changes a V8 flag (cli.ts limitTopTier calls `flush`
 *   through the global below: a cache made under other flags is rejected on the next start).
 * - After that flag change, the same function installs the cache of the package files the command
 *   goes on to load (drizzle-kit's API, drizzle-orm, the SQLite parser: src/v8modules.cjs).
 * - The bundle's dynamic `import()`s call the function this file passes it (`__sluiceImport`, see
 *   scripts/bundle-cli.mjs): an `import()` compiled by node:vm would need an experimental option in
 *   Node.js 20, which prints a warning. This file sits beside the bundle, so specifiers resolve alike.
 * - SLUICE_NO_COMPILE_CACHE=1 turns it off: the bundle is then required as any CommonJS file.
 */
const fs = require('node:fs');
const path = require('node:path');
const { MAGIC, cacheDir, buildOf, readChecked, writeChecked, wrappedText, WRAP_HEAD } = require('./v8cache.cjs');

const BUNDLE = path.join(__dirname, 'cli-bundle.cjs');
const FLUSH = Symbol.for('sluice.compileCache.flush');
const SQLITE = Symbol.for('sluice.compileCache.sqlite');
const SQLPARSER = Symbol.for('sluice.compileCache.sqlparser');
const SUCRASE = Symbol.for('sluice.compileCache.sucrase');
const MODULES = Symbol.for('sluice.compileCache.modules');
const PENDING = Symbol.for('sluice.compileCache.pending');

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

/** Writes the caches that were absent, damaged or rejected (best effort: a cache is only an optimization). */
function flush(crc32) {
  for (const { script, file } of pending.splice(0)) {
    let data;
    try {
      data = script.createCachedData();
    } catch {
      continue;
    }
    writeChecked(file, MAGIC, data, crc32);
  }
}

/**
 * Runs the CommonJS file `file` as a module through its code cache for `command`; returns its exports,
 * or undefined when `accept` (given the wrapped text and where the file's own starts in it) refuses it,
 * before anything of it runs.
 */
function load(file, command, dir, crc32, accept) {
  const vm = require('node:vm');
  const Module = require('node:module');
  const fd = fs.openSync(file, 'r');
  let text, build;
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    build = buildOf(st); // of the very file read: a build replacing it meanwhile is not mistaken for it
    // ASCII only (scripts/bundle-cli.mjs checks), read without UTF-8's decoding, wrapped as it is read
    text = wrappedText(fd, Number(st.size));
  } finally {
    fs.closeSync(fd);
  }
  // a file replaced while it was read (a build running meanwhile): left to Node.js's own loader, or,
  // for a file `accept` would check, to the installed package, as a refused one is
  if (text === undefined) return accept ? undefined : require(file);
  if (accept && !accept(text, WRAP_HEAD.length)) return undefined;
  const cacheFile = dir && build.settled ? path.join(dir, `${path.basename(file, '.cjs')}.${build.key}.${command}.v8`) : undefined;
  const cachedData = cacheFile && readChecked(cacheFile, MAGIC, crc32);
  const script = new vm.Script(text, { filename: file, cachedData });
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
/**
 * A package's one-file build (dist/<file>, scripts/bundle-cli.mjs), run once through its code cache when
 * its first line says it was built from the installed `version` (`// <package> <version>`); else
 * undefined, and the caller loads the package itself.
 */
function versionedBuild(file, packageName) {
  let exports;
  return (version, command, dir, crc32) => {
    exports ??= load(path.join(__dirname, file), command, dir, crc32, (text, at) => text.startsWith(`// ${packageName} ${version}\n`, at)) ?? null;
    return exports ?? undefined;
  };
}
const sqliteLib = versionedBuild('sqlite.cjs', 'better-sqlite3');
const sqlParserLib = versionedBuild('sqlparser.cjs', 'sql-parser-cst');
const sucraseLib = versionedBuild('sucrase.cjs', 'sucrase');

const crc32 = process.env.SLUICE_NO_COMPILE_CACHE === '1' ? undefined : require('node:zlib').crc32;
if (typeof crc32 !== 'function') {
  require(BUNDLE);
} else {
  const command = commandOf(process.argv.slice(2));
  const dir = cacheDir(__dirname);
  const packs = [];
  globalThis[FLUSH] = () => flush(crc32); // before a V8 flag changes: the run has reached a command's work
  globalThis[PENDING] = () => pending.length > 0; // a cache this run will write (absent, damaged or rejected)
  globalThis[SQLITE] = (version) => sqliteLib(version, command, dir, crc32);
  globalThis[SQLPARSER] = (version) => sqlParserLib(version, command, dir, crc32);
  globalThis[SUCRASE] = (version) => sucraseLib(version, command, dir, crc32);
  // after it (cli.ts, before large code loads): the package files the command loads, cached too
  globalThis[MODULES] = () => {
    if (dir) packs.push(require('./v8modules.cjs').installModuleCache(dir, `modules.${command}`, crc32));
  };
  process.once('exit', (code) => {
    if (code !== 0) return;
    flush(crc32);
    for (const write of packs) write();
  });
  load(BUNDLE, command, dir, crc32);
}
