/**
 * One root error with data-carrying subclasses. Every error a user can cause is a SluiceError with a
 * one-line message that names what is wrong and what to do; `exitCode` follows the published table
 * (README "Exit codes"). Anything else reaching the CLI is a bug and exits with 1.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  migrationFailed: 3,
  integrity: 4,
  connection: 5,
  refused: 6,
  connectionLost: 7,
  /** migrate-check: the models and the history disagree. */
  modelsDiffer: 8,
  /** migrate-check: the live schema differs from what its applied revisions build. */
  drift: 9,
  /** migrate-check: the history has several heads (forked). */
  multipleHeads: 10,
  /** migrate-lint: a revision has findings (locking, data loss, irreversible). */
  lintFindings: 11,
  /** Stopped by Ctrl+C (SIGINT), as shells report a process ended by it (128 + 2). */
  interrupted: 130,
  /** Stopped by SIGTERM (docker stop, a cancelled CI job, Kubernetes), 128 + 15. */
  terminated: 143,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class SluiceError extends Error {
  readonly exitCode: ExitCodeValue;
  /**
   * A run's failure without where the database stands (`revision X (up) failed at statement …: …`),
   * when known: what db-test and migrate-check report of a run on their scratch database.
   */
  readonly failure?: string;
  constructor(message: string, exitCode: ExitCodeValue = ExitCode.usage, options?: { cause?: unknown; failure?: string }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
    if (options?.failure !== undefined) this.failure = options.failure;
  }
}

/** What failed, without where the database then stood when the error knows it (failure), else its first line. */
export function failureOf(err: unknown): string {
  return err instanceof SluiceError && err.failure !== undefined ? err.failure : describeCause(err);
}

/** Bad configuration or environment (DATABASE_URL, DATABASE_SCHEMA, drizzle.config.ts, folders). */
export class ConfigError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** Bad command-line input. */
export class UsageError extends SluiceError {}

/** `revision`: the text given (was the error's `name`, which then held it instead of "UnknownRevision": a hunt). */
export class UnknownRevision extends SluiceError {
  constructor(
    readonly revision: string,
    readonly candidates: string[],
  ) {
    const hint = candidates.length ? `; did you mean ${candidates.join(', ')}?` : '; run `make migrate-history` to list revisions';
    super(`unknown revision "${revision}"${hint}`);
  }
}

export class AmbiguousRevision extends SluiceError {
  constructor(
    readonly revision: string,
    readonly matches: string[],
  ) {
    super(`revision "${revision}" is ambiguous: it matches ${matches.join(', ')}; give the full tag`);
  }
}

/** A relative or directional target that lies outside the history (`+5` past head, `-5` past base, up to a lower revision). */
export class TargetOutOfRange extends SluiceError {}

/** The version table and the migration folder disagree, or a file changed after it was applied. */
export class IntegrityError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.integrity, options);
  }
}

export class MissingDown extends SluiceError {
  constructor(
    readonly revision: string,
    readonly file: string,
    /** The down file is there but holds no statement (migrate-downs keeps an existing file: it cannot help). */
    readonly fileExists = false,
  ) {
    super(
      fileExists
        ? `revision ${revision} has no down SQL while its up is not empty: ${file} holds no statement; write the down statements there (or delete that file and run make migrate-downs to generate and verify one; when the up leaves nothing to undo, a data fix, put the line "-- sluice:verified by hand: nothing to undo" there), then run again`
        : `revision ${revision} has no down SQL while its up is not empty (a migrate-create that was stopped half way leaves one); generate and verify it with make migrate-downs, or write the down statements in ${file}, then run again`,
      ExitCode.refused,
    );
  }
}

export class ConnectionError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.connection, options);
  }
}

/** A revision failed while applying; the database stays at the last good revision. */
export class MigrationFailed extends SluiceError {
  constructor(
    message: string,
    readonly revision: string,
    readonly statementIndex: number,
    options?: { cause?: unknown; failure?: string },
  ) {
    super(message, ExitCode.migrationFailed, options);
  }
}

