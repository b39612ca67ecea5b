/** Cache files written atomically, and the temporary files a killed process leaves removed a day later (real files). */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sweepTemporaries, writeAtomically } from '../../src/cachedir.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-cachedir-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeAtomically', () => {
  it('writes the file and leaves no temporary file; a failed write removes its temporary file and throws', () => {
    const file = path.join(dir, 'a', 'config-0123456789abcdef.json');
    writeAtomically(file, '{"x":1}');
    expect(readFileSync(file, 'utf8')).toBe('{"x":1}');
    expect(readdirSync(path.dirname(file))).toEqual(['config-0123456789abcdef.json']);
    // the rename fails: a folder stands where the file goes
    const blocked = path.join(dir, 'b', 'entry.json');
    mkdirSync(path.join(blocked, 'inside'), { recursive: true });
    expect(() => writeAtomically(blocked, 'y')).toThrow();
    expect(readdirSync(path.dirname(blocked))).toEqual(['entry.json']);
  });

  it('removes the temporary files more than a day old, and nothing else', () => {
    const folder = path.join(dir, 'c');
    mkdirSync(folder);
    const now = Date.now();
    const day = 24 * 60 * 60 * 1000;
    const files = {
      'config-aa.json.4242': now - 2 * day, // left by a killed process (an earlier version's name): removed
      'config-dd.json.4242-0badcafe': now - 2 * day, // removed
      'pglite-template.tar.4242.0123abcd.tmp': now - 2 * day, // removed
      'config-bb.json.4243': now - 60_000, // another process may be writing it: kept
      'config-cc.json': now - 30 * day, // an entry, however old: kept (pruning is by count)
      'notes.4244.txt': now - 2 * day, // not a temporary file's name: kept
    };
    for (const [name, at] of Object.entries(files)) {
      writeFileSync(path.join(folder, name), 'x');
      utimesSync(path.join(folder, name), new Date(at), new Date(at));
    }
    sweepTemporaries(folder, now);
    expect(readdirSync(folder).sort()).toEqual(['config-bb.json.4243', 'config-cc.json', 'notes.4244.txt']);
    expect(existsSync(path.join(folder, 'config-aa.json.4242'))).toBe(false);
  });
});
