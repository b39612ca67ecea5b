/**
 * leavesTransactionOpen: whether a no-transaction file's text leaves a transaction it opened open at
 * its end (offline SQL adds the COMMIT a run adds; a run asks the database itself: steprun.ts).
 */
import { describe, expect, it } from 'vitest';
import { leavesTransactionOpen } from '../../src/prepare.js';

const tc = (...texts: string[]) => texts.map((text) => ({ text, transactionControl: !/^(CREATE|INSERT|SELECT)\b/i.test(text) }));

describe('leavesTransactionOpen', () => {
  it('a BEGIN not closed after it leaves one open; COMMIT, END, ROLLBACK, ABORT and PREPARE TRANSACTION close it', () => {
    expect(leavesTransactionOpen(tc('CREATE TABLE a (x int)', 'BEGIN', 'INSERT INTO a VALUES (1)'))).toBe(true);
    expect(leavesTransactionOpen(tc('start   transaction', 'INSERT INTO a VALUES (1)'))).toBe(true);
    for (const close of ['COMMIT', 'end work', 'ROLLBACK', 'abort', "PREPARE TRANSACTION 'x'", 'COMMIT AND NO CHAIN'])
      expect(leavesTransactionOpen(tc('BEGIN', 'INSERT INTO a VALUES (1)', close)), close).toBe(false);
    expect(leavesTransactionOpen(tc('BEGIN', 'SAVEPOINT s', 'ROLLBACK TO SAVEPOINT s'))).toBe(true);
    expect(leavesTransactionOpen(tc('CREATE TABLE a (x int)'))).toBe(false);
  });

  it('COMMIT AND CHAIN and ROLLBACK AND CHAIN open the next transaction (PostgreSQL)', () => {
    expect(leavesTransactionOpen(tc('BEGIN', 'INSERT INTO a VALUES (1)', 'COMMIT AND CHAIN', 'INSERT INTO a VALUES (2)'))).toBe(true);
    expect(leavesTransactionOpen(tc('BEGIN', 'rollback   and chain;'))).toBe(true);
    expect(leavesTransactionOpen(tc('BEGIN', 'COMMIT AND CHAIN', 'COMMIT'))).toBe(false);
  });

  it('on SQLite a SAVEPOINT outside a transaction opens one, and the release of that savepoint commits it', () => {
    expect(leavesTransactionOpen(tc('INSERT INTO a VALUES (1)', 'SAVEPOINT s', 'CREATE TABLE b (x int)'), 'sqlite')).toBe(true);
    expect(leavesTransactionOpen(tc('SAVEPOINT s', 'SAVEPOINT t', 'RELEASE t'), 'sqlite')).toBe(true);
    expect(leavesTransactionOpen(tc('SAVEPOINT "s"', 'SAVEPOINT t', 'RELEASE SAVEPOINT s'), 'sqlite')).toBe(false);
    expect(leavesTransactionOpen(tc('BEGIN', 'SAVEPOINT s', 'RELEASE s'), 'sqlite')).toBe(true);
    // PostgreSQL refuses a SAVEPOINT outside a block: it opens nothing there
    expect(leavesTransactionOpen(tc('SAVEPOINT s'), 'postgresql')).toBe(false);
  });
});
