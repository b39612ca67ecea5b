/**
 * An empty down "proven" for an up that changes what the proof's schema comparison does not read
 * (found by a hunt: `downs` wrote it marked verified, and migrate-down then "reverted" with 0
 * statements while the database kept the up's change). Real CLI; the proof on SQLite and on the
 * suite's PostgreSQL 15.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { addRevision, itFor, makeProject, pgUrl, runCli, uniqueSchema, type Env } from '../support/project.js';

describe('an up whose change the proof cannot see gets no empty verified down', () => {
  const cases = {
    // a partial index made again with another predicate: the comparison reads "partial", not the predicate
    sqlite: ['CREATE INDEX `users_name_idx` ON `users` (`name`) WHERE "users"."role" = \'member\';', 'DROP INDEX `users_name_idx`;\n--> statement-breakpoint\nCREATE INDEX `users_name_idx` ON `users` (`name`) WHERE "users"."role" = \'admin\';'],
    // foreign keys no longer enforced: the comparison does not read a trigger's enabled state
    postgresql: ['CREATE TABLE "notes" ("id" integer, "user_id" integer REFERENCES "users"("id"));', 'ALTER TABLE "notes" DISABLE TRIGGER ALL;'],
  } as const;
  for (const dialect of ['sqlite', 'postgresql'] as const) {
    itFor(dialect)(`${dialect}: flagged for a hand, and migrate-down refuses it instead of reverting nothing`, () => {
      const dir = makeProject();
      const [first, second] = cases[dialect];
      addRevision(dir, dialect, 'first', first, dialect === 'sqlite' ? 'DROP INDEX `users_name_idx`;' : 'DROP TABLE "notes";');
      const tag = addRevision(dir, dialect, 'unseen', second, null);
      const env: Env = dialect === 'sqlite' ? { DATABASE_URL: `file:${path.join(dir, 'e.sqlite')}` } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('emptydown') };
      const downs = runCli(dir, ['downs'], env);
      expect(downs.status, downs.stdout + downs.stderr).toBe(0);
      expect(downs.stdout).toMatch(new RegExp(`flagged +drizzle/${dialect}/${tag}\\.down\\.sql \\(0 statements: the down is empty, and the up changes what the proof's schema comparison does not read`));
      expect(readFileSync(path.join(dir, 'drizzle', dialect, `${tag}.down.sql`), 'utf8')).toMatch(/^-- sluice:manual-down-required the down is empty/m);
      expect(runCli(dir, ['up'], env).status).toBe(0);
      const down = runCli(dir, ['down'], env);
      expect(down.status).toBe(6);
      expect(down.stderr).toMatch(new RegExp(`revision ${tag} needs a hand-written down`));
    });
  }
});
