/**
 * A down file whose text holds no statement by the parser, though its lines are not all `--` comments
 * (a block comment `/* DROP TABLE x; *\/`, bare semicolons, an empty BEGIN/COMMIT pair), is refused by
 * migrate-down like an empty one (found by a hunt: it was "reverted (0 statements)", exit 0, the up's
 * table left in place and the next up failing on it). Real CLI on a SQLite file and PostgreSQL 15.
 */
import path from 'node:path';
import { appendFileSync, writeFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { addRevision, expectOneLineError, itFor, makeProject, pgUrl, runCli, sql, uniqueSchema, type Env } from '../support/project.js';

describe('a down with no statement by the parser is refused, not "reverted"', () => {
  for (const dialect of ['sqlite', 'postgresql'] as const) {
    itFor(dialect)(`${dialect}: block comment, bare semicolons, empty BEGIN/COMMIT`, async () => {
      const dir = makeProject();
      const tag = addRevision(dir, dialect, 'notes', 'CREATE TABLE "notes" ("id" integer PRIMARY KEY, "body" text);', '/* DROP TABLE "notes"; -- disabled */');
      const env: Env = dialect === 'sqlite' ? { DATABASE_URL: `file:${path.join(dir, 'c.sqlite')}` } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('cdown') };
      const up = runCli(dir, ['up'], env);
      expect(up.status, up.stdout + up.stderr).toBe(0);
      const downFile = path.join(dir, 'drizzle', dialect, `${tag}.down.sql`);
      const versions = async () => (await sql<{ revision: string }>(dir, env, 'SELECT revision FROM sluice_version')).map((r) => r.revision);
      for (const text of ['', '\n;\n;\n', '\nBEGIN;\nCOMMIT;\n']) {
        if (text) appendFileSync(downFile, text);
        for (const args of [['down'], ['down', '--dry-run']]) {
          expectOneLineError(runCli(dir, args, env), 6, new RegExp(`revision ${tag} has no down SQL while its up is not empty: drizzle/${dialect}/${tag}\\.down\\.sql holds no statement;.*"-- sluice:verified by hand: nothing to undo"`));
        }
        expect(await versions()).toContain(tag);
        // history marks it as lacking a down, as migrate-down reads it
        const rows = JSON.parse(runCli(dir, ['--json', 'history'], env).stdout).revisions as { revision: string; down: string }[];
        expect(rows.find((r) => r.revision === tag)!.down).toBe('missing');
      }
      expect((await sql(dir, env, 'SELECT count(*) AS n FROM notes'))[0]).toBeTruthy(); // still there
      writeFileSync(downFile, '/* written by hand */\nDROP TABLE "notes";\n');
      const down = runCli(dir, ['down'], env);
      expect(down.status, down.stdout + down.stderr).toBe(0);
      expect(await versions()).not.toContain(tag);
    });
  }
});
