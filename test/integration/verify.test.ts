/** make migrate-check (sluice verify): heads, models vs history, drift — each with its exit code. */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addRevision, addUserColumn, describeFor, freshDatabase, makeProject, pgUrl, REPO, runCli, runMake, sql, tempDir, uniqueSchema, type Env, upgradeTo, downgradeTo } from '../support/project.js';

/** The drift finding is ok (the finding itself in the message: one migrate-check run, not a second one for the message). */
function expectNoDrift(found: { ok: boolean }): void {
  expect(found.ok, JSON.stringify(found)).toBe(true);
}

describe('make migrate-check: history and models', () => {
  // found by a hunt: the models check ignored drizzle.config's casing, so every snake_case project failed
  // migrate-check and db-test, told it would DROP COLUMN "user_id" and ADD "userId"
  it("reads the models with drizzle.config's casing, as drizzle-kit generate does", () => {
    const dir = tempDir('sluice-casing-');
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    writeFileSync(path.join(dir, 'drizzle.config.ts'), "export default { dialect: 'sqlite', casing: 'snake_case', schema: './m.ts', out: './drizzle' };\n");
    writeFileSync(path.join(dir, 'm.ts'), "import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';\nexport const a = sqliteTable('a', { id: integer().primaryKey(), userId: integer() });\n");
    const created = runCli(dir, ['create', '-m', 'init'], { SLUICE_VERIFY: 'off' });
    expect(created.status, created.stdout + created.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'drizzle', '0000_init.sql'), 'utf8')).toContain('`user_id` integer');
    const r = runCli(dir, ['verify', '--no-database']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ok {3}models \(sqlite\)/);
  });

  // found by a hunt: a models folder's files were merged by export name (two tables exported as `users`
  // from two files: one left out, the check passed) and read with its subfolders (which drizzle-kit skips)
  it('a models folder: each file read apart, as drizzle-kit reads them, and not its subfolders', () => {
    const dir = tempDir('sluice-models-');
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    writeFileSync(path.join(dir, 'drizzle.config.ts'), "export default { dialect: 'sqlite', schema: './models', out: './drizzle' };\n");
    mkdirSync(path.join(dir, 'models', 'sub'), { recursive: true });
    const table = (name: string) => `import { index, integer, sqliteTable } from 'drizzle-orm/sqlite-core';\nexport const users = sqliteTable('${name}', { id: integer('id').primaryKey(), n: integer('n') }, (t) => [index('${name}_n_idx').on(t.n)]);\n`;
    writeFileSync(path.join(dir, 'models', 'main.ts'), table('users'));
    // an index file re-exporting it: the same table (a review: loaded apart, drizzle-kit saw it twice and exited 1)
    writeFileSync(path.join(dir, 'models', 'index.ts'), "export * from './main';\n");
    writeFileSync(path.join(dir, 'models', 'sub', 'extra.ts'), table('extra'));
    const created = runCli(dir, ['create', '-m', 'init'], { SLUICE_VERIFY: 'off' });
    expect(created.status, created.stdout + created.stderr).toBe(0);
    expect(runCli(dir, ['verify', '--no-database']).status).toBe(0);
    writeFileSync(path.join(dir, 'models', 'a_tags.ts'), table('tags'));
    const r = runCli(dir, ['verify', '--no-database']);
    expect(r.status, r.stdout + r.stderr).toBe(8);
    expect(r.stdout).toMatch(/would generate: CREATE TABLE `tags`/);
    expect(r.stdout).not.toMatch(/DROP TABLE/);
    // a change drizzle-kit leaves out with its own warning is no "ok models" (a review), and --json stays JSON
    rmSync(path.join(dir, 'models', 'a_tags.ts'));
    writeFileSync(path.join(dir, 'models', 'main.ts'), `import { sql } from 'drizzle-orm';\nimport { index, integer, sqliteTable } from 'drizzle-orm/sqlite-core';\nexport const users = sqliteTable('users', { id: integer('id').primaryKey(), n: integer('n'), twice: integer('twice').generatedAlwaysAs(sql\`n * 2\`, { mode: 'stored' }) }, (t) => [index('users_n_idx').on(t.n)]);\n`);
    const left = runCli(dir, ['--json', 'verify', '--no-database']);
    expect(left.status, left.stdout + left.stderr).toBe(8);
    const json = JSON.parse(left.stdout);
    expect(json.findings.find((f: { check: string }) => f.check === 'models').details).toEqual([expect.stringMatching(/^drizzle-kit leaves a change of the models out: As SQLite docs mention: "It is not possible to ALTER TABLE ADD COLUMN a STORED column/)]);
  });

  // found by a hunt: an applied up edited afterwards was reported as the live database's drift, unsaid
  it('drift after an applied up was edited says so: the replay ran the file as it is now', async () => {
    const dir = makeProject();
    const env = { DATABASE_URL: 'file:./e.db' };
    await upgradeTo(dir, env);
    const up = path.join(dir, 'drizzle', 'sqlite', '0003_add_phone_to_users.sql');
    writeFileSync(up, readFileSync(up, 'utf8').replace('`phone` text', '`phone` integer'));
    const r = runCli(dir, ['verify'], env);
    expect(r.status, r.stdout + r.stderr).toBe(9);
    expect(r.stdout).toMatch(/FAIL drift \(sqlite\): 2 difference\(s\)\n  note: the up of 0003_add_phone_to_users changed since it was applied, and the replay ran it as it is now/);
  });

  it('passes on the example; a model change is exit 8 naming what drizzle-kit would generate', () => {
    const dir = makeProject();
    const ok = runMake(dir, ['migrate-check']);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ok {3}models \(sqlite\)/);
    expect(ok.stdout).toMatch(/ok {3}models \(postgresql\)/);
    addUserColumn(dir, 'nickname');
    const r = runCli(dir, ['verify']);
    expect(r.status, r.stdout + r.stderr).toBe(8);
    expect(r.stdout).toMatch(/FAIL models \(sqlite\): 1 difference/);
    expect(r.stdout).toMatch(/would generate: ALTER TABLE `users` ADD `nickname` text/);
    expect(r.stdout).toMatch(/would generate: ALTER TABLE "users" ADD COLUMN "nickname" text/);
    const dbTest = runMake(dir, ['db-test'], { SLUICE_SKIP_PG: '1' }); // its SQLite lines are the ones read here
    expect(dbTest.status).not.toBe(0);
    expect(dbTest.stdout).toMatch(/FAIL sqlite: models match the history\n.*would generate: ALTER TABLE `users` ADD `nickname` text/);
    expect(dbTest.stdout).toMatch(/ok {3}sqlite: single head/);
    const json = JSON.parse(runCli(dir, ['--json', 'verify']).stdout);
    expect(json).toMatchObject({ ok: false, exitCode: 8 });
    expect(json.findings.filter((f: { ok: boolean }) => !f.ok).map((f: { check: string; dialect: string }) => `${f.check}:${f.dialect}`)).toEqual(['models:sqlite', 'models:postgresql']);
  });

  it('a forked history (two revisions with one idx after a merge) is exit 10 here and in every command', () => {
    const dir = makeProject();
    const folder = path.join(dir, 'drizzle', 'sqlite');
    const journal = path.join(folder, 'meta', '_journal.json');
    const j = JSON.parse(readFileSync(journal, 'utf8'));
    const last = j.entries[3];
    j.entries.push({ ...last, tag: '0003_other_branch', when: last.when + 1 });
    writeFileSync(journal, JSON.stringify(j, null, 2));
    cpSync(path.join(folder, `${last.tag}.sql`), path.join(folder, '0003_other_branch.sql'));
    expect(runMake(dir, ['migrate-heads']).stdout).toMatch(/postgresql \(drizzle\/postgresql\): 0003_add_phone_to_users\n/);
    const r = runCli(dir, ['verify']);
    expect(r.status, r.stdout + r.stderr).toBe(10);
    const heads = runCli(dir, ['heads']);
    expect(heads.status).toBe(0);
    expect(heads.stdout).toMatch(/sqlite \(drizzle\/sqlite\): 0003_add_phone_to_users, 0003_other_branch {2}<- 2 heads: the history forked/);
    expect(r.stdout).toMatch(/FAIL heads \(sqlite\)[^\n]*\n  .*two heads, 0003_add_phone_to_users and 0003_other_branch/);
    const up = runCli(dir, ['up'], { DATABASE_URL: `file:${path.join(dir, 'f.sqlite')}` });
    expect(up.status).toBe(10);
    expect(up.stderr.trim().split('\n')).toHaveLength(1);
    expect(up.stderr).toMatch(/two heads, 0003_add_phone_to_users and 0003_other_branch .*renumber one of them/);
  });
});

