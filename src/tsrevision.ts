/**
 * TypeScript revisions (data migrations): a revision may carry `<tag>.ts` beside drizzle-kit's
 * `<tag>.sql`, exporting `up(db)` and `down(db)`. `db` is a drizzle database bound to sluice's own
 * connection, inside the revision's transaction (PostgreSQL: drizzle-orm/node-postgres; SQLite:
 * drizzle-orm/better-sqlite3). The revision's SQL part runs first on the way up and last on the way
 * down, and both commit with the version row or roll back together (engine.ts). The checksum of such
 * a revision covers both files. Dry runs and offline SQL never import the file: they print a marked
 * gap in its place. The file is loaded with tsx, once per process and content (tsmodule.ts).
 */
import { stuck } from './stuck.js';
import type { DialectName } from './config.js';
import type { Connection } from './dialect/types.js';
import type { PreparedStep } from './prepare.js';
import { describeCause, RevisionRefused, UsageError } from './errors.js';
import { sha256 } from './hash.js';
import type { Direction } from './revision.js';
import { checksum, crlfText, earlierChecksums, firstLine, lfText } from './sql.js';
import { stoppedQuery } from './dialect/drizzle.js';
import { importTypeScript } from './tsmodule.js';
import { unawaitedQueries } from './unawaited.js';

/** The TypeScript part a prepared step runs. */
export interface TypeScriptPart {
  /** Absolute path of `<tag>.ts`. */
  file: string;
  /** As shown in messages (relative to the working directory). */
  display: string;
  /** The file's text (its checksum is part of the revision's). */
  text: string;
}

export type TypeScriptStep = (db: unknown) => unknown;

/**
 * The revision checksum stored in the version table: SHA-256 of the up SQL for a plain revision (for
 * a file with LF line ends, the hash drizzle's migrator records), and of the up SQL, a NUL separator
 * and the TypeScript part for a TypeScript revision (no revision file holds a NUL, so the split is
 * unambiguous). CRLF line ends are read as LF in both (sql.ts checksum).
 */
export function revisionChecksum(up: string, ts: string | null): string {
  if (ts === null) return checksum(up);
  return sha256(lfText(up), TS_SEPARATOR, lfText(ts));
}

/**
 * The checksums an earlier sluice may have recorded for the revision, before it read CRLF as LF (sql.ts
 * earlierChecksums): of both files' CRLF forms, and of both as they are.
 */
export function earlierRevisionChecksums(up: string, ts: string | null): string[] {
  if (ts === null) return earlierChecksums(up);
  const sums = new Set([sha256(crlfText(up), TS_SEPARATOR, crlfText(ts)), sha256(up, TS_SEPARATOR, ts)]);
  sums.delete(revisionChecksum(up, ts));
  return [...sums];
}
const TS_SEPARATOR = '\0sluice:ts\0';

/** The marked gap printed in place of a TypeScript step by dry runs and migrate-sql. */
export function typeScriptGap(display: string, direction: Direction): string {
  return `-- sluice: TypeScript step ${display} (${direction}) is not SQL: run it with sluice (make migrate-${direction})`;
}

/** The statements of a step as a script shows them: the TypeScript gap after the up SQL, before the down SQL. */
export function withGap(statements: string[], ts: TypeScriptPart | undefined, direction: Direction): string[] {
  if (!ts) return statements;
  const gap = typeScriptGap(ts.display, direction);
  return direction === 'up' ? [...statements, gap] : [gap, ...statements];
}

const loaded = new Map<string, Promise<Record<string, unknown>>>();

/**
 * Import the TypeScript part and return its `up` or `down` function. Refused (exit 6, nothing ran)
 * when the file does not load or lacks the function. Called before the run's first step.
 */
