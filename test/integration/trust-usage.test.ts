/**
 * Issue 13 (usage): user mistakes end as one line with the documented exit code, not "internal
 * error"; stamp --purge; history and show without a database; db-test keeps the project's backups
 * folder clean; and a deploy installed without dev dependencies runs the migrate targets.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dist/pgcluster.js';
import { cleanEnv, dumpSchema, itFor, makeProject, pgDescribe, pgUrl, REPO, runCli, runMake, sql, SKIP_PG, tempDir, uniqueSchema, type Env, type Ran, expectOneLineError as oneLineError } from '../support/project.js';


/** Through make the message is sluice's one line; make adds its own "Error 2" line. */
function makeError(r: Ran, pattern: RegExp): void {
  expect(r.status, r.stdout + r.stderr).toBe(2);
  const ours = r.stderr.split('\n').filter((l) => l.startsWith('sluice: '));
  expect(ours, r.stderr).toHaveLength(1);
  expect(ours[0]).toMatch(pattern);
}

const ok = (r: Ran): string => {
  if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};

/** The database URL of the test cluster, as another role (the cluster trusts every local role). */
function urlAs(role: string): string {
  const u = new URL(pgUrl());
  u.username = role;
  u.password = '';
  return u.toString();
}

/** Take the newest revision out of a dialect's folder, as a checkout of older code would. */
function removeNewestRevision(dir: string, dialect: 'sqlite' | 'postgresql'): string {
  const folder = path.join(dir, 'drizzle', dialect);
  const journalPath = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { idx: number; tag: string }[] };
  const last = journal.entries.pop()!;
  writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  for (const f of [`${last.tag}.sql`, `${last.tag}.down.sql`, path.join('meta', `${String(last.idx).padStart(4, '0')}_snapshot.json`)]) {
    rmSync(path.join(folder, f), { force: true });
  }
  return last.tag;
}

