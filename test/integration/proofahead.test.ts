/**
 * The proof's scratch database replayed ahead of need (proofscratch.ts; migrate-create does it while
 * drizzle-kit runs), on the real PostgreSQL 15 and SQLite: a proof takes it only when it is what the
 * proof would have made itself, and what nothing takes is removed — after a success, a run with no
 * change, and a Ctrl+C while drizzle-kit runs; a server that never answers holds no run that needs no proof.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proofAhead } from '../../dist/proofscratch.js';
import { proveDowns } from '../../dist/prove.js';
import { readHistory } from '../../dist/source.js';
import { addRevision, addUserColumn, freshDatabase, makeProject, pgDescribe, pgUrl, runCli } from '../support/project.js';
import { listing, scratchSchemasOf, start } from '../support/signals.js';

type Dialect = 'sqlite' | 'postgresql';

/** A new revision `0004_<name>` in `dialect`'s history, and the proof of its down, with `ahead` made from the history before it. */
async function proveNew(dir: string, dialect: Dialect, up: string, down: string, between?: () => void | Promise<void>, url?: string) {
  const out = path.join(dir, 'drizzle', dialect);
  const env = { SLUICE_CHECK_DATABASE_URL: dialect === 'postgresql' ? (url ?? pgUrl()) : '' };
  const before = readHistory(out).revisions;
  const ahead = proofAhead({ root: dir, dialect, dir: out, revisions: before, env });
  const tag = addRevision(dir, dialect, 'add_nick', up, null);
  expect(await ahead.replayed).toBe(true);
  await between?.();
  const revisions = readHistory(out).revisions;
  expect(revisions.at(-1)!.id).toBe(tag);
  const result = await proveDowns({ root: dir, dialect, dir: out, revisions, downs: new Map([[tag, down]]), checkUp: false, env, ahead });
  const left = await ahead.discard();
  return { result, proof: result.proofs.get(tag), left };
}

const COLUMN: Record<Dialect, [string, string]> = {
  postgresql: ['ALTER TABLE "users" ADD COLUMN "nick" text;', 'ALTER TABLE "users" DROP COLUMN "nick";'],
  sqlite: ['ALTER TABLE `users` ADD `nick` text;', 'ALTER TABLE `users` DROP COLUMN `nick`;'],
};

describe('a proof takes the scratch database replayed ahead only when it is what it would make', () => {
  let admin: pg.Client | undefined;
  beforeAll(async () => {
    if (process.env.SLUICE_SKIP_PG === '1') return;
    admin = new pg.Client({ connectionString: pgUrl() });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
  });
  const noScratchLeft = async () => {
    if (admin) expect(await scratchSchemasOf(admin, process.pid)).toEqual([]);
  };

  for (const dialect of ['sqlite', 'postgresql'] as const) {
    const run = dialect === 'postgresql' && process.env.SLUICE_SKIP_PG === '1' ? it.skip : it;
    run(`${dialect}: the history before the new revision, unchanged: taken, and the down proven on it`, async () => {
      const dir = makeProject();
      const { result, proof, left } = await proveNew(dir, dialect, ...COLUMN[dialect]);
      expect(result.fromAhead).toBe(true);
      expect(result.stoppedAt).toBeUndefined();
      expect(proof?.verified, JSON.stringify(proof)).toBe(true);
      expect(left).toEqual([]);
      await noScratchLeft();
    });

    run(`${dialect}: an earlier up edited after the replay: not taken, the proof runs the edited up (here it breaks the new one)`, async () => {
      const dir = makeProject();
      const up3 = path.join(dir, 'drizzle', dialect, '0003_add_phone_to_users.sql');
      const drop = dialect === 'postgresql' ? '\n--> statement-breakpoint\nALTER TABLE "users" RENAME TO "people";\n' : '\n--> statement-breakpoint\nALTER TABLE `users` RENAME TO `people`;\n';
      const { result, proof, left } = await proveNew(dir, dialect, ...COLUMN[dialect], () => writeFileSync(up3, readFileSync(up3, 'utf8') + drop));
      expect(result.fromAhead).toBeUndefined();
      expect(proof).toBeUndefined();
      expect(result.stoppedAt?.revision).toBe('0004_add_nick');
      expect(result.stoppedAt?.reason).toMatch(/its up fails on a scratch database/);
      expect(left).toEqual([]);
      await noScratchLeft();
    });
  }

  pgDescribe('postgresql', () => {
    it('a new revision that creates an extension (the scratch is then a database of its own): not taken, the down proven all the same', async () => {
      const dir = makeProject();
      const { result, proof, left } = await proveNew(dir, 'postgresql', 'CREATE EXTENSION IF NOT EXISTS "pgcrypto";\n--> statement-breakpoint\nALTER TABLE "users" ADD COLUMN "nick" text;', 'ALTER TABLE "users" DROP COLUMN "nick";\n--> statement-breakpoint\nDROP EXTENSION "pgcrypto";');
      expect(result.fromAhead).toBeUndefined();
      expect(proof?.verified, JSON.stringify(proof)).toBe(true);
      expect(left).toEqual([]);
      await noScratchLeft();
    });

    it('a proof of another folder, or of more than the one revision after the replay: not taken; discarded, nothing is left', async () => {
      const dir = makeProject();
      const out = path.join(dir, 'drizzle', 'postgresql');
      const env = { SLUICE_CHECK_DATABASE_URL: pgUrl() };
      const revisions = readHistory(out).revisions;
      const ahead = proofAhead({ root: dir, dialect: 'postgresql', dir: out, revisions: revisions.slice(0, 2), env });
      // the proof of 0003, two revisions after the replayed ones
      const down = readFileSync(revisions[3]!.downFile, 'utf8');
      const result = await proveDowns({ root: dir, dialect: 'postgresql', dir: out, revisions, downs: new Map([[revisions[3]!.id, down]]), checkUp: false, env, ahead });
      expect(result.fromAhead).toBeUndefined();
      expect(result.proofs.get(revisions[3]!.id)?.verified).toBe(true);
      expect(await ahead.discard()).toEqual([]);
      expect(await ahead.discard()).toEqual([]); // once
      await noScratchLeft();
    });
  });
});

