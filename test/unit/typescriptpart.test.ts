/**
 * The `-- sluice:typescript-part` line (downheader.ts typescriptPartOf): read among the comment lines a
 * file starts with, where migrate-create --ts and migrate-downs write it; never from SQL further down.
 */
import { describe, expect, it } from 'vitest';
import { typescriptPartLine, typescriptPartOf } from '../../src/downheader.js';

const CUSTOM = '-- Custom SQL migration file, put your code below! --';

describe('typescriptPartOf', () => {
  it("reads the up's line under drizzle-kit's comment, and the down's in its header, with SQL after them", () => {
    expect(typescriptPartOf(`${CUSTOM}\n${typescriptPartLine('0004_backfill.ts', 'up')}\nALTER TABLE "users" ADD COLUMN "slug" text;\n`)).toBe('0004_backfill.ts');
    const down = ['-- sluice:down 0004_backfill', '-- message: backfill', typescriptPartLine('0004_backfill.ts'), '', '-- Empty revision: …', 'ALTER TABLE "users" DROP COLUMN "slug";'].join('\n');
    expect(typescriptPartOf(down)).toBe('0004_backfill.ts');
    // a byte-order mark, CRLF line ends and blank lines among the comments
    expect(typescriptPartOf(`\uFEFF${CUSTOM}\r\n\r\n${typescriptPartLine('0004_backfill.ts', 'up')}\r\n`)).toBe('0004_backfill.ts');
  });

  it('does not take the words for the line once the SQL has begun: in a string, a function body or a block comment', () => {
    const line = typescriptPartLine('0004_backfill.ts', 'up');
    expect(typescriptPartOf(`INSERT INTO "notes" ("body") VALUES ('\n${line}\n');\n`)).toBeUndefined();
    expect(typescriptPartOf(`${CUSTOM}\nCREATE FUNCTION f() RETURNS void AS $$\n${line}\n$$ LANGUAGE sql;\n`)).toBeUndefined();
    expect(typescriptPartOf(`/*\n${line}\n*/\nSELECT 1;\n`)).toBeUndefined();
    expect(typescriptPartOf(`${CUSTOM}\nSELECT 1;\n${line}\n`)).toBeUndefined();
  });

  it('none in a file without it, an empty file, or none at all', () => {
    expect(typescriptPartOf(`${CUSTOM}\n`)).toBeUndefined();
    expect(typescriptPartOf('')).toBeUndefined();
    expect(typescriptPartOf(null)).toBeUndefined();
  });
});
