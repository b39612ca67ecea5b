/**
 * Everyday polish (issue 10, item 5): every revision name README promises works in every command
 * that takes one (`migrate-show REVISION=head` included); `--json` on every command, in the shape
 * README's *Output* section documents; progress as a status line on a terminal and plain lines
 * elsewhere; colours that honour NO_COLOR / FORCE_COLOR; README's exit-code table covers every command.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeProject, pgUrl, REPO, runCli, runMake, SKIP_PG, type Env, type Ran } from '../support/project.js';

const ok = (r: Ran) => {
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
};
const README = readFileSync(path.join(REPO, 'README.md'), 'utf8');
const ESC = '\x1b[';

const dirs: string[] = [];
const project = () => {
  const dir = makeProject();
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The CLI on a pseudo-terminal (util-linux `script`): stdout and stderr as the terminal shows them. */
function onTerminal(dir: string, args: string[], env: Env): string {
  const quote = (a: string) => `'${a.replace(/'/g, `'"'"'`)}'`;
  const cmd = [process.execPath, path.join(REPO, 'dist', 'cli.cjs'), ...args].map(quote).join(' ');
  const vars = Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', ...env }).filter((e): e is [string, string] => e[1] !== undefined);
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { cwd: dir, env: Object.fromEntries(vars), encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  return r.stdout;
}

/** A run with exactly this environment (runCli always sets NO_COLOR=1). */
function runExact(dir: string, args: string[], env: Env): Ran {
  const vars = Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, ...env }).filter((e): e is [string, string] => e[1] !== undefined);
  const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), ...args], { cwd: dir, env: Object.fromEntries(vars), encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The commands `sluice --help` lists (db's subcommands as `db up`, …). */
function cliCommands(dir: string): string[] {
  const names = (text: string) => [...text.slice(text.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
  const top = names(ok(runCli(dir, ['--help'])));
  const db = names(ok(runCli(dir, ['db', '--help']))).map((n) => `db ${n}`);
  return [...top.filter((n) => n !== 'db'), ...db];
}

/** README's tables as rows of cells (the first table after `heading`). */
function table(heading: string, header: string): string[][] {
  const from = README.indexOf(header, README.indexOf(heading));
  expect(from, `README: table "${header}" after "${heading}"`).toBeGreaterThan(-1);
  const rows: string[][] = [];
  for (const line of README.slice(from).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
  }
  return rows;
}
const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** README's JSON fields per command: required and optional (`name?`). */
function documentedJson(): Map<string, { required: string[]; optional: string[] }> {
  const map = new Map<string, { required: string[]; optional: string[] }>();
  for (const [cmds, fields] of table('## Output: progress, colours, JSON', '| command | fields | inside |')) {
    const f = ticked(fields!);
    const entry = { required: f.filter((x) => !x.endsWith('?')), optional: f.filter((x) => x.endsWith('?')).map((x) => x.slice(0, -1)) };
    for (const c of cmds!.startsWith('an error') ? ['error'] : ticked(cmds!)) map.set(c, entry);
  }
  return map;
}

function expectDocumentedJson(command: string, stdout: string): Record<string, unknown> {
  expect(stdout, `${command}: no colour in JSON`).not.toContain(ESC);
  const value = JSON.parse(stdout) as Record<string, unknown>;
  const doc = documentedJson().get(command);
  expect(doc, `README documents the JSON of ${command}`).toBeDefined();
  const keys = Object.keys(value);
  for (const k of doc!.required) expect(keys, `${command}: documented field ${k}`).toContain(k);
  for (const k of keys) expect([...doc!.required, ...doc!.optional], `${command}: field ${k} is documented`).toContain(k);
  return value;
}

describe('every revision name works in every command that takes one', () => {
  it('up, down, stamp and show take head, base, +N, -N, a tag, a number (3 or 0003) and a unique prefix (SQLite)', () => {
    const dir = project();
    const env = { DATABASE_URL: `file:${path.join(dir, 'names.sqlite')}`, SLUICE_NO_BACKUP: '1' };
    const current = () => (JSON.parse(ok(runCli(dir, ['--json', 'status'], env))) as { current: string }).current;
    const moves: [string[], string][] = [
      [['up', '1'], '0001_add_audits'],
      [['up', '+1'], '0002_add_sessions_and_roles'],
      [['up', 'head'], '0003_add_phone_to_users'],
      [['down', '-2'], '0001_add_audits'],
      [['up', '0002_add'], '0002_add_sessions_and_roles'],
      [['down', '0000'], '0000_init'],
      [['down', 'base'], 'base'],
      [['up', '0003_add_phone_to_users'], '0003_add_phone_to_users'],
      [['stamp', '-2'], '0001_add_audits'],
      [['stamp', '+1'], '0002_add_sessions_and_roles'],
      [['stamp', 'base'], 'base'],
      [['stamp', '0001_add_audits'], '0001_add_audits'],
      [['stamp', 'head'], '0003_add_phone_to_users'],
      [['stamp', '2'], '0002_add_sessions_and_roles'],
    ];
    for (const [args, expected] of moves) {
      ok(runCli(dir, args, env));
      expect(current(), args.join(' ')).toBe(expected);
    }
    const shown = (name: string) => /^revision:\s+(\S+)/m.exec(ok(runCli(dir, ['show', '--', name], env)))?.[1];
    expect(shown('head')).toBe('0003_add_phone_to_users');
    expect(shown('-1')).toBe('0001_add_audits');
    expect(shown('+1')).toBe('0003_add_phone_to_users');
    expect(shown('1')).toBe('0001_add_audits');
    expect(shown('0000')).toBe('0000_init');
    expect(shown('0002_add')).toBe('0002_add_sessions_and_roles');
    expect(shown('0001_add_audits')).toBe('0001_add_audits');
    const base = runCli(dir, ['show', 'base'], env);
    expect([base.status, base.stderr]).toEqual([2, expect.stringMatching(/^sluice: base is the empty database before the first revision, not a revision/)]);
    const pastHead = runCli(dir, ['show', '+2'], env);
    expect([pastHead.status, pastHead.stderr]).toEqual([2, expect.stringMatching(/\+2 is past head/)]);
    for (const cmd of ['up', 'down', 'stamp', 'show']) {
      const r = runCli(dir, [cmd, 'nope'], env);
      expect([r.status, r.stderr], cmd).toEqual([2, expect.stringMatching(/^sluice: unknown revision "nope"/)]);
    }
    // Through make, as README writes it.
    expect(ok(runMake(dir, ['migrate-show', 'REVISION=head'], env))).toMatch(/^revision:\s+0003_add_phone_to_users$/m);
    expect(ok(runMake(dir, ['migrate-show', 'REVISION=-1'], env))).toMatch(/^revision:\s+0001_add_audits$/m);
  });

  it('show: head works without a database (with the note); +N / -N need one (exit 5)', () => {
    const dir = project();
    const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', SLUICE_CONNECT_TIMEOUT: '3' };
    const head = runCli(dir, ['show', 'head'], env);
    expect(head.status, head.stderr).toBe(0);
    expect(head.stdout).toMatch(/^revision:\s+0003_add_phone_to_users$/m);
    expect(head.stdout).toMatch(/note: the database could not be read/);
    const rel = runCli(dir, ['show', '-1'], env);
    expect([rel.status, rel.stderr]).toEqual([5, expect.stringMatching(/^sluice: -1 counts from the current revision, which is unknown/)]);
  });
});

describe('--json on every command, in the shape README documents', () => {
  it('each command prints one JSON document (no colours, no progress) with the documented fields; errors too', () => {
    const dir = project();
    const env: Env = { DATABASE_URL: `file:${path.join(dir, 'json.sqlite')}`, FORCE_COLOR: '1', SLUICE_NO_DOCKER: '1' };
    const json = (command: string, args: string[], extra: Env = {}) => expectDocumentedJson(command, ok(runCli(dir, ['--json', ...args], { ...env, ...extra })));

    const up = json('up', ['up']);
    expect(up).toMatchObject({ from: 'base', to: '0003_add_phone_to_users', dryRun: false });
    expect((up.steps as { status: string }[]).map((s) => s.status)).toEqual(['applied', 'applied', 'applied', 'applied']);
    expect(json('down', ['down', '--dry-run'])).toMatchObject({ dryRun: true, sql: [expect.objectContaining({ revision: '0003_add_phone_to_users' })] });
    expect(json('down', ['down'])).toMatchObject({ to: '0002_add_sessions_and_roles', backup: expect.any(String) });
    json('up', ['up']);
    expect(json('stamp', ['stamp', '-1'])).toMatchObject({ to: '0002_add_sessions_and_roles', steps: [expect.objectContaining({ status: 'unstamped' })] });
    expect(json('stamp', ['stamp', 'head'])).toMatchObject({ to: '0003_add_phone_to_users', steps: [expect.objectContaining({ status: 'stamped' })] });
    expect(json('status', ['status'])).toMatchObject({ current: '0003_add_phone_to_users', applied: 4, pending: [] });
    expect((json('history', ['history']).revisions as unknown[]).length).toBe(4);
    expect(json('show', ['show', 'head'])).toMatchObject({ revision: '0003_add_phone_to_users', number: 3 });
    expect(json('reset', ['reset', '--yes'])).toMatchObject({ to: 'base' });
    expect(json('downs', ['downs'])).toMatchObject({ written: [] });
    expect(json('db down', ['db', 'down'])).toMatchObject({ via: 'local', running: false, stopped: false });
    const created = json('create', ['create', '--empty', '--message', 'json shape']);
    expect((created.created as { revision: string }[]).map((c) => c.revision)).toEqual(['0004_json_shape', '0004_json_shape']);
    const init = json('init', ['init', '--no-downs']);
    // this project's Makefile has recipes of sluice.mk's names: make would run the one it reads last (a hunt)
    expect(init.files).toEqual(
      expect.arrayContaining([{ path: 'Makefile', status: 'kept', note: expect.stringMatching(/^add this line to it: include sluice\.mk; it has targets of sluice\.mk's names \(.*\bmigrate-up\b.*\bdb-test\b.*\): make runs the recipe it reads last, so put the include above them to keep yours, or rename them$/) }]),
    );
    if (!SKIP_PG) {
      const check = json('check', ['check'], { SLUICE_CHECK_DATABASE_URL: pgUrl() });
      expect(check.ok).toBe(true);
      expect((check.dialects as { dialect: string }[]).map((d) => d.dialect).sort()).toEqual(['postgresql', 'sqlite']);
    }

    // Commands from the other items of the backlog, when this sluice has them.
    const have = new Set(cliCommands(dir));
    if (have.has('sql')) json('sql', ['sql', 'base:head']);
    if (have.has('heads')) json('heads', ['heads']);
    if (have.has('verify')) expectDocumentedJson('verify', runCli(dir, ['--json', 'verify', '--no-database'], env).stdout);
    if (have.has('takeover')) {
      // No drizzle table here: its error document (the result's shape is checked in install.test.ts).
      const t = runCli(dir, ['--json', 'takeover', '--dry-run'], env);
      expectDocumentedJson(t.status === 0 ? 'takeover' : 'error', t.stdout);
    }
    if (have.has('deploy')) json('deploy', ['deploy'], { SLUICE_DEPLOY_WAIT: '5' });

    // Errors: sluice's own and the command line's, one document, the exit code in it.
    for (const [args, code] of [
      [['show', 'nope'], 2],
      [['nope'], 2],
      [['up', '--bogus'], 2],
      [['down', '0000_init', '--dry-run'], 0],
    ] as const) {
      const r = runCli(dir, ['--json', ...args], env);
      expect(r.status, r.stderr).toBe(code);
      if (code) {
        expect(r.stderr).toBe('');
        expect(expectDocumentedJson('error', r.stdout)).toMatchObject({ code, error: expect.any(String) });
      }
    }
  });

  it('a failed run: the error document carries the steps that ran', () => {
    const dir = project();
    const env = { DATABASE_URL: `file:${path.join(dir, 'fail.sqlite')}`, SLUICE_NO_BACKUP: '1' };
    ok(runCli(dir, ['up', '2'], env));
    const up = path.join(dir, 'drizzle', 'sqlite', '0003_add_phone_to_users.sql');
    writeFileSync(up, `${readFileSync(up, 'utf8').trimEnd()}\n--> statement-breakpoint\nSELECT * FROM no_such_table;\n`);
    const r = runCli(dir, ['--json', 'up'], env);
    expect(r.status).toBe(3);
    const doc = expectDocumentedJson('error', r.stdout);
    expect(doc.results).toEqual([expect.objectContaining({ revision: '0003_add_phone_to_users', status: 'failed', failedStatement: 2 })]);
  });
});

describe('progress: a status line on a terminal, plain lines elsewhere', () => {
  it('off a terminal: one plain line per revision with [n/N, elapsed], no control characters', () => {
    const dir = project();
    const env = { DATABASE_URL: `file:${path.join(dir, 'plain.sqlite')}` };
    const out = ok(runCli(dir, ['up'], env));
    const lines = out.trimEnd().split('\n');
    expect(lines.slice(0, 4)).toEqual([
      expect.stringMatching(/^↑ 0000_init applied \(\d+ statements?, \d+ ms\) \[1\/4, \d+\.\d s\]$/),
      expect.stringMatching(/^↑ 0001_add_audits applied .* \[2\/4, \d+\.\d s\]$/),
      expect.stringMatching(/^↑ 0002_add_sessions_and_roles applied .* \[3\/4, \d+\.\d s\]$/),
      expect.stringMatching(/^↑ 0003_add_phone_to_users applied .* \[4\/4, \d+\.\d s\]$/),
    ]);
    expect(out).not.toMatch(/[\r\x1b]/);
    const one = ok(runCli(dir, ['down'], env));
    expect(one).toMatch(/^↓ 0003_add_phone_to_users reverted \(1 statement, \d+ ms\)$/m);
  });

  it('on a terminal: the status line shows the revision running, revision n/N and the elapsed time, and is cleared; --json shows none', () => {
    const dir = project();
    const env = { DATABASE_URL: `file:${path.join(dir, 'tty.sqlite')}`, NO_COLOR: '1' };
    const screen = onTerminal(dir, ['up'], env);
    expect(screen).toMatch(/↑ 0000_init {2}revision 1\/4, \d+\.\d s/);
    expect(screen).toContain('\r\x1b[2K');
    expect(screen).toMatch(/↑ 0003_add_phone_to_users applied .*\[4\/4, \d+\.\d s\]/);
    // the last thing on the terminal is the summary, after the status line was cleared
    expect(screen.replace(/\r\n/g, '\n').trimEnd().split(/\r\x1b\[2K/).at(-1)).toMatch(/^sqlite:tty\.sqlite: base -> 0003_add_phone_to_users \(4 revisions applied\)$/);
    const json = onTerminal(dir, ['--json', 'down', 'base'], env);
    expect(json).not.toContain('\x1b[2K');
    expect(JSON.parse(json.replace(/\r\n/g, '\n'))).toMatchObject({ to: 'base' });
  });
});

describe('colours honour NO_COLOR and FORCE_COLOR', () => {
  it('colour on a terminal only; NO_COLOR (not empty) turns it off; FORCE_COLOR decides when set; TERM=dumb is plain', () => {
    const dir = project();
    const env = { DATABASE_URL: `file:${path.join(dir, 'colour.sqlite')}` };
    ok(runCli(dir, ['up'], env));
    const coloured = (text: string) => text.includes(ESC);
    expect(coloured(onTerminal(dir, ['history'], env)), 'terminal').toBe(true);
    expect(coloured(ok(runExact(dir, ['history'], env))), 'pipe').toBe(false);
    expect(coloured(onTerminal(dir, ['history'], { ...env, NO_COLOR: '1' })), 'NO_COLOR=1').toBe(false);
    expect(coloured(onTerminal(dir, ['history'], { ...env, NO_COLOR: '' })), 'NO_COLOR empty').toBe(true);
    expect(coloured(onTerminal(dir, ['history'], { ...env, FORCE_COLOR: '0' })), 'FORCE_COLOR=0').toBe(false);
    expect(coloured(onTerminal(dir, ['history'], { ...env, TERM: 'dumb' })), 'TERM=dumb').toBe(false);
    expect(coloured(ok(runExact(dir, ['history'], { ...env, FORCE_COLOR: '1' }))), 'FORCE_COLOR=1 through a pipe').toBe(true);
    expect(coloured(ok(runExact(dir, ['history'], { ...env, FORCE_COLOR: '1', NO_COLOR: '1' }))), 'FORCE_COLOR wins').toBe(true);
  });
});

describe('README covers every command', () => {
  it('the exit-code table by command and the JSON table name every command the CLI has', () => {
    const dir = project();
    const commands = cliCommands(dir);
    expect(commands).toEqual(expect.arrayContaining(['up', 'down', 'stamp', 'reset', 'status', 'history', 'show', 'create', 'downs', 'check', 'init', 'db up', 'db down', 'db connect']));
    const exitRows = table('## Exit codes', '| command (target) | exit codes |').map((r) => ticked(r[0]!));
    const inExit = new Set(exitRows.flat());
    const inJson = new Set(documentedJson().keys());
    for (const c of commands) {
      expect(inExit, `README exit codes by command: ${c}`).toContain(c);
      expect(inJson, `README JSON fields: ${c}`).toContain(c);
    }
  });
});
