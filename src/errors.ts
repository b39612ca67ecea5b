/**
 * One root error with data-carrying subclasses. Every error a user can cause is a SluiceError with a
 * one-line message that names what is wrong and what to do; `exitCode` follows the published table
 * (README "Exit codes"). Anything else reaching the CLI is a bug and exits with 1.
 */
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
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class SluiceError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(message: string, exitCode: ExitCodeValue = ExitCode.usage, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad configuration or environment (DATABASE_URL, DATABASE_SCHEMA, drizzle.config.ts, folders). */
export class ConfigError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** Bad command-line input. */
export class UsageError extends SluiceError {}

export class UnknownRevision extends SluiceError {
  constructor(
    readonly name: string,
    readonly candidates: string[],
  ) {
    const hint = candidates.length ? `; did you mean ${candidates.join(', ')}?` : '; run `make migrate-history` to list revisions';
    super(`unknown revision "${name}"${hint}`);
  }
}

export class AmbiguousRevision extends SluiceError {
  constructor(
    readonly name: string,
    readonly matches: string[],
  ) {
    super(`revision "${name}" is ambiguous: it matches ${matches.join(', ')}; give the full tag`);
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
  ) {
    super(`revision ${revision} has no down SQL while its up is not empty; write the down statements in ${file}, then run again`, ExitCode.refused);
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
    options?: { cause?: unknown },
  ) {
    super(message, ExitCode.migrationFailed, options);
  }
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
    options?: { cause?: unknown },
  ) {
    super(message, ExitCode.connectionLost, options);
  }
}

/** The user declined, or an unattended run lacked the confirmation it needs. */
export class Refused extends SluiceError {
  constructor(message: string) {
    super(message, ExitCode.refused);
  }
}

/** A revision moved the session's search_path (PostgreSQL under a non-public DATABASE_SCHEMA): the run-time guard's message. */
export function searchPathChanged(to: string, rolledBack = true): string {
  return `the revision changed search_path to ${to}, which would put objects outside DATABASE_SCHEMA; ${rolledBack ? 'it was rolled back' : 'sluice stopped before its next statement'}: remove what changes search_path (SET, set_config, RESET ALL, dynamic SQL)`;
}

export function describeCause(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? String(err);
  return String(err);
}
