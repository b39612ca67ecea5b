/**
 * migrate-create diffs the snapshots for the down in the `drizzle-kit generate` process that wrote
 * them (kitserve.cjs), not with drizzle-kit's API loaded in sluice's own process (issue 11). The
 * downs must be the ones drizzle-kit's API gives (`SLUICE_KIT_SERVE=0`), and proven the same way.
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeProject, makeProjectWithOwnCache, runCli } from '../support/project.js';

/** Every `*.down.sql` of both histories, by path. */
function downs(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of ['postgresql', 'sqlite']) {
    const folder = path.join(dir, 'drizzle', d);
    for (const f of readdirSync(folder).filter((f) => f.endsWith('.down.sql')).sort()) out[`${d}/${f}`] = readFileSync(path.join(folder, f), 'utf8');
  }
  return out;
}

/** A model change of several kinds: a column, a table with a foreign key and an index, and (PostgreSQL) an enum. */
function changeModels(dir: string): void {
  const pg = path.join(dir, 'models/postgres.ts');
  writeFileSync(
    pg,
    `${readFileSync(pg, 'utf8').replace("  name: text('name'),\n", "  name: text('name'),\n  nickname: text('nickname'),\n")}
export const noteKind = pgEnum('note_kind', ['plain', 'pinned']);
export const notes = pgTable('notes', {
  id: serial('id').primaryKey(),
  userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  kind: noteKind('kind').notNull().default('plain'),
  body: text('body'),
}, (t) => [index('notes_user_idx').on(t.userId)]);
`,
  );
  const lite = path.join(dir, 'models/sqlite.ts');
  writeFileSync(
    lite,
    `${readFileSync(lite, 'utf8').replace("  name: text('name'),\n", "  name: text('name'),\n  nickname: text('nickname'),\n")}
export const notes = sqliteTable('notes', {
  id: integer('id').primaryKey(),
  userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  body: text('body'),
}, (t) => [index('notes_user_idx').on(t.userId)]);
`,
  );
}

function addColumn(dir: string, column: string): void {
  for (const f of ['models/postgres.ts', 'models/sqlite.ts']) {
    const p = path.join(dir, f);
    writeFileSync(p, readFileSync(p, 'utf8').replace("  name: text('name'),\n", `  name: text('name'),\n  ${column}: text('${column}'),\n`));
  }
}

const apiLoaded = (stderr: string) => /load "[^"]*drizzle-kit\/api\.js"/.test(stderr);

