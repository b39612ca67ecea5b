/** Bad input: one clear line, the documented exit code, no stack trace, nothing changed, no secret shown. */
import { appendFileSync, existsSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/pgcluster.js';
import { itFor, addUserColumn, makeProject, pgUrl, runCli, uniqueSchema, type Ran } from '../support/project.js';

function oneLineError(r: Ran, code: number, pattern: RegExp): void {
  expect(r.status, r.stdout + r.stderr).toBe(code);
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^sluice: /);
  expect(lines[0]).toMatch(pattern);
}

describe('bad input', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeProject();
  });

  it('malformed or unsupported DATABASE_URL, bad DATABASE_SCHEMA', () => {
    oneLineError(runCli(dir, ['status'], { DATABASE_URL: 'postgres://u:p@[bad/db' }), 2, /DATABASE_URL is not a valid URL/);
    oneLineError(runCli(dir, ['up'], { DATABASE_URL: 'mysql://h/db' }), 2, /not supported/);
    oneLineError(runCli(dir, ['up'], { DATABASE_URL: 'postgres://127.0.0.1/db', DATABASE_SCHEMA: 'x"; drop' }), 2, /DATABASE_SCHEMA .* is not a plain identifier/);
  });

  it('unknown revisions and out-of-range targets change nothing', () => {
    const env = { DATABASE_URL: `file:${path.join(dir, 'e.sqlite')}` };
    expect(runCli(dir, ['up', '1'], env).status).toBe(0);
    oneLineError(runCli(dir, ['down', 'nope'], env), 2, /unknown revision "nope"/);
    oneLineError(runCli(dir, ['down', '-5'], env), 2, /-5 is past base: only 2 revision/);
    oneLineError(runCli(dir, ['up', '+5'], env), 2, /\+5 is past head: only 2 revision/);
    oneLineError(runCli(dir, ['up', '0000'], env), 2, /below the current revision/);
    expect(runCli(dir, ['status', '--json'], env).stdout).toMatch(/"current": "0001_add_audits"/);
  });

  it('unreachable database: refused or silent host, bounded in seconds, password never shown', async () => {
    const closed = await freePort();
    const r = runCli(dir, ['status'], { DATABASE_URL: `postgres://app:Sup3rS3cret@127.0.0.1:${closed}/db` });
    oneLineError(r, 5, /cannot connect to postgres:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/db: connection refused/);
    expect(r.stdout + r.stderr).not.toContain('Sup3rS3cret');
    const silent = net.createServer(() => {}).listen(0, '127.0.0.1');
    await new Promise((res) => silent.once('listening', res));
    const port = (silent.address() as net.AddressInfo).port;
    const started = Date.now();
    const t = await new Promise<Ran>((resolve) => {
      import('node:child_process').then(({ execFile }) =>
        execFile(process.execPath, [path.join(dir, 'dist', 'cli.js'), 'up'], { cwd: dir, env: { PATH: process.env.PATH, DATABASE_URL: `postgres://app:Sup3rS3cret@127.0.0.1:${port}/db`, SLUICE_CONNECT_TIMEOUT: '2' } }, (err, stdout, stderr) =>
          resolve({ status: (err as { code?: number } | null)?.code ?? 0, stdout, stderr }),
        ),
      );
    });
    silent.close();
    expect(Date.now() - started).toBeLessThan(15_000);
    oneLineError(t, 5, /no answer within 2s/);
    expect(t.stderr).not.toContain('Sup3rS3cret');
  });

  it('--verbose shows the stack; without it there is none', () => {
    const r = runCli(dir, ['--verbose', 'down', 'nope'], { DATABASE_URL: `file:${path.join(dir, 'e.sqlite')}` });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});

describe('integrity', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeProject();
  });

  for (const dialect of ['sqlite', 'postgresql'] as const) {
    itFor(dialect)(`${dialect}: a changed applied file, a database ahead of the code, a corrupt journal, a missing folder`, () => {
      const env = dialect === 'sqlite' ? { DATABASE_URL: `file:${path.join(dir, 'i.sqlite')}` } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('integ') };
      const folder = path.join(dir, 'drizzle', dialect);
      expect(runCli(dir, ['up'], env).status).toBe(0);
      const up1 = path.join(folder, '0001_add_audits.sql');
      const original = readFileSync(up1, 'utf8');
      appendFileSync(up1, '\n-- edited after it was applied\n');
      oneLineError(runCli(dir, ['down'], env), 4, /0001_add_audits\.sql changed after it was applied.*--allow-changed/);
      oneLineError(runCli(dir, ['up'], env), 4, /changed after it was applied/);
      expect(runCli(dir, ['status', '--json'], env).stdout).toMatch(/"changed": \[\s*"0001_add_audits"\s*\]/);
      expect(runCli(dir, ['down', '--allow-changed'], env).status).toBe(0);
      writeFileSync(up1, original);
      expect(runCli(dir, ['up'], env).status).toBe(0);

      const journal = path.join(folder, 'meta', '_journal.json');
      const journalText = readFileSync(journal, 'utf8');
      const parsed = JSON.parse(journalText);
      parsed.entries.pop();
      writeFileSync(journal, JSON.stringify(parsed));
      oneLineError(runCli(dir, ['up'], env), 4, /database has revision\(s\) 0003_add_phone_to_users that .* does not have \(database ahead of the code\)/);
      writeFileSync(journal, '{ "entries": [ oops');
      oneLineError(runCli(dir, ['status'], env), 2, /_journal\.json is not valid JSON/);
      writeFileSync(journal, journalText);
      expect(runCli(dir, ['status', '--json'], env).stdout).toMatch(/"pending": \[\]/);
    });
  }

  it('a corrupt snapshot stops down generation with one line, writing nothing', () => {
    const other = makeProject();
    const folder = path.join(other, 'drizzle', 'sqlite');
    rmSync(path.join(folder, '0001_add_audits.down.sql'));
    rmSync(path.join(folder, '0002_add_sessions_and_roles.down.sql'));
    writeFileSync(path.join(folder, 'meta', '0002_snapshot.json'), '{ not json');
    oneLineError(runCli(other, ['downs'], {}), 2, /snapshot drizzle\/sqlite\/meta\/0002_snapshot\.json of revision 0002_add_sessions_and_roles is missing or not valid JSON/);
    expect(existsSync(path.join(folder, '0002_add_sessions_and_roles.down.sql'))).toBe(false);
    expect(existsSync(path.join(folder, '0001_add_audits.down.sql'))).toBe(false);
  });

  it('migrate-create with one dialect failing keeps the other revision and its down, and says so', () => {
    const other = makeProject();
    addUserColumn(other, 'nick');
    writeFileSync(path.join(other, 'models', 'postgres.ts'), 'export const broken = ;\n');
    const r = runCli(other, ['create', '-m', 'add nick'], {});
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^sluice: postgresql: drizzle-kit generate failed: .*\(created anyway, with downs: sqlite 0004_add_nick\)$/m);
    expect(existsSync(path.join(other, 'drizzle', 'sqlite', '0004_add_nick.down.sql'))).toBe(true);
    expect(existsSync(path.join(other, 'drizzle', 'postgresql', '0004_add_nick.sql'))).toBe(false);
  });

  it('a missing migration folder', () => {
    const other = makeProject({ withoutHistory: true });
    oneLineError(runCli(other, ['up'], {}), 2, /migration folder drizzle\/sqlite does not exist/);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});
