/**
 * Scratch databases that cannot be removed are named, never reported as removed. On the real
 * PostgreSQL 15, an event trigger in a database of the test's own refuses to drop sluice's scratch
 * schemas (as a lost connection or a policy would): db-test and migrate-downs still end with their own
 * result and exit code, and say on stderr which scratch schema is left and why; a Ctrl+C'd db-test's
 * one line says they were NOT all removed instead of "removed". A command that fails (migrate-check
 * whose replay hits a revision that needs a table made by hand) names them after its error; one whose
 * replay loses its connection says so, and that the database was not changed; init
 * carries them from the downs it writes; the command named for a db-test cluster that does not stop
 * stops it.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { expect, it } from 'vitest';
import { clusterRunning, startCluster, stopCluster, stopCommand } from '../../dist/pgcluster.js';
import { addRevision, freshDatabase, makeProject, openToOthers, pgDescribe, runCli, runCliAsNobody, type Env } from '../support/project.js';
import { scratchSchemasOf, start } from '../support/signals.js';

const KEEP = `
CREATE FUNCTION keep_scratch() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() WHERE object_type = 'schema' AND object_name LIKE 'sluice\\_check\\_%') THEN
    RAISE EXCEPTION 'scratch schemas are kept on this database';
  END IF;
END $$;
CREATE EVENT TRIGGER keep_scratch ON sql_drop EXECUTE FUNCTION keep_scratch();`;

/** A database of the test's own where sluice's scratch schemas cannot be dropped. */
async function keepingDatabase(): Promise<{ url: string; admin: pg.Client }> {
  const url = await freshDatabase('keep');
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(KEEP);
  return { url, admin };
}

