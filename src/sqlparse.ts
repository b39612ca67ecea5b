/**
 * Statement splitting and classification with real parsers, never regexes:
 *  - PostgreSQL: libpg-query, PostgreSQL's own parser (and scanner) compiled to WASM. What it splits
 *    and how it reads comments, dollar quotes and DO bodies is what the server does.
 *  - SQLite: sql-parser-cst, a maintained concrete-syntax-tree parser with an SQLite dialect (SQLite
 *    exposes no tokenizer through better-sqlite3, and its WASM build does not load under Node 20).
 * A revision file is a list of statements; comments (sluice's headers, drizzle-kit's breakpoint
 * markers, whatever a message holds) are comments and can never become statements.
 */
import type { DialectName, SqliteEngine } from './config.js';
import { openSqliteDatabase } from './dialect/sqlitedb.js';
import { loadParser, pgParser, sqliteParser } from './parsers.js';

export { loadParser, pgParser } from './parsers.js';

export interface SqlStatement {
  /** The statement's text as written (no trailing semicolon). */
  text: string;
  /** 1-based line of its first token in the file. */
  line: number;
  /** Parser node type: `CreateStmt`, `TransactionStmt`... (PostgreSQL), `create_table_stmt`... (SQLite). */
  kind: string;
  /** Transaction control (BEGIN, COMMIT, ROLLBACK, END, SAVEPOINT, RELEASE, SET TRANSACTION, PREPARE TRANSACTION). */
  transactionControl: boolean;
  /** PostgreSQL: the statement changes search_path (SET / RESET search_path). */
  setsSearchPath: boolean;
  /** The database refuses to run it inside a transaction block (CREATE/DROP INDEX CONCURRENTLY, VACUUM…). */
  outsideTransaction: boolean;
}

/** PostgreSQL statements that cannot run inside a transaction block, read from the parse tree. */
function pgOutsideTransaction(kind: string, node: Record<string, any>): boolean {
  if (kind === 'IndexStmt' || kind === 'DropStmt') return node.concurrent === true;
  if (kind === 'ReindexStmt') return (node.params ?? []).some((p: any) => p.DefElem?.defname === 'concurrently');
  return ['VacuumStmt', 'CreatedbStmt', 'DropdbStmt', 'AlterSystemStmt', 'CreateTableSpaceStmt', 'DropTableSpaceStmt'].includes(kind);
}

export interface ParsedSql {
  statements: SqlStatement[];
  /** Every comment's text, in order (`-- sluice:...` markers are read from here only). */
  comments: string[];
  /** The 1-based line each comment starts on, in the same order (migrate-lint's per-statement silencing). */
  commentLines: number[];
}

/** The text does not parse; `line` is 1-based. */
export class SqlSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Load a dialect's parser now (SQLite's: ~20–75 ms of CPU, see sqliteParser), e.g. while drizzle-kit runs in child
 * processes, and parse a few statements of the kinds drizzle-kit writes: a parser's first parses
 * compile its code (the PostgreSQL parser's WebAssembly functions, lazily: ~20 ms of CPU for the first,
 * ~1–2 for the second), which would otherwise come after drizzle-kit, in the down's check. SQLite's
 * parser comes compiled from the bin's code cache: its first parse costs ~3 ms more than the next
 * (~4 ms of CPU each for this text), so it is parsed once.
 */
export async function warmParser(dialect: DialectName): Promise<void> {
  if (dialect === 'postgresql') await loadParser(dialect);
  else sqliteParser();
  for (let i = 0; i < (dialect === 'postgresql' ? 2 : 1); i++) parseSql(WARM_UP[dialect], dialect);
}
const WARM_UP: Record<DialectName, string> = {
  postgresql: `CREATE TABLE "t" ("id" serial PRIMARY KEY NOT NULL, "n" text DEFAULT 'x', CONSTRAINT "t_n_unique" UNIQUE("n"));
--> statement-breakpoint
ALTER TABLE "t" ADD COLUMN "c" integer;--> statement-breakpoint
ALTER TABLE "t" ADD CONSTRAINT "f" FOREIGN KEY ("c") REFERENCES "public"."t"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "i" ON "t" USING btree ("n");--> statement-breakpoint
INSERT INTO "t" ("n") VALUES ('a');--> statement-breakpoint
UPDATE "t" SET "n" = 'b' WHERE "id" = 1;--> statement-breakpoint
ALTER TABLE "t" DROP COLUMN "c";--> statement-breakpoint
DROP TABLE "t" CASCADE;`,
  sqlite: `CREATE TABLE \`t\` (\`id\` integer PRIMARY KEY NOT NULL, \`n\` text DEFAULT 'x');
--> statement-breakpoint
ALTER TABLE \`t\` ADD \`c\` integer REFERENCES t(id);--> statement-breakpoint
CREATE UNIQUE INDEX \`i\` ON \`t\` (\`n\`);--> statement-breakpoint
INSERT INTO \`t\`(\`n\`) SELECT \`n\` FROM \`t\`;--> statement-breakpoint
UPDATE \`t\` SET \`n\` = 'b' WHERE \`id\` = 1;--> statement-breakpoint
ALTER TABLE \`t\` DROP COLUMN \`c\`;--> statement-breakpoint
DROP TABLE \`t\`;`,
};

