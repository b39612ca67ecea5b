/**
 * Reading a revision file: the text comes back exactly as written when it is valid UTF-8 without NUL
 * bytes, and a NUL or a broken byte is refused with its offset (the fast path decodes in C++ and only
 * looks at bytes when the text holds U+0000 or U+FFFD).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/errors.js';
import { readRevisionFile } from '../../src/revisionfile.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-revfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (bytes: Buffer) => {
  const f = path.join(dir, `${n++}.sql`);
  writeFileSync(f, bytes);
  return f;
};
const sql = (s: string) => Buffer.from(s, 'utf8');

describe('readRevisionFile', () => {
  it('returns valid UTF-8 unchanged: a real U+FFFD, emoji, a BOM, CRLF', () => {
    for (const text of ['SELECT 1;', "SELECT '\uFFFD';", "SELECT '😀 € é';\r\n", '\uFEFFSELECT 1;', '']) {
      expect(readRevisionFile(file(sql(text)), 'up SQL of revision x')).toBe(text);
    }
  });
  it('refuses a NUL byte with its offset', () => {
    const f = file(Buffer.concat([sql('SELECT 1;'), Buffer.from([0]), sql('SELECT 2;')]));
    expect(() => readRevisionFile(f, 'up SQL of revision x')).toThrow(IntegrityError);
    expect(() => readRevisionFile(f, 'up SQL of revision x')).toThrow(/holds a NUL byte at offset 9;/);
  });
  it('refuses every kind of broken UTF-8 with the offset of its first byte, also next to a real U+FFFD', () => {
    const cases: [string, number][] = [
      ['c080', 3], // overlong
      ['eda080', 3], // a surrogate
      ['f4908080', 3], // beyond U+10FFFF
      ['e282', 3], // truncated
      ['ff', 3],
      ['80', 3], // a lone continuation byte
    ];
    for (const [hex, at] of cases) {
      const f = file(Buffer.concat([sql('-- '), Buffer.from(hex, 'hex'), sql('\nSELECT 1;')]));
      expect(() => readRevisionFile(f, 'up SQL of revision x'), hex).toThrow(new RegExp(`is not valid UTF-8 \\(byte offset ${at}\\)`));
    }
    const both = file(Buffer.concat([sql("SELECT '\uFFFD'; -- "), Buffer.from('ff', 'hex')]));
    expect(() => readRevisionFile(both, 'up SQL of revision x')).toThrow(/is not valid UTF-8 \(byte offset 17\)/);
  });
});
