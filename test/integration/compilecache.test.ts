/**
 * The bin's V8 code cache (src/bin.cjs): written by a successful run once per build and command into
 * the nearest node_modules/.cache/sluice/v8 of the bin; never served for another build of the bundle
 * (even one of the same length with its times put back, the case V8's own check lets through, nor one
 * edited within the second a coarse file system would not tell apart: a bundle is cached only once
 * settled); a damaged file (V8 would run or crash on it) ignored and written again; the folder
 * bounded; and never needed. Real processes of project copies holding the built bin and their own
 * node_modules; PostgreSQL for node-postgres's bundle.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, itFor, makeProjectWithOwnCache, pgUrl, uniqueSchema } from '../support/project.js';

/** A bundle is cached only once its times are 3 s old. */
const SETTLE_MS = 3_200;
const REPO_MODULES = path.resolve(import.meta.dirname, '..', '..', 'node_modules');

/**
 * The project's `name` becomes another version of it (version 0.0.1, its files copied from this
 * checkout's), whose `main` file writes the file `mark` in the project when it runs; returns that path.
 */
function otherVersionOf(dir: string, name: string, main: string, mark: string): string {
  const real = path.join(REPO_MODULES, name);
  const copy = path.join(dir, 'node_modules', name);
  rmSync(copy);
  cpSync(real, copy, { recursive: true, dereference: true });
  const pkg = JSON.parse(readFileSync(path.join(real, 'package.json'), 'utf8')) as { version: string };
  writeFileSync(path.join(copy, 'package.json'), JSON.stringify({ ...pkg, version: '0.0.1' }));
  const file = path.join(dir, mark);
  writeFileSync(path.join(copy, main), `${readFileSync(path.join(real, main), 'utf8')}\nrequire('node:fs').writeFileSync(${JSON.stringify(file)}, '');\n`);
  return file;
}
const cacheDir = (dir: string) => path.join(dir, 'node_modules', '.cache', 'sluice', 'v8');
const caches = (dir: string) => (existsSync(cacheDir(dir)) ? readdirSync(cacheDir(dir)).sort() : []);
function sluice(dir: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(dir, 'dist', 'cli.cjs'), ...args], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const sqlite = (dir: string) => ({ DATABASE_URL: `file:${path.join(dir, 'cc.sqlite')}` });

const projects: string[] = [];
beforeAll(async () => {
  for (let i = 0; i < 9; i++) projects.push(makeProjectWithOwnCache());
  await sleep(SETTLE_MS); // their bundles settle together
});

