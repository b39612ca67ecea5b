/**
 * The checksum cache (src/checksums.ts) lets status and every run skip reading applied files that did
 * not change. It must never hide a change: an edit of the same size with its modification time put
 * back, or a file replaced by another, is still found (exit 4), through the real CLI on SQLite files.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { cleanEnv, makeProject, makeProjectWithOwnCache, pgDescribe, pgUrl, REPO, runCli, uniqueSchema } from '../support/project.js';
import { FOLDER_CACHES_KEPT } from '../../dist/cachedir.js';
import { checksumCacheFile, SETTLED_MS } from '../../dist/checksums.js';

const settle = () => new Promise((r) => setTimeout(r, SETTLED_MS + 300));

function cacheEntries(dir: string): Record<string, unknown> {
  const file = checksumCacheFile(dir, path.join('drizzle', 'sqlite'));
  expect(file).toBeDefined();
  return JSON.parse(readFileSync(file!, 'utf8')).entries;
}

describe('checksum cache', () => {
  it('a cache file written for another folder (two folders whose 64-bit names collide) is a miss, never a wrong hit', async () => {
    const dir = makeProject();
    const env = { DATABASE_URL: `file:${path.join(dir, 'c.sqlite')}` };
    expect(runCli(dir, ['up'], env).status).toBe(0);
    await settle();
    expect(JSON.parse(runCli(dir, ['status', '--json'], env).stdout).changed).toEqual([]);
    const file = checksumCacheFile(dir, path.join('drizzle', 'sqlite'))!;
    const up1 = path.join(dir, 'drizzle', 'sqlite', '0001_add_audits.sql');
    writeFileSync(up1, `${readFileSync(up1, 'utf8')}\n-- edited\n`);
    // the edited file's own lstat with the old checksum: a hit, were the folder not checked
    const data = JSON.parse(readFileSync(file, 'utf8')) as { folder: string; entries: Record<string, unknown[]> };
    const st = statSync(up1);
    const old = data.entries['0001_add_audits.sql']!;
    data.entries['0001_add_audits.sql'] = [st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev, old[5]];
    writeFileSync(file, JSON.stringify({ ...data, folder: path.join(dir, 'elsewhere') }));
    expect(JSON.parse(runCli(dir, ['status', '--json'], env).stdout).changed).toEqual(['0001_add_audits']);
    writeFileSync(file, JSON.stringify(data)); // the same entries for this folder: taken as they are
    expect(JSON.parse(runCli(dir, ['status', '--json'], env).stdout).changed).toEqual([]);
  });

  it('checksum and parse caches are bounded per cache folder: the FOLDER_CACHES_KEPT most recently written are kept, the one in use among them', async () => {
    const dir = makeProjectWithOwnCache();
    const env = { DATABASE_URL: `file:${path.join(dir, 'c.sqlite')}` };
    const cache = path.join(dir, 'node_modules', '.cache', 'sluice');
    const folders = { checksums: /^[0-9a-f]{16}\.json$/, parsed: /^pack-[0-9a-f]{32}\.json$/ };
    const at = Date.now() / 1000 - 3600; // an hour ago, a second apart
    for (const [sub, pattern] of Object.entries(folders)) {
      mkdirSync(path.join(cache, sub), { recursive: true });
      for (let i = 0; i < FOLDER_CACHES_KEPT + 10; i++) {
        const name = sub === 'checksums' ? `${i.toString(16).padStart(16, 'a')}.json` : `pack-${i.toString(16).padStart(32, 'b')}.json`;
        expect(name).toMatch(pattern);
        writeFileSync(path.join(cache, sub, name), '{}');
        utimesSync(path.join(cache, sub, name), at + i, at + i);
      }
    }
    expect(runCli(dir, ['up'], env).status).toBe(0); // parses the files: the parse pack is written
    await settle();
    expect(runCli(dir, ['status'], env).status).toBe(0); // the files settled: their checksums are written
    const own = path.basename(checksumCacheFile(dir, path.join('drizzle', 'sqlite'))!);
    for (const [sub, pattern] of Object.entries(folders)) {
      const left = readdirSync(path.join(cache, sub)).filter((n) => pattern.test(n));
      expect(left, sub).toHaveLength(FOLDER_CACHES_KEPT);
      if (sub === 'checksums') expect(left).toContain(own);
      expect(left.filter((n) => !n.includes('aaaaaaaa') && !n.includes('bbbbbbbb')), sub).toHaveLength(1); // the project's own
    }
    expect(JSON.parse(runCli(dir, ['status', '--json'], env).stdout).changed).toEqual([]);
  });

  it('finds a same-size edit with its mtime put back, and a file replaced by another, after the files were cached', async () => {
    const dir = makeProject();
    const env = { DATABASE_URL: `file:${path.join(dir, 'c.sqlite')}` };
    const folder = path.join(dir, 'drizzle', 'sqlite');
    expect(runCli(dir, ['up'], env).status).toBe(0);
    await settle();
    // status caches every applied up file once it is settled.
    const clean = runCli(dir, ['status', '--json'], env);
    expect(clean.status).toBe(0);
    expect(JSON.parse(clean.stdout).changed).toEqual([]);
    const ups = readdirSync(folder).filter((f) => /^\d{4}_.*(?<!\.down)\.sql$/.test(f));
    expect(ups.length).toBeGreaterThan(2);
    for (const f of ups) expect(Object.keys(cacheEntries(dir))).toContain(f);

    // Same size, same mtime: only ctime tells.
    const up1 = path.join(folder, '0001_add_audits.sql');
    const original = readFileSync(up1, 'utf8');
    const before = statSync(up1);
    const edited = original.replace(/audits/, 'audit_');
    expect(edited).not.toBe(original);
    expect(Buffer.byteLength(edited)).toBe(Buffer.byteLength(original));
    writeFileSync(up1, edited);
    utimesSync(up1, before.atime, before.mtime);
    expect(statSync(up1).mtimeMs).toBe(before.mtimeMs);
    expect(statSync(up1).size).toBe(before.size);
    expect(JSON.parse(runCli(dir, ['status', '--json'], env).stdout).changed).toEqual(['0001_add_audits']);
    const refused = runCli(dir, ['up'], env);
    expect(refused.status).toBe(4);
    expect(refused.stderr).toMatch(/0001_add_audits\.sql changed after it was applied/);
    expect(runCli(dir, ['down'], env).status).toBe(4);

    // Put back, settled and cached again: clean.
    writeFileSync(up1, original);
    await settle();
    expect(JSON.parse(runCli(dir, ['status', '--json'], env).stdout).changed).toEqual([]);

    // A different file moved into its place (new inode), with the old file's size and times.
    const other = `${up1}.new`;
    writeFileSync(other, edited);
    utimesSync(other, before.atime, before.mtime);
    renameSync(other, up1);
    expect(JSON.parse(runCli(dir, ['status', '--json'], env).stdout).changed).toEqual(['0001_add_audits']);
    expect(runCli(dir, ['up'], env).status).toBe(4);
    writeFileSync(up1, original);
    expect(runCli(dir, ['up'], env).status).toBe(0);
  });

  it('the cached list of TypeScript parts is used only while no file came or went: a part added to or removed from an applied revision is found', async () => {
    const dir = makeProject();
    const env = { DATABASE_URL: `file:${path.join(dir, 'c.sqlite')}` };
    const folder = path.join(dir, 'drizzle', 'sqlite');
    const cacheTs = () => JSON.parse(readFileSync(checksumCacheFile(dir, path.join('drizzle', 'sqlite'))!, 'utf8')).ts as unknown[] | undefined;
    const changed = () => JSON.parse(runCli(dir, ['status', '--json'], env).stdout).changed as string[];
    expect(runCli(dir, ['up'], env).status).toBe(0);
    const past = new Date(Date.now() - 60_000); // whole milliseconds, so that it can be put back exactly below
    utimesSync(folder, past, past);
    await settle();
    expect(changed()).toEqual([]);
    expect(cacheTs()?.at(-1)).toEqual([]); // the folder settled: its list (no part) is cached with its stat

    // A part beside an applied up changes the revision's checksum (up SQL and TypeScript together),
    // found although the folder's modification time is put back: its change time tells.
    const before = statSync(folder);
    const part = path.join(folder, '0001_add_audits.ts');
    writeFileSync(part, 'export async function up() {}\nexport async function down() {}\n');
    utimesSync(folder, past, past);
    expect(statSync(folder).mtimeMs).toBe(before.mtimeMs);
    expect(changed()).toEqual(['0001_add_audits']);
    await settle();
    expect(changed()).toEqual(['0001_add_audits']);
    expect(cacheTs()?.at(-1)).toEqual(['0001_add_audits']);

    // Moved out: found; cached so once settled; moved back in: found again.
    const aside = path.join(dir, 'part.ts');
    renameSync(part, aside);
    expect(changed()).toEqual([]);
    await settle();
    expect(changed()).toEqual([]);
    expect(cacheTs()?.at(-1)).toEqual([]);
    renameSync(aside, part);
    expect(changed()).toEqual(['0001_add_audits']);
  });
});

/**
 * `up` in a project with revisions 0000 and 0001 applied and cached, started while another session holds
 * the migration lock; `during` changes the folder once the run waits for it, then the lock is released.
 */
