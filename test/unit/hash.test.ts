/** hash.ts: the cache-name hash is 64-bit FNV-1a (checked against a BigInt reference), sha256 is SHA-256. */
import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { cacheName, sha256 } from '../../src/hash.js';

const fnv1a64 = (s: string) => {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
};

it('cacheName is FNV-1a 64 over the UTF-16 code units, 16 hex digits', () => {
  expect(cacheName('a')).toBe('af63dc4c8601ec8c'); // the published FNV-1a 64 test vector
  expect(cacheName('')).toBe('cbf29ce484222325');
  for (const s of ['foobar', '/work/app/drizzle/postgresql', 'é€😀'.repeat(50), 'x'.repeat(10000), '["v4","/a/drizzle.config.ts",137,1.5,[]]']) {
    expect(cacheName(s)).toBe(fnv1a64(s));
  }
});

it('sha256 of several parts is the SHA-256 of their concatenation', () => {
  const want = createHash('sha256').update('up\0sluice:ts\0ts').digest('hex');
  expect(sha256('up', '\0sluice:ts\0', 'ts')).toBe(want);
  expect(sha256(new TextEncoder().encode('abc'))).toBe(createHash('sha256').update('abc').digest('hex'));
  // strings only (the one-shot path) and mixed parts (the Hash object) agree, non-ASCII text too
  for (const parts of [['é😀\n', 'CREATE TABLE "ü" (x int);'], ['', ''], ['x'.repeat(100_000)], ['x\uD800', '\uDC00y']]) {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    expect(sha256(...parts), JSON.stringify(parts)).toBe(h.digest('hex'));
    expect(sha256(new TextEncoder().encode(parts[0]!), ...parts.slice(1))).toBe(sha256(...parts));
  }
});
