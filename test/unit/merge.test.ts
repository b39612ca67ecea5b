/** Pure parts of migrate-merge (src/merge.ts): which changes of two branches do not commute. */
import { describe, expect, it } from 'vitest';
import { conflictSides, conflictingObjects, hasConflictMarkers, rebuiltTables, type Snapshot } from '../../src/merge.js';

const users = (...extra: string[]): Snapshot => ({
  tables: {
    users: { name: 'users', columns: Object.fromEntries(['id', 'email', ...extra].map((c) => [c, { name: c, type: 'text', notNull: c === 'phone' }])) },
    tags: { name: 'tags', columns: { id: { name: 'id', type: 'integer' } } },
  },
});

// what drizzle-kit 0.31 writes for SQLite when a column's NOT NULL changes
const rebuildUsers = [
  'PRAGMA foreign_keys=OFF;',
  'CREATE TABLE `__new_users` (\n\t`id` text,\n\t`email` text,\n\t`phone` text NOT NULL\n);',
  'INSERT INTO `__new_users`("id", "email", "phone") SELECT "id", "email", "phone" FROM `users`;',
  'DROP TABLE `users`;',
  'ALTER TABLE `__new_users` RENAME TO `users`;',
  'PRAGMA foreign_keys=ON;',
].join('--> statement-breakpoint\n');

describe('rebuiltTables', () => {
  it("reads drizzle-kit's SQLite table recreation as a change of the whole table", () => {
    expect(rebuiltTables([rebuildUsers], [users('phone')])).toEqual([['tables', 'users']]);
  });
  it('reads hand-written rebuilds: a copy then a drop, a rename away first, CREATE TABLE AS; quoted any way; PostgreSQL snapshot keys', () => {
    const pg: Snapshot = { tables: { 'public.users': { name: 'users', schema: '', columns: {} } } };
    expect(rebuiltTables(['CREATE TABLE "users_tmp" (id int);\nINSERT INTO "users_tmp" SELECT * FROM "public"."users";\nDROP TABLE "public"."users";\nALTER TABLE "users_tmp" RENAME TO "users";'], [pg])).toEqual([['tables', 'public.users']]);
    expect(rebuiltTables(['insert into users_tmp select * from users; drop table if exists users;'], [pg])).toEqual([['tables', 'public.users']]);
    // the old table renamed away first, then made anew under its name
    expect(rebuiltTables(['ALTER TABLE users RENAME TO users_old;\nCREATE TABLE users (id integer, email text COLLATE NOCASE);\nINSERT INTO users SELECT id, email FROM users_old;\nDROP TABLE users_old;'], [users()])).toEqual([['tables', 'users']]);
    expect(rebuiltTables(['CREATE TABLE t_new AS SELECT id, email FROM Users;\nDROP TABLE Users;\nALTER TABLE t_new RENAME TO users;'], [users()])).toEqual([['tables', 'users']]);
    expect(rebuiltTables(['ALTER TABLE IF EXISTS ONLY "public"."users" RENAME TO "users_old";'], [pg])).toEqual([['tables', 'public.users']]);
  });
  it('an up that adds columns, copies rows without dropping, or drops a table the snapshot no longer has rebuilds nothing', () => {
    expect(rebuiltTables(['ALTER TABLE `users` ADD `nickname` text;', 'INSERT INTO `audit` SELECT * FROM `users`;'], [users()])).toEqual([]);
    expect(rebuiltTables(['DROP TABLE `gone`;', 'ALTER TABLE `users` RENAME COLUMN `email` TO `mail`;'], [users()])).toEqual([]);
  });
});