/**
 * A run stopped by a signal (PostgreSQL: the running statement was cancelled on the server). `at`: the
 * revision the database is at, as read back after the stop (undefined when it could not be read).
 */
export class Interrupted extends SluiceError {
  constructor(
    message: string,
    readonly signal: 'SIGINT' | 'SIGTERM',
    readonly at: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, signal === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted, options);
  }
}

/** A signal stopped a command while it waited for the migration lock (Connection.lock): it held nothing and changed nothing. */
export class LockWaitStopped extends Error {
  constructor() {
    super('stopped while waiting for the migration lock');
  }
}

/** The signal an AbortSignal was aborted with: its reason, 'SIGTERM' or (anything else) 'SIGINT'. */
export function signalName(signal: AbortSignal): 'SIGINT' | 'SIGTERM' {
  return signal.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
}

/** Between a command's steps: throws Interrupted once `signal` is aborted (its finally blocks then clean up). */
export function stopIfAborted(signal: AbortSignal | undefined, during: string): void {
  if (signal?.aborted) throw new Interrupted(`interrupted (${signalName(signal)}) during ${during}`, signalName(signal), undefined);
}

/**
 * Run a command's work; when it ends in an error after `signal` fired (its finally blocks have cleaned
 * up by then), throw Interrupted with `what` ("during db-test: …") instead, keeping the error as cause.
 */
export async function stoppable<T>(signal: AbortSignal | undefined, what: string | (() => string), run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!signal?.aborted) throw err;
    const name = signalName(signal);
    // a function: the message is made once run() has unwound (what its clean-up could not remove)
    throw new Interrupted(`interrupted (${name}) ${typeof what === 'function' ? what() : what}`, name, undefined, { cause: err });
  }
}

/**
 * What a command's message says of its scratch databases, from what their close() could not remove:
 * a drop refused (an event trigger, a lost connection), a folder not removable. A message never says
 * "removed" of something still there.
 */
export function scratchNote(notRemoved: readonly string[], whose = 'its'): string {
  return notRemoved.length === 0
    ? `${whose} scratch databases were removed`
    : `${whose} scratch databases were NOT all removed (${notRemoved.join('; ')}); remove ${notRemoved.length === 1 ? 'it' : 'them'} by hand`;
}

/**
 * Runs a command whose clean-up adds to `notRemoved`; when it fails, the error carries that list
 * (`notRemoved`), so the CLI names what is left even then. An Interrupted error's message names it already.
 */
export async function carryingNotRemoved<T>(notRemoved: readonly string[], run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw withNotRemoved(err, notRemoved);
  }
}

/** The error, carrying `notRemoved` (when there is something in it and the error does not name it already). */
export function withNotRemoved(err: unknown, notRemoved: readonly string[]): unknown {
  if (notRemoved.length && !(err instanceof Interrupted) && err !== null && typeof err === 'object') {
    (err as { notRemoved?: string[] }).notRemoved = [...notRemoved];
  }
  return err;
}

/** What a failed command's clean-up could not remove (carryingNotRemoved), if anything. */
export function notRemovedOf(err: unknown): string[] | undefined {
  const left = (err as { notRemoved?: unknown } | null)?.notRemoved;
  return Array.isArray(left) && left.length ? (left as string[]) : undefined;
}

/**
 * Two turns of the event loop: a signal's listener runs only when the loop polls, and work that ran
 * synchronously (SQLite under its promises) may end inside a phase after the poll, so one turn can
 * still come before it (measured: one turn missed a pending signal 3 times out of 3, two caught it).
 */
export async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** stopIfAborted after settle(): a loop of SQLite work would otherwise not see a Ctrl+C until it ends. */
export async function checkpoint(signal: AbortSignal | undefined, during: string): Promise<void> {
  if (!signal) return;
  await settle();
  stopIfAborted(signal, during);
}

/** The history forked (two branches each created a revision): every command refuses until it is merged. */
export class MultipleHeads extends SluiceError {
  constructor(
    readonly heads: string[],
    message: string,
  ) {
    super(message, ExitCode.multipleHeads);
  }
}

