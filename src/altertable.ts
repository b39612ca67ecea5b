/**
 * A PostgreSQL `ALTER TABLE` of several actions (`ALTER TABLE t ALTER COLUMN a TYPE x, ALTER COLUMN b
 * TYPE y`) as one statement per action, each `ALTER TABLE t <action>`, for the down checks
 * (preflight.ts) that read one action per statement. Was: the second action was read as part of the
 * first one's type, the check's count failed on it and was read as no rows, and the down rounded the
 * values, exit 0 (found by a hunt). The actions are split at the commas outside parentheses and
 * brackets that PostgreSQL's own scanner finds, so a comma in a string, a quoted name or a comment
 * never splits one.
 */
import { loadParser, pgParser } from './parsers.js';

const NAME = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
/** `ALTER TABLE [IF EXISTS] [ONLY] [schema.]table `: what each action is written after. */
const HEAD = new RegExp(String.raw`^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(?:${NAME}\s*\.\s*)?${NAME}\s+`, 'i');

/** Whether `sql` may hold several actions (then alterTableActions needs the scanner: readyToSplit). */
export function maySplit(sql: string): boolean {
  return sql.includes(',') && HEAD.test(sql);
}

/** Load the scanner when one of `sqls` may need splitting (PostgreSQL only). */
export async function readyToSplit(sqls: readonly string[]): Promise<void> {
  if (sqls.some(maySplit)) await loadParser('postgresql');
}

/**
 * The actions of an `ALTER TABLE` statement, each as a statement of its own; any other statement, or
 * one the scanner cannot read, as itself. Needs the scanner loaded when maySplit (readyToSplit);
 * undefined when it is not, so a caller that cannot wait can assume the worst.
 */
export function alterTableActions(sql: string): string[] | undefined {
  const head = maySplit(sql) ? HEAD.exec(sql) : null;
  if (!head) return [sql];
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
  if (!cuts.length) return [sql];
  const lead = head[0];
  const pieces: string[] = [];
  let from = 0;
  // each action's text without its comments (a type read up to a comment would name it)
  const text = (start: number, end: number) => {
    let out = '';
    for (const [a, b] of comments.filter(([a, b]) => a >= start && b <= end)) {
      out += `${bytes.subarray(start, a).toString('utf8')} `;
      start = b;
    }
    return (out + bytes.subarray(start, end).toString('utf8')).replace(/\s+/g, ' ').trim();
  };
  for (const cut of [...cuts, bytes.length]) {
    const piece = text(from, cut);
    pieces.push(from === 0 ? piece : `${lead}${piece}`);
    from = cut + 1;
  }
  return pieces;
}
