/**
 * SQLite's grouped commits (src/savepoints.ts) commit by time, not by count: a group commits once it
 * has run COMMIT_EVERY_MS, so a revision reported applied is committed (a second connection sees it)
 * and later revisions are not yet run; a failure after a commit leaves the database at the last good
 * revision. On a real SQLite file, through the engine.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { addRevision, makeProject, runCli, tempDir } from '../support/project.js';
import { openConnection } from '../../dist/dialect/index.js';
import { runSteps } from '../../dist/engine.js';
import type { PreparedStep } from '../../dist/prepare.js';
import { VersionStore } from '../../dist/store.js';

function step(i: number, statements: string[]): PreparedStep {
  const id = `000${i}_r${i}`;
  return { revision: { id, index: i, number: i, message: `r${i}`, createdAt: 0 }, direction: 'up', upChecksum: `sum${i}`, statements, noTransaction: false };
}

async function run(commitEveryMs: number | undefined, steps: PreparedStep[], before?: string) {
  const file = path.join(tempDir('sluice-sp-'), 'g.sqlite');
  if (before) new Database(file).exec(before).close();
  const conn = await openConnection({ dialect: 'sqlite', file, display: 'sqlite:g.sqlite', secrets: [] }, { write: true });
  const reader = () => {
    const db = new Database(file, { readonly: true });
    try {
      const versions = (db.prepare('SELECT "revision" FROM "sluice_version" ORDER BY "revision"').all() as { revision: string }[]).map((r) => r.revision);
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
      return { versions, tables };
    } finally {
      db.close();
    }
  };
  const seen: Record<string, ReturnType<typeof reader>> = {};
  try {
    const store = new VersionStore(conn);
    await conn.lock(10_000);
    await store.ensure();
    const results = await runSteps(conn, store, steps, { commitEveryMs, onStep: (r) => r.status === 'applied' && (seen[r.revision] = reader()) });
    return { results: results.map((r) => [r.revision, r.status]), seen, end: reader() };
  } finally {
    await conn.unlock();
    await conn.close();
  }
}

describe('SQLite grouped commits', () => {
  const steps = () => [step(0, ['CREATE TABLE "t0" ("x" integer)']), step(1, ['CREATE TABLE "t1" ("x" integer)']), step(2, ['CREATE TABLE "t2" ("x" integer)', 'INSERT INTO "nope" VALUES (1)']), step(3, ['CREATE TABLE "t3" ("x" integer)'])];

  it('commit by time: a revision reported applied is committed, the next not yet run; a failure leaves the last good revision', async () => {
    // Every revision's run exceeds a budget of 0 ms: each commits before the next starts.
    const r = await run(0, steps());
    expect(r.results).toEqual([
      ['0000_r0', 'applied'],
      ['0001_r1', 'applied'],
      ['0002_r2', 'failed'],
      ['0003_r3', 'not-run'],
    ]);
    expect(r.seen['0000_r0']).toEqual({ versions: ['0000_r0'], tables: ['t0'] });
    expect(r.seen['0001_r1']).toEqual({ versions: ['0000_r0', '0001_r1'], tables: ['t0', 't1'] });
    expect(r.end).toEqual({ versions: ['0000_r0', '0001_r1'], tables: ['t0', 't1'] });
  });

  it('within the budget, the revisions share one commit: reported once committed, and the failure still leaves the last good revision', async () => {
    const r = await run(undefined, steps());
    expect(r.results.map(([, s]) => s)).toEqual(['applied', 'applied', 'failed', 'not-run']);
    // Results come after the group's commit: both are visible when the first is reported.
    expect(r.seen['0000_r0']).toEqual({ versions: ['0000_r0', '0001_r1'], tables: ['t0', 't1'] });
    expect(r.end).toEqual({ versions: ['0000_r0', '0001_r1'], tables: ['t0', 't1'] });
  });

  // Found by review: a deferred foreign key is checked at COMMIT, and a group has one; a revision that
  // broke one was reported applied when a later revision of its group mended it, where a transaction of
  // its own fails (README: the end state is the same as one transaction per revision).
  describe('a revision leaving a deferred foreign key broken fails as in a transaction of its own', () => {
    const TABLES = 'CREATE TABLE "tp" ("id" integer PRIMARY KEY); CREATE TABLE "tc" ("id" integer PRIMARY KEY, "pid" integer REFERENCES "tp"("id") DEFERRABLE INITIALLY DEFERRED);';
    const expected = [
      ['0001_r1', 'applied'],
      ['0002_r2', 'failed'],
      ['0003_r3', 'not-run'],
    ];
    it('keys made deferred by a revision of the run', async () => {
      const r = await run(undefined, [step(1, TABLES.split('; ')), step(2, ['INSERT INTO "tc" VALUES (1, 7)']), step(3, ['INSERT INTO "tp" VALUES (7)'])]);
      expect(r.results).toEqual(expected);
      expect(r.end.versions).toEqual(['0001_r1']);
    });
    it('keys already deferred in the database', async () => {
      const r = await run(undefined, [step(1, ['CREATE TABLE "tx" ("x" integer)']), step(2, ['INSERT INTO "tc" VALUES (1, 7)']), step(3, ['INSERT INTO "tp" VALUES (7)'])], TABLES);
      expect(r.results).toEqual(expected);
      expect(r.end.versions).toEqual(['0001_r1']);
    });
    // found by review: a TypeScript part runs SQL sluice does not read
    it('keys made deferred by a TypeScript revision of the run', () => {
      const dir = makeProject();
      const ts = addRevision(dir, 'sqlite', 'ts_deferred', 'CREATE TABLE `tx` (`x` integer);', 'DROP TABLE `tx`;');
      writeFileSync(
        path.join(dir, 'drizzle', 'sqlite', `${ts}.ts`),
        `import { sql } from 'drizzle-orm';\nexport async function up(db: any): Promise<void> {\n${TABLES.split('; ')
          .map((t) => `  db.run(sql\`${t}\`);\n`)
          .join('')}}\nexport async function down(db: any): Promise<void> {\n  db.run(sql\`DROP TABLE "tc"\`);\n  db.run(sql\`DROP TABLE "tp"\`);\n}\n`,
      );
      const broken = addRevision(dir, 'sqlite', 'break', 'INSERT INTO `tc` VALUES (1, 7);', 'DELETE FROM `tc`;');
      const mend = addRevision(dir, 'sqlite', 'mend', 'INSERT INTO `tp` VALUES (7);', 'DELETE FROM `tp`;');
      const r = runCli(dir, ['up'], { DATABASE_URL: `file:${path.join(dir, 'ts.sqlite')}`, SLUICE_NO_BACKUP: '1' });
      expect(r.status, r.stdout + r.stderr).toBe(3);
      expect(r.stdout).toMatch(new RegExp(`${ts} applied`));
      expect(r.stdout).toMatch(new RegExp(`${broken} FAILED`));
      expect(r.stdout).toMatch(new RegExp(`${mend} not run`));
    });
    // a TypeScript revision that makes no such key: the revisions after it share one commit again
    // (was: every revision after any TypeScript revision ran alone, a commit each)
    it('after a TypeScript revision that makes no deferred key, the revisions after it share one commit', async () => {
      const file = path.join(tempDir('sluice-sp-ts-'), '0001_r1.ts');
      const text = 'export async function up(db: any): Promise<void> {}\nexport async function down(db: any): Promise<void> {}\n';
      writeFileSync(file, text);
      const ts: PreparedStep = { ...step(1, ['CREATE TABLE "t1" ("x" integer)']), typescript: { file, display: '0001_r1.ts', text } };
      const r = await run(undefined, [step(0, ['CREATE TABLE "t0" ("x" integer)']), ts, step(2, ['CREATE TABLE "t2" ("x" integer)']), step(3, ['CREATE TABLE "t3" ("x" integer)'])]);
      expect(r.results.map(([, s]) => s)).toEqual(['applied', 'applied', 'applied', 'applied']);
      // reported after their group's commit: 0003 is committed when 0002 is reported
      expect(r.seen['0002_r2']).toEqual({ versions: ['0000_r0', '0001_r1', '0002_r2', '0003_r3'], tables: ['t0', 't1', 't2', 't3'] });
    });
    it('PRAGMA defer_foreign_keys in a revision', async () => {
      const r = await run(
        undefined,
        [step(1, ['CREATE TABLE "tp" ("id" integer PRIMARY KEY)', 'CREATE TABLE "tc" ("id" integer PRIMARY KEY, "pid" integer REFERENCES "tp"("id"))']), step(2, ['PRAGMA defer_foreign_keys = ON', 'INSERT INTO "tc" VALUES (1, 7)']), step(3, ['INSERT INTO "tp" VALUES (7)'])],
      );
      expect(r.results).toEqual(expected);
      expect(r.end.versions).toEqual(['0001_r1']);
    });
  });
});
