/**
 * Line ends are not an edit: git's autocrlf (Git for Windows' default) checks the history out with
 * CRLF on one machine and LF on the next. Checksums read CRLF as LF (sql.ts checksum), so a down
 * generated from an LF up still runs on a CRLF checkout, and a database migrated from one checkout
 * is not "changed" on the other; a checksum an earlier sluice recorded of the CRLF text itself (version
 * row or down header) is still the file's. Any other change is still caught. Real CLI, real databases.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { describe, expect, it } from 'vitest';
import { addRevision, describeFor, dialectEnvs, makeProject, makeProjectWithOwnCache, runCli, sql, type Env } from '../support/project.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');

/** Every revision file of the dialect's history (.sql, .down.sql, .ts) with CRLF line ends, as a Windows checkout has them. */
function checkOutWithCrlf(dir: string, dialect: string): void {
  const folder = path.join(dir, 'drizzle', dialect);
  for (const name of readdirSync(folder)) {
    if (!/\.(sql|ts)$/.test(name)) continue;
    const file = path.join(folder, name);
    writeFileSync(file, crlf(readFileSync(file, 'utf8')));
  }
}

const status = (dir: string, env: Env) => {
  const r = runCli(dir, ['status', '--json'], env);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { current: string; changed: string[] };
};
const ok = (dir: string, args: string[], env: Env) => {
  const r = runCli(dir, args, env);
  expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
};