const allScratch = async (admin: pg.Client) =>
  (await admin.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'sluice\\_check\\_%'")).rows.map((r) => r.n);

const WARNING = /^sluice: warning: the command's scratch databases were NOT all removed \(the scratch schema "sluice_check_\d+_[a-z0-9]+_\w+" on postgres:\/\/\S+ \(scratch schemas are kept on this database\).*\); remove (it|them) by hand$/;

/** The added revision's snapshot made to follow the previous one (addRevision copies it, id included: a fork to drizzle-kit); returns the tag. */
function followingSnapshot(dir: string, tag: string): string {
  const snap = path.join(dir, 'drizzle', 'postgresql', 'meta', `${tag.slice(0, 4)}_snapshot.json`);
  const json = JSON.parse(readFileSync(snap, 'utf8')) as { id: string; prevId: string };
  writeFileSync(snap, JSON.stringify({ ...json, prevId: json.id, id: randomUUID() }, null, 2));
  return tag;
}

pgDescribe('scratch databases that cannot be removed', () => {
  it('db-test: its result and exit code are its own; stderr names each scratch schema left and why; --json carries them', async () => {
    const dir = makeProject();
    const { url, admin } = await keepingDatabase();
    try {
      const env: Env = { DATABASE_URL: url, SLUICE_CHECK_DATABASE_URL: url };
      const r = runCli(dir, ['check'], env);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/postgresql \(\d+ revisions\): \d+ passed, 0 failed/);
      const lines = r.stderr.split('\n').filter((l) => l.trim());
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(WARNING);
      const left = await allScratch(admin);
      expect(left.length).toBeGreaterThan(0);
      for (const s of left) expect(lines[0]).toContain(`"${s}"`); // every schema left is named, none that was removed
      const j = runCli(dir, ['--json', 'check'], env);
      expect(j.status, j.stderr).toBe(0);
      const doc = JSON.parse(j.stdout) as { ok: boolean; notRemoved?: string[] };
      expect(doc.ok).toBe(true);
      expect(doc.notRemoved?.length).toBeGreaterThan(0);
      expect(doc.notRemoved!.every((n) => n.includes('scratch schemas are kept on this database'))).toBe(true);
      expect(j.stderr).toBe('');
    } finally {
      await admin.end();
    }
  });

  it('migrate-downs: the downs are written, and the scratch schemas of their verification that are left are named', async () => {
    const dir = makeProject();
    const folder = path.join(dir, 'drizzle', 'postgresql');
    for (const name of readdirSync(folder)) if (name.endsWith('.down.sql')) rmSync(path.join(folder, name));
    const { url, admin } = await keepingDatabase();
    try {
      const r = runCli(dir, ['downs'], { SLUICE_CHECK_DATABASE_URL: url });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(readdirSync(folder).filter((n) => n.endsWith('.down.sql')).length).toBeGreaterThan(0);
      const lines = r.stderr.split('\n').filter((l) => l.trim());
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(WARNING);
      const left = await allScratch(admin);
      expect(left.length).toBeGreaterThan(0);
      for (const s of left) expect(lines[0]).toContain(`"${s}"`);
    } finally {
      await admin.end();
    }
  });

  it('migrate-downs whose down files cannot be written (a folder its user may not write): the error, then the warning naming the scratch schemas left', async () => {
    const dir = makeProject();
    const folder = path.join(dir, 'drizzle', 'postgresql');
    for (const name of readdirSync(folder)) if (name.endsWith('.down.sql')) rmSync(path.join(folder, name));
    openToOthers(dir);
    chmodSync(folder, 0o555);
    const { url, admin } = await keepingDatabase();
    try {
      const r = runCliAsNobody(dir, ['downs'], { SLUICE_CHECK_DATABASE_URL: url });
      expect(r.status, r.stdout + r.stderr).toBe(2);
      const lines = r.stderr.split('\n').filter((l) => l.trim());
      expect(lines, r.stderr).toHaveLength(2);
      expect(lines[0]).toMatch(/^sluice: cannot write \S*\/0000_init\.down\.sql: permission denied; .*no down file was written/);
      expect(lines[1]).toMatch(WARNING);
      const left = await allScratch(admin);
      expect(left.length).toBeGreaterThan(0);
      for (const s of left) expect(lines[1]).toContain(`"${s}"`);
      expect(readdirSync(folder).filter((n) => n.endsWith('.down.sql'))).toEqual([]);
    } finally {
      chmodSync(folder, 0o755);
      await admin.end();
    }
  });

  it('migrate-check whose replay fails: the error is the replay\'s (the database was not changed), then the warning naming each scratch schema left; --json carries them', async () => {
    const dir = makeProject();
    const { url, admin } = await keepingDatabase();
    try {
      // a revision that needs a table made by hand: it runs on the database, not on a replay from base
      await admin.query('CREATE TABLE handmade (id int)');
      const tag = followingSnapshot(dir, addRevision(dir, 'postgresql', 'touch_handmade', 'ALTER TABLE handmade ADD COLUMN note text;', 'ALTER TABLE handmade DROP COLUMN note;'));
      const env: Env = { DATABASE_URL: url, SLUICE_CHECK_DATABASE_URL: url };
      const up = runCli(dir, ['up'], env);
      expect(up.status, up.stdout + up.stderr).toBe(0);
      const r = runCli(dir, ['verify'], env);
      expect(r.status, r.stdout + r.stderr).toBe(3);
      const lines = r.stderr.split('\n').filter((l) => l.trim());
      expect(lines, r.stderr).toHaveLength(2);
      expect(lines[0]).toMatch(new RegExp(`^sluice: migrate-check could not rebuild the applied revisions \\(base -> ${tag}\\) on a scratch database to compare with the database: revision ${tag} \\(up\\) failed at statement 1/1 .*handmade.*Your database was not changed`));
      expect(lines[0]).not.toMatch(/Rolled back: the database is at/);
      expect(lines[1]).toMatch(WARNING);
      const left = await allScratch(admin);
      expect(left.length).toBeGreaterThan(0);
      for (const s of left) expect(lines[1]).toContain(`"${s}"`);
      const cols = await admin.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'handmade' ORDER BY 1");
      expect(cols.rows.map((c) => c.column_name)).toEqual(['id', 'note']); // the database as the up left it
      const j = runCli(dir, ['--json', 'verify'], env);
      expect(j.status, j.stderr).toBe(3);
      const doc = JSON.parse(j.stdout) as { error: string; code: number; notRemoved?: string[] };
      expect(doc.code).toBe(3);
      expect(doc.error).toMatch(/^migrate-check could not rebuild/);
      expect(doc.notRemoved?.length).toBeGreaterThan(0);
      expect(doc.notRemoved!.every((n) => n.includes('scratch schemas are kept on this database'))).toBe(true);
      expect(j.stderr).toBe('');
    } finally {
      await admin.end();
    }
  });

  it('migrate-check whose replay loses its connection: exit 7, one line that says the database was not changed and to run it again, the scratch schema removed', async () => {
    const dir = makeProject();
    const url = await freshDatabase('lost');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // a revision that waits only where it replays (a scratch schema), not on the database
      const tag = followingSnapshot(dir, addRevision(dir, 'postgresql', 'slow_on_scratch', "SELECT pg_sleep(CASE WHEN current_schema() LIKE 'sluice\\_check\\_%' THEN 60 ELSE 0 END);", 'SELECT 1;'));
      const env: Env = { DATABASE_URL: url, SLUICE_CHECK_DATABASE_URL: url };
      const up = runCli(dir, ['up'], env);
      expect(up.status, up.stdout + up.stderr).toBe(0);
      const versions = async () => (await admin.query('SELECT revision, checksum FROM public.sluice_version ORDER BY 1')).rows;
      const before = await versions();
      const run = start(dir, ['verify'], env);
      const sleeping = async () =>
        (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()")).rows;
      let found: { pid: number }[] = [];
      for (let i = 0; i < 2000 && found.length === 0 && run.child.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 10));
        found = await sleeping();
      }
      expect(found, 'the replay reached the waiting revision').toHaveLength(1);
      await admin.query('SELECT pg_terminate_backend($1)', [found[0]!.pid]);
      const ended = await run.ended;
      expect(ended.code, ended.stdout + ended.stderr).toBe(7);
      const lines = ended.stderr.split('\n').filter((l) => l.trim());
      expect(lines, ended.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^sluice: migrate-check could not rebuild the applied revisions \\(base -> ${tag}\\) on a scratch database to compare with the database: .*Your database was not changed; run migrate-check again when the server is reachable`),
      );
      expect(lines[0]).not.toMatch(/Rolled back|the database is at/);
      expect(await versions()).toEqual(before);
      expect(await allScratch(admin)).toEqual([]);
    } finally {
      await admin.end();
    }
  });

  it('init: the downs it writes are verified, and the scratch schemas left are named (--json: notRemoved)', async () => {
    const dir = makeProject();
    const folder = path.join(dir, 'drizzle', 'postgresql');
    for (const name of readdirSync(folder)) if (name.endsWith('.down.sql')) rmSync(path.join(folder, name));
    const { url, admin } = await keepingDatabase();
    try {
      const r = runCli(dir, ['--json', 'init'], { SLUICE_CHECK_DATABASE_URL: url });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as { downs: { written: string[] } | null; notRemoved?: string[] };
      expect(doc.downs?.written.length).toBeGreaterThan(0);
      for (const f of doc.downs!.written) expect(readFileSync(path.join(dir, f), 'utf8')).toMatch(/^-- sluice:verified by running it on a scratch database/m);
      expect(doc.notRemoved?.length).toBeGreaterThan(0);
      const left = await allScratch(admin);
      expect(left.length).toBeGreaterThan(0);
      for (const s of left) expect(doc.notRemoved!.join('; ')).toContain(`"${s}"`);
    } finally {
      await admin.end();
    }
  });

  it('db-test stopped by SIGTERM: its one line says the scratch schemas were NOT all removed, naming them; exit 143', async () => {
    const dir = makeProject();
    const { url, admin } = await keepingDatabase();
    try {
      const run = start(dir, ['check'], { DATABASE_URL: url, SLUICE_CHECK_DATABASE_URL: url });
      const pid = run.child.pid!;
      for (let i = 0; i < 3000 && (await scratchSchemasOf(admin, pid)).length === 0 && run.child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 5));
      expect(await scratchSchemasOf(admin, pid), 'the scratch schema exists').not.toEqual([]);
      run.child.kill('SIGTERM');
      const ended = await run.ended;
      expect(ended.code, ended.stdout + ended.stderr).toBe(143);
      const lines = ended.stderr.split('\n').filter((l) => l.trim());
      expect(lines, ended.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^sluice: interrupted \(SIGTERM\) during db-test: its scratch databases were NOT all removed \(the scratch schema "sluice_check_\d+_.*\(scratch schemas are kept on this database\).*\); remove (it|them) by hand; nothing else had changed$/);
      const left = await scratchSchemasOf(admin, pid);
      expect(left.length).toBeGreaterThan(0);
      for (const s of left) expect(lines[0]).toContain(`"${s}"`);
      expect(lines[0]).not.toMatch(/scratch databases were removed/);
    } finally {
      await admin.end();
    }
  });

  it('a db-test cluster that does not stop is named with the command that stops it: run as printed (as root: as the postgres user), it does', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-stopcmd-'));
    try {
      await startCluster(dir);
      expect(clusterRunning(dir)).toBe(true);
      const r = spawnSync('sh', ['-c', stopCommand(dir)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(clusterRunning(dir)).toBe(false);
    } finally {
      await stopCluster(dir).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
