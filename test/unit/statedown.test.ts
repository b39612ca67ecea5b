/**
 * statedown.ts is pure: states written inline as sqlite_master rows. What the statements do on a real
 * database is checked where they run (proven.test.ts, turso.test.ts, and `make corpus`).
 */
import { describe, expect, it } from 'vitest';
import { renamesIn, sqliteStateDown, type SqliteObject } from '../../src/statedown.js';

const table = (name: string, sql: string, columns: string[]): SqliteObject => ({ type: 'table', name, table: name, sql, columns });
const index = (name: string, on: string, sql: string | null): SqliteObject => ({ type: 'index', name, table: on, sql });
const sqls = (down: ReturnType<typeof sqliteStateDown>) => down?.map((s) => s.sql);

describe("the up's renames and added columns", () => {
  it('reads table and column renames and added columns in every quoting drizzle-kit and people write', () => {
    expect(
      renamesIn([
        'ALTER TABLE `a` RENAME TO `b`',
        'ALTER TABLE page RENAME COLUMN `updated_at` to `created_at` ;',
        'ALTER TABLE "t" RENAME "x" TO "y"',
        'ALTER TABLE user ADD `role` text',
        'ALTER TABLE [t] ADD COLUMN c integer',
        'CREATE TABLE z (id integer)',
      ]),
    ).toEqual([
      { kind: 'table', from: 'a', to: 'b' },
      { kind: 'column', table: 'page', from: 'updated_at', to: 'created_at' },
      { kind: 'column', table: 't', from: 'x', to: 'y' },
      { kind: 'add', table: 'user', column: 'role' },
      { kind: 'add', table: 't', column: 'c' },
    ]);
  });
});