// found by a second hunt: SQLite's dump read "partial" of an index, "expr" of an expression, and
// neither CHECK constraints nor collations, so these hand changes were "ok drift"
describeFor('sqlite')('make migrate-check: SQLite drift reads CHECK, collations, index predicates and expressions', () => {
  it('each hand change is drift; the same written otherwise is not', async () => {
    const dir = makeProject();
    addRevision(dir, 'sqlite', 'shapes', [
      "CREATE TABLE `ledger` (`id` integer PRIMARY KEY, `who` text COLLATE BINARY, `balance` integer, CONSTRAINT `balance_nonneg` CHECK(\"ledger\".\"balance\" >= 0));",
      "CREATE INDEX `ledger_who_idx` ON `ledger` (lower(`who`)) WHERE \"ledger\".\"balance\" > 0;",
    ].join('\n--> statement-breakpoint\n'), 'DROP TABLE `ledger`;');
    // the snapshot chained as drizzle-kit writes it (addRevision copies the one before: a fork to migrate-check)
    const snap = (n: number) => path.join(dir, 'drizzle', 'sqlite', 'meta', `000${n}_snapshot.json`);
    const before = JSON.parse(readFileSync(snap(3), 'utf8'));
    writeFileSync(snap(4), JSON.stringify({ ...before, id: randomUUID(), prevId: before.id }, null, 2));
    const env: Env = { DATABASE_URL: `file:${path.join(dir, 'live.sqlite')}` };
    await upgradeTo(dir, env);
    // the drift finding alone (the models do not have the table: that check fails, as it should)
    const drift = () => {
      const r = runCli(dir, ['--json', 'verify'], env);
      return (JSON.parse(r.stdout).findings as { check: string; dialect: string; ok: boolean; details: string[] }[]).find((f) => f.check === 'drift' && f.dialect === 'sqlite')!;
    };
    expectNoDrift(drift());
    // an index's predicate and expression; then a table's CHECK dropped and a collation given
    const changes: [string, string][] = [
      ["DROP INDEX ledger_who_idx; CREATE INDEX ledger_who_idx ON ledger (upper(who)) WHERE balance < 0", 'index predicate and expression'],
      ["DROP INDEX ledger_who_idx; ALTER TABLE ledger RENAME TO old; CREATE TABLE ledger (id integer PRIMARY KEY, who text COLLATE NOCASE, balance integer); DROP TABLE old; CREATE INDEX ledger_who_idx ON ledger (lower(who)) WHERE balance > 0", 'CHECK dropped, collation'],
      // found by a hunt: not in the dump (a UNIQUE constraint's automatic index, STRICT), or left out by its name
      ['DROP INDEX ledger_who_idx; ALTER TABLE ledger RENAME TO old; CREATE TABLE ledger (id integer PRIMARY KEY, who text COLLATE BINARY UNIQUE, balance integer, CONSTRAINT balance_nonneg CHECK("ledger"."balance" >= 0)); DROP TABLE old; CREATE INDEX ledger_who_idx ON ledger (lower(who)) WHERE balance > 0', 'UNIQUE'],
      ['DROP INDEX ledger_who_idx; ALTER TABLE ledger RENAME TO old; CREATE TABLE ledger (id integer PRIMARY KEY, who text COLLATE BINARY, balance integer, CONSTRAINT balance_nonneg CHECK("ledger"."balance" >= 0)) STRICT; DROP TABLE old; CREATE INDEX ledger_who_idx ON ledger (lower(who)) WHERE balance > 0', 'STRICT'],
      ['CREATE TABLE sqlitecache (id integer)', 'a table named sqlite…'],
    ];
    const file = path.join(dir, 'live.sqlite');
    const original = readFileSync(file);
    for (const [change, what] of changes) {
      writeFileSync(file, original);
      const r0 = spawnSync('sqlite3', [file, change], { encoding: 'utf8' });
      expect(r0.status, r0.stderr).toBe(0);
      const found = drift();
      expect(found.ok, what).toBe(false);
      if (what.startsWith('CHECK')) {
        expect(found.details.join('\n')).toMatch(/^- .*check ledger \(balance>=0\)$/m);
        expect(found.details.join('\n')).toMatch(/^\+ .*collate ledger\.who nocase$/m);
      }
    }
    // written the way the history wrote it, but spaced, quoted and cased otherwise: no drift
    writeFileSync(file, original);
    spawnSync('sqlite3', [file, 'DROP INDEX ledger_who_idx; create index "ledger_who_idx" on "ledger" ( LOWER( who ) ) where ledger.balance>0'], { encoding: 'utf8' });
    expectNoDrift(drift());
  });
});

