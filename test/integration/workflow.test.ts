/**
 * The everyday loop through the library, on a temp SQLite file and on the suite's real PostgreSQL
 * (schema-scoped): create → up → down → stamp → history → status, and exact schema round trips.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { create, downgrade, history, MissingDown, show, stamp, status, upgrade } from '../../dist/index.js';
import { formatCreate } from '../../dist/format.js';
import { describeFor, addUserColumn, dialectEnvs, dumpSchema, makeProject, sql, type Env } from '../support/project.js';

const REVS = ['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users'];

for (const dialect of ['sqlite', 'postgresql'] as const) {
  describeFor(dialect)(`workflow on ${dialect}`, () => {
    let dir: string;
    let env: Env;
    const o = () => ({ cwd: dir, env });

    beforeAll(() => {
      dir = makeProject();
      env = dialectEnvs(dir).find((d) => d.name === dialect)!.env;
    });

    it('upgrades to head, reports status and history', async () => {
      const up = await upgrade(o());
      expect(up.steps.map((s) => [s.revision, s.status])).toEqual(REVS.map((r) => [r, 'applied']));
      const st = await status(o());
      expect(st).toMatchObject({ current: '0003_add_phone_to_users', head: '0003_add_phone_to_users', applied: 4, pending: [] });
      const h = await history(o());
      expect(h.revisions.map((r) => r.revision)).toEqual(REVS);
      expect(h.revisions[3]).toMatchObject({ current: true, head: true, message: 'add phone to users', down: 'ok' });
      expect(h.revisions.every((r) => r.appliedAt)).toBe(true);
      const again = await upgrade(o());
      expect(again.steps).toEqual([]);
    });

    it('every revision: down then up restores the exact schema', async () => {
      const atHead = await dumpSchema(dir, env);
      expect(atHead).toMatch(/users/);
      const dumps: string[] = [atHead];
      for (let i = REVS.length - 1; i >= 0; i--) {
        const down = await downgrade(o());
        expect(down.steps.map((s) => s.revision)).toEqual([REVS[i]]);
        dumps.unshift(await dumpSchema(dir, env));
      }
      expect((await status(o())).current).toBe('base');
      // base: nothing of the app is left (the version table is not part of the dump)
      expect(dumps[0]).not.toMatch(/CREATE (TABLE|TYPE|INDEX|UNIQUE INDEX|SEQUENCE)|^table |^index /m);
      for (let i = 0; i < REVS.length; i++) {
        await upgrade({ ...o(), revision: '+1' });
        expect(await dumpSchema(dir, env)).toBe(dumps[i + 1]);
      }
      // and a down then up of each single revision from head
      for (let i = REVS.length - 1; i >= 0; i--) {
        await downgrade({ ...o(), revision: i === 0 ? 'base' : REVS[i - 1] });
        expect(await dumpSchema(dir, env)).toBe(dumps[i]);
        await upgrade(o());
        expect(await dumpSchema(dir, env)).toBe(atHead);
      }
    });

    it('stamps in both directions without running SQL', async () => {
      const before = await dumpSchema(dir, env);
      const down = await stamp({ ...o(), revision: '0001' });
      expect(down.steps.map((s) => [s.revision, s.status])).toEqual([
        ['0003_add_phone_to_users', 'unstamped'],
        ['0002_add_sessions_and_roles', 'unstamped'],
      ]);
      expect(await dumpSchema(dir, env)).toBe(before);
      expect((await status(o())).pending).toEqual(REVS.slice(2));
      await stamp({ ...o(), revision: 'head' });
      expect((await status(o())).current).toBe('0003_add_phone_to_users');
      await stamp({ ...o(), revision: 'base' });
      expect((await status(o())).applied).toBe(0);
      await stamp({ ...o(), revision: 'head' });
      expect(await dumpSchema(dir, env)).toBe(before);
    });

    it('creates a revision from a model change with its down, then applies and reverts it', async () => {
      addUserColumn(dir, 'nickname');
      const created = await create({ ...o(), message: 'add "nickname" to users' });
      expect(created.created.map((c) => [c.dialect, c.revision]).sort()).toEqual([
        ['postgresql', '0004_add_nickname_to_users'],
        ['sqlite', '0004_add_nickname_to_users'],
      ]);
      expect(created.lockstepWarning).toBeUndefined();
      const folder = path.join(dir, 'drizzle', dialect);
      const down = readFileSync(path.join(folder, '0004_add_nickname_to_users.down.sql'), 'utf8');
      expect(down).toMatch(/-- message: add "nickname" to users/);
      expect(down).toMatch(/ALTER TABLE [`"]users[`"] DROP COLUMN [`"]nickname[`"]/);
      const up = await upgrade(o());
      expect(up.steps.map((s) => s.revision)).toEqual(['0004_add_nickname_to_users']);
      await sql(dir, env, `INSERT INTO users (email, nickname) VALUES ('a@b.c', 'nick')`);
      const shown = await show({ ...o(), revision: '4' });
      expect(shown).toMatchObject({ revision: '0004_add_nickname_to_users', message: 'add "nickname" to users' });
      expect(shown.appliedAt).not.toBeNull();
      expect(shown.up).toMatch(/nickname/);
      // an up edited after its down was generated: the down is refused until someone checks it
      const upFile = path.join(folder, '0004_add_nickname_to_users.sql');
      const downFile = path.join(folder, '0004_add_nickname_to_users.down.sql');
      const upText = readFileSync(upFile, 'utf8');
      writeFileSync(upFile, `${upText}\n-- reviewed by hand`);
      await expect(downgrade({ ...o(), allowChanged: true })).rejects.toThrow(/the up of 0004_add_nickname_to_users changed after its down was generated; check that .*0004_add_nickname_to_users\.down\.sql still undoes it/);
      expect((await history(o())).revisions[4]!.down).toBe('stale');
      writeFileSync(upFile, upText);
      expect((await history(o())).revisions[4]!.down).toBe('ok');
      expect(readFileSync(downFile, 'utf8')).toMatch(/^-- sluice:up-checksum [0-9a-f]{64} /m);
      await downgrade(o());
      const cols = dialect === 'sqlite'
        ? (await sql<{ name: string }>(dir, env, `SELECT name FROM pragma_table_info('users')`)).map((c) => c.name)
        : (await sql<{ column_name: string }>(dir, env, 'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2', [env.DATABASE_SCHEMA, 'users'])).map((c) => c.column_name);
      expect(cols).not.toContain('nickname');
      expect((await sql(dir, env, 'SELECT email FROM users'))).toEqual([{ email: 'a@b.c' }]);
    });

    it('says so and creates nothing when the models did not change; names a newest revision left without its down', async () => {
      const result = await create({ ...o(), message: 'nothing here' });
      expect(result.created).toEqual([]);
      expect(result.unchanged.sort()).toEqual(['postgresql', 'sqlite']);
      expect(result.withoutDown).toBeUndefined();
      expect(existsSync(path.join(dir, 'drizzle', dialect, '0005_nothing_here.sql'))).toBe(false);
      // what a migrate-create stopped after drizzle-kit wrote the revision leaves: no down file
      const downFile = path.join(dir, 'drizzle', dialect, '0004_add_nickname_to_users.down.sql');
      const kept = readFileSync(downFile, 'utf8');
      rmSync(downFile);
      try {
        const again = await create({ ...o(), message: 'nothing here' });
        expect(again.withoutDown).toEqual([{ dialect, revision: '0004_add_nickname_to_users' }]);
        expect(formatCreate(again)).toEqual([
          'No changes in the models; nothing created.',
          `${dialect} 0004_add_nickname_to_users has no down file (a migrate-create stopped half way leaves one): make migrate-downs writes and verifies it`,
        ]);
      } finally {
        writeFileSync(downFile, kept);
      }
    });

    it('creates an empty revision for hand-written SQL and refuses a down that is missing', async () => {
      const result = await create({ ...o(), message: 'backfill names', empty: true });
      const rev = result.created.find((c) => c.dialect === dialect)!;
      expect(rev.revision).toBe('0005_backfill_names');
      const upFile = path.join(dir, 'drizzle', dialect, '0005_backfill_names.sql');
      expect(readFileSync(upFile, 'utf8')).not.toMatch(/^\s*[A-Z]/m);
      writeFileSync(upFile, `UPDATE users SET name = 'unnamed' WHERE name IS NULL;`);
      await upgrade(o());
      expect((await sql(dir, env, 'SELECT name FROM users'))).toEqual([{ name: 'unnamed' }]);
      const before = await status(o());
      await expect(downgrade(o())).rejects.toThrow(MissingDown);
      await expect(downgrade(o())).rejects.toThrow(/0005_backfill_names\.down\.sql/);
      // the file is there (create --empty wrote its header): migrate-downs keeps an existing file, so
      // the message says to write into it, or to delete it first (was: "generate it with migrate-downs", which did nothing)
      await expect(downgrade(o())).rejects.toThrow(/0005_backfill_names\.down\.sql holds no statement; write the down statements there \(or delete that file and run make migrate-downs/);
      expect(await status(o())).toEqual(before);
      writeFileSync(path.join(dir, 'drizzle', dialect, '0005_backfill_names.down.sql'), `UPDATE users SET name = NULL WHERE name = 'unnamed';`);
      await downgrade(o());
      expect((await sql(dir, env, 'SELECT name FROM users'))).toEqual([{ name: null }]);
      await downgrade({ ...o(), revision: 'base' });
      expect((await status(o())).current).toBe('base');
    });
  });
}
