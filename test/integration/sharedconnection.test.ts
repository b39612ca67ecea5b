/**
 * Library calls that share one caller's connection (`connection`, README "Use sluice in your
 * drizzle-kit project") and run at the same time (two `Promise.all` branches at an app's start) act
 * one after the other, as runs on connections of their own do: the migration lock is not re-entrant
 * for a second run on the same connection. Real SQLite files and PostgreSQL 15.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { deploy, downgrade, openConnection, parseDatabaseTarget, reset, show, stamp, status, upgrade } from '../../dist/index.js';
import { addRevision, freshDatabase, itFor, makeProject, pgUrl, uniqueSchema, type Env } from '../support/project.js';

type Dialect = 'sqlite' | 'postgresql';
const envFor = (dir: string, d: Dialect): Env =>
  d === 'sqlite'
    ? { DATABASE_URL: `file:${path.join(dir, 'shared.sqlite')}`, SLUICE_NO_BACKUP: '1' }
    : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('shared'), SLUICE_NO_BACKUP: '1' };

const ids = (r: PromiseSettledResult<{ steps: { revision: string; status: string }[] }>) => {
  if (r.status === 'rejected') throw r.reason;
  return r.value.steps.map((s) => `${s.revision}:${s.status}`);
};

for (const d of ['sqlite', 'postgresql'] as const) {
  itFor(d)(`${d}: two runs sharing one connection at once act one after the other`, async () => {
    const dir = makeProject();
    // a down that runs twice without failing (IF EXISTS): only the lock keeps it from being "reverted" twice
    addRevision(dir, d, 't4', 'CREATE TABLE IF NOT EXISTS t4 (id integer);\n', '-- sluice:down 0004_t4\nDROP TABLE IF EXISTS t4;\n');
    const env = envFor(dir, d);
    await upgrade({ cwd: dir, env });
    const connection = await openConnection(parseDatabaseTarget(env, dir), { write: true, env });
    try {
      // was (PostgreSQL): both reported 0004_t4 reverted and the database stayed at 0003; (SQLite) the
      // second failed with "cannot start a transaction within a transaction"
      const downs = await Promise.allSettled([downgrade({ cwd: dir, env, connection }), downgrade({ cwd: dir, env, connection })]);
      expect(downs.map(ids).sort()).toEqual([['0003_add_phone_to_users:reverted'], ['0004_t4:reverted']]);
      expect((await status({ cwd: dir, env, connection })).current).toBe('0002_add_sessions_and_roles');

      // was (PostgreSQL): the second failed on "relation already exists"; (SQLite) on the nested BEGIN
      const ups = await Promise.allSettled([upgrade({ cwd: dir, env, connection }), upgrade({ cwd: dir, env, connection })]);
      expect(ups.map(ids).sort((a, b) => b.length - a.length)).toEqual([['0003_add_phone_to_users:applied', '0004_t4:applied'], []]);
      const after = await status({ cwd: dir, env, connection });
      expect([after.current, after.applied]).toEqual(['0004_t4', 5]);
      expect(connection.transactionOpen!()).toBe(false);
    } finally {
      await connection.close();
    }
  });

  // found by a hunt (forty-eighth session): deploy accepted `connection` and opened one of its own
  if (d === 'postgresql') {
    itFor(d)('postgresql: deploy runs on the connection it is given', async () => {
      const dir = makeProject();
      addRevision(dir, d, 'who', 'CREATE TABLE who AS SELECT pg_catalog.pg_backend_pid() AS pid;\n', '-- sluice:down 0004_who\nDROP TABLE who;\n');
      const env = envFor(dir, d);
      const connection = await openConnection(parseDatabaseTarget(env, dir), { write: true, env });
      try {
        const pid = (await connection.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid'))[0]!.pid;
        const result = await deploy({ cwd: dir, env, connection });
        expect([result.status, result.to]).toEqual(['deployed', '0004_who']);
        expect(await connection.query('SELECT pid FROM who')).toEqual([{ pid }]);
        expect(connection.transactionOpen!()).toBe(false);
      } finally {
        await connection.close();
      }
    });
  }

  // found by the same hunt: sluice's COMMIT ended the app's transaction (PostgreSQL: the app's rolled-back
  // row stayed committed); SQLite: a raw "cannot start a transaction within a transaction"
  itFor(d)(`${d}: a run on a connection inside the caller's transaction is refused, and the caller's transaction is left to it`, async () => {
    const dir = makeProject();
    const env = envFor(dir, d);
    await upgrade({ cwd: dir, env, revision: '0001' });
    const connection = await openConnection(parseDatabaseTarget(env, dir), { write: true, env });
    try {
      await connection.execute('BEGIN');
      await connection.execute(`INSERT INTO users (email, name) VALUES ('app@x', 'app')`);
      for (const run of [() => upgrade({ cwd: dir, env, connection }), () => downgrade({ cwd: dir, env, connection })]) {
        await expect(run()).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^the connection passed to sluice is inside a transaction of yours; .*commit or roll back first/) });
      }
      expect(connection.transactionOpen!()).toBe(true);
      await connection.execute('ROLLBACK');
      expect(await connection.query('SELECT email FROM users')).toEqual([]);
      expect((await status({ cwd: dir, env, connection })).current).toBe('0001_add_audits');
    } finally {
      await connection.close();
    }
  });

  itFor(d)(`${d}: a run waiting on its own connection's lock is bounded by SLUICE_LOCK_WAIT`, async () => {
    const dir = makeProject();
    const env = envFor(dir, d);
    await upgrade({ cwd: dir, env, revision: '0001' });
    const connection = await openConnection(parseDatabaseTarget(env, dir), { write: true, env });
    try {
      await connection.lock(1000); // another run on this connection holds it
      const started = Date.now();
      await expect(upgrade({ cwd: dir, env: { ...env, SLUICE_LOCK_WAIT: '0.5' }, connection })).rejects.toMatchObject({ exitCode: 5 });
      expect(Date.now() - started).toBeLessThan(5000);
      await connection.unlock();
      expect((await upgrade({ cwd: dir, env, connection })).steps.map((s) => s.revision)).toEqual(['0002_add_sessions_and_roles', '0003_add_phone_to_users']);
    } finally {
      await connection.close();
    }
  });
}

// found by a hunt: an app that set search_path on the connection it passes had its revisions run there
// (under public: the tables made in the app's schema, the version rows in public, reported applied;
// under a DATABASE_SCHEMA: the guard blamed the first revision for "changing search_path")
itFor('postgresql')('postgresql: a run on a connection whose search_path the caller changed runs in the database schema and gives the caller its search_path back', async () => {
  const dir = makeProject();
  for (const schema of ['public', uniqueSchema('sp')]) {
    const db = await freshDatabase('sp');
    const env: Env = { DATABASE_URL: db, ...(schema === 'public' ? {} : { DATABASE_SCHEMA: schema }), SLUICE_NO_BACKUP: '1' };
    const connection = await openConnection(parseDatabaseTarget(env, dir), { write: true, env });
    try {
      await connection.execute('CREATE SCHEMA app; SET search_path TO app');
      const up = await upgrade({ cwd: dir, env, connection });
      expect(up.to).toBe('0003_add_phone_to_users');
      const tables = await connection.query<{ s: string; n: string }>(
        "SELECT table_schema AS s, count(*)::int AS n FROM information_schema.tables WHERE table_schema IN ('app', $1) GROUP BY 1 ORDER BY 1",
        [schema],
      );
      expect(tables).toEqual([{ s: schema, n: 5 }]);
      expect(await connection.query("SELECT pg_catalog.current_setting('search_path') AS sp")).toEqual([{ sp: 'app' }]);
      expect((await downgrade({ cwd: dir, env, connection, revision: 'base' })).to).toBe('base');
      expect(await connection.query("SELECT pg_catalog.current_setting('search_path') AS sp")).toEqual([{ sp: 'app' }]);
    } finally {
      await connection.close();
    }
  }
});

// found by a hunt: a connection that is not the database the environment names was used as it was (a
// PostgreSQL one under a SQLite DATABASE_URL ran the SQLite history on PostgreSQL; one opened for another
// DATABASE_SCHEMA migrated that schema, reported applied), and a pg Client failed with a TypeError
itFor('postgresql')('postgresql: a connection that is not the one DATABASE_URL and DATABASE_SCHEMA name is refused, nothing done', async () => {
  const dir = makeProject();
  const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('mine'), SLUICE_NO_BACKUP: '1' };
  const connection = await openConnection(parseDatabaseTarget(env, dir), { write: true, env });
  const client = new pg.Client({ connectionString: pgUrl() });
  await client.connect();
  try {
    const other = uniqueSchema('other');
    const sqliteEnv: Env = { DATABASE_URL: `file:${path.join(dir, 'x.sqlite')}`, SLUICE_NO_BACKUP: '1' };
    await expect(upgrade({ cwd: dir, env: sqliteEnv, connection })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/is to a postgresql database, but DATABASE_URL names a sqlite one/) });
    await expect(upgrade({ cwd: dir, env: { ...env, DATABASE_SCHEMA: other }, connection })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/opened for schema .*, but DATABASE_SCHEMA is /) });
    await expect(upgrade({ cwd: dir, env, connection: client as never })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/not one openConnection made.*parseDatabaseTarget\(env, cwd\)/) });
    // another database of the same server (a later hunt: it was migrated, reported applied)
    const elsewhere = await freshDatabase('elsewhere');
    const otherDb = { ...env, DATABASE_URL: elsewhere };
    await expect(upgrade({ cwd: dir, env: otherDb, connection })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/is to localhost:\d+\/file_.*, but DATABASE_URL names localhost:\d+\/elsewhere_.*: pass a connection to the database DATABASE_URL names/) });
    expect(existsSync(path.join(dir, 'x.sqlite'))).toBe(false);
    expect(await connection.query('SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY($1)', [[env.DATABASE_SCHEMA, other]])).toEqual([]);
    expect((await upgrade({ cwd: dir, env, connection })).to).toBe('0003_add_phone_to_users');
    // callbacks that throw when the run is over, or reject (a hunt: the completed run rejected with the
    // callback's bare error; an async onPlan's rejection crashed the process)
    const called = { plan: 0, done: 0 };
    const cb = await upgrade({
      cwd: dir,
      env: { ...env, DATABASE_SCHEMA: uniqueSchema('cb') },
      signal: new AbortController().signal,
      onInterruptible: (_on, finished) => {
        if (finished && ++called.done) throw new Error('boom when finished');
      },
      onPlan: async () => {
        called.plan += 1;
        throw new Error('async plan');
      },
    });
    expect([cb.to, called]).toEqual(['0003_add_phone_to_users', { plan: 1, done: 1 }]);
  } finally {
    await client.end();
    await connection.close();
  }
});

// found by the same hunt: an app's connection with foreign keys turned off applied and recorded a
// revision that left a row pointing at no parent, which sluice's own connection refuses
itFor('sqlite')('sqlite: a run on a connection whose foreign keys the caller turned off checks them, and leaves them off', async () => {
  const dir = makeProject();
  addRevision(dir, 'sqlite', 'fk', 'CREATE TABLE parent (id integer PRIMARY KEY);\n--> statement-breakpoint\nCREATE TABLE child (id integer, pid integer REFERENCES parent(id));\n--> statement-breakpoint\nINSERT INTO child VALUES (1, 42);\n', 'DROP TABLE child;\n--> statement-breakpoint\nDROP TABLE parent;\n');
  const env = envFor(dir, 'sqlite');
  const connection = await openConnection(parseDatabaseTarget(env, dir), { write: true, env });
  try {
    await connection.execute('PRAGMA foreign_keys=OFF');
    await expect(upgrade({ cwd: dir, env, connection })).rejects.toMatchObject({ exitCode: 3, revision: '0004_fk', message: expect.stringMatching(/FOREIGN KEY constraint failed/) });
    expect((await status({ cwd: dir, env, connection })).current).toBe('0003_add_phone_to_users');
    expect(await connection.query('PRAGMA foreign_keys')).toEqual([{ foreign_keys: 0 }]);
  } finally {
    await connection.close();
  }
});

// found by a hunt of the library: a connection to another SQLite file than DATABASE_URL's was migrated;
// a callback that threw failed a run that had completed; confirmed: 'no' reset the database
itFor('sqlite')('library options a JavaScript caller can get wrong: another file, a throwing onStep, a confirmation that is not true', async () => {
  const dir = makeProject();
  const env = (name: string): Env => ({ DATABASE_URL: `file:${path.join(dir, name)}`, SLUICE_NO_BACKUP: '1' });
  const connection = await openConnection(parseDatabaseTarget(env('a.sqlite'), dir), { write: true });
  try {
    await expect(upgrade({ cwd: dir, env: env('b.sqlite'), connection })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^the connection passed to sluice is to SQLite file .*a\.sqlite, but DATABASE_URL names .*b\.sqlite/) });
    expect(existsSync(path.join(dir, 'b.sqlite'))).toBe(false);
    expect((await status({ cwd: dir, env: env('a.sqlite'), connection })).current).toBe('base');
  } finally {
    await connection.close();
  }
  let n = 0;
  const up = await upgrade({ cwd: dir, env: env('a.sqlite'), onStep: () => { if (++n === 2) throw new Error('the caller\'s own bug'); } });
  expect(up.to).toBe('0003_add_phone_to_users');
  const down = await downgrade({ cwd: dir, env: env('a.sqlite'), revision: '0001', onStep: async () => { throw new Error('async'); } });
  expect(down.to).toBe('0001_add_audits');
  await expect(reset({ cwd: dir, env: env('a.sqlite'), confirmed: 'no' as unknown as boolean })).rejects.toMatchObject({ exitCode: 2, message: 'reset(): option "confirmed" must be true or false, not "no"' });
  await expect(reset({ cwd: dir, env: env('a.sqlite'), confirmed: false })).rejects.toMatchObject({ exitCode: 6 });
  expect((await status({ cwd: dir, env: env('a.sqlite') })).current).toBe('0001_add_audits');
});

// found by a hunt of the library: options of the wrong type gave a raw TypeError (no exitCode), a
// misspelled one was ignored (`dryrun: true` ran for real), a string read by its truthiness
// (`noBackup: 'false'` skipped the backup)
itFor('sqlite')('library options of the wrong name or type: a one-line UsageError naming the option, nothing done', async () => {
  const dir = makeProject();
  const env: Env = { DATABASE_URL: `file:${path.join(dir, 'a.sqlite')}`, SLUICE_NO_BACKUP: '1' };
  const bad: [() => Promise<unknown>, string][] = [
    [() => upgrade({ cwd: dir, env, dryrun: true } as never), 'upgrade(): unknown option "dryrun" (did you mean "dryRun"?); its options are '],
    [() => upgrade({ cwd: dir, env, noBackup: 'false' } as never), 'upgrade(): option "noBackup" must be true or false, not "false"'],
    [() => upgrade(null as never), 'upgrade(): its options must be a plain object'],
    [() => upgrade({ cwd: 5 } as never), 'upgrade(): option "cwd" must be a string, not number 5'],
    [() => downgrade({ cwd: dir, env, signal: {} } as never), 'downgrade(): option "signal" must be an AbortSignal, not an object (Object)'],
    [() => status({ cwd: dir, env: { ...env, SLUICE_LOCK_WAIT: 5 } } as never), 'status(): option "env": SLUICE_LOCK_WAIT must be a string, not number 5'],
    [() => stamp({ cwd: dir, env } as never), 'stamp(): option "revision" is required'],
    [() => reset({ cwd: dir, env, revision: '-1', confirmed: true } as never), 'reset(): unknown option "revision"'],
    [() => show({ cwd: dir, env, revision: true } as never), 'show(): option "revision" must be a string or an integer (head, base, +N, -N, a tag, a number), not boolean true'],
    // a hunt: a Map's entries were read as no environment, and the default ./db.sqlite was migrated
    [() => upgrade({ cwd: dir, env: new Map(Object.entries(env)) } as never), 'upgrade(): option "env" must be an object (the environment: names to strings), not '],
  ];
  for (const [call, message] of bad) {
    const err = await call().then(() => undefined, (e: unknown) => e);
    expect(err, message).toMatchObject({ name: 'UsageError', exitCode: 2 });
    expect((err as Error).message.startsWith(message), `${(err as Error).message} / ${message}`).toBe(true);
    expect((err as Error).message).not.toContain('\n');
  }
  expect(existsSync(path.join(dir, 'a.sqlite'))).toBe(false);
  expect(existsSync(path.join(dir, 'db.sqlite'))).toBe(false);
  expect((await upgrade({ cwd: dir, env, dryRun: true, noBackup: undefined })).dryRun).toBe(true);
  expect(existsSync(path.join(dir, 'a.sqlite'))).toBe(false);
});
