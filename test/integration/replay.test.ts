/**
 * db-test and migrate-check's drift check replay the history beside the real data. A history that
 * names schemas besides public (drizzle's pgSchema) must not replay in the app's own database: its
 * objects would land in the real schema of that name, and the replayed downs would drop them. It gets
 * a database of its own on the server (scratch.ts replayDatabase). A revision that fails in a replay is
 * reported as what failed, never with where the scratch database then stood.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { addRevision, addUserColumn, makeProject, pgDescribe, pgUrl, runCli, sql, uniqueSchema, type Env } from '../support/project.js';

pgDescribe('a history with a PostgreSQL schema of its own', () => {
  it('db-test, migrate-check and migrate-create replay it in a database of their own: the real schema keeps its table and rows', async () => {
    const dir = makeProject();
    const own = uniqueSchema('own');
    // IF NOT EXISTS, as older drizzle-kit versions wrote it: a replay in the app's database would run through
    const tag = addRevision(
      dir,
      'postgresql',
      'own_schema',
      // (the DELETE ran on a new, empty table; replayed beside the data it would empty the real one)
      `CREATE SCHEMA IF NOT EXISTS "${own}";\n--> statement-breakpoint\nCREATE TABLE IF NOT EXISTS "${own}"."log" ("id" integer);\n--> statement-breakpoint\nDELETE FROM "${own}"."log";`,
      `DROP TABLE "${own}"."log";\n--> statement-breakpoint\nDROP SCHEMA "${own}";`,
    );
    // its snapshot names the schema, as drizzle-kit's does for a pgSchema
    const snap = path.join(dir, 'drizzle/postgresql/meta', `${tag.slice(0, 4)}_snapshot.json`);
    const json = JSON.parse(readFileSync(snap, 'utf8'));
    writeFileSync(snap, JSON.stringify({ ...json, id: randomUUID(), prevId: json.id, schemas: { [own]: own } }, null, 2));
    // the scratch server is the app's own database, as a team points both at its dev server
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('app'), SLUICE_CHECK_DATABASE_URL: pgUrl() };
    expect(runCli(dir, ['up'], env).status).toBe(0);
    await sql(dir, env, `INSERT INTO "${own}"."log" VALUES (1)`);
    const check = runCli(dir, ['check'], env);
    expect(check.stdout).toMatch(/ok +postgresql: down 0004_own_schema restores 0003_add_phone_to_users/);
    expect(check.stdout).toMatch(/ok +postgresql: every down proven, rows kept/);
    const verify = runCli(dir, ['verify'], env);
    expect(verify.stdout + verify.stderr).not.toMatch(/does not exist|already exists/);
    // migrate-create proves the new down on SLUICE_CHECK_DATABASE_URL after replaying the history there
    addUserColumn(dir, 'nickname');
    const created = runCli(dir, ['create', '-m', 'nickname'], env);
    expect(created.status, created.stderr).toBe(0);
    expect(await sql(dir, env, `SELECT id FROM "${own}"."log"`)).toEqual([{ id: 1 }]);
    await sql(dir, env, `DROP SCHEMA "${own}" CASCADE`);
  });
});

it('db-test: an up that fails on its scratch database says what failed, not where that scratch database then stood', () => {
  const dir = makeProject();
  const tag = addRevision(dir, 'sqlite', 'broken', 'ALTER TABLE no_such_table ADD COLUMN x integer;', 'SELECT 1;');
  // its snapshot follows the previous one (addRevision copies it, id included: a fork to drizzle-kit)
  const snap = path.join(dir, 'drizzle/sqlite/meta', `${tag.slice(0, 4)}_snapshot.json`);
  const json = JSON.parse(readFileSync(snap, 'utf8'));
  writeFileSync(snap, JSON.stringify({ ...json, id: randomUUID(), prevId: json.id }, null, 2));
  const r = runCli(dir, ['check'], { DATABASE_URL: `file:${path.join(dir, 'dev.sqlite')}`, SLUICE_SKIP_PG: '1' });
  expect(r.status, r.stdout + r.stderr).toBe(3);
  expect(r.stdout).toMatch(new RegExp(`revision ${tag} \\(up\\) failed at statement 1/1 .*no such table: no_such_table`));
  expect(r.stdout + r.stderr).not.toMatch(/the database is at/i);
});
