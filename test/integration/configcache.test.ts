/**
 * The config cache serves a description only while everything the config depended on when it loaded
 * is unchanged: the values of the variables read by any module it ran, and the project files it
 * imported. Real files, real packages (drizzle-kit, tsx), no database: each load is a process of its
 * own through the built library (as each sluice command is), so Node.js's module cache plays no part.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cleanEnv, REPO, tempDir } from '../support/project.js';

/**
 * Write a file as saved a while ago: a file modified within SETTLED_MS of a load is not trusted to be
 * what was loaded (an edit saved meanwhile), and its config is not cached that time.
 */
function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  const at = new Date(Date.now() - 10_000);
  utimesSync(file, at, at);
}

function project(files: Record<string, string>): string {
  const dir = tempDir('sluice-cfgcache-');
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(path.join(REPO, 'node_modules', 'drizzle-kit'), path.join(dir, 'node_modules', 'drizzle-kit'));
  for (const [name, text] of Object.entries(files)) write(path.join(dir, name), text);
  return dir;
}
const entries = (dir: string) => {
  const cache = path.join(dir, 'node_modules', '.cache', 'sluice');
  return existsSync(cache) ? readdirSync(cache).filter((f) => /^config-[0-9a-f]+\.json$/.test(f)) : [];
};
const CONFIG_JS = JSON.stringify(pathToFileURL(path.join(REPO, 'dist', 'config.js')).href);
/** Run `script` (an ES module with `load(dir)` and `print(text)` given) in a new process in `dir`. */
function run(dir: string, script: string, env: Record<string, string> = {}): string {
  const prelude = `const { loadProjectConfig } = await import(${CONFIG_JS}); const load = async (d) => (await loadProjectConfig(d)).histories.sqlite.out; const print = (t) => process.stdout.write(String(t));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `${prelude}\n${script}`], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}
/** The sqlite history's folder, relative to the project, as a new process loading the config sees it. */
const out = (dir: string, env: Record<string, string> = {}): string => path.relative(dir, run(dir, 'print(await load(process.cwd()));', env));
const cacheText = (dir: string) => entries(dir).map((e) => readFileSync(path.join(dir, 'node_modules', '.cache', 'sluice', e), 'utf8')).join('\n');
/** How many times the config's code ran (each run appends an x to `runs`). */
const runs = (dir: string) => (existsSync(path.join(dir, 'runs')) ? readFileSync(path.join(dir, 'runs'), 'utf8').length : 0);
/** Rewrite a file with the same length and a later mtime: only the mtime tells the edit. */
function sameSize(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  expect(from.length).toBe(to.length);
  expect(text).toContain(from);
  const before = statSync(file).mtimeMs;
  writeFileSync(file, text.replace(from, to));
  utimesSync(file, new Date(), new Date(before + 5000)); // still SETTLED_MS before now
}

const CONFIG = `import { defineConfig } from 'drizzle-kit';
import { OUT } from './settings';
export default defineConfig({ dialect: 'sqlite', schema: './m.ts', out: OUT });
`;
/** The settings module: counts its runs in the project's \`runs\` file (written by each test). */
const SETTINGS = `import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
appendFileSync(join(PROJECT, 'runs'), 'x');
export const OUT: string = process.env.SLUICE_TEST_OUT ?? 'aaaa';
export const TOKEN = process.env.SLUICE_TEST_TOKEN;
`;

describe('the config cache follows what the config depended on', () => {
  it('a variable read in an imported module: another value is never served the cached description', () => {
    const dir = project({ 'drizzle.config.ts': CONFIG, 'settings.ts': '' });
    write(path.join(dir, 'settings.ts'), SETTINGS.replace('PROJECT', JSON.stringify(dir)));
    const first = { SLUICE_TEST_OUT: 'first' };
    expect(out(dir, first)).toBe('first');
    expect(runs(dir)).toBe(1);
    expect(out(dir, first)).toBe('first');
    expect(runs(dir)).toBe(1); // cached: the config did not run again
    expect(entries(dir)).toHaveLength(1);
    expect(out(dir, { SLUICE_TEST_OUT: 'second' })).toBe('second');
    expect(runs(dir)).toBe(2);
    expect(out(dir)).toBe('aaaa');
    expect(runs(dir)).toBe(3);
    expect(out(dir)).toBe('aaaa');
    expect(runs(dir)).toBe(3);
    // the value of a variable read is never written to the cache (it may be a secret), only its name
    expect(out(dir, { SLUICE_TEST_TOKEN: 'secret-value-1234' })).toBe('aaaa');
    expect(runs(dir)).toBe(4);
    const [entry] = entries(dir);
    const text = readFileSync(path.join(dir, 'node_modules', '.cache', 'sluice', entry!), 'utf8');
    expect(text).toContain('SLUICE_TEST_TOKEN');
    expect(text).not.toContain('secret-value-1234');
  });

  it('an imported file edited (even to the same length): the edit is seen; unchanged, it is cached', () => {
    const dir = project({ 'drizzle.config.ts': CONFIG, 'settings.ts': '' });
    write(path.join(dir, 'settings.ts'), SETTINGS.replace('PROJECT', JSON.stringify(dir)));
    expect(out(dir)).toBe('aaaa');
    expect(out(dir)).toBe('aaaa');
    expect(runs(dir)).toBe(1);
    sameSize(path.join(dir, 'settings.ts'), "'aaaa'", "'bbbb'");
    expect(out(dir)).toBe('bbbb');
    expect(out(dir)).toBe('bbbb');
    expect(runs(dir)).toBe(2);
  });

  // found by a README walk: an edit of the same length whose mtime was put back (cp -p, rsync -t, an
  // unpacked archive) was served the old description; ctime, which no tool sets back, now keys it too
  it('an imported file or the config edited to the same length with its mtime put back: the edit is seen', () => {
    const dir = project({ 'drizzle.config.ts': CONFIG, 'settings.ts': '' });
    write(path.join(dir, 'settings.ts'), SETTINGS.replace('PROJECT', JSON.stringify(dir)));
    expect(out(dir)).toBe('aaaa');
    expect(out(dir)).toBe('aaaa');
    expect(runs(dir)).toBe(1);
    const putBack = (file: string, from: string, to: string) => {
      const before = statSync(file);
      writeFileSync(file, readFileSync(file, 'utf8').replace(from, to));
      utimesSync(file, before.atime, before.mtime);
      expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
    };
    putBack(path.join(dir, 'settings.ts'), "'aaaa'", "'bbbb'");
    expect(out(dir)).toBe('bbbb');
    putBack(path.join(dir, 'drizzle.config.ts'), 'out: OUT', "out: 'c'");
    expect(readFileSync(path.join(dir, 'drizzle.config.ts'), 'utf8')).toContain("out: 'c'");
    expect(out(dir)).toBe('c');
  });

  it('a config in a CommonJS package (tsx loads its imports through require): an imported file edited is seen', () => {
    const settings = `exports.OUT = 'cjs-aaaa';\nrequire('node:fs').appendFileSync(${JSON.stringify('RUNS')}, 'x');\n`;
    const dir = project({ 'package.json': '{"type":"commonjs"}', 'drizzle.config.ts': CONFIG, 'settings.ts': '' });
    write(path.join(dir, 'settings.ts'), settings.replace('RUNS', path.join(dir, 'runs')));
    expect(out(dir)).toBe('cjs-aaaa');
    expect(out(dir)).toBe('cjs-aaaa');
    expect(runs(dir)).toBe(1);
    sameSize(path.join(dir, 'settings.ts'), "'cjs-aaaa'", "'cjs-bbbb'");
    expect(out(dir)).toBe('cjs-bbbb');
  });

  it('a workspace package linked into node_modules is the project’s code: its edit is seen', () => {
    const dir = project({
      'drizzle.config.ts': `import { defineConfig } from 'drizzle-kit';\nimport { OUT } from '@acme/paths';\nexport default defineConfig({ dialect: 'sqlite', schema: './m.ts', out: OUT });\n`,
      'packages/paths/package.json': '{"name":"@acme/paths","type":"module","exports":"./index.js"}',
      'packages/paths/index.js': "export const OUT = 'ws-aaaa';\n",
    });
    mkdirSync(path.join(dir, 'node_modules', '@acme'));
    symlinkSync(path.join(dir, 'packages', 'paths'), path.join(dir, 'node_modules', '@acme', 'paths'));
    expect(out(dir)).toBe('ws-aaaa');
    expect(entries(dir)).toHaveLength(1);
    sameSize(path.join(dir, 'packages', 'paths', 'index.js'), "'ws-aaaa'", "'ws-bbbb'");
    expect(out(dir)).toBe('ws-bbbb');
  });

  it('an imported module that reads process.env whole or changes it: the config is not cached', () => {
    for (const body of [
      "const all = { ...process.env };\nexport const OUT: string = all.SLUICE_TEST_OUT ?? 'spread';",
      "process.env.SLUICE_TEST_DERIVED = 'x-' + (process.env.SLUICE_TEST_OUT ?? 'none');\nexport const OUT: string = process.env.SLUICE_TEST_DERIVED.slice(2);",
      "import { env } from 'node:process';\nexport const OUT: string = env.SLUICE_TEST_OUT ?? 'from-node-process';",
    ]) {
      const dir = project({ 'drizzle.config.ts': CONFIG, 'settings.ts': body });
      expect(out(dir, { SLUICE_TEST_OUT: 'given' }), body).toBe('given');
      expect(entries(dir), body).toEqual([]);
      expect(out(dir, { SLUICE_TEST_OUT: 'other' }), body).toBe('other');
      expect(out(dir), body).not.toMatch(/given|other/);
    }
  });

  it('an ES module JavaScript config with a relative import is not cached; a CommonJS one is, and its edited import is seen', () => {
    const esm = project({
      'drizzle.config.mjs': "import { OUT } from './settings.mjs';\nexport default { dialect: 'sqlite', schema: './m.ts', out: OUT };\n",
      'settings.mjs': "export const OUT = 'mjs-aaaa';\n",
    });
    expect(out(esm)).toBe('mjs-aaaa');
    expect(entries(esm)).toEqual([]);
    sameSize(path.join(esm, 'settings.mjs'), "'mjs-aaaa'", "'mjs-bbbb'");
    expect(out(esm)).toBe('mjs-bbbb');
    const cjs = project({
      'package.json': '{"type":"commonjs"}',
      'drizzle.config.js': "const { OUT } = require('./settings.js');\nmodule.exports = { dialect: 'sqlite', schema: './m.ts', out: OUT };\n",
      'settings.js': "exports.OUT = 'cjs-aaaa';\n",
    });
    expect(out(cjs)).toBe('cjs-aaaa');
    expect(entries(cjs)).toHaveLength(1);
    sameSize(path.join(cjs, 'settings.js'), "'cjs-aaaa'", "'cjs-bbbb'");
    expect(out(cjs)).toBe('cjs-bbbb');
  });

  it('a config loaded twice in one process (create lints with it again): the second load, served from Node.js’s module cache, writes nothing', () => {
    const dir = project({
      'package.json': '{"name":"app"}', // CommonJS: the imported file is not run again
      'drizzle.config.ts': CONFIG,
      'settings.ts': "process.env.SLUICE_TEST_OUT ??= 'from-env-local';\nexport const OUT: string = process.env.SLUICE_TEST_OUT;\n",
    });
    expect(run(dir, 'print([await load(process.cwd()), await load(process.cwd())].map((o) => o.split("/").pop()).join(" "))')).toBe('from-env-local from-env-local');
    expect(entries(dir)).toEqual([]);
    expect(out(dir, { SLUICE_TEST_OUT: 'prod' })).toBe('prod');
  });

  it('two configs loaded at once (a library caller): each is right, and process.env is the plain object again after', () => {
    const a = project({ 'drizzle.config.ts': CONFIG, 'settings.ts': "export const OUT: string = process.env.SLUICE_TEST_A ?? 'a';\n" });
    const b = project({ 'drizzle.config.ts': CONFIG, 'settings.ts': "export const OUT: string = process.env.SLUICE_TEST_B ?? 'b';\n" });
    const script = `const { types } = await import('node:util'); const outs = await Promise.all([load(${JSON.stringify(a)}), load(${JSON.stringify(b)})]); print(outs.map((o) => o.split('/').pop()).join(' ') + ' ' + types.isProxy(process.env));`;
    expect(run(a, script, { SLUICE_TEST_A: 'a1', SLUICE_TEST_B: 'b1' })).toBe('a1 b1 false');
    expect(run(a, script, { SLUICE_TEST_A: 'a2', SLUICE_TEST_B: 'b2' })).toBe('a2 b2 false');
    expect(out(a)).toBe('a');
    expect(out(b, { SLUICE_TEST_B: 'b3' })).toBe('b3');
  });

  it('a dialects export holding dbCredentials: what is cached is only what sluice reads, never the URL', () => {
    const dir = project({
      'drizzle.config.ts': `import { defineConfig } from 'drizzle-kit';
export const dialects = { sqlite: { schema: './m.ts', out: './d', dbCredentials: { url: process.env.SLUICE_TEST_SECRET_URL ?? '' } } };
export default defineConfig({ dialect: 'sqlite', ...dialects.sqlite });
`,
    });
    const env = { SLUICE_TEST_SECRET_URL: 'postgres://u:hunter2secret@h/db' };
    expect(out(dir, env)).toBe('d');
    expect(out(dir, env)).toBe('d');
    expect(entries(dir)).toHaveLength(1);
    expect(cacheText(dir)).not.toContain('hunter2secret');
    expect(cacheText(dir)).not.toContain('dbCredentials');
  });

  it('an imported file using the process object of node:process is cached and followed; one loading a file into the environment is not cached', () => {
    const dir = project({
      'drizzle.config.ts': CONFIG,
      'settings.ts': "import process from 'node:process';\nexport const OUT: string = process.env.SLUICE_TEST_OUT ?? 'default';\n",
    });
    expect(out(dir)).toBe('default');
    expect(entries(dir)).toHaveLength(1);
    expect(out(dir, { SLUICE_TEST_OUT: 'given' })).toBe('given');
    const loads = project({
      'drizzle.config.ts': CONFIG,
      'settings.ts': "import { join } from 'node:path';\nprocess.loadEnvFile(join(PROJECT, '.env.local'));\nexport const OUT: string = process.env.SLUICE_TEST_LOCAL ?? 'none';\n",
    });
    write(path.join(loads, 'settings.ts'), readFileSync(path.join(loads, 'settings.ts'), 'utf8').replace('PROJECT', JSON.stringify(loads)));
    write(path.join(loads, '.env.local'), 'SLUICE_TEST_LOCAL=first\n');
    expect(out(loads)).toBe('first');
    expect(entries(loads)).toEqual([]);
    write(path.join(loads, '.env.local'), 'SLUICE_TEST_LOCAL=second\n');
    expect(out(loads)).toBe('second');
  });
});
