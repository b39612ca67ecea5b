/**
 * Reads a revision's SQL into what the engine runs: the dialect's real parser splits it and refuses,
 * before anything runs, what would make a run lie (transaction control inside a transactional
 * revision, a search_path change under a non-public DATABASE_SCHEMA, text the parser rejects).
 */
import type { DialectName, SqliteEngine } from './config.js';
import { RevisionRefused } from './errors.js';
import type { Direction, Revision } from './revision.js';
import { firstLine, foreignKeyPragma, quoteIdent, quoteLiteral } from './sql.js';
import { parseRevision } from './parsecache.js';
import { changesPublicSchema, readyToTranslate } from './publicschema.js';
import { loadParser, SqlSyntaxError } from './sqlparse.js';
import { statementChange } from './sqlchange.js';
import { DRIZZLE_TABLE } from './store.js';
import { revisionChecksum, type TypeScriptPart } from './tsrevision.js';
import { withoutBom } from './bom.js';

/** A comment that makes a revision run statement by statement outside any transaction. */
export const NO_TRANSACTION_MARKER = /^--\s*sluice:no-transaction\b/;

export interface PreparedStep {
  revision: Revision;
  direction: Direction;
  /** The SQL to run (up or down file); empty for stamp. */
  statements: string[];
  /** Checksum of the up SQL, stored with the version row. */
  upChecksum: string;
  /** The file carries the no-transaction marker. */
  noTransaction: boolean;
  /**
   * A no-transaction file whose text leaves a transaction it opened open at its end: offline SQL adds
   * the COMMIT a run adds (a run asks the database instead: steprun.ts).
   */
  endsInTransaction?: boolean;
  /** A TypeScript revision's `<tag>.ts`: its up(db) runs after the up SQL, its down(db) before the down SQL, in the same transaction. */
  typescript?: TypeScriptPart;
}

/**
 * Read a step's SQL with the dialect's real parser and refuse, before anything runs, what would make
 * the run lie: transaction control at the top level of a transactional revision (a COMMIT inside a
 * revision commits half of it while sluice reports a rollback), a search_path change under a
 * non-public DATABASE_SCHEMA, text the parser rejects. Markers are read from comments only.
 */