describe('an explicitly empty revision is refused; an unset one is the default', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeProject();
  });

  it("up '', down '', stamp '' and show '': exit 2, one line, nothing created", () => {
    const file = path.join(dir, 'empty.sqlite');
    const env = { DATABASE_URL: `file:${file}` };
    oneLineError(runCli(dir, ['up', ''], env), 2, /empty revision; give head, base.*leave it out for head/);
    oneLineError(runCli(dir, ['down', ''], env), 2, /empty revision.*leave it out for -1/);
    oneLineError(runCli(dir, ['stamp', ''], env), 2, /empty revision; give head, base, \+N, -N, a tag or a number$/);
    oneLineError(runCli(dir, ['stamp', '--purge', ' '], env), 2, /empty revision/);
    oneLineError(runCli(dir, ['show', ''], env), 2, /empty revision/);
    expect(existsSync(file)).toBe(false);
    // down '' must not revert anything on a migrated database
    ok(runCli(dir, ['up'], env));
    oneLineError(runCli(dir, ['down', '  '], env), 2, /empty revision/);
    expect(runCli(dir, ['status', '--json'], env).stdout).toMatch(/"pending": \[\]/);
  });

  itFor('postgresql')("postgresql: up '' creates no schema", async () => {
    const schema = uniqueSchema('emptyrev');
    oneLineError(runCli(dir, ['up', ''], { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: schema }), 2, /empty revision/);
    expect(await sql(dir, { DATABASE_URL: pgUrl() }, 'SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).toHaveLength(0);
  });

  it('make: REVISION unset means the default, REVISION= (given, empty) is refused', () => {
    const env = { DATABASE_URL: `file:${path.join(dir, 'make.sqlite')}` };
    makeError(runMake(dir, ['migrate-up', 'REVISION='], env), /empty revision/);
    expect(existsSync(path.join(dir, 'make.sqlite'))).toBe(false);
    expect(ok(runMake(dir, ['migrate-up'], env))).toMatch(/base -> 0003_add_phone_to_users \(4 revisions applied\)/);
    makeError(runMake(dir, ['migrate-down', 'REVISION='], env), /empty revision/);
    expect(ok(runMake(dir, ['migrate-down'], env))).toMatch(/0003_add_phone_to_users reverted/);
    const stamp = runMake(dir, ['migrate-stamp', 'REVISION='], env);
    expect(stamp.status).toBe(2);
    expect(stamp.stderr).toMatch(/REVISION is required/);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});

pgDescribe('PostgreSQL privileges: one line naming the grant, exit 2, nothing created', () => {
  let dir: string;
  let role: string;
  const admin = (): Env => ({ DATABASE_URL: pgUrl() });
  beforeAll(async () => {
    dir = makeProject();
    role = uniqueSchema('norights');
    await sql(dir, admin(), `CREATE ROLE "${role}" LOGIN`);
  });

  it('a role without CREATE on the database: up and make migrate-up refuse to create the schema', async () => {
    const schema = uniqueSchema('nocreate');
    const env = { DATABASE_URL: urlAs(role), DATABASE_SCHEMA: schema };
    const r = runCli(dir, ['up'], env);
    const db = new URL(pgUrl()).pathname.slice(1); // the test file's own database
    oneLineError(r, 2, new RegExp(`role "${role}" may not create schema "${schema}" in database "${db}" \\(permission denied for database ${db}, SQLSTATE 42501\\); .*GRANT CREATE ON DATABASE "${db}" TO "${role}"`));
    oneLineError(runCli(dir, ['stamp', 'head'], env), 2, /may not create schema/);
    makeError(runMake(dir, ['migrate-up'], env), /may not create schema/);
    expect(await sql(dir, admin(), 'SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).toHaveLength(0);
    // read-only commands still work: the schema does not exist, nothing is applied
    expect(ok(runCli(dir, ['status'], env))).toMatch(/current:\s+base/);
    // the verification's scratch schema (its name changes every run): the message names the real fix (a hunt: it named the random schema)
    const check = runCli(dir, ['check'], { ...env, SLUICE_CHECK_DATABASE_URL: urlAs(role) });
    expect(check.status, check.stdout + check.stderr).toBe(2);
    expect(check.stderr).toMatch(new RegExp(`role "${role}" may not create the scratch schema sluice verifies in, in database "${db}" .*GRANT CREATE ON DATABASE "${db}" TO "${role}", or set SLUICE_CHECK_DATABASE_URL`));
    expect(check.stderr).not.toMatch(/sluice_check_/);
  });

  it('DATABASE_SCHEMA naming a schema owned by another role: up, stamp and status refuse in one line', async () => {
    const schema = uniqueSchema('owned');
    await sql(dir, admin(), `CREATE SCHEMA "${schema}"`);
    const env = { DATABASE_URL: urlAs(role), DATABASE_SCHEMA: schema };
    oneLineError(runCli(dir, ['up'], env), 2, new RegExp(`role "${role}" may not create sluice's version table in schema "${schema}" .*permission denied for schema ${schema}.*GRANT USAGE, CREATE ON SCHEMA "${schema}" TO "${role}"`));
    oneLineError(runCli(dir, ['stamp', 'head'], env), 2, /may not create sluice's version table/);
    expect(await sql(dir, admin(), 'SELECT tablename FROM pg_tables WHERE schemaname = $1', [schema])).toHaveLength(0);
    // the owner migrates it; the role without USAGE cannot read the version table
    ok(runCli(dir, ['up'], { ...admin(), DATABASE_SCHEMA: schema }));
    oneLineError(runCli(dir, ['status'], env), 2, new RegExp(`may not read sluice's version table in schema "${schema}".*GRANT USAGE ON SCHEMA "${schema}".*\\(enough for status, history and show; a role that runs up, down or stamp also needs INSERT, UPDATE, DELETE on that table, CREATE on the schema and to own the tables its revisions alter: run those as the schema's owner\\)`));
    oneLineError(runCli(dir, ['down'], env), 2, /may not read sluice's version table/);
    // history degrades to the folder (the database could not be read), like an unreachable one
    const h = runCli(dir, ['history'], env);
    expect(h.status, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/could not be read.*may not read/);
    // with the grants the message names, it works
    await sql(dir, admin(), `GRANT USAGE ON SCHEMA "${schema}" TO "${role}"; GRANT SELECT ON "${schema}"."sluice_version" TO "${role}"`);
    expect(ok(runCli(dir, ['status'], env))).toMatch(/current:\s+0003_add_phone_to_users/);
    // migrate-check's drift as that role, which may not read the app's tables: a setting, exit 2 (a hunt: exit 1, "pg_dump failed")
    const check = runCli(dir, ['verify'], { ...env, SLUICE_DIALECT: 'postgresql', SLUICE_CHECK_DATABASE_URL: admin().DATABASE_URL });
    expect(check.status, check.stdout + check.stderr).toBe(2);
    expect(check.stderr).toMatch(new RegExp(`pg_dump cannot read schema ${schema} to compare it \\(.*permission denied.*\\); the drift check reads the whole schema's structure`));
  });

  afterAll(async () => {
    await sql(dir, admin(), `DROP OWNED BY "${role}"; DROP ROLE IF EXISTS "${role}"`).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('stamp --purge: a database stamped at a revision the folder no longer has', () => {
  for (const dialect of ['sqlite', 'postgresql'] as const) {
    itFor(dialect)(`${dialect}: every command refuses, a plain stamp too; stamp --purge empties the version table and stamps`, async () => {
      const dir = makeProject();
      const env: Env = dialect === 'sqlite' ? { DATABASE_URL: `file:${path.join(dir, 'p.sqlite')}` } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('purge') };
      ok(runCli(dir, ['up'], env));
      const gone = removeNewestRevision(dir, dialect);
      expect(gone).toBe('0003_add_phone_to_users');
      oneLineError(runCli(dir, ['up'], env), 4, /database has revision\(s\) 0003_add_phone_to_users .*database ahead of the code/);
      // history says so too (was: 0002 shown as head and current, no word of 0003)
      expect(ok(runCli(dir, ['history'], env))).toMatch(/note: the database has revision\(s\) 0003_add_phone_to_users that this folder does not/);
      expect(JSON.parse(ok(runCli(dir, ['history', '--json'], env)))).toMatchObject({ unknownApplied: ['0003_add_phone_to_users'] });
      // status names where the database stands (found by a README walk: "current: 0002_…", below it)
      expect(ok(runCli(dir, ['status'], env))).toMatch(/^current: +0003_add_phone_to_users \(not in the folder: the database is ahead of the code\)$/m);
      expect(JSON.parse(ok(runCli(dir, ['status', '--json'], env)))).toMatchObject({ current: '0003_add_phone_to_users', applied: 4, unknownApplied: ['0003_add_phone_to_users'] });
      // a plain stamp refuses too, pointing at --purge (found by review: it moved the rows it knew and left the unknown one, exit 0)
      oneLineError(runCli(dir, ['stamp', 'base'], env), 4, /database has revision\(s\) 0003_add_phone_to_users .*database ahead of the code.*PURGE=1/);
      oneLineError(runCli(dir, ['stamp', '--purge', '+1'], env), 2, /stamp --purge needs head, base, a tag or a number, not the relative \+1/);
      const dry = ok(runCli(dir, ['stamp', '--purge', '--dry-run', 'head'], env));
      expect(dry).toMatch(/dry run .*0003_add_phone_to_users -> 0002_add_sessions_and_roles, 1 step\(s\); would empty the version table \(4 rows\) and record 3 revisions up to 0002_add_sessions_and_roles, with today's checksums; nothing was changed/);
      oneLineError(runCli(dir, ['up'], env), 4, /database ahead of the code/);

      const out = ok(runCli(dir, ['stamp', '--purge', 'head'], env));
      expect(out).toMatch(/0003_add_phone_to_users unstamped/);
      expect(out).toMatch(/0003_add_phone_to_users -> 0002_add_sessions_and_roles: version table emptied \(4 rows\) and 3 revisions recorded up to 0002_add_sessions_and_roles, with today's checksums/);
      // at the current revision a purge still rewrites every row: said so (was: "already at …; nothing to stamp")
      expect(ok(runCli(dir, ['stamp', '--purge', 'head'], env))).toMatch(/0002_add_sessions_and_roles -> 0002_add_sessions_and_roles: version table emptied \(3 rows\) and 3 revisions recorded/);
      const status = JSON.parse(ok(runCli(dir, ['status', '--json'], env)));
      expect(status).toMatchObject({ current: '0002_add_sessions_and_roles', applied: 3, pending: [], unknownApplied: [] });
      // a row the folder lacks below the folder's current revision (from another branch) is not current (found by review)
      await sql(dir, env, `INSERT INTO sluice_version ("revision", "name", "checksum", "applied_at", "execution_ms") VALUES ('0001_zz_other_branch', 'x', 'x', '2026-01-01T00:00:00Z', 0)`);
      expect(JSON.parse(ok(runCli(dir, ['status', '--json'], env)))).toMatchObject({ current: '0002_add_sessions_and_roles', unknownApplied: ['0001_zz_other_branch'] });
      const below = ok(runCli(dir, ['status'], env));
      expect(below).toMatch(/^current: +0002_add_sessions_and_roles$/m);
      expect(below).toMatch(/^applied but not in the folder: 0001_zz_other_branch \(applied from another branch, or removed from the folder\)$/m);
      await sql(dir, env, `DELETE FROM sluice_version WHERE "revision" = '0001_zz_other_branch'`);
      expect(ok(runCli(dir, ['up'], env))).toMatch(/already at 0002_add_sessions_and_roles/);
      // no migration SQL ran: the phone column (from the removed revision) is still there
      expect(await dumpSchema(dir, env)).toMatch(/phone/);
      // through make, to an earlier revision
      expect(ok(runMake(dir, ['migrate-stamp', 'REVISION=1', 'PURGE=1'], env))).toMatch(/0002_add_sessions_and_roles unstamped/);
      expect(JSON.parse(ok(runCli(dir, ['status', '--json'], env)))).toMatchObject({ current: '0001_add_audits', applied: 2, pending: ['0002_add_sessions_and_roles'] });
      rmSync(dir, { recursive: true, force: true });
    });
  }
});

describe('the library for several projects in one process', () => {
  it("each call reads its own project's .env: the first one's DATABASE_URL does not stay (was: the second project migrated into the first one's database)", () => {
    const a = makeProject();
    const b = makeProject();
    writeFileSync(path.join(a, '.env'), 'DATABASE_URL=file:A.sqlite\n');
    writeFileSync(path.join(b, '.env'), 'DATABASE_URL=file:B.sqlite\n');
    const script = `import { upgrade } from ${JSON.stringify(path.join(REPO, 'dist', 'index.js'))};
      const ra = await upgrade({ cwd: ${JSON.stringify(a)} });
      const rb = await upgrade({ cwd: ${JSON.stringify(b)} });
      console.log(JSON.stringify([ra.database, rb.database]));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: os.tmpdir(), env: cleanEnv() as NodeJS.ProcessEnv, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual(['sqlite:A.sqlite', 'sqlite:B.sqlite']);
    expect(existsSync(path.join(a, 'A.sqlite'))).toBe(true);
    expect(existsSync(path.join(b, 'B.sqlite'))).toBe(true);
  });
});

describe('history and show without a database', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeProject();
  });

  it('an unreachable PostgreSQL: the history from the folder, a note, exit 0', async () => {
    const closed = await freePort();
    const env = { DATABASE_URL: `postgres://app:Sup3rS3cret@127.0.0.1:${closed}/db`, SLUICE_CONNECT_TIMEOUT: '3' };
    const h = runCli(dir, ['history'], env);
    expect(h.status, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/^database: postgres:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/db \(schema public\)\nnote: the database could not be read, so applied markers are unknown \(cannot connect to .*connection refused/);
    expect(h.stdout).toMatch(/0003_add_phone_to_users \(head\)\s+add phone to users\n\s+created \S+\s+unknown/);
    expect(h.stdout).not.toMatch(/pending|current/);
    expect(h.stdout + h.stderr).not.toContain('Sup3rS3cret');
    const json = JSON.parse(ok(runCli(dir, ['history', '--json'], env)));
    expect(json.databaseError).toMatch(/connection refused/);
    expect(json.revisions).toHaveLength(4);
    expect(json.revisions.every((r: { appliedAt: unknown; current: boolean }) => r.appliedAt === null && !r.current)).toBe(true);

    const s = runCli(dir, ['show', '2'], env);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^revision:\s+0002_add_sessions_and_roles\nnote: the database could not be read/);
    expect(s.stdout).toMatch(/applied:\s+unknown/);
    expect(s.stdout).toMatch(/-- up\n[\s\S]*CREATE TABLE "sessions"/);
    // an unknown revision is still an error, and other commands still need the database
    oneLineError(runCli(dir, ['show', 'nope'], env), 2, /unknown revision "nope"/);
    oneLineError(runCli(dir, ['status'], env), 5, /cannot connect/);
    if (SKIP_PG) return;

    // a reachable database: the output as before, no note
    const reachable = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('hist') };
    ok(runCli(dir, ['up', '1'], reachable));
    const rh = ok(runCli(dir, ['history'], reachable));
    expect(rh).not.toMatch(/note:|unknown/);
    expect(rh).toMatch(/> 0001_add_audits \(current\)/);
    expect(rh).toMatch(/0003_add_phone_to_users \(head\)\s+add phone to users\n\s+created \S+\s+pending/);
    expect(JSON.parse(ok(runCli(dir, ['history', '--json'], reachable)))).not.toHaveProperty('databaseError');
    expect(ok(runCli(dir, ['show', '0'], reachable))).toMatch(/applied:\s+\d{4}-/);
  });

  // found by review: status said "changed since applied", history and show said nothing of it, and
  // show printed an up that never ran beside its applied time; a TypeScript part went unmentioned
  it('an applied up edited since is marked in history and warned of in show, as status reports it; show names a TypeScript part; history marks a pending revision below the current one', async () => {
    const own = makeProject();
    const env = { DATABASE_URL: `file:${path.join(own, 'drift.sqlite')}`, SLUICE_NO_BACKUP: '1' };
    ok(runCli(own, ['up'], env));
    const up = path.join(own, 'drizzle', 'sqlite', '0001_add_audits.sql');
    writeFileSync(up, `${readFileSync(up, 'utf8')}\n-- edited after it was applied\n`);
    expect(ok(runCli(own, ['status'], env))).toMatch(/changed since applied: 0001_add_audits/);
    expect(ok(runCli(own, ['history'], env))).toMatch(/0001_add_audits +add audits\n\s+created \S+\s+applied \S+ {2}\[changed since applied\]/);
    const h = JSON.parse(ok(runCli(own, ['history', '--json'], env))) as { revisions: { revision: string; changed: boolean; outOfOrder: boolean }[] };
    expect(h.revisions.filter((r) => r.changed).map((r) => r.revision)).toEqual(['0001_add_audits']);
    expect(ok(runCli(own, ['show', '1'], env))).toMatch(/^warning: its up changed after it was applied \(the checksum differs from the version table\): what is shown is not what ran/m);
    expect(JSON.parse(ok(runCli(own, ['show', '1', '--json'], env)))).toMatchObject({ changed: true });
    expect(JSON.parse(ok(runCli(own, ['show', '2', '--json'], env)))).toMatchObject({ changed: false, warnings: [] });
    // a TypeScript part
    writeFileSync(path.join(own, 'drizzle', 'sqlite', '0003_add_phone_to_users.ts'), 'export async function up(db: any): Promise<void> {}\nexport async function down(db: any): Promise<void> {}\n');
    expect(ok(runCli(own, ['show', '3'], { DATABASE_URL: `file:${path.join(own, 'other.sqlite')}` }))).toMatch(/^ts file: +drizzle\/sqlite\/0003_add_phone_to_users\.ts \(up\(db\) after the up SQL/m);
    // a pending revision below the current one (its row taken away, as a database of another branch has it)
    const gap = { DATABASE_URL: `file:${path.join(own, 'gap.sqlite')}`, SLUICE_NO_BACKUP: '1' };
    ok(runCli(own, ['stamp', '2'], gap));
    await sql(own, gap, "DELETE FROM sluice_version WHERE revision = '0001_add_audits'");
    expect(ok(runCli(own, ['history'], gap))).toMatch(/0001_add_audits +add audits\n\s+created \S+\s+pending {2}\[out of order: older than the current revision\]/);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});

describe('db-test', () => {
  it("leaves no backups of its scratch databases in the project's .sluice/backups", () => {
    const dir = makeProject();
    const env: Env = SKIP_PG ? { SLUICE_SKIP_PG: '1' } : { SLUICE_CHECK_DATABASE_URL: pgUrl() };
    const r = runCli(dir, ['check'], env);
    expect(r.status, r.stdout + r.stderr).toBe(SKIP_PG ? 3 : 0);
    expect(r.stdout).toMatch(/sqlite \(4 revisions\): \d+ passed, 0 failed/);
    const backups = path.join(dir, '.sluice', 'backups');
    expect(existsSync(backups) ? readdirSync(backups) : []).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('deploy without dev dependencies', () => {
  it('a fresh copy installed with npm ci --omit=dev (NODE_ENV=production) runs the migrate targets, compiling nothing', () => {
    const dir = tempDir('sluice-deploy-');
    try {
      // What a clone of this working tree holds: tracked and new (not ignored) files, no node_modules, no dist.
      const files = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
      for (const f of files) {
        if (!existsSync(path.join(REPO, f))) continue; // deleted in the working tree
        mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        cpSync(path.join(REPO, f), path.join(dir, f));
      }
      expect(existsSync(path.join(dir, 'dist'))).toBe(false);
      // A deploy shell: no node_modules/.bin of this checkout on PATH (npx/vitest put one there, with a tsc in it).
      const PATH = (process.env.PATH ?? '').split(path.delimiter).filter((p) => !p.includes('node_modules')).join(path.delimiter);
      const prod: Env = { PATH, NODE_ENV: 'production', npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), '.npm') };
      // better-sqlite3's install takes a prebuilt binary when one can be had and compiles SQLite (about 85 s
      // here) when none can: its release downloads are out of reach on this network. The binary this
      // checkout's own install built is offered through prebuild-install's documented local-prebuilds
      // option, as a deploy with network access gets its binary from the release; sluice's own install
      // steps (dependencies without dev, tsc from the dependencies, dist/ built) run unchanged.
      const sqlitePkg = JSON.parse(readFileSync(path.join(REPO, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')) as { version: string };
      const prebuilds = path.join(dir, '.prebuilds');
      mkdirSync(prebuilds);
      const tarball = `better-sqlite3-v${sqlitePkg.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
      // packed from a copy: another test file's `chmod -R` of this checkout's node_modules (openToOthers)
      // changes the binary's ctime, and tar then fails "file changed as we read it" (seen in CI)
      const staged = path.join(dir, '.prebuild-src');
      mkdirSync(path.join(staged, 'build', 'Release'), { recursive: true });
      copyFileSync(path.join(REPO, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'), path.join(staged, 'build', 'Release', 'better_sqlite3.node'));
      const packed = spawnSync('tar', ['-czf', path.join(prebuilds, tarball), '-C', staged, 'build/Release/better_sqlite3.node']);
      expect(packed.status, String(packed.stderr)).toBe(0);
      prod.npm_config_better_sqlite3_local_prebuilds = prebuilds;
      const install = spawnSync('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], {
        cwd: dir,
        env: cleanEnv(prod) as NodeJS.ProcessEnv,
        encoding: 'utf8',
        timeout: 540_000,
      });
      expect(install.status, install.stdout + install.stderr).toBe(0);
      expect(existsSync(path.join(dir, 'node_modules', 'vitest')), 'dev dependencies were installed').toBe(false);
      expect(existsSync(path.join(dir, 'dist', 'cli.cjs')), 'the install built dist/').toBe(true);
      const built = statSync(path.join(dir, 'dist', 'cli.cjs')).mtimeMs;

      const env: Env = { ...prod, DATABASE_URL: `file:${path.join(dir, 'app.sqlite')}` };
      const up = runMake(dir, ['migrate-up'], env);
      expect(up.status, up.stdout + up.stderr).toBe(0);
      expect(up.stdout).toMatch(/base -> 0003_add_phone_to_users \(4 revisions applied\)/);
      expect(up.stdout + up.stderr).not.toMatch(/installing dependencies|tsc: not found/);
      expect(ok(runMake(dir, ['migrate-status'], env))).toMatch(/current:\s+0003_add_phone_to_users[\s\S]*pending:\s+none/);
      expect(ok(runMake(dir, ['migrate-down'], env))).toMatch(/0003_add_phone_to_users reverted/);
      expect(ok(runMake(dir, ['migrate-stamp', 'REVISION=head'], env))).toMatch(/0003_add_phone_to_users stamped/);
      expect(ok(runMake(dir, ['migrate-up'], env))).toMatch(/already at 0003_add_phone_to_users/);
      expect(statSync(path.join(dir, 'dist', 'cli.cjs')).mtimeMs, 'a migrate target compiled').toBe(built);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
