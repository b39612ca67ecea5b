/** foreignKeyPragmas (src/sql.ts): a SQLite rebuild's PRAGMA foreign_keys lines, taken out of its statements. */
import { describe, expect, it } from 'vitest';
import { foreignKeyPragma, foreignKeyPragmas } from '../../src/sql.js';

describe('foreignKeyPragmas', () => {
  it("takes drizzle-kit's OFF before and ON after a rebuild out of the statements", () => {
    const got = foreignKeyPragmas(['PRAGMA foreign_keys=OFF;', 'CREATE TABLE `__new_t` (`id` integer)', 'DROP TABLE `t`', 'PRAGMA foreign_keys=ON;']);
    expect(got).toEqual({ before: ['PRAGMA foreign_keys=OFF'], body: ['CREATE TABLE `__new_t` (`id` integer)', 'DROP TABLE `t`'], after: ['PRAGMA foreign_keys=ON'] });
  });
  it('reads 0 and 1, any case and spacing; a statement holding nothing else is dropped', () => {
    expect(foreignKeyPragmas(['pragma  foreign_keys = 0', 'DELETE FROM t', 'PRAGMA FOREIGN_KEYS=1'])).toEqual({ before: ['PRAGMA foreign_keys=OFF'], body: ['DELETE FROM t'], after: ['PRAGMA foreign_keys=ON'] });
  });
  it('undefined for a revision without the pragma', () => {
    expect(foreignKeyPragmas(['ALTER TABLE t ADD c text', 'PRAGMA journal_mode=WAL'])).toBeUndefined();
  });
});

describe('FK_PRAGMA spellings', () => {
  it("every spelling SQLite takes: main., (v), quoted, false/true, no/yes (was: only OFF/ON/0/1, so '= false' stayed in the transaction and a rebuild cascaded)", () => {
    for (const [text, off] of [
      ['PRAGMA foreign_keys = false', true],
      ['PRAGMA foreign_keys=no;', true],
      ["PRAGMA main.foreign_keys = 'off'", true],
      ['pragma "main" . foreign_keys(0)', true],
      ['PRAGMA foreign_keys = true', false],
      ['PRAGMA foreign_keys(YES)', false],
    ] as const) {
      expect(foreignKeyPragma(text), text).toEqual({ off });
      const got = foreignKeyPragmas([text, 'DROP TABLE `t`']);
      // only a revision that turns them off is a table rebuild: a lone ON is a no-op inside its transaction
      // (was: taken for a rebuild, and the revision ran with foreign keys off; found by review)
      expect(got, text).toEqual(off ? { before: ['PRAGMA foreign_keys=OFF'], body: ['DROP TABLE `t`'], after: [] } : undefined);
    }
    expect(foreignKeyPragmas(['PRAGMA foreign_key_check', 'PRAGMA foreign_keys'])).toBeUndefined();
  });
});

describe('foreignKeyPragmas reads statements, never data', () => {
  it('the words in a string of another statement are data: left alone (was: cut out of the INSERT, and the revision run as a rebuild)', () => {
    const insert = "INSERT INTO notes VALUES (1, 'Run PRAGMA foreign_keys = off; before bulk load')";
    expect(foreignKeyPragmas([insert])).toBeUndefined();
    // a pragma statement after a comment (statedown writes a WARNING line above it) is one
    expect(foreignKeyPragmas(['-- WARNING: read from the real schema\nPRAGMA foreign_keys=OFF', insert, '/* back */ PRAGMA foreign_keys=ON;'])).toEqual({
      before: ['PRAGMA foreign_keys=OFF'],
      body: [insert],
      after: ['PRAGMA foreign_keys=ON'],
    });
  });
});