/** A revision file sluice will not run as it is (transaction control, search_path, unparseable SQL); nothing ran. */
export class RevisionRefused extends SluiceError {
  constructor(
    message: string,
    readonly revision: string,
    options?: { cause?: unknown },
  ) {
    super(message, ExitCode.refused, options);
  }
}

/** The connection dropped during a run; `at` is the revision read back on reconnect, or undefined when unknown. */
export class ConnectionLost extends SluiceError {
  constructor(
    message: string,
    readonly revision: string,
    readonly at: string | undefined,
    options?: { cause?: unknown; failure?: string },
  ) {
    super(message, ExitCode.connectionLost, options);
  }
}

/** The user declined, or an unattended run lacked the confirmation it needs. */
export class Refused extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.refused, options);
  }
}

/**
 * What the version-row check (src/batch.ts, src/store.ts) casts to integer when sluice_version does not
 * hold what a revision's record should be: its error carries what is wrong after this mark.
 */
export const VERSION_ROW_MARK = 'sluice_version_rows:';

/** The version-row check's message: something acted on sluice_version (a trigger, a rule, the revision's own SQL). */
export function versionRowSuppressed(detail: string): string {
  return `sluice_version does not hold the revision's record as written (${detail}): something acted on the table (a trigger, a rule or the revision's own SQL); remove it`;
}

/** A revision moved the session's search_path (PostgreSQL under a non-public DATABASE_SCHEMA): the run-time guard's message. */
export function searchPathChanged(to: string, rolledBack = true): string {
  return `the revision changed search_path to ${to}, which would put objects outside DATABASE_SCHEMA; ${rolledBack ? 'it was rolled back' : 'sluice stopped before its next statement'}: remove what changes search_path (SET, set_config, RESET ALL, dynamic SQL)`;
}

export function describeCause(err: unknown): string {
  if (err instanceof Error) return messageLine(err.message);
  return String(err);
}

/**
 * A message's first line; for esbuild's (tsx's compiler's) error on a TypeScript file that does not
 * compile, whose first line is only "Transform failed with 1 error:", the next one too: the file, line,
 * column and reason (was: that first line alone, the reason lost). Read from the text: the error may
 * come from tsx's module-hooks thread, whose clone keeps the message and not esbuild's `errors`.
 */
function messageLine(message: string): string {
  const lines = message.split('\n');
  if (/^(?:Transform|Build) failed with \d+ errors?:$/.test(lines[0]!) && lines[1]) return `${lines[0]} ${lines[1]}`;
  return lines[0]!;
}

const FILE_PROBLEMS: Record<string, [reason: string, hint: string]> = {
  EACCES: ['permission denied', 'give the user running sluice access to it'],
  EPERM: ['operation not permitted', 'give the user running sluice access to it'],
  ENOENT: ['no such file or folder', 'check that it exists'],
  ENOTDIR: ['a file stands where a folder is needed', 'move that file away'],
  EEXIST: ['something is already there', 'move it away'],
  EISDIR: ['it is a folder', 'put a file there'],
  EROFS: ['the file system is read-only', 'run where it can be written'],
  ENOSPC: ['the disk is full', 'free some space'],
  EDQUOT: ['the disk quota is used up', 'free some space'],
  EMFILE: ['too many open files', 'raise the limit (ulimit -n)'],
  ENFILE: ['too many open files on the system', 'close some programs'],
  ELOOP: ['too many symbolic links', 'fix the link'],
  ENAMETOOLONG: ['the name is too long', 'use a shorter path'],
  EIO: ['an input/output error', 'check the disk'],
};

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OWN_FILES = ['dist', 'templates', 'src'].map((d) => `${path.join(PACKAGE_ROOT, d)}${path.sep}`);

const VERBS: Record<string, string> = { open: 'open', read: 'read', scandir: 'list', mkdir: 'create the folder', mkdtemp: 'create a temporary folder in', write: 'write', rename: 'rename', unlink: 'delete', rmdir: 'delete', copyfile: 'copy', lstat: 'read', stat: 'read' };

/**
 * What the machine refused (a file or folder sluice cannot read or write, a full disk, a damaged
 * SQLite file) as the one-line error a user can act on, or undefined for anything else (a bug). The
 * CLI reports these instead of "internal error"; the original stays the cause.
 */
