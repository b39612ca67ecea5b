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
import { addRevision, addUserColumn, freshDatabase, makeProject, pgDescribe, pgUrl, runCli, sql, uniqueSchema, type Env, upgradeTo } from '../support/project.js';

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
    await upgradeTo(dir, env);
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

pgDescribe('a history whose hand-written SQL names another schema (its snapshots do not)', () => {
  // found by a hunt: make db-test on the dev database replayed the down `DROP TABLE IF EXISTS
  // analytics.events` beside the data, dropping the real table, and head again made it empty: its rows
  // gone, exit 0. The schemas a history's SQL writes to now get the replay a database of its own.
  it('db-test and migrate-check replay it in a database of their own: the real table keeps its rows', async () => {
    const dir = makeProject();
    const own = uniqueSchema('analytics');
    addRevision(
      dir,
      'postgresql',
      'analytics',
      `CREATE SCHEMA IF NOT EXISTS "${own}";\n--> statement-breakpoint\nCREATE TABLE IF NOT EXISTS "${own}"."events" ("id" integer);`,
      `DROP TABLE IF EXISTS "${own}"."events";`,
    );
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('app'), SLUICE_CHECK_DATABASE_URL: pgUrl() };
    await upgradeTo(dir, env);
    await sql(dir, env, `INSERT INTO "${own}"."events" VALUES (1), (2)`);
    const check = runCli(dir, ['check'], env);
    expect(check.stdout).toMatch(/ok +postgresql: down 0004_analytics restores 0003_add_phone_to_users/);
    expect(check.stdout).toMatch(/ok +postgresql: every down proven, rows kept/);
    expect(await sql(dir, env, `SELECT id FROM "${own}"."events" ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
    const verify = runCli(dir, ['verify'], env);
    expect(verify.stdout + verify.stderr).not.toMatch(/does not exist|already exists/);
    expect(await sql(dir, env, `SELECT id FROM "${own}"."events" ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
    await sql(dir, env, `DROP SCHEMA "${own}" CASCADE`);
  });
});

pgDescribe('a hand-written down naming the schema public beyond what translation reaches', () => {
  // found by a hunt: db-test beside the data replayed a down's `setval('public.users_id_seq', 1, false)`
  // on the real sequence (the app's next insert then hit a duplicate key), and one's `DROP SCHEMA public
  // CASCADE` on the real schema, exit 0: only the ups were read for such names
  it('db-test replays it in a database of its own: the real sequence and schema are as they were', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'reseed', 'SELECT 1;', `SELECT setval('public.users_id_seq', 1, false);`);
    const env: Env = { DATABASE_URL: await freshDatabase('pubdown') };
    await upgradeTo(dir, env);
    await sql(dir, env, `INSERT INTO public.users (email) VALUES ('a@x'), ('b@x')`);
    const before = await sql(dir, env, 'SELECT last_value, is_called FROM public.users_id_seq');
    const check = runCli(dir, ['check'], env);
    expect(check.stdout).toMatch(/ok +postgresql: down 0004_reseed restores 0003_add_phone_to_users/);
    expect(await sql(dir, env, 'SELECT last_value, is_called FROM public.users_id_seq')).toEqual(before);
    await sql(dir, env, `INSERT INTO public.users (email) VALUES ('c@x')`);
  });

  // found by the same hunt: under DATABASE_SCHEMA=tenant_a a down's `DROP SCHEMA IF EXISTS public CASCADE;
  // CREATE SCHEMA public;` emptied the real public, "reverted", exit 0
  it('DROP SCHEMA public or ALTER SCHEMA public under another DATABASE_SCHEMA is refused before anything runs', async () => {
    const dir = makeProject();
    const tag = addRevision(dir, 'postgresql', 'wipe', 'SELECT 1;', 'DROP SCHEMA IF EXISTS public CASCADE;\n--> statement-breakpoint\nCREATE SCHEMA public;');
    const env: Env = { DATABASE_URL: await freshDatabase('pubdrop'), DATABASE_SCHEMA: 'tenant_a' };
    await upgradeTo(dir, env);
    await sql(dir, env, 'CREATE TABLE public.keep (id int); INSERT INTO public.keep VALUES (1)');
    const down = runCli(dir, ['down', '-1'], env);
    expect(down.status, down.stdout + down.stderr).toBe(6);
    expect(down.stderr).toMatch(new RegExp(`${tag}\\.down\\.sql line 1: "DROP SCHEMA IF EXISTS public CASCADE" acts on the schema public itself, outside DATABASE_SCHEMA=tenant_a .*nothing ran`));
    expect(await sql(dir, env, 'SELECT id FROM public.keep')).toEqual([{ id: 1 }]);
    expect((await sql(dir, env, 'SELECT revision FROM tenant_a.sluice_version ORDER BY revision DESC LIMIT 1'))[0]).toEqual({ revision: tag });
    writeFileSync(path.join(dir, 'drizzle/postgresql', `${tag}.down.sql`), 'ALTER SCHEMA "public" RENAME TO old_public;\n');
    expect(runCli(dir, ['down', '-1'], env).stderr).toMatch(/"ALTER SCHEMA "public" RENAME TO old_public" acts on the schema public itself/);
    expect(await sql(dir, env, 'SELECT id FROM public.keep')).toEqual([{ id: 1 }]);
  });
});

