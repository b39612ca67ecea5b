/**
 * An empty down "proven" for an up that changes what the proof's schema comparison does not read
 * (found by a hunt: `downs` wrote it marked verified, and migrate-down then "reverted" with 0
 * statements while the database kept the up's change). Real CLI; the proof on SQLite and on the
 * suite's PostgreSQL 15.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { addRevision, freshDatabase, itFor, makeProject, pgUrl, runCli, sql, uniqueSchema, type Env, upgradeTo, downgradeTo } from '../support/project.js';

describe('an up whose change the proof cannot see gets no empty verified down', () => {
  // PostgreSQL: a grant (privileges are not compared), and foreign keys no longer enforced (a trigger's
  // enabled state: compared now)
  itFor('postgresql')('postgresql: flagged for a hand, and migrate-down refuses it instead of reverting nothing', async () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'first', 'CREATE TABLE "notes" ("id" integer, "user_id" integer REFERENCES "users"("id"));', 'DROP TABLE "notes";');
    const grant = addRevision(dir, 'postgresql', 'unseen', 'GRANT SELECT ON "notes" TO PUBLIC;', null);
    const off = addRevision(dir, 'postgresql', 'keys_off', 'ALTER TABLE "notes" DISABLE TRIGGER ALL;', null);
    // what the comparison reads fully, changed and changed back: the empty down is right (latitude's 0092)
    const net = addRevision(dir, 'postgresql', 'net_zero', 'ALTER TABLE "notes" ADD COLUMN "tmp" integer;\n--> statement-breakpoint\nALTER TABLE "notes" DROP COLUMN "tmp";\n--> statement-breakpoint\nALTER TABLE "notes" REPLICA IDENTITY DEFAULT;', null);
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('emptydown') };
    const downs = runCli(dir, ['downs'], env);
    expect(downs.status, downs.stdout + downs.stderr).toBe(0);
    expect(downs.stdout).toMatch(new RegExp(`flagged +drizzle/postgresql/${grant}\\.down\\.sql \\(0 statements: the down is empty, and the up changes what the proof's schema comparison does not read \\(first: GRANT SELECT`));
    expect(downs.stdout).toMatch(new RegExp(`flagged +drizzle/postgresql/${off}\\.down\\.sql \\(0 statements: verification failed: .*first: \\+ internal triggers notes D\\)`));
    expect(readFileSync(path.join(dir, 'drizzle', 'postgresql', `${grant}.down.sql`), 'utf8')).toMatch(/^-- sluice:manual-down-required the down is empty/m);
    expect(downs.stdout).toMatch(new RegExp(`verified +drizzle/postgresql/${net}\\.down\\.sql \\(0 statements\\)`));
    await upgradeTo(dir, env);
    const down = runCli(dir, ['down'], env);
    expect(down.status, down.stdout).toBe(0); // net_zero: its empty down
    const again = runCli(dir, ['down'], env);
    expect(again.status).toBe(6);
    expect(again.stderr).toMatch(new RegExp(`revision ${off} needs a hand-written down`));
    // written by hand: keys_off's down; the grant's says there is nothing to undo
    const fix = (tag: string, body: string) => {
      const file = path.join(dir, 'drizzle', 'postgresql', `${tag}.down.sql`);
      writeFileSync(file, readFileSync(file, 'utf8').replace(/^-- sluice:manual-down-required .*$/m, body));
    };
    fix(off, 'ALTER TABLE "notes" ENABLE TRIGGER ALL;');
    fix(grant, '-- sluice:verified by hand: nothing to undo');
    const both = runCli(dir, ['down', '-2'], env);
    expect(both.status, both.stdout + both.stderr).toBe(0);
    expect(both.stdout).toMatch(new RegExp(`${grant} reverted \\(0 statements`));
  });

  // found by the same hunt: none of these was compared, so a down that undid none of them passed db-test
  itFor('postgresql')('postgresql: the comparison reads domain constraints, composite types, function attributes, trigger state, forced RLS, unlogged tables, view options', () => {
    const dir = makeProject();
    const BPS = '\n--> statement-breakpoint\n';
    addRevision(dir, 'postgresql', 'objects', [
      'CREATE DOMAIN "pos_int" AS integer CONSTRAINT "pos_int_check" CHECK (VALUE > 0);',
      'CREATE TABLE "logs" ("n" integer);',
      'CREATE FUNCTION "touch"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;',
      'CREATE TRIGGER "logs_touch" BEFORE INSERT ON "logs" FOR EACH ROW EXECUTE FUNCTION "touch"();',
      'CREATE VIEW "positive" AS SELECT "n" FROM "logs" WHERE "n" > 0 WITH CHECK OPTION;',
    ].join(BPS), ['DROP VIEW "positive";', 'DROP TABLE "logs";', 'DROP FUNCTION "touch"();', 'DROP DOMAIN "pos_int";'].join(BPS));
    const tweak = addRevision(dir, 'postgresql', 'tweak', [
      'ALTER DOMAIN "pos_int" DROP CONSTRAINT "pos_int_check";',
      'CREATE TYPE "pair" AS ("a" integer, "b" text);',
      'ALTER FUNCTION "touch"() SECURITY DEFINER;',
      'ALTER TABLE "logs" DISABLE TRIGGER "logs_touch";',
      'ALTER TABLE "logs" FORCE ROW LEVEL SECURITY;',
      'ALTER TABLE "logs" SET UNLOGGED;',
      'ALTER VIEW "positive" RESET (check_option);',
    ].join(BPS), null);
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('shapes') };
    const downs = runCli(dir, ['downs'], env);
    expect(downs.status, downs.stdout + downs.stderr).toBe(0);
    const text = readFileSync(path.join(dir, 'drizzle', 'postgresql', `${tweak}.down.sql`), 'utf8');
    expect(text).toMatch(/^-- sluice:manual-down-required /m);
    const differences = text.split('\n').filter((l) => l.startsWith('-- difference: ')).join('\n');
    for (const seen of [/- domain constraint pos_int\.pos_int_check CHECK/, /\+ type pair \(a integer, b text\)/, /\+ function touch\(\) .* security definer/, /\+ trigger logs\.logs_touch .* disabled/, /\+ row level security logs forced/, /\+ unlogged logs/, /- view positive .* with check_option=cascaded/]) {
      expect(differences).toMatch(seen);
    }
  });

  // found by a tester: the comparisons read the run's schema only, so an up changing a table of another
  // schema (drizzle's pgSchema) got an empty down "verified", drift and db-test saw nothing
  itFor('postgresql')('postgresql: the other schemas the history names are compared too (downs, drift, db-test)', async () => {
    const dir = makeProject();
    // PostgreSQL's history only (db-test and migrate-check would go through SQLite's too)
    const config = path.join(dir, 'drizzle.config.ts');
    writeFileSync(config, readFileSync(config, 'utf8').replace("  sqlite: { schema: './models/sqlite.ts', out: './drizzle/sqlite' },\n", ''));
    const BPS = '\n--> statement-breakpoint\n';
    const billing = addRevision(dir, 'postgresql', 'billing', [
      'CREATE SCHEMA "billing";',
      `CREATE TYPE "billing"."state" AS ENUM ('open', 'paid');`,
      'CREATE TABLE "billing"."invoices" ("id" serial PRIMARY KEY, "amount" integer, "state" "billing"."state");',
    ].join(BPS), ['DROP TABLE "billing"."invoices";', 'DROP TYPE "billing"."state";', 'DROP SCHEMA "billing";'].join(BPS));
    // its snapshot names the schema, as drizzle-kit's does for a pgSchema; each snapshot follows the one
    // before (addRevision copies its id: a fork to migrate-check)
    const follow = (tag: string, extra = {}) => {
      const snap = path.join(dir, 'drizzle/postgresql/meta', `${tag.slice(0, 4)}_snapshot.json`);
      const json = JSON.parse(readFileSync(snap, 'utf8'));
      writeFileSync(snap, JSON.stringify({ ...json, id: randomUUID(), prevId: json.id, ...extra }, null, 2));
    };
    follow(billing, { schemas: { billing: 'billing' } });
    const note = addRevision(dir, 'postgresql', 'add_note', 'ALTER TABLE "billing"."invoices" ADD COLUMN IF NOT EXISTS "note" text;', null);
    follow(note);
    const env: Env = { DATABASE_URL: await freshDatabase('pgschema') };
    const downs = runCli(dir, ['downs'], env);
    expect(downs.status, downs.stdout + downs.stderr).toBe(0);
    expect(downs.stdout).toMatch(new RegExp(`verified +drizzle/postgresql/${note}\\.down\\.sql \\(1 statement`));
    const noteDown = path.join(dir, 'drizzle', 'postgresql', `${note}.down.sql`);
    expect(readFileSync(noteDown, 'utf8')).toMatch(/^ALTER TABLE "billing"\."invoices" DROP COLUMN "note";$/m);
    await upgradeTo(dir, env);
    const down = runCli(dir, ['down'], env);
    expect(down.stdout, down.stderr).toMatch(new RegExp(`${note} reverted \\(1 statement`));
    const columns = "SELECT attname FROM pg_attribute WHERE attrelid = 'billing.invoices'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum";
    expect(await sql(dir, env, columns)).toEqual([{ attname: 'id' }, { attname: 'amount' }, { attname: 'state' }]);
    // drift: a column dropped and an enum value renamed by hand in billing
    await sql(dir, env, `ALTER TABLE "billing"."invoices" DROP COLUMN "amount"; ALTER TYPE "billing"."state" RENAME VALUE 'paid' TO 'settled'`);
    const findings = JSON.parse(runCli(dir, ['--json', 'verify'], env).stdout).findings as { check: string; ok: boolean; details: string[] }[];
    const drift = findings.find((f) => f.check === 'drift')!;
    expect(drift.ok, JSON.stringify(drift)).toBe(false);
    expect(drift.details).toEqual(expect.arrayContaining(['- [billing] column invoices.amount integer', "- [billing] enum state ('open', 'paid')", "+ [billing] enum state ('open', 'settled')"]));
    // db-test (a database of its own): a down that leaves the column behind
    writeFileSync(noteDown, 'SELECT 1;\n');
    const check = runCli(dir, ['check'], env);
    expect(check.stdout).toMatch(new RegExp(`FAIL postgresql: down ${note} restores ${billing}\\nschema differs after down:\\n  \\+ \\[billing\\] column invoices\\.note text`));
    // a down that gives the structure back and loses billing's rows (the synthetic rows filled the run's
    // schema only: "verified", and db-test said "rows kept")
    writeFileSync(noteDown, ['ALTER TABLE "billing"."invoices" DROP COLUMN "note";', 'DELETE FROM "billing"."invoices";'].join(BPS) + '\n');
    const lossy = runCli(dir, ['check'], env);
    expect(lossy.status).not.toBe(0);
    expect(lossy.stdout).toMatch(/rows lost in \[billing\] invoices: 1 before the down, 0 after/);
  });

  // SQLite: a partial index made again with another predicate (the comparison read "partial", not the
  // predicate): the comparison now reads it, and the down is read from the real states, verified
  itFor('sqlite')('sqlite: an index predicate changed by hand gets a down that puts it back, verified', async () => {
    const dir = makeProject();
    addRevision(dir, 'sqlite', 'first', "CREATE INDEX `users_name_idx` ON `users` (`name`) WHERE \"users\".\"role\" = 'member';", 'DROP INDEX `users_name_idx`;');
    const tag = addRevision(dir, 'sqlite', 'unseen', "DROP INDEX `users_name_idx`;\n--> statement-breakpoint\nCREATE INDEX `users_name_idx` ON `users` (`name`) WHERE \"users\".\"role\" = 'admin';", null);
    const env: Env = { DATABASE_URL: `file:${path.join(dir, 'e.sqlite')}` };
    const downs = runCli(dir, ['downs'], env);
    expect(downs.status, downs.stdout + downs.stderr).toBe(0);
    expect(downs.stdout).toMatch(new RegExp(`verified +drizzle/sqlite/${tag}\\.down\\.sql`));
    await upgradeTo(dir, env);
    await downgradeTo(dir, env);
    expect(await sql(dir, env, "SELECT sql FROM sqlite_master WHERE name = 'users_name_idx'")).toEqual([{ sql: "CREATE INDEX `users_name_idx` ON `users` (`name`) WHERE \"users\".\"role\" = 'member'" }]);
  });
});
