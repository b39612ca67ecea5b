/**
 * Branches: two git branches each run migrate-create; git merges them (journal and snapshots in
 * conflict); sluice detects the fork, migrate-merge renumbers one branch after the other, and a
 * database that applied the moved branch keeps working. Real git, drizzle-kit, SQLite and PostgreSQL.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addUserColumn, makeProject, pgUrl, runCli, runMake, sql, uniqueSchema, SKIP_PG, type Env } from '../support/project.js';

function git(dir: string, ...args: string[]) {
  return spawnSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, encoding: 'utf8' });
}
function ok(r: { status: number | null; stdout: string; stderr: string }): string {
  expect(r.status, r.stdout + r.stderr).toBe(0);
  return r.stdout;
}
function addTagsTable(dir: string): void {
  appendFileSync(path.join(dir, 'models', 'postgres.ts'), "\nexport const tags = pgTable('tags', { id: serial('id').primaryKey(), label: text('label') });\n");
  appendFileSync(path.join(dir, 'models', 'sqlite.ts'), "\nexport const tags = sqliteTable('tags', { id: integer('id').primaryKey(), label: text('label') });\n");
}
function branchProject(): string {
  const dir = makeProject();
  writeFileSync(path.join(dir, '.gitignore'), 'node_modules\ndist\n*.sqlite\n.sluice\n');
  ok(git(dir, 'init', '-q', '-b', 'main'));
  ok(git(dir, 'add', '-A'));
  ok(git(dir, 'commit', '-q', '-m', 'base'));
  return dir;
}

describe('branches: fork, migrate-merge, databases of either branch', () => {
  it('detects the fork after git merge, merges, and a database that applied the other branch continues', async () => {
    const dir = branchProject();
    ok(git(dir, 'checkout', '-q', '-b', 'tags'));
    addTagsTable(dir);
    ok(runMake(dir, ['migrate-create', 'MSG=add tags']));
    ok(git(dir, 'add', '-A'));
    ok(git(dir, 'commit', '-q', '-m', 'tags'));
    // a database on the tags branch
    const envs: Env[] = [{ DATABASE_URL: `file:${path.join(dir, 'tags.sqlite')}` }];
    if (!SKIP_PG) envs.push({ DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('branch') });
    for (const env of envs) ok(runCli(dir, ['up'], env));
    ok(git(dir, 'checkout', '-q', 'main'));
    addUserColumn(dir, 'nickname');
    ok(runMake(dir, ['migrate-create', 'MSG=add nickname']));
    ok(git(dir, 'add', '-A'));
    ok(git(dir, 'commit', '-q', '-m', 'nickname'));
    const merged = git(dir, 'merge', 'tags');
    expect(merged.status).not.toBe(0); // journals and snapshots conflict
    expect(readFileSync(path.join(dir, 'drizzle', 'sqlite', 'meta', '_journal.json'), 'utf8')).toMatch(/^<<<<<<< /m);

    const up = runCli(dir, ['up'], envs[0]!);
    expect(up.status).toBe(10);
    expect(up.stderr).toMatch(/_journal\.json has git conflict markers: two branches each created revisions \(heads 0004_add_nickname and 0004_add_tags\); run make migrate-merge/);
    expect(ok(runMake(dir, ['migrate-heads']))).toMatch(/sqlite \(drizzle\/sqlite\): 0004_add_nickname, 0004_add_tags {2}<- 2 heads/);

    const out = ok(runMake(dir, ['migrate-merge']));
    expect(out).toMatch(/sqlite \(drizzle\/sqlite\): kept 0004_add_nickname; moved 0004_add_tags -> 0005_add_tags/);
    expect(out).toMatch(/postgresql \(drizzle\/postgresql\): kept 0004_add_nickname; moved 0004_add_tags -> 0005_add_tags/);
    expect(ok(runMake(dir, ['migrate-heads']))).toMatch(/sqlite \(drizzle\/sqlite\): 0005_add_tags\n/);
    expect(ok(runMake(dir, ['migrate-check'], { DATABASE_URL: `file:${path.join(dir, 'none.sqlite')}` })).toString()).toMatch(/ok {3}models \(postgresql\)/);
    const down = readFileSync(path.join(dir, 'drizzle', 'postgresql', '0005_add_tags.down.sql'), 'utf8');
    expect(down).toMatch(/DROP TABLE "tags"/);
    expect(down).not.toMatch(/"nickname"/);

    // the database of the tags branch: its 0004_add_tags is recognised as 0005_add_tags; 0004_add_nickname is applied
    for (const env of envs) {
      const r = ok(runCli(dir, ['up'], env));
      expect(r).toMatch(/0004_add_nickname/);
      const rows = (await sql<{ r: string }>(dir, env, 'SELECT "revision" AS r FROM sluice_version ORDER BY 1')).map((x) => x.r);
      expect(rows).toEqual(['0000_init', '0001_add_audits', '0002_add_sessions_and_roles', '0003_add_phone_to_users', '0004_add_nickname', '0005_add_tags']);
      ok(runCli(dir, ['down', '0003'], env));
      ok(runCli(dir, ['up'], env));
    }
    const check = ok(runMake(dir, ['db-test'], SKIP_PG ? { SLUICE_SKIP_PG: '1' } : { SLUICE_CHECK_DATABASE_URL: pgUrl() }));
    expect(check).toMatch(/sqlite \(6 revisions\): \d+ passed, 0 failed/);
  });

  it('branches that change the same object are refused as non-commutative, before any file is touched', () => {
    const dir = branchProject();
    ok(git(dir, 'checkout', '-q', '-b', 'one'));
    addUserColumn(dir, 'nickname');
    ok(runMake(dir, ['migrate-create', 'MSG=nickname one']));
    ok(git(dir, 'add', '-A'));
    ok(git(dir, 'commit', '-q', '-m', 'one'));
    ok(git(dir, 'checkout', '-q', 'main'));
    addUserColumn(dir, 'nickname');
    ok(runMake(dir, ['migrate-create', 'MSG=nickname two']));
    ok(git(dir, 'add', '-A'));
    ok(git(dir, 'commit', '-q', '-m', 'two'));
    git(dir, 'merge', 'one');
    const before = ok(git(dir, 'status', '--porcelain'));
    const journal = readFileSync(path.join(dir, 'drizzle', 'sqlite', 'meta', '_journal.json'), 'utf8');
    const r = runCli(dir, ['merge']);
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/do not commute — both changed tables › users › columns › nickname/);
    expect(ok(git(dir, 'status', '--porcelain'))).toBe(before);
    expect(readFileSync(path.join(dir, 'drizzle', 'sqlite', 'meta', '_journal.json'), 'utf8')).toBe(journal);
  });
});
