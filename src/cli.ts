#!/usr/bin/env node
/**
 * The sluice command line: parses arguments, calls the command functions, formats their results.
 * `process.exit` is called here and nowhere else; exit codes are listed in README "Exit codes".
 */
import { stuck } from './stuck.js';
import { createRequire } from 'node:module';
import { isAbsolute } from 'node:path';
import { Command } from 'commander';
import { environmentError, ExitCode, scratchNote, type ExitCodeValue } from './errors.js';
import { ask, jsonArgv, report, withUnreadNote } from './clireport.js';
import { runControls } from './clirun.js';
import { colours as pc, consolePrinter, flushConsole, passwordsIn, type Printer } from './printer.js';
import { installStdio, pending as pendingOutput, stdoutForDocumentOnly, write as writeOutput } from './stdio.js';
import { formatHistory, formatMove, formatShow, formatStatus, formatStep } from './format.js';
import { deploySummary, formatTakeover, takeoverLine, takeoverStatusLine, waitLine } from './format-deploy.js';
import { formatLint } from './format-lint.js';
import { defineDevCommands } from './clidev.js';
import type { MoveOptions } from './commands/migrate.js';
import { requireRevisionName } from './revision.js';
import { beforeLargeCode, beforeShortTail } from './jit.js';
import { limitTopTier, noLateOptimization } from './v8flags.js';
import { commandNamed } from './argv.js';

const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

// node-postgres probes for Cloudflare Workers by constructing a fetch Response when `navigator` is
// absent (Node 20), which loads undici (~12 ms of every start). Node 21+ defines `navigator` itself;
// the CLI process defines the same minimal one so the probe takes its cheap path.
(globalThis as { navigator?: unknown }).navigator ??= { userAgent: `Node.js/${process.version.slice(1).split('.')[0]}` };

// node-postgres warns of its sslmode=require (prefer, verify-ca) meaning in a 9-line process warning,
// once per URL it parses (twice a command: 18 lines before any answer). The CLI says it in one line, once.
const SSL_MODES_WARNING = "SECURITY WARNING: The SSL modes 'prefer', 'require', and 'verify-ca'";
let sslModesNoted = false;
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : warning?.message;
  if (typeof text !== 'string' || !text.startsWith(SSL_MODES_WARNING)) return emitWarning(warning, ...rest);
  // said once; not at all where Node.js's warnings are turned off
  if (sslModesNoted || process.env.NODE_NO_WARNINGS === '1' || process.execArgv.includes('--no-warnings') || /(^|\s)--no-warnings\b/.test(process.env.NODE_OPTIONS ?? '')) return;
  sslModesNoted = true;
  writeOutput(2, "sluice: note: node-postgres reads sslmode=require (or prefer, verify-ca) in DATABASE_URL as verify-full: it checks the server's certificate and name; write sslmode=verify-full to say so, or add uselibpqcompat=true for libpq's meaning of your sslmode\n");
}) as typeof process.emitWarning;

interface Globals {
  json?: boolean;
  verbose?: boolean;
  config?: string;
  cwd?: string;
}

