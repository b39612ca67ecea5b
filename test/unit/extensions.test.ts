/** Which extensions a history's ups create (scratch.ts extensionsCreated): what PGlite loads at its start. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extensionsCreated, namesPublic } from '../../src/scratch.js';
import type { RevisionFile } from '../../src/source.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-ext-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function rev(up: string | null): RevisionFile {
  const id = `${String(n++).padStart(4, '0')}_r`;
  const upFile = path.join(dir, `${id}.sql`);
  if (up !== null) writeFileSync(upFile, up);
  return { id, upFile, downFile: path.join(dir, `${id}.down.sql`) } as RevisionFile;
}

describe('extensionsCreated', () => {
  it('reads CREATE EXTENSION with or without IF NOT EXISTS, quoted or not, any case, across revisions', () => {
    const revs = [
      rev('CREATE EXTENSION IF NOT EXISTS pg_trgm;\nCREATE TABLE t (id int);'),
      rev('create extension "uuid-ossp";'),
      rev('Create Extension\n  CITEXT\n  SCHEMA public;'),
      rev('CREATE EXTENSION pg_trgm;'),
    ];
    expect(extensionsCreated(revs)).toEqual(['citext', 'pg_trgm', 'uuid-ossp']);
  });
  it('reads it with comments between its words, as PostgreSQL does', () => {
    const revs = [
      rev('CREATE /* trigram search */ EXTENSION IF NOT EXISTS pg_trgm;'),
      rev('CREATE EXTENSION -- for ids\n "pgcrypto";'),
      rev('CREATE EXTENSION IF /* x */ NOT /* y */ EXISTS /* z */ hstore;'),
    ];
    expect(extensionsCreated(revs)).toEqual(['hstore', 'pg_trgm', 'pgcrypto']);
  });
  it('reads long runs of comments in one pass (a comment ends at its first */)', () => {
    const comments = '/**/ '.repeat(40);
    const revs = [rev(`CREATE ${comments}TABLE extension (id int);\n${'/* a */ /* b */\n'.repeat(4000)}CREATE ${comments}EXTENSION ${comments}ltree;`), rev('CREATE /* x */ EXTENSION /* not the name */ /***/ citext'), rev('CREATE EXTENSION /*/ pg_trgm */ /* unclosed: hstore')];
    expect(extensionsCreated(revs)).toEqual(['citext', 'ltree']);
  });
  it('finds none in other statements, and skips a missing up (its replay reports it)', () => {
    expect(extensionsCreated([rev('DROP EXTENSION pg_trgm;\nALTER EXTENSION hstore UPDATE;\nCREATE TABLE extension (id int);'), rev(null)])).toEqual([]);
  });
});

describe('namesPublic (a history a scratch schema cannot stand in for)', () => {
  it("drizzle-kit's qualifiers and a column named publicId do not count; a function body's qualifier, a catalog lookup and a search_path do", async () => {
    const drizzleKit = [
      rev('CREATE TABLE "board" ("publicId" varchar(12) NOT NULL, "visibility" text DEFAULT \'x\');'),
      rev('ALTER TABLE "card" ADD CONSTRAINT "f" FOREIGN KEY ("b") REFERENCES "public"."board"("id");'),
      rev('DO $$ BEGIN\n CREATE TYPE "public"."v" AS ENUM(\'private\', \'public\');\nEXCEPTION WHEN duplicate_object THEN null;\nEND $$;'),
    ];
    expect(await namesPublic(drizzleKit)).toBe(false);
    for (const up of [
      'CREATE FUNCTION n() RETURNS bigint AS $$ SELECT count(*) FROM "public"."users" $$ LANGUAGE sql;',
      "CREATE FUNCTION n() RETURNS bigint AS 'SELECT count(*) FROM \"public\".\"users\"' LANGUAGE sql;",
      "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'x') THEN ALTER TABLE \"public\".\"users\" ADD COLUMN \"x\" integer; END IF; END $$;",
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = pg_catalog, public AS $$ SELECT 1 $$;',
    ]) {
      expect(await namesPublic([...drizzleKit, rev(up)]), up).toBe(true);
    }
  });
});
