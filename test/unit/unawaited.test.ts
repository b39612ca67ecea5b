/** tsrevision.ts unawaitedQueries: a drizzle query a TypeScript revision starts and nothing awaits never runs (drizzle's builders are lazy). */
import { describe, expect, it } from 'vitest';
import { unawaitedQueries } from '../../src/tsrevision.js';

describe('unawaitedQueries', () => {
  it('finds statements that start with a call on the handle, nothing awaiting them', () => {
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
    expect(unawaitedQueries(text)).toEqual([3, 5, 6, 10, 11]);
  });

  it('leaves awaited, returned, kept, chained and gathered queries alone, and db.$client', () => {
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
    expect(unawaitedQueries(text)).toEqual([]);
  });

  // found by a hunt: better-sqlite3's transaction() runs its function at once, and was refused as "never runs"
  it("leaves SQLite's synchronous transaction(…) alone; on PostgreSQL it stays refused (its promise would run past the revision)", () => {
    const text = ['export async function down(db) {', '  db.transaction((tx) => {', '    tx.run(sql`DELETE FROM users`);', '  });', '}'].join('\n');
    expect(unawaitedQueries(text, 'sqlite')).toEqual([]);
    expect(unawaitedQueries(text, 'postgresql')).toEqual([2]);
  });
});