export async function prepareStep(
  revision: Revision,
  direction: Direction,
  /** The up SQL; a step that does not run it (a down, a stamp) may pass only its checksum instead. */
  up: string | { checksum: string },
  downSql: string | null,
  stampOnly: boolean,
  where: { dialect: DialectName; engine?: SqliteEngine; file: string; schema?: string; root: string },
  ts?: TypeScriptPart,
): Promise<PreparedStep> {
  // A leading byte-order mark is an encoding detail, not SQL (the checksum still covers it).
  const base = { revision, direction, upChecksum: typeof up === 'string' ? revisionChecksum(up, ts?.text ?? null) : up.checksum };
  if (stampOnly) return { ...base, statements: [], noTransaction: false };
  if (direction === 'up' && typeof up !== 'string') throw new Error(`prepareStep: the up of ${revision.id} runs, so its text is needed`);
  const text = withoutBom(direction === 'up' ? (up as string) : (downSql ?? ''));
  let parsed;
  try {
    parsed = await parseRevision(text, where.dialect, where.root, where.engine);
  } catch (err) {
    if (!(err instanceof SqlSyntaxError)) throw err;
    throw new RevisionRefused(
      `${where.file} line ${err.line}: ${err.message} (${where.dialect === 'postgresql' ? "PostgreSQL's parser" : where.engine === 'libsql' ? "libSQL's parser" : 'the SQLite parser'} cannot read it, so sluice will not run it); fix the statement`,
      revision.id,
      { cause: err },
    );
  }
  // A statement the database refuses inside a transaction block (CREATE INDEX CONCURRENTLY…) makes the
  // revision non-transactional as the marker does: its author wrote it to run outside one.
  const outside = parsed.statements.find((s) => s.outsideTransaction);
  const noTransaction = parsed.comments.some((c) => NO_TRANSACTION_MARKER.test(c)) || !!outside;
  if (noTransaction && ts) {
    throw new RevisionRefused(
      `${where.file} ${outside ? `line ${outside.line} ("${firstLine(outside.text)}") cannot run in a transaction` : 'is marked sluice:no-transaction'}, but revision ${revision.id} has a TypeScript part (${ts.display}), which runs in the revision's transaction; move those statements to a revision of their own`,
      revision.id,
    );
  }
  const statements = noTransaction ? withoutLeadingCommit(parsed.statements) : withoutWrappingTransaction(parsed.statements);
  for (const s of statements) {
    if (s.transactionControl && !noTransaction) {
      throw new RevisionRefused(
        `${where.file} line ${s.line}: "${firstLine(s.text)}" controls the transaction sluice runs each revision in, so a failure after it could not be rolled back; remove it, or put "-- sluice:no-transaction" on the first line to run the file statement by statement without a transaction`,
        revision.id,
      );
    }
    if (s.setsSearchPath && where.schema && where.schema !== 'public') {
      throw new RevisionRefused(
        `${where.file} line ${s.line}: "${firstLine(s.text)}" changes search_path, which would create objects outside DATABASE_SCHEMA=${where.schema}; remove it (sluice already sets search_path to the schema)`,
        revision.id,
      );
    }
    if (where.dialect === 'postgresql' && where.schema && where.schema !== 'public' && (await changesPublicSchema(s.text, s.kind))) {
      throw new RevisionRefused(
        `${where.file} line ${s.line}: "${firstLine(s.text)}" acts on the schema public itself, outside DATABASE_SCHEMA=${where.schema} (sluice translates public. qualifiers, not the schema named alone); remove it, or write what it means for ${where.schema}; nothing ran`,
        revision.id,
      );
    }
  }
  // A non-transactional file that leaves a transaction open at its end (drizzle's migrator commits it
  // with its own) is committed before its version row: a run asks the database whether a transaction
  // is open after the last statement (steprun.ts); offline SQL goes by the text.
  const endsInTransaction = noTransaction && leavesTransactionOpen(statements, where.dialect);
  const bookkeeping = where.dialect === 'postgresql' && statements.some((s) => s.text.toLowerCase().includes(DRIZZLE_TABLE));
  if (bookkeeping) await loadParser('postgresql');
  const texts = bookkeeping ? statements.map((s) => guardDrizzleBookkeeping(s.text)) : statements.map((s) => s.text);
  // public. qualifiers are translated at run time when the schema is not public: the scanner is loaded
  // unless the parse cache told where each statement has them (publicschema.ts)
  if (where.dialect === 'postgresql') await readyToTranslate(texts, where.schema);
  return { ...base, statements: texts, noTransaction, ...(endsInTransaction ? { endsInTransaction } : {}), ...(ts ? { typescript: ts } : {}) };
}

/**
 * A statement that writes rows of drizzle's own bookkeeping table (`__drizzle_migrations`: a public
 * history cleans up drizzle's records this way) runs only where that table exists: on a database
 * drizzle's migrator managed before sluice took over it does what it always did; on a database
 * sluice made, which has no such table, it changes nothing (a DELETE or UPDATE of a table with no
 * rows) instead of failing the revision. The table's existence is read by the server at run time.
 */
export function guardDrizzleBookkeeping(text: string): string {
  const rows = statementChange(text, 'postgresql').writesRows;
  if (rows?.table !== DRIZZLE_TABLE || text.includes('$sluice_guard$')) return text;
  const name = rows.schema ? `${quoteIdent(rows.schema)}.${quoteIdent(rows.table)}` : quoteIdent(rows.table);
  return `DO $sluice_guard$ BEGIN IF to_regclass(${quoteLiteral(name)}) IS NOT NULL THEN EXECUTE ${quoteLiteral(text)}; END IF; END $sluice_guard$`;
}

/**
 * True when the file's transaction control, read in order, leaves a transaction open at its end:
 * a BEGIN / START TRANSACTION not closed after it, a COMMIT or ROLLBACK AND CHAIN (PostgreSQL: it
 * opens the next one), or on SQLite a SAVEPOINT outside a transaction (it opens one, which the
 * RELEASE of that savepoint commits).
 */
