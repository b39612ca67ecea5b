/**
 * The schemas a history's SQL writes to by name (sqlschemas.ts), read with PostgreSQL's parser: what a
 * replay beside the real data must not run there. Pure: the parser, no database.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadParser } from '../../src/parsers.js';
import { DATABASE_WIDE, mayWriteElsewhere, schemasWrittenIn } from '../../src/sqlschemas.js';
import { alterTableActions } from '../../src/altertable.js';

beforeAll(() => loadParser('postgresql'));

describe('schemasWrittenIn', () => {
  it.each([
    ['DROP TABLE IF EXISTS analytics.events, b.c', ['analytics', 'b']],
    ['DROP SCHEMA a CASCADE', ['a']],
    ['DROP FUNCTION x.f(int)', ['x']],
    ['DROP TYPE xt.t', ['xt']],
    ["CREATE TYPE e.mood AS ENUM ('a')", ['e']],
    ["ALTER TYPE at.mood ADD VALUE 'b'", ['at']],
    ['ALTER TABLE m.t SET SCHEMA y', ['m', 'y']],
    ['TRUNCATE tr.a, b', ['tr']],
    ['CREATE FUNCTION cf.f() RETURNS int AS $$ select 1 $$ LANGUAGE sql', ['cf']],
    ['DROP INDEX di.i', ['di']],
    ['INSERT INTO audit.log SELECT * FROM src.t', ['audit']],
    ['WITH d AS (DELETE FROM w.e RETURNING *) SELECT 1', ['w']],
    ['CREATE TABLE ctas.x AS SELECT 1', ['ctas']],
    ['ALTER SCHEMA old RENAME TO new', ['old', 'new']],
    ['CREATE INDEX ON ix.t (a)', ['ix']],
    ['CREATE SCHEMA IF NOT EXISTS cs', ['cs']],
    ['UPDATE "Quoted"."T" SET a = 1', ['Quoted']],
    ['DROP TRIGGER IF EXISTS t ON s.tab; DROP POLICY p ON tab; CREATE TRIGGER tr AFTER INSERT ON ct.t FOR EACH ROW EXECUTE FUNCTION f()', ['s', 'ct']],
    ['DELETE FROM drizzle.__drizzle_migrations WHERE id > 3', ['drizzle']],
    // found by a review: more writes to another schema, and to the whole database
    ["SELECT cron.schedule('nightly', '0 3 * * *', 'VACUUM')", ['cron']],
    ['CALL other.p()', ['other']],
    ['SELECT 1 INTO other.t2', ['other']],
    ['REFRESH MATERIALIZED VIEW other.mv', ['other']],
    ['ALTER TABLE p ATTACH PARTITION other.c FOR VALUES IN (1)', ['other']],
    ['CREATE TABLE c PARTITION OF other.p FOR VALUES IN (1)', ['other']],
    ['CREATE TABLE c () INHERITS (other.p)', ['other']],
    ['GRANT SELECT ON other.t TO x', ['other']],
    ['GRANT EXECUTE ON FUNCTION fx.f() TO x', ['fx']],
    ['GRANT SELECT ON ALL TABLES IN SCHEMA other TO x', ['other']],
    ['ALTER DEFAULT PRIVILEGES IN SCHEMA other GRANT SELECT ON TABLES TO x', ['other']],
    ['ALTER FUNCTION other.f() OWNER TO x', ['other']],
    ["COMMENT ON TABLE other.t IS 'x'", ['other']],
    ['CREATE FOREIGN TABLE other.ft (a int) SERVER s', ['other']],
    ['CREATE TYPE other.r AS RANGE (subtype = int4)', ['other']],
    ['IMPORT FOREIGN SCHEMA x FROM SERVER s INTO other', ['other']],
    ['ALTER EXTENSION e ADD TABLE other.t', ['other']],
    ['DROP OWNED BY x', [DATABASE_WIDE]],
    ['DROP PUBLICATION pub', [DATABASE_WIDE]],
    ['CREATE PUBLICATION pub FOR TABLE t', [DATABASE_WIDE]],
  ])('%s', (sql, schemas) => {
    expect(schemasWrittenIn(sql).sort()).toEqual([...schemas].sort());
  });

  it('leaves out what only reads another schema, public, the system schemas, and text that does not parse', () => {
    expect(schemasWrittenIn('CREATE TABLE public.t (id int REFERENCES auth.users(id), d uuid DEFAULT extensions.uuid_generate_v4(), c extensions.citext)')).toEqual([]);
    expect(schemasWrittenIn('CREATE VIEW v AS SELECT * FROM auth.users u WHERE u.id > 0')).toEqual([]);
    expect(schemasWrittenIn('CREATE INDEX "i" ON "t" USING btree ("a") WHERE "t"."deleted_at" IS NULL')).toEqual([]);
    expect(schemasWrittenIn('ALTER TABLE "public"."users" ADD CONSTRAINT fk FOREIGN KEY ("a") REFERENCES "auth"."users"("id")')).toEqual([]);
    expect(schemasWrittenIn('CREATE TABLE pg_temp.x (a int); SELECT pg_catalog.now()')).toEqual([]);
    expect(schemasWrittenIn('select 1; garbage (((')).toEqual([]);
    expect(schemasWrittenIn("SELECT extensions.uuid_generate_v4() IS NOT NULL FROM t")).toEqual([]); // not a call at the top
    expect(schemasWrittenIn('ALTER PUBLICATION supabase_realtime ADD TABLE messages')).toEqual([]);
  });

  // found by a review: the pre-filter skipped files with no dot (DROP SCHEMA legacy) and read a quote in a
  // comment or a dollar-quoted string as opening a string, hiding the statements after it
  it('the pre-filter lets every file that may write elsewhere through', () => {
    for (const text of [
      'DROP SCHEMA legacy CASCADE;',
      'CREATE SCHEMA analytics;',
      "/* it's gone */\nDROP TABLE analytics.events;\nINSERT INTO t VALUES ('x');",
      "SELECT E'\\''; DROP TABLE analytics.events; SELECT 'a';",
      "COMMENT ON TABLE t IS $$it's$$; DROP TABLE analytics.events; COMMENT ON TABLE t IS 'x';",
      'CREATE TABLE ÄÖ.t (a int);',
      'DROP OWNED BY x;',
    ]) expect(mayWriteElsewhere(text), text).toBe(true);
    expect(mayWriteElsewhere('CREATE TABLE "public"."users" ("id" integer PRIMARY KEY, "price" numeric(10, 2) DEFAULT 1.5);')).toBe(false);
  });

  it("a file's leading comment lines are not read for names (sluice's down header says \"schema\"); the rest is", () => {
    const header = '-- sluice:down 0003_x\n-- message: move schema\n\n-- sluice:verified by running it on a scratch database: the down restores the previous schema\n';
    expect(mayWriteElsewhere(`${header}ALTER TABLE "users" DROP COLUMN "phone";\n`)).toBe(false);
    expect(mayWriteElsewhere(`${header.replaceAll('\n', '\r\n')}\r\nALTER TABLE "users" DROP COLUMN "phone";\r\n`)).toBe(false);
    for (const text of [
      `${header}DROP SCHEMA legacy CASCADE;`,
      `${header}DROP TABLE analytics.events;`,
      `ALTER TABLE "users" DROP COLUMN "phone";\n-- the previous schema\n`, // a comment after a statement is read as before
      `/* a block comment */\n-- the previous schema\nSELECT 1;`, // only line comments at the very start are left out
      `-- a header\nSELECT 1; -- x\nDROP SCHEMA s;`,
    ]) expect(mayWriteElsewhere(text), text).toBe(true);
  });
});

