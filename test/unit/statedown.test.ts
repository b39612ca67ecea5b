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
  it('nothing to do: undefined', () => {
    const s = [table('t', 'CREATE TABLE t (id integer)', ['id'])];
    expect(sqliteStateDown(s, s, [])).toBeUndefined();
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
      'INSERT INTO "__sluice_new_page" ("id", "updated_at") SELECT "id", "updated_at" FROM "page";',
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
    expect(down!.find((s) => s.sql.startsWith('INSERT'))!.warning).toBeUndefined();
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
      sql: 'INSERT INTO "__sluice_new_t" ("id") SELECT "id" FROM "t";',
      warning: 'table rebuild: only the columns both shapes have are copied (not extra)',
    });
  });

  it('a rename that state N contradicts gives no down', () => {
    const before = [table('a', 'CREATE TABLE a (id integer)', ['id'])];
    const after = [table('a', 'CREATE TABLE a (id integer)', ['id']), table('b', 'CREATE TABLE b (id integer)', ['id'])];
    expect(sqliteStateDown(before, after, ['ALTER TABLE a RENAME TO b', 'CREATE TABLE a (id integer)'])).toBeUndefined();
  });
});