export async function loadTypeScriptStep(ts: TypeScriptPart, direction: Direction, revision: string, dialect?: DialectName): Promise<TypeScriptStep> {
  const key = `${ts.file}\0${sha256(ts.text)}`; // of the text as it is (a template literal keeps its line ends)
  let mod = loaded.get(key);
  if (!mod) {
    mod = importTypeScript(ts.file, ts.text);
    loaded.set(key, mod);
  }
  let exports: Record<string, unknown>;
  try {
    exports = await mod;
  } catch (err) {
    loaded.delete(key);
    throw new RevisionRefused(`${ts.display} (TypeScript part of ${revision}) does not load: ${describeCause(err)}; nothing ran`, revision, { cause: err });
  }
  const fromDefault = exports.default && typeof exports.default === 'object' ? (exports.default as Record<string, unknown>)[direction] : undefined;
  const fn = exports[direction] ?? fromDefault;
  if (typeof fn !== 'function') {
    throw new RevisionRefused(`${ts.display} (TypeScript part of ${revision}) exports no ${direction} function; add "export async function ${direction}(db) { ... }"; nothing ran`, revision);
  }
  const floating = await unawaitedQueries(ts.text, dialect, ts.file);
  if (floating.length) {
    // an unawaited transaction(…) does run (PostgreSQL: a savepoint on the revision's connection), but
    // past the revision: its later queries queue behind sluice's own, after the version row and COMMIT
    const lines = ts.text.split(/\r?\n/);
    const transaction = floating.every((n) => /^\s*(?:void\s+)?[A-Za-z_$][\w$]*\s*\.\s*transaction\s*\(/.test(lines[n - 1] ?? ''));
    const why = transaction
      ? "drizzle's transaction() that nothing awaits runs past the revision: its later queries would run after the revision is recorded and committed, their failures unseen"
      : 'drizzle runs a query only when it is awaited, so it would never run and the revision would be recorded without it';
    throw new RevisionRefused(
      `${ts.display} line ${floating.join(', ')}: a drizzle ${transaction ? 'transaction' : 'query'} that nothing awaits (TypeScript part of ${revision}); ${why}: put await before it; nothing ran`,
      revision,
    );
  }
  return fn as TypeScriptStep;
}

/** A TypeScript revision's function threw (or its query failed); `where` names the file and function. */
export class TypeScriptError extends Error {
  constructor(
    readonly where: string,
    readonly what: string,
    cause: unknown,
    /** Thrown because the function had ended sluice's transaction (found by Connection.markOpen). */
    readonly endedTransaction = false,
  ) {
    super(what, { cause });
  }
}

/**
 * Run a TypeScript revision's function on a drizzle handle bound to the open transaction. A failed
 * drizzle query is reported by the database's own message, with the query's first line. With `mark`
 * (engine.ts), the transaction is marked first: a function that ends it itself (a COMMIT, which README
 * forbids) is told apart after sluice's rollback (Connection.markState).
 */
export async function runTypeScript(conn: Connection, step: PreparedStep, fn: TypeScriptStep, mark?: { value?: string }, signal?: AbortSignal): Promise<void> {
  const where = `${step.typescript!.display} ${step.direction}()`;
  if (mark && conn.markTransaction) mark.value = await conn.markTransaction();
  let db: unknown;
  try {
    db = await conn.drizzle!(signal);
    const exits = withoutProcessExit();
    try {
      await unlessStuck(Promise.resolve().then(() => fn(db)));
    } finally {
      exits.restore();
    }
    if (exits.called) throw new TypeScriptError(where, exits.called, undefined);
    if (mark?.value !== undefined && !(await conn.markOpen!(mark.value))) {
      throw new TypeScriptError(where, "it ended sluice's transaction itself (a COMMIT or ROLLBACK): a TypeScript part must never commit or roll back", undefined, true);
    }
    // PostgreSQL under a non-public schema: the function must not have moved search_path.
    const guard = conn.searchPathGuard?.();
    if (guard) await conn.execute(guard);
  } catch (err) {
    if (err instanceof TypeScriptError) throw err;
    // one of its queries was stopped by the run's signal: whatever it threw then (its own error, a
    // wrapped one), it is the signal's doing (engine.ts reports the revision interrupted)
    const stopped = signal?.aborted ? stoppedQuery(db) : undefined;
    if (stopped) throw new TypeScriptError(where, describeCause(stopped), stopped);
    // drizzle wraps a failed query: "Failed query: <sql>\nparams: ..." (node-postgres), "Failed to run the query '<sql>'" (better-sqlite3)
    const inner = (err as { cause?: unknown })?.cause;
    const query = err instanceof Error && inner instanceof Error ? /^Failed (?:query: ([^\n]*)|to run the query '([\s\S]*)')/.exec(err.message) : null;
    const what = query ? `${describeCause(inner)} (query: ${firstLine(query[1] ?? query[2] ?? '')})` : describeCause(err);
    throw new TypeScriptError(where, what, query ? inner : err);
  }
}

/**
 * process.exit made to throw while a TypeScript part runs, and remembered if the part caught that throw.
 * Was: a data script's habit, `process.exit(0)` at the end of up(), ended sluice's process there, exit 0,
 * no line, the revision rolled back unrecorded and the ones after it never run (a hunt: `up` and
 * `deploy` "succeeded"). sluice's own exit (cli.ts) keeps the real function.
 */
function withoutProcessExit(): { called?: string; restore: () => void } {
  const real = process.exit;
  const state: { called?: string; restore: () => void } = { restore: () => void (process.exit = real) };
  process.exit = ((code?: number | string | null) => {
    state.called = `it called process.exit(${code ?? ''}): a TypeScript part returns (or throws) when it is done, and never ends the process, which would stop the run unrecorded`;
    throw new Error(state.called);
  }) as typeof process.exit;
  return state;
}

/**
 * `work`, or a rejection once Node.js has nothing left to run while it is still pending: the function
 * awaits a promise that nothing will ever settle (a callback-style helper that never calls resolve).
 * Was: the process ended by itself, exit 0, no line, the revision not applied and the ones after it not
 * run (found by a hunt: `up`, `deploy` and db-test "passed"). With a server connection open Node.js
 * still has something to wait for: such a function waits until stopped (Ctrl+C, SIGTERM), as before.
 */
function unlessStuck<T>(work: Promise<T>): Promise<T> {
  let onEmpty = (): void => {};
  const emptied = new Promise<never>((_, reject) => {
    onEmpty = () => {
      stuck.handled = true; // before cli.ts's last resort, which runs after this (prepended) listener
      // one more turn of the loop: a command that goes on and waits again on promises alone gets
      // another beforeExit (Node.js emits none when nothing else was scheduled: exit 0; a review)
      setImmediate(() => {});
      reject(new Error('it awaits a promise that nothing settles (Node.js had nothing left to run while it waited); make every promise it awaits resolve or reject'));
    };
    process.prependOnceListener('beforeExit', onEmpty);
  });
  return Promise.race([work, emptied]).finally(() => {
    process.removeListener('beforeExit', onEmpty);
  });
}

/** Import the TypeScript functions of the run before its first step (a file that does not load refuses the run, nothing changed). */
export async function loadTypeScript(conn: Connection, steps: PreparedStep[]): Promise<Map<PreparedStep, TypeScriptStep>> {
  const fns = new Map<PreparedStep, TypeScriptStep>();
  for (const step of steps) {
    if (!step.typescript) continue;
    if (!conn.drizzle) throw new UsageError(`revision ${step.revision.id} has a TypeScript part, which ${conn.display} cannot run`);
    fns.set(step, await loadTypeScriptStep(step.typescript, step.direction, step.revision.id, conn.dialect));
  }
  if (fns.size) await conn.drizzle!(); // loads drizzle-orm now, not inside the first revision's transaction
  return fns;
}

/** The `<tag>.ts` that `make migrate-create TS=1` writes: a ready, type-correct example for the dialect. */
export function typeScriptTemplate(o: { dialect: DialectName; revision: string; message: string; models?: string }): string {
  const pg = o.dialect === 'postgresql';
  const dbType = pg ? 'NodePgDatabase' : 'BetterSQLite3Database';
  const driver = pg ? 'drizzle-orm/node-postgres' : 'drizzle-orm/better-sqlite3';
  const run = pg ? 'db.execute' : 'db.run';
  const models = o.models ? `// import { users } from '${o.models}';` : "// import { users } from '<your models>';";
  return `/**
 * ${o.revision}: ${o.message}
 *
 * A TypeScript data migration, run by sluice. migrate-up runs ${o.revision}.sql, then up(db);
 * migrate-down runs down(db), then ${o.revision}.down.sql. Both parts and sluice's version row share one
 * transaction: a throw rolls the whole revision back, SQL part included. Never commit or roll back here.
 * \`db\` is drizzle (${driver}) on sluice's own connection${pg ? ' (search_path: DATABASE_SCHEMA)' : ''};
 * db.transaction() nests as a savepoint${pg ? '' : ' and takes a synchronous function (better-sqlite3)'}.
 * Editing this file after it was applied changes the revision's checksum.
 */
import type { ${dbType} } from '${driver}';
// import { isNull, sql } from 'drizzle-orm';
${models}

export async function up(db: ${dbType}): Promise<void> {
  // With SQL:
  //   await ${run}(sql\`UPDATE "users" SET "name" = "email" WHERE "name" IS NULL\`);
  // Typed, with your models:
  //   await db.update(users).set({ name: 'unknown' }).where(isNull(users.name));
  void db;
}

export async function down(db: ${dbType}): Promise<void> {
  // Undo up() where data allows it (this runs before ${o.revision}.down.sql), or leave it empty.
  void db;
}
`;
}
