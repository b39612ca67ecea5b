'use strict';
/**
 * A V8 code cache for the CommonJS files of packages (src/v8cache.cjs has the rules): drizzle-kit's
 * bin in `drizzle-kit generate`'s process (src/kitrun.cjs), and drizzle-kit's API, drizzle-orm and the
 * SQLite parser in commands that load them (migrate-downs, db-test...; the bin runs its own one-file
 * build of the SQLite parser, dist/sqlparser.cjs, when the installed package is that version): compiling
 * those is most of what such a process spends before its work (drizzle-kit generate: ~0.25 s of its
 * ~0.45 s here).
 *
 * installModuleCache takes over Module.prototype._compile for the CommonJS files of the packages
 * named in PACKAGES (the large ones these commands load, whose code was read for what follows; never
 * the project's own sources nor any other package: code compiled by node:vm differs from Node.js's own
 * in ways a package could notice, listed below): each one is compiled from the cache when the pack
 * holds it for the same build and text of the file, else as usual. One pack per name (`drizzle-kit-postgresql.generate`,
 * `modules.create`...) holds every such file the run loaded, each keyed by its own build; it is written
 * again, by a run that exits 0, when a file was missing from it, changed or rejected by V8.
 *
 * A dynamic import() cannot be served from a code cache in Node.js 20 (the compiled code loses the
 * loader it needs), so in a file that has some, each import() expression (found by es-module-lexer,
 * its offsets kept in the pack) calls a stand-in: an import() compiled apart, on the file's own path,
 * which resolves specifiers from that file exactly as the file's own import() would.
 *
 * Where this differs from Node.js's own loader, and why it is safe for PACKAGES: an import() in code
 * the file makes at run time (eval, new Function) would fail, so a file that calls either with a string
 * mentioning import( is compiled as usual; the text of a function holding import() shows the stand-in
 * (Function.prototype.toString), the module function gets a sixth argument, line 1's columns move by
 * the wrapper's length, and the stack shows this file's frames. Under --enable-source-maps, or with
 * Module.wrap patched (an APM agent), nothing is cached.
 */
const fs = require('node:fs');
const path = require('node:path');
const { PACK_MAGIC, buildOf, readChecked, writeChecked, WRAP_HEAD, WRAP_TAIL, hashbangLength, withoutHashbang } = require('./v8cache.cjs');

const IN_PACKAGES = `${path.sep}node_modules${path.sep}`;
/**
 * The packages served: drizzle-kit (bin and API), drizzle-orm, the SQLite parser, esbuild's JS API
 * (drizzle-kit loads configs with it), TypeScript's (its parser reads a TypeScript revision's part for
 * unawaited queries, src/unawaited.ts, when it meets a part's text for the first time: its 9 MB file).
 */
