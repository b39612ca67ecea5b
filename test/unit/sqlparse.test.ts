/** The real parsers: splitting, classification, markers from comments only, schema translation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadParser, parseSql, SqlSyntaxError } from '../../src/sqlparse.js';
import { publicBeyondTranslation, translatePublic } from '../../src/publicschema.js';
import { systemSchemaError } from '../../src/sql.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { flushParseCache, forgetParseCache, parseCacheStats, parseRevision } from '../../src/parsecache.js';

const roots: string[] = [];
afterAll(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A project folder of its own (with a node_modules for the parse cache's pack). */
function cacheRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'sluice-cache-'));
  roots.push(root);
  mkdirSync(path.join(root, 'node_modules'));
  return root;
}

beforeAll(async () => {
  await loadParser('postgresql');
});

const HOSTILE_HEADER = '-- sluice:down 0003_x\n-- message: add notes --> statement-breakpoint DELETE FROM users;\n';

describe.each(['postgresql', 'sqlite'] as const)('parseSql (%s)', (dialect) => {
  it('never turns a comment into a statement, whatever the comment holds', () => {
    const p = parseSql(`${HOSTILE_HEADER}CREATE TABLE a (x int);\n--> statement-breakpoint\nDROP TABLE b;`, dialect);
    expect(p.statements.map((s) => s.text)).toEqual(['CREATE TABLE a (x int)', 'DROP TABLE b']);
    expect(p.statements.map((s) => s.line)).toEqual([3, 5]);
    expect(p.comments).toContain('-- message: add notes --> statement-breakpoint DELETE FROM users;');
  });
  it('splits several statements in one breakpoint piece and keeps a marker inside a string', () => {
    const p = parseSql("INSERT INTO a VALUES ('x --> statement-breakpoint; DROP TABLE a;'); UPDATE a SET x = 1;", dialect);
    expect(p.statements).toHaveLength(2);
    expect(p.statements[0]!.text).toContain('DROP TABLE a;');
  });
  it('classifies transaction control', () => {
    const p = parseSql('INSERT INTO a VALUES (1); COMMIT; BEGIN; SAVEPOINT s; RELEASE s; ROLLBACK; END; CREATE TABLE b (x int)', dialect);
    expect(p.statements.map((s) => s.transactionControl)).toEqual([false, true, true, true, true, true, true, false]);
  });
  it('reads markers from comments only', () => {
    expect(parseSql('-- sluice:no-transaction\nCREATE TABLE a (x int);', dialect).comments[0]).toBe('-- sluice:no-transaction');
    const inString = parseSql("INSERT INTO a VALUES ('\n-- sluice:no-transaction\n');", dialect);
    expect(inString.comments).toEqual([]);
  });
  it('reports a syntax error with its line', () => {
    expect(() => parseSql('CREATE TABLE a (x int);\nCREATE TABLE (;', dialect)).toThrow(SqlSyntaxError);
    try {
      parseSql('CREATE TABLE a (x int);\nCREATE TABLE (;', dialect);
    } catch (err) {
      expect((err as SqlSyntaxError).line).toBe(2);
    }
  });
  it('comment-only and empty text have no statements', () => {
    expect(parseSql('-- nothing\n/* at all */\n', dialect).statements).toEqual([]);
    expect(parseSql('', dialect).statements).toEqual([]);
  });
});

