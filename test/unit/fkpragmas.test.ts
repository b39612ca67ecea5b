/** foreignKeyPragmas (src/sql.ts): a SQLite rebuild's PRAGMA foreign_keys lines, taken out of its statements. */
import { describe, expect, it } from 'vitest';
import { foreignKeyPragmas } from '../../src/sql.js';

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
