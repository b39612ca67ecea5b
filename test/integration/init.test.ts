/** sluice init in a project: what it changes in package.json, and a refused init that writes nothing. */
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject, openToOthers, runCli, runCliAsNobody, tempDir } from '../support/project.js';

describe('sluice init', () => {
  it('adds its npm scripts to package.json changing nothing else: numbers, spacing, a symbolic link and its mode stay (was: the link replaced by a file, 12345678901234567890 rounded)', () => {
    const dir = makeProject();
    const shared = tempDir('sluice-init-shared-'); // a folder beside the project, removed with it
    const pkg = path.join(shared, 'package.json');
    const original = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    delete original.scripts;
    const text = JSON.stringify(original, null, 4).replace(/^\{\n/, '{\n    "big": 12345678901234567890,\n    "price": 1.50,\n    "inline": {"a": 1,  "b": [1,2]},\n');
    writeFileSync(pkg, text, { mode: 0o640 });
    rmSync(path.join(dir, 'package.json'));
    symlinkSync(pkg, path.join(dir, 'package.json'));
    const r = runCli(dir, ['init', '--no-downs']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(lstatSync(path.join(dir, 'package.json')).isSymbolicLink()).toBe(true);
    expect(statSync(pkg).mode & 0o777).toBe(0o640);
    const after = readFileSync(pkg, 'utf8');
    expect(after).toContain('"big": 12345678901234567890,');
    expect(after).toContain('"price": 1.50,');
    expect(after).toContain('"inline": {"a": 1,  "b": [1,2]},');
    const scripts = JSON.parse(after).scripts as Record<string, string>;
    expect(Object.keys(scripts)).toEqual(expect.arrayContaining(['migrate:up', 'migrate:down']));
    // only the scripts were added: the text without them is the text before
    expect(after.replace(/,?\s*"scripts": \{[^}]*\}/, '')).toBe(text.replace(/\n?$/, '').concat(text.endsWith('\n') ? '\n' : ''));
    expect(readdirSync(shared)).toEqual(['package.json']); // no temporary file left
  });

  // found by a hunt: a link to nothing (or a folder) where sluice.mk goes was reported "kept", exit 0,
  // and the Makefile written to include it failed
  it('a link to nothing or a folder where a file goes: refused in one line, nothing written', () => {
    for (const [name, make] of [['sluice.mk', (p: string) => symlinkSync('../nowhere/sluice.mk', p)], ['.env.example', (p: string) => mkdirSync(p)]] as const) {
      const dir = makeProject();
      rmSync(path.join(dir, 'Makefile'));
      make(path.join(dir, name));
      const before = readFileSync(path.join(dir, 'package.json'), 'utf8');
      const r = runCli(dir, ['init', '--no-downs']);
      expect(r.status, r.stdout + r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^sluice: cannot write ${name.replace('.', '\\.')}: it is (a link to nothing|a folder), not the file; remove it`));
      expect(readFileSync(path.join(dir, 'package.json'), 'utf8')).toBe(before);
      expect(existsSync(path.join(dir, 'Makefile'))).toBe(false);
    }
    // a file where a folder of the path goes (found by a review: "kept", exit 0, compose.yml never written)
    const dir = makeProject();
    rmSync(path.join(dir, 'docker'), { recursive: true, force: true });
    writeFileSync(path.join(dir, 'docker'), 'not a folder\n');
    const r = runCli(dir, ['init', '--no-downs']);
    expect(r.status, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^sluice: cannot write docker\/compose\.yml: docker is a file, not a folder; remove or rename it/);
  });

  // found by a hunt: jsonc-parser formats the whole line an insertion lands on, so a package.json on one
  // line was re-indented whole, and a "scripts" written on one line spread one key per line
  it('a package.json on one line, and a "scripts" on one line, keep their text: only the entries are inserted', () => {
    for (const [text, rest] of [
      ['{"name":"one","config":{"a":1.50,"big":12345678901234567890},"files":["dist","src"]}\n', /^\{"name":"one","config":\{"a":1\.50,"big":12345678901234567890\},"files":\["dist","src"\],"scripts": \{"migrate:[^\n]*\}\}\n$/],
      ['{\n  "name": "two",\n  "scripts": {"build": "tsc",   "test":"vitest"}\n}\n', /^\{\n {2}"name": "two",\n {2}"scripts": \{"build": "tsc", {3}"test":"vitest","migrate:[^\n]*\}\n\}\n$/],
    ] as const) {
      const dir = makeProject();
      writeFileSync(path.join(dir, 'package.json'), text);
      const r = runCli(dir, ['init', '--no-downs']);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const after = readFileSync(path.join(dir, 'package.json'), 'utf8');
      expect(after).toMatch(rest);
      expect(Object.keys(JSON.parse(after).scripts)).toEqual(expect.arrayContaining(['migrate:up', 'migrate:down']));
    }
  });

  // Found by review: a package.json with a byte order mark was refused as not JSON; one with another
  // hard link was replaced by a new file, the other name left on the old text
  it('a package.json with a byte order mark keeps it; one with another hard link is edited in place, the link kept', () => {
    const dir = makeProject();
    const pkgFile = path.join(dir, 'package.json');
    const base = JSON.parse(readFileSync(pkgFile, 'utf8'));
    delete base.scripts;
    writeFileSync(pkgFile, `\uFEFF${JSON.stringify(base, null, 2)}\n`);
    const other = path.join(path.dirname(dir), `${path.basename(dir)}-link.json`);
    linkSync(pkgFile, other);
    const r = runCli(dir, ['init', '--no-downs']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const after = readFileSync(pkgFile, 'utf8');
    expect(after.startsWith('\uFEFF{')).toBe(true);
    expect(Object.keys(JSON.parse(after.slice(1)).scripts)).toEqual(expect.arrayContaining(['migrate:up', 'migrate:down']));
    expect(statSync(pkgFile).ino).toBe(statSync(other).ino);
    expect(readFileSync(other, 'utf8')).toBe(after);
    rmSync(other);
  });

  // Found by review: a write failing late (a file where a folder goes) left sluice.mk, the Makefile,
  // package.json's scripts and the rest written, and a folder in the way was an internal error
  it('a write that fails late puts back what init wrote: one line, exit 2, the project as it was', () => {
    const dir = makeProject();
    renameSync(path.join(dir, 'Makefile'), path.join(dir, 'Makefile.keep'));
    writeFileSync(path.join(dir, '.github'), 'not a folder\n');
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    delete pkg.scripts;
    writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    const pkgBefore = readFileSync(path.join(dir, 'package.json'), 'utf8');
    const before = readdirSync(dir).sort();
    const r = runCli(dir, ['init', '--no-downs']);
    expect(r.status, r.stdout + r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^sluice: cannot write \.github\/workflows\/sluice\.yml: .*; init put back what it had written: fix that, then run sluice init again$/);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(path.join(dir, 'package.json'), 'utf8')).toBe(pkgBefore);
  });

  // Found by review of the change above: package.json was put back by writing it in place, which a
  // read-only one refuses (the edit itself went through a rename); the failure was swallowed and the
  // message said it was put back
  it('a read-only package.json is put back too (as it was edited: through a rename)', () => {
    const dir = makeProject();
    const pkgFile = path.join(dir, 'package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    delete pkg.scripts;
    writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
    renameSync(path.join(dir, 'Makefile'), path.join(dir, 'Makefile.keep'));
    writeFileSync(path.join(dir, '.github'), 'not a folder\n');
    openToOthers(dir);
    chmodSync(pkgFile, 0o444);
    const before = readFileSync(pkgFile, 'utf8');
    const r = runCliAsNobody(dir, ['init', '--no-downs']);
    expect(r.status, r.stdout + r.stderr).toBe(2);
    expect(r.stderr.trim()).toMatch(/; init put back what it had written: fix that, then run sluice init again$/);
    expect(readFileSync(pkgFile, 'utf8')).toBe(before);
    expect(statSync(pkgFile).mode & 0o777).toBe(0o444);
  });

  it('"scripts": null reads as none (scripts added); "scripts" that is no object is refused before any file is written (was: an internal error after sluice.mk and the Makefile)', () => {
    const dir = makeProject();
    const pkgFile = path.join(dir, 'package.json');
    const base = JSON.parse(readFileSync(pkgFile, 'utf8'));
    writeFileSync(pkgFile, JSON.stringify({ ...base, scripts: null }, null, 2));
    const ok = runCli(dir, ['init', '--no-downs']);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(pkgFile, 'utf8')).scripts)).toEqual(expect.arrayContaining(['migrate:up']));
    const other = makeProject();
    renameSync(path.join(other, 'Makefile'), path.join(other, 'Makefile.keep'));
    const before = readdirSync(other).sort();
    writeFileSync(path.join(other, 'package.json'), JSON.stringify({ ...base, scripts: ['build'] }, null, 2));
    const r = runCli(other, ['init', '--no-downs']);
    expect(r.status, r.stdout + r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe('sluice: package.json\'s "scripts" is an array, not an object of named scripts; fix it (or remove it), then run sluice init again');
    expect(readdirSync(other).sort()).toEqual(before);
    // "scripts" twice: npm reads the last, the edit would have gone into the first (was: "added", exit 0)
    const text = JSON.stringify({ ...base, scripts: { build: 'tsc' } }, null, 2);
    writeFileSync(path.join(other, 'package.json'), text.replace(/\n}$/, ',\n  "scripts": { "test": "vitest" }\n}'));
    const twice = runCli(other, ['init', '--no-downs']);
    expect(twice.status, twice.stdout + twice.stderr).toBe(2);
    expect(twice.stderr.trim()).toBe('sluice: package.json has "scripts" 2 times (npm reads only the last); merge them into one, then run sluice init again');
    expect(readdirSync(other).sort()).toEqual(before);
  });

  it('an init refused while it computes the missing downs (a broken snapshot) writes no other file (was: sluice.mk, docker/, the CI workflow written, exit 2)', () => {
    const dir = makeProject();
    for (const d of ['sqlite', 'postgresql']) {
      for (const f of readdirSync(path.join(dir, 'drizzle', d))) if (f.endsWith('.down.sql')) rmSync(path.join(dir, 'drizzle', d, f));
    }
    writeFileSync(path.join(dir, 'drizzle', 'postgresql', 'meta', '0002_snapshot.json'), '{ not json');
    renameSync(path.join(dir, 'Makefile'), path.join(dir, 'Makefile.keep'));
    const before = readdirSync(dir).sort();
    const pkgBefore = readFileSync(path.join(dir, 'package.json'), 'utf8');
    const r = runCli(dir, ['init']);
    expect(r.status, r.stdout + r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(readdirSync(dir).sort()).toEqual(before);
    for (const f of ['sluice.mk', 'Makefile', '.env.example', path.join('.github', 'workflows', 'sluice.yml')]) expect(existsSync(path.join(dir, f)), f).toBe(false);
    expect(readFileSync(path.join(dir, 'package.json'), 'utf8')).toBe(pkgBefore);
  });
});

// A hunt: in a monorepo's package the workflow went into the package's own .github (GitHub reads the
// repository's root only), without a working directory, and missed the workspace's lock file; a pnpm
// project without packageManager got a pnpm/action-setup step that stops for want of a version.
describe('the CI workflow init writes', () => {
  it("a monorepo's package: the repository's .github, its folder as working directory, the workspace's lock file", () => {
    const repo = makeProject();
    const pkg = path.join(repo, 'packages', 'db');
    mkdirSync(pkg, { recursive: true });
    for (const name of readdirSync(repo)) if (name !== 'packages') renameSync(path.join(repo, name), path.join(pkg, name));
    symlinkSync(readlinkOf(path.join(pkg, 'node_modules')), path.join(repo, 'node_modules'));
    mkdirSync(path.join(repo, '.git'));
    writeFileSync(path.join(repo, 'package.json'), JSON.stringify({ name: 'mono', private: true, workspaces: ['packages/*'] }));
    writeFileSync(path.join(repo, 'package-lock.json'), '{}');
    rmSync(path.join(pkg, 'package-lock.json'), { force: true }); // the workspace's lock file only
    const r = runCli(pkg, ['init', '--no-downs']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(existsSync(path.join(pkg, '.github'))).toBe(false);
    const workflow = readFileSync(path.join(repo, '.github', 'workflows', 'sluice-packages-db.yml'), 'utf8');
    expect(workflow).toMatch(/^defaults:\n  run:\n    working-directory: packages\/db$/m);
    expect(workflow).toContain('          cache: npm\n      - run: npm ci');
    expect(workflow).not.toContain('cache-dependency-path');
  });

  it('pnpm without packageManager: the version from the lock file; with it, none', () => {
    const dir = makeProject();
    rmSync(path.join(dir, 'package-lock.json'), { force: true });
    writeFileSync(path.join(dir, 'pnpm-lock.yaml'), "lockfileVersion: '9.0'\n");
    expect(runCli(dir, ['init', '--no-downs']).status).toBe(0);
    expect(readFileSync(path.join(dir, '.github', 'workflows', 'sluice.yml'), 'utf8')).toContain('      - uses: pnpm/action-setup@v4\n        with:\n          version: 9\n');
    const named = makeProject();
    rmSync(path.join(named, 'package-lock.json'), { force: true });
    writeFileSync(path.join(named, 'pnpm-lock.yaml'), "lockfileVersion: '9.0'\n");
    const pkgFile = path.join(named, 'package.json');
    writeFileSync(pkgFile, JSON.stringify({ ...JSON.parse(readFileSync(pkgFile, 'utf8')), packageManager: 'pnpm@9.12.0' }, null, 2));
    expect(runCli(named, ['init', '--no-downs']).status).toBe(0);
    expect(readFileSync(path.join(named, '.github', 'workflows', 'sluice.yml'), 'utf8')).toContain('      - uses: pnpm/action-setup@v4\n      - uses: actions/setup-node@v4');
  });
});

function readlinkOf(link: string): string {
  return lstatSync(link).isSymbolicLink() ? path.resolve(path.dirname(link), readlinkSync(link)) : link;
}