pgDescribe('a replay ahead on a server that ends its connections, or that is slow', () => {
  /** A database of the test's own (its backends can be ended without touching other tests'), and a client on it. */
  async function own(): Promise<{ url: string; admin: pg.Client; schemas: () => Promise<string[]> }> {
    const url = await freshDatabase('ahead');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const schemas = async () => (await admin.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'sluice\\_check\\_%'")).rows.map((r) => r.n);
    return { url, admin, schemas };
  }

  it('connections the server ended while drizzle-kit ran (idle_session_timeout, a restart): not taken; the proof makes its own and verifies, and the replayed schema is still removed', async () => {
    const { url, admin, schemas } = await own();
    try {
      const end = async () => {
        const ended = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
        expect(ended.rowCount, 'the replay\'s connections ended').toBeGreaterThan(0);
      };
      const { result, proof, left } = await proveNew(makeProject(), 'postgresql', ...COLUMN.postgresql, end, url);
      expect(result.fromAhead).toBeUndefined();
      expect(result.stoppedAt, JSON.stringify(result.stoppedAt)).toBeUndefined();
      expect(proof?.verified).toBe(true);
      expect(left).toEqual([]); // dropped through a new connection
      expect(await schemas()).toEqual([]);
    } finally {
      await admin.end();
    }
  });

  it("only the scratch's admin connection ended (the replay's own still answers): taken all the same, verified, and the schema removed through a new admin connection", async () => {
    const { url, admin, schemas } = await own();
    try {
      // the admin connection's last statement read the server's version; the replay's read the schema
      const end = async () => {
        const ended = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%server_version_num%'");
        expect(ended.rowCount, 'the admin connection ended').toBe(1);
      };
      const { result, proof, left } = await proveNew(makeProject(), 'postgresql', ...COLUMN.postgresql, end, url);
      expect(result.fromAhead).toBe(true);
      expect(proof?.verified, JSON.stringify(result)).toBe(true);
      expect(left).toEqual([]);
      expect(await schemas()).toEqual([]);
    } finally {
      await admin.end();
    }
  });

  it('a slow up in the history: discard() stops the replay (its statement cancelled) instead of waiting for it, and removes its schema', async () => {
    const { url, admin, schemas } = await own();
    try {
      const dir = makeProject();
      const out = path.join(dir, 'drizzle', 'postgresql');
      addRevision(dir, 'postgresql', 'slow', 'SELECT pg_sleep(30);', '');
      const ahead = proofAhead({ root: dir, dialect: 'postgresql', dir: out, revisions: readHistory(out).revisions, env: { SLUICE_CHECK_DATABASE_URL: url } });
      // (the replay's statements go as one script, longer than the query text the server keeps: its wait event says it sleeps)
      const sleeping = async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'")).rowCount;
      for (let i = 0; i < 500 && !(await sleeping()); i++) await new Promise((r) => setTimeout(r, 10));
      expect(await sleeping(), 'the replay runs the slow up').toBeGreaterThan(0);
      const started = Date.now();
      expect(await ahead.discard()).toEqual([]);
      expect(Date.now() - started, 'stopped, not waited for (the up sleeps 30 s)').toBeLessThan(15_000);
      expect(await ahead.replayed).toBe(false);
      expect(await schemas()).toEqual([]);
      expect(await sleeping()).toBe(0);
    } finally {
      await admin.end();
    }
  });

  it('an earlier up edited while the replay runs a slow one: the proof does not wait for that replay, it makes its own with the edited up', async () => {
    const { url, admin, schemas } = await own();
    try {
      const dir = makeProject();
      const out = path.join(dir, 'drizzle', 'postgresql');
      const slow = addRevision(dir, 'postgresql', 'slow', 'SELECT pg_sleep(30);', '');
      const env = { SLUICE_CHECK_DATABASE_URL: url };
      const ahead = proofAhead({ root: dir, dialect: 'postgresql', dir: out, revisions: readHistory(out).revisions, env });
      const sleeping = async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'")).rowCount;
      for (let i = 0; i < 500 && !(await sleeping()); i++) await new Promise((r) => setTimeout(r, 10));
      expect(await sleeping(), 'the replay runs the slow up').toBeGreaterThan(0);
      writeFileSync(path.join(out, `${slow}.sql`), 'SELECT 1;');
      const tag = addRevision(dir, 'postgresql', 'add_nick', COLUMN.postgresql[0], null);
      const started = Date.now();
      const result = await proveDowns({ root: dir, dialect: 'postgresql', dir: out, revisions: readHistory(out).revisions, downs: new Map([[tag, COLUMN.postgresql[1]]]), checkUp: false, env, ahead });
      expect(Date.now() - started, 'not after the 30 s the replay would take').toBeLessThan(15_000);
      expect(result.fromAhead).toBeUndefined();
      expect(result.proofs.get(tag)?.verified).toBe(true);
      expect(await ahead.discard()).toEqual([]);
      expect(await schemas()).toEqual([]);
    } finally {
      await admin.end();
    }
  });
});

pgDescribe('migrate-create on a server, with the history replayed while drizzle-kit runs', () => {
  const admin = new pg.Client({ connectionString: pgUrl() });
  beforeAll(() => admin.connect());
  afterAll(() => admin.end());

  it('a model change: both downs verified, and no scratch schema is left on the server', async () => {
    const dir = makeProject();
    addUserColumn(dir, 'nickname');
    const run = start(dir, ['create', '-m', 'add nickname'], { SLUICE_CHECK_DATABASE_URL: pgUrl() });
    const ended = await run.ended;
    expect(ended.code, ended.stdout + ended.stderr).toBe(0);
    expect(ended.stdout.match(/verified on a scratch database/g), ended.stdout).toHaveLength(2);
    expect(await scratchSchemasOf(admin, run.child.pid!)).toEqual([]);
  });

  it('no change in the models: "no change", and the replayed scratch schema is removed', async () => {
    const dir = makeProject();
    const run = start(dir, ['create', '-m', 'nothing'], { SLUICE_CHECK_DATABASE_URL: pgUrl() });
    const ended = await run.ended;
    expect(ended.code, ended.stdout + ended.stderr).toBe(0);
    expect(ended.stdout).toMatch(/no change/i);
    expect(await scratchSchemasOf(admin, run.child.pid!)).toEqual([]);
  });

  it('Ctrl+C once the replay has made its scratch schema (drizzle-kit runs ~0.4 s, the replay starts within ~0.2 s): exit 130, the schema dropped, the folder as it was', async () => {
    const dir = makeProject();
    addUserColumn(dir, 'nickname');
    const before = listing(path.join(dir, 'drizzle'));
    const run = start(dir, ['create', '-m', 'add nickname'], { SLUICE_CHECK_DATABASE_URL: pgUrl() });
    const pid = run.child.pid!;
    const mine = () => scratchSchemasOf(admin, pid);
    for (let i = 0; i < 2000 && (await mine()).length === 0 && run.child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 2));
    expect(await mine(), 'the replay made its scratch schema').not.toEqual([]);
    run.child.kill('SIGINT');
    const ended = await run.ended;
    expect(ended.code, ended.stdout + ended.stderr).toBe(130);
    const lines = ended.stderr.split('\n').filter((l) => l.trim());
    expect(lines, ended.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^sluice: interrupted \(SIGINT\) during migrate-create: nothing was kept/);
    expect(await mine()).toEqual([]);
    expect(listing(path.join(dir, 'drizzle'))).toEqual(before);
    expect(readFileSync(path.join(dir, 'drizzle', 'postgresql', 'meta', '_journal.json'), 'utf8')).not.toContain('add_nickname');
  });
});

describe('a server that accepts and never answers', () => {
  let server: net.Server;
  let url = '';
  const sockets: net.Socket[] = [];
  beforeAll(async () => {
    server = net.createServer((s) => void sockets.push(s)); // accepts, never answers
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `postgres://postgres@127.0.0.1:${(server.address() as net.AddressInfo).port}/postgres`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('holds no migrate-create that needs no proof (no change in the models): it ends at once, not after SLUICE_CONNECT_TIMEOUT', () => {
    const dir = makeProject();
    const started = Date.now();
    const r = runCli(dir, ['create', '-m', 'nothing'], { SLUICE_CHECK_DATABASE_URL: url, SLUICE_CONNECT_TIMEOUT: '100' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no change/i);
    // a hang check, not a speed target: the connect timeout is 100 s
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