describe('a down read from the states before and after the up', () => {
  it('the same schema before and after (an up that only changes rows): an empty down', () => {
    const s = [table('t', 'CREATE TABLE t (id integer)', ['id'])];
    expect(sqliteStateDown(s, s, ["UPDATE t SET id = 1"])).toEqual([]);
  });

  it('views and triggers go first and come back last when tables change (SQLite refuses a RENAME while a view names a missing table)', () => {
    const t1 = table('t', "CREATE TABLE t (id integer PRIMARY KEY, x text DEFAULT 'a')", ['id', 'x']);
    const log = table('log', 'CREATE TABLE log (id integer, msg text)', ['id', 'msg']);
    const view: SqliteObject = { type: 'view', name: 'v', table: 'v', sql: 'CREATE VIEW v AS SELECT id, x FROM t' };
    const trigger: SqliteObject = { type: 'trigger', name: 'tr', table: 'log', sql: 'CREATE TRIGGER tr AFTER INSERT ON log BEGIN UPDATE t SET x = new.msg WHERE id = new.id; END' };
    const t2 = table('t', 'CREATE TABLE "t" (id integer PRIMARY KEY, x text DEFAULT \'b\')', ['id', 'x']);
    const down = sqls(sqliteStateDown([t1, log, view, trigger], [log, t2, view, trigger], ['CREATE TABLE t_new (id integer PRIMARY KEY, x text DEFAULT \'b\')', 'DROP TABLE t', 'ALTER TABLE t_new RENAME TO t']));
    expect(down).toEqual([
      'PRAGMA foreign_keys=OFF;',
      'DROP TRIGGER IF EXISTS "tr";',
      'DROP VIEW "v";',
      'CREATE TABLE "__sluice_new_t" (id integer PRIMARY KEY, x text DEFAULT \'a\');',
      'INSERT INTO "__sluice_new_t" (rowid, "id", "x") SELECT rowid, "id", "x" FROM "t";',
      'DROP TABLE "t";',
      'ALTER TABLE "__sluice_new_t" RENAME TO "t";',
      'CREATE VIEW v AS SELECT id, x FROM t;',
      'CREATE TRIGGER tr AFTER INSERT ON log BEGIN UPDATE t SET x = new.msg WHERE id = new.id; END;',
      'PRAGMA foreign_keys=ON;',
    ]);
    // no table changes: views and triggers that are the same are left alone
    expect(sqliteStateDown([t1, view], [t1, view], ['UPDATE t SET x = 1'])).toEqual([]);
    // a view's INSTEAD OF trigger is dropped before the view (which would take it along)
    const insteadOf: SqliteObject = { type: 'trigger', name: 'v_ins', table: 'v', sql: 'CREATE TRIGGER v_ins INSTEAD OF INSERT ON v BEGIN INSERT INTO t (id) VALUES (new.id); END' };
    const u = table('u', 'CREATE TABLE u (id integer)', ['id']);
    expect(sqls(sqliteStateDown([t1, view, insteadOf], [t1, view, insteadOf, u], ['CREATE TABLE u (id integer)']))).toEqual([
      'PRAGMA foreign_keys=OFF;',
      'DROP TRIGGER IF EXISTS "v_ins";',
      'DROP VIEW "v";',
      'DROP TABLE "u";',
      'CREATE VIEW v AS SELECT id, x FROM t;',
      'CREATE TRIGGER v_ins INSTEAD OF INSERT ON v BEGIN INSERT INTO t (id) VALUES (new.id); END;',
      'PRAGMA foreign_keys=ON;',
    ]);
  });

  it('a rename and a column added under the old name come back as they were, data following the rename', () => {
    const before = [table('page', 'CREATE TABLE `page` (`id` integer, `updated_at` integer DEFAULT 1)', ['id', 'updated_at'])];
    const after = [table('page', 'CREATE TABLE `page` (`id` integer, "created_at" integer DEFAULT 1, `updated_at` integer)', ['id', 'created_at', 'updated_at'])];
    const down = sqls(sqliteStateDown(before, after, ['ALTER TABLE page RENAME COLUMN `updated_at` to `created_at`', 'ALTER TABLE page ADD `updated_at` integer']));
    expect(down).toEqual([
      'PRAGMA foreign_keys=OFF;',
      'ALTER TABLE "page" DROP COLUMN "updated_at";',
      'ALTER TABLE "page" RENAME COLUMN "created_at" TO "updated_at";',
      // then rebuilt from the stored SQL (the default the up lost), copying the columns both shapes have
      'CREATE TABLE "__sluice_new_page" (`id` integer, `updated_at` integer DEFAULT 1);',
      'INSERT INTO "__sluice_new_page" (rowid, "id", "updated_at") SELECT rowid, "id", "updated_at" FROM "page";',
      'DROP TABLE "page";',
      'ALTER TABLE "__sluice_new_page" RENAME TO "page";',
      'PRAGMA foreign_keys=ON;',
    ]);
  });

  it("a table the up renamed is renamed back; a rebuild's own table renamed into place is not", () => {
    const before = [table('old', 'CREATE TABLE old (id integer)', ['id']), table('m', 'CREATE TABLE m (id integer, x text)', ['id', 'x'])];
    const after = [table('new', 'CREATE TABLE "new" (id integer)', ['id']), table('m', 'CREATE TABLE "m" (id integer)', ['id'])];
    const down = sqliteStateDown(before, after, ['ALTER TABLE old RENAME TO new', 'CREATE TABLE m_new (id integer)', 'DROP TABLE m', 'ALTER TABLE m_new RENAME TO m']);
    expect(sqls(down)).toContain('ALTER TABLE "new" RENAME TO "old";');
    expect(sqls(down)).not.toContain('ALTER TABLE "m" RENAME TO "m_new";');
    // m is rebuilt as it was; the column only state N-1 has is named in the warning
    expect(sqls(down)).toContain('CREATE TABLE "__sluice_new_m" (id integer, x text);');
    expect(down!.find((s) => s.sql.startsWith('INSERT INTO "__sluice_new_m"'))!.warning).toBe('table rebuild: only the columns both shapes have are copied (created empty (or with their default): x)');
  });

  it('drops what only the up made, creates again what it dropped (with a warning: empty), and restores indexes', () => {
    const before = [table('gone', 'CREATE TABLE gone (id integer)', ['id']), index('gone_idx', 'gone', 'CREATE INDEX gone_idx ON gone (id)'), index('sqlite_autoindex_gone_1', 'gone', null)];
    const after = [table('made', 'CREATE TABLE made (id integer)', ['id']), index('made_idx', 'made', 'CREATE INDEX made_idx ON made (id)')];
    const down = sqliteStateDown(before, after, ['DROP TABLE gone', 'CREATE TABLE made (id integer)', 'CREATE INDEX made_idx ON made (id)'])!;
    expect(sqls(down)).toEqual([
      'PRAGMA foreign_keys=OFF;',
      'DROP INDEX "made_idx";',
      'DROP TABLE "made";',
      'CREATE TABLE gone (id integer);',
      'CREATE INDEX gone_idx ON gone (id);',
      'PRAGMA foreign_keys=ON;',
    ]);
    expect(down[3]!.warning).toMatch(/gone is created again empty/);
  });

  it("a table's own qualified references in its CHECK follow the temporary name", () => {
    const sql = 'CREATE TABLE `s` (`a` text, CONSTRAINT "c" CHECK("s"."a" IS NOT NULL OR `s`.a = \'\'))';
    const down = sqliteStateDown([table('s', sql, ['a'])], [table('s', 'CREATE TABLE `s` (`a` text)', ['a'])], []);
    expect(sqls(down)).toContain('CREATE TABLE "__sluice_new_s" (`a` text, CONSTRAINT "c" CHECK("__sluice_new_s"."a" IS NOT NULL OR "__sluice_new_s".a = \'\'));');
  });

  it('the columns a rebuild cannot copy are named in its warning', () => {
    const down = sqliteStateDown([table('t', 'CREATE TABLE t (id integer)', ['id'])], [table('t', 'CREATE TABLE t (id integer, extra text)', ['id', 'extra'])], []);
    expect(down!.find((s) => s.sql.startsWith('INSERT'))).toEqual({
      sql: 'INSERT INTO "__sluice_new_t" (rowid, "id") SELECT rowid, "id" FROM "t";',
      warning: 'table rebuild: only the columns both shapes have are copied (not copied: extra)',
    });
  });

  it('a rename that state N contradicts gives no down', () => {
    const before = [table('a', 'CREATE TABLE a (id integer)', ['id'])];
    const after = [table('a', 'CREATE TABLE a (id integer)', ['id']), table('b', 'CREATE TABLE b (id integer)', ['id'])];
    expect(sqliteStateDown(before, after, ['ALTER TABLE a RENAME TO b', 'CREATE TABLE a (id integer)'])).toBeUndefined();
  });

  // cases from the review of this module (each lost or misplaced data before)
  it('a column added in place of one the up dropped gives no down (its data would be guessed)', () => {
    const before = [table('t', 'CREATE TABLE t (id integer primary key, c text)', ['id', 'c'])];
    const after = [table('t', 'CREATE TABLE t (id integer primary key, "c" integer)', ['id', 'c'])];
    const up = ['ALTER TABLE t ADD COLUMN c2 integer', 'UPDATE t SET c2 = CAST(c AS integer)', 'ALTER TABLE t DROP COLUMN c', 'ALTER TABLE t RENAME COLUMN c2 TO c'];
    expect(sqliteStateDown(before, after, up)).toBeUndefined();
    // the same shape without a write of the rows: the new column holds nothing of the old one
    expect(sqls(sqliteStateDown(before, after, ['ALTER TABLE t DROP COLUMN c', 'ALTER TABLE t ADD COLUMN c integer']))).toContain('ALTER TABLE "t" DROP COLUMN "c";');
  });

  it('a column renamed only to be dropped after a copy (a default changed by hand) is rebuilt by name, its data copied', () => {
    const before = [table('user', "CREATE TABLE `user` (`id` integer primary key, `tagStyle` text DEFAULT 'lowercase')", ['id', 'tagStyle'])];
    const after = [table('user', "CREATE TABLE `user` (`id` integer primary key, `tagStyle` text DEFAULT 'titlecase')", ['id', 'tagStyle'])];
    const up = ['ALTER TABLE `user` RENAME COLUMN `tagStyle` TO `tagStyle_old`', "ALTER TABLE `user` ADD COLUMN `tagStyle` text DEFAULT 'titlecase'", 'UPDATE `user` SET `tagStyle` = `tagStyle_old`', 'ALTER TABLE `user` DROP COLUMN `tagStyle_old`'];
    const down = sqliteStateDown(before, after, up)!;
    expect(sqls(down)).toEqual([
      'PRAGMA foreign_keys=OFF;',
      `CREATE TABLE "__sluice_new_user" (\`id\` integer primary key, \`tagStyle\` text DEFAULT 'lowercase');`,
      'INSERT INTO "__sluice_new_user" (rowid, "id", "tagStyle") SELECT rowid, "id", "tagStyle" FROM "user";',
      'DROP TABLE "user";',
      'ALTER TABLE "__sluice_new_user" RENAME TO "user";',
      'PRAGMA foreign_keys=ON;',
    ]);
  });

  it('names are compared as SQLite does (case-insensitively), main. qualifiers read, other schemas and unread renames refused', () => {
    const before = [table('users', 'CREATE TABLE users (id integer primary key)', ['id'])];
    const after = [table('people', 'CREATE TABLE "people" (id integer primary key)', ['id'])];
    expect(sqls(sliceRenames(sqliteStateDown(before, after, ['ALTER TABLE Users RENAME TO people'])))).toEqual(['ALTER TABLE "people" RENAME TO "Users";']);
    expect(sqls(sliceRenames(sqliteStateDown(before, after, ['ALTER TABLE main.users RENAME TO "people"'])))).toEqual(['ALTER TABLE "people" RENAME TO "users";']);
    expect(sqliteStateDown(before, after, ['ALTER TABLE aux.users RENAME TO people'])).toBeUndefined();
    expect(sqliteStateDown(before, after, ['ALTER TABLE users /* x */ RENAME TO people'])).toBeUndefined();
  });

  it('string literals in the stored SQL are not rewritten with the temporary name', () => {
    const sql = "CREATE TABLE user (id integer primary key, data text, name text GENERATED ALWAYS AS (json_extract(data, '$.user.name')) VIRTUAL)";
    const down = sqliteStateDown([table('user', sql, ['id', 'data'])], [table('user', 'CREATE TABLE user (id integer primary key, data text, x text)', ['id', 'data', 'x'])], []);
    expect(sqls(down)).toContain("CREATE TABLE \"__sluice_new_user\" (id integer primary key, data text, name text GENERATED ALWAYS AS (json_extract(data, '$.user.name')) VIRTUAL);");
  });

  it('an AUTOINCREMENT table keeps its sequence, a WITHOUT ROWID table is copied without rowids', () => {
    const auto = sqliteStateDown([table('a', 'CREATE TABLE a (id integer primary key autoincrement)', ['id'])], [table('a', 'CREATE TABLE a (id integer primary key autoincrement, x text)', ['id', 'x'])], []);
    expect(sqls(auto)).toContain(`INSERT INTO sqlite_sequence (name, seq) SELECT '__sluice_new_a', seq FROM sqlite_sequence WHERE name = 'a';`);
    const wr = sqliteStateDown([table('w', 'CREATE TABLE w (k text primary key) WITHOUT ROWID', ['k'])], [table('w', 'CREATE TABLE w (k text primary key, x text) WITHOUT ROWID', ['k', 'x'])], []);
    expect(sqls(wr)).toContain('INSERT INTO "__sluice_new_w" ("k") SELECT "k" FROM "w";');
  });
});

/** The statements between the PRAGMA pair that only rename (the rest of the down aside). */
function sliceRenames(down: ReturnType<typeof sqliteStateDown>) {
  return down?.filter((s) => / RENAME TO /.test(s.sql) && !s.sql.includes('__sluice_new_'));
}