describe('alterTableActions', () => {
  it('splits at the commas outside parentheses, brackets, strings, quoted names and comments', () => {
    expect(alterTableActions('ALTER TABLE "a,b" ALTER COLUMN x TYPE numeric(10,2), ALTER COLUMN "y,z" SET DEFAULT \'1,2\' /* , */, ALTER COLUMN w SET DEFAULT ARRAY[1,2]')).toEqual([
      'ALTER TABLE "a,b" ALTER COLUMN x TYPE numeric(10,2)',
      'ALTER TABLE "a,b" ALTER COLUMN "y,z" SET DEFAULT \'1,2\'',
      'ALTER TABLE "a,b" ALTER COLUMN w SET DEFAULT ARRAY[1,2]',
    ]);
  });
  it('keeps the text around non-ASCII names whole (the scanner counts bytes)', () => {
    expect(alterTableActions('ALTER TABLE "prêts" ALTER COLUMN "montant€" TYPE numeric(10,2), ALTER COLUMN "ñ" TYPE text')).toEqual([
      'ALTER TABLE "prêts" ALTER COLUMN "montant€" TYPE numeric(10,2)',
      'ALTER TABLE "prêts" ALTER COLUMN "ñ" TYPE text',
    ]);
  });
  it('leaves any other statement, and one action, as it is', () => {
    expect(alterTableActions('ALTER TABLE t ALTER COLUMN a TYPE numeric(10,2)')).toEqual(['ALTER TABLE t ALTER COLUMN a TYPE numeric(10,2)']);
    expect(alterTableActions("INSERT INTO t VALUES (1, 2), (3, 4)")).toEqual(["INSERT INTO t VALUES (1, 2), (3, 4)"]);
  });
});

describe('alterTableActions without comments', () => {
  it('leaves the blanks inside quoted names and strings as written, and drops comments, nested ones too', () => {
    expect(alterTableActions('ALTER TABLE "my  tab" ALTER COLUMN "a\tb" TYPE varchar(5) /* x /* y */ z */, ALTER COLUMN c SET DEFAULT \'a  b\'')).toEqual([
      'ALTER TABLE "my  tab" ALTER COLUMN "a\tb" TYPE varchar(5)',
      'ALTER TABLE "my  tab" ALTER COLUMN c SET DEFAULT \'a  b\'',
    ]);
    expect(alterTableActions('ALTER TABLE t /* head */ ALTER COLUMN c TYPE varchar(5) -- it\'s; "ok"\n')).toEqual(['ALTER TABLE t   ALTER COLUMN c TYPE varchar(5)']);
  });
});
