/**
 * Issue 13 (trust): what a revision file, a message or a dropped connection can bring, on SQLite and
 * the real PostgreSQL 15. Each case asserts the database afterwards (rows, tables, version rows),
 * not only the exit code.
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { addRevision, cleanEnv, describeFor, makeProject, pgDescribe, pgUrl, REPO, runCli, runMake, sql, uniqueSchema, type Env, expectOneLineError as oneLine, upgradeTo, downgradeTo } from '../support/project.js';

type Dialect = 'sqlite' | 'postgresql';
const BP = '\n--> statement-breakpoint\n';
const envFor = (dir: string, d: Dialect, name: string): Env =>
  d === 'sqlite' ? { DATABASE_URL: `file:${path.join(dir, `${name}.sqlite`)}` } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema(name) };

async function tables(dir: string, env: Env): Promise<string[]> {
  return env.DATABASE_SCHEMA
    ? (await sql<{ t: string }>(dir, env, 'SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1', [env.DATABASE_SCHEMA])).map((r) => r.t)
    : (await sql<{ t: string }>(dir, env, "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")).map((r) => r.t);
}
async function versions(dir: string, env: Env): Promise<string[]> {
  return (await sql<{ r: string }>(dir, env, 'SELECT "revision" AS r FROM sluice_version ORDER BY 1')).map((r) => r.r);
}
const HEAD = ['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users'];

for (const d of ['sqlite', 'postgresql'] as const) {
  describeFor(d)(`revision files are data, never control (${d})`, () => {
    it('transaction control in a transactional revision is refused before anything runs; rows and tables unchanged', async () => {
      const variants = [
        'INSERT INTO t_commit VALUES (1);\nCOMMIT;\nINSERT INTO t_commit VALUES (2);\nSELECT * FROM no_such_table;',
        'INSERT INTO t_commit VALUES (1);\n/* sneaky */ commit ;\nSELECT * FROM no_such_table;',
        'INSERT INTO t_commit VALUES (1);\nEND;\nSELECT 1;',
        'BEGIN;\nINSERT INTO t_commit VALUES (1);\nCOMMIT;',
        'INSERT INTO t_commit VALUES (1);\nROLLBACK;\nINSERT INTO t_commit VALUES (2);',
        'SAVEPOINT s1;\nINSERT INTO t_commit VALUES (1);\nRELEASE s1;',
      ];
      for (const [i, body] of variants.entries()) {
        const dir = makeProject();
        const env = envFor(dir, d, `commit${i}`);
        await upgradeTo(dir, env);
        await sql(dir, env, 'CREATE TABLE t_commit (id integer)');
        await sql(dir, env, 'INSERT INTO t_commit VALUES (0)');
        addRevision(dir, d, 'sneaky', `CREATE TABLE t_new (id integer);${BP}${body}`, 'DROP TABLE t_new;');
        const r = runCli(dir, ['up'], env);
        oneLine(r, 6, /0004_sneaky\.sql line \d+: ".*(COMMIT|commit|END|BEGIN|ROLLBACK|SAVEPOINT|RELEASE).*" controls the transaction.*sluice:no-transaction/);
        expect(await sql(dir, env, 'SELECT id FROM t_commit ORDER BY id')).toEqual([{ id: 0 }]);
        expect(await tables(dir, env)).not.toContain('t_new');
        expect(await versions(dir, env)).toEqual(HEAD);
      }
    });

    it('a marked no-transaction revision may manage its own transaction', async () => {
      const dir = makeProject();
      const env = envFor(dir, d, 'ownTx');
      addRevision(dir, d, 'own_tx', `-- sluice:no-transaction\nBEGIN;\nCREATE TABLE t_own (id integer);\nINSERT INTO t_own VALUES (1);\nCOMMIT;`, 'DROP TABLE t_own;');
      await upgradeTo(dir, env);
      expect(await sql(dir, env, 'SELECT id FROM t_own')).toEqual([{ id: 1 }]);
    });

    it('a failure is located without replaying anything: the right statement is named, the earlier ones roll back', async () => {
      const dir = makeProject();
      const env = envFor(dir, d, 'locate');
      await upgradeTo(dir, env);
      await sql(dir, env, 'CREATE TABLE counter (n integer)');
      addRevision(
        dir,
        d,
        'runtime_error',
        `INSERT INTO counter VALUES (1);${BP}INSERT INTO counter VALUES (2); INSERT INTO counter VALUES (3);${BP}INSERT INTO counter VALUES (CAST('x' AS integer) + ${d === 'sqlite' ? "abs(-9223372036854775807 - 1)" : '0'});${BP}INSERT INTO counter VALUES (5);`,
        'DELETE FROM counter;',
      );
      const r = runCli(dir, ['up'], env);
      expect(r.status, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/0004_runtime_error \(up\) failed at statement 4\/5 \(INSERT INTO counter VALUES \(CAST/);
      expect(r.stderr).toMatch(/Rolled back: the database is at 0003_add_phone_to_users/);
      expect(await sql(dir, env, 'SELECT count(*) AS n FROM counter')).toEqual([{ n: d === 'sqlite' ? 0 : '0' }]);
    });

    it('comments never become statements: a marker inside a comment or a string is inert', async () => {
      const dir = makeProject();
      const env = envFor(dir, d, 'marker');
      await upgradeTo(dir, env);
      await sql(dir, env, "INSERT INTO users (email) VALUES ('a@x'), ('b@x')");
      addRevision(
        dir,
        d,
        'inert',
        `-- note --> statement-breakpoint DELETE FROM users;\nCREATE TABLE t_inert (v text);${BP}INSERT INTO t_inert VALUES ('--> statement-breakpoint DELETE FROM users;');`,
        `-- sluice:down 0004_inert\n-- message: x --> statement-breakpoint DELETE FROM users;\nDROP TABLE t_inert;`,
      );
      await upgradeTo(dir, env);
      await downgradeTo(dir, env);
      expect(await sql(dir, env, 'SELECT count(*) AS n FROM users')).toEqual([{ n: d === 'sqlite' ? 2 : '2' }]);
    });
  });
}

