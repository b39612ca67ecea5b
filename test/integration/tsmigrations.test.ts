/**
 * TypeScript data migrations (make migrate-create TS=1): `<tag>.ts` with up(db) / down(db) on a
 * drizzle handle bound to sluice's connection and transaction, beside the revision's SQL part. Real
 * SQLite files and PostgreSQL 15 schemas, through make and the CLI.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { start } from '../support/signals.js';
import { addRevision, describeFor, downgradeTo, upgradeTo, expectOneLineError, freshDatabase, makeProject, pgUrl, REPO, runCli, runMake, SKIP_PG, sql, tempDir, uniqueSchema, type Env, type Ran } from '../support/project.js';

const TAG = '0004_backfill_slugs';

/** The SQL part adds users.slug; the TypeScript part fills it (raw SQL) and names the nameless (typed update). */
const UP_SQL = { sqlite: 'ALTER TABLE `users` ADD `slug` text;\n', postgresql: 'ALTER TABLE "users" ADD COLUMN "slug" text;\n' };
const DOWN_SQL = { sqlite: 'ALTER TABLE `users` DROP COLUMN `slug`;\n', postgresql: 'ALTER TABLE "users" DROP COLUMN "slug";\n' };

function tsPart(d: 'sqlite' | 'postgresql'): string {
  const pg = d === 'postgresql';
  return `import { eq, isNull, sql } from 'drizzle-orm';
import type { ${pg ? 'NodePgDatabase' : 'BetterSQLite3Database'} } from '${pg ? 'drizzle-orm/node-postgres' : 'drizzle-orm/better-sqlite3'}';
import { users } from '../../models/${pg ? 'postgres' : 'sqlite'}';

type Db = ${pg ? 'NodePgDatabase' : 'BetterSQLite3Database'};

export async function up(db: Db): Promise<void> {
  await db.${pg ? 'execute' : 'run'}(sql\`UPDATE "users" SET "slug" = ${pg ? `split_part("email", '@', 1)` : `substr("email", 1, instr("email", '@') - 1)`}\`);
  ${
    pg
      ? `await db.transaction(async (tx) => {
    await tx.update(users).set({ name: 'unknown' }).where(isNull(users.name));
  });`
      : `await db.update(users).set({ name: 'unknown' }).where(isNull(users.name));`
  }
  const named = await db.select({ id: users.id }).from(users).where(eq(users.name, 'unknown'));
  if (process.env.TS_FAIL === '1') throw new Error(\`backfill failed half way (\${named.length} rows named)\`);
}

export async function down(db: Db): Promise<void> {
  await db.update(users).set({ name: null }).where(eq(users.name, 'unknown'));
}
`;
}

const envFor = (d: 'sqlite' | 'postgresql'): Env =>
  d === 'sqlite' ? { DATABASE_URL: 'file:ts.sqlite' } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('tsm') };

const usersOf = (dir: string, env: Env) => sql<{ email: string; name: string | null }>(dir, env, 'SELECT "email", "name" FROM "users" ORDER BY "id"');
const versions = async (dir: string, env: Env) => (await sql<{ r: string; c: string }>(dir, env, 'SELECT "revision" AS r, "checksum" AS c FROM sluice_version ORDER BY 1')).map((x) => x);
async function hasSlug(dir: string, env: Env): Promise<boolean> {
  const rows = env.DATABASE_SCHEMA
    ? await sql(dir, env, "SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'users' AND column_name = 'slug'", [env.DATABASE_SCHEMA])
    : await sql(dir, env, "SELECT 1 FROM pragma_table_info('users') WHERE name = 'slug'");
  return rows.length > 0;
}

/**
 * The example project with the TypeScript revision made by `make migrate-create TS=1` (both dialects'
 * parts, as the command writes them), made once per file: each test works on a copy of it.
 */
let made: { dir: string; created: Ran } | undefined;
function withTsRevision(): { dir: string; created: Ran } {
  if (!made) {
    const dir = makeProject();
    made = { dir, created: runMake(dir, ['migrate-create', 'MSG=backfill slugs', 'TS=1']) };
  }
  expect(made.created.status, made.created.stderr).toBe(0);
  const copy = tempDir('sluice-proj-');
  cpSync(made.dir, copy, { recursive: true, preserveTimestamps: true });
  return { dir: copy, created: made.created };
}

/** A project at 0003 with three users (one named), and the TypeScript revision after it. */
async function projectWithTsRevision(d: 'sqlite' | 'postgresql', ownDatabase = false): Promise<{ dir: string; env: Env; folder: string }> {
  const { dir, created } = withTsRevision();
  const env = d === 'postgresql' && ownDatabase ? { DATABASE_URL: await freshDatabase('tsm'), DATABASE_SCHEMA: uniqueSchema('tsm') } : envFor(d);
  expect(runCli(dir, ['up', '0003'], env).status).toBe(0); // setup: the CLI (the tests below go through make)
  await sql(dir, env, `INSERT INTO "users" ("email", "name") VALUES ('ada@x.io', 'Ada'), ('bob@y.io', NULL), ('cy@z.io', NULL)`);
  expect(created.stdout).toContain(`ts:   drizzle/${d}/${TAG}.ts`);
  return { dir, env, folder: path.join(dir, 'drizzle', d) };
}