// found by a second hunt: the dump's lines compare as a set, so these were "ok drift"
describeFor('postgresql')('make migrate-check: PostgreSQL drift reads what the dump compared as a set', () => {
  it("an enum's values reordered, a function body's lines reordered, foreign keys' triggers turned off", async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'guard', 'CREATE FUNCTION "guard"(v integer) RETURNS integer LANGUAGE plpgsql AS $$\nBEGIN\n  IF v < 0 THEN RAISE EXCEPTION \'negative\'; END IF;\n  RETURN v;\nEND\n$$;', 'DROP FUNCTION "guard"(integer);');
    const snap = (n: number) => path.join(dir, 'drizzle', 'postgresql', 'meta', `000${n}_snapshot.json`);
    const before = JSON.parse(readFileSync(snap(3), 'utf8'));
    writeFileSync(snap(4), JSON.stringify({ ...before, id: randomUUID(), prevId: before.id }, null, 2));
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('driftset') };
    await upgradeTo(dir, env);
    const drift = () => (JSON.parse(runCli(dir, ['--json', 'verify'], env).stdout).findings as { check: string; ok: boolean; details: string[] }[]).find((f) => f.check === 'drift')!;
    expectNoDrift(drift());
    // the enum alone (its type made again shows in the dump too); then two that only the catalogs show
    const enumOrder = (order: string) =>
      `ALTER TYPE role RENAME TO role_old; CREATE TYPE role AS ENUM (${order}); ALTER TABLE users ALTER COLUMN role DROP DEFAULT; ALTER TABLE users ALTER COLUMN role TYPE role USING role::text::role; ALTER TABLE users ALTER COLUMN role SET DEFAULT 'member'; DROP TYPE role_old`;
    const guard = (body: string) => `CREATE OR REPLACE FUNCTION guard(v integer) RETURNS integer LANGUAGE plpgsql AS $$\nBEGIN\n${body}\nEND\n$$`;
    const check = "  IF v < 0 THEN RAISE EXCEPTION 'negative'; END IF;";
    await sql(dir, env, enumOrder("'admin', 'member'"));
    expect(drift().ok).toBe(false);
    await sql(dir, env, enumOrder("'member', 'admin'"));
    await sql(dir, env, `${guard(`  RETURN v;\n${check}`)}; ALTER TABLE sessions DISABLE TRIGGER ALL`);
    const found = drift();
    expect(found.ok).toBe(false);
    expect(found.details.join('\n')).toMatch(/function guard\(v integer\)/);
    expect(found.details.join('\n')).toMatch(/internal triggers sessions D/);
    await sql(dir, env, `${guard(`${check}\n  RETURN v;`)}; ALTER TABLE sessions ENABLE TRIGGER ALL`);
    expectNoDrift(drift());
    // at base (a schema holding only sluice_version): no drift (a hunt: pg_dump's session settings were)
    await downgradeTo(dir, env, 'base');
    expectNoDrift(drift());
  });
});