export function leavesTransactionOpen(statements: { text: string; transactionControl: boolean }[], dialect: DialectName = 'postgresql'): boolean {
  let open = false;
  let outermost: string | undefined; // SQLite: the savepoint whose release ends the transaction it opened
  const nameOf = (w: string) => w.replace(/^(?:RELEASE|SAVEPOINT)( SAVEPOINT)? /, '').replace(/^["`[]|["`\]]$/g, '');
  for (const s of statements) {
    if (!s.transactionControl) continue;
    const words = s.text.replace(/\s+/g, ' ').trim().replace(/;$/, '').trim().toUpperCase();
    if (/^(BEGIN|START TRANSACTION)\b/.test(words)) {
      open = true;
      outermost = undefined;
    } else if (/^(COMMIT|END|ABORT|ROLLBACK)\b/.test(words) && !/^ROLLBACK( TRANSACTION| WORK)? TO\b/.test(words)) {
      open = /\bAND CHAIN$/.test(words) && !/\bAND NO CHAIN$/.test(words);
      outermost = undefined;
    } else if (/^PREPARE TRANSACTION\b/.test(words)) {
      open = false;
    } else if (dialect === 'sqlite' && /^SAVEPOINT\b/.test(words) && !open) {
      open = true;
      outermost = nameOf(words);
    } else if (dialect === 'sqlite' && /^RELEASE\b/.test(words) && outermost !== undefined && nameOf(words) === outermost) {
      open = false;
      outermost = undefined;
    }
  }
  return open;
}

const PLAIN_BEGIN = /^(?:BEGIN(?:\s+(?:TRANSACTION|WORK))?|START\s+TRANSACTION)$/i;
const PLAIN_COMMIT = /^(?:COMMIT|END)(?:\s+(?:TRANSACTION|WORK))?$/i;
/** A transaction-control statement in one of the plain forms above (any spacing and case). */
const isPlain = (s: { text: string; transactionControl: boolean } | undefined, form: RegExp) => !!s && s.transactionControl && form.test(s.text.replace(/\s+/g, ' ').trim());

/**
 * A file that manages drizzle's transaction around its body asks for what sluice already does: the
 * body in one transaction. Recognised, with no other transaction control anywhere:
 * - a plain BEGIN first and COMMIT last, around the whole body;
 * - drizzle's migrator runs every file inside its own transaction, so files written for it may leave
 *   that transaction first (a plain COMMIT) and open a new one for it to commit last (a plain BEGIN),
 *   with the body, or a BEGIN … COMMIT around it, in between (homarr's history does this to turn
 *   foreign keys off for a table rebuild: `COMMIT; PRAGMA foreign_keys = OFF; BEGIN; … COMMIT;
 *   PRAGMA foreign_keys = ON; BEGIN;`). Only `PRAGMA foreign_keys` statements may stand outside the
 *   inner BEGIN … COMMIT: they are kept, and sluice runs them around the revision's transaction as
 *   for any table rebuild (foreign keys off outside it, checked before its commit).
 * The recognised statements are dropped and the body runs in the revision's transaction, with its
 * version row. Anything else (BEGIN with options, a COMMIT midway, savepoints) stays transaction
 * control and is refused by the caller.
 */
export function withoutWrappingTransaction<S extends { text: string; transactionControl: boolean }>(statements: S[]): S[] {
  if (!statements.some((s) => s.transactionControl)) return statements;
  let body = statements;
  if (body.length >= 2 && isPlain(body[0], PLAIN_COMMIT) && isPlain(body.at(-1), PLAIN_BEGIN)) body = body.slice(1, -1);
  const fkPragma = (s: S) => !s.transactionControl && foreignKeyPragma(s.text) !== undefined;
  let a = 0;
  while (a < body.length && fkPragma(body[a]!)) a++;
  let b = body.length - 1;
  while (b > a && fkPragma(body[b]!)) b--;
  if (b > a && isPlain(body[a], PLAIN_BEGIN) && isPlain(body[b], PLAIN_COMMIT)) body = [...body.slice(0, a), ...body.slice(a + 1, b), ...body.slice(b + 1)];
  return body.some((s) => s.transactionControl) ? statements : body;
}

/**
 * A non-transactional revision runs with no transaction open, so a plain COMMIT as its first
 * statement (a file leaving drizzle's transaction) has nothing to commit: PostgreSQL only warns,
 * SQLite fails ("no transaction is active"). It is dropped.
 */
export function withoutLeadingCommit<S extends { text: string; transactionControl: boolean }>(statements: S[]): S[] {
  return isPlain(statements[0], PLAIN_COMMIT) ? statements.slice(1) : statements;
}
