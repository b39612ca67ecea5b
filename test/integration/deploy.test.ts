/**
 * Deploy (issue 10, item 4): `sluice deploy` and the container entrypoint (docker/entrypoint.sh, run
 * with sh as a container would, no Docker engine) against a PostgreSQL that comes up late (a private
 * cluster started seconds after the script) and one that never does (a closed port).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort, startCluster, stopCluster } from '../../dist/pgcluster.js';
import { deploy } from '../../dist/commands/deploy.js';
import { Interrupted } from '../../dist/errors.js';
import pg from 'pg';
import { addRevision, cleanEnv, freshDatabase, makeProject, pgDescribe, pgUrl, REPO, runCli, runMake, sql, tempDir, uniqueSchema, type Env } from '../support/project.js';

const HEAD = '0003_add_phone_to_users';
const ENTRYPOINT = path.join(REPO, 'docker', 'entrypoint.sh');
const SLUICE_CMD = `${process.execPath} ${path.join(REPO, 'dist', 'cli.cjs')}`;

interface Finished {
  status: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Run the entrypoint with sh, as `ENTRYPOINT [entrypoint.sh] CMD [app...]` would. */
function runEntrypoint(cwd: string, env: Env, app: string[]): { done: Promise<Finished>; child: ReturnType<typeof spawn> } {
  const started = Date.now();
  const child = spawn('sh', [ENTRYPOINT, ...app], { cwd, env: cleanEnv({ SLUICE_CMD, ...env }) as NodeJS.ProcessEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<Finished>((resolve) => child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr, seconds: (Date.now() - started) / 1000 })));
  return { done, child };
}

const APP = ['sh', '-c', 'echo "APP STARTED with $DATABASE_SCHEMA"'];

describe('sluice deploy', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeProject();
  });

  it('SQLite: deploys to head with a one-line summary, then nothing to deploy; --json shape', () => {
    const env = { DATABASE_URL: `file:${path.join(dir, 'deploy.sqlite')}` };
    const first = runCli(dir, ['deploy'], env);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    const last = first.stdout.trim().split('\n').pop()!;
    expect(last).toMatch(new RegExp(`^deployed sqlite:deploy\\.sqlite: base -> ${HEAD}, 4 revisions in \\d+\\.\\d s$`));
    const again = runCli(dir, ['deploy'], env);
    expect(again.status).toBe(0);
    expect(again.stdout.trim()).toBe(`nothing to deploy: at ${HEAD} on sqlite:deploy.sqlite`);
    const j = runCli(dir, ['--json', 'deploy'], env);
    expect(j.status).toBe(0);
    const r = JSON.parse(j.stdout);
    expect(r).toEqual({
      status: 'up-to-date',
      database: 'sqlite:deploy.sqlite',
      from: HEAD,
      to: HEAD,
      revisions: [],
      steps: [],
      seconds: expect.any(Number),
      wait: { attempts: 0, seconds: 0 },
    });
  });

  it("SQLite: takes over a database drizzle's migrator manages, then applies what is pending", () => {
    const file = path.join(dir, 'drizzle-managed.sqlite');
    const db = new Database(file);
    // drizzle-orm's own migrate() on the history's first three revisions
    const partial = tempDir('sluice-deploy-');
    cpSync(path.join(dir, 'drizzle', 'sqlite'), partial, { recursive: true });
    const journal = path.join(partial, 'meta', '_journal.json');
    const j0 = JSON.parse(readFileSync(journal, 'utf8'));
    j0.entries = j0.entries.slice(0, 3);
    writeFileSync(journal, JSON.stringify(j0));
    migrate(drizzle(db), { migrationsFolder: partial });
    db.close();
    const j = runCli(dir, ['--json', 'deploy'], { DATABASE_URL: `file:${file}` });
    expect(j.stderr).toBe('');
    expect(j.status).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({
      status: 'deployed',
      from: '0002_add_sessions_and_roles',
      to: HEAD,
      revisions: [HEAD],
      steps: [{ revision: HEAD, direction: 'up', status: 'applied' }],
      takeover: { source: '__drizzle_migrations', rows: 3, revisions: ['0000_init', '0001_add_audits', '0002_add_sessions_and_roles'], at: '0002_add_sessions_and_roles' },
    });
  });

  it('make migrate-deploy runs it', () => {
    const r = runMake(dir, ['migrate-deploy'], { DATABASE_URL: `file:${path.join(dir, 'make-deploy.sqlite')}` });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`deployed sqlite:make-deploy\\.sqlite: base -> ${HEAD}, 4 revisions in`));
  });

  it('DATABASE_URL unset or empty is refused (exit 2), creating nothing (was: the local db.sqlite deployed, exit 0: a pipeline missing its secret passed)', () => {
    for (const env of [{}, { DATABASE_URL: '' }, { DATABASE_URL: '  ' }]) {
      const r = runCli(dir, ['deploy'], env);
      expect(r.status, r.stdout + r.stderr).toBe(2);
      expect(r.stderr.trim()).toBe(
        'sluice: deploy failed: DATABASE_URL is not set (or empty), so deploy would migrate the local default ./db.sqlite instead of your database; set DATABASE_URL to the database to deploy (file:./db.sqlite to deploy that SQLite file); nothing was changed',
      );
      expect(existsSync(path.join(dir, 'db.sqlite'))).toBe(false);
    }
    // and so are up and status, where only an unset DATABASE_URL means the default (was: the local
    // db.sqlite migrated, exit 0); an empty line in .env too
    for (const [args, env] of [[['up'], { DATABASE_URL: '' }], [['status'], { DATABASE_URL: ' ' }]] as const) {
      const r = runCli(dir, [...args], env);
      expect([r.status, r.stderr.trim()], r.stdout).toEqual([2, expect.stringMatching(/^sluice: DATABASE_URL is set but empty .*unset it to use the local SQLite file \.\/db\.sqlite$/)]);
    }
    writeFileSync(path.join(dir, '.env'), 'DATABASE_URL=\n');
    try {
      expect(runCli(dir, ['up']).status).toBe(2);
    } finally {
      rmSync(path.join(dir, '.env'));
    }
    expect(existsSync(path.join(dir, 'db.sqlite'))).toBe(false);
    // the default named explicitly deploys
    const ok = runCli(dir, ['deploy'], { DATABASE_URL: 'file:./db.sqlite' });
    expect(ok.status, ok.stderr).toBe(0);
    rmSync(path.join(dir, 'db.sqlite'), { force: true });
  });

  it('a bad SLUICE_DEPLOY_WAIT is refused (exit 2) before anything is tried', () => {
    const r = runCli(dir, ['deploy'], { DATABASE_URL: 'postgres://u@127.0.0.1:1/x', SLUICE_DEPLOY_WAIT: 'soon' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('sluice: deploy failed: SLUICE_DEPLOY_WAIT must be a number of seconds (default 60), not "soon"');
  });
});

