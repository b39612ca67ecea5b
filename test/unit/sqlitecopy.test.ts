/** copyChanges (src/dialect/sqlitecopy.ts): the values a SQLite table rebuild would change as it copies them, on in-memory databases. */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { copyChanges, findRebuilds } from '../../src/dialect/sqlitecopy.js';

const shape = (create: string, insert: string) => [create, insert, 'DROP TABLE t', 'ALTER TABLE n RENAME TO t'];

/** The rows counted per changed column when `values` in a column `from` are copied into a column `to`. */
function changed(from: string, to: string, values: string[]): number[] {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE t (id integer PRIMARY KEY, c ${from}); INSERT INTO t (c) VALUES ${values.map((v) => `(${v})`).join(', ')}`);
  const [r] = findRebuilds(shape(`CREATE TABLE n (id integer PRIMARY KEY, c ${to})`, 'INSERT INTO n SELECT * FROM t'));
  return copyChanges(db, r!.rebuild).map((c) => c.rows);
}

describe('copyChanges', () => {
  it('counts text that reads as a number stored as that number, not a value that reads back the same or stays the same number', () => {
    expect(changed('text', 'integer', ["'007'", "'1.50'", "'1e3'", "' 12 '", "'7'", "'abc'", 'NULL', "'12345678901234567890'"])).toEqual([5]);
    expect(changed('text', 'real', ["'1.5'", "'7.0'", "'7'"])).toEqual([1]); // '7' reads back as 7.0
    expect(changed('integer', 'real', ['7', '-3'])).toEqual([]);
    expect(changed('real', 'integer', ['1.0', '2.5'])).toEqual([]);
    expect(changed('real', 'text', ['1.5', '1e20'])).toEqual([]);
    expect(changed('text', 'text', ["'007'"])).toEqual([]);
    expect(changed('blob', 'numeric', ["x'00'", "'007'", "'0x10'"])).toEqual([1]);
  });
  it("follows the copy: renamed columns, aliases, STRICT tables; an expression of the user's own is not counted", () => {
    const db = new Database(':memory:');
    db.exec("CREATE TABLE t (k text PRIMARY KEY, c any) STRICT, WITHOUT ROWID; INSERT INTO t VALUES ('a', '007'), ('b', 7)");
    const count = (create: string, insert: string) => copyChanges(db, findRebuilds(shape(create, insert))[0]!.rebuild);
    expect(count('CREATE TABLE "n" (k text PRIMARY KEY, c any) STRICT', 'INSERT INTO "n"(k, c) SELECT t.k, t."c" AS c FROM t;')).toEqual([]);
    expect(count('CREATE TABLE `n` (k text PRIMARY KEY, d integer)', 'INSERT INTO `n`(`k`, [d]) SELECT "k", "c" FROM `t`')).toEqual([{ table: 't', column: 'c', target: 'd', from: 'ANY', to: 'INTEGER', rows: 1 }]);
    expect(count('CREATE TABLE n (k text PRIMARY KEY, d integer)', 'INSERT INTO n(k, d) SELECT k, trim(c) FROM t')).toEqual([]);
    // nothing is left behind, in a transaction of the caller's too
    db.exec('BEGIN');
    expect(count('CREATE TABLE n (k text PRIMARY KEY, c integer)', 'INSERT INTO n SELECT * FROM t')).toHaveLength(1);
    expect(db.inTransaction).toBe(true);
    db.exec('ROLLBACK');
    expect(db.prepare('SELECT name FROM sqlite_master UNION ALL SELECT name FROM sqlite_temp_master').all()).toEqual([{ name: 't' }]);
  });
  it('finds only the whole shape (copy, drop, rename, in order); a copy that cannot be read today counts nothing', () => {
    expect(findRebuilds(['CREATE TABLE n (a int)', 'INSERT INTO n SELECT * FROM t', 'ALTER TABLE n RENAME TO t'])).toEqual([]);
    expect(findRebuilds(['CREATE TABLE n (a int)', 'DROP TABLE t', 'INSERT INTO n SELECT * FROM t', 'ALTER TABLE n RENAME TO t'])).toEqual([]);
    expect(findRebuilds(['PRAGMA foreign_keys=OFF', ...shape('CREATE TABLE n (a int)', 'INSERT INTO n SELECT * FROM t')]).map((r) => [r.at, r.copyAt])).toEqual([[1, 2]]);
    const db = new Database(':memory:');
    db.exec("CREATE TABLE t (c text); INSERT INTO t VALUES ('007')");
    expect(copyChanges(db, findRebuilds(shape('CREATE TABLE n (c integer)', 'INSERT INTO n(c) SELECT no_such FROM t'))[0]!.rebuild)).toEqual([]);
    db.exec('CREATE TABLE n (c text)'); // the copy's name taken (a rebuild left half-way by hand)
    expect(copyChanges(db, findRebuilds(shape('CREATE TABLE n (c integer)', 'INSERT INTO n(c) SELECT c FROM t'))[0]!.rebuild)).toEqual([]);
    expect(db.inTransaction).toBe(false);
  });
});