async function upAcrossLockWait(during: (folder: string) => void): Promise<{ code: number | null; stderr: string }> {
  const dir = makeProject();
  const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('ck'), SLUICE_LOCK_WAIT: '30' };
  await settle();
  expect(runCli(dir, ['up', '2'], env).status).toBe(0);
  expect(runCli(dir, ['status'], env).status).toBe(0); // the applied files and the folder's list are cached now
  const holder = new pg.Client({ connectionString: pgUrl() });
  await holder.connect();
  try {
    await holder.query('SELECT pg_advisory_lock(hashtext($1))', [`sluice:${env.DATABASE_SCHEMA}`]);
    const child = spawn(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), 'up'], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // the run is waiting for the lock once its session has asked for it (it asks every 100 ms)
    for (let i = 0; i < 200; i++) {
      const waiting = await holder.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'sluice' AND query LIKE '%pg_try_advisory_lock%'");
      if (waiting.rowCount) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    during(path.join(dir, 'drizzle', 'postgresql'));
    await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [`sluice:${env.DATABASE_SCHEMA}`]);
    return { code: await exited, stderr };
  } finally {
    await holder.end();
  }
}

pgDescribe('checksum cache and a wait for the migration lock (PostgreSQL)', () => {
  // Files are read while the connection and the lock are taken (src/prefetch.ts); an applied file edited
  // while another run holds the lock must still stop this run once it has the lock.
  it('an applied file edited while the run waited for the lock is found (exit 4)', async () => {
    const { code, stderr } = await upAcrossLockWait((folder) => {
      const up1 = path.join(folder, '0001_add_audits.sql');
      writeFileSync(up1, `${readFileSync(up1, 'utf8')}\n-- edited while the run waited`);
    });
    expect(code, stderr).toBe(4);
    expect(stderr).toMatch(/0001_add_audits\.sql changed after it was applied/);
  });

  it('a TypeScript part put beside an applied revision while the run waited for the lock is found (exit 4): the folder is listed again', async () => {
    const { code, stderr } = await upAcrossLockWait((folder) => {
      writeFileSync(path.join(folder, '0001_add_audits.ts'), 'export async function up() {}\nexport async function down() {}\n');
    });
    expect(code, stderr).toBe(4);
    expect(stderr).toMatch(/0001_add_audits.*changed after it was applied/);
  });
});
