/**
 * The code cache of package files (src/v8modules.cjs), in real Node.js processes: a package under a
 * node_modules folder named as one the cache serves (sql-parser-cst; its own text here), required by a
 * small runner that installs the cache the way the bin and kitrun.cjs do. Any other package, a file
 * that makes import() code at run time, and a process mapping sources are left to Node.js. Served only for the same build and text of a file (an edit, even of the same length,
 * or a loader hook handing over other text, compiles afresh); import() in a cached file resolves from
 * that file and prints no warning; a damaged pack is ignored and written again; a failed run writes
 * nothing; a file just written is not packed. Then migrate-create through the bin: drizzle-kit's
 * processes use their packs, the command's own SQLite parser its one file's cache, and both write the
 * same revision.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, makeProjectWithOwnCache, tempDir } from '../support/project.js';

const REPO = path.resolve(__dirname, '..', '..');
const SETTLE_MS = 3_200;

// ~200 KB, the line a loader hook changes in the middle (a fingerprint of the text's ends would miss it)
const PAD = `/* ${'x'.repeat(100_000)} */\n`;
const PKG = PAD + `'use strict';
exports.value = 'AAAA';
exports.note = "a string saying import('x') stays a string";
exports.run = async () => {
  const p = await import('node:path');
  const e = await import('./esm.mjs');
  const dep = await import('dep');
  return [exports.value, p.sep, e.default, dep.default.name, require.resolve('./index.js') === __filename, exports.note.length, require('./word.js')].join(' ');
};
` + PAD;

const NON_ASCII = 'caf\u00e9 \u2211 \u{1F600}';
const WORD = `'use strict';\nmodule.exports = '${NON_ASCII}'; // ${NON_ASCII}\n`;

const RUNNER = `'use strict';
const Module = require('node:module');
if (process.env.TRANSFORM === '1') {
  // a loader hook handing the compiler another text of the same file (as a transpiler would)
  const js = Module._extensions['.js'];
  Module._extensions['.js'] = (mod, file) => {
    if (!file.endsWith('index.js')) return js(mod, file);
    mod._compile(require('node:fs').readFileSync(file, 'utf8').replace('AAAA', 'CCCC'), file);
  };
}
const write = require(${JSON.stringify(path.join(REPO, 'src', 'v8modules.cjs'))}).installModuleCache(process.argv[2], 'test.run', require('node:zlib').crc32);
process.once('exit', (code) => code === 0 && write());
const extra = process.env.EXTRA === '1' ? [require('other').value, require('drizzle-orm').ready] : process.env.TS === '1' ? [require('typescript').value] : [];
Promise.all([require('sql-parser-cst').run(), ...extra]).then((out) => {
  console.log(out.join(' '));
  process.exitCode = Number(process.env.EXIT ?? 0);
});
`;

function makePackage(): { dir: string; cache: string; pack: string } {
  const dir = tempDir('sluice-modcache-');
  const pkg = path.join(dir, 'node_modules', 'sql-parser-cst');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'sql-parser-cst', main: 'index.js' }));
  writeFileSync(path.join(pkg, 'index.js'), PKG);
  writeFileSync(path.join(pkg, 'esm.mjs'), "export default 'esm';\n");
  // a file that is not all ASCII (read as UTF-8; the others as Latin-1, which is the same text for them)
  writeFileSync(path.join(pkg, 'word.js'), WORD);
  // a package only the served package's own node_modules holds: resolved from pkg's file, not from the runner's
  mkdirSync(path.join(pkg, 'node_modules', 'dep'), { recursive: true });
  writeFileSync(path.join(pkg, 'node_modules', 'dep', 'package.json'), JSON.stringify({ name: 'dep', type: 'module', exports: { import: './dep.js' } }));
  writeFileSync(path.join(pkg, 'node_modules', 'dep', 'dep.js'), "export default { name: 'dep' };\n");
  // a package the cache does not serve, and one making import() code at run time (as TypeScript's
  // CommonJS output does to keep a real import()), both required by the served one when asked
  // TypeScript's package (src/unawaited.ts loads it): served, from a pack of its own
  mkdirSync(path.join(dir, 'node_modules', 'typescript'), { recursive: true });
  writeFileSync(path.join(dir, 'node_modules', 'typescript', 'index.js'), "'use strict';\nexports.value = 'ts';\n");
  for (const [name, text] of [
    ['other', "exports.value = 'other';\n"],
    ['drizzle-orm', "'use strict';\nconst importESM = new Function('specifier', 'return import(specifier)');\nexports.ready = importESM('node:os').then((m) => typeof m.EOL);\n"],
  ] as const) {
    mkdirSync(path.join(dir, 'node_modules', name), { recursive: true });
    writeFileSync(path.join(dir, 'node_modules', name, 'index.js'), text);
  }
  writeFileSync(path.join(dir, 'runner.cjs'), RUNNER);
  const cache = path.join(dir, 'cache');
  return { dir, cache, pack: path.join(cache, 'test.run.v8pack') };
}

