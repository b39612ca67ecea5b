/**
 * An empty down "proven" for an up that changes what the proof's schema comparison does not read
 * (found by a hunt: `downs` wrote it marked verified, and migrate-down then "reverted" with 0
 * statements while the database kept the up's change). Real CLI; the proof on SQLite and on the
 * suite's PostgreSQL 15.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { addRevision, itFor, makeProject, pgUrl, runCli, sql, uniqueSchema, type Env } from '../support/project.js';

describe('an up whose change the proof cannot see gets no empty verified down', () => {
  // PostgreSQL: foreign keys no longer enforced; the comparison does not read a trigger's enabled state
  itFor('postgresql')('postgresql: flagged for a hand, and migrate-down refuses it instead of reverting nothing', () => {
    const dir = makeProject();
    addRevision(dir, 'postgresql', 'first', 'CREATE TABLE "notes" ("id" integer, "user_id" integer REFERENCES "users"("id"));', 'DROP TABLE "notes";');
    const tag = addRevision(dir, 'postgresql', 'unseen', 'ALTER TABLE "notes" DISABLE TRIGGER ALL;', null);
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('emptydown') };
    const downs = runCli(dir, ['downs'], env);
    expect(downs.status, downs.stdout + downs.stderr).toBe(0);
    expect(downs.stdout).toMatch(new RegExp(`flagged +drizzle/postgresql/${tag}\\.down\\.sql \\(0 statements: the down is empty, and the up changes what the proof's schema comparison does not read`));
    expect(readFileSync(path.join(dir, 'drizzle', 'postgresql', `${tag}.down.sql`), 'utf8')).toMatch(/^-- sluice:manual-down-required the down is empty/m);
    expect(runCli(dir, ['up'], env).status).toBe(0);
    const down = runCli(dir, ['down'], env);
    expect(down.status).toBe(6);
    expect(down.stderr).toMatch(new RegExp(`revision ${tag} needs a hand-written down`));
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
    expect(runCli(dir, ['up'], env).status).toBe(0);
    expect(runCli(dir, ['down'], env).status).toBe(0);
    expect(await sql(dir, env, "SELECT sql FROM sqlite_master WHERE name = 'users_name_idx'")).toEqual([{ sql: "CREATE INDEX `users_name_idx` ON `users` (`name`) WHERE \"users\".\"role\" = 'member'" }]);
  });
});