const PACKAGES = new Set(['drizzle-kit', 'drizzle-orm', 'sql-parser-cst', 'esbuild', 'typescript']);
/** eval or Function called with a string mentioning import( within its first 300 characters: code whose import() a cached file cannot serve. */
const CALLS_EVAL = /\b(?:eval|Function)\s*\(/g;
const IMPORT_IN_STRING = /['"`][^'"`\n]*\bimport\s*\(/;
function makesImportCode(text) {
  for (const call of text.matchAll(CALLS_EVAL)) if (IMPORT_IN_STRING.test(text.slice(call.index, call.index + 300))) return true;
  return false;
}
const IMPORT = 'import';
const STAND_IN = '__sluiceImport';
const WRAPPER = ['(function (exports, require, module, __filename, __dirname) { ', '\n});'];
/** The pack's layout and the rules its entries were made under (a pack of another is not read). */
const FORMAT = 2; // raise it with any change to what a file's text is compiled as (wrap(), STAND_IN, compiledText): V8 checks only the length
// (2: the SQLite parser runs from the bin's own build of it, dist/sqlparser.cjs; its 121 files in a pack of format 1 were read on every run and never dropped)

/**
 * What the text given to the compiler must match besides the file's build: its length and CRC-32, so
 * that a file a loader hook hands over changed (a transpiler) is never served code compiled from another
 * text of the same file (V8 checks only the length). ~2 ms a megabyte of text here.
 */
function fingerprint(content, crc32, read) {
  const crc = read !== undefined && read.text === content ? read.crc : crc32(content) >>> 0;
  return `${content.length.toString(36)}-${crc.toString(36)}`;
}

const ASCII_READS = Symbol.for('sluice.asciiReads');
/**
 * Node.js's loader reads a file's text with fs.readFileSync(file, 'utf8') (~2 ms a megabyte here), and
 * the fingerprint above encodes that text to UTF-8 again for its CRC-32 (~1 ms a megabyte). Most
 * files of PACKAGES are all ASCII (sql-parser-cst's 6.5 MB parser, drizzle-kit's 3.7 MB bin), whose
 * UTF-8 reading is their Latin-1 reading, ~6 times faster, and whose text's CRC-32 is their bytes'.
 * So those reads (a .js or .cjs file of PACKAGES, as 'utf8', by the loader or anyone) read the bytes,
 * and return the Latin-1 reading when they are all ASCII (the same string), else the UTF-8 one (the
 * same string too); `last.read` keeps the latest such ASCII reading's file, text and CRC-32 until a
 * compile takes it (the loader compiles a file right after reading it; any other read replaces it, so
 * at most one text is held). ~10 ms less for drizzle-kit's 3.7 MB bin.
 */
function readAsciiCheaply(last, crc32) {
  const { isAscii } = require('node:buffer');
  if (typeof isAscii !== 'function' || fs.readFileSync[ASCII_READS]) return;
  const read = fs.readFileSync;
  const readFileSync = function readFileSync(file, options) {
    if (options !== 'utf8' || typeof file !== 'string' || !file.includes(IN_PACKAGES) || !/\.c?js$/.test(file) || !PACKAGES.has(packageOf(file))) {
      return read.apply(this, arguments);
    }
    last.read = undefined;
    const bytes = read.call(this, file);
    if (!isAscii(bytes)) return bytes.toString('utf8');
    const text = bytes.toString('latin1');
    last.read = { file, text, crc: crc32(bytes) >>> 0 };
    return text;
  };
  readFileSync[ASCII_READS] = last;
  fs.readFileSync = readFileSync;
}

/** The package a file under node_modules belongs to (`@scope/name` or `name`), from its path. */
function packageOf(filename) {
  const rest = filename.slice(filename.lastIndexOf(IN_PACKAGES) + IN_PACKAGES.length).split(path.sep);
  return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
}

/** The pack of `name` a package file goes to: TypeScript's files to one of their own (see installModuleCache). */
function packFileOf(dir, name, filename) {
  return path.join(dir, packageOf(filename) === 'typescript' ? `${name}.typescript.v8pack` : `${name}.v8pack`);
}

/** The entries of a pack: file name -> { key, text (fingerprint), positions, data }; empty when absent or damaged. */
function readPack(file, crc32) {
  const entries = new Map();
  const body = readChecked(file, PACK_MAGIC, crc32);
  if (!body || body.length < 4) return entries;
  try {
    const size = body.readUInt32LE(0);
    const head = JSON.parse(body.subarray(4, 4 + size).toString('utf8'));
    if (head.format !== FORMAT || !Array.isArray(head.files)) return entries; // another sluice's pack: rewritten
    const list = head.files;
    let at = 4 + size;
    for (const e of list) {
      entries.set(e.file, { key: e.key, text: e.text, positions: e.positions, data: body.subarray(at, at + e.size) });
      at += e.size;
    }
    if (at !== body.length) entries.clear(); // not what this code writes: none is used
  } catch {
    entries.clear();
  }
  return entries;
}

/** Offsets of the import() expressions of `text` (after withoutHashbang), or undefined when the lexer cannot tell. */
function importPositions(text) {
  if (!/\bimport\s*\(/.test(text)) return [];
  try {
    const found = lexer().parse(text)[0].filter((i) => i.type === 'dynamic').map((i) => i.importStart);
    return found.every((at) => text.startsWith(IMPORT, at)) ? found.sort((a, b) => a - b) : undefined;
  } catch {
    return undefined; // not lexable as JavaScript: compiled by Node.js as usual, uncached
  }
}

let lexerModule;
let loadingLexer = false;
/** es-module-lexer, loaded on the first miss that needs it (its own file is compiled plainly meanwhile). */
function lexer() {
  if (lexerModule) return lexerModule;
  loadingLexer = true;
  try {
    return (lexerModule = require('es-module-lexer'));
  } finally {
    loadingLexer = false;
  }
}

/**
 * What a file's text is compiled as, the wrapped `withoutHashbang(content)` with each import() at `positions` calling the stand-in, made in one
 * copy of the text: each of those steps copied it (drizzle-kit's 3.7 MB bin with its 46 import()s:
 * ~7 ms, ~2 ms this way). `positions` are offsets in `content` (blanking the hashbang keeps them).
 */
function compiledText(content, positions) {
  let from = hashbangLength(content); // blanked to spaces (withoutHashbang), sliced from `content` itself
  const parts = [WRAP_HEAD, ' '.repeat(from)];
  for (const at of positions) {
    parts.push(content.slice(from, at), STAND_IN);
    from = at + IMPORT.length;
  }
  parts.push(content.slice(from), WRAP_TAIL);
  return parts.join('');
}

/** The stand-in for the import() of `file`: made on first use (one experimental-feature warning, silenced). */
function importerFor(file) {
  let real;
  return function (specifier, options) {
    const vm = require('node:vm');
    const emit = process.emitWarning;
    process.emitWarning = function (warning, ...rest) {
      if (String((warning && warning.message) || warning).includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return;
      return emit.call(process, warning, ...rest);
    };
    try {
      real ??= new vm.Script('(specifier, options) => options === undefined ? import(specifier) : import(specifier, options)', {
        filename: file,
        importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
      }).runInThisContext();
      return real(specifier, options);
    } finally {
      process.emitWarning = emit;
    }
  };
}

/** The `require` a module's code is given, as Node.js makes it (lib/internal/modules/helpers.js makeRequireFunction). */
function requireFor(mod, Module) {
  const require = function require(id) {
    return mod.require(id);
  };
  function resolve(request, options) {
    if (typeof request !== 'string') return Module.createRequire(mod.filename).resolve(request); // Node.js's own error
    return Module._resolveFilename(request, mod, false, options);
  }
  resolve.paths = (request) => Module._resolveLookupPaths(request, mod);
  require.resolve = resolve;
  require.main = process.mainModule;
  require.extensions = Module._extensions;
  require.cache = Module._cache;
  return require;
}

/**
 * Serve the package files this process compiles from the pack `name` in `dir` (see above). Returns the
 * function that writes the pack when it should be (call it when the run has succeeded).
 */
function installModuleCache(dir, name, crc32) {
  const Module = require('node:module');
  const vm = require('node:vm');
  if (!vm.constants || !vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER) return () => {};
  if (process.sourceMapsEnabled || process.execArgv.some((a) => a.startsWith('--enable-source-maps'))) return () => {}; // Node.js maps package frames itself
  const unpatched = () => Module.wrap === wrapFunction && Module.wrapper[0] === WRAPPER[0] && Module.wrapper[1] === WRAPPER[1];
  const wrapFunction = Module.wrap;
  if (!Array.isArray(Module.wrapper) || !unpatched()) return () => {}; // patched: its patch would be skipped
  // Each pack is read on the first file it may serve: a command that loads none of PACKAGES
  // (migrate-create, whose processes diff and parse with code of their own) reads no pack (~3 ms a
  // megabyte of it). TypeScript's files go to a pack of their own: loaded only to read a TypeScript
  // part not read before (src/unawaited.ts), they would make every run with a TypeScript part, which
  // loads drizzle-orm, read ~2.5 MB more.
  const packs = new Map(); // pack file -> { entries (read when first needed), compiled: file -> { key, text, positions, script }, missed }
  const packOf = (filename) => {
    const file = packFileOf(dir, name, filename);
    let pack = packs.get(file);
    if (!pack) packs.set(file, (pack = { file, entries: undefined, compiled: new Map(), missed: false }));
    return pack;
  };
  const last = { read: undefined }; // the latest ASCII reading of a package file ({ file, text, crc }), until a compile takes it
  readAsciiCheaply(last, crc32);
  const original = Module.prototype._compile;

  Module.prototype._compile = function (content, filename, ...rest) {
    // taken first, whatever follows: a reading is used by the compile of its own file only, and never held on
    const read = last.read !== undefined && last.read.file === filename ? last.read : undefined;
    last.read = undefined;
    const plain = () => original.call(this, content, filename, ...rest);
    if (loadingLexer || typeof content !== 'string' || typeof filename !== 'string' || !filename.includes(IN_PACKAGES) || !/\.c?js$/.test(filename)) return plain();
    if (rest[0] !== undefined && rest[0] !== 'commonjs') return plain(); // an ES module required (Node.js 22)
    if (!PACKAGES.has(packageOf(filename)) || !unpatched()) return plain();
    let build;
    try {
      build = buildOf(fs.statSync(filename, { bigint: true }));
    } catch {
      return plain();
    }
    if (!build.settled) return plain();
    const print = fingerprint(content, crc32, read);
    const pack = packOf(filename);
    const hit = (pack.entries ??= readPack(pack.file, crc32)).get(filename);
    const usable = hit !== undefined && hit.key === build.key && hit.text === print;
    if (!usable && makesImportCode(content)) return plain(); // never packed: the same text is never served
    const positions = usable ? hit.positions : importPositions(withoutHashbang(content));
    if (positions === undefined) return plain();
    let script;
    try {
      script = new vm.Script(compiledText(content, positions), { filename, cachedData: usable ? hit.data : undefined });
    } catch {
      return plain(); // Node.js reports it (or loads the file another way) as it would have
    }
    if (!usable || script.cachedDataRejected) pack.missed = true;
    pack.compiled.set(filename, { key: build.key, text: print, positions, script });
    const fn = script.runInThisContext({ displayErrors: true });
    return fn.call(this.exports, this.exports, requireFor(this, Module), this, filename, path.dirname(filename), positions.length ? importerFor(filename) : undefined);
  };

  return function writePacks() {
    for (const pack of packs.values()) {
      if (!pack.missed) continue;
      pack.missed = false;
      writePack(pack, name, crc32);
    }
  };
}

/** Writes a pack again: the files this run compiled, and those an earlier run packed that are still the same build. */
function writePack(pack, name, crc32) {
  const list = [];
  const blobs = [];
  for (const [file, e] of pack.compiled) {
    let data;
    try {
      data = e.script.createCachedData();
    } catch {
      continue;
    }
    list.push({ file, key: e.key, text: e.text, positions: e.positions, size: data.length });
    blobs.push(data);
  }
  // what an earlier run packed and this one did not load stays, while its file is the same build
  for (const [file, e] of pack.entries ?? []) {
    if (pack.compiled.has(file) || !PACKAGES.has(packageOf(file)) || packFileOf(path.dirname(pack.file), name, file) !== pack.file) continue;
    try {
      if (buildOf(fs.statSync(file, { bigint: true })).key !== e.key) continue;
    } catch {
      continue;
    }
    list.push({ file, key: e.key, text: e.text, positions: e.positions, size: e.data.length });
    blobs.push(e.data);
  }
  const head = Buffer.from(JSON.stringify({ format: FORMAT, files: list }), 'utf8');
  const size = Buffer.alloc(4);
  size.writeUInt32LE(head.length, 0);
  writeChecked(pack.file, PACK_MAGIC, Buffer.concat([size, head, ...blobs]), crc32);
}

module.exports = { installModuleCache, importPositions, compiledText };