describe('messages are one line of comment (make migrate-create)', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeProject();
  });

  it('MSG holding the breakpoint marker and SQL deletes nothing on down; EMPTY=1 revisions go down and up on both dialects', async () => {
    const models = (f: string) => path.join(dir, 'models', f);
    for (const [f, col] of [['postgres.ts', "  notes: text('notes'),\n"], ['sqlite.ts', "  notes: text('notes'),\n"]] as const) {
      writeFileSync(models(f), readFileSync(models(f), 'utf8').replace("  name: text('name'),\n", `  name: text('name'),\n${col}`));
    }
    const made = runMake(dir, ['migrate-create', 'MSG=add notes --> statement-breakpoint DELETE FROM users;'], { SLUICE_VERIFY: 'off' });
    expect(made.status, made.stderr).toBe(0);
    const empty = runMake(dir, ['migrate-create', 'MSG=hand written', 'EMPTY=1']);
    expect(empty.status, empty.stderr).toBe(0);
    for (const d of ['sqlite', 'postgresql'] as const) {
      const downs = readdirSync(path.join(dir, 'drizzle', d)).filter((f) => f.endsWith('.down.sql'));
      const notes = readFileSync(path.join(dir, 'drizzle', d, downs.find((f) => f.startsWith('0004_'))!), 'utf8');
      expect(notes).toContain('-- message: add notes -- > statement-breakpoint DELETE FROM users;');
      expect(notes).not.toContain('--> statement-breakpoint DELETE');
      if (d === 'postgresql' && process.env.SLUICE_SKIP_PG === '1') continue;
      const env = envFor(dir, d, 'msg');
      await upgradeTo(dir, env);
      await sql(dir, env, "INSERT INTO users (email) VALUES ('a@x'), ('b@x')");
      const down2 = runCli(dir, ['down', '-2'], env);
      expect(down2.status, down2.stderr).toBe(0);
      expect(await sql(dir, env, 'SELECT count(*) AS n FROM users')).toEqual([{ n: d === 'sqlite' ? 2 : '2' }]);
      expect(await versions(dir, env)).toEqual(HEAD);
      await upgradeTo(dir, env);
      expect((await versions(dir, env)).length).toBe(6);
    }
  });

  // Found by a README walk: drizzle-kit's custom up is one comment line with no line end, so a statement
  // appended to it (echo >>) joined the comment: "applied (0 statements)", the SQL never ran.
  it('an EMPTY=1 up ends with a line end: a statement appended to it runs', async () => {
    const own = makeProject();
    const made = runCli(own, ['create', '--empty', '-m', 'appended']);
    expect(made.status, made.stderr).toBe(0);
    const folder = path.join(own, 'drizzle', 'sqlite');
    const up = path.join(folder, '0004_appended.sql');
    expect(readFileSync(up, 'utf8')).toMatch(/\n$/);
    appendFileSync(up, 'CREATE TABLE `appended` (`id` integer);\n');
    appendFileSync(path.join(folder, '0004_appended.down.sql'), 'DROP TABLE `appended`;\n');
    const env = { DATABASE_URL: `file:${path.join(own, 'a.sqlite')}` };
    const r = runCli(own, ['up'], env);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/↑ 0004_appended applied \(1 statement/);
    expect(await sql(own, env, "SELECT name FROM sqlite_master WHERE name = 'appended'")).toEqual([{ name: 'appended' }]);
  });
});