/** `engine` libsql: a SQLite statement sql-parser-cst cannot read is shown to libSQL's compiler, not SQLite's. */
export function parseSql(text: string, dialect: DialectName, engine?: SqliteEngine): ParsedSql {
  return dialect === 'postgresql' ? parsePostgres(text) : parseSqlite(text, engine);
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line += 1;
  return line;
}

// ---------------------------------------------------------------- PostgreSQL

export interface PgRawStmt {
  stmt?: Record<string, Record<string, unknown>>;
  stmt_location?: number;
  stmt_len?: number;
}

function parsePostgres(text: string): ParsedSql {
  const parser = pgParser();
  const bytes = Buffer.from(text, 'utf8');
  let result: { stmts?: PgRawStmt[] };
  if (text.trim() === '') return { statements: [], comments: [], commentLines: [] };
  try {
    result = parser.parseSync(text) as { stmts?: PgRawStmt[] };
  } catch (err) {
    const details = (err as { sqlDetails?: { cursorPosition?: number; message?: string } }).sqlDetails;
    const at = details?.cursorPosition ?? 0;
    const error = new SqlSyntaxError(lineAt(text, bytes.subarray(0, at).toString('utf8').length), details?.message ?? (err as Error).message);
    // drizzle's migrator runs each breakpoint-separated part on its own, so a part may lack its
    // semicolon (real histories do); read the parts the same way. A part that does not parse alone is the error.
    return byBreakpoints(text, error, parsePostgres);
  }
  const statements: SqlStatement[] = [];
  for (const raw of result.stmts ?? []) {
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    const before = bytes.subarray(0, start).toString('utf8');
    const piece = bytes.subarray(start, end).toString('utf8');
    const lead = piece.length - piece.trimStart().length;
    const kind = raw.stmt ? Object.keys(raw.stmt)[0]! : 'Unknown';
    const node = raw.stmt?.[kind] ?? {};
    const varName = kind === 'VariableSetStmt' ? String(node.name ?? '').toLowerCase() : '';
    statements.push({
      text: piece.trim(),
      line: lineAt(text, before.length + lead),
      kind,
      transactionControl: kind === 'TransactionStmt' || (kind === 'VariableSetStmt' && (varName === 'transaction' || varName === 'session characteristics')),
      // SET/RESET search_path, RESET ALL and DISCARD ALL all move it (set_config() and dynamic SQL are caught at run time).
      setsSearchPath: (kind === 'VariableSetStmt' && (varName === 'search_path' || node.kind === 'VAR_RESET_ALL')) || (kind === 'DiscardStmt' && node.target !== 'DISCARD_TEMP' && node.target !== 'DISCARD_SEQUENCES' && node.target !== 'DISCARD_PLANS'),
      outsideTransaction: pgOutsideTransaction(kind, node),
    });
  }
  return { statements, ...pgComments(text) };
}

function pgComments(text: string): Pick<ParsedSql, 'comments' | 'commentLines'> {
  const bytes = Buffer.from(text, 'utf8');
  const tokens = pgParser()
    .scanSync(text)
    .tokens.filter((t) => t.tokenName === 'SQL_COMMENT' || t.tokenName === 'C_COMMENT');
  // Token offsets are in bytes (in order); a newline is one byte in UTF-8, so lines are counted on the bytes.
  let line = 1;
  let at = 0;
  const lineOf = (offset: number) => {
    for (; at < offset; at++) if (bytes[at] === 10) line += 1;
    return line;
  };
  return { comments: tokens.map((t) => bytes.subarray(t.start, t.end).toString('utf8')), commentLines: tokens.map((t) => lineOf(t.start)) };
}