describe('the bin compile cache', () => {
  it('is written by a successful run, once per command, named by the build, and used by the next run', () => {
    const dir = projects[0]!;
    const first = sluice(dir, ['status'], sqlite(dir));
    expect(first.code, first.err).toBe(0);
    expect(first.err).toBe('');
    // the CLI's bundle, better-sqlite3's JavaScript (dist/sqlite.cjs) and, the project's config being
    // loaded for the first time, sucrase (dist/sucrase.cjs), each once for the command
    const written = caches(dir);
    expect(written).toHaveLength(3);
    expect(written[0]).toMatch(/^cli-bundle\.[0-9a-z-]+\.status\.v8$/);
    expect(written[1]).toMatch(/^sqlite\.[0-9a-z-]+\.status\.v8$/);
    expect(written[2]).toMatch(/^sucrase\.[0-9a-z-]+\.status\.v8$/);
    const files = written.map((name) => path.join(cacheDir(dir), name));
    const before = files.map((file) => statSync(file).mtimeMs);
    expect(statSync(files[0]!).size).toBeGreaterThan(10_000);

    const again = sluice(dir, ['status'], sqlite(dir));
    expect(again).toEqual(first); // the same output from the cached code
    expect(
      files.map((file) => statSync(file).mtimeMs),
      'an accepted cache is not written again',
    ).toEqual(before);

    expect(sluice(dir, ['history'], sqlite(dir)).code).toBe(0);
    // the config's description is cached now: history loads no sucrase
    expect(caches(dir).map((n) => n.split('.').at(-2))).toEqual(['history', 'status', 'history', 'status', 'status']);

    const typo = sluice(dir, ['statsu'], sqlite(dir));
    expect(typo.code).toBe(2);
    expect(caches(dir), 'a failed run (a mistyped command) writes none').toHaveLength(5);
  });

  it('never serves an old build: a bundle just written is not cached; an edit of the same length with its times put back gets a file of its own', async () => {
    const dir = projects[1]!;
    expect(sluice(dir, ['--help']).out).toContain("Alembic's migration workflow");
    const old = caches(dir);
    expect(old).toHaveLength(1);

    const bundle = path.join(dir, 'dist', 'cli-bundle.cjs');
    const st = statSync(bundle);
    const text = readFileSync(bundle, 'utf8');
    const was = "Alembic's migration workflow";
    const edited = text.replaceAll(was, "PATCHED's migration workflow".padEnd(was.length, '!'));
    expect(edited).not.toBe(text);
    expect(edited.length).toBe(text.length);
    writeFileSync(bundle, edited); // in place: the same inode and size
    utimesSync(bundle, st.atime, st.mtime);

    const now = sluice(dir, ['--help']);
    expect(now.code, now.err).toBe(0);
    expect(now.out).toContain('PATCHED');
    expect(now.out).not.toContain(was);
    expect(caches(dir), 'its change time is new: not cached yet').toEqual(old);

    await sleep(SETTLE_MS);
    const later = sluice(dir, ['--help']);
    expect(later.out).toContain('PATCHED');
    const files = caches(dir);
    expect(files).toHaveLength(2);
    expect(files).toContain(old[0]);
    expect(sluice(dir, ['--help']).out, 'from its own file').toContain('PATCHED');
  });

  it('ignores a damaged file, whatever part is damaged, and writes a good one', () => {
    const dir = projects[2]!;
    const good = sluice(dir, ['status'], sqlite(dir));
    expect(good.code, good.err).toBe(0);
    const [name] = caches(dir);
    const file = path.join(cacheDir(dir), name!);
    const intact = readFileSync(file);
    const damages: [string, (b: Buffer) => void][] = [
      ['4 bytes in the payload', (b) => b.writeUInt32LE(0xffffffff, 20_000)],
      ['4 bytes at its end', (b) => b.writeUInt32LE(0xffffffff, b.length - 4)],
      ['a 4 KB block zeroed', (b) => b.fill(0, 5_000, 9_096)],
      ['a text in it changed', (b) => b.set(Buffer.from('ZZZZ'), b.indexOf('status') > 0 ? b.indexOf('status') : 100)],
      ['cut short', (b) => b.fill(0, b.length >> 1)],
      ['all of it', (b) => b.fill(0x5a)],
    ];
    for (const [what, damage] of damages) {
      const bytes = Buffer.from(intact);
      damage(bytes);
      writeFileSync(file, bytes);
      const r = sluice(dir, ['status'], sqlite(dir));
      expect(r, what).toEqual(good);
      expect(readFileSync(file).equals(bytes), `${what}: written again`).toBe(false);
      expect(sluice(dir, ['status'], sqlite(dir)), `${what}: the new file serves`).toEqual(good);
    }
  });

  it('keeps the 64 most recently used files and drops what a killed writer left a day ago', () => {
    const dir = projects[3]!;
    mkdirSync(cacheDir(dir), { recursive: true });
    const day = 24 * 60 * 60 * 1000;
    for (let i = 0; i < 70; i++) {
      const f = path.join(cacheDir(dir), `cli-bundle.0-0-0-0-${i}.old.v8`);
      writeFileSync(f, 'x');
      const at = new Date(Date.now() - 2 * day + i * 1000); // the higher i, the more recent
      utimesSync(f, at, at);
    }
    const left = path.join(cacheDir(dir), 'cli-bundle.0-0-0-0-0.old.v8.123-abcdef01');
    const fresh = path.join(cacheDir(dir), 'cli-bundle.0-0-0-0-1.old.v8.456-abcdef02');
    writeFileSync(left, 'x');
    utimesSync(left, new Date(Date.now() - 2 * day), new Date(Date.now() - 2 * day));
    writeFileSync(fresh, 'x'); // a write under way in another process

    expect(sluice(dir, ['--help']).code).toBe(0);
    const names = caches(dir);
    expect(names.filter((n) => n.endsWith('.v8'))).toHaveLength(64);
    expect(names.some((n) => /\._\.v8$/.test(n)), 'the new file').toBe(true);
    expect(names).not.toContain('cli-bundle.0-0-0-0-0.old.v8'); // the least recently used went
    expect(names).toContain('cli-bundle.0-0-0-0-69.old.v8');
    expect(names).not.toContain(path.basename(left));
    expect(names).toContain(path.basename(fresh));
  });

  it('is not needed: a folder it cannot write, or SLUICE_NO_COMPILE_CACHE=1, gives the same run and no file', () => {
    const dir = projects[4]!;
    const off = sluice(dir, ['status'], { ...sqlite(dir), SLUICE_NO_COMPILE_CACHE: '1' });
    expect(off.code, off.err).toBe(0);
    expect(caches(dir)).toEqual([]);
    if (process.getuid?.() !== 0) {
      chmodSync(path.join(dir, 'node_modules'), 0o555);
      const ro = sluice(dir, ['status'], sqlite(dir));
      chmodSync(path.join(dir, 'node_modules'), 0o755);
      expect(ro).toEqual(off);
      expect(caches(dir)).toEqual([]);
    } else {
      // root writes anywhere: a file where the cache folder would be stands for a folder it cannot make
      mkdirSync(path.join(dir, 'node_modules', '.cache', 'sluice'), { recursive: true });
      writeFileSync(cacheDir(dir), 'not a folder');
      const ro = sluice(dir, ['status'], sqlite(dir));
      expect(ro).toEqual(off);
      expect(readFileSync(cacheDir(dir), 'utf8')).toBe('not a folder');
    }
  });

  itFor('postgresql')("caches node-postgres's bundle too, and a dynamic import through the bin prints nothing on stderr", () => {
    const dir = projects[5]!;
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('cc'), SLUICE_NO_CONFIG_CACHE: '1' }; // the config imported each time (tsx)
    const up = sluice(dir, ['up'], env);
    expect(up.code, up.err).toBe(0);
    expect(up.err).toBe('');
    const first = sluice(dir, ['status'], env);
    expect(first.code, first.err).toBe(0);
    expect(first.err).toBe('');
    expect(caches(dir).filter((n) => n.startsWith('pg.')).map((n) => n.split('.').at(-2))).toEqual(['status', 'up']);
    const file = path.join(cacheDir(dir), caches(dir).find((n) => /^pg\..*\.status\.v8$/.test(n))!);
    const before = statSync(file).mtimeMs;
    expect(sluice(dir, ['status'], env)).toEqual(first);
    expect(statSync(file).mtimeMs).toBe(before);
  });

  it("better-sqlite3's bundled JavaScript and the installed package throw the same SqliteError, whichever opens a database first", () => {
    // the addon keeps the first error class it is given: the bundle gives it the installed package's
    const script = [
      `const addon = require(${JSON.stringify(path.join(REPO_MODULES, 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))});`,
      `const bundled = require(${JSON.stringify(path.join(REPO_MODULES, '..', 'dist', 'sqlite.cjs'))});`,
      "const first = new bundled.Database(':memory:', { nativeBinding: addon });",
      `const Installed = require(${JSON.stringify(path.join(REPO_MODULES, 'better-sqlite3'))});`,
      "const second = new Installed(':memory:');",
      "const kinds = [first, second].map((db) => { try { db.exec('SELEC 1'); return 'no error'; } catch (e) { return e instanceof Installed.SqliteError && e instanceof bundled.Database.SqliteError; } });",
      'process.stdout.write(JSON.stringify(kinds));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([true, true]);
  });

  it("runs better-sqlite3's bundled JavaScript only when the installed package is the version it was built from", () => {
    const dir = projects[6]!;
    const env = sqlite(dir);
    expect(sluice(dir, ['up'], env).code).toBe(0);
    const same = sluice(dir, ['status'], env);
    expect(same.code, same.err).toBe(0);
    expect(caches(dir).filter((n) => n.startsWith('sqlite.')).map((n) => n.split('.').at(-2))).toEqual(['status', 'up']);

    // The project's better-sqlite3 becomes another version: its own files (lib/ copied, so that its
    // real path is the copy's), the same addon, a package.json saying 1.0.0. Its JavaScript and addon
    // then go together: the bundle's JavaScript (of the version sluice was built with) is not run.
    const real = path.join(REPO_MODULES, 'better-sqlite3');
    const copy = path.join(dir, 'node_modules', 'better-sqlite3');
    rmSync(copy);
    mkdirSync(copy);
    cpSync(path.join(real, 'lib'), path.join(copy, 'lib'), { recursive: true });
    symlinkSync(path.join(real, 'build'), path.join(copy, 'build'));
    const pkg = JSON.parse(readFileSync(path.join(real, 'package.json'), 'utf8')) as { version: string };
    writeFileSync(path.join(copy, 'package.json'), JSON.stringify({ ...pkg, version: '1.0.0' }));
    rmSync(cacheDir(dir), { recursive: true });
    const other = sluice(dir, ['status'], env);
    expect(other).toEqual(same);
    expect(caches(dir).filter((n) => n.startsWith('sqlite.'))).toEqual([]);
    expect(caches(dir).filter((n) => n.startsWith('cli-bundle.'))).toHaveLength(1);
  });

  it("runs sql-parser-cst's one-file build only when the installed package is the version it was built from", () => {
    const dir = projects[7]!;
    const env = { ...sqlite(dir), SLUICE_NO_PARSE_CACHE: '1' }; // every revision parsed: the parser loads
    const up = sluice(dir, ['up'], env);
    expect(up.code, up.err).toBe(0);
    expect(caches(dir).filter((n) => n.startsWith('sqlparser.')).map((n) => n.split('.').at(-2))).toEqual(['up']);
    const down = sluice(dir, ['down', 'base'], env);
    expect(down.code, down.err).toBe(0);

    // The project's sql-parser-cst becomes another version (its files copied; its main module marks
    // that it ran): that package is what parses, and the build of the version sluice was made with is not run.
    const mark = otherVersionOf(dir, 'sql-parser-cst', 'lib/main.js', 'parser-ran');
    rmSync(cacheDir(dir), { recursive: true });
    const again = sluice(dir, ['up'], env);
    const untimed = (text: string) => text.replace(/\d+ ms\)/g, 'N ms)').replace(/\d+(?:\.\d+)? s\]/g, 'N s]'); // its timings vary
    expect({ code: again.code, out: untimed(again.out), err: again.err }).toEqual({ code: 0, out: untimed(up.out), err: up.err });
    expect(existsSync(mark), 'the installed package parsed').toBe(true);
    expect(caches(dir).filter((n) => n.startsWith('sqlparser.'))).toEqual([]);
  });
  it("runs sucrase's one-file build only when the installed package is the version it was built from", () => {
    const dir = projects[8]!;
    const env = { ...sqlite(dir), SLUICE_NO_CONFIG_CACHE: '1' }; // the config is loaded (its types stripped) on every run
    const first = sluice(dir, ['status'], env);
    expect(first.code, first.err).toBe(0);
    expect(caches(dir).filter((n) => n.startsWith('sucrase.')).map((n) => n.split('.').at(-2))).toEqual(['status']);
    expect(sluice(dir, ['status'], env), 'from the cached build').toEqual(first);
    // its cache files are the folder's own: kept by the pruning while among the most recently used,
    // even two days old (was: removed as a killed writer's leftover once a day old)
    const [cached] = caches(dir).filter((n) => n.startsWith('sucrase.'));
    const twoDays = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
    utimesSync(path.join(cacheDir(dir), cached!), twoDays, twoDays);
    expect(sluice(dir, ['history'], env).code).toBe(0); // writes its own caches: the folder is pruned
    expect(caches(dir)).toContain(cached);

    // The project's sucrase becomes another version (its files copied; its main module marks that it
    // ran): that package is what strips the config's types, and the build sluice was made with is not run.
    const mark = otherVersionOf(dir, 'sucrase', 'dist/index.js', 'sucrase-ran');
    rmSync(cacheDir(dir), { recursive: true });
    expect(sluice(dir, ['status'], env)).toEqual(first);
    expect(existsSync(mark), 'the installed package stripped the types').toBe(true);
    expect(caches(dir).filter((n) => n.startsWith('sucrase.'))).toEqual([]);
  });
});