export async function main(argv: string[], printer: Printer = consolePrinter(() => passwordsIn(process.env))): Promise<ExitCodeValue> {
  let code: ExitCodeValue = ExitCode.ok;
  const program = new Command('sluice')
    .description("Alembic's migration workflow for drizzle-kit projects: create, up, down, stamp, history")
    .version(VERSION, '-V, --version')
    .option('--json', 'print results as JSON')
    .option('--verbose', 'show stack traces and causes on errors')
    .option('--config <file>', 'drizzle config file (default: drizzle.config.ts)')
    .option('-C, --cwd <dir>', 'project folder (default: current folder)')
    .exitOverride()
    // With --json, commander's own usage errors become the JSON error document (report), not text.
    .configureOutput({
      writeErr: (s) => (jsonArgv(argv) ? undefined : printer.error(s.trimEnd())),
      // --json --version: a document as every other --json output (was: the bare version as text). Help stays text.
      writeOut: (s) => (jsonArgv(argv) && s.trimEnd() === VERSION ? printer.json({ version: VERSION }) : printer.line(s.trimEnd())),
    });

  const g = () => program.opts<Globals>();
  const common = () => ({ cwd: g().cwd, config: g().config });
  // A current folder deleted under the shell: with an absolute -C the command works from there (no
  // relative path can mean anything any more); without one it is a one-line error, not an internal one.
  program.hook('preAction', () => {
    try {
      process.cwd();
    } catch (err) {
      const dir = g().cwd;
      if (dir && isAbsolute(dir)) process.chdir(dir);
      else throw environmentError(err) ?? err;
    }
  });
  const out = (value: unknown, lines: () => string[]) => {
    if (g().json) return printer.json(value); // the document carries notRemoved
    for (const l of lines()) printer.line(l);
    // scratch databases (db-test, migrate-check, the downs' verification) that could not be removed
    const left = (value as { notRemoved?: string[] } | null)?.notRemoved;
    if (left?.length) printer.error(`sluice: warning: ${scratchNote(left, 'the command\'s')}`);
  };
  const stepPrinter = (): Pick<MoveOptions, 'onStep' | 'onTakeover'> =>
    g().json ? {} : { onStep: (r) => printer.line(formatStep(r)), onTakeover: (t, dryRun) => printer.line(takeoverLine(t, dryRun)) };
  // up, down, stamp, reset: a warning before the steps (a run failing after still shows it); in a dry run's script, a SQL comment
  const warningPrinter = (): Pick<MoveOptions, 'onWarning'> =>
    g().json ? {} : { onWarning: (w, dryRun) => printer.line(dryRun ? `-- WARNING: ${w}` : pc.yellow(`warning: ${w}`)) };

  const controls = runControls(printer, () => !!g().json, exit);
  const { progress, stopProgress, interruptible, tooLate, whileListening } = controls;

  // The commands, in the order help lists them: defined here, built below (only the one the arguments name).
  const builders = new Map<string, () => unknown>();
  const define = (name: string, build: () => unknown) => void builders.set(name, build);

  type MoveFlags = { dryRun?: boolean; allowChanged?: boolean; singleTransaction?: boolean; backup?: boolean; purge?: boolean };
  const moveCommand = (
    name: string,
    description: string,
    verb: string,
    fn: (o: MoveOptions & { purge?: boolean }) => Promise<import('./commands/migrate.js').MoveResult>,
    defaultRev?: string,
  ) =>
    program
      .command(name)
      .description(description)
      .argument(defaultRev ? '[revision]' : '<revision>', `head, base, +N, -N, a tag or a number${defaultRev ? ` (default ${defaultRev})` : ''}`)
      .option('--dry-run', 'print the plan and SQL; change nothing')
      .option('--allow-changed', 'proceed although an applied up file changed since it was applied')
      .option('--single-transaction', 'run all revisions in one transaction: all or nothing')
      .option('--no-backup', 'SQLite: skip the backup taken before a change')
      .action(async (revision: string | undefined, opts: MoveFlags) => {
        // An argument given but empty ('' from a script or REVISION=) is refused, never read as the default.
        if (revision !== undefined) requireRevisionName(revision, defaultRev);
        const stop = interruptible();
        const result = await fn({
          ...common(),
          ...stepPrinter(),
          ...warningPrinter(),
          ...progress(),
          ...stop,
          revision: revision ?? defaultRev,
          dryRun: opts.dryRun,
          allowChanged: opts.allowChanged,
          singleTransaction: opts.singleTransaction,
          noBackup: opts.backup === false,
          purge: opts.purge,
        });
        out(result, () => formatMove(verb, result));
        tooLate(stop.signal);
      });

  const migrate = () => import('./commands/migrate.js');
  define('up', () => moveCommand('up', 'apply pending revisions up to the target', 'upgrade', async (o) => (await migrate()).upgrade(o), 'head'));
  define('down', () => moveCommand('down', 'revert applied revisions down to the target', 'downgrade', async (o) => (await migrate()).downgrade(o), '-1'));
  define('stamp', () =>
    moveCommand('stamp', 'record the database as being at the target, running no migration SQL', 'stamp', async (o) =>
      (await migrate()).stamp({ ...o, revision: o.revision! }),
    ).option('--purge', 'first empty the version table, whatever it holds (a database stamped at revisions the folder no longer has)'),
  );

  define('reset', () =>
    program
      .command('reset')
      .description('revert every revision (down to base); asks on a terminal, needs --yes otherwise')
      .option('-y, --yes', 'do not ask')
      .option('--dry-run', 'print the plan and SQL; change nothing')
      .option('--allow-changed', 'proceed although an applied up file changed since it was applied')
      .option('--single-transaction', 'revert all revisions in one transaction: all or nothing')
      .option('--no-backup', 'SQLite: skip the backup taken before a change')
      .action(async (opts: MoveFlags & { yes?: boolean }) => {
        const confirmed = opts.yes || process.env.YES === '1' || (!opts.dryRun && (await ask('Revert every revision of the configured database? [y/N] ')));
        const stop = interruptible();
        const result = await (await migrate()).reset({
          ...common(),
          ...stepPrinter(),
          ...warningPrinter(),
          ...progress(),
          ...stop,
          confirmed: !!confirmed,
          dryRun: opts.dryRun,
          allowChanged: opts.allowChanged,
          singleTransaction: opts.singleTransaction,
          noBackup: opts.backup === false,
        });
        out(result, () => formatMove('downgrade', result));
        tooLate(stop.signal);
      }),
  );

  define('status', () =>
    program
      .command('status')
      .description('current revision, head and pending revisions')
      .action(async () => {
        const result = await (await import('./commands/inspect.js')).status(common());
        out(result, () => [...formatStatus(result), ...(result.takeover ? [takeoverStatusLine(result.takeover)] : [])]);
      }),
  );

  define('history', () =>
    program
      .command('history')
      .description('every revision, newest first, with applied times and markers')
      .action(async () => {
        const result = await (await import('./commands/inspect.js')).history(common());
        out(result, () => withUnreadNote(formatHistory(result), result.databaseError, /^\s+created \S+\s+/));
      }),
  );

  define('show', () =>
    program
      .command('show')
      .description("a revision's metadata, up SQL and down SQL")
      .argument('<revision>', 'head, a tag, a number, a unique tag prefix, or +N / -N from the current revision')
      .action(async (revision: string) => {
        requireRevisionName(revision);
        const result = await (await import('./commands/inspect.js')).show({ ...common(), revision });
        out(result, () => withUnreadNote(formatShow(result), result.databaseError, /^applied:\s+/));
      }),
  );

  define('sql', () =>
    program
      .command('sql')
      .description('offline SQL: print the script that moves a database between two revisions, with no connection')
      .argument('<range>', '<from>:<to> (from defaults to base), e.g. base:head, 0001:head, head:-2, head:base')
      .action(async (range: string) => {
        const result = await (await import('./commands/offline.js')).offlineSql({ ...common(), range });
        out(result, () => [result.sql.trimEnd()]);
      }),
  );

  define('merge', () =>
    program
      .command('merge')
      .description('after a git merge of two branches with revisions: renumber theirs after ours, recompute snapshots and downs')
      .action(async () => {
        // Ctrl+C or SIGTERM: nothing is written, or the merge is finished with its downs unverified (merge.ts)
        const { merge } = await import('./commands/merge.js');
        const result = await whileListening((signal) => merge({ ...common(), signal }));
        out(result, () =>
          result.dialects.map((d) =>
            d.merged
              ? `${d.dialect} (${d.folder}): kept ${d.kept.join(', ') || 'nothing'}; moved ${d.moved.map((m) => `${m.from} -> ${m.to}`).join(', ')}${
                  d.downsKeptAsWritten ? `; down${d.downsKeptAsWritten.length > 1 ? 's' : ''} of ${d.downsKeptAsWritten.join(', ')} kept as written (not the generated one: edited or repaired)` : ''
                }`
              : `${d.dialect} (${d.folder}): not forked, nothing to merge`,
          ),
        );
      }),
  );

  define('heads', () =>
    program
      .command('heads')
      .description('the head revision(s) of each history; more than one means a forked history to merge')
      .action(async () => {
        const result = await (await import('./commands/verify.js')).heads(common());
        out(result, () =>
          result.dialects.map((d) => `${d.dialect} (${d.folder}): ${d.heads.length ? d.heads.join(', ') : 'no revisions'}${d.heads.length > 1 ? `  <- ${d.heads.length} heads: the history forked` : ''}`),
        );
      }),
  );

  define('verify', () =>
    program
      .command('verify')
      .description('migrate-check: one head, models agree with the history, the live schema has not drifted (exit 10 / 8 / 9)')
      .option('--no-database', 'skip the drift check even when DATABASE_URL is set')
      .action(async (opts: { database?: boolean }) => {
        // Ctrl+C or SIGTERM: the drift check's scratch schema is removed (verify.ts)
        const { verify } = await import('./commands/verify.js');
        const result = await whileListening((signal) => verify({ ...common(), database: opts.database === false ? false : undefined, signal }));
        out(result, () =>
          result.findings.flatMap((f) => [
            `${f.skipped ? 'skip' : f.ok ? 'ok  ' : 'FAIL'} ${f.check} (${f.dialect})${f.skipped ? `: ${f.skipped}` : f.ok ? '' : `: ${f.details.filter((d) => !d.startsWith('note: ')).length} difference(s)`}`,
            ...f.details.map((d) => `  ${d}`),
          ]),
        );
        code = result.exitCode;
      }),
  );

  define('lint', () =>
    program
      .command('lint')
      .description('migrate-lint: the up SQL against squawk (PostgreSQL: locks, rewrites) and sluice\'s rules (data loss, SQLite rebuilds, irreversible); exit 11 on findings')
      .argument('[revision]', 'a tag, a number, head, or <from>:<to> (those after from, up to to); default: every revision')
      .action(async (revision: string | undefined) => {
        const result = await (await import('./commands/lint.js')).lint({ ...common(), revision });
        out(result, () => formatLint(result));
        code = result.exitCode;
      }),
  );

  define('takeover', () =>
    program
      .command('takeover')
      .description("take over a database drizzle's migrator manages: record its __drizzle_migrations rows in sluice_version, running no SQL")
      .option('--dry-run', 'show what would be recorded; write nothing')
      .option('--table <[schema.]name>', "drizzle's migrations table (default: drizzle.config.ts migrations, else drizzle.__drizzle_migrations)")
      .action(async (opts: { dryRun?: boolean; table?: string }) => {
        const result = await (await import('./commands/takeover.js')).takeover({ ...common(), dryRun: opts.dryRun, table: opts.table });
        out(result, () => formatTakeover(result));
      }),
  );

  define('deploy', () =>
    program
      .command('deploy')
      .description('wait for the database (SLUICE_DEPLOY_WAIT s), take the lock, apply every pending revision; for deploy pipelines and entrypoints')
      .option('--single-transaction', 'run all pending revisions in one transaction: all or nothing')
      .option('--no-backup', 'SQLite: skip the backup taken before a change')
      .action(async (opts: { singleTransaction?: boolean; backup?: boolean }) => {
        const stop = interruptible();
        const result = await (await import('./commands/deploy.js')).deploy({
          ...common(),
          ...stepPrinter(),
          ...stop,
          onWait: (a) => printer.error(waitLine(a)),
          singleTransaction: opts.singleTransaction,
          noBackup: opts.backup === false,
        });
        out(result, () => [deploySummary(result)]);
        tooLate(stop.signal);
      }),
  );

  defineDevCommands({ program, printer, common, json: () => !!g().json, out, controls, setCode: (c) => (code = c) }, define);

  // Only the command the arguments name is built (commander makes each command's options as objects:
  // ~1.5 ms of every run for all of them); all of them when the arguments name none or one that is not
  // defined, or ask for help, so help, `init` (it lists them) and errors see every command.
  const only = builders.get(commandNamed(argv) ?? '');
  if (only) only();
  else for (const build of builders.values()) build();

  try {
    await program.parseAsync(argv);
    stopProgress();
    return code;
  } catch (err) {
    stopProgress();
    return report(err, printer, !!program.opts<Globals>().verbose, !!program.opts<Globals>().json || jsonArgv(argv));
  }
}