describe("migrate-create's downs from drizzle-kit's own process", () => {
  it('are the downs drizzle-kit\'s API gives, verified, and sluice never loads that API', () => {
    const served = makeProject();
    const local = makeProject();
    for (const dir of [served, local]) changeModels(dir);
    // NODE_DEBUG=module: sluice's own process logs every module it loads (drizzle-kit's output is captured, not shown)
    const a = runCli(served, ['create', '-m', 'add notes'], { NODE_DEBUG: 'module' });
    const b = runCli(local, ['create', '-m', 'add notes'], { NODE_DEBUG: 'module', SLUICE_KIT_SERVE: '0' });
    expect(a.status, a.stderr.split('\n').filter((l) => !l.startsWith('MODULE')).join('\n')).toBe(0);
    expect(b.status).toBe(0);
    expect(apiLoaded(a.stderr)).toBe(false);
    expect(apiLoaded(b.stderr)).toBe(true);
    for (const r of [a, b]) {
      expect(r.stdout).toMatch(/created postgresql 0004_add_notes[\s\S]*down: drizzle\/postgresql\/0004_add_notes\.down\.sql \(\d+ statements?, verified/);
      expect(r.stdout).toMatch(/created sqlite 0004_add_notes[\s\S]*down: drizzle\/sqlite\/0004_add_notes\.down\.sql \(\d+ statements?, verified/);
    }
    const made = downs(served);
    expect(made).toEqual(downs(local));
    expect(made['postgresql/0004_add_notes.down.sql']).toMatch(/DROP TABLE "notes"[\s\S]*DROP TYPE "public"\."note_kind"/);
    expect(made['sqlite/0004_add_notes.down.sql']).toMatch(/DROP TABLE `notes`/);
  });

  it("a first revision's down (from drizzle-kit's empty snapshot) is the same as with drizzle-kit's API", () => {
    const served = makeProject({ withoutHistory: true });
    const local = makeProject({ withoutHistory: true });
    const a = runCli(served, ['create', '-m', 'init'], { SLUICE_VERIFY: 'off' });
    const b = runCli(local, ['create', '-m', 'init'], { SLUICE_VERIFY: 'off', SLUICE_KIT_SERVE: '0' });
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    const made = downs(served);
    expect(Object.keys(made).sort()).toEqual(['postgresql/0000_init.down.sql', 'sqlite/0000_init.down.sql']);
    expect(made).toEqual(downs(local));
    expect(made['postgresql/0000_init.down.sql']).toMatch(/DROP TABLE "users"/);
    // and it runs: up then down to base on the SQLite file leaves no table of the app
    const env = { DATABASE_URL: `file:${path.join(served, 'db.sqlite')}` };
    expect(runCli(served, ['up'], env).status).toBe(0);
    const down = runCli(served, ['down', 'base'], env);
    expect(down.status, down.stderr).toBe(0);
    expect(runCli(served, ['status'], env).stdout).toMatch(/base/);
  });

  it('a drizzle-kit process that fails after it has written the revision: exit 2, the revision kept with its down, as without serving (was: exit 0, or a hang)', () => {
    const served = makeProject();
    const local = makeProject();
    for (const dir of [served, local]) {
      addColumn(dir, 'late');
      // the project's own code ends drizzle-kit's process with a failure once its work is done: right
      // after its differ says it is ready, before sluice asks it anything
      const pg = path.join(dir, 'models/postgres.ts');
      writeFileSync(pg, `${readFileSync(pg, 'utf8')}\nprocess.on('beforeExit', () => { if (process.argv.includes('generate')) { console.error('Error: the project failed late'); process.exit(1); } });\n`);
    }
    const a = runCli(served, ['create', '-m', 'late'], { SLUICE_VERIFY: 'off' });
    const b = runCli(local, ['create', '-m', 'late'], { SLUICE_VERIFY: 'off', SLUICE_KIT_SERVE: '0' });
    for (const r of [a, b]) {
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim()).toMatch(/^sluice: postgresql: drizzle-kit generate failed: Error: the project failed late \(created anyway, with downs: (sqlite 0004_late, postgresql 0004_late|postgresql 0004_late, sqlite 0004_late)\)$/);
    }
    const made = downs(served);
    expect(made['postgresql/0004_late.down.sql']).toMatch(/ALTER TABLE "users" DROP COLUMN "late"/);
    expect(made).toEqual(downs(local));
  });

  it("an exit code the project's code sets as the process exits (an 'exit' listener): reported as drizzle-kit's failure, as without serving (the process says its code at exit; kitserve.cjs)", () => {
    const served = makeProject();
    const local = makeProject();
    for (const dir of [served, local]) {
      addColumn(dir, 'atexit');
      const pg = path.join(dir, 'models/postgres.ts');
      writeFileSync(pg, `${readFileSync(pg, 'utf8')}\nprocess.on('exit', () => { if (process.argv.includes('generate')) { console.error('Error: the project failed at exit'); process.exitCode = 3; } });\n`);
    }
    const a = runCli(served, ['create', '-m', 'atexit'], { SLUICE_VERIFY: 'off' });
    const b = runCli(local, ['create', '-m', 'atexit'], { SLUICE_VERIFY: 'off', SLUICE_KIT_SERVE: '0' });
    for (const r of [a, b]) {
      expect(r.status, r.stdout + r.stderr).toBe(2);
      expect(r.stderr.trim()).toMatch(/^sluice: postgresql: drizzle-kit generate failed: Error: the project failed at exit \(created anyway, with downs: (sqlite 0004_atexit, postgresql 0004_atexit|postgresql 0004_atexit, sqlite 0004_atexit)\)$/);
    }
    expect(downs(served)).toEqual(downs(local));
  });

  it("a drizzle-kit build without the differ's modules says so, and the downs come from drizzle-kit's API, the same", () => {
    const served = makeProject();
    const other = makeProjectWithOwnCache();
    // that project's drizzle-kit: the same files, but a bin whose module has another name (as another build's may)
    const kit = path.join(other, 'node_modules', 'drizzle-kit');
    const real = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules/drizzle-kit');
    rmSync(kit);
    mkdirSync(kit);
    for (const f of readdirSync(real)) {
      if (['package.json', 'index.js', 'bin.cjs'].includes(f)) continue;
      symlinkSync(path.join(real, f), path.join(kit, f));
    }
    copyFileSync(path.join(real, 'package.json'), path.join(kit, 'package.json'));
    copyFileSync(path.join(real, 'index.js'), path.join(kit, 'index.js'));
    const bin = readFileSync(path.join(real, 'bin.cjs'), 'utf8');
    expect(bin).toContain('init_snapshotsDiffer');
    writeFileSync(path.join(kit, 'bin.cjs'), bin.replaceAll('init_snapshotsDiffer', 'init_snapshotsDiffer2'));
    for (const dir of [served, other]) addColumn(dir, 'other');
    const a = runCli(served, ['create', '-m', 'other'], { SLUICE_VERIFY: 'off', NODE_DEBUG: 'module' });
    const b = runCli(other, ['create', '-m', 'other'], { SLUICE_VERIFY: 'off', NODE_DEBUG: 'module' });
    expect(a.status).toBe(0);
    expect(b.status, b.stderr.split('\n').filter((l) => !l.startsWith('MODULE')).join('\n')).toBe(0);
    expect(apiLoaded(a.stderr)).toBe(false);
    expect(apiLoaded(b.stderr)).toBe(true);
    const made = downs(other);
    expect(made['postgresql/0004_other.down.sql']).toMatch(/ALTER TABLE "users" DROP COLUMN "other"/);
    expect(made).toEqual(downs(served));
  });
});
