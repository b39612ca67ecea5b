/**
 * Small SQL text helpers. No parsing: statements are split on drizzle-kit's breakpoint marker, and
 * identifiers are validated and quoted here and nowhere else.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from './errors.js';

export const BREAKPOINT = '--> statement-breakpoint';

/** Quote an identifier for PostgreSQL and SQLite (both accept double quotes). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Validate a user-given identifier (schema or table name): letters, digits and underscores, not starting with a digit, at most 63 characters. */
export function plainIdentifier(value: string, what: string): string {
  if (!PLAIN_IDENTIFIER.test(value)) {
    throw new ConfigError(
      `${what} "${value.replace(/[^\x20-\x7e]/g, '?')}" is not a plain identifier; use letters, digits and underscores (not starting with a digit, at most 63 characters)`,
    );
  }
  return value;
}

/** Split a migration file into statements on drizzle-kit's breakpoint marker; blank pieces are dropped. A file without markers is one piece (the database runs it as a script). */
export function splitStatements(sql: string): string[] {
  return sql
    .split(BREAKPOINT)
    .map((s) => s.trim())
    .filter((s) => s.length > 0 && !isOnlyComments(s));
}

/** True when the text holds nothing but SQL comments and white space. */
export function isOnlyComments(sql: string): boolean {
  return sql
    .split('\n')
    .map((l) => l.trim())
    .every((l) => l === '' || l.startsWith('--'));
}

export function checksum(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function firstLine(statement: string): string {
  const line = statement.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('--')) ?? statement;
  return line.trim().slice(0, 120);
}

/**
 * Rewrite the schema qualifier `"from".` to `"to".` in SQL text, outside string literals, dollar-quoted
 * bodies and comments (like SQLAlchemy's schema_translate_map). drizzle-kit qualifies some names with
 * "public" (foreign-key targets, enum types); with this the same file runs in any schema.
 */
export function translateSchema(sql: string, from: string, to: string): string {
  if (from === to) return sql;
  const needle = `${quoteIdent(from)}.`;
  const replacement = `${quoteIdent(to)}.`;
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    let end = -1;
    if (c === "'") end = closing(sql, i + 1, "'");
    else if (c === '-' && next === '-') end = lineEnd(sql, i);
    else if (c === '/' && next === '*') end = blockEnd(sql, i);
    else if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i, i + 64));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        end = close < 0 ? sql.length : close + tag[0].length;
      }
    } else if (c === '"') {
      if (sql.startsWith(needle, i)) {
        out += replacement;
        i += needle.length;
        continue;
      }
      end = closing(sql, i + 1, '"');
    }
    if (end > i) {
      out += sql.slice(i, end);
      i = end;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

/** Index after the closing quote, honouring doubled quotes. */
function closing(sql: string, from: number, quote: string): number {
  let j = from;
  while (j < sql.length) {
    if (sql[j] === quote) {
      if (sql[j + 1] === quote) j += 2;
      else return j + 1;
    } else j += 1;
  }
  return sql.length;
}

function lineEnd(sql: string, from: number): number {
  const nl = sql.indexOf('\n', from);
  return nl < 0 ? sql.length : nl;
}

function blockEnd(sql: string, from: number): number {
  const close = sql.indexOf('*/', from + 2);
  return close < 0 ? sql.length : close + 2;
}
