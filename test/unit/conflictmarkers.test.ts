/** Git conflict markers left in the model files (real files in a temp folder). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { conflictMarkerIn } from '../../src/conflictmarkers.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'sluice-markers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const write = (rel: string, text: string) => {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
};

describe('conflictMarkerIn', () => {
  it('finds the first marker line of the files and folders a schema lists, with its line; not text that only looks alike', () => {
    write('clean.ts', "export const a = 1;\n// ======= a ruler in a comment\nconst s = `\n=======\n`;\nconst t = '<<<<<<<';\n");
    expect(conflictMarkerIn(root, 'clean.ts')).toBeUndefined();
    write('models/a.ts', 'export const a = 1;\n');
    write('models/nested/b.ts', 'export const b = 1;\n<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> topic\n');
    write('models/c.d.ts', '<<<<<<< HEAD\n');
    expect(conflictMarkerIn(root, 'clean.ts, models')).toEqual({ file: path.join('models', 'nested', 'b.ts'), line: 2, text: '<<<<<<< HEAD' });
    // only the closing marker left (the opening one deleted by hand)
    write('half.ts', 'export const c = 1;\n\n>>>>>>> 1a2b3c4 (add tags)\n');
    expect(conflictMarkerIn(root, 'half.ts')).toEqual({ file: 'half.ts', line: 3, text: '>>>>>>> 1a2b3c4 (add tags)' });
    // a glob or a path that is not there is left to the load to report
    expect(conflictMarkerIn(root, 'models/**/*.ts, missing.ts')).toBeUndefined();
  });
});