/** What a file system error means and what to do, as `<reason>; <hint>` (undefined: not one sluice names). */
export function fileProblemOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const p = typeof code === 'string' ? FILE_PROBLEMS[code] : undefined;
  return p && `${p[0]}; ${p[1]}`;
}

export function environmentError(err: unknown): SluiceError | undefined {
  const e = err as { code?: unknown; syscall?: unknown; path?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object' || typeof e.code !== 'string') return undefined;
  if (e.code === 'ENOENT' && e.syscall === 'uv_cwd') {
    return new ConfigError('the current folder no longer exists (it was deleted or moved); cd into the project folder and run again', { cause: err });
  }
  const file = FILE_PROBLEMS[e.code];
  // sluice's own files missing or unreadable is a broken install or a bug, not the user's folder
  if (typeof e.path === 'string' && OWN_FILES.some((own) => (e.path as string).startsWith(own))) return undefined;
  if (file && typeof e.syscall === 'string') {
    const verb = VERBS[e.syscall] ?? e.syscall;
    const where = typeof e.path === 'string' ? ` ${e.path}` : '';
    const tmp = e.syscall === 'mkdtemp' ? ' (TMPDIR names where temporary folders go)' : '';
    return new ConfigError(`cannot ${verb}${where}: ${file[0]}${tmp}; ${file[1]}`, { cause: err });
  }
  // better-sqlite3's errors carry SQLite's result code
  const message = typeof e.message === 'string' ? e.message : '';
  // PostgreSQL's statement_timeout (SLUICE_STATEMENT_TIMEOUT) stopping one of sluice's own queries (a
  // revision's statement it stops is reported as that revision's failure): a setting too small, not a bug
  if (e.code === '57014' && /statement timeout/.test(message)) {
    return new ConfigError(
      `one of sluice's own queries was stopped by PostgreSQL's statement_timeout (${message}): SLUICE_STATEMENT_TIMEOUT, or the role's or database's own statement_timeout, is too small (a number without a unit is milliseconds to PostgreSQL); raise it, e.g. SLUICE_STATEMENT_TIMEOUT=30s`,
      { cause: err },
    );
  }
  // PostgreSQL's lock_timeout (SLUICE_LOCK_TIMEOUT) stopping one of sluice's own statements (its read of
  // sluice_version: a session holding LOCK TABLE, VACUUM FULL or an ALTER on it); a revision's statement
  // it stops is reported as that revision's failure (a hunt: "internal error", exit 1)
  if (e.code === '55P03') {
    return new ConnectionError(
      `one of sluice's own statements waited longer than lock_timeout (SLUICE_LOCK_TIMEOUT) for a lock another session holds (${message}): a LOCK TABLE, VACUUM FULL or ALTER on sluice's table, say; nothing was changed by it; retry when that session is done, or raise SLUICE_LOCK_TIMEOUT`,
      { cause: err },
    );
  }
  if (/^SQLITE_(CORRUPT|NOTADB)/.test(e.code)) {
    return new ConnectionError(`the SQLite database is damaged (${message}); restore it from a backup (.sluice/backups, README "Transactions, locks and backups")`, { cause: err });
  }
  if (/^SQLITE_(BUSY|LOCKED)/.test(e.code)) {
    return new ConnectionError(
      `the SQLite database is locked by another connection (${message}): another process (your app?) held a transaction on the file for longer than sluice waits (SLUICE_LOCK_TIMEOUT, default 10s): a write, or, in rollback-journal mode, a read, which keeps a commit waiting (WAL mode does not); nothing of the revisions not reported applied stayed; retry when it is done, or raise SLUICE_LOCK_TIMEOUT (make migrate-status shows where the database stands)`,
      { cause: err },
    );
  }
  if (/^SQLITE_(IOERR|FULL|CANTOPEN)/.test(e.code)) {
    return new ConnectionError(`SQLite cannot use the database file (${message}); check that DATABASE_URL names a regular file on a disk with free space`, { cause: err });
  }
  return undefined;
}

