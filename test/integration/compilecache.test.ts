/**
 * The bin's V8 code cache (src/bin.cjs): written once per build and command into the nearest
 * node_modules/.cache/sluice/v8 of the bin, never served for another build of the bundle (even one of
 * the same length with its times put back, the case V8's own check lets through), ignored when it is
 * damaged, and never needed: a bin that cannot write it, or is told not to, runs the same. Real
 * processes of a copy of the built bin; no database.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanEnv, REPO, tempDir } from '../support/project.js';

/** A package holding a copy of the built bin (dist/cli.cjs, cli-bundle.cjs, pg.cjs) and the packages `--help` loads. */
function pkg(): string {
  const dir = tempDir('sluice-v8cache-');
  mkdirSync(path.join(dir, 'dist'));
  for (const f of ['cli.cjs', 'cli-bundle.cjs', 'pg.cjs']) copyFileSync(path.join(REPO, 'dist', f), path.join(dir, 'dist', f));
  copyFileSync(path.join(REPO, 'package.json'), path.join(dir, 'package.json'));
  mkdirSync(path.join(dir, 'node_modules'));
  for (const p of ['picocolors', 'jsonc-parser']) symlinkSync(path.join(REPO, 'node_modules', p), path.join(dir, 'node_modules', p));
  return dir;
}
const cacheDir = (dir: string) => path.join(dir, 'node_modules', '.cache', 'sluice', 'v8');
const caches = (dir: string) => (existsSync(cacheDir(dir)) ? readdirSync(cacheDir(dir)).sort() : []);
function sluice(dir: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(dir, 'dist', 'cli.cjs'), ...args], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('the bin compile cache', () => {
  it('is written once per command, named by the build, and used by the next run', () => {
    const dir = pkg();
    const first = sluice(dir, ['--help']);
    expect(first.code, first.err).toBe(0);
    const written = caches(dir);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^cli-bundle\.[0-9a-z-]+\._\.v8$/);
    const file = path.join(cacheDir(dir), written[0]!);
    const before = statSync(file).mtimeMs;
    expect(statSync(file).size).toBeGreaterThan(10_000);

    const again = sluice(dir, ['--help']);
    expect(again).toEqual(first); // the same output from the cached code
    expect(statSync(file).mtimeMs, 'an accepted cache is not written again').toBe(before);

    expect(sluice(dir, ['history', '--help']).code).toBe(0);
    expect(caches(dir).map((n) => n.split('.').at(-2))).toEqual(['_', 'history']);
  });

  it('never serves an old build: an edit of the same length with the times put back gets a cache of its own', () => {
    const dir = pkg();
    expect(sluice(dir, ['--help']).out).toContain("Alembic's migration workflow");
    const old = caches(dir);
    expect(old).toHaveLength(1);

    const bundle = path.join(dir, 'dist', 'cli-bundle.cjs');
    const st = statSync(bundle);
    const text = readFileSync(bundle, 'utf8');
    const edited = text.replaceAll("Alembic's migration workflow", "PATCHED's migration workflow".padEnd("Alembic's migration workflow".length, '!'));
    expect(edited).not.toBe(text);
    expect(edited.length).toBe(text.length);
    writeFileSync(bundle, edited); // in place: the same inode and size
    utimesSync(bundle, st.atime, st.mtime);

    const r = sluice(dir, ['--help']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('PATCHED');
    expect(r.out).not.toContain("Alembic's migration workflow");
    const now = caches(dir);
    expect(now).toHaveLength(1);
    expect(now[0], "the old build's cache was replaced").not.toBe(old[0]);
  });

  it('ignores a damaged cache file and writes a good one', () => {
    const dir = pkg();
    const good = sluice(dir, ['--help']);
    const [name] = caches(dir);
    const file = path.join(cacheDir(dir), name!);
    const size = statSync(file).size;
    writeFileSync(file, Buffer.alloc(size, 0x5a)); // garbage of the same size
    const r = sluice(dir, ['--help']);
    expect(r).toEqual(good);
    expect(readFileSync(file).subarray(0, 16).equals(Buffer.alloc(16, 0x5a)), 'rewritten').toBe(false);
  });

  it('is not needed: a folder it cannot write, or SLUICE_NO_COMPILE_CACHE=1, gives the same run and no file', () => {
    const dir = pkg();
    const off = sluice(dir, ['--help'], { SLUICE_NO_COMPILE_CACHE: '1' });
    expect(off.code, off.err).toBe(0);
    expect(caches(dir)).toEqual([]);

    if (process.getuid?.() !== 0) {
      chmodSync(path.join(dir, 'node_modules'), 0o555);
      const ro = sluice(dir, ['--help']);
      chmodSync(path.join(dir, 'node_modules'), 0o755);
      expect(ro).toEqual(off);
      expect(caches(dir)).toEqual([]);
    } else {
      // root writes anywhere: a file where the cache folder would be stands for a folder it cannot make
      mkdirSync(path.join(dir, 'node_modules', '.cache', 'sluice'), { recursive: true });
      writeFileSync(cacheDir(dir), 'not a folder');
      const ro = sluice(dir, ['--help']);
      expect(ro).toEqual(off);
      expect(readFileSync(cacheDir(dir), 'utf8')).toBe('not a folder');
      expect(readdirSync(path.join(dir, 'node_modules', '.cache', 'sluice'))).toEqual(['v8']);
    }
  });
});
