/**
 * A revision's number and message from its tag (revision.ts numberOfTag, source.ts messageFromTag):
 * written as character loops for speed, they must say exactly what the regular expressions they
 * replaced say (kept here as the reference) for any tag.
 */
import { describe, expect, it } from 'vitest';
import { leadingDigits, numberOfTag } from '../../src/revision.js';
import { messageFromTag } from '../../src/source.js';

const reference = {
  number: (tag: string, index: number) => {
    const m = /^(\d+)/.exec(tag);
    return m ? Number(m[1]) : index;
  },
  message: (tag: string) => tag.replace(/^\d+_?/, '').replace(/_/g, ' '),
};

describe('tag parts', () => {
  const named = ['0003_add_audits', '0003add', '0003__x', '_x_y', 'abc', '', '12', '12_', '0001_a_b_c', '\u0663\u0663_arabic_digits', '20260311065722_AddWeekStartDay', '0000_bench_0', '7_'];
  it('named tags: the same number and message as the regular expressions', () => {
    for (const tag of named) {
      expect(numberOfTag(tag, 41), tag).toBe(reference.number(tag, 41));
      expect(messageFromTag(tag), tag).toBe(reference.message(tag));
    }
    expect(leadingDigits('0003_add')).toBe(4);
    expect(leadingDigits('x1')).toBe(0);
  });

  it('5000 random tags over digits, underscores, letters and a non-ASCII digit: the same', () => {
    let seed = 20261205;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
    const alphabet = ['0', '1', '9', '_', '_', 'a', 'Z', '-', '.', '\u0663', ' '];
    for (let k = 0; k < 5000; k++) {
      let tag = '';
      const length = Math.floor(next() * 12);
      for (let i = 0; i < length; i++) tag += alphabet[Math.floor(next() * alphabet.length)];
      expect(numberOfTag(tag, k), JSON.stringify(tag)).toBe(reference.number(tag, k));
      expect(messageFromTag(tag), JSON.stringify(tag)).toBe(reference.message(tag));
    }
  });
});