describe('conflictingObjects', () => {
  it('a column on each side of the same table commutes; a rebuild of that table on either side does not', () => {
    const base = users();
    const ours = users('phone');
    const theirs = users('nickname');
    expect(conflictingObjects(base, ours, theirs)).toEqual([]);
    const whole = rebuiltTables([rebuildUsers], [base, ours]);
    expect(conflictingObjects(base, ours, theirs, { ours: whole })).toEqual(['tables › users']);
    expect(conflictingObjects(base, theirs, ours, { theirs: whole })).toEqual(['tables › users']);
  });
  it('a rebuild of one table does not conflict with a change to another', () => {
    const base = users();
    const theirs: Snapshot = { tables: { ...(users().tables as object), tags: { name: 'tags', columns: { id: { name: 'id', type: 'integer' }, label: { name: 'label', type: 'text' } } } } };
    expect(conflictingObjects(base, users('phone'), theirs, { ours: rebuiltTables([rebuildUsers], [base]) })).toEqual([]);
  });
});

describe('conflictingObjects: key order', () => {
  it("an object whose keys come in another order is unchanged (drizzle-kit's --custom snapshot writes a foreign key's keys so): two branches after it commute", () => {
    const fk = { name: 'sessions_user_id_users_id_fk', tableFrom: 'sessions', tableTo: 'users', columnsFrom: ['user_id'], columnsTo: ['id'], onDelete: 'cascade', onUpdate: 'no action' };
    const reordered = { name: fk.name, tableFrom: 'sessions', columnsFrom: ['user_id'], tableTo: 'users', columnsTo: ['id'], onUpdate: 'no action', onDelete: 'cascade' };
    const withFk = (s: Snapshot, f: object): Snapshot => ({ tables: { ...(s.tables as object), sessions: { name: 'sessions', columns: {}, foreignKeys: { [fk.name]: f } } } } as Snapshot);
    const base = withFk(users(), reordered); // the custom revision's snapshot, the branches' common ancestor
    expect(conflictingObjects(base, withFk(users('phone'), fk), withFk(users('nickname'), fk))).toEqual([]);
    // an array's order still counts: the same columns in another order are a change
    expect(conflictingObjects(base, withFk(users(), { ...fk, columnsFrom: ['a', 'b'] }), withFk(users(), { ...fk, columnsFrom: ['b', 'a'] }))).toEqual(['tables › sessions › foreignKeys › sessions_user_id_users_id_fk']);
  });
});

describe('hasConflictMarkers', () => {
  it("finds git's markers only as whole lines, both a start and an end (merge and diff3 styles)", () => {
    expect(hasConflictMarkers('{\n<<<<<<< HEAD\n  "a": 1\n=======\n  "a": 2\n>>>>>>> feature\n}\n')).toBe(true);
    expect(hasConflictMarkers('<<<<<<< ours\nx\n||||||| base\ny\n=======\nz\n>>>>>>> theirs')).toBe(true);
    expect(hasConflictMarkers('<<<<<<<\n=======\n>>>>>>>')).toBe(true);
    // only one kind, markers inside a line, a marker with more than seven characters or no space before its label
    expect(hasConflictMarkers('<<<<<<< HEAD\nx\n=======\ny\n')).toBe(false);
    expect(hasConflictMarkers('{"tag": "<<<<<<< x"}\n{"tag": ">>>>>>> y"}')).toBe(false);
    expect(hasConflictMarkers('<<<<<<<< HEAD\n>>>>>>>> feature')).toBe(false);
    expect(hasConflictMarkers('<<<<<<<HEAD\n>>>>>>>feature')).toBe(false);
    expect(hasConflictMarkers(JSON.stringify({ entries: [{ tag: '0000_init' }] }, null, 2))).toBe(false);
  });

  it('reads markers git wrote with CRLF line ends (core.autocrlf=true), both sides kept whole', () => {
    const text = '{\r\n<<<<<<< HEAD\r\n  "a": 1\r\n||||||| base\r\n=======\r\n  "a": 2\r\n>>>>>>> feature\r\n}\r\n';
    expect(hasConflictMarkers(text)).toBe(true);
    const { ours, theirs } = conflictSides(text);
    expect(JSON.parse(ours)).toEqual({ a: 1 });
    expect(JSON.parse(theirs)).toEqual({ a: 2 });
  });
});