describe('PostgreSQL specifics', () => {
  it('DO bodies, dollar quotes and SET TRANSACTION / search_path', () => {
    const p = parseSql(
      "DO $$ BEGIN CREATE TYPE e AS ENUM ('a'); EXCEPTION WHEN duplicate_object THEN null; END $$;\nSET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nSET search_path TO public;\nPREPARE TRANSACTION 'x';",
      'postgresql',
    );
    expect(p.statements.map((s) => [s.kind, s.transactionControl, s.setsSearchPath])).toEqual([
      ['DoStmt', false, false],
      ['VariableSetStmt', true, false],
      ['VariableSetStmt', false, true],
      ['TransactionStmt', true, false],
    ]);
  });
  it('translates public qualifiers, quoted or not, in DO bodies too, never in strings or comments', () => {
    const src = `CREATE TABLE public.x (e "public"."e", p PUBLIC . t);\nDO $$ BEGIN ALTER TABLE "a" ADD CONSTRAINT "f" FOREIGN KEY ("u") REFERENCES "public"."users"("id"); EXCEPTION WHEN duplicate_object THEN null; END $$;\nSELECT 'public.y', "public_x"."t", public -- public.z é`;
    expect(translatePublic(src, 'tenant')).toBe(
      `CREATE TABLE "tenant".x (e "tenant"."e", p "tenant" . t);\nDO $$ BEGIN ALTER TABLE "a" ADD CONSTRAINT "f" FOREIGN KEY ("u") REFERENCES "tenant"."users"("id"); EXCEPTION WHEN duplicate_object THEN null; END $$;\nSELECT 'public.y', "public_x"."t", public -- public.z é`,
    );
    expect(translatePublic(src, 'public')).toBe(src);
    expect(translatePublic("INSERT INTO t VALUES ($q$ public.x $q$, 'é'); SELECT public.f()", 'app')).toBe(`INSERT INTO t VALUES ($q$ public.x $q$, 'é'); SELECT "app".f()`);
    // ON CONFLICT … DO is no DO block: a dollar-quoted value after it is data (was rewritten)
    const upsert = 'INSERT INTO t (k, v) VALUES (1, $v$ public.x $v$) ON CONFLICT (k) DO UPDATE SET v = $q$ public.y $q$';
    expect(translatePublic(upsert, 'app')).toBe(upsert);
    expect(translatePublic('/* c */ do $$ BEGIN PERFORM public.f(); END $$', 'app')).toBe('/* c */ do $$ BEGIN PERFORM "app".f(); END $$');
    // the schema ALTER … SET SCHEMA moves an object to, as drizzle-kit writes it (a table leaving a pgSchema for pgTable)
    expect(translatePublic('ALTER TABLE "x"."t" SET SCHEMA public; ALTER TYPE "x"."e" SET /* c */ SCHEMA "public"', 'app')).toBe('ALTER TABLE "x"."t" SET SCHEMA "app"; ALTER TYPE "x"."e" SET /* c */ SCHEMA "app"');
    expect(translatePublic("SET SCHEMA 'public'; GRANT USAGE ON SCHEMA public TO PUBLIC", 'app')).toBe("SET SCHEMA 'public'; GRANT USAGE ON SCHEMA public TO PUBLIC");
    // a Unicode-escaped name spelling public (U&"…", which the scanner reads as its own kind of token): a
    // qualifier as any other (was: left as written, the object made in the real public, exit 0)
    expect(translatePublic('CREATE TABLE U&"public".a (s text DEFAULT U&\'public.x\'); SELECT u&"\\0070ublic"."b", U&"\\+000070ublic".f(), U&"publicx".c, U&"!0070ublic" UESCAPE \'!\'.d', 'app')).toBe(
      'CREATE TABLE "app".a (s text DEFAULT U&\'public.x\'); SELECT "app"."b", "app".f(), U&"publicx".c, U&"!0070ublic" UESCAPE \'!\'.d',
    );
    expect(translatePublic('DO $$ BEGIN PERFORM U&"\\0070ublic".f(); END $$', 'app')).toBe('DO $$ BEGIN PERFORM "app".f(); END $$');
  });
  it('refuses system schemas', () => {
    for (const s of ['pg_catalog', 'pg_toast', 'pg_temp', 'PG_x', 'information_schema']) expect(systemSchemaError(s)).toMatch(/system schema/);
    expect(systemSchemaError('app')).toBeUndefined();
  });
});