pgDescribe('schema scoping cannot escape (PostgreSQL)', () => {
  it('system schemas are refused up front and nothing is created there', async () => {
    const dir = makeProject();
    for (const schema of ['information_schema', 'pg_catalog', 'pg_toast', 'pg_temp', 'pg_mine']) {
      oneLine(runCli(dir, ['up'], { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: schema }), 2, new RegExp(`DATABASE_SCHEMA=${schema} is a PostgreSQL system schema`));
    }
    const c = new pg.Client({ connectionString: pgUrl() });
    await c.connect();
    const rows = await c.query("SELECT schemaname, tablename FROM pg_tables WHERE tablename IN ('sluice_version', 'users', 'audits') AND schemaname !~ '^t_|^[a-z]+_[0-9]'");
    await c.end();
    expect(rows.rows.filter((r) => r.schemaname === 'information_schema' || r.schemaname.startsWith('pg_'))).toEqual([]);
  });

  it('unquoted public. in hand-written SQL (and in DO bodies) lands in DATABASE_SCHEMA; public untouched; SET search_path refused', async () => {
    const dir = makeProject();
    const schema = uniqueSchema('scoped');
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: schema };
    const marker = `pub_${schema}`.slice(0, 60);
    addRevision(
      dir,
      'postgresql',
      'hand',
      `CREATE TABLE public.${marker} (id int);${BP}CREATE TABLE PUBLIC . ${marker}_b (id int);${BP}DO $$ BEGIN CREATE TABLE public.${marker}_c (id int); END $$;${BP}INSERT INTO public.${marker} VALUES (1);`,
      `DROP TABLE public.${marker}_c;${BP}DROP TABLE public.${marker}_b;${BP}DROP TABLE public.${marker};`,
    );
    const r = runCli(dir, ['up'], env);
    expect(r.status, r.stderr).toBe(0);
    const c = new pg.Client({ connectionString: pgUrl() });
    await c.connect();
    try {
      const where = await c.query('SELECT schemaname FROM pg_tables WHERE tablename LIKE $1 ORDER BY 1', [`${marker}%`]);
      expect(where.rows.map((x) => x.schemaname)).toEqual([schema, schema, schema]);
      await downgradeTo(dir, env);
      expect((await c.query('SELECT 1 FROM pg_tables WHERE tablename LIKE $1', [`${marker}%`])).rows).toEqual([]);
    } finally {
      await c.end();
    }
    addRevision(dir, 'postgresql', 'path', `SET search_path TO public;${BP}CREATE TABLE ${marker}_d (id int);`, 'SELECT 1;');
    oneLine(runCli(dir, ['up'], env), 6, /0005_path\.sql line 1: "SET search_path TO public" changes search_path/);
  });
});

