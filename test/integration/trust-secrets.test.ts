/**
 * Passwords never reach a child's argv nor any line sluice prints (issue 13, finding 5).
 *
 * A role with a password full of URL-special characters is created in the suite's PostgreSQL and a
 * scram-sha-256 pg_hba line is put before the cluster's trust lines for it (as reliability.test.ts'
 * "a wrong password" does), so a child that did not get the password could not connect. While
 * `check` (db-test), `verify` (migrate-check: pg_dump) and `db connect` (psql) run, a separate process reads every
 * /proc/<pid>/cmdline in a loop and records any that holds the password's marker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dist/pgcluster.js';
import { makeProject, makeProjectWithOwnCache, pgDescribe, pgUrl, runCli, sql, tempDir, uniqueSchema, type Ran } from '../support/project.js';

/** Every character a URL treats specially, and a marker no other process's argv holds. */
const MARKER = 'Zq9Vt2';
const PW = `${MARKER}@:/?#%&+= x'y`;
const ENC = encodeURIComponent(PW);
const FORMS = [...new Set([PW, ENC, encodeURI(PW), new URLSearchParams({ p: PW }).toString().slice(2), MARKER])];

function expectNoPassword(r: Ran, what: string): void {
  for (const f of FORMS) {
    expect(r.stdout, `${what}: stdout shows "${f}"`).not.toContain(f);
    expect(r.stderr, `${what}: stderr shows "${f}"`).not.toContain(f);
  }
}

/** Watches every process's argv until stopped; returns the argvs holding the marker and the pg_dump / psql ones seen. */
async function watchArgv(): Promise<{ stop: () => Promise<{ leaks: string[]; seen: string[] }> }> {
  const out = path.join(tempDir('sluice-argv-'), 'argv.log');
  const script = `
    const fs = require('node:fs');
    const marker = process.env.WATCH_MARKER, out = process.env.WATCH_OUT, self = String(process.pid);
    const seen = new Set();
    process.stdout.write('ready\\n');
    for (;;) {
      for (const pid of fs.readdirSync('/proc')) {
        if (!/^\\d+$/.test(pid) || pid === self) continue;
        let argv;
        try { argv = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8'); } catch { continue; }
        if (!argv) continue;
        const shown = argv.split('\\0').join(' ').trim();
        const bin = argv.split('\\0')[0].split('/').pop();
        const key = pid + ' ' + shown;
        if (seen.has(key)) continue;
        if (argv.includes(marker)) { seen.add(key); fs.appendFileSync(out, 'LEAK ' + shown + '\\n'); }
        else if (bin === 'pg_dump' || bin === 'psql') { seen.add(key); fs.appendFileSync(out, 'SEEN ' + shown + '\\n'); }
      }
    }`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH, WATCH_MARKER: MARKER, WATCH_OUT: out },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('error', reject);
  });
  return {
    stop: async () => {
      await new Promise((r) => setTimeout(r, 200));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      const lines = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [];
      return { leaks: lines.filter((l) => l.startsWith('LEAK ')), seen: lines.filter((l) => l.startsWith('SEEN ')) };
    },
  };
}

