/**
 * Output read slowly through a pipe arrives whole: a pipe takes 64 KiB at a time, and the CLI must not
 * exit while the rest is queued (a deploy script parsing `--json`, a `| tee` into a log). A reader that
 * goes away early (`| head`) or output that cannot be written ends nothing: the command runs to its end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { itFor, pgUrl, tempDir, uniqueSchema } from '../support/project.js';
import { generateProject } from '../../bench/generate.mjs';

const REPO = path.resolve(__dirname, '..', '..');
const N = 1500;

describe('output through a slow pipe', () => {
  it(`--json and the progress lines of ${N} revisions arrive whole when the reader starts a second late`, () => {
    const dir = path.join(tempDir('sluice-out-'), 'p');
    generateProject(dir, 'sqlite', N);
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    const cli = path.join(REPO, 'dist', 'cli.cjs');
    const slow = (args: string, db: string) =>
      spawnSync('bash', ['-c', `set -o pipefail; node ${JSON.stringify(cli)} ${args} | (sleep 1; cat)`], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, SHLVL: '1', NO_COLOR: '1', DATABASE_URL: `file:${path.join(dir, db)}` },
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
    const json = slow('--json up', 'a.sqlite');
    expect(json.status, json.stderr).toBe(0);
    expect(json.stdout.length).toBeGreaterThan(65536 * 2);
    const result = JSON.parse(json.stdout);
    expect(result.steps).toHaveLength(N);
    expect(result.steps.every((s: { status: string }) => s.status === 'applied')).toBe(true);
    const lines = slow('up', 'b.sqlite');
    expect(lines.status, lines.stderr).toBe(0);
    expect(lines.stdout.length).toBeGreaterThan(65536);
    const applied = lines.stdout.split('\n').filter((l) => / applied \(/.test(l));
    expect(applied).toHaveLength(N);
    expect(applied.at(-1)).toMatch(new RegExp(`^↑ ${String(N - 1).padStart(4, '0')}_bench_${N - 1} applied .*\\[${N}/${N}, `));
  });
});

describe('output a reader does not take yet', () => {
  itFor('postgresql')(
    `does not hold the run: up of ${N} revisions (more progress lines than a pipe holds, printed group by group as the server finishes them) reaches head before the reader takes anything, then the output arrives whole`,
    async () => {
      const dir = path.join(tempDir('sluice-out-'), 'p');
      generateProject(dir, 'postgresql', N);
      symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
      const schema = uniqueSchema('out');
      // the reader takes nothing until the file `go` exists (a stalled log collector, a pager not scrolled)
      const cli = JSON.stringify(path.join(REPO, 'dist', 'cli.cjs'));
      const child = spawn('bash', ['-c', `set -o pipefail; node ${cli} up | (while [ ! -e go ]; do sleep 0.05; done; cat > out.txt)`], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, SHLVL: '1', NO_COLOR: '1', DATABASE_URL: pgUrl(), DATABASE_SCHEMA: schema },
        stdio: 'ignore',
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      const client = new pg.Client({ connectionString: pgUrl() });
      await client.connect();
      const applied = async () => {
        const rows = await client.query(`SELECT count(*)::int AS n FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = 'sluice_version'`, [schema]);
        if (rows.rows[0].n === 0) return 0; // not made yet
        return (await client.query(`SELECT count(*)::int AS n FROM "${schema}".sluice_version`)).rows[0].n as number;
      };
      let n = 0;
      try {
        for (let waited = 0; waited < 30_000 && n < N; waited += 100) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          n = await applied();
        }
      } finally {
        writeFileSync(path.join(dir, 'go'), '');
        await client.end();
      }
      expect(await exited).toBe(0);
      expect(n, 'revisions recorded while the reader took nothing').toBe(N);
      const out = readFileSync(path.join(dir, 'out.txt'), 'utf8');
      expect(out.length).toBeGreaterThan(65536);
      expect(out.split('\n').filter((l) => / applied \(/.test(l))).toHaveLength(N);
    },
    60_000,
  );

  it("importing the library leaves the process's stdout and stderr as Node.js makes them (only the CLI writes the descriptors)", () => {
    const index = pathToFileURL(path.join(REPO, 'dist', 'index.js')).href;
    const script = `const d = (n) => Object.getOwnPropertyDescriptor(process, n).get; const before = [d('stdout'), d('stderr')]; await import(${JSON.stringify(index)}); const after = [d('stdout'), d('stderr')]; process.stdout.write(String(before[0] === after[0] && before[1] === after[1]));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('true');
  });
});

describe('output nobody reads', () => {
  const dir = path.join(tempDir('sluice-out-'), 'p');
  generateProject(dir, 'sqlite', N);
  symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  const cli = JSON.stringify(path.join(REPO, 'dist', 'cli.cjs'));
  const sh = (script: string) =>
    spawnSync('bash', ['-c', script], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SHLVL: '1', NO_COLOR: '1', DATABASE_URL: `file:${path.join(dir, 'db.sqlite')}` },
      encoding: 'utf8',
    });

  it('a reader that closes the pipe early (| head) stops neither up nor history: no stack trace, the command\'s own exit code', () => {
    // PIPESTATUS[0] is sluice's own code; head exits after the first line, long before sluice's last
    const up = sh(`node ${cli} up | head -1; exit \${PIPESTATUS[0]}`);
    expect(up.stderr).toBe('');
    expect(up.status).toBe(0);
    expect(up.stdout).toMatch(/^↑ 0000_bench_0 applied /);
    const status = sh(`node ${cli} --json status`);
    expect(status.status, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ applied: N, pending: [] });
    for (const args of ['history', '--json history']) {
      const history = sh(`node ${cli} ${args} | head -c 10 >/dev/null; exit \${PIPESTATUS[0]}`);
      expect(history.stderr, args).toBe('');
      expect(history.status, args).toBe(0);
    }
  });

  it('output that cannot be written (a full disk) is named once on stderr and the command runs to its end', () => {
    expect(sh(`node ${cli} up`).status).toBe(0);
    const down = sh(`node ${cli} down -1 --no-backup >/dev/full`);
    expect(down.stderr).toBe('sluice: cannot write the output (ENOSPC); the rest of it is lost, the command runs to its end\n');
    expect(down.status).toBe(0);
    const status = sh(`node ${cli} --json status`);
    expect(JSON.parse(status.stdout)).toMatchObject({ applied: N - 1 });
  });
});


describe('stdout and stderr into one file', () => {
  it('a line held for the next write goes out before an error printed in the same stretch of work, and before exit', () => {
    const printer = JSON.stringify(pathToFileURL(path.join(REPO, 'dist', 'printer.js')).href);
    const script = `import { consolePrinter } from ${printer}; const p = consolePrinter(() => [], { live: false }); p.line('one'); p.error('two'); p.line('three'); p.line('four'); process.exit(0);`;
    const dir = tempDir('sluice-out-');
    const r = spawnSync('bash', ['-c', `node --input-type=module -e ${JSON.stringify(script)} > out.txt 2>&1`], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // process.exit right after the lines, with no microtask in between: the printer's exit listener writes them
    expect(readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('one\ntwo\nthree\nfour\n');
  });

  it('held lines are redacted when written, with the secrets known when their run began and at the write (two printers, each with its own), at the next microtask and at exit', () => {
    const printer = JSON.stringify(pathToFileURL(path.join(REPO, 'dist', 'printer.js')).href);
    const script = [
      `import { consolePrinter } from ${printer};`,
      `const secrets = ['hunter2-pw', 'gone-pw']; const p = consolePrinter(() => secrets, { live: false }); const q = consolePrinter(() => ['other-pw'], { live: false });`,
      `p.line('postgres://u:hunter2-pw@h/db'); q.line('q hunter2-pw other-pw'); p.line('p other-pw');`,
      // a secret that comes before the write (.env read meanwhile) and one that goes (removed from the environment): both masked
      `p.line('early late-pw'); secrets.push('late-pw'); p.line('late-pw known by the write'); p.line('removed gone-pw'); secrets.splice(1, 1);`,
      `await null; p.line('then hunter2-pw'); p.line('and late-pw'); process.exit(0);`,
    ].join(' ');
    const dir = tempDir('sluice-out-');
    const r = spawnSync('bash', ['-c', `node --input-type=module -e ${JSON.stringify(script)} > out.txt 2>&1`], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // each printer redacts its own secrets only, in the order the lines were printed
    expect(readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('postgres://u:***@h/db\nq hunter2-pw ***\np other-pw\nearly ***\n*** known by the write\nremoved ***\nthen ***\nand ***\n');
  });

  it('the progress lines (written together, one write per stretch of work) come before the error that ends the run', () => {
    const dir = path.join(tempDir('sluice-out-'), 'p');
    generateProject(dir, 'sqlite', 6);
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    appendFileSync(path.join(dir, 'drizzle', '0004_bench_4.sql'), 'SELECT * FROM no_such_table;\n');
    const cli = JSON.stringify(path.join(REPO, 'dist', 'cli.cjs'));
    const r = spawnSync('bash', ['-c', `node ${cli} up > out.txt 2>&1`], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SHLVL: '1', NO_COLOR: '1', DATABASE_URL: `file:${path.join(dir, 'db.sqlite')}` },
      encoding: 'utf8',
    });
    expect(r.status).toBe(3);
    const lines = readFileSync(path.join(dir, 'out.txt'), 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => (l.startsWith('↑') ? l.replace(/ \(.*| \[.*/, '') : l))).toEqual([
      '↑ 0000_bench_0 applied',
      '↑ 0001_bench_1 applied',
      '↑ 0002_bench_2 applied',
      '↑ 0003_bench_3 applied',
      '↑ 0004_bench_4 FAILED',
      '↑ 0005_bench_5 not run',
      expect.stringMatching(/^sluice: revision 0004_bench_4 \(up\) failed at statement 2\/2 .*no such table: no_such_table\. Rolled back: the database is at 0003_bench_3$/),
    ]);
  });
});