describe('parse cache', () => {
  it('reuses an entry only when it describes the text; a tampered entry is ignored', async () => {
    const root = cacheRoot();
    const text = '-- note\nCREATE TABLE a (x int);\nINSERT INTO a VALUES (1); -- done';
    const first = await parseRevision(text, 'sqlite', root);
    expect(first.statements.map((s) => s.text)).toEqual(['CREATE TABLE a (x int)', 'INSERT INTO a VALUES (1)']);
    flushParseCache();
    const dir = path.join(root, 'node_modules', '.cache', 'sluice', 'parsed');
    const [pack] = readdirSync(dir);
    const data = JSON.parse(readFileSync(path.join(dir, pack!), 'utf8'));
    const [key] = Object.keys(data.entries);
    // What the pack holds is what a parse gives, read back from the text.
    expect(await parseRevision(text, 'sqlite', root)).toEqual(first);
    // A second process reads the pack: damaged spans (out of the text, overlapping, a statement cut
    // short or left out, a flag that is not a number) are ignored and the text parsed again.
    for (const forged of [
      [[0, text.length + 5, 1, 'x', 0, []]],
      [[8, 22, 2, 'create_table_stmt', 0, []], [20, 10, 3, 'insert_stmt', 0, []]],
      [[8, 22, 2, 'create_table_stmt', 'x', []]],
      [[8, 22, 2, 'create_table_stmt', 0, []], [32, 11, 3, 'insert_stmt', 0, []]],
      [[8, 22, 2, 'create_table_stmt', 0, []]],
      [[8, 22, 2, 'create_table_stmt', 0], [32, 24, 3, 'insert_stmt', 0]],
    ]) {
      flushParseCache();
      writeFileSync(path.join(dir, pack!), JSON.stringify({ ...data, entries: { [key!]: { ...data.entries[key!], s: forged } } }));
      forgetParseCache();
      expect((await parseRevision(text, 'sqlite', root)).statements.map((s) => s.text)).toEqual(['CREATE TABLE a (x int)', 'INSERT INTO a VALUES (1)']);
    }
    // An entry written by the pack is used by a new process: a statement cut differently there is
    // what the next run executes, so spans are the text's own.
    flushParseCache();
    writeFileSync(path.join(dir, pack!), JSON.stringify(data));
    forgetParseCache();
    expect(await parseRevision(text, 'sqlite', root)).toEqual(first);
  });
});

describe('parse cache: entries found again', () => {
  it('a project folder removed before the pack is written is not made again (a caller\'s temp project)', async () => {
    const root = cacheRoot();
    await parseRevision('CREATE TABLE gone_before_flush (x int);', 'sqlite', root);
    rmSync(root, { recursive: true, force: true });
    flushParseCache();
    expect(existsSync(root)).toBe(false);
    // while it exists, the same flush writes it
    const kept = cacheRoot();
    await parseRevision('CREATE TABLE kept_until_flush (x int);', 'sqlite', kept);
    flushParseCache();
    expect(readdirSync(path.join(kept, 'node_modules', '.cache', 'sluice', 'parsed'))).toHaveLength(1);
  });

  it('a comment quoting a statement word for word (a down note) does not stop its entry from being used', async () => {
    const root = cacheRoot();
    const text = '-- note: the down fails at "ALTER TABLE "t" ALTER COLUMN "a" SET NOT NULL" with NULLs\nALTER TABLE "t" ALTER COLUMN "a" SET NOT NULL;\n--> statement-breakpoint\nDROP TABLE "u";';
    for (const dialect of ['postgresql', 'sqlite'] as const) {
      const first = await parseRevision(text, dialect, root);
      flushParseCache();
      forgetParseCache();
      const before = parseCacheStats();
      expect(await parseRevision(text, dialect, root)).toEqual(first);
      const after = parseCacheStats();
      expect([after.hits - before.hits, after.misses - before.misses]).toEqual([1, 0]);
    }
  });
});

