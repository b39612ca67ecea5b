/**
 * Small SQL text helpers: identifiers are validated and quoted here and nowhere else. Statements
 * that run are split and classified by the real parsers in sqlparse.ts; `splitStatements` below
 * only serves text comparisons of drizzle-kit's own output (downgen's pre-filter).
 */
import { ConfigError } from './errors.js';
import { sha256 } from './hash.js';
import { statementChange } from './sqlchange.js';

export const BREAKPOINT = '--> statement-breakpoint';

/**
 * A string as a SQL string literal, for the few places that cannot bind values (SET, printed scripts,
 * PRAGMA table functions, catalog scripts). standard_conforming_strings on, as in PostgreSQL >= 9.1 and SQLite.
 */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * PostgreSQL: a string literal for inside a dollar-quoted body (`DO $sluice$ … $sluice$`), each `$`
 * spelled `pg_catalog.chr(36)`, so no value (a revision tag, a table name) can close the body early
 * and have the rest of it run as statements of its own.
 */
export function quoteLiteralInBody(value: string): string {
  return value.split('$').map(quoteLiteral).join(' || pg_catalog.chr(36) || ');
}

/**
 * PostgreSQL's array input text for text elements (`{"a","b\\"c"}`): every element double-quoted,
 * `"` and `\` escaped with a backslash, so no element reads as NULL or splits. Pass the result
 * through a literal's quoting like any value.
 */
export function textArrayInput(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

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

/**
 * SHA-256 of a revision file's text (as UTF-8), its CRLF line ends read as LF: git's autocrlf (Git for
 * Windows' default) checks files out with CRLF and commits them with LF, so one file, unedited, has
 * both forms on a team's machines. Flyway's checksums ignore line ends alike. Any other change to the
 * text changes the checksum.
 */
export function checksum(text: string): string {
  return sha256(lfText(text));
}

/** The text with each CRLF as LF (the text itself when it has none). */
export function lfText(text: string): string {
  return text.includes('\r\n') ? text.replace(/\r\n/g, '\n') : text;
}

/**
 * The checksums an earlier sluice may have recorded of this file, before it read CRLF as LF, where they
 * differ from `checksum`'s: of its CRLF form (what it hashed on a checkout with CRLF line ends, git's
 * autocrlf: a row or down header written there matches on an LF checkout too), and of the text as it is
 * (a file with mixed line ends). The same hashes are what drizzle's migrator records (it hashes the file
 * as it is). Empty for a text without a line end.
 */
export function earlierChecksums(text: string): string[] {
  return earlierTexts(text).map((t) => sha256(t));
}

/** The texts earlierChecksums hashes: the CRLF form, and the text as it is when it is neither form. */
function earlierTexts(text: string): string[] {
  const lf = lfText(text);
  if (!lf.includes('\n')) return [];
  const crlf = lf.replace(/\n/g, '\r\n');
  return text === lf || text === crlf ? [crlf] : [crlf, text];
}

/** The text with every line end as CRLF. */
export function crlfText(text: string): string {
  return lfText(text).replace(/\n/g, '\r\n');
}

export function firstLine(statement: string): string {
  const line = statement.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('--')) ?? statement;
  return line.trim().slice(0, 120);
}

/**
 * A statement with its `;` for a script (offline SQL, a dry run): on a line of its own when the last
 * line may end in a line comment (`CREATE TABLE … -- note`), which would otherwise swallow it and join
 * the statement with the next one.
 */
export function terminated(statement: string): string {
  const s = statement.replace(/;?\s*$/, '');
  return s.slice(s.lastIndexOf('\n') + 1).includes('--') ? `${s}\n;` : `${s};`;
}

/** Why a schema name cannot be DATABASE_SCHEMA (a PostgreSQL system schema), or undefined. */
export function systemSchemaError(schema: string): string | undefined {
  if (/^pg_/i.test(schema) || schema.toLowerCase() === 'information_schema') {
    return `DATABASE_SCHEMA=${schema} is a PostgreSQL system schema; sluice never creates anything there: name your app's own schema (e.g. DATABASE_SCHEMA=app) or leave it unset for public`;
  }
  return undefined;
}

