/**
 * The commands of the development loop, defined on cli.ts's program: `create` and `downs` (write
 * revisions and downs), `check` (db-test), `init`, and `db` (the dev database). cli.ts parses, prints
 * and exits; these only say what each command takes and how its result reads (CliScope).
 */
import { isatty } from 'node:tty';
import type { Command } from 'commander';
import { ExitCode, type ExitCodeValue } from './errors.js';
import type { RunControls } from './clirun.js';
import type { Printer } from './printer.js';
import { formatCheckProgress, formatCreate, formatDowns, formatInit } from './format.js';
import { lintWarnings } from './format-lint.js';

/** What a command definition outside cli.ts uses of cli.ts's run. */
export interface CliScope {
  program: Command;
  printer: Printer;
  /** --cwd and --config. */
  common(): { cwd?: string; config?: string };
  json(): boolean;
  /** Print a result: the JSON document with --json, else its lines. */
  out(value: unknown, lines: () => string[]): void;
  controls: RunControls;
  setCode(code: ExitCodeValue): void;
}

/** Define the development loop's commands, in the order help lists them. */
export function defineDevCommands(s: CliScope, define: (name: string, build: () => unknown) => void): void {
  define('create', () =>
    s.program
      .command('create')
      .description('generate a revision from the models (drizzle-kit) and write its down SQL')
      .requiredOption('-m, --message <text>', 'what the revision does')
      .option('--empty', 'an empty revision: write up and down by hand')
      .option('--ts', 'a TypeScript data migration: <tag>.ts with up(db) and down(db), beside an empty SQL part')
      .action(async (opts: { message: string; empty?: boolean; ts?: boolean }) => {
        // Ctrl+C or SIGTERM: drizzle-kit is stopped and what the command wrote is removed (create.ts)
        const { create } = await import('./commands/create.js');
        // The new revisions' lint findings are warnings here (make migrate-lint fails on them). create
        // lints each new up while its down is proven (lint: true), and never fails on the lint (a lint
        // that cannot run is a note); a signal once every revision is written gets the too-late note
        // and the command's lines (was: exit 130, nothing printed). Interactive when stdin is a
        // terminal, asked of fd 0 (process.stdin would make a stream: ~1–2 ms before drizzle-kit starts).
        const result = await s.controls.whileListening((signal) =>
          create({ ...s.common(), message: opts.message, empty: opts.empty, ts: opts.ts, interactive: isatty(0) && !s.json(), signal, lint: true }),
        );
        const lint = result.lint ?? { findings: [], notes: [] };
        const lines = () => formatCreate(result);
        s.out({ ...result, lint }, () => [...lines().slice(0, -1), ...lintWarnings(lint), ...lines().slice(-1)]);
      }),
  );

  define('downs', () =>
    s.program
      .command('downs')
      .description('adopt an existing drizzle-kit history: write every missing down file from the snapshots')
      .action(async () => {
        // Ctrl+C or SIGTERM: stops between the revisions it proves; nothing is written (downs.ts)
        const { writeMissingDowns } = await import('./commands/downs.js');
        const result = await s.controls.whileListening((signal) => writeMissingDowns({ ...s.common(), signal }));
        s.out(result, () => formatDowns(result));
      }),
  );

  define('check', () =>
    s.program
      .command('check')
      .description('db-test: base -> head -> base -> head on scratch databases of every dialect, comparing schemas')
      .action(async () => {
        const { check } = await import('./commands/check.js');
        const json = s.json();
        const started = Date.now();
        let done = 0;
        let dialect = '';
        const tick = () => dialect && s.printer.status?.(formatCheckProgress({ dialect, done, elapsedMs: Date.now() - started }));
        const timer = !json && s.printer.status ? setInterval(tick, 250) : undefined;
        timer?.unref();
        s.controls.onStopProgress(() => {
          clearInterval(timer);
          s.printer.status?.(undefined);
        });
        // Ctrl+C or SIGTERM: the check stops at its next step and removes its scratch databases (check.ts)
        const result = await s.controls.whileListening((signal) =>
          check({
            ...s.common(),
            signal,
            onCheck: json
              ? undefined
              : (d, c) => {
                  done += 1;
                  dialect = d;
                  s.printer.line(`${c.ok ? 'ok  ' : 'FAIL'} ${d}: ${c.name}${c.detail ? `\n${c.detail}` : ''}`);
                  tick();
                },
          }),
        );
        s.controls.stopProgress();
        s.out(result, () =>
          result.dialects.map((d) =>
            d.skipped ? `SKIPPED ${d.dialect}: ${d.skipped}` : `${d.dialect} (${d.revisions} revisions): ${d.checks.filter((c) => c.ok).length} passed, ${d.checks.filter((c) => !c.ok).length} failed`,
          ),
        );
        if (!result.ok) s.setCode(ExitCode.migrationFailed);
      }),
  );

  define('init', () =>
    s.program
      .command('init')
      .description(
        'set sluice up in this drizzle-kit project: sluice.mk (Make targets), npm scripts, .env.example, docker/compose.yml, a CI workflow and the missing down files; never overwrites a file',
      )
      .option('--no-downs', 'do not write the missing down files of the existing history')
      .action(async (opts: { downs?: boolean }) => {
        const result = await (await import('./commands/init.js')).init({
          ...s.common(),
          commands: s.program.commands.map((c) => c.name()),
          noDowns: opts.downs === false,
        });
        s.out(result, () => formatInit(result));
      }),
  );

  define('db', () => {
    const db = s.program.command('db').description('development database');
    db.command('up')
      .description('start the dev PostgreSQL (docker compose, or a local cluster in .sluice/postgres) and print its DATABASE_URL')
      .action(async () => {
        const result = await (await import('./commands/devdb.js')).dbUp(s.common());
        s.out(result, () => [`PostgreSQL is running (${result.via === 'local' ? `local cluster in ${result.dir}` : 'docker compose'}).`, `export DATABASE_URL=${result.url}`]);
      });
    db.command('down')
      .description('stop the dev PostgreSQL')
      .action(async () => {
        const result = await (await import('./commands/devdb.js')).dbDown(s.common());
        s.out(result, () => [result.stopped ? 'PostgreSQL stopped.' : 'PostgreSQL was not running.']);
      });
    db.command('connect')
      .description('open psql or sqlite3 on the configured database')
      .allowExcessArguments()
      .argument('[args...]', 'extra arguments for psql / sqlite3')
      .action(async (args: string[]) => {
        const status = await (await import('./commands/devdb.js')).dbConnect({ ...s.common(), args });
        if (status !== 0) s.setCode(ExitCode.internal);
      });
  });
}