describe('progress lines while a SQLite revision runs', () => {
  it('the lines of finished revisions are out before a slow no-transaction revision runs, and a signal then keeps them', async () => {
    const dir = path.join(tempDir('sluice-out-'), 'p');
    generateProject(dir, 'sqlite', 6);
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    // SQLite runs this synchronously in sluice's process, for seconds: no microtask runs meanwhile
    writeFileSync(
      path.join(dir, 'drizzle', '0003_bench_3.sql'),
      '-- sluice:no-transaction\nCREATE TABLE slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100000000) SELECT count(*) AS n FROM c;\n',
    );
    const out = path.join(dir, 'out.txt');
    const fd = openSync(out, 'w');
    const child = spawn(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), 'up'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', DATABASE_URL: `file:${path.join(dir, 'db.sqlite')}` },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const applied = () => readFileSync(out, 'utf8').split('\n').filter((l) => / applied \(/.test(l));
    let seen: string[] = [];
    for (let waited = 0; waited < 60_000 && child.exitCode === null; waited += 50) {
      seen = applied();
      if (seen.length >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // seen while 0003 still runs (the lines used to come only after it, with its own)
    expect(child.exitCode).toBe(null);
    expect(seen.map((l) => l.split(' ')[1])).toEqual(['0000_bench_0', '0001_bench_1', '0002_bench_2']);
    child.kill('SIGTERM');
    expect(await exited).toBe(null); // ended by the signal, which SQLite runs do not catch
    expect(applied().map((l) => l.split(' ')[1])).toEqual(['0000_bench_0', '0001_bench_1', '0002_bench_2']);
  }, 90_000);
});

describe('--json: the document alone on stdout', () => {
  it("what a drizzle.config.ts (dotenv 17's line) or a TypeScript revision prints goes to stderr, not before the document", () => {
    const dir = path.join(tempDir('sluice-out-'), 'p');
    generateProject(dir, 'sqlite', 3);
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    // dotenv 17 logs this on every load with console.log; a config that is not cached runs on every command
    const config = path.join(dir, 'drizzle.config.ts');
    writeFileSync(config, `console.log('[dotenv@17.2.1] injecting env (0) from .env');\nprocess.stdout.write('config wrote this\\n');\n${readFileSync(config, 'utf8')}`);
    writeFileSync(
      path.join(dir, 'drizzle', '0001_bench_1.ts'),
      "export async function up(): Promise<void> {\n  console.log('backfilled 3 rows');\n}\nexport async function down(): Promise<void> {\n  console.info('undone');\n}\n",
    );
    const cli = path.join(REPO, 'dist', 'cli.cjs');
    const run = (args: string[]) =>
      spawnSync(process.execPath, [cli, ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', SLUICE_NO_CONFIG_CACHE: '1', DATABASE_URL: `file:${path.join(dir, 'db.sqlite')}` },
        encoding: 'utf8',
      });
    for (const [args, printed] of [
      [['--json', 'up'], 'backfilled 3 rows'],
      [['down', 'base', '--json', '--no-backup'], 'undone'],
      [['--json', 'deploy'], 'backfilled 3 rows'],
      [['--json', 'status'], undefined],
    ] as const) {
      const r = run([...args]);
      expect(r.status, r.stderr).toBe(0);
      // was: "[dotenv@17.2.1] injecting env…\nconfig wrote this\nbackfilled 3 rows\n{…}": JSON.parse refused it
      expect(() => JSON.parse(r.stdout), `${args.join(' ')}: ${r.stdout}`).not.toThrow();
      expect(r.stderr).toContain('[dotenv@17.2.1] injecting env (0) from .env\nconfig wrote this\n');
      if (printed) expect(r.stderr).toContain(`${printed}\n`);
    }
    // without --json the output is the command's text, with what the config and the revision print, as before
    const text = run(['status']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^\[dotenv@17\.2\.1\] injecting env \(0\) from \.env\nconfig wrote this\ndatabase: sqlite:db\.sqlite\n/);
    // a usage error's document too
    const bad = run(['--json', 'up', 'nosuch']);
    expect(bad.status).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ code: 2 });
  });

  it('--json --version is a document too (was: the bare version as text); without --json the bare version', () => {
    const version = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    for (const args of [['--json', '--version'], ['-V', '--json']]) {
      const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), ...args], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ version });
    }
    const plain = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), '--version'], { encoding: 'utf8' });
    expect(plain.stdout).toBe(`${version}\n`);
  });
});
