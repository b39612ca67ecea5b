/**
 * withoutWrappingTransaction / withoutLeadingCommit (src/prepare.ts): the transaction control a file
 * written for drizzle's migrator puts around its body, told apart from transaction control inside it.
 * Statements are split and classified by the real parsers.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { withoutLeadingCommit, withoutWrappingTransaction } from '../../src/prepare.js';
import { loadParser, parseSql } from '../../src/sqlparse.js';

beforeAll(async () => {
  await loadParser('postgresql');
});

const BP = '\n--> statement-breakpoint\n';
const texts = (sql: string, dialect: 'postgresql' | 'sqlite', f = withoutWrappingTransaction) => f(parseSql(sql, dialect).statements).map((s) => s.text);

// homarr-labs/homarr packages/db/migrations/sqlite/0001_mixed_titanium_man.sql, shortened
const HOMARR = ['COMMIT TRANSACTION;', 'PRAGMA foreign_keys = OFF;', 'BEGIN TRANSACTION;', 'ALTER TABLE `user` RENAME TO `__user_old`;', 'DROP TABLE `__user_old`;', 'COMMIT TRANSACTION;', 'PRAGMA foreign_keys = ON;', 'BEGIN TRANSACTION;'].join(BP);

describe('withoutWrappingTransaction', () => {
  it("drops drizzle's transaction escape around a rebuild, keeping the foreign-key pragmas for the rebuild's handling", () => {
    expect(texts(HOMARR, 'sqlite')).toEqual(['PRAGMA foreign_keys = OFF', 'ALTER TABLE `user` RENAME TO `__user_old`', 'DROP TABLE `__user_old`', 'PRAGMA foreign_keys = ON']);
  });
  it.each(['postgresql', 'sqlite'] as const)('%s: a COMMIT first and a BEGIN last around a plain body; BEGIN … COMMIT around the whole file', (dialect) => {
    expect(texts(`COMMIT;${BP}CREATE TABLE a (x int);${BP}INSERT INTO a VALUES (1);${BP}BEGIN;`, dialect)).toEqual(['CREATE TABLE a (x int)', 'INSERT INTO a VALUES (1)']);
    expect(texts(`begin;\nCREATE TABLE a (x int);\nend;`, dialect)).toEqual(['CREATE TABLE a (x int)']);
    expect(texts(`COMMIT;\nBEGIN;\nCREATE TABLE a (x int);\nCOMMIT;\nBEGIN;`, dialect)).toEqual(['CREATE TABLE a (x int)']);
  });
  it.each(['postgresql', 'sqlite'] as const)('%s: transaction control anywhere else leaves the statements as they are (the caller refuses them)', (dialect) => {
    for (const sql of [
      `CREATE TABLE a (x int);\nCOMMIT;\nINSERT INTO a VALUES (1);\nBEGIN;`, // a COMMIT midway, not first
      `COMMIT;\nCREATE TABLE a (x int);\nCOMMIT;\nBEGIN;`, // a second COMMIT in the body
      `COMMIT;\nCREATE TABLE a (x int);`, // leaves drizzle's transaction and never opens one again
      `COMMIT;\nBEGIN;\nCREATE TABLE a (x int);\nBEGIN;`, // an inner BEGIN without its COMMIT
      `BEGIN;\nCREATE TABLE a (x int);\nCOMMIT;\nINSERT INTO a VALUES (1);`, // a statement after the COMMIT
    ]) {
      expect(texts(sql, dialect), sql).toEqual(parseSql(sql, dialect).statements.map((s) => s.text));
    }
  });
  it('only PRAGMA foreign_keys may stand outside the inner BEGIN … COMMIT', () => {
    const sql = ['COMMIT;', 'PRAGMA journal_mode = WAL;', 'BEGIN;', 'CREATE TABLE a (x int);', 'COMMIT;', 'BEGIN;'].join('\n');
    expect(texts(sql, 'sqlite')).toEqual(parseSql(sql, 'sqlite').statements.map((s) => s.text));
  });
});

describe('withoutLeadingCommit (no-transaction revisions)', () => {
  it.each(['postgresql', 'sqlite'] as const)('%s: drops a plain COMMIT that comes first, nothing else', (dialect) => {
    expect(texts(`COMMIT;${BP}CREATE TABLE a (x int);${BP}BEGIN;`, dialect, withoutLeadingCommit)).toEqual(['CREATE TABLE a (x int)', 'BEGIN']);
    expect(texts(`CREATE TABLE a (x int);\nCOMMIT;`, dialect, withoutLeadingCommit)).toEqual(['CREATE TABLE a (x int)', 'COMMIT']);
    expect(texts(`ROLLBACK;\nCREATE TABLE a (x int);`, dialect, withoutLeadingCommit)).toEqual(['ROLLBACK', 'CREATE TABLE a (x int)']);
  });
});