pgDescribe('db-test compares what a down may leave behind', () => {
  // found by a hunt: a down that left a rule (every DELETE a no-op), extended statistics, an aggregate,
  // a function's argument default or a policy's roles as the up made them passed "restores"
  it('rules, statistics, aggregates, argument defaults and policy roles: a down leaving them fails, naming them', () => {
    const dir = makeProject();
    writeFileSync(path.join(dir, 'drizzle.config.ts'), "export default { dialect: 'postgresql', schema: './models/postgres.ts', out: './drizzle/postgresql' };\n");
    const bp = '\n--> statement-breakpoint\n';
    const env: Env = { DATABASE_URL: pgUrl(), SLUICE_CHECK_DATABASE_URL: pgUrl() };
    const p1 = addFollowingRevision(dir, 'p1', ['CREATE OR REPLACE RULE users_no_delete AS ON DELETE TO users DO INSTEAD NOTHING;', 'CREATE STATISTICS IF NOT EXISTS users_stats (dependencies) ON email, name FROM users;', 'CREATE OR REPLACE AGGREGATE my_sum(int) (sfunc = int4pl, stype = int);', 'CREATE OR REPLACE FUNCTION fx(a int DEFAULT 1) RETURNS int LANGUAGE sql AS $$SELECT a$$;', 'CREATE POLICY p ON users USING (true);'].join(bp), ['DROP POLICY p ON users;', 'DROP FUNCTION fx(int);'].join(bp));
    const first = runCli(dir, ['check'], env);
    expect(first.status, first.stdout + first.stderr).toBe(3);
    expect(first.stdout).toMatch(/FAIL postgresql: down 0004_p1 restores 0003_add_phone_to_users\nschema differs after down:\n  \+ aggregate my_sum\(integer\) int4pl integer\n  \+ rule users\.users_no_delete CREATE RULE users_no_delete AS ON DELETE TO .*users DO INSTEAD NOTHING;\n  \+ statistics users_stats /);
    writeFileSync(path.join(dir, 'drizzle/postgresql', `${p1}.down.sql`), ['DROP POLICY p ON users;', 'DROP FUNCTION fx(int);', 'DROP AGGREGATE my_sum(int);', 'DROP STATISTICS users_stats;', 'DROP RULE users_no_delete ON users;'].join(bp));
    addFollowingRevision(dir, 'p2', ['CREATE OR REPLACE FUNCTION fx(a int DEFAULT 2) RETURNS int LANGUAGE sql AS $$SELECT a$$;', 'ALTER POLICY p ON users TO postgres;'].join(bp), 'SELECT 1;');
    const second = runCli(dir, ['check'], env);
    expect(second.status, second.stdout + second.stderr).toBe(3);
    expect(second.stdout).toMatch(/FAIL postgresql: down 0005_p2 restores 0004_p1\nschema differs after down:\n  - function fx\(a integer DEFAULT 1\) .*\n  - policy users\.p .* to public\n  \+ function fx\(a integer DEFAULT 2\) .*\n  \+ policy users\.p .* to postgres/);
  });
});

