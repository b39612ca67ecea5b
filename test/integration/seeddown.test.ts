/**
 * A down that deletes the rows its up inserted (seed data, the README's data-reversal downs) is
 * proven, not "rows lost" (found by a hunt: db-test failed such a history, exit 3); a down that
 * deletes more than that still fails. Real CLI: db-test on a SQLite scratch file and on the suite's
 * PostgreSQL 15, both dialects in one run.
 */
import { describe, expect, it } from 'vitest';
import { addRevision, makeProject, pgUrl, runCli, SKIP_PG } from '../support/project.js';

describe('the down proofs allow a down to delete the rows its up inserted, not more', () => {
  it.skipIf(SKIP_PG)('db-test: seed rows deleted by name pass; every row deleted fails, naming the rows the up inserted', () => {
    const dir = makeProject();
    const BPS = '\n--> statement-breakpoint\n';
    const seeds: Record<string, string> = {};
    for (const dialect of ['sqlite', 'postgresql'] as const) {
      addRevision(dir, dialect, 'tags', 'CREATE TABLE "tags" ("id" integer PRIMARY KEY, "name" text NOT NULL UNIQUE);', 'DROP TABLE "tags";');
      // the up seeds two rows into a table it keeps; its down deletes those two by name
      seeds[dialect] = addRevision(dir, dialect, 'seed_tags', `INSERT INTO "tags" ("id", "name") VALUES (100, 'admin'), (101, 'member');`, `DELETE FROM "tags" WHERE "name" IN ('admin', 'member');`);
    }
    const env = { SLUICE_CHECK_DATABASE_URL: pgUrl() };
    const ok = runCli(dir, ['check'], env);
    for (const dialect of ['sqlite', 'postgresql']) {
      expect(ok.stdout, ok.stdout + ok.stderr).toMatch(new RegExp(`^ok +${dialect}: every down proven, rows kept`, 'm'));
    }
    // a down that deletes every row, a user's too: the synthetic row stands for the user's
    for (const dialect of ['sqlite', 'postgresql'] as const) {
      addRevision(dir, dialect, 'more_tags', `INSERT INTO "tags" ("id", "name") VALUES (200, 'guest');${BPS}SELECT 1;`, 'DELETE FROM "tags";');
    }
    const lossy = runCli(dir, ['check'], env);
    expect(lossy.status).not.toBe(0);
    for (const dialect of ['sqlite', 'postgresql']) {
      expect(lossy.stdout).toMatch(new RegExp(`^FAIL ${dialect}: every down proven, rows kept`, 'm'));
    }
    expect(lossy.stdout).toMatch(/rows lost in tags: 4 before the down \(1 of them inserted by its up\), 0 after/);
    // the seed revision's down is still proven
    expect(lossy.stdout.split('\n').filter((l) => l.startsWith(`${seeds.sqlite} (`) || l.startsWith(`${seeds.postgresql} (`))).toEqual([]);
  });
});