/** Exit once everything written has reached stdout and stderr (stdio.ts `pending`). */
async function exit(code: ExitCodeValue): Promise<never> {
  flushConsole();
  await pendingOutput();
  return realExit(code);
}
// taken at load: while a TypeScript revision runs, process.exit throws (tsrevision.ts withoutProcessExit)
const realExit: (code: number) => never = process.exit.bind(process);

/**
 * A promise nobody awaited that rejects (a TypeScript revision's query without `await`) would end the
 * process with Node.js's dump of the bundle's source line (a hunt: 75 KB on stderr, exit 1, no line
 * saying where the database stands). It is said in one line instead, and the command goes on to its own
 * end (such a query fails the revision's transaction, which is rolled back and reported); the exit code
 * is then never 0.
 */
let unawaited = false;
process.on('unhandledRejection', (err) => {
  unawaited = true;
  flushConsole();
  const said = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  writeOutput(2, `sluice: a promise nothing awaited was rejected (a query in a TypeScript revision without await?): ${said}\n`);
});

beforeLargeCode(limitTopTier);
beforeShortTail(noLateOptimization);
installStdio();
// --json: the document alone on stdout; a config's or a TypeScript revision's console.log goes to stderr
if (jsonArgv(process.argv)) stdoutForDocumentOnly();
/**
 * Node.js ran out of work with the command still pending (it awaits a promise nothing will settle:
 * tsrevision.ts catches a TypeScript revision's own): never an exit 0 with the command unfinished (was:
 * the process ended by itself, exit 0, no line).
 */
let settled = false;
process.on('beforeExit', () => {
  if (stuck.handled) {
    stuck.handled = false; // a TypeScript revision's wait: its command goes on to report it
    return;
  }
  if (settled) return;
  settled = true;
  flushConsole();
  const message = 'internal error: the command stopped before its end, waiting on a promise that nothing settles (run with --verbose and report it); run `sluice status` to see where the database stands';
  if (jsonArgv(process.argv)) writeOutput(1, `${JSON.stringify({ error: message, code: ExitCode.internal }, null, 2)}\n`);
  writeOutput(2, `sluice: ${message}\n`);
  void exit(ExitCode.internal);
});
main(process.argv).then(
  (code) => {
    settled = true;
    return exit(code === ExitCode.ok && unawaited ? ExitCode.internal : code);
  },
  (err) => {
    settled = true;
    flushConsole();
    writeOutput(2, `sluice: internal error: ${String(err)}\n`);
    return exit(ExitCode.internal);
  },
);
