/**
 * What the CLI does with an outcome it does not format itself: a thrown error becomes one line (or the
 * JSON error document) and an exit code; a question is asked on the terminal; a note says the
 * database could not be read. cli.ts calls these; `process.exit` stays there.
 */
import { CommanderError } from 'commander';
import { environmentError, ExitCode, notRemovedOf, scratchNote, SluiceError, type ExitCodeValue } from './errors.js';
import type { Printer } from './printer.js';

/** --json among the global options (before the command's own arguments, or before `--`). */
export function jsonArgv(argv: string[]): boolean {
  const args = argv.slice(2);
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

/**
 * history and show when the database could not be read: the note goes under the first line, and the
 * applied state on the lines `stateLine` matches reads "unknown" instead of "pending".
 */
export function withUnreadNote(lines: string[], databaseError: string | undefined, stateLine: RegExp): string[] {
  if (databaseError === undefined) return lines;
  const note = `note: the database could not be read, so applied markers are unknown (${databaseError})`;
  const marked = lines.map((l) => (stateLine.test(l) ? l.replace(/pending/, 'unknown') : l));
  return [marked[0] ?? '', note, ...marked.slice(1)];
}

/** A yes on the terminal; anything else — no terminal, another answer, Ctrl+D or Ctrl+C at the prompt — is no. */
export async function ask(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const { createInterface } = await import('node:readline/promises'); // only the commands that ask load it
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } catch {
    return false; // the prompt was closed (Ctrl+D) or interrupted (Ctrl+C): not confirmed
  } finally {
    rl.close();
  }
}

export function report(thrown: unknown, printer: Printer, verbose: boolean, json: boolean): ExitCodeValue {
  if (thrown instanceof CommanderError) {
    const err = thrown;
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return ExitCode.ok;
    if (json) printer.json({ error: err.message.replace(/^error: /, ''), code: ExitCode.usage });
    return ExitCode.usage;
  }
  // What the machine refused (permissions, a full disk, a damaged SQLite file) is not a bug.
  const err = thrown instanceof SluiceError ? thrown : (environmentError(thrown) ?? thrown);
  const known = err instanceof SluiceError;
  const message = known ? err.message : `internal error: ${(err as Error)?.message ?? String(err)} (run with --verbose and report it)`;
  // what the failed command's clean-up could not remove (scratch databases): named even then
  const left = notRemovedOf(thrown) ?? notRemovedOf(err);
  const warnings = (err as { warnings?: string[] }).warnings;
  if (json) printer.json({ error: message, code: known ? err.exitCode : ExitCode.internal, results: (err as { results?: unknown }).results, ...(warnings?.length ? { warnings } : {}), ...(left ? { notRemoved: left } : {}) });
  else {
    printer.error(`sluice: ${message}`);
    if (left) printer.error(`sluice: warning: ${scratchNote(left, 'the command\'s')}`);
  }
  if (verbose) {
    let e: unknown = err;
    while (e) {
      printer.error(String((e as Error).stack ?? e));
      e = (e as Error).cause;
      if (e) printer.error('caused by:');
    }
  }
  return known ? err.exitCode : ExitCode.internal;
}