describe('parse cache: a project without a pack', () => {
  it("starts from the pack written last beside it (another project on the same node_modules); once it has its own, it reads only that", async () => {
    const shared = cacheRoot();
    const [a, b] = ['a', 'b'].map((n) => {
      mkdirSync(path.join(shared, 'apps', n), { recursive: true });
      return path.join(shared, 'apps', n);
    });
    const text = 'CREATE TABLE "t" ("id" integer);\n--> statement-breakpoint\nDROP TABLE "u";';
    const counted = async (root: string, t = text) => {
      forgetParseCache();
      const before = parseCacheStats();
      const parsed = await parseRevision(t, 'postgresql', root);
      flushParseCache();
      const after = parseCacheStats();
      return { parsed, hits: after.hits - before.hits, misses: after.misses - before.misses };
    };
    const first = await counted(a!);
    expect([first.hits, first.misses]).toEqual([0, 1]);
    // b has no pack yet: a's entry serves it (was: parsed again, the parser loaded, in every new project)
    const seeded = await counted(b!);
    expect([seeded.hits, seeded.misses]).toEqual([1, 0]);
    expect(seeded.parsed).toEqual(first.parsed);
    const packs = readdirSync(path.join(shared, 'node_modules', '.cache', 'sluice', 'parsed')).filter((f) => f.startsWith('pack-'));
    expect(packs).toHaveLength(2); // b's own, written once used
    // a third project, one process: its borrowed pack is written as its own once, not again at each hit
    mkdirSync(path.join(shared, 'apps', 'c'));
    const c = path.join(shared, 'apps', 'c');
    forgetParseCache();
    await parseRevision(text, 'postgresql', c);
    flushParseCache();
    const packsNow = () => new Map(readdirSync(path.join(shared, 'node_modules', '.cache', 'sluice', 'parsed')).filter((f) => f.startsWith('pack-')).map((f) => [f, statSync(path.join(shared, 'node_modules', '.cache', 'sluice', 'parsed', f)).ino]));
    const written = packsNow();
    expect(written.size).toBe(3);
    await parseRevision(text, 'postgresql', c);
    flushParseCache();
    expect(packsNow()).toEqual(written);
    // a text only a's pack has, parsed in a: b reads its own pack now, so it parses that text itself
    await counted(a!, 'DROP TABLE "only_a";');
    const own = await counted(b!, 'DROP TABLE "only_a";');
    expect([own.hits, own.misses]).toEqual([0, 1]);
  });
});