function run(dir: string, cache: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(dir, 'runner.cjs'), cache], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv, encoding: 'utf8' });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr };
}

const EXPECTED = `AAAA ${path.sep} esm dep true 42 ${NON_ASCII}`;
const packs: ReturnType<typeof makePackage>[] = [];
beforeAll(async () => {
  for (let i = 0; i < 6; i++) packs.push(makePackage());
  await sleep(SETTLE_MS); // a file is packed only once its times are 3 s old
});

describe('the code cache of package files', () => {
  it('packs what a successful run compiled, serves it to the next run, and import() in a cached file resolves from that file without a warning', () => {
    const { dir, cache, pack } = packs[0]!;
    const first = run(dir, cache);
    expect(first).toEqual({ code: 0, out: EXPECTED, err: '' });
    expect(existsSync(pack)).toBe(true);
    const written = statSync(pack).mtimeMs;
    const second = run(dir, cache);
    expect(second).toEqual(first);
    expect(statSync(pack).mtimeMs, 'a pack that served every file is not written again').toBe(written);
    // the pack holds pkg's file (the ES modules are not CommonJS: not packed)
    expect(readFileSync(pack).includes(Buffer.from(path.join(dir, 'node_modules', 'sql-parser-cst', 'index.js')))).toBe(true);
  });

  it("keeps TypeScript's files in a pack of their own, which a run that does not load them leaves alone", () => {
    const { dir, cache, pack } = packs[0]!;
    const tsPack = path.join(cache, 'test.run.typescript.v8pack');
    const tsFile = Buffer.from(path.join(dir, 'node_modules', 'typescript', 'index.js'));
    rmSync(cache, { recursive: true, force: true });
    expect(run(dir, cache, { TS: '1' })).toEqual({ code: 0, out: `${EXPECTED} ts`, err: '' });
    expect(readFileSync(tsPack).includes(tsFile)).toBe(true);
    expect(readFileSync(pack).includes(tsFile), "the command's own pack holds no TypeScript file").toBe(false);
    const tsWritten = statSync(tsPack).mtimeMs;
    // a run without TypeScript: its pack served, TypeScript's left alone; one with it: both served, neither written again
    rmSync(pack);
    expect(run(dir, cache)).toEqual({ code: 0, out: EXPECTED, err: '' });
    expect(readFileSync(pack).includes(tsFile)).toBe(false);
    const written = statSync(pack).mtimeMs;
    expect(run(dir, cache, { TS: '1' })).toEqual({ code: 0, out: `${EXPECTED} ts`, err: '' });
    expect([statSync(pack).mtimeMs, statSync(tsPack).mtimeMs]).toEqual([written, tsWritten]);
  });

  it('compiles a file afresh when it changed (same length) or a loader hook hands over another text', async () => {
    const { dir, cache } = packs[1]!;
    expect(run(dir, cache).out).toBe(EXPECTED);
    const file = path.join(dir, 'node_modules', 'sql-parser-cst', 'index.js');
    const { atime, mtime } = statSync(file);
    writeFileSync(file, PKG.replace('AAAA', 'BBBB'));
    utimesSync(file, atime, mtime); // its modification time put back: its change time still moved
    await sleep(SETTLE_MS);
    expect(run(dir, cache).out).toBe(EXPECTED.replace('AAAA', 'BBBB'));
    expect(run(dir, cache).out).toBe(EXPECTED.replace('AAAA', 'BBBB'));
    expect(run(dir, cache, { TRANSFORM: '1' }).out, 'the hook replaces AAAA only: BBBB stays').toBe(EXPECTED.replace('AAAA', 'BBBB'));
    writeFileSync(file, PKG);
    await sleep(SETTLE_MS);
    expect(run(dir, cache).out).toBe(EXPECTED);
    expect(run(dir, cache, { TRANSFORM: '1' }).out).toBe(EXPECTED.replace('AAAA', 'CCCC'));
    expect(run(dir, cache).out).toBe(EXPECTED);
  });

  it('ignores a damaged pack, wherever it is damaged, and writes a good one', () => {
    const { dir, cache, pack } = packs[2]!;
    expect(run(dir, cache).code).toBe(0);
    const good = readFileSync(pack);
    for (const at of [0, 5, 12, Math.floor(good.length / 2), good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at] = bad[at]! ^ 0xff;
      writeFileSync(pack, bad);
      expect(run(dir, cache), `byte ${at} damaged`).toEqual({ code: 0, out: EXPECTED, err: '' });
      expect(readFileSync(pack).readUInt32LE(0), 'written again').toBe(0x50564c53);
      expect(readFileSync(pack).equals(bad)).toBe(false);
    }
    writeFileSync(pack, good.subarray(0, 100)); // cut short
    expect(run(dir, cache)).toEqual({ code: 0, out: EXPECTED, err: '' });
  });

  it('reads an all-ASCII file as Latin-1 and any other as UTF-8: the same texts, fingerprinted as before', () => {
    const { dir, cache, pack } = packs[5]!;
    const files = ['index.js', 'word.js'].map((f) => path.join(dir, 'node_modules', 'sql-parser-cst', f));
    // what fs.readFileSync(file, 'utf8') gives once the cache is installed (the loader reads so), against the bytes' UTF-8 reading
    const reader = path.join(dir, 'reader.cjs');
    writeFileSync(
      reader,
      `require(${JSON.stringify(path.join(REPO, 'src', 'v8modules.cjs'))}).installModuleCache(process.argv[2], 'test.read', require('node:zlib').crc32);
const fs = require('node:fs');
const last = fs.readFileSync[Symbol.for('sluice.asciiReads')]; // the reading held for the file's compile (none when not all ASCII)
console.log(JSON.stringify(${JSON.stringify(files)}.map((f) => [fs.readFileSync(f, 'utf8') === fs.readFileSync(f).toString('utf8'), last.read?.file === f])));`,
    );
    const read = spawnSync(process.execPath, [reader, cache], { cwd: dir, env: cleanEnv({}) as NodeJS.ProcessEnv, encoding: 'utf8' });
    expect({ code: read.status, out: read.stdout.trim(), err: read.stderr }).toEqual({ code: 0, out: '[[true,true],[true,false]]', err: '' });
    expect(run(dir, cache)).toEqual({ code: 0, out: EXPECTED, err: '' });
    const written = statSync(pack).mtimeMs;
    expect(run(dir, cache), 'served from the pack').toEqual({ code: 0, out: EXPECTED, err: '' });
    expect(statSync(pack).mtimeMs, 'both files were served: the pack is not written again').toBe(written);
    // each file's fingerprint is its text's length and the CRC-32 of its UTF-8 encoding, as packs written before had it
    const body = readFileSync(pack).subarray(8); // after the magic and the CRC-32 (v8cache.cjs writeChecked)
    const head = JSON.parse(body.subarray(4, 4 + body.readUInt32LE(0)).toString('utf8')) as { files: { file: string; text: string }[] };
    const crc32 = (require('node:zlib') as { crc32(d: string): number }).crc32;
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      expect(head.files.find((e) => e.file === f)?.text, f).toBe(`${text.length.toString(36)}-${(crc32(text) >>> 0).toString(36)}`);
    }
  });

  it('is written by a successful run only, and never packs a file just written', () => {
    const { dir, cache, pack } = packs[3]!;
    expect(run(dir, cache, { EXIT: '3' })).toMatchObject({ code: 3, out: EXPECTED });
    expect(existsSync(pack), 'a failed run writes no pack').toBe(false);
    const fresh = makePackage(); // its files are not 3 s old
    expect(run(fresh.dir, fresh.cache)).toEqual({ code: 0, out: EXPECTED, err: '' });
    expect(existsSync(fresh.pack)).toBe(false);
    rmSync(fresh.dir, { recursive: true, force: true });
  });
});