// ---------------------------------------------------------------- SQLite

type CstNode = { type?: string; range?: [number, number]; leading?: CstNode[]; trailing?: CstNode[]; text?: string; [k: string]: unknown };
const SQLITE_TRANSACTION = new Set(['start_transaction_stmt', 'commit_transaction_stmt', 'rollback_transaction_stmt', 'savepoint_stmt', 'release_savepoint_stmt']);

function parseSqlite(text: string, engine?: SqliteEngine): ParsedSql {
  try {
    return sqliteTree(text);
  } catch (err) {
    if (!(err instanceof SqlSyntaxError)) throw err;
    return parseSqliteByBreakpoints(text, err, engine);
  }
}

/** sql-parser-cst's reading of the whole text; SqlSyntaxError where it cannot. */
function sqliteTree(text: string): ParsedSql {
  const { parse } = sqliteParser();
  let cst: CstNode;
  try {
    cst = parse(text, { dialect: 'sqlite', includeRange: true, includeComments: true }) as unknown as CstNode;
  } catch (err) {
    const message = (err as Error).message;
    const at = /--> [^:\n]*:(\d+):(\d+)/.exec(message);
    throw new SqlSyntaxError(at ? Number(at[1]) : 1, message.split('\n')[0]!.replace(/^Syntax Error: /, 'syntax error: '));
  }
  const statements: SqlStatement[] = [];
  for (const s of (cst.statements as CstNode[]) ?? []) {
    if (s.type === 'empty' || !s.range) continue;
    statements.push({
      text: text.slice(s.range[0], s.range[1]).trim(),
      line: lineAt(text, s.range[0]),
      kind: s.type!,
      transactionControl: SQLITE_TRANSACTION.has(s.type!),
      setsSearchPath: false,
      outsideTransaction: s.type === 'vacuum_stmt',
    });
  }
  const comments: { at: number; text: string }[] = [];
  const seen = new Set<object>();
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) return node.forEach(walk);
    const n = node as CstNode;
    for (const c of [...(n.leading ?? []), ...(n.trailing ?? [])]) {
      if ((c.type === 'line_comment' || c.type === 'block_comment') && c.range) comments.push({ at: c.range[0], text: c.text ?? '' });
    }
    for (const [k, v] of Object.entries(n)) if (k !== 'leading' && k !== 'trailing' && v && typeof v === 'object') walk(v);
  };
  walk(cst);
  comments.sort((a, b) => a.at - b.at);
  return { statements, comments: comments.map((c) => c.text), commentLines: comments.map((c) => lineAt(text, c.at)) };
}

/**
 * SQLite accepts some SQL sql-parser-cst does not (table constraints without commas between them,
 * which drizzle-kit histories contain; libSQL's ALTER COLUMN). A file drizzle-kit wrote with breakpoints is read chunk by
 * chunk, as drizzle's own migrator splits it (a file without breakpoints is one chunk); a chunk the parser cannot read is shown to SQLite's own
 * compiler (an in-memory database: `prepare` parses without running): a syntax error or more than
 * one statement is refused as before; otherwise it is one statement, classified by its first keyword.
 */
function parseSqliteByBreakpoints(text: string, error: SqlSyntaxError, engine: SqliteEngine | undefined): ParsedSql {
  return byBreakpoints(text, error, sqliteTree, (chunk, err) => {
    const body = chunk.trim();
    // One statement only: a second one after it is not looked at by the compiler (its tail check stops
    // at an unterminated string)
    if (secondStatement(body, engine)) throw err;
    const verdict = sqliteCompiles(body, engine);
    if (verdict !== true) throw new SqlSyntaxError(err.line, `syntax error: ${verdict}`);
    const first = /^\s*(?:--[^\n]*\n\s*|\/\*[\s\S]*?\*\/\s*)*([A-Za-z]+)/.exec(chunk)?.[1]?.toUpperCase() ?? '';
    return {
      text: body.replace(/;\s*$/, ''),
      line: lineAt(chunk, chunk.length - chunk.trimStart().length),
      kind: 'sqlite_statement',
      transactionControl: ['BEGIN', 'COMMIT', 'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE'].includes(first),
      setsSearchPath: false,
      outsideTransaction: first === 'VACUUM',
    };
  });
}

