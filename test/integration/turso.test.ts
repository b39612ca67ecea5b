/**
 * drizzle's "turso" dialect: drizzle-kit writes libSQL's SQL (`ALTER TABLE … ALTER COLUMN … TO …`),
 * which SQLite itself rejects. sluice opens such a project's files with libSQL (the `libsql` package),
 * and proves its downs on libSQL scratch files. Real files, the real CLI; no mocks.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addRevision, makeProject, runCli, sql, type Env, upgradeTo } from '../support/project.js';

const config = (dialect: string) => `export default { dialect: '${dialect}', schema: './models/sqlite.ts', out: './drizzle/sqlite' };\n`;
const ALTER = 'ALTER TABLE `users` ALTER COLUMN "phone" TO "phone" text NOT NULL DEFAULT \'\';';
const BACKFILL = "UPDATE `users` SET `phone` = '' WHERE `phone` IS NULL;--> statement-breakpoint\n";

describe('dialect "turso": libSQL files', () => {
  it("runs libSQL's ALTER COLUMN, proves a down read from the real states, and reverts it with the rows", async () => {
    const dir = makeProject();
    writeFileSync(path.join(dir, 'drizzle.config.ts'), config('turso'));
    // a hand-written revision whose snapshot is the previous one (the up does more than it describes)
    const tag = addRevision(dir, 'sqlite', 'phone_required', BACKFILL + ALTER, null);
    const env: Env = { DATABASE_URL: `file:${path.join(dir, 'app.sqlite')}` };

    // lint reads the file with libSQL's parser too (no "unparseable" finding)
    const lint = runCli(dir, ['lint', tag], env);
    expect(lint.stdout + lint.stderr).not.toMatch(/unparseable|cannot read/);

    const adopted = runCli(dir, ['downs'], env);
    expect(adopted.status, adopted.stderr).toBe(0);
    expect(adopted.stdout).toMatch(new RegExp(`verified +drizzle/sqlite/${tag}\\.down\\.sql`));
    const down = readFileSync(path.join(dir, 'drizzle', 'sqlite', `${tag}.down.sql`), 'utf8');
    expect(down).toMatch(/^-- sluice:verified by running it on a scratch database/m);
    expect(down).toMatch(/^-- WARNING: read from the real schema before and after the up/m);
    expect(down).not.toMatch(/manual-down-required/);
    expect(down).toMatch(/^-- WARNING: the up changes rows \(1 statement\(s\), first: UPDATE `users` SET `phone`/m);

    const up = runCli(dir, ['up'], env);
    expect(up.status, up.stderr).toBe(0);
    const usersSql = async () => (await sql<{ sql: string }>(dir, env, "SELECT sql FROM sqlite_master WHERE name = 'users'"))[0]!.sql;
    expect(await usersSql()).toMatch(/"phone" text NOT NULL DEFAULT ''/);
    await sql(dir, env, "INSERT INTO users (name, email, phone) VALUES ('Ada', 'ada@example.com', '555')");

    const reverted = runCli(dir, ['down', '--no-backup'], env);
    expect(reverted.status, reverted.stderr).toBe(0);
    expect(await usersSql()).not.toMatch(/NOT NULL DEFAULT ''/);
    expect(await sql(dir, env, 'SELECT name, phone FROM users')).toEqual([{ name: 'Ada', phone: '555' }]);
    expect(runCli(dir, ['status'], env).stdout).toMatch(/current:\s+0003_add_phone_to_users/);
    await upgradeTo(dir, env);
  });

  it('the same history under dialect "sqlite" is refused in one line before anything runs', async () => {
    const dir = makeProject();
    writeFileSync(path.join(dir, 'drizzle.config.ts'), config('sqlite'));
    addRevision(dir, 'sqlite', 'phone_required', ALTER, null);
    const env: Env = { DATABASE_URL: `file:${path.join(dir, 'app.sqlite')}` };
    const r = runCli(dir, ['up'], env);
    expect(r.status).toBe(6);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/0004_phone_required\.sql line 1: syntax error.*the SQLite parser cannot read it/);
    // nothing made in the file: not even sluice_version (was: left empty by the refusal)
    expect(await sql(dir, env, "SELECT count(*) AS n FROM sqlite_master WHERE name = 'sluice_version'")).toEqual([{ n: 0 }]);
  });
});