/** A revision whose snapshot follows the previous one (addRevision copies it, id included: a fork to drizzle-kit). */
function addFollowingRevision(dir: string, name: string, up: string, down: string): string {
  const tag = addRevision(dir, 'postgresql', name, up, down);
  const snap = path.join(dir, 'drizzle/postgresql/meta', `${tag.slice(0, 4)}_snapshot.json`);
  const json = JSON.parse(readFileSync(snap, 'utf8'));
  writeFileSync(snap, JSON.stringify({ ...json, id: randomUUID(), prevId: json.id }, null, 2));
  return tag;
}

/**
 * `body` run with the URL of a new role (LOGIN and `attributes`) that may create schemas in `url`'s
 * database, and a query for the scratch databases it owns (the suite's other files make theirs
 * meanwhile); the role is dropped after.
 */
async function withRole(dir: string, url: string, attributes: string, body: (roleUrl: string, scratchDatabases: () => Promise<unknown[]>) => Promise<void>): Promise<void> {
  const role = uniqueSchema('role');
  const admin: Env = { DATABASE_URL: url };
  await sql(dir, admin, `CREATE ROLE "${role}" LOGIN ${attributes}`);
  try {
    await sql(dir, admin, `GRANT CREATE ON DATABASE "${new URL(url).pathname.slice(1)}" TO "${role}"; GRANT CREATE ON SCHEMA public TO "${role}"`);
    const u = new URL(url);
    u.username = role;
    await body(u.toString(), () => sql(dir, admin, `SELECT datname FROM pg_database WHERE datname LIKE 'sluice_check_%' AND datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)`, [role]));
  } finally {
    await sql(dir, admin, `DROP OWNED BY "${role}"; DROP ROLE "${role}"`).catch(() => {});
  }
}

/** migrate-create of a new column: its down verified on a scratch database, and no scratch database or schema left. */
async function createVerifiedLeavingNothing(dir: string, env: Env, url: string, scratchDatabases: () => Promise<unknown[]>): Promise<void> {
  addUserColumn(dir, 'nickname');
  const created = runCli(dir, ['create', '-m', 'nickname'], env);
  expect(created.status, created.stderr).toBe(0);
  expect(created.stdout).toMatch(/postgresql\/0005_nickname\.down\.sql \(1 statement, verified on a scratch database\)/);
  expect(await scratchDatabases()).toEqual([]);
  expect(await scratchSchemas(dir, url)).toEqual([]);
}

