/**
 * How a revision's TypeScript part (and the models migrate-check reads) is loaded (src/tsmodule.ts): through tsx's CommonJS hooks, or
 * through its ES module hooks where only those give the part the same meaning. Real files, real tsx,
 * the installed drizzle-orm; what each part computes is read back from its exports.
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { importTypeScript } from '../../dist/tsmodule.js';
import { addRevision, makeProject, pgDescribe, pgUrl, REPO, runCli, sql, tempDir, uniqueSchema } from '../support/project.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A project folder of package type `type`, with drizzle-orm installed and an ES-module-only package `esm-only`. */
function project(type: 'module' | 'commonjs'): string {
  const dir = tempDir('sluice-part-');
  dirs.push(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', type }));
  mkdirSync(path.join(dir, 'node_modules', 'esm-only'), { recursive: true });
  symlinkSync(path.join(REPO, 'node_modules', 'drizzle-orm'), path.join(dir, 'node_modules', 'drizzle-orm'));
  writeFileSync(
    path.join(dir, 'node_modules', 'esm-only', 'package.json'),
    JSON.stringify({ name: 'esm-only', type: 'module', exports: { import: './index.js' } }),
  );
  writeFileSync(path.join(dir, 'node_modules', 'esm-only', 'index.js'), 'export const answer = 42;\n');
  mkdirSync(path.join(dir, 'drizzle'));
  return dir;
}

function write(dir: string, rel: string, text: string): string {
  const file = path.join(dir, rel);
  writeFileSync(file, text);
  return file;
}

async function load(file: string): Promise<Record<string, unknown>> {
  return importTypeScript(file, readFileSync(file, 'utf8'));
}

describe.each(['module', 'commonjs'] as const)('a TypeScript part in a package of type %s', (type) => {
  it('imports the models and drizzle-orm; import.meta.url is its own file', async () => {
    const dir = project(type);
    write(dir, 'models.ts', "import { sqliteTable, text } from 'drizzle-orm/sqlite-core';\nexport const users = sqliteTable('users', { name: text('name') });\n");
    const file = write(
      dir,
      'drizzle/0001_a.ts',
      [
        "import { getTableName, sql } from 'drizzle-orm';",
        "import { users } from '../models';",
        'export const table: string = getTableName(users);',
        'export const url: string = import.meta.url;',
        "export const rendered = sql`select ${1}`.queryChunks.length;",
        'export async function up(db: unknown): Promise<void> { void db; }',
        '',
      ].join('\n'),
    );
    const mod = await load(file);
    expect(mod.table).toBe('users');
    expect(mod.url).toBe(pathToFileURL(file).href);
    expect(mod.rendered).toBeGreaterThan(0);
    expect(typeof mod.up).toBe('function');
  });

  it('a part whose top level throws fails once, with its own error', async () => {
    const dir = project(type);
    const g = globalThis as { sluicePartRuns?: number };
    g.sluicePartRuns = 0;
    const file = write(dir, 'drizzle/0005_throws.ts', "(globalThis as any).sluicePartRuns += 1;\nthrow new Error('no backfill source');\n");
    await expect(load(file)).rejects.toThrow('no backfill source');
    expect(g.sluicePartRuns).toBe(1);
  });

  it('a second load in the same process reads an edited part and an edited helper afresh', async () => {
    const dir = project(type);
    write(dir, 'helper.ts', 'export const value: number = 1;\n');
    const file = write(dir, 'drizzle/0006_b.ts', "import { value } from '../helper';\nexport const v = value;\nexport const w = 'first';\n");
    const first = await load(file);
    expect([first.v, first.w]).toEqual([1, 'first']);
    write(dir, 'helper.ts', 'export const value: number = 2;\n');
    write(dir, 'drizzle/0006_b.ts', "import { value } from '../helper';\nexport const v = value;\nexport const w = 'second';\n");
    const second = await load(file);
    expect([second.v, second.w]).toEqual([2, 'second']);
  });
});

// In a CommonJS package, tsx compiles a .ts part to CommonJS whichever hooks load it: a top-level await,
// an ES-module-only package or an import() of a .ts file fail there as they always did.
describe('a TypeScript part in a package of type module', () => {
  it('a top-level await, an ES-module-only package and an import() in the part or a helper load as ES modules; each top level runs once', async () => {
    const dir = project('module');
    write(dir, 'helper.ts', 'export const value: number = 7;\n');
    const g = globalThis as { sluicePartRuns?: number };
    g.sluicePartRuns = 0;
    const tla = await load(write(dir, 'drizzle/0002_tla.ts', '(globalThis as any).sluicePartRuns += 1;\nexport const x: number = await Promise.resolve(5);\n'));
    expect(tla.x).toBe(5);
    expect(g.sluicePartRuns).toBe(1);
    const esm = await load(write(dir, 'drizzle/0003_esm.ts', "(globalThis as any).sluicePartRuns += 1;\nimport { answer } from 'esm-only';\nexport const a: number = answer;\n"));
    expect(esm.a).toBe(42);
    expect(g.sluicePartRuns).toBe(2);
    const dyn = await load(write(dir, 'drizzle/0004_dyn.ts', "export async function up(): Promise<number> { return (await import('../helper.ts')).value; }\n"));
    expect(await (dyn.up as () => Promise<number>)()).toBe(7);
    // an import() in a helper the part imports, called while up() runs
    write(dir, 'lazy.ts', "export async function later(): Promise<number> { return (await import('./helper.ts')).value; }\n");
    const viaHelper = await load(write(dir, 'drizzle/0005_lazy.ts', "import { later } from '../lazy';\nexport async function up(): Promise<number> { return later(); }\n"));
    expect(await (viaHelper.up as () => Promise<number>)()).toBe(7);
  });
});

// found by a hunt: the rejection of a query nothing awaited ended the process with Node.js's dump of the
// bundle's line (75 KB on stderr), exit 1, and no line saying where the database stands
pgDescribe('a TypeScript part that leaves a query unawaited', () => {
  it('fails its revision, rolled back, in lines of its own: no dump, exit 3', async () => {
    const dir = makeProject();
    const tag = addRevision(dir, 'postgresql', 'floating', 'SELECT 1;', 'SELECT 1;');
    writeFileSync(path.join(dir, 'drizzle', 'postgresql', `${tag}.ts`), "export async function up(db: any) { db.$client.query(`SELECT 'zz'::int`); }\nexport async function down(db: any) {}\n");
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('floating') };
    const r = runCli(dir, ['up'], env);
    expect(r.status, r.stderr.slice(0, 2000)).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe('sluice: a promise nothing awaited was rejected (a query in a TypeScript revision without await?): invalid input syntax for type integer: "zz"');
    expect(lines.slice(1).join('\n')).toMatch(new RegExp(`^sluice: revision ${tag} \\(up\\) failed in .*Rolled back: the database is at 0003_add_phone_to_users$`));
    expect(await sql(dir, env, `SELECT revision FROM "${env.DATABASE_SCHEMA}".sluice_version WHERE revision = $1`, [tag])).toEqual([]);
  });

  // a hunt: drizzle's own queries are lazy: one left without await never ran, and the revision was
  // recorded "applied", exit 0, its data change never made
  it('a drizzle query nothing awaits is refused before anything runs: exit 6, naming the line', async () => {
    const dir = makeProject();
    const tag = addRevision(dir, 'postgresql', 'lazy', 'SELECT 1;', 'SELECT 1;');
    writeFileSync(path.join(dir, 'drizzle', 'postgresql', `${tag}.ts`), "import { sql } from 'drizzle-orm';\nexport async function up(db: any) {\n  db.execute(sql`UPDATE users SET name = 'x'`);\n}\nexport async function down(db: any) {}\n");
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('lazy') };
    const r = runCli(dir, ['up'], env);
    expect(r.status, r.stdout + r.stderr).toBe(6);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`drizzle/postgresql/${tag}\\.ts line 3: a drizzle query that nothing awaits .*put await before it; nothing ran`));
    // refused before anything was made: no version table, no schema
    expect(await sql(dir, { DATABASE_URL: pgUrl() }, 'SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [env.DATABASE_SCHEMA])).toEqual([{ n: 0 }]);
    // an unawaited transaction(…) does run, but past the revision: refused too, and said so (was: "would never run")
    writeFileSync(path.join(dir, 'drizzle', 'postgresql', `${tag}.ts`), "import { sql } from 'drizzle-orm';\nexport async function up(db: any) {\n  db.transaction(async (tx: any) => { await tx.execute(sql`SELECT 1`); });\n}\nexport async function down(db: any) {}\n");
    const t = runCli(dir, ['up'], env);
    expect(t.status, t.stdout + t.stderr).toBe(6);
    expect(t.stderr).toMatch(new RegExp(`${tag}\\.ts line 3: a drizzle transaction that nothing awaits .*runs past the revision.*put await before it; nothing ran`));
  });
});