// found by review: the catalog lines compared live `public` with a scratch schema beside it, where an
// extension the database has already is not made again and a function's `SET search_path = public` names
// the schema the scratch stands for
describeFor('postgresql')('make migrate-check: PostgreSQL drift in public, with an extension and a function pinned to public', () => {
  it('is ok when nothing changed', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'pinned', ['CREATE EXTENSION IF NOT EXISTS "citext";', 'CREATE FUNCTION "pinned"() RETURNS integer LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$ SELECT 1 $$;'].join('\n--> statement-breakpoint\n'), 'DROP FUNCTION "pinned"();');
    const snap = (n: number) => path.join(dir, 'drizzle', 'postgresql', 'meta', `000${n}_snapshot.json`);
    const before = JSON.parse(readFileSync(snap(3), 'utf8'));
    writeFileSync(snap(4), JSON.stringify({ ...before, id: randomUUID(), prevId: before.id }, null, 2));
    const url = await freshDatabase('driftpub');
    // a role without CREATEDB: the replay goes to a scratch schema beside public, where the database's
    // extension is already (made by the administrator)
    const role = uniqueSchema('role');
    const admin: Env = { DATABASE_URL: url };
    await sql(dir, admin, `CREATE EXTENSION citext; CREATE ROLE "${role}" LOGIN NOCREATEDB; GRANT CREATE ON DATABASE "${new URL(url).pathname.slice(1)}" TO "${role}"; GRANT CREATE ON SCHEMA public TO "${role}"`);
    try {
      const u = new URL(url);
      u.username = role;
      const env: Env = { DATABASE_URL: u.toString(), DATABASE_SCHEMA: 'public', SLUICE_CHECK_DATABASE_URL: u.toString() };
      const up = runCli(dir, ['up'], env);
      expect(up.status, up.stderr).toBe(0);
      const r = runCli(dir, ['--json', 'verify'], env);
      expect(JSON.parse(r.stdout).findings, r.stdout + r.stderr).toBeDefined();
      const drift = (JSON.parse(r.stdout).findings as { check: string; ok: boolean; details: string[] }[]).find((f) => f.check === 'drift')!;
      expect(drift.ok, JSON.stringify(drift)).toBe(true);
    } finally {
      await sql(dir, admin, `DROP OWNED BY "${role}"; DROP ROLE "${role}"`).catch(() => {});
    }
  });
});

