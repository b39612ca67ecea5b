/** Bad input: one clear line, the documented exit code, no stack trace, nothing changed, no secret shown. */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, utimesSync, writeFileSync, writeSync, readFileSync } from 'node:fs';
import { getEventListeners } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dist/pgcluster.js';
import { lockFolders } from '../../dist/folderlock.js';
import { create, status } from '../../dist/index.js';
import { openConnection } from '../../dist/dialect/index.js';
import { parseDatabaseTarget } from '../../dist/config.js';
import { CONFIG_CACHE_ENTRIES } from '../../dist/config.js';
import { itFor, addRevision, addUserColumn, cleanEnv, makeProject, makeProjectWithOwnCache, openToOthers, pgUrl, REPO, runCli, runCliAsNobody, sql, uniqueSchema, type Ran, upgradeTo, downgradeTo } from '../support/project.js';

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

  it('unknown revisions and out-of-range targets change nothing', async () => {
    const env = { DATABASE_URL: `file:${path.join(dir, 'e.sqlite')}` };
    await upgradeTo(dir, env, '1');
    oneLineError(runCli(dir, ['down', 'nope'], env), 2, /unknown revision "nope"/);
    oneLineError(runCli(dir, ['down', '-5'], env), 2, /-5 is past base: only 2 revision/);
    oneLineError(runCli(dir, ['up', '+5'], env), 2, /\+5 is past head: only 2 revision/);
    oneLineError(runCli(dir, ['up', '0000'], env), 2, /below the current revision/);
    // a down counts back (found by a README walk: at head, "+1 is past head: only 0 revision(s) are pending")
    oneLineError(runCli(dir, ['down', '+1'], env), 2, /^sluice: down \+1: \+N counts forward, and a down goes back; give -N, a revision below the current one, or base/);
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
        execFile(process.execPath, [path.join(dir, 'dist', 'cli.cjs'), 'up'], { cwd: dir, env: { PATH: process.env.PATH, DATABASE_URL: `postgres://app:Sup3rS3cret@127.0.0.1:${port}/db`, SLUICE_CONNECT_TIMEOUT: '2' } }, (err, stdout, stderr) =>
          resolve({ status: (err as { code?: number } | null)?.code ?? 0, stdout, stderr }),
        ),
      );
    });
    silent.close();
    expect(Date.now() - started).toBeLessThan(15_000);
    oneLineError(t, 5, /no answer within 2s/);
    expect(t.stderr).not.toContain('Sup3rS3cret');
  });

  // found by a review: a file SQLite opened whose first read failed (not a database) kept its handle
  // open: a library caller polling status() leaked one file descriptor per call
  it('status() on a file that is not a SQLite database: the error each time, no file handle left open', async () => {
    const notDb = path.join(dir, 'not-a-db.sqlite');
    writeFileSync(notDb, 'this is not a database, just text long enough to be read as a header'.repeat(20));
    const fds = () => readdirSync('/proc/self/fd').length;
    const call = () => status({ cwd: dir, env: { DATABASE_URL: `file:${notDb}` } });
    await expect(call()).rejects.toMatchObject({ exitCode: 5, message: expect.stringMatching(/^cannot open SQLite file .*not-a-db\.sqlite: file is not a database/) });
    const before = fds();
    for (let i = 0; i < 20; i++) await call().catch(() => {});
    expect(fds()).toBeLessThan(before + 5);
  });

  // found by a review: a connection the server ended right after it opened (a shutdown, a pooler) was
  // ConnectionLost, which history and show did not count as "cannot read the database": exit 7 and no
  // listing, where an unreachable one is a note and exit 0
  itFor('postgresql')('history and show when the server ends the session right after it opens: the listing, a note, exit 0', async () => {
    const upstream = new URL(pgUrl());
    const proxy = net.createServer((client) => {
      const server = net.connect(Number(upstream.port), upstream.hostname);
      let chunks = 0;
      // the startup message goes through; the session's first statement finds the connection gone
      client.on('data', (d) => (++chunks === 1 ? server.write(d) : (client.destroy(), server.destroy())));
      server.on('data', (d) => client.write(d));
      server.on('error', () => client.destroy());
      client.on('error', () => server.destroy());
    });
    await new Promise<void>((res) => proxy.listen(0, '127.0.0.1', res));
    const url = `postgres://postgres@127.0.0.1:${(proxy.address() as net.AddressInfo).port}${upstream.pathname}`;
    const run = (args: string[]) =>
      new Promise<Ran>((resolve) => {
        const c = spawn(process.execPath, [path.join(dir, 'dist', 'cli.cjs'), ...args], { cwd: dir, env: cleanEnv({ DATABASE_URL: url, DATABASE_SCHEMA: uniqueSchema('lost') }) as NodeJS.ProcessEnv });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        c.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
      });
    try {
      const h = await run(['history']);
      expect(h.status, h.stdout + h.stderr).toBe(0);
      expect(h.stdout).toMatch(/^note: the database could not be read, so applied markers are unknown \(connection to .* lost/m);
      expect(h.stdout).toMatch(/0000_init {2}init\n {4}created \S+ {2}unknown/);
      const s = await run(['show', '0000']);
      expect(s.status, s.stdout + s.stderr).toBe(0);
      expect(s.stdout).toMatch(/applied: {2,}unknown/);
    } finally {
      await new Promise((res) => proxy.close(res));
    }
  });

  // found by a hunt: each connection attempt left its abort listener on the caller's signal, so deploy's
  // eleventh attempt to reach a database printed Node.js's MaxListenersExceededWarning
  it('connection attempts leave no listener on the signal they were given', async () => {
    const closed = await freePort();
    const signal = new AbortController().signal;
    const target = parseDatabaseTarget({ DATABASE_URL: `postgres://u@127.0.0.1:${closed}/x` }, dir);
    for (let i = 0; i < 12; i++) await expect(openConnection(target, { write: false, signal })).rejects.toMatchObject({ exitCode: 5 });
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  // a hunt (seeds 000/003: teams adopting a database Alembic built): the first up failed "already exists",
  // exit 3, and nothing said that such a database is recorded with migrate-stamp
  it('a first up meeting tables another tool made: exit 3, rolled back, and the line names migrate-stamp', () => {
    const file = path.join(dir, 'adopted.sqlite');
    const db = new Database(file);
    db.exec('CREATE TABLE "users" ("id" integer PRIMARY KEY)');
    db.close();
    const r = runCli(dir, ['up'], { DATABASE_URL: `file:${file}` });
    oneLineError(r, 3, /already exists.*Rolled back: the database is at base\. If another tool built this database \(Alembic, drizzle-kit push, a script\), record the revision it matches with make migrate-stamp REVISION=<revision>/);
  });

  it('--verbose shows the stack; without it there is none', () => {
    const r = runCli(dir, ['--verbose', 'down', 'nope'], { DATABASE_URL: `file:${path.join(dir, 'e.sqlite')}` });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});

// found by a hunt: a folder without meta/_journal.json read as an empty history, so deploy of an image
// that copied only *.sql said "nothing to deploy", exit 0; so did `out` naming a file, the folder above
// the history, or drizzle-kit's layout from before 0.17
it('a migration folder with revisions but no journal, a file, or the folder above: exit 2 naming it, nothing done', () => {
  const dir = makeProject();
  const env = { DATABASE_URL: `file:${path.join(dir, 'j.sqlite')}` };
  const folder = path.join(dir, 'drizzle', 'sqlite');
  const config = path.join(dir, 'drizzle.config.ts');
  const text = readFileSync(config, 'utf8');
  rmSync(path.join(folder, 'meta'), { recursive: true });
  oneLineError(runCli(dir, ['deploy'], env), 2, /migration folder drizzle\/sqlite \(drizzle.config.ts's "out"\) holds 8 \.sql file\(s\) but no meta\/_journal\.json/);
  oneLineError(runCli(dir, ['status'], env), 2, /holds 8 \.sql file\(s\) but no meta\/_journal\.json/);
  expect(existsSync(path.join(dir, 'j.sqlite'))).toBe(false);
  writeFileSync(config, text.replace("out: './drizzle/sqlite'", "out: './drizzle'"));
  oneLineError(runCli(dir, ['up'], env), 2, /has no meta\/_journal\.json, but its folder postgresql\/ has one: set "out" to drizzle\/postgresql/);
  writeFileSync(config, text.replace("out: './drizzle/sqlite'", "out: './drizzle.config.ts'"));
  oneLineError(runCli(dir, ['up'], env), 2, /migration folder drizzle\.config\.ts .* is a file, not a folder/);
  mkdirSync(path.join(dir, 'old', '20230101120000_init'), { recursive: true });
  writeFileSync(path.join(dir, 'old', '20230101120000_init', 'migration.sql'), 'CREATE TABLE t (id integer);');
  writeFileSync(config, text.replace("out: './drizzle/sqlite'", "out: './old'"));
  oneLineError(runCli(dir, ['up'], env), 2, /layout from before 0\.17 .*drizzle-kit up/);
  expect(existsSync(path.join(dir, 'j.sqlite'))).toBe(false);
  // the first migrate-create in a folder holding other .sql files (a Supabase migrations folder) works (a review)
  mkdirSync(path.join(dir, 'fresh'));
  writeFileSync(path.join(dir, 'fresh', 'seed.sql'), 'INSERT INTO x VALUES (1);\n');
  writeFileSync(config, `export default { dialect: 'sqlite', schema: './models/sqlite.ts', out: './fresh' };\n`);
  const first = runCli(dir, ['create', '-m', 'init'], { ...env, SLUICE_VERIFY: 'off' });
  expect(first.status, first.stdout + first.stderr).toBe(0);
  expect(existsSync(path.join(dir, 'fresh', 'meta', '_journal.json'))).toBe(true);
});

// found by hunts: a journal committed without its .sql file (never git-added) passed migrate-check,
// exit 0, and up then failed exit 4 in the deploy; so did a missing down, and a snapshot that is not JSON
it('migrate-check refuses a revision whose up or down file is missing (exit 4), or a snapshot that is not JSON (exit 2)', () => {
  const dir = makeProject();
  const env = { DATABASE_URL: `file:${path.join(dir, 'v.sqlite')}` };
  const folder = path.join(dir, 'drizzle', 'sqlite');
  const up = path.join(folder, '0003_add_phone_to_users.sql');
  const down = path.join(folder, '0001_add_audits.down.sql');
  const snapshot = path.join(folder, 'meta', '0002_snapshot.json');
  const saved = [up, down, snapshot].map((f) => readFileSync(f, 'utf8'));
  rmSync(up);
  oneLineError(runCli(dir, ['verify', '--no-database'], env), 4, /up SQL of revision 0003_add_phone_to_users is missing: drizzle\/sqlite\/0003_add_phone_to_users\.sql; restore it from version control/);
  writeFileSync(up, saved[0]!);
  rmSync(down);
  oneLineError(runCli(dir, ['verify', '--no-database'], env), 4, /down SQL of revision 0001_add_audits is missing: .*make migrate-downs/);
  writeFileSync(down, saved[1]!);
  writeFileSync(snapshot, '{ bad json');
  oneLineError(runCli(dir, ['verify', '--no-database'], env), 2, /snapshot drizzle\/sqlite\/meta\/0002_snapshot\.json of revision 0002_add_sessions_and_roles is missing or not valid JSON/);
});

describe('integrity', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeProject();
  });

  for (const dialect of ['sqlite', 'postgresql'] as const) {
    itFor(dialect)(`${dialect}: a changed applied file, a database ahead of the code, a corrupt journal, a missing folder`, async () => {
      const env = dialect === 'sqlite' ? { DATABASE_URL: `file:${path.join(dir, 'i.sqlite')}` } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('integ') };
      const folder = path.join(dir, 'drizzle', dialect);
      await upgradeTo(dir, env);
      const up1 = path.join(folder, '0001_add_audits.sql');
      const original = readFileSync(up1, 'utf8');
      appendFileSync(up1, '\n-- edited after it was applied\n');
      oneLineError(runCli(dir, ['down'], env), 4, /0001_add_audits\.sql changed after it was applied.*--allow-changed/);
      oneLineError(runCli(dir, ['up'], env), 4, /changed after it was applied/);
      expect(runCli(dir, ['status', '--json'], env).stdout).toMatch(/"changed": \[\s*"0001_add_audits"\s*\]/);
      expect(runCli(dir, ['down', '--allow-changed'], env).status).toBe(0); // the CLI's flag (its one test)
      writeFileSync(up1, original);
      await upgradeTo(dir, env);

      const journal = path.join(folder, 'meta', '_journal.json');
      const journalText = readFileSync(journal, 'utf8');
      const parsed = JSON.parse(journalText);
      parsed.entries.pop();
      writeFileSync(journal, JSON.stringify(parsed));
      oneLineError(runCli(dir, ['up'], env), 4, /database has revision\(s\) 0003_add_phone_to_users that .* does not have \(database ahead of the code\)/);
      // history marks no revision of the folder current then, as status names 0003 current (a hunt: it marked 0002)
      const hist = JSON.parse(runCli(dir, ['--json', 'history'], env).stdout) as { revisions: { revision: string; current: boolean }[]; unknownApplied?: string[] };
      expect([hist.revisions.filter((r) => r.current).map((r) => r.revision), hist.unknownApplied]).toEqual([[], ['0003_add_phone_to_users']]);
      // show -1 has no place in the folder to count from (a hunt: it counted from 0002 and showed 0001)
      oneLineError(runCli(dir, ['show', '-1'], env), 4, /-1 counts from the current revision, 0003_add_phone_to_users, which is not in drizzle\/\w+ \(the database is ahead of the code\); name the revision to show/);
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

  it('a down file migrate-downs cannot write: exit 2 naming that down file (not a temporary name), and no down written, the other dialect\'s neither (was: the first written, and not said)', () => {
    const dir = makeProject();
    const sqliteDown = path.join(dir, 'drizzle', 'sqlite', '0001_add_audits.down.sql');
    const pgDown = path.join(dir, 'drizzle', 'postgresql', '0002_add_sessions_and_roles.down.sql');
    rmSync(sqliteDown);
    rmSync(pgDown);
    openToOthers(dir);
    chmodSync(path.join(dir, 'drizzle', 'postgresql'), 0o755); // that user may not write there
    const r = runCliAsNobody(dir, ['downs'], { SLUICE_VERIFY: 'off' });
    oneLineError(r, 2, /^sluice: cannot write drizzle\/postgresql\/0002_add_sessions_and_roles\.down\.sql: permission denied; give the user running sluice access to it; no down file was written \(run it again\)$/);
    expect(existsSync(sqliteDown)).toBe(false);
    expect(existsSync(pgDown)).toBe(false);
    expect(readdirSync(path.join(dir, 'drizzle', 'sqlite')).filter((f) => f.includes('.tmp-'))).toEqual([]);
    chmodSync(path.join(dir, 'drizzle', 'postgresql'), 0o777);
    const again = runCliAsNobody(dir, ['downs'], { SLUICE_VERIFY: 'off' });
    expect(again.status, again.stderr).toBe(0);
    expect(existsSync(sqliteDown) && existsSync(pgDown)).toBe(true);
  });

  it('migrate-create with one dialect failing keeps the other revision and its down, and says so', () => {
    const other = makeProject();
    addUserColumn(other, 'nick');
    writeFileSync(path.join(other, 'models', 'postgres.ts'), 'export const broken = ;\n');
    const r = runCli(other, ['create', '-m', 'add nick'], {});
    expect(r.status).toBe(2);
    // drizzle-kit exits 0 on a model that does not compile: no revision, and no word of "no change"
    expect(r.stderr).toMatch(/^sluice: postgresql: drizzle-kit generate made no revision and did not say the models are unchanged: .*models\/postgres\.ts:1:\d+: ERROR: .*\(created anyway, with downs: sqlite 0004_add_nick\)$/m);
    expect(existsSync(path.join(other, 'drizzle', 'sqlite', '0004_add_nick.down.sql'))).toBe(true);
    expect(existsSync(path.join(other, 'drizzle', 'postgresql', '0004_add_nick.sql'))).toBe(false);
  });

  // Found by review: a down file (or TypeScript part) already where the new revision's goes was taken
  // as its down unread (a leftover `SELECT 1;` then "reverted" a column it never dropped), and both
  // dialects' revisions were left half made behind a one-line exit 2.
  it('migrate-create with a file already where the new down or TypeScript part goes keeps nothing and leaves that file alone', () => {
    // (a .ts there is taken as the revision's TypeScript part whether or not --ts is given)
    for (const [ts, file] of [[false, 'drizzle/sqlite/0004_add_nick.down.sql'], [true, 'drizzle/postgresql/0004_add_nick.ts'], [false, 'drizzle/sqlite/0004_add_nick.ts']] as const) {
      const other = makeProject();
      addUserColumn(other, 'nick');
      const journals = ['sqlite', 'postgresql'].map((d) => readFileSync(path.join(other, 'drizzle', d, 'meta', '_journal.json'), 'utf8'));
      writeFileSync(path.join(other, file), '-- my notes\nSELECT 1;\n');
      const r = runCli(other, ['create', '-m', 'add nick', ...(ts ? ['--ts'] : [])], { SLUICE_VERIFY: 'off' });
      expect(r.status, r.stdout + r.stderr).toBe(2);
      expect(r.stderr.trim()).toMatch(new RegExp(`^sluice: ${file.replace(/\./g, '\\.')} already exists \\(left by an earlier attempt, or written by hand\\), and sluice never takes a file it did not write as a new revision's ${file.endsWith('.ts') ? 'TypeScript part' : 'down'}; nothing was kept \\(removed .*; journals put back\\): move that file away and run it again$`));
      expect(['sqlite', 'postgresql'].map((d) => readFileSync(path.join(other, 'drizzle', d, 'meta', '_journal.json'), 'utf8'))).toEqual(journals);
      for (const d of ['sqlite', 'postgresql']) {
        expect(readdirSync(path.join(other, 'drizzle', d)).filter((n) => n.startsWith('0004_')).map((n) => `drizzle/${d}/${n}`)).toEqual(`drizzle/${d}/` === file.slice(0, file.lastIndexOf('/') + 1) ? [file] : []);
        expect(existsSync(path.join(other, 'drizzle', d, 'meta', '0004_snapshot.json'))).toBe(false);
      }
      expect(readFileSync(path.join(other, file), 'utf8')).toBe('-- my notes\nSELECT 1;\n');
    }
  });

  // Found by review: drizzle-kit exits 0 on its own failures, and migrate-create took "no revision" for
  // "no change" (exit 0, "No changes in the models"), dropping the model change; and an "Error" in its
  // output (a table named ErrorLog) failed every create that had succeeded.
  it('migrate-create fails when drizzle-kit made no revision without saying the models are unchanged (a malformed snapshot, a model that does not compile), not on a table named ErrorLog', () => {
    const other = makeProject();
    addUserColumn(other, 'nick');
    const snap = path.join(other, 'drizzle', 'sqlite', 'meta', '0003_snapshot.json');
    const original = readFileSync(snap, 'utf8');
    const json = JSON.parse(original);
    json.tables.users.columns.phone.type = null;
    writeFileSync(snap, JSON.stringify(json, null, 2));
    const journal = () => readFileSync(path.join(other, 'drizzle', 'sqlite', 'meta', '_journal.json'), 'utf8');
    const before = journal();
    const bad = runCli(other, ['create', '-m', 'add nick'], { SLUICE_VERIFY: 'off' });
    expect(bad.status, bad.stdout + bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/^sluice: sqlite: drizzle-kit generate made no revision and did not say the models are unchanged: drizzle\/sqlite\/meta\/0003_snapshot\.json data is malformed/);
    expect(bad.stdout).not.toMatch(/No changes in the models/);
    expect(journal()).toBe(before);
    // the check that diffs the snapshots names the problem as bad input (was: exit 1, "could not diff the snapshots: [")
    oneLineError(runCli(other, ['verify', '--no-database']), 2, /a snapshot in the history fails drizzle-kit's validation \(tables\.users\.columns\.phone\.type: Expected string, received null\)/);
    // so does migrate-downs, whose diffs run on drizzle-kit's worker thread (a hunt: still "[" there)
    const down = path.join(other, 'drizzle', 'sqlite', '0003_add_phone_to_users.down.sql');
    const downText = readFileSync(down, 'utf8');
    rmSync(down);
    oneLineError(runCli(other, ['downs'], { SLUICE_VERIFY: 'off' }), 2, /a snapshot in the history fails drizzle-kit's validation \(tables\.users\.columns\.phone\.type: Expected string, received null\)/);
    // with the verification running beside (a review: the drizzle-kit worker's stop never settled, so
    // the run ended "waiting on a promise that nothing settles", exit 1, in 4 runs of 6 by hand)
    oneLineError(runCli(other, ['downs']), 2, /a snapshot in the history fails drizzle-kit's validation/);
    writeFileSync(down, downText);
    writeFileSync(snap, original);
    // a model file that does not compile: the file and line are named
    const models = path.join(other, 'models', 'sqlite.ts');
    const source = readFileSync(models, 'utf8');
    writeFileSync(models, `${source}\nexport const oops = ;\n`);
    const broken = runCli(other, ['create', '-m', 'add nick'], { SLUICE_VERIFY: 'off' });
    expect(broken.status, broken.stdout + broken.stderr).toBe(2);
    expect(broken.stderr).toMatch(/sqlite: drizzle-kit generate made no revision and did not say the models are unchanged: .*models\/sqlite\.ts:\d+:\d+: ERROR: Unexpected ";"/);
    writeFileSync(models, source.replace("export const users", "export const errorLog = sqliteTable('ErrorLog', { id: integer('id').primaryKey() });\nexport const users"));
    // a table whose name holds "Error": created, and the next create finds no change
    const made = runCli(other, ['create', '-m', 'add nick'], { SLUICE_VERIFY: 'off' });
    expect(made.status, made.stdout + made.stderr).toBe(0);
    expect(made.stdout).toMatch(/created sqlite 0004_add_nick/);
    const again = runCli(other, ['create', '-m', 'nothing'], { SLUICE_VERIFY: 'off' });
    expect([again.status, again.stdout.trim()]).toEqual([0, 'No changes in the models; nothing created.']);
    // a rename drizzle-kit must ask about, with no terminal: the way out is named
    for (const f of ['models/sqlite.ts', 'models/postgres.ts']) {
      const p = path.join(other, f);
      writeFileSync(p, readFileSync(p, 'utf8').replace("  name: text('name'),", "  fullName: text('full_name'),"));
    }
    const rename = runCli(other, ['create', '-m', 'rename name'], { SLUICE_VERIFY: 'off' });
    expect(rename.status, rename.stdout + rename.stderr).toBe(2);
    expect(rename.stderr).toMatch(/made no revision and did not say the models are unchanged: .*TTY.*; drizzle-kit needs to ask about renames: run it on a terminal/);
  });

  // found by review: without kitrun.cjs beside the bundle (no report channel), a drizzle-kit failure
  // read as "no change" once the output check was gone
  it('migrate-create run without kitrun.cjs (drizzle-kit\'s bin started directly) still fails on a model that does not compile', () => {
    const other = makeProject();
    const pkg = path.join(other, 'pkg');
    mkdirSync(pkg);
    cpSync(path.join(REPO, 'dist'), path.join(pkg, 'dist'), { recursive: true });
    cpSync(path.join(REPO, 'package.json'), path.join(pkg, 'package.json'));
    rmSync(path.join(pkg, 'dist', 'kitrun.cjs'));
    const models = path.join(other, 'models', 'sqlite.ts');
    writeFileSync(models, `${readFileSync(models, 'utf8').replace("  name: text('name'),", "  name: text('name'),\n  nick: text('nick'),")}\nexport const oops = ;\n`);
    const r = spawnSync(process.execPath, [path.join(pkg, 'dist', 'cli.cjs'), 'create', '-m', 'add nick'], { cwd: other, env: cleanEnv({ SLUICE_VERIFY: 'off' }) as NodeJS.ProcessEnv, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/sqlite: drizzle-kit generate made no revision and did not say the models are unchanged: .*ERROR: Unexpected ";"/);
  });

  it('migrate-create with a file already where drizzle-kit writes the new up is refused before anything runs, that file left as it was (was: overwritten)', () => {
    const other = makeProject();
    addUserColumn(other, 'nick');
    const left = path.join(other, 'drizzle', 'sqlite', '0004_add_nick.sql');
    writeFileSync(left, '-- precious hand work\n');
    const r = runCli(other, ['create', '-m', 'add nick'], { SLUICE_VERIFY: 'off' });
    oneLineError(r, 2, /^sluice: drizzle\/sqlite\/0004_add_nick\.sql already exists \(left by an earlier attempt, or written by hand\), and drizzle-kit would write this revision's up over it; nothing was run: move that file away and run it again$/);
    expect(readFileSync(left, 'utf8')).toBe('-- precious hand work\n');
    expect(existsSync(path.join(other, 'drizzle', 'postgresql', 'meta', '0004_snapshot.json'))).toBe(false);
  });

  // found by a hunt: drizzle-kit diffed against 0002's snapshot, wrote 0003's change again as 0004, and
  // sluice then failed on the missing snapshot with the duplicate kept in both folders
  it('migrate-create whose last revision lacks its snapshot is refused before anything runs (was: a duplicate of that revision written and kept)', () => {
    const other = makeProject();
    addUserColumn(other, 'nick');
    rmSync(path.join(other, 'drizzle', 'sqlite', 'meta', '0003_snapshot.json'));
    const journals = () => ['sqlite', 'postgresql'].map((d) => readFileSync(path.join(other, 'drizzle', d, 'meta', '_journal.json'), 'utf8'));
    const before = journals();
    const r = runCli(other, ['create', '-m', 'add nick'], { SLUICE_VERIFY: 'off' });
    oneLineError(r, 2, /^sluice: snapshot drizzle\/sqlite\/meta\/0003_snapshot\.json of the last revision 0003_add_phone_to_users is missing, .*writing that revision's changes again; nothing was run: restore it from version control/);
    expect(journals()).toEqual(before);
    for (const d of ['sqlite', 'postgresql']) expect(readdirSync(path.join(other, 'drizzle', d)).filter((n) => n.startsWith('0004_'))).toEqual([]);
  });

  // Two migrate-create in one folder at once each numbered a revision after the same journal: the
  // journal kept one entry, one snapshot overwrote the other, and the second only said so afterwards.
  it('a command writing the history folders (migrate-create, -downs, -merge) is refused while another one writes them: exit 5 naming it, nothing written', async () => {
    const other = makeProject();
    addUserColumn(other, 'nick');
    const journals = () => ['sqlite', 'postgresql'].map((d) => readFileSync(path.join(other, 'drizzle', d, 'meta', '_journal.json'), 'utf8'));
    const before = journals();
    const lock = lockFolders(other, ['drizzle/sqlite', 'drizzle/postgresql'].map((f) => path.join(other, f)));
    try {
      for (const args of [['create', '-m', 'add nick'], ['downs'], ['merge']]) {
        const r = runCli(other, args, { SLUICE_VERIFY: 'off' });
        oneLineError(r, 5, new RegExp(`^sluice: another sluice command, pid ${process.pid} on host .*, since .*, is writing drizzle/(sqlite|postgresql); wait for it to finish, then run this one again \\(if it is stuck, stop it: kill ${process.pid}; its lock goes with it\\)$`));
      }
      expect(journals()).toEqual(before);
      expect(readdirSync(path.join(other, 'drizzle', 'sqlite')).filter((n) => n.startsWith('0004_'))).toEqual([]);
      // a library caller in the holder's own process is not told to kill itself
      await expect(create({ cwd: other, env: cleanEnv({ SLUICE_VERIFY: 'off' }), message: 'add nick' })).rejects.toThrow(/^another sluice command in this process is writing .*; wait for it to finish, then run this one again$/);
    } finally {
      lock.release();
    }
    const made = runCli(other, ['create', '-m', 'add nick'], { SLUICE_VERIFY: 'off' });
    expect(made.status, made.stdout + made.stderr).toBe(0);
    expect(readdirSync(path.join(other, 'drizzle', 'sqlite')).filter((n) => n.startsWith('0004_')).sort()).toEqual(['0004_add_nick.down.sql', '0004_add_nick.sql']);
  });

  // the same race between two real processes: one creates, the other is refused; the journal lists
  // exactly the files there are
  it('two migrate-create started together in one folder: one creates its revision, the other is refused (exit 5), the journal and the files agree', async () => {
    const other = makeProject();
    addUserColumn(other, 'nick');
    const start = (msg: string) =>
      new Promise<Ran>((resolve) => {
        const child = spawn(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), 'create', '-m', msg], { cwd: other, env: cleanEnv({ SLUICE_VERIFY: 'off' }) as NodeJS.ProcessEnv });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
      });
    const [a, b] = await Promise.all([start('first'), start('second')]);
    const codes = [a.status, b.status].sort();
    // they overlap (each runs drizzle-kit for ~0.5 s); on a machine so slow that one only started after
    // the other ended, the later one finds no change to make (exit 0)
    expect([[0, 5], [0, 0]], a.stderr + b.stderr).toContainEqual(codes);
    if (codes[1] === 5) expect([a, b].find((r) => r.status === 5)!.stderr).toMatch(/^sluice: another sluice command, pid \d+ on host .*\("sluice create -m (first|second)"\).* is writing drizzle\/(sqlite|postgresql); wait for it to finish/);
    for (const d of ['sqlite', 'postgresql']) {
      const tags = (JSON.parse(readFileSync(path.join(other, 'drizzle', d, 'meta', '_journal.json'), 'utf8')).entries as { tag: string }[]).map((e) => e.tag);
      const ups = readdirSync(path.join(other, 'drizzle', d)).filter((n) => /^\d{4}_.*(?<!\.down)\.sql$/.test(n)).map((n) => n.replace(/\.sql$/, '')).sort();
      expect(ups).toEqual(tags);
      expect(tags).toHaveLength(5);
    }
  });

  it('a missing migration folder', () => {
    const other = makeProject({ withoutHistory: true });
    oneLineError(runCli(other, ['up'], {}), 2, /migration folder drizzle\/sqlite does not exist/);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});

/**
 * What the machine refuses — a folder that is gone, a file sluice may not read, a device or a damaged
 * file where the database should be, a table of sluice's name made by something else — is one line
 * and a documented code, never "internal error" (found by probing the CLI; each was exit 1 before).
 */
describe('what the machine refuses', () => {
  const sqliteEnv = (dir: string, name = 'm.sqlite') => ({ DATABASE_URL: `file:${path.join(dir, name)}`, SLUICE_NO_BACKUP: '1' });

  it('the current folder deleted under the command: with an absolute -C it works from there, without one exit 2 in one line', () => {
    const dir = makeProject();
    const gone = path.join(dir, 'gone');
    const cli = path.join(REPO, 'dist', 'cli.cjs');
    const inGone = (args: string) => {
      const r = spawnSync('bash', ['-c', `mkdir ${JSON.stringify(gone)} && cd ${JSON.stringify(gone)} && rmdir ${JSON.stringify(gone)} && exec ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} ${args}`], {
        env: cleanEnv(sqliteEnv(dir)) as NodeJS.ProcessEnv,
        encoding: 'utf8',
      });
      return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    const withC = inGone(`-C ${JSON.stringify(dir)} status`);
    expect(withC.status, withC.stderr).toBe(0);
    expect(withC.stdout).toMatch(/current: +base/);
    oneLineError(inGone('status'), 2, /the current folder no longer exists .*; cd into the project folder/);
  });

  it('DATABASE_URL naming a device or a folder: exit 2 before anything is created beside it', () => {
    const dir = makeProject();
    try {
      rmSync('/dev/zero.sluice-lock', { force: true }); // what an older sluice left there
    } catch {
      /* not ours to remove */
    }
    oneLineError(runCli(dir, ['up'], { DATABASE_URL: 'file:/dev/zero' }), 2, /DATABASE_URL names \/dev\/zero, which is a device, not a SQLite file/);
    expect(existsSync('/dev/zero.sluice-lock')).toBe(false);
    mkdirSync(path.join(dir, 'adir.sqlite'));
    oneLineError(runCli(dir, ['status'], sqliteEnv(dir, 'adir.sqlite')), 2, /which is a folder, not a SQLite file/);
    writeFileSync(path.join(dir, 'afile'), '');
    oneLineError(runCli(dir, ['up'], sqliteEnv(dir, 'afile/db.sqlite')), 2, /afile, where DATABASE_URL puts the SQLite file, is a file, not a folder/);
  });

  it("a table named sluice_version that is not sluice's: exit 4 naming it; a damaged one: exit 5, and history notes it (exit 0)", async () => {
    const dir = makeProject();
    const foreign = sqliteEnv(dir, 'foreign.sqlite');
    const made = new Database(path.join(dir, 'foreign.sqlite'));
    made.exec('CREATE TABLE sluice_version (x integer)');
    made.close();
    for (const cmd of ['status', 'up']) oneLineError(runCli(dir, [cmd], foreign), 4, /the table main\."sluice_version" in the database is not sluice's version table \(no such column/);
    // one with the two columns status reads (revision, checksum) and rows in them is refused by status as by history
    const alike = sqliteEnv(dir, 'alike.sqlite');
    const other = new Database(path.join(dir, 'alike.sqlite'));
    other.exec("CREATE TABLE sluice_version (revision text, checksum text); INSERT INTO sluice_version VALUES ('0000_init', 'x')");
    other.close();
    // -C naming a folder that is not there says so (found by a README walk: "no drizzle.config.ts in …")
    oneLineError(runCli(dir, ['-C', path.join(dir, 'no-such-folder'), 'status']), 2, /the folder \S+no-such-folder does not exist; pass the project folder to -C/);
    for (const cmd of ['status', 'history']) oneLineError(runCli(dir, [cmd], alike), 4, /the table main\."sluice_version" in the database is not sluice's version table \(no such column: "?\w+"?\); rename or drop that table/);
    const env = sqliteEnv(dir, 'damaged.sqlite');
    await upgradeTo(dir, env);
    const file = path.join(dir, 'damaged.sqlite');
    const db = new Database(file);
    const { rootpage } = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'sluice_version'").get() as { rootpage: number };
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (rootpage - 1) * pageSize);
    closeSync(fd);
    oneLineError(runCli(dir, ['status'], env), 5, /the SQLite database is damaged \(database disk image is malformed\); restore it from a backup/);
    const history = runCli(dir, ['history'], env);
    expect(history.status, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/the SQLite database is damaged/);
  });

  it('a revision file, journal or folder sluice may not read (run as another user): exit 2 naming it, nothing applied', () => {
    const dir = makeProject();
    // the project must be reachable by that user; only the file under test is not
    openToOthers(dir);
    const asNobody = (args: string[], env: Record<string, string>) => runCliAsNobody(dir, args, env);
    const env = sqliteEnv(dir);
    const up = path.join(dir, 'drizzle', 'sqlite', '0002_add_sessions_and_roles.sql');
    chmodSync(up, 0o000);
    oneLineError(asNobody(['up'], env), 2, /cannot open .*0002_add_sessions_and_roles\.sql: permission denied; give the user running sluice access to it/);
    expect(existsSync(path.join(dir, 'm.sqlite')) ? runCli(dir, ['status'], env).stdout : 'current:  base').toMatch(/current: +base/);
    chmodSync(up, 0o644);
    const journal = path.join(dir, 'drizzle', 'sqlite', 'meta', '_journal.json');
    chmodSync(journal, 0o000);
    oneLineError(asNobody(['status'], env), 2, /cannot open .*_journal\.json: permission denied/);
    chmodSync(journal, 0o644);
    // a database file the user may write in a folder it may not: refused before the first revision
    const ro = path.join(dir, 'ro');
    mkdirSync(ro, { mode: 0o755 });
    chmodSync(ro, 0o755);
    expect(runCli(dir, ['up', '1'], { DATABASE_URL: `file:${path.join(ro, 'db.sqlite')}` }).status).toBe(0);
    chmodSync(path.join(ro, 'db.sqlite'), 0o666);
    oneLineError(asNobody(['up'], { DATABASE_URL: `file:${path.join(ro, 'db.sqlite')}`, SLUICE_NO_BACKUP: '1' }), 5, /the folder .*ro of SQLite file .* is not writable \(SQLite writes its journal beside the file\); check its permissions/);
  });

  it('down and reset of a SQLite file that does not exist create nothing (was: the file and sluice_version made, then "past base" or "already at base")', async () => {
    const dir = makeProject();
    const env = sqliteEnv(dir, 'new.sqlite');
    const file = path.join(dir, 'new.sqlite');
    oneLineError(runCli(dir, ['down'], env), 2, /-1 is past base/);
    const reset = runCli(dir, ['reset', '--yes'], env);
    expect(reset.status, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/already at base/);
    await downgradeTo(dir, env, 'base');
    expect(readdirSync(dir).filter((f) => f.startsWith('new.sqlite'))).toEqual([]);
    expect(existsSync(file)).toBe(false);
  });

  itFor('postgresql')('down and reset under a DATABASE_SCHEMA that does not exist (a typo) create neither the schema nor sluice_version', async () => {
    const dir = makeProject();
    const schema = uniqueSchema('typo');
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: schema };
    const reset = runCli(dir, ['reset', '--yes'], env);
    expect(reset.status, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/already at base/);
    oneLineError(runCli(dir, ['down'], env), 2, /-1 is past base/);
    const found = await sql(dir, { DATABASE_URL: pgUrl() }, 'SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema]);
    expect(found).toEqual([]);
  });

  itFor('postgresql')("a table named sluice_version with only the columns status reads (revision, checksum) is not sluice's: status and history exit 4 naming it", async () => {
    const dir = makeProject();
    const schema = uniqueSchema('alike');
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: schema };
    await sql(dir, { DATABASE_URL: pgUrl() }, `CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".sluice_version (revision text, checksum text); INSERT INTO "${schema}".sluice_version VALUES ('0000_init', 'x')`);
    for (const cmd of ['status', 'history']) oneLineError(runCli(dir, [cmd], env), 4, /the table "[^"]+"\."sluice_version" in the database is not sluice's version table \(column "name" does not exist\)/);
  });

  it("a SQLite table rebuild failing midway is named by its place in the file, PRAGMAs counted (was: 'statement 2/6' for the file's third), nothing changed", async () => {
    const dir = makeProject();
    const env = sqliteEnv(dir, 'rb.sqlite');
    await upgradeTo(dir, env);
    const BP = '\n--> statement-breakpoint\n';
    const up = [
      'PRAGMA foreign_keys=OFF;',
      'CREATE TABLE `__new_users` (`id` integer PRIMARY KEY, `email` text NOT NULL);',
      'INSERT INTO `__new_users`("id", "email") SELECT "id", "no_such_column" FROM `users`;',
      'DROP TABLE `users`;',
      'ALTER TABLE `__new_users` RENAME TO `users`;',
      'PRAGMA foreign_keys=ON;',
    ].join(BP);
    const tag = addRevision(dir, 'sqlite', 'rebuild', up, 'SELECT 1;');
    const db = () => new Database(path.join(dir, 'rb.sqlite'), { readonly: true });
    const snapshot = () => {
      const d = db();
      try {
        return { schema: d.prepare('SELECT name, sql FROM sqlite_master ORDER BY name').all(), versions: d.prepare('SELECT revision, checksum FROM sluice_version ORDER BY 1').all() };
      } finally {
        d.close();
      }
    };
    const before = snapshot();
    oneLineError(runCli(dir, ['up'], env), 3, new RegExp(`revision ${tag} \\(up\\) failed at statement 3/6 \\(INSERT INTO \`__new_users\`.*no such column.*Rolled back: the database is at 0003_add_phone_to_users`));
    expect(snapshot()).toEqual(before);
  });

  // Found by review: SQLite leaves foreign keys off unless a connection turns them on, so databases hold
  // rows that break them; the check after a table rebuild counted those against the rebuild, and every
  // rebuild then failed. And with --single-transaction a rebuild turns them off for the whole run, so
  // a later revision's ON DELETE CASCADE did not fire: that failure blamed "the table rebuild".
  describe('SQLite foreign keys around table rebuilds', () => {
    const BP = '\n--> statement-breakpoint\n';
    const parentChild = (dir: string) =>
      addRevision(
        dir,
        'sqlite',
        'pc',
        [
          'CREATE TABLE `p` (`id` integer PRIMARY KEY NOT NULL, `n` text);',
          'CREATE TABLE `c` (`id` integer PRIMARY KEY NOT NULL, `pid` integer NOT NULL REFERENCES `p`(`id`) ON DELETE CASCADE);',
          "INSERT INTO `p` VALUES (1, 'a'), (2, 'b');",
          'INSERT INTO `c` VALUES (1, 1), (2, 2);',
        ].join(BP),
        ['DROP TABLE `c`;', 'DROP TABLE `p`;'].join(BP),
      );
    const rebuildP = (copied: string) =>
      [
        'PRAGMA foreign_keys=OFF;',
        "CREATE TABLE `__new_p` (`id` integer PRIMARY KEY NOT NULL, `n` text DEFAULT 'x' NOT NULL);",
        `INSERT INTO \`__new_p\`("id", "n") SELECT "id", coalesce("n", 'x') FROM \`p\`${copied};`,
        'DROP TABLE `p`;',
        'ALTER TABLE `__new_p` RENAME TO `p`;',
        'PRAGMA foreign_keys=ON;',
      ].join(BP);
    const rows = (dir: string, file: string, query: string) => {
      const d = new Database(path.join(dir, file), { readonly: true });
      try {
        return d.prepare(query).raw().all();
      } finally {
        d.close();
      }
    };
    const orphan = (dir: string, file: string) => {
      const d = new Database(path.join(dir, file));
      d.pragma('foreign_keys = OFF');
      d.exec('INSERT INTO `c` VALUES (9, 99)');
      d.close();
    };

    it('rows that broke a key before the rebuild do not fail it (both modes); a row the rebuild breaks does, counted apart', () => {
      const dir = makeProject();
      const pc = parentChild(dir);
      const tag = addRevision(dir, 'sqlite', 'rebuild_p', rebuildP(''), 'SELECT 1;');
      for (const [file, extra] of [['d.sqlite', []], ['s.sqlite', ['--single-transaction']]] as const) {
        expect(runCli(dir, ['up', pc], sqliteEnv(dir, file)).status).toBe(0);
        orphan(dir, file);
        const r = runCli(dir, ['up', ...extra], sqliteEnv(dir, file));
        expect(r.status, r.stderr).toBe(0);
        expect(rows(dir, file, 'SELECT revision FROM sluice_version ORDER BY 1').at(-1)).toEqual([tag]);
        expect(rows(dir, file, 'SELECT id, pid FROM c ORDER BY 1')).toEqual([[1, 1], [2, 2], [9, 99]]);
      }
      // a rebuild that leaves a parent out: its own broken row fails it, the older one is counted apart
      const dir2 = makeProject();
      const pc2 = parentChild(dir2);
      const tag2 = addRevision(dir2, 'sqlite', 'rebuild_p', rebuildP(' WHERE "id" = 1'), 'SELECT 1;');
      expect(runCli(dir2, ['up', pc2], sqliteEnv(dir2, 'd.sqlite')).status).toBe(0);
      orphan(dir2, 'd.sqlite');
      oneLineError(
        runCli(dir2, ['up'], sqliteEnv(dir2, 'd.sqlite')),
        3,
        new RegExp(`revision ${tag2} \\(up\\) failed .*foreign key check failed after the table rebuild: 1 row\\(s\\) reference missing parents \\(c -> p\\); 1 other row\\(s\\) did before it ran and are left as they were\\. Rolled back: the database is at ${pc2}`),
      );
      expect(rows(dir2, 'd.sqlite', 'SELECT id FROM p ORDER BY 1')).toEqual([[1], [2]]);
    });

    // Found by review of the change above: violations were told apart by rowid and key number, which a
    // rebuild changes (text primary keys, WITHOUT ROWID tables, a key added by the rebuild)
    it('violations are told apart by their key values: a rebuild renumbering rows or keys, or changing the primary key, passes; one swapping an old broken row for a new one fails', () => {
      const dir = makeProject();
      const base = addRevision(
        dir,
        'sqlite',
        'tables',
        [
          "CREATE TABLE `p` (`id` integer PRIMARY KEY NOT NULL, `n` text);",
          'CREATE TABLE `q` (`id` integer PRIMARY KEY NOT NULL);',
          'CREATE TABLE `t` (`id` text PRIMARY KEY NOT NULL, `pid` integer REFERENCES `p`(`id`));',
          'CREATE TABLE `w` (`id` text PRIMARY KEY NOT NULL, `pid` integer REFERENCES `p`(`id`)) WITHOUT ROWID;',
          'CREATE TABLE `u` (`k` integer NOT NULL, `pid` integer REFERENCES `p`(`id`));',
          "INSERT INTO `p` VALUES (1, 'a'), (2, 'b');",
          "INSERT INTO `t` VALUES ('a', 1), ('b', 2), ('c', 1);",
          "INSERT INTO `w` VALUES ('a', 1), ('b', 2);",
          'INSERT INTO `u` VALUES (10, 1);',
        ].join(BP),
        'SELECT 1;',
      );
      const broken = (file: string) => {
        const d = new Database(path.join(dir, file));
        d.pragma('foreign_keys = OFF');
        d.exec("DELETE FROM `t` WHERE `id` = 'c'; INSERT INTO `t` VALUES ('z', 99); INSERT INTO `w` VALUES ('z', 99); INSERT INTO `u` VALUES (20, 99);");
        d.close();
      };
      // t rebuilt with a key added before its old one: rows copied to new rowids, the old key renumbered;
      // u rebuilt with a primary key it had not, of another type
      const renumber = addRevision(
        dir,
        'sqlite',
        'rebuild_t',
        [
          'PRAGMA foreign_keys=OFF;',
          'CREATE TABLE `__new_t` (`id` text PRIMARY KEY NOT NULL, `qid` integer REFERENCES `q`(`id`), `pid` integer REFERENCES `p`(`id`));',
          'INSERT INTO `__new_t`("id", "pid") SELECT "id", "pid" FROM `t` ORDER BY "id" DESC;',
          'DROP TABLE `t`;',
          'ALTER TABLE `__new_t` RENAME TO `t`;',
          'CREATE TABLE `__new_u` (`k` text PRIMARY KEY NOT NULL, `pid` text REFERENCES `p`(`id`));',
          'INSERT INTO `__new_u`("k", "pid") SELECT "k", "pid" FROM `u`;',
          'DROP TABLE `u`;',
          'ALTER TABLE `__new_u` RENAME TO `u`;',
          'PRAGMA foreign_keys=ON;',
        ].join(BP),
        'SELECT 1;',
      );
      expect(runCli(dir, ['up', base], sqliteEnv(dir, 'r.sqlite')).status).toBe(0);
      broken('r.sqlite');
      const r = runCli(dir, ['up'], sqliteEnv(dir, 'r.sqlite'));
      expect(r.status, r.stderr).toBe(0);
      expect(rows(dir, 'r.sqlite', 'SELECT revision FROM sluice_version ORDER BY 1').at(-1)).toEqual([renumber]);
      // w's old broken row deleted and a new one made by dropping parent 2, in one rebuild: it fails
      const swap = addRevision(
        dir,
        'sqlite',
        'swap',
        [
          'PRAGMA foreign_keys=OFF;',
          "DELETE FROM `w` WHERE `id` = 'z';",
          "CREATE TABLE `__new_p` (`id` integer PRIMARY KEY NOT NULL, `n` text DEFAULT 'x' NOT NULL);",
          'INSERT INTO `__new_p`("id", "n") SELECT "id", coalesce("n", \'x\') FROM `p` WHERE "id" = 1;',
          'DROP TABLE `p`;',
          'ALTER TABLE `__new_p` RENAME TO `p`;',
          'PRAGMA foreign_keys=ON;',
        ].join(BP),
        'SELECT 1;',
      );
      oneLineError(
        runCli(dir, ['up'], sqliteEnv(dir, 'r.sqlite')),
        3,
        new RegExp(`revision ${swap} \\(up\\) failed .*foreign key check failed after the table rebuild: 2 row\\(s\\) reference missing parents \\(t -> p, w -> p\\); 2 other row\\(s\\) did before it ran and are left as they were\\. Rolled back: the database is at ${renumber}`),
      );
      expect(rows(dir, 'r.sqlite', "SELECT id FROM w ORDER BY 1")).toEqual([['a'], ['b'], ['z']]);
    });

    it('--single-transaction with a rebuild: a later ON DELETE CASCADE cannot fire; the failure says why and what to run, nothing applied', () => {
      const dir = makeProject();
      parentChild(dir);
      const rebuild = addRevision(dir, 'sqlite', 'rebuild_p', rebuildP(''), 'SELECT 1;');
      const purge = addRevision(dir, 'sqlite', 'purge', 'DELETE FROM `p` WHERE `id` = 2;', 'SELECT 1;');
      oneLineError(
        runCli(dir, ['up', '--single-transaction'], sqliteEnv(dir, 's.sqlite')),
        3,
        new RegExp(
          `revision ${purge} \\(up\\) failed .*foreign key check failed at the end of the single transaction: 1 row\\(s\\) reference missing parents \\(c -> p\\)\\. The run had foreign keys off throughout \\(${rebuild} rebuilds a table.*a delete whose ON DELETE action could not run\\. Run without --single-transaction.*Single transaction rolled back: the database is at base`,
        ),
      );
      expect(rows(dir, 's.sqlite', "SELECT name FROM sqlite_master WHERE name IN ('p', 'c')")).toEqual([]);
      // the default mode runs it: the cascade fires
      expect(runCli(dir, ['up'], sqliteEnv(dir, 'd.sqlite')).status).toBe(0);
      expect(rows(dir, 'd.sqlite', 'SELECT id, pid FROM c ORDER BY 1')).toEqual([[1, 1]]);
    });
  });

  it('a folder where the lock file goes: exit 5 saying so', () => {
    const dir = makeProject();
    mkdirSync(path.join(dir, 'l.sqlite.sluice-lock'));
    oneLineError(runCli(dir, ['up'], sqliteEnv(dir, 'l.sqlite')), 5, /cannot open the lock file l\.sqlite\.sluice-lock of sqlite:l\.sqlite: it is a folder; remove it/);
  });
});

describe('damaged caches and settings files', () => {
  it('config cache entries are bounded: a new one removes all but the CONFIG_CACHE_ENTRIES most recently used, and stale temporary files, nothing else', async () => {
    const dir = makeProjectWithOwnCache();
    const env = { DATABASE_URL: `file:${path.join(dir, 'c.sqlite')}` };
    expect(runCli(dir, ['status'], env).status).toBe(0);
    const cache = path.join(dir, 'node_modules', '.cache', 'sluice');
    const entries = () => readdirSync(cache).filter((f) => /^config-[0-9a-f]+\.json$/.test(f));
    const first = entries();
    expect(first).toHaveLength(1);
    const old = (f: string, s: number) => utimesSync(path.join(cache, f), s, s);
    const fakes = Array.from({ length: 40 }, (_, i) => `config-${String(i).padStart(16, 'f')}.json`);
    fakes.forEach((f, i) => {
      writeFileSync(path.join(cache, f), '{}');
      old(f, 946684800 + i); // 2000-01-01, one second apart
    });
    old(first[0]!, 915148800); // 1999: older than every fake, but used again below
    const others = [`config-${'a'.repeat(16)}.json.123`, 'config-modules-note.txt'];
    for (const f of others) writeFileSync(path.join(cache, f), 'not an entry');
    for (const f of others) old(f, 915148800);
    expect(runCli(dir, ['status'], env).status).toBe(0); // a hit: marked used
    // another value of a variable the config reads: a new entry, and the least recently used are removed
    expect(runCli(dir, ['status'], { ...env, SLUICE_DIALECT: 'sqlite' }).status).toBe(0);
    const left = entries();
    expect(left).toHaveLength(CONFIG_CACHE_ENTRIES);
    expect(left).toContain(first[0]);
    expect(left.filter((f) => !fakes.includes(f))).toHaveLength(2);
    for (const f of fakes.slice(0, 40 - (CONFIG_CACHE_ENTRIES - 2))) expect(left).not.toContain(f);
    // the entries pruned by count, and a temporary file a killed writer left more than a day ago; nothing else
    expect(existsSync(path.join(cache, others[0]!))).toBe(false);
    expect(existsSync(path.join(cache, others[1]!))).toBe(true);
  });

  it('a config that reaches process.env other than by a literal name is not cached: another DATABASE_URL is never served a stale description', () => {
    const dir = makeProjectWithOwnCache();
    const config = path.join(dir, 'drizzle.config.ts');
    const text = readFileSync(config, 'utf8');
    const line = "const url = process.env.DATABASE_URL ?? '';";
    expect(text).toContain(line);
    const cache = path.join(dir, 'node_modules', '.cache', 'sluice');
    const entries = () => (existsSync(cache) ? readdirSync(cache).filter((f) => /^config-[0-9a-f]+\.json$/.test(f)) : []);
    for (const form of [
      "const { DATABASE_URL: url = '' } = process.env;",
      "const url = process.env[`${'DATABASE'}_URL`] ?? '';",
      "const url = process.env['DATABASE' + '_URL'] ?? '';",
      "const all = { ...process.env }; const url = all.DATABASE_URL ?? '';",
    ]) {
      writeFileSync(config, text.replace(line, form));
      const sqlite = runCli(dir, ['status'], { DATABASE_URL: `file:${path.join(dir, 'c.sqlite')}` });
      expect(sqlite.status, `${form}: ${sqlite.stderr}`).toBe(0);
      expect(sqlite.stdout).toMatch(/^database: sqlite:/m);
      expect(entries(), form).toEqual([]);
    }
    // by literal name (the example's own form, and a quoted one): cached
    writeFileSync(config, text.replace(line, "const url = process.env['DATABASE_URL'] ?? '';"));
    expect(runCli(dir, ['status'], { DATABASE_URL: `file:${path.join(dir, 'c.sqlite')}` }).status).toBe(0);
    expect(entries()).toHaveLength(1);
  });

  it('a config cache entry that does not describe a config is ignored, not blamed on drizzle.config.ts; a .env that is a folder is one line', async () => {
    const dir = makeProjectWithOwnCache();
    const env = { DATABASE_URL: `file:${path.join(dir, 'c.sqlite')}` };
    expect(runCli(dir, ['status'], env).status).toBe(0);
    const cache = path.join(dir, 'node_modules', '.cache', 'sluice');
    const entries = readdirSync(cache).filter((f) => /^config-[0-9a-f]+\.json$/.test(f));
    expect(entries).toHaveLength(1);
    // the entry's own key (read checks it first), with content that describes no config
    const { key } = JSON.parse(readFileSync(path.join(cache, entries[0]!), 'utf8')) as { key: string };
    writeFileSync(path.join(cache, entries[0]!), JSON.stringify({ key }));
    const r = runCli(dir, ['status'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/current: +base/);
    mkdirSync(path.join(dir, '.env'));
    oneLineError(runCli(dir, ['status'], env), 2, /\.env is not a file; remove it or put the settings in a file named \.env/);
    rmSync(path.join(dir, '.env'), { recursive: true });
    oneLineError(runCli(dir, ['--config', 'models', 'status'], env), 2, /^sluice: config file models is not a file; pass the path of your drizzle\.config\.ts$/);
  });
});

// Found by a README walk: node-postgres's 9-line SECURITY WARNING about sslmode=require came twice
// before the one-line error (a common cloud URL: every command printed 18 lines of it).
describe('sslmode=require in DATABASE_URL', () => {
  itFor('postgresql')("node-postgres's warning of its meaning is one note line, once; then the error line", () => {
    const dir = makeProject();
    const url = new URL(pgUrl());
    url.searchParams.set('sslmode', 'require'); // the test server has no SSL
    const r = runCli(dir, ['status'], { DATABASE_URL: url.toString(), DATABASE_SCHEMA: uniqueSchema('ssl') });
    expect(r.status, r.stderr).toBe(5);
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    expect(lines, r.stderr).toHaveLength(2);
    expect(lines[0]).toMatch(/^sluice: note: node-postgres reads sslmode=require \(or prefer, verify-ca\) in DATABASE_URL as verify-full: it checks the server's certificate and name; write sslmode=verify-full to say so/);
    expect(lines[1]).toMatch(/^sluice: cannot connect to .*: The server does not support SSL connections/);
  });
});

// Found by a README walk: SLUICE_VERIFY=false (or 0, no) verified silently; only "off" was understood.
describe('SLUICE_VERIFY values', () => {
  it('0, false, no turn the verification off as off does; a value it does not take is refused before anything is written', () => {
    const dir = makeProject();
    const down = path.join(dir, 'drizzle', 'sqlite', '0003_add_phone_to_users.down.sql');
    rmSync(down);
    const r = runCli(dir, ['downs'], { SLUICE_VERIFY: 'false' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sqlite: not verified \(SLUICE_VERIFY=off\)/);
    const journal = readFileSync(path.join(dir, 'drizzle', 'sqlite', 'meta', '_journal.json'), 'utf8');
    oneLineError(runCli(dir, ['create', '-m', 'x'], { SLUICE_VERIFY: 'maybe' }), 2, /^sluice: SLUICE_VERIFY=maybe is not a value it takes: off \(or 0, false, no\) skips the verification of downs/);
    expect(readFileSync(path.join(dir, 'drizzle', 'sqlite', 'meta', '_journal.json'), 'utf8')).toBe(journal);
  });
});

// Found by a README walk: a new revision whose own up fails (drizzle-kit's varchar → integer without
// USING) was said only inside its down's "not verified" note; create exited 0 with no warning.
describe('migrate-create of an up that fails', () => {
  itFor('postgresql')('warns that migrate-up will fail the same way (in --json; the text prints each warning as a line)', () => {
    const dir = makeProject();
    const models = path.join(dir, 'models', 'postgres.ts');
    writeFileSync(models, readFileSync(models, 'utf8').replace("    status: varchar('status', { length: 16 }).notNull(),\n    details", "    status: integer('status').notNull(),\n    details"));
    const r = runCli(dir, ['--json', 'create', '-m', 'status to int']);
    expect(r.status, r.stderr).toBe(0);
    const made = (JSON.parse(r.stdout) as { created: { revision: string; warnings: string[] }[] }).created.find((c) => c.revision === '0004_status_to_int')!;
    expect(made.warnings).toContainEqual(expect.stringMatching(/^its up fails on a scratch database at 0003_add_phone_to_users: column "status" cannot be cast automatically to type integer: make migrate-up will likely fail the same way, unless the database has what the scratch one lacks/));
  });
});

// found by a hunt: a history named by timestamp (kan's) in a config without migrations.prefix gained an
// index-named revision, whose snapshot sorts before the older ones; drizzle-kit takes the one that sorts
// last as the newest, and the next migrate-create wrote that revision's changes again, exit 0
it('migrate-create refuses when the snapshot drizzle-kit would take as the newest is not the last revision\'s: nothing run', () => {
  const dir = makeProject();
  const meta = path.join(dir, 'drizzle', 'sqlite', 'meta');
  writeFileSync(path.join(meta, '20250101000000_snapshot.json'), readFileSync(path.join(meta, '0001_snapshot.json')));
  const before = readdirSync(path.join(dir, 'drizzle', 'sqlite')).sort();
  const r = runCli(dir, ['create', '-m', 'next'], { DATABASE_URL: 'file:./x.db' });
  oneLineError(r, 2, /drizzle-kit takes the snapshot whose name sorts last in drizzle\/sqlite\/meta \(20250101000000_snapshot\.json\) as the newest, but the last revision 0003_add_phone_to_users's is 0003_snapshot\.json: .*nothing was run: .*migrations: \{ prefix: 'timestamp' \}/);
  expect(readdirSync(path.join(dir, 'drizzle', 'sqlite')).sort()).toEqual(before);
});

// found by a hunt: a STORED generated column added on SQLite, which drizzle-kit leaves out with a
// warning of its own (SQLite cannot ADD one), was reported "No changes in the models", exit 0
it('migrate-create of a change drizzle-kit leaves out, saying so: exit 2 with its warning, no revision', () => {
  const dir = makeProject();
  const models = path.join(dir, 'models', 'sqlite.ts');
  writeFileSync(models, readFileSync(models, 'utf8').replace("  phone: text('phone'),\n", "  phone: text('phone'),\n  emailLower: text('email_lower').generatedAlwaysAs(sql`lower(email)`, { mode: 'stored' }),\n"));
  const before = readdirSync(path.join(dir, 'drizzle', 'sqlite')).sort();
  const r = runCli(dir, ['create', '-m', 'lower'], { DATABASE_URL: 'file:./x.db' });
  oneLineError(r, 2, /^sluice: sqlite: drizzle-kit left the change of the models out, so no revision was made: As SQLite docs mention: "It is not possible to ALTER TABLE ADD COLUMN a STORED column/);
  expect(readdirSync(path.join(dir, 'drizzle', 'sqlite')).sort()).toEqual(before);
});

// found by a hunt: a config only for migrating, without `schema` (drizzle-kit migrate needs none), was
// refused by status and up; only the commands that read the models need it
it('a config without schema: up and status work; migrate-create and migrate-check say they need it', async () => {
  const dir = makeProject();
  writeFileSync(path.join(dir, 'drizzle.config.ts'), "export default { dialect: 'sqlite', out: './drizzle/sqlite' };\n");
  const env = { DATABASE_URL: 'file:./m.db' };
  await upgradeTo(dir, env);
  expect(JSON.parse(runCli(dir, ['--json', 'status'], env).stdout)).toMatchObject({ current: '0003_add_phone_to_users' });
  oneLineError(runCli(dir, ['create', '-m', 'x'], env), 2, /^sluice: the config gives the history in drizzle\/sqlite no schema \(models\) path, which migrate-create reads; set schema:/);
  oneLineError(runCli(dir, ['verify', '--no-database'], env), 2, /which migrate-check reads/);
});

// found by a hunt: a config exporting two dialects whose default export always names sqlite made the
// PostgreSQL run of migrate-create read the SQLite config: "no change for postgresql", exit 0
it('migrate-create refuses a multi-dialect config whose default export does not follow SLUICE_DIALECT', () => {
  const dir = makeProject();
  const config = path.join(dir, 'drizzle.config.ts');
  writeFileSync(
    config,
    "import { defineConfig } from 'drizzle-kit';\nexport const dialects = {\n  sqlite: { schema: './models/sqlite.ts', out: './drizzle/sqlite' },\n  postgresql: { schema: './models/postgres.ts', out: './drizzle/postgresql' },\n} as const;\nexport default defineConfig({ dialect: 'sqlite', ...dialects.sqlite });\n",
  );
  addUserColumn(dir, 'nick');
  const before = readdirSync(path.join(dir, 'drizzle', 'postgresql')).sort();
  oneLineError(runCli(dir, ['create', '-m', 'nick'], { SLUICE_VERIFY: 'off' }), 2, /^sluice: drizzle\.config\.ts exports dialects sqlite, postgresql, but loading it does not read SLUICE_DIALECT, which migrate-create sets for each dialect's drizzle-kit run/);
  expect(readdirSync(path.join(dir, 'drizzle', 'postgresql')).sort()).toEqual(before);
  // the example's config follows it
  writeFileSync(config, readFileSync(path.join(REPO, 'drizzle.config.ts'), 'utf8'));
  const ok = runCli(dir, ['create', '-m', 'nick'], { SLUICE_VERIFY: 'off' });
  expect(ok.status, ok.stdout + ok.stderr).toBe(0);
});
