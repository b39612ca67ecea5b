/**
 * A PostgreSQL `ALTER TABLE` as the down checks (preflight.ts) read it: one statement per action
 * (`ALTER TABLE t ALTER COLUMN a TYPE x, ALTER COLUMN b TYPE y` as `ALTER TABLE t ALTER COLUMN a TYPE
 * x` and `ALTER TABLE t ALTER COLUMN b TYPE y`), without its comments. Was: the second action was read
 * as part of the first one's type, the check's count failed on it and was read as no rows, and the down
 * rounded the values, exit 0 (found by a hunt); a comment holding `;`, `"` or the word "using" kept a
 * one-action statement from being recognised at all (found by a review). The actions are split at the
 * commas outside parentheses and brackets, and the comments found, by PostgreSQL's own scanner, so a
 * comma or a dash in a string or a quoted name is never taken for one.
 */
import { loadParser, pgParser } from './parsers.js';

/** A name as PostgreSQL reads it: quoted, or plain (letters, non-ASCII ones too, digits, `_`, `$`). */
export const SQL_NAME = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_\u0080-\uFFFF][A-Za-z0-9_$\u0080-\uFFFF]*)`;
/** `ALTER TABLE [IF EXISTS] [ONLY] [schema.]table `: what each action is written after. */
const HEAD = new RegExp(String.raw`^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(?:${SQL_NAME}\s*\.\s*)?${SQL_NAME}\s+`, 'i');

/** Whether alterTableActions must scan `sql` (then it needs the scanner: readyToSplit): an ALTER with a comma or a comment. */
export function needsScan(sql: string): boolean {
  return /^\s*ALTER\s/i.test(sql) && /,|--|\/\*/.test(sql);
}

/** Load the scanner when one of `sqls` needs it (PostgreSQL only). */
export async function readyToSplit(sqls: readonly string[]): Promise<void> {
  if (sqls.some(needsScan)) await loadParser('postgresql');
}

/**
 * The actions of an `ALTER TABLE` statement, each as a statement of its own, without comments; any
 * other statement as itself (an other ALTER without its comments); one the scanner cannot read as
 * itself. Needs the scanner loaded when needsScan (readyToSplit); undefined when it is not, so a
 * caller that cannot wait can assume the worst.
 */
export function alterTableActions(sql: string): string[] | undefined {
  if (!needsScan(sql)) return [sql];
  let tokens;
  try {
    tokens = pgParser().scanSync(sql).tokens;
  } catch (err) {
    if (err instanceof Error && /before loadParser/.test(err.message)) return undefined;
    return [sql]; // does not scan: the server reports it as it is
  }
  const bytes = Buffer.from(sql, 'utf8');
  const cuts: number[] = [];
  const comments: [number, number][] = [];
  let depth = 0;
  for (const t of tokens) {
    if (t.tokenName === 'SQL_COMMENT' || t.tokenName === 'C_COMMENT') comments.push([t.start, t.end]);
    else if (t.text === '(' || t.text === '[') depth++;
    else if (t.text === ')' || t.text === ']') depth--;
    else if (t.text === ',' && depth === 0) cuts.push(t.start);
  }
  // a span's text without its comments, each one a space; the rest (quoted names, strings) as written
  const text = (start: number, end: number) => {
    let out = '';
    for (const [a, b] of comments) {
      if (a < start || b > end) continue;
      out += `${bytes.subarray(start, a).toString('utf8')} `;
      start = b;
    }
    return (out + bytes.subarray(start, end).toString('utf8')).trim();
  };
  const whole = text(0, bytes.length);
  const head = HEAD.exec(whole);
  if (!head || !cuts.length) return [whole];
  const pieces: string[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    const piece = text(from, cut);
    pieces.push(from === 0 ? piece : `${head[0]}${piece}`);
    from = cut + 1;
  }
  return pieces;
}