for (const d of ['sqlite', 'postgresql'] as const) {
  describeFor(d)(`make migrate-check: drift (${d})`, () => {
    it('the live schema equals what its applied revisions build; a hand change is exit 9 naming it', async () => {
      const dir = makeProject();
      const env: Env = d === 'sqlite' ? { DATABASE_URL: `file:${path.join(dir, 'live.sqlite')}` } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('drift') };
      await upgradeTo(dir, env, '2');
      const clean = runCli(dir, ['verify'], env);
      expect(clean.status, clean.stdout + clean.stderr).toBe(0);
      expect(clean.stdout).toMatch(new RegExp(`ok {3}drift \\(${d}\\)`));
      await sql(dir, env, 'ALTER TABLE users ADD COLUMN hand_added integer');
      const r = runCli(dir, ['verify'], env);
      expect(r.status, r.stdout + r.stderr).toBe(9);
      expect(r.stdout).toMatch(new RegExp(`FAIL drift \\(${d}\\)`));
      expect(r.stdout).toMatch(/\+ .*hand_added/);
      const skipped = runCli(dir, ['verify', '--no-database'], env);
      expect(skipped.status).toBe(0);
      // the reason is the flag (found by a README walk: "DATABASE_URL is not set and … does not exist", with both there)
      expect(skipped.stdout).toMatch(new RegExp(`skip drift \\(${d}\\): as asked \\(--no-database\\)`));
      // a column dropped by hand that another table also has, with the same definition (was: "ok drift")
      await sql(dir, env, 'ALTER TABLE users DROP COLUMN hand_added');
      expect(runCli(dir, ['verify'], env).status).toBe(0);
      await sql(dir, env, 'ALTER TABLE submissions DROP COLUMN created_at');
      await sql(dir, env, 'ALTER TABLE sessions DROP COLUMN created_at');
      const dropped = runCli(dir, ['verify'], env);
      expect(dropped.status, dropped.stdout + dropped.stderr).toBe(9);
      expect(dropped.stdout).toMatch(/- .*submissions.* › .*created_at/);
      expect(dropped.stdout).toMatch(/- .*sessions.* › .*created_at/);
    });
  });
}

describe('make migrate-check on a database drizzle migrate() manages (before the takeover)', () => {
  it('reads it as the takeover would record it: no drift', async () => {
    const dir = makeProject();
    const file = path.join(dir, 'drizzle-managed.sqlite');
    const Database = (await import('better-sqlite3')).default;
    const { drizzle } = await import('drizzle-orm/better-sqlite3');
    const { migrate } = await import('drizzle-orm/better-sqlite3/migrator');
    const db = new Database(file);
    migrate(drizzle(db), { migrationsFolder: path.join(dir, 'drizzle', 'sqlite') });
    db.close();
    const r = runCli(dir, ['verify'], { DATABASE_URL: `file:${file}` });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ok {3}drift \(sqlite\)/);
  });
});
