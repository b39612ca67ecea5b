/**
 * v8modules.cjs compiledText: the text a package file is compiled as, made in one copy, is exactly
 * what the three steps it replaced made (hashbang blanked, import()s rewritten, wrapped) (a pack's code was compiled from that text, and V8
 * checks only its length): without a hashbang or import()s, with either, with a CRLF or no line end after
 * the hashbang, and for drizzle-kit's own bin with the positions the lexer finds.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const SRC = path.resolve(import.meta.dirname, '..', '..', 'src');
const { compiledText, importPositions } = require(path.join(SRC, 'v8modules.cjs')) as {
  compiledText(content: string, positions: number[]): string;
  importPositions(text: string): number[] | undefined;
};
const { wrap } = require(path.join(SRC, 'v8cache.cjs')) as { wrap(s: string): string };

/** The hashbang blanked as the regular expression did before (earlier packs were compiled from this text). */
const withoutHashbang = (text: string) => (text.startsWith('#!') ? text.replace(/^#![^\r\n]*/, (line) => ' '.repeat(line.length)) : text);
/** Each import() at `positions` calling the stand-in, as the three steps did it. */
function rewrite(text: string, positions: number[]): string {
  let out = '';
  let from = 0;
  for (const at of positions) {
    out += text.slice(from, at) + '__sluiceImport';
    from = at + 'import'.length;
  }
  return out + text.slice(from);
}
const reference = (content: string, positions: number[]) => wrap(rewrite(withoutHashbang(content), positions));

it('is wrap(rewrite(withoutHashbang(text))) for every shape of file', () => {
  const cases = [
    "'use strict';\nexports.a = 1;\n",
    "#!/usr/bin/env node\nconst m = import('x');\nmodule.exports = () => import('y');\n",
    "#!/usr/bin/env node\r\nimport('x');\r\n",
    '#!/usr/bin/env node',
    "const a = import('a'); const b = import('b');",
    '',
  ];
  for (const content of cases) {
    const positions = importPositions(withoutHashbang(content));
    expect(positions, JSON.stringify(content)).toBeDefined();
    expect(compiledText(content, positions!), JSON.stringify(content)).toBe(reference(content, positions!));
  }
  // the stand-in replaces each import keyword, nothing else
  expect(compiledText("#!x\nimport('a')", [4])).toBe(wrap("   \n__sluiceImport('a')"));
});

it("is the same text for drizzle-kit's bin (3.7 MB, a hashbang and dozens of import()s)", () => {
  const bin = realpathSync(path.join(path.dirname(require.resolve('drizzle-kit/api')), 'bin.cjs'));
  const content = readFileSync(bin, 'utf8');
  const positions = importPositions(withoutHashbang(content))!;
  expect(positions.length).toBeGreaterThan(10);
  expect(compiledText(content, positions) === reference(content, positions)).toBe(true);
});

it("v8cache.cjs wrappedText, the bin's text of its own files, is wrap(withoutHashbang(file)) read in one buffer; a file cut short or grown meanwhile is undefined", () => {
  const { wrappedText } = require(path.join(SRC, 'v8cache.cjs')) as { wrappedText(fd: number, size: number): string | undefined };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-wrapped-'));
  try {
    const cases = ["'use strict';\nexports.a = 1;\n", '#!/usr/bin/env node\nexports.b = 2;\n', '#!/usr/bin/env node\r\nx();\r\n', '#!/usr/bin/env node', '', readFileSync(path.join(SRC, 'bin.cjs'), 'latin1')];
    for (const [i, content] of cases.entries()) {
      const file = path.join(dir, `f${i}.cjs`);
      writeFileSync(file, content, 'latin1');
      const fd = openSync(file, 'r');
      try {
        expect(wrappedText(fd, content.length), JSON.stringify(content.slice(0, 40))).toBe(wrap(withoutHashbang(content)));
        expect(wrappedText(fd, content.length + 1)).toBeUndefined(); // shorter than its fstat said
        if (content.length) expect(wrappedText(fd, content.length - 1)).toBeUndefined(); // longer
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