/**
 * SQLite's `PRAGMA foreign_keys = …` (drizzle-kit writes OFF before a table rebuild and ON after it), in
 * every spelling SQLite takes: `main.` before the name, `= v` or `(v)`, the value quoted or not, and
 * every boolean word (0/1, off/on, false/true, no/yes). A spelling missed here would leave the pragma
 * inside the revision's transaction, where SQLite ignores it (a rebuild's DROP then cascades). It is a
 * statement of its own: the whole statement, comments aside, must be the pragma (the same words in a
 * string of an INSERT are data, never taken out of it).
 */
export const FK_PRAGMA = /^PRAGMA\s+(?:(?:main|"main"|`main`|\[main\])\s*\.\s*)?foreign_keys\s*(?:=\s*|\(\s*)(['"]?)(OFF|ON|0|1|FALSE|TRUE|NO|YES)\1\s*\)?\s*;?$/i;

/** Whether the pragma turns foreign keys off (`off` in FK_PRAGMA's value group). */
export function turnsForeignKeysOff(value: string): boolean {
  return /^(off|0|false|no)$/i.test(value);
}

/** A statement that is a `PRAGMA foreign_keys = …` and nothing else (comments aside): whether it turns them off; undefined for any other statement. */
export function foreignKeyPragma(statement: string): { off: boolean } | undefined {
  const bare = statement
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/--[^\n]*/g, ' ')
    .trim();
  const m = FK_PRAGMA.exec(bare);
  return m ? { off: turnsForeignKeysOff(m[2]!) } : undefined;
}

/**
 * A SQLite revision's statements with its `PRAGMA foreign_keys` statements taken out: SQLite ignores
 * the pragma inside a transaction, where a revision runs, so a rebuild's `DROP TABLE` would cascade to
 * child rows with foreign keys on. Undefined when the revision has none. `before`: what turns them off
 * (to run before the transaction), `after`: what turns them back on (after it).
 */
export function foreignKeyPragmas(statements: string[]): { before: string[]; body: string[]; after: string[] } | undefined {
  const found = statements.map(foreignKeyPragma);
  // a rebuild written by hand without the pragmas (SQLite's steps: create, copy, drop the old table,
  // rename the new one to its name) runs as drizzle-kit's do: with foreign keys on, its DROP deleted
  // the child rows by ON DELETE CASCADE (was: a team's hand-written rebuild applied, children gone)
  if (!found.some(Boolean) && rebuildsByHand(statements)) return { before: ['PRAGMA foreign_keys=OFF'], body: statements, after: ['PRAGMA foreign_keys=ON'] };
  // only a revision that turns them off is a rebuild: a lone `= ON` is a no-op inside its transaction
  // (was: taken for one, and the revision ran with foreign keys off)
  if (!found.some((f) => f?.off)) return undefined;
  const after = found.some((f) => f && !f.off) ? ['PRAGMA foreign_keys=ON'] : [];
  return { before: ['PRAGMA foreign_keys=OFF'], body: statements.filter((_, i) => !found[i]), after };
}

/**
 * Whether SQLite statements drop a table and then rename another one to its name (a table rebuild), or
 * rename a table and then drop it under its new name: the older order of a rebuild (`ALTER TABLE t
 * RENAME TO t_old; CREATE TABLE t …; INSERT … SELECT … FROM t_old; DROP TABLE t_old`). SQLite (3.26 on)
 * moves the child tables' foreign keys to `t_old` with the rename, so with foreign keys on the DROP
 * deleted their rows by ON DELETE CASCADE (found by a hunt: "applied", exit 0, every child row gone);
 * run as a rebuild, the check before commit finds the keys left pointing at `t_old` and rolls it back.
 */
function rebuildsByHand(statements: string[]): boolean {
  if (!statements.some((t) => /\bdrop\s+table\b/i.test(t)) || !statements.some((t) => /\brename\s+to\b/i.test(t))) return false;
  const dropped = new Set<string>();
  const renamedTo = new Set<string>();
  for (const text of statements) {
    const change = statementChange(text, 'sqlite');
    for (const t of change.dropsTables) {
      if (renamedTo.has(t.toLowerCase())) return true;
      dropped.add(t.toLowerCase());
    }
    if (change.renamesTable && dropped.has(change.renamesTable.to.toLowerCase())) return true;
    if (change.renamesTable) renamedTo.add(change.renamesTable.to.toLowerCase());
  }
  return false;
}