for (const d of ['sqlite', 'postgresql'] as const) {
  describeFor(d)(`integrity of the files (${d})`, () => {
    let dir: string;
    let env: Env;
    beforeAll(() => {
      dir = makeProject();
      env = envFor(dir, d, 'integrity');
    });

    it('a duplicate or out-of-order journal entry is refused with the fix', () => {
      const journal = path.join(dir, 'drizzle', d, 'meta', '_journal.json');
      const original = readFileSync(journal, 'utf8');
      const j = JSON.parse(original);
      try {
        writeFileSync(journal, JSON.stringify({ ...j, entries: [...j.entries, j.entries[3]] }));
        oneLine(runCli(dir, ['up'], env), 4, /lists revision 0003_add_phone_to_users twice.*remove the duplicate entry/);
        writeFileSync(journal, JSON.stringify({ ...j, entries: [j.entries[0], j.entries[2], j.entries[1], j.entries[3]] }));
        oneLine(runCli(dir, ['status'], env), 4, /comes after .*order the entries by idx/);
      } finally {
        writeFileSync(journal, original);
      }
    });

    it('NUL and non-UTF-8 bytes are refused with file and offset; nothing applied', async () => {
      const tag = addRevision(dir, d, 'nul', 'CREATE TABLE t_nul (id integer);\nSELECT 1;', 'DROP TABLE t_nul;');
      const up = path.join(dir, 'drizzle', d, `${tag}.sql`);
      writeFileSync(up, Buffer.concat([Buffer.from('CREATE TABLE t_nul (id integer);\n'), Buffer.from([0]), Buffer.from('\nCREATE TABLE t_after (id integer);')]));
      oneLine(runCli(dir, ['up'], env), 4, /0004_nul\.sql holds a NUL byte at offset 33/);
      const lead = "CREATE TABLE t_nul (v text);\nINSERT INTO t_nul VALUES ('";
      writeFileSync(up, Buffer.concat([Buffer.from(lead), Buffer.from([0xff, 0xfe]), Buffer.from("');")]));
      oneLine(runCli(dir, ['up'], env), 4, new RegExp(`0004_nul\\.sql is not valid UTF-8 \\(byte offset ${Buffer.byteLength(lead)}\\)`));
      const t = await tables(dir, env).catch(() => []);
      expect(t).not.toContain('t_nul');
      expect(t).not.toContain('t_after');
      writeFileSync(up, 'CREATE TABLE t_nul (v text);');
      await upgradeTo(dir, env);
      // a changed byte in an applied file that stays valid UTF-8 is a checksum mismatch; an invalid one is refused
      writeFileSync(up, 'CREATE TABLE t_nul (v TEXT);');
      oneLine(runCli(dir, ['up'], env), 4, /changed after it was applied/);
      writeFileSync(up, Buffer.concat([Buffer.from('CREATE TABLE t_nul (v text);'), Buffer.from([0xc3])]));
      oneLine(runCli(dir, ['up'], env), 4, /not valid UTF-8 \(byte offset 28\)/);
      writeFileSync(up, 'CREATE TABLE t_nul (v text);');
    });

    it('a down that is a directory, or a link out of the folder, is refused and never read', async () => {
      const tag = '0004_nul';
      const down = path.join(dir, 'drizzle', d, `${tag}.down.sql`);
      rmSync(down, { force: true });
      mkdirSync(down);
      oneLine(runCli(dir, ['down'], env), 4, /0004_nul\.down\.sql is not a regular file \(a directory\)/);
      rmSync(down, { recursive: true });
      symlinkSync('/etc/passwd', down);
      const r = runCli(dir, ['down'], env);
      oneLine(r, 4, /0004_nul\.down\.sql points outside the migration folder/);
      expect(r.stdout + r.stderr).not.toMatch(/root:/);
      rmSync(down);
      writeFileSync(down, 'DROP TABLE t_nul;');
      await downgradeTo(dir, env);
    });
  });
}

pgDescribe('a lost connection (PostgreSQL)', () => {
  it('reports "connection lost during <revision>" with the revision read back, exit 7; a rerun completes', async () => {
    const dir = makeProject();
    const schema = uniqueSchema('lost');
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: schema };
    await upgradeTo(dir, env);
    addRevision(dir, 'postgresql', 'slow', `CREATE TABLE t_slow (id int);${BP}SELECT pg_sleep(4);`, 'DROP TABLE t_slow;');
    const child = spawn(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), 'up'], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    const admin = new pg.Client({ connectionString: pgUrl() });
    await admin.connect();
    try {
      let killed = 0;
      for (let i = 0; i < 100 && killed === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const res = await admin.query("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'sluice' AND query LIKE '%pg_sleep(4)%'");
        killed = res.rowCount ?? 0;
      }
      expect(killed).toBe(1);
    } finally {
      await admin.end();
    }
    expect(await exited, stderr).toBe(7);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/connection lost during 0004_slow \(up\): .*the database is at 0003_add_phone_to_users\. Run the command again/);
    expect(await tables(dir, env)).not.toContain('t_slow');
    const again = runCli(dir, ['up'], env);
    expect(again.status, again.stderr).toBe(0);
    expect(await versions(dir, env)).toEqual([...HEAD, '0004_slow']);
  });
});