describe('parse cache: public qualifiers', () => {
  it('a PostgreSQL entry keeps where its statements name public, and translates from it as a scan does; offsets not on a name public are not used', async () => {
    const root = cacheRoot();
    // a multi-byte character before the qualifiers (they are kept as UTF-8 byte offsets)
    const text = `INSERT INTO "é" VALUES ('public.x');\n--> statement-breakpoint\nDO $$ BEGIN ALTER TABLE "a" ADD CONSTRAINT "f" FOREIGN KEY ("u") REFERENCES "public"."users"("id"); EXCEPTION WHEN duplicate_object THEN null; END $$;\n--> statement-breakpoint\nALTER TABLE public.t ADD COLUMN c int;`;
    const want = [`INSERT INTO "é" VALUES ('public.x')`, 'DO $$ BEGIN ALTER TABLE "a" ADD CONSTRAINT "f" FOREIGN KEY ("u") REFERENCES "app"."users"("id"); EXCEPTION WHEN duplicate_object THEN null; END $$', 'ALTER TABLE "app".t ADD COLUMN c int'];
    const translated = async () => (await parseRevision(text, 'postgresql', root)).statements.map((s) => translatePublic(s.text, 'app'));
    expect(await translated()).toEqual(want);
    flushParseCache();
    const dir = path.join(root, 'node_modules', '.cache', 'sluice', 'parsed');
    const file = path.join(dir, readdirSync(dir)[0]!);
    const data = JSON.parse(readFileSync(file, 'utf8'));
    const entry = Object.values(data.entries)[0] as { s: unknown[][] };
    expect(entry.s.map((st) => st[5])).toEqual([[], [Buffer.byteLength('DO $$ BEGIN ALTER TABLE "a" ADD CONSTRAINT "f" FOREIGN KEY ("u") REFERENCES ')], [12]]);
    forgetParseCache();
    expect(await translated()).toEqual(want); // from the entry
    // offsets that do not point at a name public (stale or damaged) are dropped: the statement is scanned
    entry.s[2]![5] = [0];
    entry.s[1]![5] = [3];
    writeFileSync(file, JSON.stringify(data));
    forgetParseCache();
    expect(await translated()).toEqual(want);
    // a U&"…" name spelling public, kept with its offset and translated from the entry as by a scan
    const escaped = 'INSERT INTO "é" SELECT 1 FROM U&"\\0070ublic".t;';
    const fromEscaped = async () => (await parseRevision(escaped, 'postgresql', root)).statements.map((s) => translatePublic(s.text, 'app'));
    expect(await fromEscaped()).toEqual(['INSERT INTO "é" SELECT 1 FROM "app".t']);
    flushParseCache();
    const stored = Object.values(JSON.parse(readFileSync(file, 'utf8')).entries as Record<string, { s: unknown[][] }>).map((e) => e.s[0]?.[5]);
    expect(stored).toContainEqual([Buffer.byteLength('INSERT INTO "é" SELECT 1 FROM ')]);
    forgetParseCache();
    const hits = parseCacheStats().hits;
    expect(await fromEscaped()).toEqual(['INSERT INTO "é" SELECT 1 FROM "app".t']);
    expect(parseCacheStats().hits).toBe(hits + 1);
    // a SQLite entry of the same text keeps no qualifiers for PostgreSQL's translation
    const same = 'ALTER TABLE public.t ADD COLUMN c int;';
    await parseRevision(same, 'sqlite', root);
    flushParseCache();
    forgetParseCache();
    const [fromSqlite] = (await parseRevision(same, 'sqlite', root)).statements;
    expect(translatePublic(fromSqlite!.text, 'app')).toBe('ALTER TABLE "app".t ADD COLUMN c int');
  });
});

describe('parts between breakpoints (as drizzle migrator runs them), found in public histories', () => {
  it('PostgreSQL: a part without its semicolon is read as its own statement; a broken part is still refused', () => {
    const text = `UPDATE t SET a = 1;--> statement-breakpoint\nDELETE FROM t WHERE a IS NULL--> statement-breakpoint\n\n--- comment\nALTER TABLE t ALTER COLUMN a SET NOT NULL;`;
    expect(parseSql(text, 'postgresql').statements.map((s) => [s.kind, s.line])).toEqual([
      ['UpdateStmt', 1],
      ['DeleteStmt', 2],
      ['AlterTableStmt', 5],
    ]);
    expect(() => parseSql(`SELECT 1;--> statement-breakpoint\nSELEC 2;`, 'postgresql')).toThrow(SqlSyntaxError);
  });
  it('SQLite: table constraints without a comma (SQLite accepts them) are confirmed by SQLite itself', () => {
    const text = 'CREATE TABLE `a` (\n `id` text,\n `b` text,\n FOREIGN KEY (`id`) REFERENCES `x`(`id`)\n FOREIGN KEY (`b`) REFERENCES `y`(`id`)\n);--> statement-breakpoint\nDROP TABLE `c`;';
    const parsed = parseSql(text, 'sqlite');
    expect(parsed.statements.map((s) => [s.kind, s.line, s.transactionControl])).toEqual([
      ['sqlite_statement', 1, false],
      ['drop_table_stmt', 7, false],
    ]);
    expect(() => parseSql('SELECT 1;--> statement-breakpoint\nALTER TABLE `t` ALTER COLUMN "a" TO "a" text;', 'sqlite')).toThrow(/syntax error/);
  });
  it("SQLite: a part the parser cannot read is one statement by SQLite's own reading: a `;` in a comment or string is not an end (dyad-sh/dyad 0040)", () => {
    // FTS5's UNINDEXED is SQLite's, not the parser's; the comment before it ends with a `;`
    const fts = '-- the search index (its table was created in 0039);\nCREATE VIRTUAL TABLE `t` USING fts5(a, b UNINDEXED);';
    for (const text of [fts, `SELECT 1;--> statement-breakpoint\n${fts}`, '/* a; b */ CREATE VIRTUAL TABLE `t` USING fts5(a, b UNINDEXED, c); -- trailing; note']) {
      const st = parseSql(text, 'sqlite').statements.at(-1)!;
      expect(st.kind).toBe('sqlite_statement');
      expect(st.text).toMatch(/^(?:--[^\n]*\n|\/\*.*\*\/ )?CREATE VIRTUAL TABLE `t` USING fts5\(a, b UNINDEXED(?:, c)?\)(?:; -- trailing; note)?$/);
    }
    expect(parseSql("CREATE VIRTUAL TABLE `t` USING fts5(a, b UNINDEXED, content=';');", 'sqlite').statements).toHaveLength(1);
    // a second statement after it is refused, whatever hides it; so is an unterminated string after it
    for (const text of [
      'CREATE VIRTUAL TABLE `t` USING fts5(a, b UNINDEXED); DROP TABLE `u`;',
      '-- x;\nCREATE VIRTUAL TABLE `t` USING fts5(a, b UNINDEXED);\nCOMMIT;',
      "CREATE VIRTUAL TABLE `t` USING fts5(a, b UNINDEXED); 'unterminated",
      'CREATE VIRTUAL TABLE `t` USING fts5(a, b UNINDEXED); /* x */ COMMIT',
    ]) {
      expect(() => parseSql(text, 'sqlite'), text).toThrow(SqlSyntaxError);
    }
  });
});