describe('what the cache of package files leaves to Node.js', () => {
  it('another package, a file that makes import() code at run time, and a process mapping sources', () => {
    const { dir, cache, pack } = packs[4]!;
    const both = `${EXPECTED} other string`;
    expect(run(dir, cache, { EXTRA: '1' })).toEqual({ code: 0, out: both, err: '' });
    expect(run(dir, cache, { EXTRA: '1' }), 'and again, with the pack').toEqual({ code: 0, out: both, err: '' });
    const packed = readFileSync(pack);
    expect(packed.includes(Buffer.from(path.join(dir, 'node_modules', 'sql-parser-cst', 'index.js')))).toBe(true);
    expect(packed.includes(Buffer.from(path.join(dir, 'node_modules', 'other'))), 'a package not served').toBe(false);
    expect(packed.includes(Buffer.from(path.join(dir, 'node_modules', 'drizzle-orm'))), 'new Function with import(').toBe(false);
    rmSync(cache, { recursive: true, force: true });
    expect(run(dir, cache, { NODE_OPTIONS: '--enable-source-maps' })).toEqual({ code: 0, out: EXPECTED, err: '' });
    expect(existsSync(pack), 'nothing cached while Node.js maps sources').toBe(false);
  });
});

describe('migrate-create through the caches', () => {
  it("runs drizzle-kit and its own loads through packs of their own, and writes the same revision from them", async () => {
    const dir = makeProjectWithOwnCache();
    await sleep(SETTLE_MS); // the copied dist/ is cached once its times are 3 s old
    const v8 = path.join(dir, 'node_modules', '.cache', 'sluice', 'v8');
    const models = path.join(dir, 'models', 'sqlite.ts');
    writeFileSync(models, readFileSync(models, 'utf8').replace("  name: text('name'),\n", "  name: text('name'),\n  nickname: text('nickname'),\n"));
    const pristine = path.join(dir, 'drizzle-before');
    cpSync(path.join(dir, 'drizzle'), pristine, { recursive: true });
    const create = () => {
      rmSync(path.join(dir, 'drizzle'), { recursive: true, force: true });
      cpSync(pristine, path.join(dir, 'drizzle'), { recursive: true });
      const r = spawnSync(process.execPath, [path.join(dir, 'dist', 'cli.cjs'), 'create', '-m', 'add nickname'], {
        cwd: dir,
        env: cleanEnv({}) as NodeJS.ProcessEnv,
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      const folder = path.join(dir, 'drizzle', 'sqlite');
      const made = readdirSync(folder).filter((f) => f.startsWith('0004_'));
      return { out: r.stdout, err: r.stderr, files: made.map((f) => [f, readFileSync(path.join(folder, f), 'utf8')]) };
    };
    const first = create();
    expect(first.err).toBe('');
    expect(first.files.map(([f]) => f).sort()).toEqual(['0004_add_nickname.down.sql', '0004_add_nickname.sql']);
    // drizzle-kit's processes: one pack per dialect; the command's own: the SQLite parser's one file (dist/sqlparser.cjs)
    const packed = readdirSync(v8).filter((f) => f.endsWith('.v8pack') || /^sqlparser\..*\.create\.v8$/.test(f)).sort();
    expect(packed).toEqual(expect.arrayContaining(['drizzle-kit-sqlite.generate.v8pack']));
    expect(packed.filter((f) => f.startsWith('sqlparser.')), 'the SQLite parser through the bin\'s code cache').toHaveLength(1);
    expect(existsSync(path.join(v8, 'modules.create.v8pack')), 'no package file left to the package cache: no pack of its own').toBe(false);
    const times = packed.map((f) => statSync(path.join(v8, f)).mtimeMs);
    const second = create();
    expect(second).toEqual(first);
    expect(packed.map((f) => statSync(path.join(v8, f)).mtimeMs), 'served from the packs: none written again').toEqual(times);
    expect(second.err).toBe('');
  });
});