for (const { name: dialect, env: envOf } of [
  { name: 'sqlite' as const, env: (dir: string) => dialectEnvs(dir)[0]!.env },
  { name: 'postgresql' as const, env: (dir: string) => dialectEnvs(dir)[1]!.env },
]) {
  describeFor(dialect)(`${dialect}: CRLF and LF checkouts of one history`, () => {
    it('a database migrated from an LF checkout is at home on a CRLF one: nothing changed, downs run, and new rows record the LF checksum', async () => {
      const dir = makeProject();
      const env = envOf(dir);
      // a TypeScript revision too: its part's text is in its checksum
      const tag = addRevision(dir, dialect, 'ts_note', '-- the TypeScript part does the work\n-- (an empty SQL part, as create --ts writes)\n', '-- nothing to undo in SQL\n');
      writeFileSync(
        path.join(dir, 'drizzle', dialect, `${tag}.ts`),
        'export async function up(): Promise<void> {\n  // a comment\n}\nexport async function down(): Promise<void> {}\n',
      );
      ok(dir, ['up'], env);
      const upFile = path.join(dir, 'drizzle', dialect, '0001_add_audits.sql');
      const lf = readFileSync(upFile, 'utf8');
      expect(lf).toContain('\n');
      checkOutWithCrlf(dir, dialect);
      expect(readFileSync(upFile, 'utf8')).toContain('\r\n');

      expect(status(dir, env).changed).toEqual([]);
      // every down's header recorded the LF up's checksum: before, each was refused as stale (exit 6)
      ok(dir, ['down', 'base'], env);
      ok(dir, ['up'], env);
      expect(status(dir, env)).toMatchObject({ current: tag, changed: [] });
      const rows = await sql<{ checksum: string }>(dir, env, `SELECT "checksum" FROM "sluice_version" WHERE "revision" = '0001_add_audits'`);
      expect(rows[0]!.checksum).toBe(sha256(lf));
      const folder = path.join(dir, 'drizzle', dialect);
      const lfOf = (f: string) => readFileSync(path.join(folder, f), 'utf8').replace(/\r\n/g, '\n');
      const tsRow = await sql<{ checksum: string }>(dir, env, `SELECT "checksum" FROM "sluice_version" WHERE "revision" = '${tag}'`);
      expect(tsRow[0]!.checksum).toBe(sha256(`${lfOf(`${tag}.sql`)}\0sluice:ts\0${lfOf(`${tag}.ts`)}`));
    });

    it('checksums an earlier sluice took of the CRLF text itself still match; a real edit is still caught', async () => {
      const dir = makeProject();
      const env = envOf(dir);
      checkOutWithCrlf(dir, dialect);
      ok(dir, ['up'], env);
      const folder = path.join(dir, 'drizzle', dialect);
      const upText = readFileSync(path.join(folder, '0001_add_audits.sql'), 'utf8');
      const raw = sha256(upText);
      expect(raw).not.toBe(sha256(upText.replace(/\r\n/g, '\n')));
      // as recorded by a sluice that hashed the bytes as they were, on this checkout
      await sql(dir, env, `UPDATE "sluice_version" SET "checksum" = '${raw}' WHERE "revision" = '0001_add_audits'`);
      expect(await sql(dir, env, `SELECT 1 FROM "sluice_version" WHERE "checksum" = '${raw}'`)).toHaveLength(1);
      const downFile = path.join(folder, '0001_add_audits.down.sql');
      const down = readFileSync(downFile, 'utf8');
      expect(down).toMatch(/^-- sluice:up-checksum [0-9a-f]{64}/m);
      writeFileSync(downFile, down.replace(/^(-- sluice:up-checksum )[0-9a-f]{64}/m, `$1${raw}`));
      expect(status(dir, env).changed).toEqual([]);
      ok(dir, ['down', '0000_init'], env);
      expect(status(dir, env).current).toBe('0000_init');
      ok(dir, ['up'], env);

      // an edit (not a line end) is a change, and a down made for another up is stale
      const applied = path.join(folder, '0002_add_sessions_and_roles.sql');
      writeFileSync(applied, `${readFileSync(applied, 'utf8')}-- edited after it was applied\r\n`);
      expect(status(dir, env).changed).toEqual(['0002_add_sessions_and_roles']);
      const refused = runCli(dir, ['down', '-1'], env);
      expect(refused.status, refused.stderr).toBe(4);
      expect(refused.stderr).toMatch(/0002_add_sessions_and_roles\.sql changed after it was applied/);
      writeFileSync(applied, readFileSync(applied, 'utf8').replace('-- edited after it was applied\r\n', ''));
      expect(status(dir, env).changed).toEqual([]);
      // an earlier checksum of another up (its CRLF text as it is) is not this up's
      const other = sha256(readFileSync(path.join(folder, '0000_init.sql'), 'utf8'));
      for (const recorded of ['0'.repeat(64), other]) {
        writeFileSync(downFile, down.replace(/^(-- sluice:up-checksum )[0-9a-f]{64}/m, `$1${recorded}`));
        const stale = runCli(dir, ['down', '0000_init'], env);
        expect(stale.status, stale.stderr).toBe(6);
        expect(stale.stderr).toMatch(/the up of 0001_add_audits changed after its down was generated/);
        expect(status(dir, env).current).toBe('0003_add_phone_to_users');
      }
    });

    it('checksums an earlier sluice took on a CRLF checkout match on an LF one too (the rows and downs a Windows machine wrote, read by CI)', async () => {
      const dir = makeProjectWithOwnCache();
      const env = envOf(dir);
      // the checksum cache keeps a file once its times are 3 s old (checksums.ts SETTLED_MS); the copy is new
      await new Promise((resolve) => setTimeout(resolve, 3100));
      ok(dir, ['up'], env);
      const folder = path.join(dir, 'drizzle', dialect);
      const lf = readFileSync(path.join(folder, '0001_add_audits.sql'), 'utf8');
      expect(lf).not.toContain('\r');
      const windows = sha256(crlf(lf)); // what that sluice hashed there
      await sql(dir, env, `UPDATE "sluice_version" SET "checksum" = '${windows}' WHERE "revision" = '0001_add_audits'`);
      expect(await sql(dir, env, `SELECT 1 FROM "sluice_version" WHERE "checksum" = '${windows}'`)).toHaveLength(1);
      const downFile = path.join(folder, '0001_add_audits.down.sql');
      writeFileSync(downFile, readFileSync(downFile, 'utf8').replace(/^(-- sluice:up-checksum )[0-9a-f]{64}/m, `$1${windows}`));
      expect(status(dir, env).changed).toEqual([]);
      // the earlier checksums are cached beside the file's checksum: the next runs need not read it
      const cacheDir = path.join(dir, 'node_modules', '.cache', 'sluice', 'checksums');
      const cached = () =>
        readdirSync(cacheDir)
          .map((f) => JSON.parse(readFileSync(path.join(cacheDir, f), 'utf8')) as { entries: Record<string, unknown[]> })
          .map((c) => c.entries['0001_add_audits.sql'])
          .find(Boolean);
      expect(cached()?.[6]).toContain(windows);
      ok(dir, ['down', '0000_init'], env);
      ok(dir, ['up'], env);
      expect(status(dir, env)).toMatchObject({ current: '0003_add_phone_to_users', changed: [] });
    });
  });
}

describe("a database drizzle's migrator ran from a CRLF checkout", () => {
  it('is taken over on that checkout: drizzle hashed the files as they were (SQLite; the matching is the same code for both dialects)', () => {
    const dir = makeProject();
    const env = dialectEnvs(dir)[0]!.env;
    checkOutWithCrlf(dir, 'sqlite');
    const db = new Database(env.DATABASE_URL!.slice('file:'.length));
    try {
      migrate(drizzle(db), { migrationsFolder: path.join(dir, 'drizzle', 'sqlite') });
    } finally {
      db.close();
    }
    const up = ok(dir, ['up'], env);
    expect(up.stdout).toContain("taken over from drizzle's migrator");
    expect(status(dir, env)).toMatchObject({ current: '0003_add_phone_to_users', changed: [] });
    ok(dir, ['down', '-1'], env);
    expect(status(dir, env).current).toBe('0002_add_sessions_and_roles');
  });
});
