/**
 * Loading drizzle.config.ts without its cached description: a config that imports only packages is
 * stripped of its types (sucrase) and imported directly; anything else goes through tsx. Both paths
 * give the same description, each config's code runs once, and its errors are reported as before.
 * Real files and real packages, in-process through the library call (no database).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProjectConfig } from '../../dist/config.js';
import { REPO, tempDir } from '../support/project.js';

const saved = { ...process.env };
beforeAll(() => {
  process.env.SLUICE_NO_CONFIG_CACHE = '1';
});
afterAll(() => {
  process.env = saved;
});

/** A project folder with its own node_modules (drizzle-kit linked from this checkout, plus `extra` packages). */
function project(config: string, files: Record<string, string> = {}): string {
  const dir = tempDir('sluice-config-');
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(path.join(REPO, 'node_modules', 'drizzle-kit'), path.join(dir, 'node_modules', 'drizzle-kit'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  writeFileSync(path.join(dir, 'drizzle.config.ts'), config);
  return dir;
}
const stripped = (dir: string) => {
  const folder = path.join(dir, 'node_modules', '.cache', 'sluice', 'config-modules');
  return existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('.mjs')) : [];
};
const described = async (dir: string) => {
  const c = await loadProjectConfig(dir);
  return { histories: c.histories, multiDialect: c.multiDialect, lint: c.lint };
};

const TYPED = `import { defineConfig } from 'drizzle-kit';
import { join } from 'node:path';
import { appendFileSync } from 'node:fs';

interface Dialects { sqlite: { schema: string; out: string } }
enum Folder { Out = 'migrations' }
appendFileSync(process.env.SLUICE_TEST_RUNS!, 'x');
export const dialects: Dialects = { sqlite: { schema: join('models', 'sqlite.ts'), out: \`./\${Folder.Out}/sqlite\` } } as const;
export const lint = { skip: ['ban-drop-column'] satisfies string[] };
export default defineConfig({ dialect: 'sqlite' as const, ...dialects.sqlite, migrations: { table: process.env.SLUICE_TEST_TABLE ?? 'none' } });
`;

describe('drizzle.config.ts loaded without tsx when it imports only packages', () => {
  it('types, enums and satisfies stripped; the same description as through tsx; its code runs once per load', async () => {
    const runs = path.join(tempDir('sluice-config-runs-'), 'runs');
    writeFileSync(runs, '');
    process.env.SLUICE_TEST_RUNS = runs;
    process.env.SLUICE_TEST_TABLE = 'versions_here';
    const dir = project(TYPED);
    const quick = await described(dir);
    expect(stripped(dir)).toHaveLength(1);
    expect(readFileSync(runs, 'utf8')).toBe('x');
    expect(quick.histories.sqlite).toEqual({ out: path.join(dir, 'migrations', 'sqlite'), schema: path.join('models', 'sqlite.ts'), migrations: { table: 'versions_here', schema: undefined } });
    expect(quick.lint.skip).toEqual(['ban-drop-column']);
    // loaded again in the same process with another environment: it runs again
    process.env.SLUICE_TEST_TABLE = 'elsewhere';
    expect((await described(dir)).histories.sqlite?.migrations?.table).toBe('elsewhere');
    expect(readFileSync(runs, 'utf8')).toBe('xx');
    process.env.SLUICE_TEST_TABLE = 'versions_here';

    process.env.SLUICE_CONFIG_LOADER = 'tsx';
    const other = project(TYPED);
    try {
      expect(await described(other)).toEqual({ ...quick, histories: { sqlite: { ...quick.histories.sqlite, out: path.join(other, 'migrations', 'sqlite') } } });
    } finally {
      delete process.env.SLUICE_CONFIG_LOADER;
    }
    expect(stripped(other)).toEqual([]);
    expect(readFileSync(runs, 'utf8')).toBe('xxx');
  });

  it('a relative import, a tsconfig path alias or import.meta: tsx loads it, with the same result', async () => {
    const cases = [
      project(`import { defineConfig } from 'drizzle-kit';\nimport { out } from './settings';\nexport default defineConfig({ dialect: 'sqlite', schema: './m.ts', out });\n`, {
        'settings.ts': `export const out: string = './from-settings';\n`,
      }),
      project(`import { defineConfig } from 'drizzle-kit';\nimport { out } from '@/settings';\nexport default defineConfig({ dialect: 'sqlite', schema: './m.ts', out });\n`, {
        'src/settings.ts': `export const out: string = './from-settings';\n`,
        'tsconfig.json': JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { '@/*': ['./src/*'] } } }),
      }),
      project(`import { defineConfig } from 'drizzle-kit';\nconst here: string = new URL('.', import.meta.url).pathname;\nexport default defineConfig({ dialect: 'sqlite', schema: './m.ts', out: here.length > 0 ? './from-settings' : 'x' });\n`),
    ];
    const cwd = process.cwd();
    try {
      for (const dir of cases) {
        process.chdir(dir); // tsx reads tsconfig.json from the working directory, as make runs it
        expect((await described(dir)).histories.sqlite?.out, dir).toBe(path.join(dir, 'from-settings'));
        expect(stripped(dir), dir).toEqual([]);
      }
    } finally {
      process.chdir(cwd);
    }
  });

  it('a package that only a TypeScript loader can load: Node.js refuses it before the config runs, and tsx loads it once', async () => {
    const runs = path.join(tempDir('sluice-config-runs-'), 'runs');
    writeFileSync(runs, '');
    process.env.SLUICE_TEST_RUNS = runs;
    const dir = project(
      `import { defineConfig } from 'drizzle-kit';\nimport { appendFileSync } from 'node:fs';\nimport { out } from 'workspace-settings';\nappendFileSync(process.env.SLUICE_TEST_RUNS!, 'x');\nexport default defineConfig({ dialect: 'sqlite', schema: './m.ts', out });\n`,
      {
        'node_modules/workspace-settings/package.json': JSON.stringify({ name: 'workspace-settings', type: 'module', exports: './index.ts' }),
        'node_modules/workspace-settings/index.ts': `export const out: string = './from-workspace';\n`,
      },
    );
    expect((await described(dir)).histories.sqlite?.out).toBe(path.join(dir, 'from-workspace'));
    expect(stripped(dir)).toHaveLength(1); // tried, refused by Node.js while loading
    expect(readFileSync(runs, 'utf8')).toBe('x');
  });

  it("the config's own error: reported as before, its code ran once; a syntax error is tsx's (esbuild's) message", async () => {
    const runs = path.join(tempDir('sluice-config-runs-'), 'runs');
    writeFileSync(runs, '');
    process.env.SLUICE_TEST_RUNS = runs;
    const throws = project(`import { appendFileSync } from 'node:fs';\nappendFileSync(process.env.SLUICE_TEST_RUNS!, 'x');\nconst url: string | undefined = process.env.NOPE_NOT_SET;\nif (!url) throw new Error('NOPE_NOT_SET is not set');\nexport default { dialect: 'sqlite', schema: 'm.ts' };\n`);
    await expect(loadProjectConfig(throws)).rejects.toThrow(/^cannot load drizzle\.config\.ts: NOPE_NOT_SET is not set$/);
    expect(readFileSync(runs, 'utf8')).toBe('x');
    const parses = project(`import { appendFileSync } from 'node:fs';\nappendFileSync(process.env.SLUICE_TEST_RUNS!, 'y');\nconst extra: unknown = JSON.parse('{not json');\nexport default { dialect: 'sqlite', schema: 'm.ts', extra };\n`);
    await expect(loadProjectConfig(parses)).rejects.toThrow(/^cannot load drizzle\.config\.ts: .*JSON/);
    expect(readFileSync(runs, 'utf8')).toBe('xy');
    const broken = project(`import { defineConfig } from 'drizzle-kit';\nexport default defineConfig({ dialect: 'sqlite', schema: \n`);
    await expect(loadProjectConfig(broken)).rejects.toThrow(/^cannot load drizzle\.config\.ts: Transform failed/);
  });

  // found by a hunt: up acted on dialects.sqlite.out while migrate-create's drizzle-kit, which reads the
  // default export, wrote into another folder and left its files there
  it('a default export whose out differs from the dialects entry of its dialect is refused, naming both', async () => {
    const dir = project(`export const dialects = { sqlite: { schema: './m.ts', out: './drizzle/sqlite' } };\nexport default { dialect: 'sqlite', schema: './m.ts', out: './drizzle/other' };\n`);
    await expect(loadProjectConfig(dir)).rejects.toThrow(/^drizzle\.config\.ts: the default export \(what drizzle-kit reads\) has out "\.\/drizzle\/other" for sqlite, but dialects\.sqlite\.out is "drizzle\/sqlite": drizzle-kit and sluice would use different folders/);
    const same = project(`export const dialects = { sqlite: { schema: './m.ts', out: './drizzle/sqlite' } };\nexport default { dialect: 'sqlite', schema: './m.ts', out: 'drizzle/sqlite/' };\n`);
    expect(Object.keys((await loadProjectConfig(same)).histories)).toEqual(['sqlite']);
    // two dialects in one folder would read each other's revisions
    const shared = project(`export const dialects = { sqlite: { schema: './m.ts', out: './drizzle' }, postgresql: { schema: './p.ts', out: 'drizzle/' } };\n`);
    await expect(loadProjectConfig(shared)).rejects.toThrow(/^drizzle\.config\.ts: dialects sqlite and postgresql both have out "drizzle"; give each dialect a folder of its own$/);
  });
});