pgDescribe('passwords: never on a child argv, never printed', () => {
  let dir: string;
  let role: string;
  let hbaFile: string;
  let hbaLine: string;
  let base: URL;

  beforeAll(async () => {
    dir = makeProject();
    base = new URL(pgUrl());
    const admin = { DATABASE_URL: pgUrl() };
    role = uniqueSchema('secret_role');
    await sql(dir, admin, `CREATE ROLE ${role} LOGIN PASSWORD '${PW.replace(/'/g, "''")}'`);
    await sql(dir, admin, `GRANT CREATE ON DATABASE ${base.pathname.slice(1)} TO ${role}`);
    hbaFile = (await sql<{ hba_file: string }>(dir, admin, 'SHOW hba_file'))[0]!.hba_file;
    hbaLine = `host all ${role} 127.0.0.1/32 scram-sha-256`;
    writeFileSync(hbaFile, `${hbaLine}\n${readFileSync(hbaFile, 'utf8')}`);
    await sql(dir, admin, 'SELECT pg_reload_conf()');
    await new Promise((r) => setTimeout(r, 300));
  });

  afterAll(async () => {
    if (!hbaFile) return;
    // Remove only our line: other tests may edit the same file.
    writeFileSync(hbaFile, readFileSync(hbaFile, 'utf8').split('\n').filter((l) => l !== hbaLine).join('\n'));
    await sql(dir, { DATABASE_URL: pgUrl() }, 'SELECT pg_reload_conf()');
  });

  /** The suite's server, as the role, with the password in userinfo or in ?password=, percent-encoded. */
  const roleUrl = (where: 'userinfo' | 'query', params = '') =>
    where === 'userinfo'
      ? `postgres://${role}:${ENC}@${base.host}${base.pathname}${params ? `?${params}` : ''}`
      : `postgres://${role}@${base.host}${base.pathname}?${params ? `${params}&` : ''}password=${ENC}`;

  it('the role really needs its password (scram), and a wrong one is refused without being shown', () => {
    const wrong = `postgres://${role}:${encodeURIComponent(`${MARKER}-wrong`)}@${base.host}${base.pathname}`;
    const r = runCli(dir, ['status'], { DATABASE_URL: wrong, DATABASE_SCHEMA: uniqueSchema('s') });
    expect(r.status, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/password authentication failed/);
    expectNoPassword(r, 'status with a wrong password');
  });

  it('db-test (check) and migrate-check (pg_dump): the password goes through the environment, never an argv', async () => {
    const watch = await watchArgv();
    // asynchronous, so the watcher and the commands run side by side
    const cli = (args: string[], extra: Record<string, string> = {}) =>
      new Promise<Ran>((resolve) => {
        const child = spawn(process.execPath, [path.join(dir, 'dist', 'cli.cjs'), ...args], {
          cwd: dir,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', SLUICE_CHECK_DATABASE_URL: roleUrl('userinfo'), ...extra },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
      });
    const r = await cli(['check']);
    // migrate-check's drift finding reads the live schema and a scratch one with pg_dump
    const live = { DATABASE_URL: roleUrl('userinfo'), DATABASE_SCHEMA: uniqueSchema('drift') };
    const up = await cli(['up'], live);
    const verify = await cli(['verify'], live);
    const { leaks, seen } = await watch.stop();
    expect(leaks, 'processes whose argv holds the password').toEqual([]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/postgresql \(\d+ revisions\): \d+ passed, 0 failed/);
    expect(up.status, up.stderr).toBe(0);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(seen.some((l) => /pg_dump/.test(l)), `the watcher saw no pg_dump: ${seen.join('\n')}`).toBe(true);
    for (const [name, ran] of [['check', r], ['up', up], ['verify', verify]] as const) expectNoPassword(ran, name);
  });

  for (const where of ['userinfo', 'query'] as const) {
    it(`db connect (psql), password in ${where}: argv clean, URL parameters and search_path reach psql`, async () => {
      const schema = uniqueSchema('conn');
      const url = roleUrl(where, 'sslmode=disable&application_name=sluice_secret_test');
      const watch = await watchArgv();
      const r = runCli(
        dir,
        ['db', 'connect', '--', '-X', '-A', '-t', '-c', "select current_user, current_setting('search_path'), current_setting('application_name'), pg_sleep(1.5)"],
        { DATABASE_URL: url, DATABASE_SCHEMA: schema },
      );
      const { leaks, seen } = await watch.stop();
      expect(leaks, 'processes whose argv holds the password').toEqual([]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(`${role}|"${schema}"|sluice_secret_test|`);
      expect(seen.some((l) => /psql/.test(l)), `the watcher saw no psql: ${seen.join('\n')}`).toBe(true);
      expectNoPassword(r, 'db connect');
    });
  }
});

pgDescribe('passwords: never printed, whatever the URL form', () => {
  let dir: string;
  let port: number;
  beforeAll(async () => {
    dir = makeProject();
    port = await freePort();
  });

  const urls = () => [
    { name: 'userinfo, percent-encoded', url: `postgres://app:${ENC}@127.0.0.1:${port}/db` },
    { name: '?password=, percent-encoded', url: `postgres://app@127.0.0.1:${port}/db?sslmode=disable&password=${ENC}` },
    { name: '?password=, form-encoded (+ for space)', url: `postgres://app@127.0.0.1:${port}/db?password=${new URLSearchParams({ p: PW }).toString().slice(2)}` },
    { name: 'userinfo with raw @ and :', url: `postgres://app:${MARKER}@:x@127.0.0.1:${port}/db` },
  ];

  it('status, status --json, up, --verbose, and db-test through SLUICE_CHECK_DATABASE_URL, on a refused port', () => {
    for (const { name, url } of urls()) {
      for (const args of [['status'], ['status', '--json'], ['up'], ['--verbose', 'up'], ['--json', 'up']]) {
        const r = runCli(dir, args, { DATABASE_URL: url, DATABASE_SCHEMA: 'app' });
        expect(r.status, `${name} ${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(5);
        expect(r.stdout + r.stderr).toMatch(/cannot connect to postgres:\/\/app(:\*\*\*)?@127\.0\.0\.1:\d+\/db.*connection refused/);
        expectNoPassword(r, `${name}: ${args.join(' ')}`);
      }
    }
    const { url } = urls()[1]!;
    const r = runCli(dir, ['--json', 'check'], { SLUICE_CHECK_DATABASE_URL: url });
    expect(r.status, r.stdout + r.stderr).toBe(5);
    expect(r.stdout).toMatch(/cannot connect to postgres:\/\/app@127\.0\.0\.1:\d+\/db\?sslmode=disable&password=\*\*\* ?: connection refused/);
    expectNoPassword(r, 'check --json');
  });

  it('no cache file sluice writes holds the password (the config cache keys on DATABASE_URL through SHA-256 only)', () => {
    const own = makeProjectWithOwnCache();
    for (const { url } of urls()) expect(runCli(own, ['status'], { DATABASE_URL: url, DATABASE_SCHEMA: 'app' }).status).toBe(5);
    const cache = path.join(own, 'node_modules', '.cache');
    const files = (readdirSync(cache, { recursive: true }) as string[]).map((f) => path.join(cache, f)).filter((f) => statSync(f).isFile());
    expect(files.some((f) => /config-[0-9a-f]+\.json$/.test(f)), files.join('\n')).toBe(true);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const form of FORMS) expect(text, `${f} holds "${form}"`).not.toContain(form);
    }
  });

  it('a raw / ? # in the password is refused (exit 2) without showing it', () => {
    for (const url of [`postgres://app:123/${MARKER}@127.0.0.1:${port}/db`, `postgres://app:123?${MARKER}@127.0.0.1:${port}/db`, `postgres://app:${MARKER}#x@127.0.0.1:${port}/db`]) {
      const r = runCli(dir, ['status'], { DATABASE_URL: url });
      expect(r.status, r.stdout + r.stderr).toBe(2);
      expect(r.stderr).toMatch(/percent-encode/);
      expectNoPassword(r, url);
    }
  });

  it('a one-character password is masked as a credential, and the rest of the output is intact', () => {
    for (const url of [`postgres://app:e@127.0.0.1:${port}/db`, `postgres://app@127.0.0.1:${port}/db?password=e`]) {
      for (const args of [['status'], ['--json', 'status']]) {
        const r = runCli(dir, args, { DATABASE_URL: url });
        expect(r.status).toBe(5);
        const all = r.stdout + r.stderr;
        expect(all).not.toMatch(/:e@|password=e\b/);
        expect(all).toMatch(/connection refused; is the server running/);
      }
    }
  });
});

// a hunt: a DATABASE_URL sluice cannot read was quoted in its error by its first 20 characters, which
// for a URL in quotes (a CI secret or an environment file written with them), a scheme missing its colon
// or a pasted `DATABASE_URL=…` line hold the start of the password (`"postgres://a:Zq9Vt2…`)
describe('a DATABASE_URL sluice cannot read', () => {
  const dir = makeProject();
  const url = `postgres://a:${MARKER}pw@db.example:5432/app`;
  it.each([
    ['in double quotes', `"${url}"`, /wrapped in quotes.*remove them/],
    ['in single quotes, with a newline after', `'${url}'\n`, /wrapped in quotes/],
    ['with a mistyped scheme', url.replace('://', '//'), /does not start with a scheme/],
    ['pasted with its name', `DATABASE_URL=${url}`, /holds \\?"DATABASE_URL=…\\?", an assignment/],
  ])('%s: exit 2 saying what is wrong, no character of the password', (_what, value, said) => {
    for (const args of [['status'], ['--json', 'deploy'], ['--verbose', 'up']]) {
      const r = runCli(dir, args, { DATABASE_URL: value });
      expect(r.status, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(2);
      const all = r.stdout + r.stderr;
      expect(all).toMatch(said);
      expect(all, args.join(' ')).not.toContain(MARKER.slice(0, 3));
    }
  });
});