/**
 * A file read part by part between drizzle-kit's breakpoints, as drizzle's migrator splits it, after
 * the whole file did not parse. A part that does not parse either is `error` (with its own line), unless
 * `unparsed` accepts it as one statement.
 */
function byBreakpoints(
  text: string,
  error: SqlSyntaxError,
  parse: (chunk: string) => ParsedSql,
  unparsed?: (chunk: string, err: SqlSyntaxError) => SqlStatement,
): ParsedSql {
  const marker = '--> statement-breakpoint';
  // without breakpoints the whole file is one part: accepted only as one statement the engine's compiler
  // reads, else the parser's own error stands
  if (!text.includes(marker)) {
    if (!unparsed || !text.trim()) throw error;
    try {
      return { statements: [unparsed(text, error)], comments: [], commentLines: [] };
    } catch (err) {
      throw err instanceof SqlSyntaxError ? error : err;
    }
  }
  const out: ParsedSql = { statements: [], comments: [], commentLines: [] };
  let offset = 0;
  for (const chunk of text.split(marker)) {
    const lineOffset = lineAt(text, offset) - 1;
    offset += chunk.length + marker.length;
    let parsed: ParsedSql;
    try {
      parsed = parse(chunk);
    } catch (err) {
      if (!(err instanceof SqlSyntaxError)) throw err;
      if (!chunk.trim()) continue;
      if (!unparsed) throw new SqlSyntaxError(lineOffset + err.line, err.message);
      const st = unparsed(chunk, new SqlSyntaxError(lineOffset + err.line, err.message));
      out.statements.push({ ...st, line: st.line + lineOffset });
      continue;
    }
    for (const st of parsed.statements) out.statements.push({ ...st, line: st.line + lineOffset });
    out.comments.push(...parsed.comments);
    out.commentLines.push(...parsed.commentLines.map((l) => l + lineOffset));
  }
  return out;
}

/** True when SQLite's compiler reads `sql` as one statement (missing tables are fine); else its message. */
function sqliteCompiles(sql: string, engine: SqliteEngine | undefined): true | string {
  const read = sqliteReads(sql, engine);
  return read === 'statement' || read === 'empty' ? true : read;
}

/**
 * How SQLite's compiler reads `sql` (an in-memory database: `prepare` parses without running):
 * `statement` (one, maybe naming tables that are not there), `empty` (blanks and comments only), or
 * its syntax error (`incomplete input` for an unfinished statement, string or comment).
 */
function sqliteReads(sql: string, engine: SqliteEngine | undefined): 'statement' | 'empty' | string {
  const db = openSqliteDatabase(engine, ':memory:');
  try {
    db.prepare(sql);
    return 'statement';
  } catch (err) {
    const message = (err as Error).message;
    if (/contains no statements/i.test(message)) return 'empty';
    return /syntax error|incomplete input|more than one statement|unrecognized token/i.test(message) ? message : 'statement';
  } finally {
    db.close();
  }
}

/**
 * Whether `body` holds a statement after its first, as SQLite reads it: the first `;` up to which
 * SQLite reads a whole statement ends the first one (a `;` in a comment, a string or a trigger's
 * body leaves it unfinished), and anything after it but blanks and comments is a second statement.
 * Blanks and comments are told by the parser (libSQL's compiler accepts an empty text as a statement).
 */
function secondStatement(body: string, engine: SqliteEngine | undefined): boolean {
  for (let i = body.indexOf(';'); i !== -1; i = body.indexOf(';', i + 1)) {
    const head = body.slice(0, i + 1);
    // ('statement', not merely compiling: SQLite reads `/* a;` as a whole comment, the parser as unfinished)
    if (blank(head) || sqliteReads(head, engine) !== 'statement') continue;
    return !blank(body.slice(i + 1));
  }
  return false; // no `;` ends one: a single statement without its `;`, or text the compiler refuses next
}

/** Only blanks and comments, as the SQLite parser reads them (text it cannot read is not blank). */
function blank(text: string): boolean {
  if (!text.trim()) return true;
  try {
    return sqliteTree(text).statements.length === 0;
  } catch {
    return false;
  }
}
