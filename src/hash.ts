/**
 * Hashes. node:crypto is loaded when a hash is first needed, not at start-up: loading it costs every
 * command ~3.5 ms here, and `status` on cached checksums needs none. Cache files are named by
 * `cacheName`, a 64-bit FNV-1a of their key (no crypto), and each stores its full key, checked on
 * read: two keys with one name are a cache miss, never a wrong hit.
 */
import { createRequire } from 'node:module';

let crypto: typeof import('node:crypto') | undefined;

/** node:crypto, loaded on first use. */
export function nodeCrypto(): typeof import('node:crypto') {
  return (crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto'));
}

type OneShot = (algorithm: string, data: string, encoding: 'hex') => string;

/** SHA-256 of the parts (strings as UTF-8), as hex. */
export function sha256(...parts: (string | Uint8Array)[]): string {
  const c = nodeCrypto();
  // crypto.hash (Node.js 20.12+): one call, no Hash object; ~3× faster on the short texts of revision files
  const oneShot = (c as { hash?: OneShot }).hash;
  // (joined only where no part ends inside a surrogate pair: update() encodes each part's halves apart)
  if (oneShot && parts.every((p, k) => typeof p === 'string' && (k === parts.length - 1 || !/[\uD800-\uDBFF]$/.test(p)))) {
    return oneShot('sha256', parts.length === 1 ? (parts[0] as string) : parts.join(''), 'hex');
  }
  const h = c.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** A cache file's name for `key`: 16 hex digits (FNV-1a, 64 bits, over its UTF-16 code units). */
export function cacheName(key: string): string {
  // two 32-bit halves in plain numbers: BigInt arithmetic per character is ~20× slower
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < key.length; i++) {
    lo = (lo ^ key.charCodeAt(i)) >>> 0;
    // multiply by the FNV prime 0x100000001b3: (hi, lo) * (0x100, 0x1b3)
    const a = lo * 0x1b3;
    const carry = Math.floor(a / 0x100000000);
    const newLo = a >>> 0;
    hi = (hi * 0x1b3 + lo * 0x100 + carry) >>> 0;
    lo = newLo;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
