/** lintnarrow.ts narrows: which type changes PostgreSQL's cast makes by rounding or cutting values, with no error. */
import { describe, expect, it } from 'vitest';
import { narrows } from '../../src/lintnarrow.js';

describe('narrows', () => {
  it('rounding or cutting changes within a family', () => {
    for (const [from, to] of [
      ['numeric(10, 2)', 'numeric(10,1)'],
      ['numeric(12,4)', 'numeric(10,4)'],
      ['numeric', 'numeric(10,2)'],
      ['double precision', 'integer'],
      ['numeric(10,2)', 'bigint'],
      ['double precision', 'real'],
      ['text', 'varchar(32)'],
      ['varchar(64)', 'varchar(32)'],
      ['character varying(10)', 'char(5)'],
      ['timestamp (6)', 'timestamp(0)'],
      ['timestamp', 'timestamp (3)'],
      ['timestamp with time zone', 'date'],
      ['interval', 'interval day'],
      ['interval(6)', 'interval(0)'],
    ]) expect(narrows(from!, to!), `${from} -> ${to}`).toBe(true);
  });
  it('widening, the same type, or a change that fails loudly instead', () => {
    for (const [from, to] of [
      ['numeric(10,1)', 'numeric(12,2)'],
      ['numeric(10,2)', 'numeric'],
      ['integer', 'bigint'],
      ['bigint', 'integer'], // out of range fails, no rounding
      ['varchar(32)', 'text'],
      ['varchar(32)', 'varchar(64)'],
      ['timestamp(0)', 'timestamp(6)'],
      ['timestamp', 'timestamp with time zone'],
      ['text', 'integer'],
      ['interval day', 'interval'],
      ['integer', 'integer'],
      ['text[]', 'varchar(5)'],
    ]) expect(narrows(from!, to!), `${from} -> ${to}`).toBe(false);
  });
});