describe('make migrate-create TS=1', () => {
  it('writes, per dialect, a type-correct template that runs as written, in a folder drizzle-kit and drizzle-orm still read', async () => {
    const { dir, created } = withTsRevision();
    const files: string[] = [];
    for (const d of ['sqlite', 'postgresql'] as const) {
      const folder = path.join(dir, 'drizzle', d);
      expect(created.stdout).toContain(`ts:   drizzle/${d}/${TAG}.ts`);
      const template = readFileSync(path.join(folder, `${TAG}.ts`), 'utf8');
      expect(template).toContain(`export async function up(db: ${d === 'postgresql' ? 'NodePgDatabase' : 'BetterSQLite3Database'}): Promise<void> {`);
      expect(template).toMatch(/export async function down\(db: /);
      expect(template).toMatch(d === 'postgresql' ? /db\.execute\(sql`/ : /db\.run\(sql`/);
      expect(template).toMatch(/db\.update\(users\)\.set\(/);
      expect(template).toContain(`import { users } from '../../models/${d === 'postgresql' ? 'postgres' : 'sqlite'}'`);
      // the SQL part is drizzle-kit's custom (empty) revision, in the journal, with its down; it names its part on its own line
      expect(readFileSync(path.join(folder, `${TAG}.sql`), 'utf8')).toMatch(new RegExp(`^-- Custom SQL migration file, put your code below! --\\n-- sluice:typescript-part ${TAG}\\.ts \\(its up\\(db\\) runs after this file's statements; [^\\n]*\\n$`));
      expect(existsSync(path.join(folder, `${TAG}.down.sql`))).toBe(true);
      files.push(path.join(folder, `${TAG}.ts`));
      // drizzle-orm's migrator reads the journal
      const migrator = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', `import { readMigrationFiles } from 'drizzle-orm/migrator'; console.log(readMigrationFiles({ migrationsFolder: ${JSON.stringify(folder)} }).length)`],
        { cwd: dir, encoding: 'utf8' },
      );
      expect(migrator.stdout.trim(), migrator.stderr).toBe('5');
    }
    // strict tsc, unused locals and parameters included, accepts both templates as written
    const tsc = spawnSync(
      process.execPath,
      [path.join(REPO, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--noUnusedLocals', '--noUnusedParameters', '--skipLibCheck', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', ...files],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    // drizzle-kit reads the folder: no model change, nothing generated
    const again = runCli(dir, ['create', '-m', 'nothing']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/No changes in the models/);
    // the templates run as written (no-ops), up and down
    for (const d of SKIP_PG ? (['sqlite'] as const) : (['sqlite', 'postgresql'] as const)) {
      const env = envFor(d);
      const up = runCli(dir, ['up'], env);
      expect(up.status, up.stderr).toBe(0);
      expect((await versions(dir, env)).map((v) => v.r)).toContain(TAG);
      expect(runCli(dir, ['down'], env).status).toBe(0);
      expect((await versions(dir, env)).map((v) => v.r)).not.toContain(TAG);
    }
  });
});

for (const d of ['sqlite', 'postgresql'] as const) {
  describeFor(d)(`TypeScript data migrations (${d})`, () => {
    it('up runs the SQL part then up(db) in one transaction; down runs down(db) then the down SQL; the checksum covers the .ts file', async () => {
      const { dir, env, folder } = await projectWithTsRevision(d);
      writeFileSync(path.join(folder, `${TAG}.sql`), UP_SQL[d]);
      writeFileSync(path.join(folder, `${TAG}.down.sql`), DOWN_SQL[d]);
      writeFileSync(path.join(folder, `${TAG}.ts`), tsPart(d));
      // a plain SQL revision after it: the TypeScript revision breaks the batch, both apply
      const next = addRevision(dir, d, 'after_ts', 'CREATE TABLE "after_ts" ("id" integer);\n', 'DROP TABLE "after_ts";\n');

      // dry run and offline SQL: a marked gap, nothing run
      const gap = `-- sluice: TypeScript step drizzle/${d}/${TAG}.ts (up) is not SQL: run it with sluice`;
      const dry = runMake(dir, ['migrate-up', 'DRY_RUN=1'], env);
      expect(dry.status, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(gap);
      const offline = runMake(dir, ['migrate-sql', 'REVISION=0003:head'], env);
      expect(offline.status, offline.stderr).toBe(0);
      expect(offline.stdout).toMatch(new RegExp(`^-- WARNING: ${TAG} has a TypeScript step`, 'm'));
      const block = offline.stdout.slice(offline.stdout.indexOf(`-- ${TAG} (up)`));
      // (the script's check that the database is at its start comes first: offline.test.ts)
      const guard = (l: string) => /^(DO \$sluice\$ BEGIN IF NOT|CREATE TEMP TABLE "sluice_guard_start"|INSERT INTO "sluice_guard_start")/.test(l);
      expect(block.split('\n').filter((l) => !guard(l)).slice(0, 4)).toEqual([`-- ${TAG} (up)`, 'BEGIN;', UP_SQL[d].trim(), `${gap} (make migrate-up)`]);
      expect(await hasSlug(dir, env)).toBe(false);

      const up = runMake(dir, ['migrate-up'], env);
      expect(up.status, up.stderr).toBe(0);
      expect(await usersOf(dir, env)).toEqual([
        { email: 'ada@x.io', name: 'Ada' },
        { email: 'bob@y.io', name: 'unknown' },
        { email: 'cy@z.io', name: 'unknown' },
      ]);
      expect((await sql<{ slug: string }>(dir, env, 'SELECT "slug" FROM "users" ORDER BY "id"')).map((r) => r.slug)).toEqual(['ada', 'bob', 'cy']);
      const rows = await versions(dir, env);
      expect(rows.map((v) => v.r)).toEqual(['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users', TAG, next]);
      const expected = createHash('sha256')
        .update(readFileSync(path.join(folder, `${TAG}.sql`), 'utf8'))
        .update('\0sluice:ts\0')
        .update(readFileSync(path.join(folder, `${TAG}.ts`), 'utf8'))
        .digest('hex');
      expect(rows.find((v) => v.r === TAG)!.c).toBe(expected);

      // down: the gap comes before the down SQL in a dry run; then down(db) restores the names, the SQL drops the column
      const dryDown = runMake(dir, ['migrate-down', 'REVISION=0003', 'DRY_RUN=1'], env);
      expect(dryDown.stdout).toContain(`-- sluice: TypeScript step drizzle/${d}/${TAG}.ts (down) is not SQL`);
      expect(dryDown.stdout.indexOf('(down) is not SQL')).toBeLessThan(dryDown.stdout.indexOf('DROP COLUMN'));
      const down = runMake(dir, ['migrate-down', 'REVISION=0003'], env);
      expect(down.status, down.stderr).toBe(0);
      expect(await hasSlug(dir, env)).toBe(false);
      expect((await usersOf(dir, env)).map((u) => u.name)).toEqual(['Ada', null, null]);
      expect((await versions(dir, env)).map((v) => v.r)).not.toContain(TAG);

      // editing the .ts file after applying it is a changed revision
      expect(runMake(dir, ['migrate-up'], env).status).toBe(0);
      appendFileSync(path.join(folder, `${TAG}.ts`), '// edited after it was applied\n');
      const status = runCli(dir, ['status'], env);
      expect(status.stdout).toMatch(new RegExp(`changed since applied: ${TAG}`));
      expectOneLineError(runCli(dir, ['up'], env), 4, new RegExp(`${TAG}\\.sql or drizzle/${d}/${TAG}\\.ts changed after it was applied`));

      // the .ts removed, the up SQL untouched (as its down records it): the .ts is named as missing (was:
      // "<tag>.sql changed after it was applied", of the file nobody touched)
      const upSum = createHash('sha256').update(readFileSync(path.join(folder, `${TAG}.sql`), 'utf8')).digest('hex');
      writeFileSync(path.join(folder, `${TAG}.down.sql`), `-- sluice:up-checksum ${upSum}\n${DOWN_SQL[d]}`);
      rmSync(path.join(folder, `${TAG}.ts`));
      expectOneLineError(runCli(dir, ['up'], env), 4, new RegExp(`revision ${TAG}'s checksum in the version table differs from drizzle/${d}/${TAG}\\.sql, though that file is the up its down was made for: the row was recorded for another text \\(a TypeScript part drizzle/${d}/${TAG}\\.ts now missing,`));

      // down --allow-changed through it runs the down SQL alone, and says that the part's down(db) did not
      // run (was: exit 0, "reverted", the names its up(db) gave left in place without a word)
      expect((await versions(dir, env)).map((v) => v.r).at(-1)).toBe(next);
      const missing = `${TAG}'s checksum differs from the version table and drizzle/${d}/${TAG}\\.ts is missing: if it was applied with that TypeScript part, this down`;
      const dryRun = runCli(dir, ['down', '0003', '--allow-changed', '--dry-run'], env);
      expect(dryRun.stdout).toMatch(new RegExp(`^-- WARNING: ${missing} would run only drizzle/${d}/${TAG}\\.down\\.sql, not the part's down\\(db\\)`, 'm')); // a comment in the dry run's script
      const reverted = runCli(dir, ['down', '0003', '--allow-changed'], env);
      expect(reverted.status, reverted.stderr).toBe(0);
      expect(reverted.stdout).toMatch(new RegExp(`^warning: ${missing} runs only drizzle/${d}/${TAG}\\.down\\.sql, not the part's down\\(db\\): whatever its up\\(db\\) changed stays in the database$`, 'm'));
      expect(reverted.stdout.match(/^warning:/gm)).toHaveLength(1); // not of the plain revision after it
      expect(await hasSlug(dir, env)).toBe(false);
      expect((await usersOf(dir, env)).map((u) => u.name)).toEqual(['Ada', 'unknown', 'unknown']);
    });

    it('a TS data migration that fails half way rolls back with its SQL part: exit 3, the revision named, rows and version rows unchanged', async () => {
      const { dir, env, folder } = await projectWithTsRevision(d);
      writeFileSync(path.join(folder, `${TAG}.sql`), UP_SQL[d]);
      writeFileSync(path.join(folder, `${TAG}.down.sql`), DOWN_SQL[d]);
      writeFileSync(path.join(folder, `${TAG}.ts`), tsPart(d));
      const before = await usersOf(dir, env);
      const versionsBefore = await versions(dir, env);

      const failed = runCli(dir, ['up'], { ...env, TS_FAIL: '1', SLUICE_NO_BACKUP: '1' });
      expectOneLineError(
        failed,
        3,
        new RegExp(
          `revision ${TAG} \\(up\\) failed in drizzle/${d}/${TAG}\\.ts up\\(\\): backfill failed half way \\(2 rows named\\)\\. Rolled back: the database is at 0003_add_phone_to_users`,
        ),
      );
      expect(await hasSlug(dir, env)).toBe(false); // the SQL part rolled back with it
      expect(await usersOf(dir, env)).toEqual(before);
      expect(await versions(dir, env)).toEqual(versionsBefore);

      // the same under --single-transaction, with a revision before it in the run
      expect(runCli(dir, ['down'], env).status).toBe(0);
      const single = runCli(dir, ['up', '--single-transaction'], { ...env, TS_FAIL: '1', SLUICE_NO_BACKUP: '1' });
      expectOneLineError(single, 3, /Single transaction rolled back: the database is at 0002_add_sessions_and_roles, as before the run/);
      expect(await hasSlug(dir, env)).toBe(false);
      expect(await usersOf(dir, env)).toEqual(before);

      // a database error inside up(db) is reported with the database's message
      writeFileSync(path.join(folder, `${TAG}.ts`), tsPart(d).replace('await db.', `await db.${d === 'postgresql' ? 'execute' : 'run'}(sql\`SELECT * FROM no_such_table\`);\n  await db.`));
      const dbError = runCli(dir, ['up'], { ...env, SLUICE_NO_BACKUP: '1' });
      expectOneLineError(dbError, 3, new RegExp(`revision ${TAG} \\(up\\) failed in drizzle/${d}/${TAG}\\.ts up\\(\\): .*no_such_table.*\\(query: SELECT \\* FROM no_such_table\\)\\. Rolled back: the database is at 0003_add_phone_to_users`));

      // a file that does not load, or lacks the function, is refused before anything runs (exit 6),
      // and before a SQLite backup is taken (was: each refused run took one, rotating an older one out)
      const backups = () => (existsSync(path.join(dir, '.sluice', 'backups')) ? readdirSync(path.join(dir, '.sluice', 'backups')).sort() : []);
      const backupsBefore = backups();
      writeFileSync(path.join(folder, `${TAG}.ts`), 'export async function up( {\n');
      // the compiler's reason, with the file, line and column (found by a README walk: only "Transform failed with 1 error:")
      expectOneLineError(runCli(dir, ['up'], env), 6, new RegExp(`drizzle/${d}/${TAG}\\.ts \\(TypeScript part of ${TAG}\\) does not load: Transform failed with 1 error: \\S*${TAG}\\.ts:2:0: ERROR: .+; nothing ran`));
      writeFileSync(path.join(folder, `${TAG}.ts`), 'export async function down() {}\n');
      expectOneLineError(runCli(dir, ['up'], env), 6, /exports no up function/);
      expect((await versions(dir, env)).map((v) => v.r).at(-1)).toBe('0003_add_phone_to_users');
      expect(backups()).toEqual(backupsBefore);

      // after fixing it, up completes
      writeFileSync(path.join(folder, `${TAG}.ts`), tsPart(d));
      const ok = runMake(dir, ['migrate-up'], env);
      expect(ok.status, ok.stderr).toBe(0);
      expect((await usersOf(dir, env)).map((u) => u.name)).toEqual(['Ada', 'unknown', 'unknown']);
    });

    if (d === 'sqlite') {
      // found by a hunt: an up(db) awaiting a promise nothing settles left Node.js with nothing to run,
      // and the process ended by itself: exit 0, no line, the revision not applied (up, deploy, db-test)
      it('an up(db) or down(db) that awaits a promise nothing settles fails its revision: exit 3, rolled back, never exit 0', async () => {
        const { dir, env, folder } = await projectWithTsRevision(d);
        writeFileSync(path.join(folder, `${TAG}.sql`), UP_SQL[d]);
        writeFileSync(path.join(folder, `${TAG}.down.sql`), DOWN_SQL[d]);
        const stuck = (fn: 'up' | 'down') => tsPart(d).replace(`export async function ${fn}(db: Db): Promise<void> {`, `export async function ${fn}(db: Db): Promise<void> {\n  await new Promise<void>(() => {});`);
        writeFileSync(path.join(folder, `${TAG}.ts`), stuck('up'));
        const before = await usersOf(dir, env);
        for (const args of [['up'], ['deploy'], ['up', '--single-transaction']]) {
          expectOneLineError(runCli(dir, args, { ...env, SLUICE_NO_BACKUP: '1' }), 3, new RegExp(`revision ${TAG} \\(up\\) failed in drizzle/${d}/${TAG}\\.ts up\\(\\): it awaits a promise that nothing settles`));
          expect(await hasSlug(dir, env)).toBe(false);
          expect(await usersOf(dir, env)).toEqual(before);
        }
        writeFileSync(path.join(folder, `${TAG}.ts`), stuck('down'));
        expect(runCli(dir, ['up'], env).status).toBe(0);
        expectOneLineError(runCli(dir, ['down', 'base'], { ...env, SLUICE_NO_BACKUP: '1' }), 3, new RegExp(`revision ${TAG} \\(down\\) failed in drizzle/${d}/${TAG}\\.ts down\\(\\): it awaits a promise that nothing settles.*Rolled back: the database is at ${TAG}`));
        expect((await versions(dir, env)).map((v) => v.r).at(-1)).toBe(TAG);
      });

      // found by a hunt: a TypeScript-only revision (its up SQL drizzle-kit's empty custom file) whose .ts was
      // deleted after it was applied was reported as "<tag>.sql changed", of the file nobody touched
      it('a TypeScript-only revision whose .ts was deleted after it was applied names the .ts as missing: exit 4', async () => {
        const { dir, env, folder } = await projectWithTsRevision(d);
        const up = runCli(dir, ['up'], env);
        expect(up.status, up.stderr).toBe(0);
        rmSync(path.join(folder, `${TAG}.ts`));
        // its up and down name the part (migrate-create --ts writes that line in both): the part is named as missing, for sure
        const upFile = path.join(folder, `${TAG}.sql`);
        const downFile = path.join(folder, `${TAG}.down.sql`);
        const upText = readFileSync(upFile, 'utf8');
        const down = readFileSync(downFile, 'utf8');
        expect(upText).toMatch(new RegExp(`^-- sluice:typescript-part ${TAG}\\.ts \\(its up\\(db\\) runs after`, 'm'));
        expect(down).toMatch(new RegExp(`^-- sluice:typescript-part ${TAG}\\.ts `, 'm'));
        const named = (by: string) => new RegExp(`^sluice: revision ${TAG} was applied with its TypeScript part drizzle/${d}/${TAG}\\.ts \\(its ${by} file names it\\), which is missing: restore it`);
        expectOneLineError(runCli(dir, ['down'], env), 4, named('up'));
        // a revision made before the up's line: its down names the part
        writeFileSync(upFile, upText.replace(/^-- sluice:typescript-part .*\n/m, ''));
        expectOneLineError(runCli(dir, ['down'], env), 4, named('down'));
        // and one made before either line: told by its up of comments only
        writeFileSync(downFile, down.replace(/^-- sluice:typescript-part .*\n/m, ''));
        expectOneLineError(runCli(dir, ['down'], env), 4, new RegExp(`drizzle/${d}/${TAG}\\.sql changed after it was applied, or the TypeScript part drizzle/${d}/${TAG}\\.ts it was applied with is missing \\(checksum differs`));
        writeFileSync(upFile, upText);
        writeFileSync(downFile, down);
        // allowed through, the library's result carries the warning too (--json prints it), also given to onWarning before the step
        const told: string[] = [];
        const reverted = await downgradeTo(dir, env, '-1', { allowChanged: true, onWarning: (w) => told.push(w) });
        expect(reverted.warnings).toEqual([expect.stringMatching(new RegExp(`^${TAG} was applied with its TypeScript part \\S*drizzle/${d}/${TAG}\\.ts \\(its up file names it\\), which is missing: this down runs only`))]); // paths as the caller's working directory sees them
        expect(told).toEqual(reverted.warnings);
        expect((await versions(dir, env)).map((v) => v.r)).not.toContain(TAG);
      });

      it('a pending TypeScript revision whose .ts is missing is not applied, whatever its up holds: exit 4, the part named (was: recorded as applied, its up(db) never run)', async () => {
        const { dir, env, folder } = await projectWithTsRevision(d);
        // migrate-downs names the part too, in a down it writes for a revision with a .ts
        const upFile = path.join(folder, `${TAG}.sql`);
        const downFile = path.join(folder, `${TAG}.down.sql`);
        rmSync(downFile);
        const downs = runCli(dir, ['downs'], { SLUICE_VERIFY: 'off' });
        expect(downs.status, downs.stderr).toBe(0);
        expect(readFileSync(downFile, 'utf8')).toMatch(new RegExp(`^-- sluice:typescript-part ${TAG}\\.ts `, 'm'));
        rmSync(path.join(folder, `${TAG}.ts`));
        const upText = readFileSync(upFile, 'utf8');
        const refused = (by: string) => new RegExp(`^sluice: (?:deploy failed: )?revision ${TAG} has a TypeScript part drizzle/${d}/${TAG}\\.ts \\(its ${by} file names it\\), which is missing: its up\\(db\\) would not run`);
        const checked = (by: string) => new RegExp(`^sluice: TypeScript part of revision ${TAG} is missing: drizzle/${d}/${TAG}\\.ts \\(its ${by} file names it\\); restore it`);
        const unchanged = async () => {
          expect((await versions(dir, env)).map((v) => v.r).at(-1)).toBe('0003_add_phone_to_users');
          expect((await usersOf(dir, env)).map((u) => u.name)).toEqual(['Ada', null, null]);
          expect(await hasSlug(dir, env)).toBe(false);
        };
        // its up names the part (migrate-create --ts writes that line under drizzle-kit's): refused with SQL in
        // the up too (was: that SQL applied alone, recorded, exit 0), and so is every way an up runs
        for (const extra of ['', UP_SQL[d]]) {
          writeFileSync(upFile, `${upText}${extra}`);
          for (const args of [['up', '--dry-run'], ['up'], ['up', '--single-transaction'], ['deploy']]) expectOneLineError(runCli(dir, args, env), 4, refused('up'));
          await unchanged();
          expectOneLineError(runCli(dir, ['verify', '--no-database'], env), 4, checked('up'));
        }
        // a revision made before the up's line: its down names the part, read for an up of comments only
        writeFileSync(upFile, upText.replace(/^-- sluice:typescript-part .*\n/m, ''));
        for (const args of [['up', '--dry-run'], ['up']]) expectOneLineError(runCli(dir, args, env), 4, refused('down'));
        await unchanged();
        // with SQL in such an up (which up then applies alone: it reads downs only for an up of comments only), CI's check names the part
        appendFileSync(upFile, UP_SQL[d]);
        expectOneLineError(runCli(dir, ['verify', '--no-database'], env), 4, checked('down'));
      });

      it("a down --allow-changed that fails after its plan still gives the missing part's warning: in --json's error document too", async () => {
        const { dir, env, folder } = await projectWithTsRevision(d);
        addRevision(dir, d, 'breaks_down', 'CREATE TABLE "breaks" ("id" integer);\n', 'DROP TABLE "no_such_table";\n');
        await upgradeTo(dir, env);
        rmSync(path.join(folder, `${TAG}.ts`));
        const failed = runCli(dir, ['--json', 'down', '0003', '--allow-changed'], env);
        expect(failed.status, failed.stderr).toBe(3);
        const doc = JSON.parse(failed.stdout) as { error: string; warnings?: string[] };
        expect(doc.error).toMatch(/breaks_down \(down\) failed/);
        expect(doc.warnings).toEqual([expect.stringMatching(new RegExp(`^${TAG} was applied with its TypeScript part drizzle/${d}/${TAG}\\.ts `))]);
        const text = runCli(dir, ['down', '0003', '--allow-changed'], env);
        expect(text.status).toBe(3);
        expect(text.stdout).toMatch(new RegExp(`^warning: ${TAG} was applied with its TypeScript part`, 'm'));
      });

      // found by a hunt: process.exit(0) at the end of up(), a data script's habit, ended sluice's process
      // there: exit 0 and no line from up and deploy, the revision rolled back unrecorded, the next never run
      it('an up(db) that calls process.exit fails its revision: exit 3, rolled back, also when it catches what process.exit throws', async () => {
        const { dir, env, folder } = await projectWithTsRevision(d);
        writeFileSync(path.join(folder, `${TAG}.sql`), UP_SQL[d]);
        writeFileSync(path.join(folder, `${TAG}.down.sql`), DOWN_SQL[d]);
        const exiting = (body: string) => tsPart(d).replace('export async function up(db: Db): Promise<void> {', `export async function up(db: Db): Promise<void> {\n  ${body}`);
        const before = await usersOf(dir, env);
        for (const [body, commands] of [['process.exit(0);', [['up'], ['deploy']]], ['try { process.exit(0); } catch { /* and on */ }', [['up']]]] as const) {
          writeFileSync(path.join(folder, `${TAG}.ts`), exiting(body));
          for (const args of commands) {
            expectOneLineError(runCli(dir, [...args], { ...env, SLUICE_NO_BACKUP: '1' }), 3, new RegExp(`revision ${TAG} \\(up\\) failed in drizzle/${d}/${TAG}\\.ts up\\(\\): it called process\\.exit\\(0\\).*Rolled back`));
            expect(await hasSlug(dir, env)).toBe(false);
            expect(await usersOf(dir, env)).toEqual(before);
          }
        }
      });

      it("leaves no trace of its transaction mark: a table of the mark's name is the user's again after the TypeScript revision", async () => {
        const { dir, env, folder } = await projectWithTsRevision(d);
        writeFileSync(path.join(folder, `${TAG}.sql`), UP_SQL[d]);
        writeFileSync(path.join(folder, `${TAG}.down.sql`), DOWN_SQL[d]);
        writeFileSync(path.join(folder, `${TAG}.ts`), tsPart(d));
        await sql(dir, env, 'CREATE TABLE "sluice_revision_mark" ("x" text)');
        // in the same run, on the same connection: the SQL after the TypeScript revision writes the user's table
        // (was: the mark's temp table, kept for the connection, hid it: "has no column named x")
        addRevision(dir, d, 'after_mark', `INSERT INTO "sluice_revision_mark" ("x") VALUES ('after');\n`, `DELETE FROM "sluice_revision_mark";\n`);
        const up = runCli(dir, ['up'], { ...env, SLUICE_NO_BACKUP: '1' });
        expect(up.status, up.stderr).toBe(0);
        expect(await sql(dir, env, 'SELECT "x" FROM main."sluice_revision_mark"')).toEqual([{ x: 'after' }]);
        expect((await versions(dir, env)).map((v) => v.r).slice(-2)).toEqual([TAG, '0005_after_mark']);
      });
    }

    it("a TS part that commits sluice's transaction itself is reported as NOT rolled back; one whose transaction was rolled back, by itself or by the database, as rolled back", async () => {
      // a database of its own: the prepared transactions below hold back every CREATE INDEX
      // CONCURRENTLY in their database until resolved (another file's, in the shared one, timed out)
      const { dir, env, folder } = await projectWithTsRevision(d, true);
      writeFileSync(path.join(folder, `${TAG}.sql`), UP_SQL[d]);
      writeFileSync(path.join(folder, `${TAG}.down.sql`), DOWN_SQL[d]);
      const run = d === 'postgresql' ? 'execute' : 'run';
      const body = (lines: string[]) =>
        `import { sql } from 'drizzle-orm';\nexport async function up(db: any): Promise<void> {\n  await db.${run}(sql\`UPDATE "users" SET "name" = 'x' WHERE "name" IS NULL\`);\n${lines.map((l) => `  ${l}\n`).join('')}}\nexport async function down(): Promise<void> {}\n`;
      const q = (text: string) => `await db.${run}(sql\`${text}\`);`;
      const versionsBefore = await versions(dir, env);
      const names = async () => (await usersOf(dir, env)).map((u) => u.name);
      const attempt = (lines: string[]) => {
        writeFileSync(path.join(folder, `${TAG}.ts`), body(lines));
        return runCli(dir, ['up'], { ...env, SLUICE_NO_BACKUP: '1' });
      };
      const where = `revision ${TAG} \\(up\\) failed in drizzle/${d}/${TAG}\\.ts up\\(\\): `;
      const notRolledBack = `\\. NOT rolled back: drizzle/${d}/${TAG}\\.ts up\\(\\) committed sluice's transaction itself, so its SQL part and what up\\(\\) ran before its COMMIT stays, and so does what it ran after that COMMIT outside a transaction of its own \\(each statement committed as it ran\\); the revision is not recorded as applied\\. The version table says the database is at 0003_add_phone_to_users; check its schema and data by hand`;
      const committed: [string[], string][] = [
        [[q('COMMIT')], "it ended sluice's transaction itself \\(a COMMIT or ROLLBACK\\): a TypeScript part must never commit or roll back"],
        [[q('COMMIT'), "throw new Error('after the commit');"], 'after the commit'],
        // a transaction of its own after the COMMIT, failing: still the COMMIT that decides (was: 'Rolled back')
        [[q('COMMIT'), q('BEGIN'), q('SELECT * FROM no_such_table')], `.*no_such_table.*\\(query: SELECT \\* FROM no_such_table\\)`],
        // ... and one that returns, its transaction open (SQLite: told apart by the savepoint)
        [[q('COMMIT'), q('BEGIN')], "it ended sluice's transaction itself \\(a COMMIT or ROLLBACK\\): a TypeScript part must never commit or roll back"],
      ];
      for (const [lines, why] of committed) {
        const r = attempt(lines);
        expectOneLineError(r, 3, new RegExp(`${where}${why}${notRolledBack}`));
        // what it said: the SQL part and the update before the COMMIT stayed; the revision is not recorded
        expect(await hasSlug(dir, env)).toBe(true);
        expect(await names()).toEqual(['Ada', 'x', 'x']);
        expect(await versions(dir, env)).toEqual(versionsBefore);
        // put back by hand, as the message asks
        await sql(dir, env, DOWN_SQL[d]);
        await sql(dir, env, `UPDATE "users" SET "name" = NULL WHERE "name" = 'x'`);
      }
      // what up() ran after its COMMIT stays too, and the message says so (found by a README walk: it named
      // only what ran before the COMMIT)
      {
        const r = attempt([q('COMMIT'), q(`UPDATE "users" SET "name" = 'after' WHERE "name" = 'x'`), "throw new Error('later');"]);
        expectOneLineError(r, 3, new RegExp(`${where}later${notRolledBack}`));
        expect(await names()).toEqual(['Ada', 'after', 'after']);
        expect(await versions(dir, env)).toEqual(versionsBefore);
        await sql(dir, env, DOWN_SQL[d]);
        await sql(dir, env, `UPDATE "users" SET "name" = NULL WHERE "name" = 'after'`);
      }
      // its own ROLLBACK: sluice's transaction is gone, and what it ran afterwards ran outside any (here: committed)
      const byItself = `\\. Rolled back by drizzle/${d}/${TAG}\\.ts up\\(\\) itself: what it ran after its ROLLBACK ran outside any transaction and may be committed, and the revision is not recorded as applied\\. The version table says the database is at 0003_add_phone_to_users`;
      for (const after of [[], [q(`UPDATE "users" SET "name" = 'after' WHERE "name" = 'Ada'`)]]) {
        const r = attempt([q('ROLLBACK'), ...after]);
        expectOneLineError(r, 3, new RegExp(`${where}it ended sluice's transaction itself \\(a COMMIT or ROLLBACK\\): a TypeScript part must never commit or roll back${byItself}`));
        expect(await hasSlug(dir, env)).toBe(false);
        expect(await names()).toEqual([after.length ? 'after' : 'Ada', null, null]);
        expect(await versions(dir, env)).toEqual(versionsBefore);
        await sql(dir, env, `UPDATE "users" SET "name" = 'Ada' WHERE "name" = 'after'`);
      }
      // rolled back by the database (SQLite's OR ROLLBACK), or an ordinary failure after RESET ALL (which once cleared the mark)
      const rolledBack: [string[], string][] = [
        ...(d === 'sqlite'
          ? ([[[q('CREATE TABLE "u" ("id" integer PRIMARY KEY)'), q('INSERT INTO "u" VALUES (1)'), q('INSERT OR ROLLBACK INTO "u" VALUES (1)')], 'UNIQUE constraint failed: u\\.id \\(query: INSERT OR ROLLBACK INTO "u" VALUES \\(1\\)\\)']] as [string[], string][])
          : ([[["await db.execute(sql`RESET ALL`);", q('SELECT * FROM no_such_table')], '.*no_such_table']] as [string[], string][])),
      ];
      for (const [lines, why] of rolledBack) {
        const r = attempt(lines);
        expectOneLineError(r, 3, new RegExp(`${where}${why}.*\\. Rolled back: the database is at 0003_add_phone_to_users`));
        expect(await hasSlug(dir, env)).toBe(false);
        expect(await names()).toEqual(['Ada', null, null]);
        expect(await versions(dir, env)).toEqual(versionsBefore);
      }

      if (d === 'postgresql') {
        // its own PREPARE TRANSACTION: neither committed nor rolled back, holding its locks until resolved
        // by hand (was reported 'Rolled back'); the suite's cluster allows prepared transactions (pg-global.ts)
        const gid = `sluice_test_${process.pid}_${Date.now()}`;
        const r = attempt([q(`PREPARE TRANSACTION '${gid}'`)]);
        expectOneLineError(
          r,
          3,
          new RegExp(
            `${where}it ended sluice's transaction itself.*\\. NOT rolled back: drizzle/${d}/${TAG}\\.ts up\\(\\) prepared sluice's transaction for two-phase commit itself \\(PREPARE TRANSACTION '${gid}'\\), so its SQL part and what up\\(\\) ran before its PREPARE TRANSACTION is neither committed nor rolled back and holds its locks; the revision is not recorded as applied, and the version table says the database is at 0003_add_phone_to_users\\. Run ROLLBACK PREPARED '${gid}' \\(it undoes that work\\), then run the command again; COMMIT PREPARED '${gid}' would keep it without its version row \\(then record it with make migrate-stamp\\)$`,
          ),
        );
        expect(await sql(dir, env, 'SELECT gid FROM pg_catalog.pg_prepared_xacts WHERE gid = $1', [gid])).toHaveLength(1);
        expect(await versions(dir, env)).toEqual(versionsBefore);
        // as the message says: ROLLBACK PREPARED puts everything back
        await sql(dir, env, `ROLLBACK PREPARED '${gid}'`);
        expect(await hasSlug(dir, env)).toBe(false);
        expect(await names()).toEqual(['Ada', null, null]);

        // Ctrl+C while a query runs after its PREPARE TRANSACTION: the interrupted line says the same
        // (prepared, not rolled back, ROLLBACK PREPARED first), exit 130, nothing recorded
        const flag = path.join(dir, 'prepared.flag');
        writeFileSync(
          path.join(folder, `${TAG}.ts`),
          `import { writeFileSync } from 'node:fs';\n${body([q(`PREPARE TRANSACTION '${gid}'`), `writeFileSync(${JSON.stringify(flag)}, '1');`, q('SELECT pg_sleep(30)')])}`,
        );
        const { child, ended } = start(dir, ['up'], { ...env, SLUICE_NO_BACKUP: '1' });
        for (let i = 0; i < 300 && !existsSync(flag); i++) await new Promise((r) => setTimeout(r, 50));
        expect(existsSync(flag)).toBe(true);
        await new Promise((r) => setTimeout(r, 300)); // the sleep has started
        child.kill('SIGINT');
        const stopped = await ended;
        expect(stopped.code, stopped.stderr).toBe(130);
        expect(stopped.stderr.trim().split('\n')).toHaveLength(1);
        expect(stopped.stderr.trim()).toMatch(
          new RegExp(
            `^sluice: interrupted \\(SIGINT\\) during ${TAG} \\(up\\), .*${TAG}'s TypeScript part prepared sluice's transaction itself \\(PREPARE TRANSACTION '${gid}'\\), so what ran before that is neither committed nor rolled back and holds its locks; it is not recorded\\. The database is at 0003_add_phone_to_users\\. Run ROLLBACK PREPARED '${gid}' \\(it undoes that work\\), then run the command again; COMMIT PREPARED '${gid}' would keep it without its version row \\(then record it with make migrate-stamp\\)$`,
          ),
        );
        expect(stopped.stdout).toMatch(new RegExp(`${TAG} INTERRUPTED`));
        expect(await sql(dir, env, 'SELECT gid FROM pg_catalog.pg_prepared_xacts WHERE gid = $1', [gid])).toHaveLength(1);
        expect(await versions(dir, env)).toEqual(versionsBefore);
        await sql(dir, env, `ROLLBACK PREPARED '${gid}'`);
        expect(await hasSlug(dir, env)).toBe(false);
        expect(await names()).toEqual(['Ada', null, null]);

        // --single-transaction: the run's earlier revision is prepared too, not applied (nor rolled back);
        // the part prepares and returns (the one above also slept 30 s after its PREPARE)
        writeFileSync(path.join(folder, `${TAG}.ts`), body([q(`PREPARE TRANSACTION '${gid}'`)]));
        expect(runCli(dir, ['down'], env).status).toBe(0);
        const single = runCli(dir, ['up', '--single-transaction', '--json'], { ...env, SLUICE_NO_BACKUP: '1' });
        expect(single.status, single.stderr).toBe(3);
        const json = JSON.parse(single.stdout || single.stderr) as { results: { revision: string; status: string; transactionEnded?: string; preparedAs?: string }[] };
        expect(json.results.map((r) => [r.revision, r.status, r.transactionEnded, r.preparedAs])).toEqual([
          ['0003_add_phone_to_users', 'prepared', undefined, undefined],
          [TAG, 'failed', 'prepared', gid],
        ]);
        await sql(dir, env, `ROLLBACK PREPARED '${gid}'`);
        expect((await versions(dir, env)).map((v) => v.r).at(-1)).toBe('0002_add_sessions_and_roles');
        expect(runCli(dir, ['up', '0003'], env).status).toBe(0);
      }

      // --single-transaction: the COMMIT committed this run's earlier revision too, and --json says so
      expect(runCli(dir, ['down'], env).status).toBe(0);
      writeFileSync(path.join(folder, `${TAG}.ts`), body([q('COMMIT')]));
      const single = runCli(dir, ['up', '--single-transaction', '--json'], { ...env, SLUICE_NO_BACKUP: '1' });
      expect(single.status, single.stderr).toBe(3);
      const json = JSON.parse(single.stdout || single.stderr) as { error: string; results: { revision: string; status: string; transactionEnded?: string }[] };
      expect(json.error).toMatch(/its SQL part and what up\(\) ran before its COMMIT stays \(so do this run's earlier revisions\), and so does what it ran after that COMMIT outside a transaction of its own \(each statement committed as it ran\); the revision is not recorded as applied\. The version table says the database is at 0003_add_phone_to_users/);
      expect(json.results.map((r) => [r.revision, r.status, r.transactionEnded])).toEqual([
        ['0003_add_phone_to_users', 'applied', undefined],
        [TAG, 'failed', 'committed'],
      ]);
      expect(await versions(dir, env)).toEqual(versionsBefore);
      expect(await hasSlug(dir, env)).toBe(true);
    });
  });
}

/** db-test (PostgreSQL on the suite's server) of the TS=1 project whose PostgreSQL revision is plain SQL: `up` and `down` as given. */
function checkWithSqlRevision(up: string, down: string): Ran {
  const { dir } = withTsRevision();
  const folder = path.join(dir, 'drizzle', 'postgresql');
  rmSync(path.join(folder, `${TAG}.ts`));
  writeFileSync(path.join(folder, `${TAG}.sql`), up);
  writeFileSync(path.join(folder, `${TAG}.down.sql`), down);
  return runCli(dir, ['check'], { SLUICE_CHECK_DATABASE_URL: pgUrl() });
}

describeFor('postgresql')('db-test: each command on a session as clean as a CLI run', () => {
  it('each command runs on a session as clean as a CLI run: a named prepared statement in a .ts passes base -> head again (was: "cached plan must not change result type")', () => {
    const { dir } = withTsRevision();
    // SELECT * returns the users' role enum, which the downs drop and the ups make anew; down prepares
    // the same name with another text (node-postgres: "Prepared statements must be unique" on one session)
    writeFileSync(
      path.join(dir, 'drizzle', 'postgresql', `${TAG}.ts`),
      `export async function up(db: any): Promise<void> {\n  await db.$client.query({ name: 'all_users', text: 'SELECT * FROM "users"' });\n}\n` +
        `export async function down(db: any): Promise<void> {\n  await db.$client.query({ name: 'all_users', text: 'SELECT * FROM "users" WHERE true' });\n}\n`,
    );
    const r = runCli(dir, ['check'], { SLUICE_CHECK_DATABASE_URL: pgUrl() });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok +postgresql: up 0004_backfill_slugs$/m);
    expect(r.stdout).toMatch(/^ok +postgresql: down 0004_backfill_slugs restores 0003_add_phone_to_users$/m);
    expect(r.stdout).toMatch(/^ok +postgresql: base -> head again matches head$/m);
  });

  it('a plain SQL revision that runs PREPARE, its down DEALLOCATE ALL, passes base -> head again and its proof (was: "prepared statement ... already exists")', () => {
    const r = checkWithSqlRevision('PREPARE sluice_test_q AS SELECT 1;\n', 'DEALLOCATE ALL;\n');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok +postgresql: base -> head again matches head$/m);
    expect(r.stdout).toMatch(/^ok +postgresql: every down proven, rows kept$/m);
  });

  it("a SQL revision that runs DEALLOCATE ALL (no PREPARE): db-test's own named reads still work after it (was: 'prepared statement \"sluice_introspect\" does not exist')", () => {
    const r = checkWithSqlRevision('DEALLOCATE ALL;\n', 'DEALLOCATE ALL;\n');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok +postgresql: up 0004_backfill_slugs$/m);
    expect(r.stdout).toMatch(/^ok +postgresql: every down proven, rows kept$/m);
  });
});
