/** unawaited.ts unawaitedQueries: a drizzle query a TypeScript revision starts and nothing awaits never runs (drizzle's builders are lazy). */
import { describe, expect, it } from 'vitest';
import { unawaitedQueries } from '../../src/unawaited.js';

describe('unawaitedQueries', () => {
  it('finds statements that start with a call on the handle, nothing awaiting them', async () => {
    const text = [
      "import { sql } from 'drizzle-orm';",
      'export async function up(db) {',
      '  db.execute(sql`UPDATE users SET x = 1`);', // 3
      '  await db.execute(sql`SELECT 1`);',
      '  void db.update(users).set({ name: "a" });', // 5
      '  db.execute(sql`', // 6: a statement over several lines
      '    UPDATE users SET y = 2`);',
      '}',
      'export async function down(database) {',
      '  database.delete(users);', // 10: the name its function gives the handle
      '  db.insert(users).values({ id: 1 });', // 11: values() builds, nothing runs
      '}',
    ].join('\n');
    expect(await unawaitedQueries(text)).toEqual([3, 5, 6, 10, 11]);
  });

  it('leaves awaited, returned, kept, chained and gathered queries alone, and db.$client', async () => {
    const text = [
      'export async function up(db) {',
      '  const q = db.select().from(users);',
      '  await q;',
      '  await Promise.all([',
      '    db.update(a).set({ x: 1 }),',
      '    db.update(b).set({ x: 1 }),',
      '  ]);',
      '  db.execute(sql`SELECT 1`).then(() => {});',
      '  db.$client.query("SELECT 1");',
      '  // db.execute(sql`commented out`);',
      '  return db.execute(sql`SELECT 2`);',
      '  db.run(sql`UPDATE users SET x = 1`);', // SQLite (better-sqlite3): synchronous, runs at once
      '  db.update(users).set({ x: 1 }).run();',
      '  db.select().from(users).all();',
      '  db.update(users).set({ x: 1 }).execute();', // a builder's execute() starts it
      '}',
    ].join('\n');
    expect(await unawaitedQueries(text)).toEqual([]);
  });

  // found by a hunt: better-sqlite3's transaction() runs its function at once, and was refused as "never runs"
  it("leaves SQLite's synchronous transaction(…) alone; on PostgreSQL it stays refused (its promise would run past the revision)", async () => {
    const text = ['export async function down(db) {', '  db.transaction((tx) => {', '    tx.run(sql`DELETE FROM users`);', '  });', '}'].join('\n');
    expect(await unawaitedQueries(text, 'sqlite')).toEqual([]);
    expect(await unawaitedQueries(text, 'postgresql')).toEqual([2]);
  });

  // found by a hunt: read line by line, these ran nothing, "applied", exit 0
  it('finds them in a one-line block, a brace-less if/for body, after && or in either branch of ?:, inside a transaction on one line, and in forEach', async () => {
    const text = [
      'export async function up(db: Db): Promise<void> {',
      '  const rows = await db.select().from(users);',
      '  if (rows.length > 0) { db.update(users).set({ name: "unknown" }).where(isNull(users.name)); }', // 3
      '  for (const r of rows) { db.update(users).set({ name: "x" }).where(eq(users.id, r.id)); }', // 4
      '  for (const r of rows) db.update(users).set({ name: "y" }).where(eq(users.id, r.id));', // 5
      '  rows.length && db.update(users).set({ name: "z" });', // 6
      '  rows.length ? db.delete(users) : await db.delete(teams);', // 7
      '  await db.transaction(async (t) => { t.update(users).set({ name: "u" }); });', // 8: the name the function gives it
      '  rows.forEach((r) => db.update(users).set({ name: r.name }));', // 9
      '  const ok = rows.length > 0; if (ok) await db.update(users).set({ name: "fine" });',
      '  await Promise.all(rows.map((r) => db.update(users).set({ name: r.name })));',
      '}',
    ].join('\n');
    expect(await unawaitedQueries(text, 'postgresql')).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });
});