pgDescribe('deploy entrypoint (docker/entrypoint.sh) against PostgreSQL', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeProject();
  });

  it('PostgreSQL: --json shape of a deploy and of an up-to-date run', () => {
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('deploy') };
    const j = runCli(dir, ['--json', 'deploy'], env);
    expect(j.status).toBe(0);
    const r = JSON.parse(j.stdout);
    expect(Object.keys(r).sort()).toEqual(['database', 'from', 'revisions', 'seconds', 'status', 'steps', 'to', 'wait']);
    expect(r).toMatchObject({ status: 'deployed', from: 'base', to: HEAD, revisions: ['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', HEAD], wait: { attempts: 1 } });
    expect(r.database).toContain(`(schema ${env.DATABASE_SCHEMA})`);
    expect(r.steps).toHaveLength(4);
    expect(typeof r.seconds).toBe('number');
    expect(typeof r.wait.seconds).toBe('number');
    const again = JSON.parse(runCli(dir, ['--json', 'deploy'], env).stdout);
    expect(again).toMatchObject({ status: 'up-to-date', from: HEAD, to: HEAD, revisions: [], steps: [] });
  });

  it('a database that comes up late: the script waits (a message per attempt), deploys, then starts the app', async () => {
    const port = await freePort();
    const clusterDir = mkdtempSync(path.join(os.tmpdir(), 'sluice-late-pg-'));
    const schema = uniqueSchema('late');
    const run = runEntrypoint(dir, { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`, DATABASE_SCHEMA: schema, SLUICE_DEPLOY_WAIT: '90' }, APP);
    try {
      await new Promise((r) => setTimeout(r, 3000));
      await startCluster(clusterDir, { port });
      const r = await run.done;
      expect(r.status, r.stderr).toBe(0);
      const waits = r.stderr.trim().split('\n');
      expect(waits.length).toBeGreaterThanOrEqual(2);
      for (const w of waits) expect(w).toMatch(new RegExp(`^sluice: waiting for postgres://postgres@127\\.0\\.0\\.1:${port}/postgres: .+ \\(attempt \\d+, \\d+s of SLUICE_DEPLOY_WAIT=90s\\)$`));
      expect(waits[0]).toContain('connection refused');
      const out = r.stdout.trim().split('\n');
      expect(out.slice(-2)).toEqual([
        expect.stringMatching(new RegExp(`^deployed postgres://postgres@127\\.0\\.0\\.1:${port}/postgres \\(schema ${schema}\\): base -> ${HEAD}, 4 revisions in \\d+\\.\\d s$`)),
        `APP STARTED with ${schema}`,
      ]);
    } finally {
      await stopCluster(clusterDir).catch(() => {});
      rmSync(clusterDir, { recursive: true, force: true });
    }
  });

  it('a database that never comes up: fails within SLUICE_DEPLOY_WAIT plus a margin, exit 5, one clear line, the app never starts', async () => {
    const port = await freePort(); // nothing listens there
    const env = { DATABASE_URL: `postgres://deployer:s3cret-pass@127.0.0.1:${port}/app`, SLUICE_DEPLOY_WAIT: '4' };
    runCli(dir, ['history'], env); // warm the described-config cache so the timing below is the wait's
    const r = await runEntrypoint(dir, env, APP).done;
    expect(r.status, r.stderr).toBe(5);
    expect(r.seconds).toBeGreaterThanOrEqual(4);
    expect(r.seconds).toBeLessThan(4 + 4);
    expect(r.stdout).not.toContain('APP STARTED');
    expect(r.stdout + r.stderr).not.toContain('s3cret-pass');
    const lines = r.stderr.trim().split('\n');
    const final = lines.filter((l) => !l.startsWith('sluice: waiting for '));
    expect(final).toEqual([
      `sluice: deploy failed: database postgres://deployer:***@127.0.0.1:${port}/app did not answer within SLUICE_DEPLOY_WAIT=4s (${lines.length} attempts; last: connection refused); check that it runs and that DATABASE_URL names it`,
    ]);
    expect(lines[lines.length - 1]).toBe(final[0]);
    // --json: the error as JSON on stdout, same code
    const j = runCli(dir, ['--json', 'deploy'], { ...env, SLUICE_DEPLOY_WAIT: '0' });
    expect(j.status).toBe(5);
    expect(JSON.parse(j.stdout)).toEqual({ error: expect.stringContaining('deploy failed: database postgres://deployer:***@'), code: 5 });
  });

  it('the library: an abort while a connection attempt hangs (a server that accepts and never answers) rejects at once with Interrupted, and that attempt is closed', async () => {
    const sockets: net.Socket[] = [];
    const closed: Promise<void>[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.resume(); // read (and drop) what the client sends, so its close is seen
      closed.push(new Promise((resolve) => socket.on('close', () => resolve())));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const controller = new AbortController();
      const run = deploy({ cwd: dir, env: { ...cleanEnv(), DATABASE_URL: `postgres://u@127.0.0.1:${port}/app`, SLUICE_DEPLOY_WAIT: '60', SLUICE_CONNECT_TIMEOUT: '30' }, signal: controller.signal });
      const outcome = run.then(() => undefined, (err: unknown) => err);
      for (let i = 0; i < 300 && !sockets.length; i++) await new Promise((r) => setTimeout(r, 20));
      expect(sockets, 'deploy connected').toHaveLength(1);
      const sent = Date.now();
      controller.abort('SIGTERM');
      const err = await outcome;
      expect(err).toBeInstanceOf(Interrupted);
      expect((err as Error).message).toMatch(/^deploy failed: interrupted \(SIGTERM\) while waiting for database postgres:\/\/u@127\.0\.0\.1:\d+\/app \(1 attempt in \d+s\): nothing was changed$/);
      // the hanging attempt is not left to its 30 s timeout: the server sees it go
      await Promise.race([closed[0], new Promise((_, reject) => setTimeout(() => reject(new Error('the connection attempt was left open')), 3_000))]);
      expect(Date.now() - sent).toBeLessThan(3_000);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  // Was: a signal while deploy waited for the database ended the process by the signal's default
  // action: no line, and under --json no document on stdout for the pipeline that parses it.
  it.each([
    { signal: 'SIGTERM' as const, code: 143 },
    { signal: 'SIGINT' as const, code: 130 },
  ])('$signal while deploy waits for the database: exit $code at once, one line (under --json the error document)', async ({ signal, code }) => {
    const port = await freePort(); // nothing listens there
    const env = { DATABASE_URL: `postgres://deployer:s3cret-pass@127.0.0.1:${port}/app`, SLUICE_DEPLOY_WAIT: '60' };
    for (const json of [false, true]) {
      const child = spawn(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), ...(json ? ['--json'] : []), 'deploy'], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b) => (stdout += b));
      const waiting = new Promise<void>((resolve) =>
        child.stderr.on('data', (b) => {
          stderr += b;
          if (stderr.includes('sluice: waiting for ')) resolve();
        }),
      );
      const done = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      await waiting;
      const sent = Date.now();
      child.kill(signal);
      const r = { status: await done, stdout, stderr };
      expect(Date.now() - sent, 'the signal ended the wait').toBeLessThan(3_000);
      expect(r.status, r.stderr).toBe(code);
      const line = new RegExp(`^deploy failed: interrupted \\(${signal}\\) while waiting for database postgres://deployer:\\*\\*\\*@127\\.0\\.0\\.1:${port}/app \\(\\d+ attempts? in \\d+s\\): nothing was changed$`);
      if (json) expect(JSON.parse(r.stdout)).toEqual({ error: expect.stringMatching(line), code });
      else {
        const final = r.stderr.trim().split('\n').filter((l) => !l.startsWith('sluice: waiting for '));
        expect(final).toHaveLength(1);
        expect(final[0]!.replace(/^sluice: /, '')).toMatch(line);
      }
    }
  });

  // Found by a README walk: the script ran sluice in the foreground, so a SIGTERM (docker stop, a pod
  // ending) ended the shell (or, as PID 1, was ignored) and sluice went on alone, applying the rest.
  it('SIGTERM to the script reaches sluice: the revision running is cancelled and rolled back, exit 143, the app never starts', async () => {
    const slow = makeProject();
    addRevision(slow, 'postgresql', 'slow', 'CREATE TABLE "t_slow" ("id" integer);\n--> statement-breakpoint\nSELECT pg_sleep(4);', 'DROP TABLE "t_slow";');
    // a database of its own: the sleeping session polled for below is this test's
    const url = await freshDatabase('deployterm');
    const env = { DATABASE_URL: url, DATABASE_SCHEMA: uniqueSchema('deploy_term') };
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const run = runEntrypoint(slow, env, APP);
      const sleeping = async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'sluice' AND wait_event = 'PgSleep' AND datname = current_database()")).rowCount! > 0;
      for (let i = 0; i < 600 && !(await sleeping()); i++) await new Promise((r) => setTimeout(r, 20));
      run.child.kill('SIGTERM');
      const r = await run.done;
      expect(r.status, r.stdout + r.stderr).toBe(143);
      expect(r.stderr).toMatch(/interrupted \(SIGTERM\) during 0004_slow \(up\)/);
      expect(r.stdout).not.toContain('APP STARTED');
      // past the sleep: nothing went on after the script ended (was: sluice, orphaned, recorded 0004_slow)
      await new Promise((res) => setTimeout(res, 4500));
      expect((await sql<{ r: string }>(slow, env, 'SELECT "revision" AS r FROM sluice_version ORDER BY 1')).map((x) => x.r).at(-1)).toBe(HEAD);
      expect(await sql(slow, env, "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 't_slow'", [env.DATABASE_SCHEMA])).toEqual([]);
    } finally {
      await admin.end();
      rmSync(slow, { recursive: true, force: true });
    }
  }, 30_000);

  // Found by a review: a SIGTERM after the last revision committed made sluice exit 0 (too late to stop
  // anything), and the script then started the app, the stop request lost.
  it('a SIGTERM that comes after the last revision committed still stops the container: the app never starts', async () => {
    const late = makeProject();
    addRevision(late, 'postgresql', 'last', 'CREATE TABLE "t_last" ("id" integer);\n--> statement-breakpoint\nSELECT pg_sleep(0.3);', 'DROP TABLE "t_last";');
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('deploy_late') };
    try {
      expect(runCli(late, ['up', '0003'], env).status).toBe(0);
      const run = runEntrypoint(late, env, ['sh', '-c', 'sleep 0.3; echo "APP STARTED"']);
      let seen = '';
      let sent = false;
      run.child.stdout!.on('data', (b) => {
        seen += b;
        if (!sent && /↑ 0004_last applied/.test(seen)) sent = run.child.kill('SIGTERM');
      });
      const r = await run.done;
      expect(sent).toBe(true);
      expect(r.status, r.stdout + r.stderr).toBe(143);
      expect(r.stdout).not.toContain('APP STARTED');
      expect((await sql<{ r: string }>(late, env, 'SELECT "revision" AS r FROM sluice_version ORDER BY 1')).map((x) => x.r).at(-1)).toBe('0004_last');
    } finally {
      rmSync(late, { recursive: true, force: true });
    }
  }, 30_000);

  it('SLUICE_SKIP_DEPLOY=1 starts the app without deploying; no app command: deploy only', async () => {
    const skipped = await runEntrypoint(dir, { DATABASE_URL: 'postgres://u@127.0.0.1:1/x', SLUICE_SKIP_DEPLOY: '1', DATABASE_SCHEMA: 'x' }, APP).done;
    expect(skipped).toMatchObject({ status: 0, stderr: '' });
    expect(skipped.stdout.trim()).toBe('APP STARTED with x');
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('deploy_only') };
    const only = await runEntrypoint(dir, env, []).done;
    expect(only.status).toBe(0);
    expect(only.stdout.trim().split('\n').pop()).toMatch(/^deployed .*: base -> 0003_add_phone_to_users, 4 revisions in/);
  });
});