describe('publicBeyondTranslation', () => {
  it('a bare public, or public in a string or a function body: a scratch schema cannot stand in for it', () => {
    for (const text of [
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = pg_catalog, public AS $$ SELECT 1 $$',
      'SET search_path TO public',
      "SELECT to_regclass('public.users')",
      'CREATE FUNCTION f() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM public.users $$',
      'DO $$ BEGIN PERFORM set_config(\'search_path\', \'public\', true); END $$',
      'CREATE TABLE a (x int);\nCREATE SCHEMA IF NOT EXISTS "public"',
      "SET search_path TO 'public'",
      'CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $f$ BEGIN PERFORM 1 FROM "public"."users"; END $f$',
      "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'x') THEN ALTER TABLE \"public\".\"users\" ADD COLUMN \"x\" integer; END IF; END $$",
      "SELECT 1 FROM pg_tables WHERE schemaname = 'public'",
      'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
      'GRANT SELECT ON ALL TABLES IN SCHEMA public TO app',
    ]) {
      expect(publicBeyondTranslation(text), text).toBe(true);
    }
  });
  it("qualifiers (drizzle-kit's and in DO bodies), comments and the role PUBLIC do not count", () => {
    for (const text of [
      'ALTER TABLE "a" ADD CONSTRAINT "f" FOREIGN KEY ("u") REFERENCES "public"."users"("id")',
      'CREATE TYPE public.mood AS ENUM (\'a\')',
      'DO $$ BEGIN ALTER TABLE "a" ADD CONSTRAINT "f" FOREIGN KEY ("u") REFERENCES "public"."users"("id"); EXCEPTION WHEN duplicate_object THEN null; END $$',
      '-- search_path = public\nCREATE TABLE a (x int) /* public */',
      'GRANT SELECT ON a TO PUBLIC;\nREVOKE ALL ON FUNCTION f() FROM public',
      'CREATE POLICY "p" ON "t" AS PERMISSIVE FOR ALL TO public USING (true)',
      'CREATE TABLE publication (x int)',
      'CREATE TYPE "public"."visibility" AS ENUM(\'private\', \'public\')',
      'ALTER TABLE "board" ALTER COLUMN "visibility" SET DEFAULT \'public\'',
      'CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT \'public\' $$',
    ]) {
      expect(publicBeyondTranslation(text), text).toBe(false);
    }
  });
});