const scratchSchemas = (dir: string, url: string) => sql(dir, { DATABASE_URL: url }, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sluice_check_%'");

pgDescribe('a history that creates an extension', () => {
  // An extension belongs to a whole database: in a scratch schema beside the data, CREATE EXTENSION
  // failed when the database had it already (the app's own tables use it, or db-test's first pass
  // created it before its proof of the downs replayed the history in a second schema).
  it('db-test, migrate-check and migrate-create replay it in databases of their own, where the role may create them', async () => {
    const dir = makeProject();
    addFollowingRevision(dir, 'trigram', 'CREATE EXTENSION pg_trgm;', 'DROP EXTENSION pg_trgm;');
    const url = await freshDatabase('ext');
    await withRole(dir, url, 'CREATEDB', async (roleUrl, scratchDatabases) => {
      const env: Env = { DATABASE_URL: roleUrl, SLUICE_CHECK_DATABASE_URL: roleUrl };
      // the app's database has the extension already, as a dev database that ran the history has
      await upgradeTo(dir, env);
      const check = runCli(dir, ['check'], env);
      expect(check.stdout + check.stderr).not.toMatch(/already exists/);
      expect(check.stdout).toMatch(/ok +postgresql: up 0004_trigram/);
      expect(check.stdout).toMatch(/ok +postgresql: every down proven, rows kept/);
      expect(check.status, check.stdout + check.stderr).toBe(0);
      const verify = runCli(dir, ['verify'], env);
      expect(verify.status, verify.stdout + verify.stderr).toBe(0);
      await createVerifiedLeavingNothing(dir, env, url, scratchDatabases);
      // the app's extension where it was
      expect(await sql(dir, { DATABASE_URL: url }, "SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'pg_trgm'")).toEqual([{ schema: 'public' }]);
    });
  });

  it('a role that may create databases but not the extension in one (not trusted) replays it in scratch schemas, as before', async () => {
    const dir = makeProject();
    // dblink is not a trusted extension: only a superuser creates it; the app's database has it already
    addFollowingRevision(dir, 'trigram', 'CREATE EXTENSION IF NOT EXISTS dblink;', 'SELECT 1;');
    const url = await freshDatabase('ext');
    await sql(dir, { DATABASE_URL: url }, 'CREATE EXTENSION dblink');
    await withRole(dir, url, 'CREATEDB', async (roleUrl, scratchDatabases) => {
      const check = runCli(dir, ['check'], { DATABASE_URL: roleUrl, DATABASE_SCHEMA: uniqueSchema('app'), SLUICE_CHECK_DATABASE_URL: roleUrl });
      expect(check.stdout + check.stderr).not.toMatch(/permission denied/);
      expect(check.stdout).toMatch(/ok +postgresql: up 0004_trigram/);
      expect(check.status, check.stdout + check.stderr).toBe(0);
      // the database made to try it was dropped; the scratch schemas too
      expect(await scratchDatabases()).toEqual([]);
      expect(await scratchSchemas(dir, url)).toEqual([]);
    });
  });

  it('a role that may not create databases replays it in scratch schemas, as before, and leaves none', async () => {
    const dir = makeProject();
    addFollowingRevision(dir, 'trigram', 'CREATE EXTENSION IF NOT EXISTS pg_trgm;', 'DROP EXTENSION IF EXISTS pg_trgm;');
    const url = await freshDatabase('ext');
    await withRole(dir, url, '', async (roleUrl) => {
      const check = runCli(dir, ['check'], { DATABASE_URL: roleUrl, DATABASE_SCHEMA: uniqueSchema('app'), SLUICE_CHECK_DATABASE_URL: roleUrl });
      // the replay runs (a scratch schema): every up and down of the first pass
      expect(check.stdout).toMatch(/ok +postgresql: up 0004_trigram/);
      expect(check.stdout).toMatch(/ok +postgresql: base -> head again matches head/);
      expect(check.stdout + check.stderr).not.toMatch(/cannot create a scratch database|permission denied to create database/);
      // (its proof of the downs, in a second schema beside the first pass's extension, can still fail on it: README)
      expect(await scratchSchemas(dir, url)).toEqual([]);
    });
  });
});

pgDescribe('a history that creates an extension the database has already', () => {
  // A replay in a scratch schema beside the data runs db-test's downs as written: a down's DROP
  // EXTENSION dropped the app's own extension (an extension belongs to the whole database), and with
  // CASCADE the app's view that used it in another schema (found by a hunt: db-test, role without CREATEDB).
  it('db-test with a role that may not create databases refuses, and the app keeps its extension and what uses it', async () => {
    const dir = makeProject();
    addFollowingRevision(dir, 'crypto', 'CREATE EXTENSION IF NOT EXISTS pgcrypto;', 'DROP EXTENSION IF EXISTS pgcrypto CASCADE;');
    const url = await freshDatabase('extown');
    await withRole(dir, url, '', async (roleUrl) => {
      const app = uniqueSchema('app');
      const reporting = uniqueSchema('reporting');
      // db-test on the dev database itself (SLUICE_CHECK_DATABASE_URL names it too, as the suite sets one)
      const env: Env = { DATABASE_URL: roleUrl, DATABASE_SCHEMA: app, SLUICE_CHECK_DATABASE_URL: roleUrl };
      // the dev database ran the history: the extension is the role's own, in the app's schema
      await upgradeTo(dir, env);
      await sql(dir, env, `CREATE SCHEMA "${reporting}"; CREATE VIEW "${reporting}"."hashes" AS SELECT id, "${app}".digest(email, 'sha256') AS h FROM "${app}"."users"`);
      const check = runCli(dir, ['check'], env);
      expect(check.status, check.stdout + check.stderr).toBe(2);
      expect(check.stderr).toMatch(/creates extensions \(pgcrypto\) that the database of .* has already/);
      expect(check.stderr).toMatch(/grant the role CREATEDB, or set SLUICE_CHECK_DATABASE_URL/);
      expect(check.stdout).not.toMatch(/down 0004_crypto/);
      // the app's extension and its view where they were, no scratch schema left
      expect(await sql(dir, { DATABASE_URL: url }, "SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'pgcrypto'")).toEqual([{ schema: app }]);
      expect(await sql(dir, { DATABASE_URL: url }, `SELECT count(*)::int AS n FROM pg_views WHERE schemaname = '${reporting}'`)).toEqual([{ n: 1 }]);
      expect(await scratchSchemas(dir, url)).toEqual([]);
      // migrate-create's proof runs sluice's own downs (an extension's drop confined to its scratch schema): still verified there
      await createVerifiedLeavingNothing(dir, env, url, async () => []);
      await sql(dir, { DATABASE_URL: url }, `DROP SCHEMA "${reporting}" CASCADE; DROP SCHEMA "${app}" CASCADE`);
    });
  });
});

pgDescribe('a history whose function reads public by its own search_path', () => {
  // sluice rewrites public. qualifiers for a scratch schema, not a function's SET search_path: there
  // CREATE FUNCTION checked its body against the real public, where the table the revision had just
  // made (in the scratch schema) does not exist (found on 2witstudios/PageSpace's 0102).
  it('db-test, migrate-check and migrate-create replay it in databases of their own, where the role may create them', async () => {
    const dir = makeProject();
    addFollowingRevision(
      dir,
      'notes',
      'CREATE TABLE "notes" ("id" integer);\n--> statement-breakpoint\nCREATE FUNCTION note_count() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$ SELECT count(*) FROM notes $$;',
      'DROP FUNCTION note_count();\n--> statement-breakpoint\nDROP TABLE "notes";',
    );
    const url = await freshDatabase('pub');
    await withRole(dir, url, 'CREATEDB', async (roleUrl, scratchDatabases) => {
      // the app's database stands before the revision (public has no notes table to find)
      const env: Env = { DATABASE_URL: roleUrl, SLUICE_CHECK_DATABASE_URL: roleUrl };
      await upgradeTo(dir, env, '0003');
      const check = runCli(dir, ['check'], env);
      expect(check.stdout + check.stderr).not.toMatch(/does not exist/);
      expect(check.stdout).toMatch(/ok +postgresql: up 0004_notes/);
      expect(check.stdout).toMatch(/ok +postgresql: every down proven, rows kept/);
      expect(check.status, check.stdout + check.stderr).toBe(0);
      await createVerifiedLeavingNothing(dir, env, url, scratchDatabases);
      // the history runs on the app's database as it is
      await upgradeTo(dir, env);
      expect(await sql(dir, { DATABASE_URL: url }, 'SELECT note_count() AS n')).toEqual([{ n: '0' }]);
    });
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
