/**
 * What the CLI does around a running command: each finished step's line and, on a terminal, a status
 * line (progress), and Ctrl+C / SIGTERM (interruptible, whileListening, tooLate). Made once per CLI run
 * by `runControls` from cli.ts's printer, whether --json is on, and cli.ts's exit (the one place that
 * calls process.exit).
 */
import type { MoveOptions } from './commands/migrate.js';
import { ExitCode, settle, type ExitCodeValue } from './errors.js';
import { formatProgress, formatStep } from './format.js';
import type { Printer } from './printer.js';

export interface RunControls {
  progress(): Pick<MoveOptions, 'onPlan' | 'onStep'>;
  stopProgress(): void;
  /** A status line of the command's own (db-test's), cleared with the others by stopProgress. */
  onStopProgress(stop: () => void): void;
  interruptible(): { signal: AbortSignal; onInterruptible: (on: boolean, finished?: boolean) => void };
  tooLate(signal: AbortSignal | undefined, done?: string): void;
  whileListening<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

export function runControls(printer: Printer, json: () => boolean, exit: (code: ExitCodeValue) => Promise<never>): RunControls {
  // Progress of a run: on a terminal a status line (the revision running, n/N, elapsed), redrawn in
  // place; everywhere, each finished step's line ends with [n/N, elapsed]. Nothing with --json.
  const stops: (() => void)[] = [];
  const stopProgress = () => {
    for (const stop of stops.splice(0)) stop();
  };
  const progress = (): Pick<MoveOptions, 'onPlan' | 'onStep'> => {
    if (json()) return {};
    let plan: { revision: string; direction: 'up' | 'down' }[] = [];
    let done = 0;
    let started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const draw = () => printer.status?.(formatProgress({ running: plan[done], done, total: plan.length, elapsedMs: Date.now() - started }));
    const stop = () => {
      clearInterval(timer);
      timer = undefined;
      printer.status?.(undefined);
    };
    stops.push(stop);
    return {
      onPlan: (steps) => {
        plan = steps;
        done = 0;
        started = Date.now();
        if (!printer.status || !steps.length) return;
        draw();
        timer = setInterval(draw, 250);
        timer.unref();
      },
      onStep: (r) => {
        done += 1;
        printer.line(formatStep(r, { n: done, total: plan.length, elapsedMs: Date.now() - started }));
        if (done >= plan.length) stop();
        else if (timer) draw();
      },
    };
  };

  // Ctrl+C or SIGTERM while a PostgreSQL run's revisions execute: the statement running is cancelled on
  // the server (its revision rolls back; nothing after it starts) and the command ends with one line
  // saying where the database is (Interrupted, exit 130 / 143). A second signal ends the process at once,
  // unless it comes within a second of the first: Ctrl+C reaches every process of the terminal's group,
  // and npm (make → npm run → sluice) forwards it once more, so one press can arrive twice.
  // Listened for only while that holds (onInterruptible): elsewhere, and on SQLite, whose statements run
  // synchronously in this process, a signal ends the process at once, as it always did.
  const interruptible = (): { signal: AbortSignal; onInterruptible: (on: boolean, finished?: boolean) => void } => {
    const controller = new AbortController();
    let first = 0;
    let finished = false; // the run's steps ended: what is left only reads back and reports
    const onSignal = (name: NodeJS.Signals) => {
      const code = name === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted;
      if (!controller.signal.aborted) {
        first = Date.now();
        stopProgress();
        controller.abort(name);
        // nothing is left to stop: the command ends by itself, with the note; one stuck reading back
        // (a server gone mid-answer) is ended 3 s later, as one signal from docker stop must end it
        if (finished) setTimeout(() => void exit(code), 3000).unref();
      } else if (Date.now() - first >= 1000) void exit(code);
    };
    return {
      signal: controller.signal,
      onInterruptible: (on, done) => {
        // Once stopped, the listener stays until the process exits: a duplicate arriving while the
        // command reads where the database is and prints it would otherwise end it without its line.
        // So it does once the run's steps finished: a signal then stops nothing, and gets tooLate's
        // note, exit 0 (was: the default action, exit 130 / 143 after a run that completed, its
        // summary line sometimes not printed)
        if (!on && done) finished = true;
        if (!on && (controller.signal.aborted || finished)) return;
        for (const name of ['SIGINT', 'SIGTERM'] as const) {
          if (on) process.on(name, onSignal);
          else process.off(name, onSignal);
        }
      },
    };
  };
  /** A command that completed although a signal came: there was nothing left to stop (a cancel the server never got, the last statement ending). */
  const tooLate = (signal: AbortSignal | undefined, done = 'every revision of the run completed') => {
    if (signal?.aborted) printer.error(`sluice: note: the ${String(signal.reason)} came too late to stop anything: ${done}`);
  };
  /**
   * A command that takes a signal and listens for Ctrl+C and SIGTERM for its whole length (create,
   * check, downs, verify, merge). After it returns, the loop turns (settle) before the listener goes, so
   * a signal that came during its last synchronous stretch is not dropped unseen: it gets the note.
   */
  const whileListening = async <T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const { signal, onInterruptible } = interruptible();
    onInterruptible(true);
    try {
      const result = await run(signal);
      await settle();
      tooLate(signal, 'the command had finished');
      return result;
    } finally {
      onInterruptible(false);
    }
  };

  const onStopProgress = (stop: () => void) => void stops.push(stop);
  return { progress, stopProgress, onStopProgress, interruptible, tooLate, whileListening };
}
