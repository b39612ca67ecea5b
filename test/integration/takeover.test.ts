/**
 * Takeover of a database drizzle's own migrator manages (issue 10, item 3): the example history is
 * applied by drizzle-orm's real migrate() (PostgreSQL in a database of its own per test, so the
 * history's "public". qualifiers and drizzle's `drizzle` schema never meet another test; SQLite in a
 * file), then sluice takes it over through the CLI (dist/cli.cjs).
 */
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { drizzle as pgDrizzle } from 'drizzle-orm/node-postgres';
import { migrate as pgMigrate } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as sqliteDrizzle } from 'drizzle-orm/better-sqlite3';
import { migrate as sqliteMigrate } from 'drizzle-orm/better-sqlite3/migrator';
import { beforeAll, expect, it } from 'vitest';
import { addRevision, describeFor, dumpSchema, freshDatabase, makeProject, pgDescribe, runCli, sql, tempDir, uniqueSchema, type Env, upgradeTo, downgradeTo } from '../support/project.js';

const HEAD = '0003_add_phone_to_users';
const ALL = ['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', HEAD];

/** A copy of a dialect's history with only its first `n` journal entries (an app deployed `n` revisions ago). */
function firstEntries(dir: string, dialect: string, n: number): string {
  const out = tempDir('sluice-partial-');
  cpSync(path.join(dir, 'drizzle', dialect), out, { recursive: true });
  const journalPath = path.join(out, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
  journal.entries = journal.entries.slice(0, n);
  writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  return out;
}

interface Case {
  dialect: 'sqlite' | 'postgresql';
  /** A new empty database for one test. */
  fresh(dir: string): Promise<Env>;
  /** drizzle-orm's migrate() on that database with a migration folder. */
  drizzleMigrate(env: Env, folder: string, table?: { schema?: string; table?: string }): Promise<void>;
  /** drizzle's table, qualified. */
  table: string;
  /** Whether sluice_version exists. */
  hasVersionTable(dir: string, env: Env): Promise<boolean>;
}

const cases: Case[] = [
  {
    dialect: 'sqlite',
    fresh: async (dir) => ({ DATABASE_URL: `file:${path.join(mkdtempSync(path.join(dir, 'db-')), 'app.sqlite')}` }),
    drizzleMigrate: async (env, folder, t) => {
      const db = new Database(env.DATABASE_URL!.slice('file:'.length));
      try {
        sqliteMigrate(sqliteDrizzle(db), { migrationsFolder: folder, ...(t?.table ? { migrationsTable: t.table } : {}) });
      } finally {
        db.close();
      }
    },
    table: '"__drizzle_migrations"',
    hasVersionTable: async (dir, env) => (await sql(dir, env, "SELECT 1 FROM sqlite_master WHERE name = 'sluice_version'")).length > 0,
  },
  {
    dialect: 'postgresql',
    fresh: async () => ({ DATABASE_URL: await freshDatabase('tk') }),
    drizzleMigrate: async (env, folder, t) => {
      const client = new pg.Client({ connectionString: env.DATABASE_URL });
      await client.connect();
      try {
        await pgMigrate(pgDrizzle(client), {
          migrationsFolder: folder,
          ...(t?.schema ? { migrationsSchema: t.schema } : {}),
          ...(t?.table ? { migrationsTable: t.table } : {}),
        });
      } finally {
        await client.end();
      }
    },
    table: '"drizzle"."__drizzle_migrations"',
    hasVersionTable: async (dir, env) =>
      (await sql(dir, env, "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'sluice_version'", [env.DATABASE_SCHEMA ?? 'public'])).length > 0,
  },
];

const json = (out: string) => JSON.parse(out);
const drizzleRows = (dir: string, env: Env, table: string) =>
  sql<{ hash: string; created_at: unknown }>(dir, env, `SELECT hash, created_at FROM ${table} ORDER BY created_at`).then((rows) =>
    rows.map((r) => ({ hash: r.hash, created_at: Number(r.created_at) })),
  );

for (const c of cases) {
  describeFor(c.dialect)(`takeover from drizzle's migrator (${c.dialect})`, () => {
    let dir: string;
    let folder: string;
    beforeAll(() => {
      dir = makeProject();
      folder = path.join(dir, 'drizzle', c.dialect);
    });

    // Found by a README walk: a first up that failed (here: drizzle's tables already there, the takeover
    // turned off) left an empty sluice_version, and its presence turned the takeover off for good: every
    // later up and deploy ran the history from base and failed the same way.
    it('a first up that fails leaves no sluice_version: the next up takes the database over', async () => {
      const env = await c.fresh(dir);
      await c.drizzleMigrate(env, folder);
      const failed = runCli(dir, ['up'], { ...env, SLUICE_TAKEOVER: 'off' });
      expect(failed.status, failed.stdout + failed.stderr).toBe(3);
      expect(failed.stderr).toMatch(/Rolled back: the database is at base/);
      expect(await c.hasVersionTable(dir, env)).toBe(false);
      const up = runCli(dir, ['up'], env);
      expect(up.status, up.stdout + up.stderr).toBe(0);
      expect(json(runCli(dir, ['--json', 'status'], env).stdout)).toMatchObject({ current: HEAD, applied: 4, pending: [] });
    });

    it('status shows the drizzle-managed database at head with nothing pending, and writes nothing', async () => {
      const env = await c.fresh(dir);
      await c.drizzleMigrate(env, folder);
      const text = runCli(dir, ['status'], env);
      expect(text.status).toBe(0);
      expect(text.stdout).toMatch(new RegExp(`current:\\s+${HEAD}`));
      expect(text.stdout).toContain('pending:  none (up to date)');
      expect(text.stdout).toContain(`managed by drizzle's migrator`);
      expect(text.stdout).toContain(`matches up to ${HEAD}; taken over on the next migrate-up`);
      const s = json(runCli(dir, ['--json', 'status'], env).stdout);
      expect(s).toMatchObject({ current: HEAD, head: HEAD, applied: 4, pending: [], takeover: { state: 'pending', rows: 4, revisions: ALL, at: HEAD, problems: [] } });
      // history too reads the database as the takeover would record it
      const h = json(runCli(dir, ['--json', 'history'], env).stdout);
      expect(h.revisions.every((r: { appliedAt: string | null }) => r.appliedAt !== null)).toBe(true);
      // read-only: no sluice table was created
      expect(await c.hasVersionTable(dir, env)).toBe(false);
    });

    it('up takes over without running SQL (version rows from drizzle rows), down -1 runs the down, up again; drizzle table untouched', async () => {
      const env = await c.fresh(dir);
      await c.drizzleMigrate(env, folder);
      const schemaBefore = await dumpSchema(dir, env);
      const drizzleBefore = await drizzleRows(dir, env, c.table);
      expect(drizzleBefore).toHaveLength(4);

      const up = runCli(dir, ['up'], env);
      expect(up.stderr).toBe('');
      expect(up.status).toBe(0);
      expect(up.stdout).toContain(`taken over from drizzle's migrator`);
      expect(up.stdout).toMatch(/Stop calling drizzle's migrate\(\) now \(sluice's upgrade\(\) replaces it\)/);
      expect(up.stdout).toContain(`already at ${HEAD}; nothing to upgrade`);
      expect(await dumpSchema(dir, env)).toBe(schemaBefore);
      const rows = await sql<{ revision: string; checksum: string; applied_at: unknown; execution_ms: number }>(
        dir,
        env,
        'SELECT revision, checksum, applied_at, execution_ms FROM sluice_version ORDER BY revision',
      );
      expect(rows.map((r) => r.revision)).toEqual(ALL);
      // sluice's checksum is drizzle's hash; applied_at is drizzle's created_at (the journal's "when")
      expect(rows.map((r) => r.checksum)).toEqual(drizzleBefore.map((d) => d.hash));
      expect(rows.map((r) => new Date(r.applied_at as string).getTime())).toEqual(drizzleBefore.map((d) => d.created_at));

      const down = runCli(dir, ['down', '-1'], env);
      expect(down.status).toBe(0);
      expect(down.stdout).toContain(`${HEAD} reverted`);
      expect(await dumpSchema(dir, env)).not.toContain('phone');
      expect(json(runCli(dir, ['--json', 'status'], env).stdout)).toMatchObject({ current: '0002_add_sessions_and_roles', pending: [HEAD] });

      const again = runCli(dir, ['up'], env);
      expect(again.status).toBe(0);
      expect(again.stdout).toContain(`${HEAD} applied`);
      expect(again.stdout).not.toContain('taken over');
      expect(await dumpSchema(dir, env)).toBe(schemaBefore);
      expect(await drizzleRows(dir, env, c.table)).toEqual(drizzleBefore);

      // down to base leaves sluice_version empty: drizzle's rows (now stale) are not taken over again
      await downgradeTo(dir, env, 'base');
      const st = json(runCli(dir, ['--json', 'status'], env).stdout);
      expect(st).toMatchObject({ current: 'base', applied: 0, pending: ALL, takeover: { state: 'explicit' } });
      const fromBase = runCli(dir, ['up'], env);
      expect(fromBase.status).toBe(0);
      expect(fromBase.stdout).not.toContain('taken over');
      expect(fromBase.stdout).toContain('4 revisions applied');
      expect(await dumpSchema(dir, env)).toBe(schemaBefore);
    });

    it('a drizzle row with a wrong hash, or one matching no revision, is refused with the list; nothing is written', async () => {
      const env = await c.fresh(dir);
      await c.drizzleMigrate(env, folder);
      const schemaBefore = await dumpSchema(dir, env);
      const second = (await drizzleRows(dir, env, c.table))[1]!;
      await sql(dir, env, `UPDATE ${c.table} SET hash = ${c.dialect === 'sqlite' ? '?' : '$1'} WHERE created_at = ${c.dialect === 'sqlite' ? '?' : '$2'}`, [
        'f'.repeat(64),
        second.created_at,
      ]);
      await sql(dir, env, `INSERT INTO ${c.table} (hash, created_at) VALUES (${c.dialect === 'sqlite' ? '?, ?' : '$1, $2'})`, ['e'.repeat(64), 1]);
      for (const args of [['up'], ['deploy'], ['down'], ['stamp', 'head'], ['takeover']]) {
        const r = runCli(dir, args, env);
        expect(r.status, args.join(' ')).toBe(4);
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(`cannot take over`);
        expect(lines[0]).toContain(`that of 0001_add_audits) has hash ffffffffffff, but drizzle/${c.dialect}/0001_add_audits.sql hashes to`);
        expect(lines[0]).toContain(`(created_at 1, hash eeeeeeeeeeee) matches no revision`);
        expect(lines[0]).toContain('Nothing was written');
      }
      const j = runCli(dir, ['--json', 'up'], env);
      expect(j.status).toBe(4);
      expect(json(j.stdout)).toMatchObject({ code: 4, results: { takeover: { rows: 5 } } });
      expect(json(j.stdout).results.takeover.problems).toHaveLength(2);
      const st = json(runCli(dir, ['--json', 'status'], env).stdout);
      expect(st).toMatchObject({ current: 'base', takeover: { state: 'refused' } });
      expect(st.takeover.problems).toHaveLength(2);
      expect(await c.hasVersionTable(dir, env)).toBe(false);
      expect(await dumpSchema(dir, env)).toBe(schemaBefore);
    });

    // After migrate-merge renumbered a revision (and moved its journal "when"), a database drizzle's
    // migrator ran on that branch was refused: the row's created_at matched no entry any more. Its hash
    // names the revision; the branch the merge kept below it never ran here and is pending.
    it('a database of the other branch after migrate-merge (its revision renumbered, its "when" moved) is taken over by hash; the kept revision below it is applied', async () => {
      const own = makeProject();
      const env = await c.fresh(own);
      const q = (name: string) => (c.dialect === 'sqlite' ? `\`${name}\`` : `"${name}"`);
      await c.drizzleMigrate(env, path.join(own, 'drizzle', c.dialect));
      // what migrate-merge leaves: ours (0003_ours, made earlier) kept at 0003, theirs moved to 0004
      // with a later "when"; the files move with it
      const folder = path.join(own, 'drizzle', c.dialect);
      const journalPath = path.join(folder, 'meta', '_journal.json');
      const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
      const theirs = journal.entries.at(-1);
      for (const ext of ['.sql', '.down.sql']) renameSync(path.join(folder, `0003_add_phone_to_users${ext}`), path.join(folder, `0004_add_phone_to_users${ext}`));
      renameSync(path.join(folder, 'meta', '0003_snapshot.json'), path.join(folder, 'meta', '0004_snapshot.json'));
      copyFileSync(path.join(folder, 'meta', '0002_snapshot.json'), path.join(folder, 'meta', '0003_snapshot.json'));
      writeFileSync(path.join(folder, '0003_ours.sql'), `CREATE TABLE ${q('ours')} (${q('id')} integer);`);
      writeFileSync(path.join(folder, '0003_ours.down.sql'), `DROP TABLE ${q('ours')};`);
      journal.entries = [...journal.entries.slice(0, 3), { ...theirs, tag: '0003_ours', when: theirs.when - 1000 }, { ...theirs, idx: 4, tag: '0004_add_phone_to_users', when: theirs.when + 1000 }];
      writeFileSync(journalPath, JSON.stringify(journal, null, 2));
      const r = runCli(own, ['up'], env);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('0003_ours applied');
      const rows = (await sql<{ r: string }>(own, env, 'SELECT revision AS r FROM sluice_version ORDER BY 1')).map((x) => x.r);
      expect(rows).toEqual(['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_ours', '0004_add_phone_to_users']);
      // theirs is not run again: its column is there once, and a down of both works
      await downgradeTo(own, env, '-2');
      await upgradeTo(own, env);
    });

    it('a revision missing in the middle of drizzle table is refused', async () => {
      const env = await c.fresh(dir);
      await c.drizzleMigrate(env, folder);
      const second = (await drizzleRows(dir, env, c.table))[1]!;
      await sql(dir, env, `DELETE FROM ${c.table} WHERE created_at = ${c.dialect === 'sqlite' ? '?' : '$1'}`, [second.created_at]);
      const r = runCli(dir, ['up'], env);
      expect(r.status).toBe(4);
      expect(r.stderr).toContain(`0001_add_audits has no row although a later revision has one`);
      expect(await c.hasVersionTable(dir, env)).toBe(false);
    });

    it('a partially applied drizzle history (2 of 4) is taken over at 0001 and up applies the rest', async () => {
      const env = await c.fresh(dir);
      await c.drizzleMigrate(env, firstEntries(dir, c.dialect, 2));
      const st = json(runCli(dir, ['--json', 'status'], env).stdout);
      expect(st).toMatchObject({ current: '0001_add_audits', pending: ['0002_add_sessions_and_roles', HEAD], takeover: { state: 'pending', rows: 2 } });
      const dry = runCli(dir, ['up', '--dry-run'], env);
      expect(dry.status).toBe(0);
      expect(dry.stdout).toContain('-- would take over');
      expect(dry.stdout).toContain('0001_add_audits -> 0003_add_phone_to_users, 2 step(s)');
      expect(await c.hasVersionTable(dir, env)).toBe(false);

      const up = runCli(dir, ['up'], env);
      expect(up.status).toBe(0);
      expect(up.stdout).toContain('recorded as 2 revisions up to 0001_add_audits');
      expect(up.stdout).toContain('0002_add_sessions_and_roles applied');
      expect(up.stdout).toContain(`${HEAD} applied`);
      expect(up.stdout).toContain(`0001_add_audits -> ${HEAD} (2 revisions applied)`);
      // the same schema as drizzle's migrator applying everything
      const ref = await c.fresh(dir);
      await c.drizzleMigrate(ref, folder);
      expect(await dumpSchema(dir, env)).toBe(await dumpSchema(dir, ref));
    });
    it('sluice takeover where drizzle applied nothing (its table empty) is refused, writing nothing (was: "taken over 0 rows", an empty sluice_version that turned the automatic takeover off)', async () => {
      const env = await c.fresh(dir);
      const empty = firstEntries(dir, c.dialect, 0);
      await c.drizzleMigrate(env, empty); // creates drizzle's table, applies nothing
      expect(await drizzleRows(dir, env, c.table)).toEqual([]);
      const r = runCli(dir, ['takeover'], env);
      expect(r.status, r.stdout + r.stderr).toBe(2);
      expect(r.stderr.trim()).toMatch(/holds no rows: drizzle's migrator applied nothing here, so there is nothing to take over; nothing was written/);
      expect(await c.hasVersionTable(dir, env)).toBe(false);
    });

    // Found by review: drizzle-orm's migrate() takes its table's schema and name at run time
    // (migrationsSchema, migrationsTable), which drizzle.config.ts need not say; sluice looked only
    // where the config points, found nothing, and ran the applied history again from base.
    it("drizzle's table kept elsewhere (another migrationsSchema or migrationsTable) is found: up refuses and writes nothing, --table takes it over", async () => {
      const env = await c.fresh(dir);
      const elsewhere = c.dialect === 'postgresql' ? { schema: 'public' } : { table: 'app_migrations' };
      const name = c.dialect === 'postgresql' ? 'public.__drizzle_migrations' : 'app_migrations';
      await c.drizzleMigrate(env, folder, elsewhere);
      const before = await dumpSchema(dir, env);
      const r = runCli(dir, ['up'], env);
      expect(r.status, r.stdout + r.stderr).toBe(4);
      expect(r.stderr).toContain(`but ${name} (4 rows) has drizzle's shape: drizzle's migrator was run here with another`);
      expect(r.stderr).toContain(`run sluice takeover --table ${name}`);
      expect(r.stderr).toMatch(/Nothing was written/);
      expect(await c.hasVersionTable(dir, env)).toBe(false);
      expect(await dumpSchema(dir, env)).toEqual(before);
      expect(json(runCli(dir, ['--json', 'status'], env).stdout)).toMatchObject({ takeover: { source: name, state: 'refused' } });
      const t = runCli(dir, ['takeover', '--table', name], env);
      expect(t.status, t.stdout + t.stderr).toBe(0);
      const again = runCli(dir, ['up'], env);
      expect(again.status, again.stdout + again.stderr).toBe(0);
      expect(again.stdout).toMatch(/nothing to upgrade/);
    });

    // Found by review of the change above: a table of the app with drizzle's three columns (an uploads
    // table: id, hash, created_at) was taken for drizzle's and refused every new schema; a SQLite
    // WITHOUT ROWID one made status, history and up end in an internal error.
    it("a table of the app with drizzle's columns but not its rows is not taken for drizzle's; nor is one that cannot be read as drizzle's", async () => {
      const env = await c.fresh(dir);
      const shaped = c.dialect === 'postgresql'
        ? 'CREATE TABLE public.uploads (id serial PRIMARY KEY, hash text NOT NULL, created_at timestamp DEFAULT now() NOT NULL); INSERT INTO public.uploads (hash) VALUES (\'abc\')'
        : "CREATE TABLE uploads (id integer PRIMARY KEY, hash text NOT NULL, created_at integer); INSERT INTO uploads (hash, created_at) VALUES ('abc', 1); CREATE TABLE blobs (id text PRIMARY KEY, hash text, created_at integer) WITHOUT ROWID; INSERT INTO blobs VALUES ('a', 'b', 1)";
      for (const statement of shaped.split('; ')) await sql(dir, env, statement);
      const status = runCli(dir, ['status'], env);
      expect(status.status, status.stdout + status.stderr).toBe(0);
      expect(status.stdout).toContain(`pending:  ${ALL.join(', ')}`);
      const up = runCli(dir, ['up'], env);
      expect(up.status, up.stdout + up.stderr).toBe(0);
      expect(up.stdout).toMatch(new RegExp(`base -> ${HEAD} \\(4 revisions applied\\)`));
    });

    // Found by review: drizzle's migrator runs only the SQL file; a revision's TypeScript part never ran,
    // yet the takeover recorded it applied (and every later run then refused it as changed, exit 4).
    it('a revision with a TypeScript part is not taken over as applied: drizzle never ran its up(db); nothing is written', async () => {
      const env = await c.fresh(dir);
      await c.drizzleMigrate(env, folder);
      const ts = path.join(folder, `${HEAD}.ts`);
      writeFileSync(ts, 'export async function up(db) {}\nexport async function down(db) {}\n');
      try {
        const r = runCli(dir, ['up'], env);
        expect(r.status, r.stdout + r.stderr).toBe(4);
        expect(r.stderr).toContain(`${HEAD} has a TypeScript part (drizzle/${c.dialect}/${HEAD}.ts), which drizzle's migrator never runs, so its up(db) did not run here; run what it does by hand first. Nothing was written.`);
        // the way out said once (found by a README walk: twice)
        expect(r.stderr.match(/make migrate-stamp REVISION=<rev> PURGE=1/g)).toHaveLength(1);
        expect(await c.hasVersionTable(dir, env)).toBe(false);
      } finally {
        rmSync(ts, { force: true });
      }
    });

    it('a revision whose up names a TypeScript part that is missing is not taken over as applied either (was: recorded applied without it)', async () => {
      const up = path.join(folder, `${HEAD}.sql`);
      const text = readFileSync(up, 'utf8');
      // as migrate-create --ts writes it, the SQL written below it (drizzle applied the file as it is, the lines included)
      writeFileSync(up, `-- Custom SQL migration file, put your code below! --\n-- sluice:typescript-part ${HEAD}.ts (its up(db) runs after this file's statements; sluice names that file when it is missing)\n${text}`);
      try {
        const env = await c.fresh(dir);
        await c.drizzleMigrate(env, folder);
        const r = runCli(dir, ['up'], env);
        expect(r.status, r.stdout + r.stderr).toBe(4);
        expect(r.stderr).toContain(`${HEAD} has a TypeScript part drizzle/${c.dialect}/${HEAD}.ts (its up file names it), which is missing, and which drizzle's migrator never runs, so its up(db) did not run here; restore the file and run what it does by hand first. Nothing was written.`);
        expect(await c.hasVersionTable(dir, env)).toBe(false);
      } finally {
        writeFileSync(up, text);
      }
    });

    it('a refused up writes nothing: an unknown target (was: the takeover rows written, exit 2)' + (c.dialect === 'sqlite' ? '; a backup folder that cannot be written says what the takeover wrote (was: "nothing was changed")' : ''), async () => {
      const env = await c.fresh(dir);
      await c.drizzleMigrate(env, folder);
      const r = runCli(dir, ['up', 'bogus'], env);
      expect(r.status, r.stdout + r.stderr).toBe(2);
      expect(r.stderr).toMatch(/unknown revision "bogus"/);
      expect(await c.hasVersionTable(dir, env)).toBe(false);
      if (c.dialect === 'sqlite') {
        const project = makeProject();
        writeFileSync(path.join(project, '.sluice'), 'not a folder');
        // the folder is checked when a backup is taken, after the takeover: the refusal says what was written
        addRevision(project, 'sqlite', 'more', 'CREATE TABLE t_more (id integer);', 'DROP TABLE t_more;');
        const b = runCli(project, ['up'], env);
        expect(b.status, b.stdout + b.stderr).toBe(2);
        expect(b.stderr.trim()).toMatch(/^sluice: cannot back up .*: .*not a directory.*; no revision ran \(this run did record drizzle's 4 row\(s\) in sluice_version: the takeover, which runs no SQL\)/);
        expect((await sql<{ t: string }>(project, env, "SELECT name AS t FROM sqlite_master WHERE name = 't_more'"))).toEqual([]);
        // a target naming no revision on a file that does not exist creates neither the file nor its lock
        const absent = path.join(tempDir('sluice-absent-'), 'none.sqlite');
        const n = runCli(dir, ['up', 'bogus'], { DATABASE_URL: `file:${absent}` });
        expect(n.status).toBe(2);
        expect(existsSync(absent)).toBe(false);
        expect(existsSync(`${absent}.sluice-lock`)).toBe(false);
      }
    });

    if (c.dialect === 'postgresql') {
      it("a down refused by its pre-check (NOT NULL over NULL rows) after this run's takeover says the takeover was recorded (was: \"nothing was changed\")", async () => {
        const env = await c.fresh(dir);
        await c.drizzleMigrate(env, folder);
        const project = makeProject();
        const down = path.join(project, 'drizzle', 'postgresql', '0003_add_phone_to_users.down.sql');
        writeFileSync(down, `ALTER TABLE "users" ALTER COLUMN "name" SET NOT NULL;\n--> statement-breakpoint\n${readFileSync(down, 'utf8')}`);
        await sql(project, env, `INSERT INTO "users" ("email", "name") VALUES ('n@x.io', NULL)`);
        const before = await dumpSchema(project, env);
        const r = runCli(project, ['down'], env);
        expect(r.status, r.stdout + r.stderr).toBe(6);
        expect(r.stderr.trim()).toMatch(/^sluice: the down of 0003_add_phone_to_users sets users\.name NOT NULL but 1 row\(s\) hold NULL there; fill them or edit the down file, no revision ran \(this run did record drizzle's 4 row\(s\) in sluice_version: the takeover, which runs no SQL\)$/);
        expect(await dumpSchema(project, env)).toBe(before);
      });
    }

    if (c.dialect === 'sqlite') {
      it('sluice takeover of a SQLite file that does not exist is refused and creates nothing (was: an empty file and its lock file left)', () => {
        const db = path.join(tempDir('sluice-nofile-'), 'absent.sqlite');
        const r = runCli(dir, ['takeover'], { DATABASE_URL: `file:${db}` });
        expect(r.status, r.stdout + r.stderr).toBe(2);
        expect(r.stderr.trim()).toMatch(/absent\.sqlite does not exist, so it has no table __drizzle_migrations to take over; nothing was created/);
        expect(existsSync(db)).toBe(false);
        expect(existsSync(`${db}.sluice-lock`)).toBe(false);
      });
    }
  });
}

pgDescribe('takeover: configured table, explicit command, schema guard (postgresql)', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeProject();
  });

  it("reads drizzle.config.ts's migrations: { table, schema }; sluice takeover (dry run, then for real, then again)", async () => {
    const configFile = path.join(dir, 'drizzle.config.ts');
    const config = readFileSync(configFile, 'utf8');
    writeFileSync(configFile, config.replace('breakpoints: true,', "breakpoints: true,\n  migrations: { table: 'app_migrations', schema: 'app_meta' },"));
    try {
      const env = { DATABASE_URL: await freshDatabase('tk') };
      const client = new pg.Client({ connectionString: env.DATABASE_URL });
      await client.connect();
      await pgMigrate(pgDrizzle(client), { migrationsFolder: path.join(dir, 'drizzle', 'postgresql'), migrationsSchema: 'app_meta', migrationsTable: 'app_migrations' });
      await client.end();

      expect(json(runCli(dir, ['--json', 'status'], env).stdout)).toMatchObject({ current: HEAD, takeover: { source: 'app_meta.app_migrations', state: 'pending' } });
      const dry = runCli(dir, ['takeover', '--dry-run'], env);
      expect(dry.status).toBe(0);
      expect(dry.stdout).toContain('-- would take over from drizzle\'s migrator: record 4 revisions up to 0003_add_phone_to_users from app_meta.app_migrations');
      const real = runCli(dir, ['--json', 'takeover'], env);
      expect(real.status).toBe(0);
      expect(json(real.stdout)).toMatchObject({ status: 'taken-over', source: 'app_meta.app_migrations', rows: 4, revisions: ALL, at: HEAD });
      const again = runCli(dir, ['takeover'], env);
      expect(again.status).toBe(0);
      expect(again.stdout).toContain('sluice_version already records the database (at 0003_add_phone_to_users); nothing taken over');
      await downgradeTo(dir, env, '-1');
      // a table that does not exist is named
      const missing = runCli(dir, ['takeover', '--table', 'nope.nothing'], { ...env, DATABASE_SCHEMA: uniqueSchema('other') });
      expect(missing.status).toBe(2);
      expect(missing.stderr).toContain('has no table nope.nothing');
      // a table that is not drizzle's (found by a hunt: "internal error", exit 1)
      const notDrizzle = runCli(dir, ['takeover', '--table', 'public.users', '--dry-run'], { ...env, DATABASE_SCHEMA: uniqueSchema('other') });
      expect(notDrizzle.status, notDrizzle.stderr).toBe(2);
      expect(notDrizzle.stderr.trim().split('\n')).toHaveLength(1);
      expect(notDrizzle.stderr).toMatch(/^sluice: public\.users in .* is not drizzle's migrations table: it has no hash column \(drizzle's has id, hash and created_at\)/);
    } finally {
      writeFileSync(configFile, config);
    }
  });

  it("does not take over a schema that holds no table (drizzle's rows describe another schema); SLUICE_TAKEOVER=off migrates it from base", async () => {
    const url = await freshDatabase('tk');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await pgMigrate(pgDrizzle(client), { migrationsFolder: path.join(dir, 'drizzle', 'postgresql') });
    await client.end();
    const env = { DATABASE_URL: url, DATABASE_SCHEMA: uniqueSchema('tenant') };
    const st = json(runCli(dir, ['--json', 'status'], env).stdout);
    expect(st).toMatchObject({ current: 'base', takeover: { state: 'refused' } });
    const r = runCli(dir, ['up'], env);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(`schema ${env.DATABASE_SCHEMA} holds no table`);
    const off = runCli(dir, ['up'], { ...env, SLUICE_TAKEOVER: 'off' });
    expect(off.status).toBe(0);
    expect(off.stdout).toContain('4 revisions applied');
    // migrate-check's scratch schema in that database is not refused as an empty schema to take over
    const verify = runCli(dir, ['verify'], env);
    expect(verify.stderr).not.toContain('cannot take over');
    expect(verify.stdout).toContain('ok   drift (postgresql)');
    expect(verify.status).toBe(0);
  });

  it('does not take over a schema whose tables are not the app\'s (one unrelated table there): refused, nothing written (was: recorded at head)', async () => {
    const url = await freshDatabase('tk');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await pgMigrate(pgDrizzle(client), { migrationsFolder: path.join(dir, 'drizzle', 'postgresql') });
    const tenant = uniqueSchema('tenant');
    await client.query(`CREATE SCHEMA "${tenant}"; CREATE TABLE "${tenant}"."app_settings" (k text PRIMARY KEY, v text)`);
    await client.end();
    const env = { DATABASE_URL: url, DATABASE_SCHEMA: tenant };
    expect(json(runCli(dir, ['--json', 'status'], env).stdout)).toMatchObject({ current: 'base', takeover: { state: 'refused' } });
    for (const cmd of [['deploy'], ['up']]) {
      const r = runCli(dir, cmd, env);
      expect(r.status, r.stdout + r.stderr).toBe(4);
      expect(r.stderr.trim()).toMatch(new RegExp(`schema ${tenant} lacks tables that ${HEAD}, where those rows stand, has \\([^)]*\\busers\\b[^)]*\\), so those rows describe another schema or database`));
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const tables = await sql<{ t: string }>(dir, env, 'SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1', [tenant]);
    expect(tables.map((x) => x.t)).toEqual(['app_settings']);
    // the schema drizzle migrated (public) is still taken over
    const pub = runCli(dir, ['up'], { DATABASE_URL: url });
    expect(pub.status, pub.stdout + pub.stderr).toBe(0);
    expect(pub.stdout).toMatch(/taken over/);
  });
});
