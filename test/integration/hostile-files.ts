/**
 * Hostile battery: what a revision file, a folder or a journal can hold. Each case puts one hostile
 * file in its own copy of the history (revision 0004_hostile after the example's four, the database
 * at 0003 with two user rows) and runs the CLI. Refusals must leave the database exactly as it was.
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { ExpectStatic } from 'vitest';
import { BP, HEAD, type Case, type Ctx, type Dialect, type Expect } from './hostile-battery.js';

const TAG = '0004_hostile';
const users = async (ctx: Ctx) => Number((await ctx.query<{ n: number | string }>('SELECT count(*) AS n FROM users'))[0]!.n);
const tablesNamed = async (ctx: Ctx, like: string) =>
  ctx.dialect === 'sqlite'
    ? (await ctx.query<{ t: string }>("SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name LIKE ? ORDER BY 1", [like])).map((r) => r.t)
    : (await ctx.query<{ t: string }>('SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE $1 ORDER BY 1', [like])).map((r) => r.t);

/** A file's content, or `place` to put something else at its path (a link, a directory, a FIFO). */
type Body = string | Buffer | ((ctx: Ctx) => string | Buffer) | { place: (ctx: Ctx, file: string) => void };
const body = (b: Body, ctx: Ctx) => (typeof b === 'function' ? b(ctx) : typeof b === 'object' && 'place' in b ? 'x' : b);
/** Write revision 0004_hostile with these up and down bodies. */
function addHostile(ctx: Ctx, up: Body, down: Body): void {
  ctx.addRevision('hostile', body(up, ctx), body(down, ctx));
  for (const [b, file] of [[up, `${TAG}.sql`], [down, `${TAG}.down.sql`]] as const) {
    if (typeof b !== 'object' || !('place' in b)) continue;
    rmSync(path.join(ctx.folder, file));
    b.place(ctx, path.join(ctx.folder, file));
  }
}

/** `up` of a revision whose up file is `up`: refused with `exit` and `line`, nothing changed. */
function refusedUp(d: Dialect, name: string, up: Body, exit: number, line: RegExp): Case {
  return {
    name,
    category: 'files',
    dialect: d,
    setup: (ctx) => addHostile(ctx, up, 'SELECT 1;'),
    run: (ctx) => ctx.cli(['up']),
    expect: { exit, line, unchanged: true },
  };
}

/** `down` of an applied revision whose down file is `down`: refused, nothing changed. */
function refusedDown(d: Dialect, name: string, down: Body, exit: number, line: RegExp): Case {
  return {
    name,
    category: 'files',
    dialect: d,
    setup: async (ctx) => {
      ctx.addRevision('hostile', 'CREATE TABLE hx_t (id integer);', 'DROP TABLE hx_t;');
      const r = await ctx.cli(['up']);
      if (r.status !== 0) throw new Error(r.stderr);
      const file = path.join(ctx.folder, `${TAG}.down.sql`);
      if (typeof down === 'object' && 'place' in down) {
        rmSync(file);
        down.place(ctx, file);
      } else writeFileSync(file, body(down, ctx));
    },
    run: (ctx) => ctx.cli(['down']),
    expect: { exit, line, unchanged: true },
  };
}

/** A revision that must run (up, then down when `down` is given): exit 0, users untouched, then `check`. */
function accepted(d: Dialect, name: string, up: Body, down: Body | null, check: (ctx: Ctx, expect: ExpectStatic) => Promise<void>): Case {
  return {
    name,
    category: 'files',
    dialect: d,
    setup: (ctx) => addHostile(ctx, up, down ?? 'SELECT 1;'),
    run: async (ctx) => (down === null ? ctx.cli(['up']) : [await ctx.cli(['up']), await ctx.cli(['down'])]),
    expect: {
      exit: 0,
      after: async (ctx, _runs, expect) => {
        expect(await users(ctx), 'user rows').toBe(2);
        await check(ctx, expect);
      },
    },
  };
}

/** A revision that changes search_path some other way than SET: refused, or its table lands in DATABASE_SCHEMA; never in public. */
function searchPathEscape(name: string, change: string): Case {
  return {
    name,
    category: 'files',
    dialect: 'postgresql',
    ownDatabase: true,
    setup: (ctx) => void ctx.addRevision('hostile', `${change}${BP}CREATE TABLE hx_${ctx.token}_escaped (id integer);`, `DROP TABLE hx_${ctx.token}_escaped;`),
    run: (ctx) => ctx.cli(['up']),
    // Refused up front when the parser sees it (exit 6), or rolled back by the run-time guard when only
    // running it shows it (set_config, dynamic SQL: exit 3) — never applied with objects in public.
    expect: {
      exit: [0, 3, 6],
      line: /0004_hostile\.sql line 1: .*search_path|0004_hostile \(up\) failed .*changed search_path to .*it was rolled back/,
      after: (ctx, [r], expect, { before, after }) => {
        expect(after.objects.filter((o) => o.startsWith('public ')), 'created in public instead of DATABASE_SCHEMA').toEqual([]);
        if (r!.status === 6 || r!.status === 3) expect(after).toEqual(before);
        else expect(after.objects).toContain(`table hx_${ctx.token}_escaped`);
      },
    },
  };
}

const txLine = (line: number, what: RegExp | string) => new RegExp(`${TAG}\\.sql line ${line}: ".*${typeof what === 'string' ? what : what.source}.*" controls the transaction.*sluice:no-transaction`);
const bomOk: Expect['after'] = (_ctx, [r], expect, { before, after }) => {
  if (r!.status === 0) expect(after.objects).toContain('table hx_bom');
  else {
    expect(after).toEqual(before);
    expect(r!.stderr, 'a refusal of a BOM should say so, not point at an invisible character').toMatch(/BOM|byte.order mark|U\+FEFF/i);
  }
};
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const crlf = (s: string) => s.replace(/\n/g, '\r\n');
/**
 * homarr's shape around a parent's rebuild (drizzle's 12 steps), `copy` its copy step, on a parent and
 * a child (ON DELETE CASCADE) made with a row each before the run. Accepted (`fails` null): the child's
 * row survives the parent's DROP (foreign keys were off), the parent has its new column, the version
 * row is written. Else refused with `fails`, nothing changed.
 */
function homarrRebuild(copy: string, fails: RegExp | null): Case {
  const up = ['COMMIT TRANSACTION;', 'PRAGMA foreign_keys = OFF;', 'BEGIN TRANSACTION;', 'CREATE TABLE __hx_p_new (id integer PRIMARY KEY, v text);', copy, 'DROP TABLE hx_p;', 'ALTER TABLE __hx_p_new RENAME TO hx_p;', 'COMMIT TRANSACTION;', 'PRAGMA foreign_keys = ON;', 'BEGIN TRANSACTION;'].join(BP);
  const base = fails ? refusedUp('sqlite', "homarr's rebuild shape failing midway leaves nothing", up, 3, fails) : accepted('sqlite', "homarr's COMMIT; PRAGMA foreign_keys = OFF; BEGIN; rebuild; COMMIT; PRAGMA foreign_keys = ON; BEGIN;", up, null, async (ctx, expect) => {
    expect(await ctx.query('SELECT id, p FROM hx_c')).toEqual([{ id: 1, p: 1 }]);
    expect(await ctx.query('SELECT id, v FROM hx_p')).toEqual([{ id: 1, v: null }]);
    expect(await ctx.query("SELECT revision FROM sluice_version WHERE revision = '0004_hostile'")).toEqual([{ revision: '0004_hostile' }]);
  });
  return {
    ...base,
    setup: async (ctx) => {
      for (const sql of ['CREATE TABLE hx_p (id integer PRIMARY KEY)', 'CREATE TABLE hx_c (id integer, p integer REFERENCES hx_p (id) ON DELETE CASCADE)', 'INSERT INTO hx_p VALUES (1)', 'INSERT INTO hx_c VALUES (1, 1)']) await ctx.query(sql);
      await base.setup!(ctx);
    },
  };
}
const mkfifo = (file: string) => execFileSync('mkfifo', [file]);
/** A file beside the migration folder (in the case's own folder) that must never run. */
const outside = (ctx: Ctx) => {
  const f = path.join(ctx.dir, 'outside.sql');
  writeFileSync(f, 'DELETE FROM users;\nCREATE TABLE hx_outside (id int);');
  return f;
};

export const FILE_CASES: Case[] = [
  // --- transaction control, in many spellings: refused before anything runs (exit 6, file and line named)
  refusedUp('postgresql', 'commit work in lower case, trailing comment', `INSERT INTO users (email) VALUES ('hx3@x');${BP}commit work; -- done\nINSERT INTO users (email) VALUES ('hx4@x');`, 6, txLine(3, 'commit work')),
  refusedUp('postgresql', 'CoMmIt between block comments on one line with two inserts', `INSERT INTO users (email) VALUES ('hx3@x'); /* c */ CoMmIt /* c */; INSERT INTO users (email) VALUES ('hx4@x');`, 6, txLine(1, 'CoMmIt')),
  refusedUp('postgresql', 'START TRANSACTION ISOLATION LEVEL SERIALIZABLE', `CREATE TABLE hx_t (id int);${BP}START TRANSACTION ISOLATION LEVEL SERIALIZABLE;`, 6, txLine(3, 'START TRANSACTION')),
  refusedUp('postgresql', 'SET SESSION CHARACTERISTICS AS TRANSACTION', `SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;\nCREATE TABLE hx_t (id int);`, 6, txLine(1, 'SET SESSION CHARACTERISTICS')),
  refusedUp('postgresql', 'the no-transaction marker in a string, a dollar quote and a block comment does not count', `SELECT '-- sluice:no-transaction', $q$\n-- sluice:no-transaction\n$q$;\n/* -- sluice:no-transaction */\nINSERT INTO users (email) VALUES ('hx3@x');\nCOMMIT;`, 6, txLine(6, 'COMMIT')),
  refusedDown('postgresql', 'ROLLBACK in a down file', `DROP TABLE hx_t;\nROLLBACK;`, 6, /0004_hostile\.down\.sql line 2: "ROLLBACK" controls the transaction/),
  refusedUp('sqlite', 'begin deferred transaction in lower case', `begin deferred transaction;\nINSERT INTO users (email) VALUES ('hx3@x');`, 6, txLine(1, 'begin deferred')),
  refusedUp('sqlite', 'commit wrapped in block comments', `INSERT INTO users (email) VALUES ('hx3@x');/*x*/commit/*y*/;SELECT * FROM no_such_table;`, 6, txLine(1, 'commit')),
  refusedUp('sqlite', 'SAVEPOINT and ROLLBACK TO', `SAVEPOINT a;\nINSERT INTO users (email) VALUES ('hx3@x');\nROLLBACK TRANSACTION TO SAVEPOINT a;`, 6, txLine(1, 'SAVEPOINT')),
  refusedUp('sqlite', 'the no-transaction marker in a string and a block comment does not count', `SELECT '-- sluice:no-transaction';\n/* -- sluice:no-transaction */\nINSERT INTO users (email) VALUES ('hx3@x');\nCOMMIT;`, 6, txLine(4, 'COMMIT')),

  // --- COMMIT where the parser cannot see it (PL/pgSQL): PostgreSQL rejects it inside sluice's transaction, the revision rolls back
  refusedUp('postgresql', 'COMMIT inside a DO block', `INSERT INTO users (email) VALUES ('hx3@x');${BP}DO $$ BEGIN INSERT INTO users (email) VALUES ('hx4@x'); COMMIT; END $$;`, 3, /0004_hostile \(up\) failed at statement 2\/2 \(DO .*invalid transaction termination.*Rolled back: the database is at 0003_add_phone_to_users/),
  refusedUp('postgresql', 'a procedure that commits, then CALL', `CREATE PROCEDURE hx_p() LANGUAGE plpgsql AS $$ BEGIN INSERT INTO users (email) VALUES ('hx3@x'); COMMIT; END $$;${BP}CALL hx_p();`, 3, /failed at statement 2\/2 \(CALL hx_p\(\)\).*invalid transaction termination.*Rolled back/),

  // --- breakpoint markers where they are not statements: inert
  // --- a file wrapped whole in a plain BEGIN … COMMIT (real histories have them): the body runs in sluice's own transaction
  accepted('postgresql', 'a file wrapped whole in begin … commit', `begin;\nCREATE TABLE hx_w (id int);${BP}INSERT INTO hx_w VALUES (1);\nCOMMIT;`, null, async (ctx, expect) => expect(await ctx.query('SELECT id FROM hx_w')).toEqual([{ id: 1 }])),
  accepted('sqlite', 'a file wrapped whole in BEGIN TRANSACTION … END', `BEGIN TRANSACTION;\nCREATE TABLE hx_w (id int);\nINSERT INTO hx_w VALUES (1);\nEND;`, null, async (ctx, expect) => expect(await ctx.query('SELECT id FROM hx_w')).toEqual([{ id: 1 }])),
  refusedUp('postgresql', 'a wrapped file failing midway leaves nothing', `BEGIN;\nCREATE TABLE hx_w (id int);${BP}INSERT INTO hx_no_such VALUES (1);${BP}COMMIT;`, 3, /0004_hostile.*failed at statement 2\/2/),
  refusedUp('sqlite', 'a wrapped file failing midway leaves nothing', `BEGIN;\nCREATE TABLE hx_w (id int);\nINSERT INTO hx_no_such VALUES (1);\nCOMMIT;`, 3, /0004_hostile.*failed at statement 2\/2/),
  // --- a file leaving drizzle's transaction first (COMMIT) and opening one for it last (BEGIN), as homarr's history does around a rebuild:
  // the body runs in sluice's transaction, foreign keys off around it (a child row survives its parent's rebuild), or rolls back whole
  homarrRebuild('INSERT INTO __hx_p_new SELECT id, NULL FROM hx_p;', null),
  homarrRebuild('INSERT INTO hx_no_such SELECT id FROM hx_p;', /0004_hostile \(up\) failed at statement \d+\/\d+ \(INSERT INTO hx_no_such.*Rolled back: the database is at 0003_add_phone_to_users/),
  accepted('postgresql', 'COMMIT first and BEGIN last around a plain body', `COMMIT;${BP}CREATE TABLE hx_e (id int);${BP}INSERT INTO hx_e VALUES (1);${BP}BEGIN;`, null, async (ctx, expect) => expect(await ctx.query('SELECT id FROM hx_e')).toEqual([{ id: 1 }])),
  accepted('sqlite', 'a no-transaction file whose first statement is COMMIT', `-- sluice:no-transaction\nCOMMIT;\nCREATE TABLE hx_n (id int);\nINSERT INTO hx_n VALUES (1);`, null, async (ctx, expect) => expect(await ctx.query('SELECT id FROM hx_n')).toEqual([{ id: 1 }])),
  accepted('postgresql', "a DELETE from drizzle's own migrations table, absent on a database sluice made", `CREATE TABLE hx_g (id int);${BP}DELETE FROM drizzle.__drizzle_migrations WHERE hash IN ('0020_x');`, null, async (ctx, expect) => expect(await tablesNamed(ctx, 'hx_g')).toEqual(['hx_g'])),
  // --- a statement PostgreSQL refuses inside a transaction block makes the file non-transactional, as the marker does (its COMMIT escapes drizzle's transaction)
  accepted('postgresql', 'CREATE INDEX CONCURRENTLY after a COMMIT, without the marker', `COMMIT;${BP}CREATE INDEX CONCURRENTLY hx_ix ON users (email);`, `DROP INDEX CONCURRENTLY hx_ix;`, async (ctx, expect) =>
    expect(await ctx.query("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'hx_ix'")).toEqual([])),
  // --- a non-transactional file ending inside a transaction it opened: that transaction and the version row are kept
  ...(['postgresql', 'sqlite'] as const).map((d) =>
    accepted(d, 'a no-transaction file that ends after BEGIN without COMMIT', `-- sluice:no-transaction\nCREATE TABLE hx_o (id int);\nBEGIN;\nINSERT INTO hx_o VALUES (1);`, null, async (ctx, expect) => {
      expect(await ctx.query('SELECT id FROM hx_o')).toEqual([{ id: 1 }]);
      expect(await ctx.query("SELECT revision FROM sluice_version WHERE revision = '0004_hostile'")).toEqual([{ revision: '0004_hostile' }]);
    }),
  ),
  accepted('postgresql', 'breakpoint markers inside dollar quotes', `CREATE TABLE hx_inert (v text);${BP}INSERT INTO hx_inert VALUES ($$\n--> statement-breakpoint\nDELETE FROM users;$$), ($tag$--> statement-breakpoint DROP TABLE users;$tag$);`, null, async (ctx, expect) => {
    expect((await ctx.query<{ v: string }>('SELECT v FROM hx_inert ORDER BY v')).map((r) => r.v)).toEqual(['\n--> statement-breakpoint\nDELETE FROM users;', '--> statement-breakpoint DROP TABLE users;']);
  }),
  accepted('postgresql', 'a breakpoint marker inside a quoted identifier', `CREATE TABLE "hx--> statement-breakpoint DELETE" (id int);`, `DROP TABLE "hx--> statement-breakpoint DELETE";`, async (ctx, expect) => expect(await tablesNamed(ctx, 'hx%')).toEqual([])),
  accepted('sqlite', 'breakpoint markers inside "quoted", [bracketed] and `backticked` identifiers', `CREATE TABLE "hx_q--> statement-breakpoint DELETE FROM users;" ([c--> statement-breakpoint DROP TABLE users;] int, \`d--> statement-breakpoint\` int);`, null, async (ctx, expect) => {
    expect(await tablesNamed(ctx, 'hx_q%')).toEqual(['hx_q--> statement-breakpoint DELETE FROM users;']);
  }),
  accepted('sqlite', 'a breakpoint marker and SQL inside a block comment', `/*\n--> statement-breakpoint\nDELETE FROM users;\n*/\nCREATE TABLE hx_c (id int);`, null, async (ctx, expect) => expect(await tablesNamed(ctx, 'hx_c')).toEqual(['hx_c'])),
  accepted('sqlite', 'a breakpoint marker inside a string of a down file', 'CREATE TABLE hx_t (id int);', `DROP TABLE hx_t;${BP}SELECT '\n--> statement-breakpoint\nDELETE FROM users;\n';`, async (ctx, expect) => expect(await tablesNamed(ctx, 'hx_t')).toEqual([])),

  // --- bytes: NUL, invalid UTF-8, BOM, CRLF, a huge line, nothing at all
  refusedUp('postgresql', 'a NUL byte inside a string literal', Buffer.concat([Buffer.from("INSERT INTO users (email) VALUES ('hx"), Buffer.from([0]), Buffer.from("@x');")]), 4, /0004_hostile\.sql holds a NUL byte at offset 37/),
  refusedDown('sqlite', 'a NUL byte in a down file', Buffer.concat([Buffer.from('DROP TABLE hx_t;\n'), Buffer.from([0]), Buffer.from('DELETE FROM users;')]), 4, /0004_hostile\.down\.sql holds a NUL byte at offset 17/),
  refusedUp('postgresql', 'an overlong UTF-8 encoding of "/"', Buffer.concat([Buffer.from("INSERT INTO users (email) VALUES ('hx"), Buffer.from([0xc0, 0xaf]), Buffer.from("@x');")]), 4, /0004_hostile\.sql is not valid UTF-8 \(byte offset 37\)/),
  refusedUp('sqlite', 'a UTF-8-encoded surrogate in a comment', Buffer.concat([Buffer.from('-- '), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from("\nINSERT INTO users (email) VALUES ('hx3@x');")]), 4, /not valid UTF-8 \(byte offset 3\)/),
  { ...refusedUp('postgresql', 'a UTF-8 byte-order mark', Buffer.concat([BOM, Buffer.from('CREATE TABLE hx_bom (id int);')]), 0, /./), expect: { exit: [0, 4, 6], line: /0004_hostile\.sql/, after: bomOk } },
  { ...refusedUp('sqlite', 'a UTF-8 byte-order mark', Buffer.concat([BOM, Buffer.from('CREATE TABLE hx_bom (id int);')]), 0, /./), expect: { exit: [0, 4, 6], line: /0004_hostile\.sql/, after: bomOk } },
  accepted('postgresql', 'CRLF line endings, also inside a DO body and a dollar quote', crlf(`CREATE TABLE hx_crlf (v text);${BP}DO $$\nBEGIN\n  INSERT INTO hx_crlf VALUES ('do');\nEND $$;${BP}INSERT INTO hx_crlf VALUES ($$a\nb$$);`), crlf(`DROP TABLE hx_crlf;`), async (ctx, expect) => expect(await tablesNamed(ctx, 'hx_crlf')).toEqual([])),
  accepted('sqlite', 'CRLF line endings with a no-transaction marker that manages its own transaction', crlf(`-- sluice:no-transaction\nBEGIN;\nCREATE TABLE hx_crlf (v text);\nINSERT INTO hx_crlf VALUES ('a');\nCOMMIT;`), null, async (ctx, expect) => expect(await ctx.query('SELECT v FROM hx_crlf')).toEqual([{ v: 'a' }])),
  accepted('postgresql', 'a 2 MB single line', `CREATE TABLE hx_big (v text);${BP}INSERT INTO hx_big VALUES ${Array.from({ length: 2_000 }, (_, i) => `('${i}')`).join(', ')}, ('${'x'.repeat(2_000_000)}');`, null, async (ctx, expect) => {
    expect(Number((await ctx.query<{ n: string }>('SELECT count(*) AS n FROM hx_big'))[0]!.n)).toBe(2_001);
  }),
  accepted('sqlite', 'a 2 MB single line', `CREATE TABLE hx_big (v text);${BP}INSERT INTO hx_big VALUES ${Array.from({ length: 2_000 }, (_, i) => `('${i}')`).join(', ')}, ('${'x'.repeat(2_000_000)}');`, null, async (ctx, expect) => {
    expect((await ctx.query('SELECT count(*) AS n FROM hx_big'))[0]).toEqual({ n: 2_001 });
  }),
  accepted('postgresql', 'an empty up and an empty down (0 bytes)', '', '', async (ctx, expect) => expect((await ctx.query<{ r: string }>('SELECT revision AS r FROM sluice_version ORDER BY 1')).at(-1)!.r).toBe(HEAD)),
  accepted('sqlite', 'comment-only up and down', '-- nothing to do\n/* nor here */\n', '-- sluice:down 0004_hostile\n-- message: nothing\n', async (ctx, expect) => expect((await ctx.query<{ r: string }>('SELECT revision AS r FROM sluice_version ORDER BY 1')).at(-1)!.r).toBe(HEAD)),

  // --- SQL the parser cannot read: refused before anything runs
  refusedUp('postgresql', 'a misspelt keyword after valid statements', `INSERT INTO users (email) VALUES ('hx3@x');${BP}CREAT TABLE hx_t (id int);`, 6, /0004_hostile\.sql line 3: syntax error at or near "CREAT" \(PostgreSQL's parser cannot read it/),
  refusedUp('sqlite', 'an unterminated string', `INSERT INTO users (email) VALUES ('hx3@x');\nINSERT INTO users (email) VALUES ('hx4@x);`, 6, /0004_hostile\.sql line \d+: .*the SQLite parser cannot read it/),
  refusedUp('postgresql', 'an unterminated dollar quote', `INSERT INTO users (email) VALUES ('hx3@x');\nDO $$ BEGIN DELETE FROM users;`, 6, /0004_hostile\.sql line \d+: unterminated dollar-quoted string/),

  // --- schema scoping: search_path changes refused, public. qualifiers translated
  refusedUp('postgresql', 'set SEARCH_PATH in mixed case', `set SEARCH_PATH = public, pg_catalog;\nCREATE TABLE hx_t (id int);`, 6, /0004_hostile\.sql line 1: "set SEARCH_PATH = public, pg_catalog" changes search_path/),
  searchPathEscape('RESET ALL resets search_path', 'RESET ALL;'),
  searchPathEscape("set_config('search_path') in a SELECT", "SELECT set_config('search_path', 'public', true);"),
  searchPathEscape('SET search_path run by EXECUTE in a DO block', "DO $$ BEGIN EXECUTE 'SET LOCAL search_path TO public'; END $$;"),
  {
    // statement by statement with nothing to roll back: the check follows each one, so the table after it never runs
    ...searchPathEscape('set_config in a no-transaction revision', "-- sluice:no-transaction\nSELECT set_config('search_path', 'public', false);"),
    expect: {
      exit: 3,
      line: /0004_hostile \(up\) failed at statement 1\/2 \(SELECT set_config.*changed search_path to public, .*sluice stopped before its next statement.*statements 1-1 of it ran and were NOT rolled back/,
      after: (_ctx, _runs, expect, { before, after }) => void expect(after).toEqual(before),
    },
  },
  {
    ...accepted('postgresql', 'public. qualifiers in every spelling land in DATABASE_SCHEMA; strings and values after ON CONFLICT … DO untouched', '', null, async () => {}),
    ownDatabase: true,
    setup: (ctx) => {
      const t = (s: string) => `hx_${ctx.token}_${s}`;
      ctx.addRevision(
        'hostile',
        [
          `CREATE TABLE public.${t('q1')} (v text);`,
          `CREATE TABLE "public"."${t('q2')}" (id int PRIMARY KEY, v text);`,
          `CREATE TABLE PUBLIC /* c */ . ${t('q3')} (id int);`,
          `INSERT INTO public.${t('q1')} VALUES ('public.users -- "public".x');`,
          `DO $$ BEGIN CREATE TABLE public.${t('q4')} (id int); END $$;`,
          // ON CONFLICT … DO is no DO block: the dollar-quoted value after it is data, kept as written
          ...[1, 2].map(() => `INSERT INTO "public"."${t('q2')}" VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET v = $v$ public.kept $v$;`),
        ].join(BP),
        'SELECT 1;',
      );
    },
    expect: {
      exit: 0,
      after: async (ctx, _r, expect, { after }) => {
        expect(after.objects.filter((o) => o.startsWith('public ')), 'created in public').toEqual([]);
        expect(await tablesNamed(ctx, `hx\\_${ctx.token}\\_q%`)).toEqual(['q1', 'q2', 'q3', 'q4'].map((s) => `hx_${ctx.token}_${s}`));
        expect(await ctx.query(`SELECT v FROM hx_${ctx.token}_q1`)).toEqual([{ v: 'public.users -- "public".x' }]);
        expect(await ctx.query(`SELECT v FROM hx_${ctx.token}_q2`)).toEqual([{ v: ' public.kept ' }]);
      },
    },
  },
  { ...refusedUp('postgresql', '"PUBLIC" quoted in upper case is another schema', (ctx) => `CREATE TABLE "PUBLIC".hx_${ctx.token}_up (id int);`, 3, /failed at statement 1\/1 .*schema "PUBLIC" does not exist.*Rolled back/), ownDatabase: true },

  // --- files that are not regular files inside the folder
  {
    ...refusedUp('postgresql', 'an up file that is a symlink to /etc/passwd', { place: (_ctx, up) => symlinkSync('/etc/passwd', up) }, 4, /0004_hostile\.sql points outside the migration folder/),
    expect: { exit: 4, line: /0004_hostile\.sql points outside the migration folder/, unchanged: true, after: (_ctx, [r], expect) => expect(r!.stdout + r!.stderr).not.toMatch(/root:/) },
  },
  refusedUp('sqlite', 'an up file that is a symlink to a file beside the folder', { place: (ctx, up) => symlinkSync(path.relative(ctx.folder, outside(ctx)), up) }, 4, /0004_hostile\.sql points outside the migration folder/),
  refusedUp('sqlite', 'an up file that is a symlink to a symlink inside the folder that leads out', {
    place: (ctx, up) => {
      symlinkSync(outside(ctx), path.join(ctx.folder, 'inside.sql'));
      symlinkSync('inside.sql', up);
    },
  }, 4, /0004_hostile\.sql points outside the migration folder/),
  accepted('sqlite', 'an up file that is a symlink to a file inside the folder', {
    place: (ctx, up) => {
      mkdirSync(path.join(ctx.folder, 'shared'));
      writeFileSync(path.join(ctx.folder, 'shared', 'linked.sql'), 'CREATE TABLE hx_linked (id int);');
      symlinkSync('shared/linked.sql', up);
    },
  }, null, async (ctx, expect) => expect(await tablesNamed(ctx, 'hx_linked')).toEqual(['hx_linked'])),
  refusedUp('postgresql', 'an up file that is a directory', { place: (_ctx, up) => mkdirSync(up) }, 4, /0004_hostile\.sql is not a regular file \(a directory\)/),
  refusedUp('sqlite', 'an up file that is a FIFO', { place: (_ctx, up) => mkfifo(up) }, 4, /0004_hostile\.sql is not a regular file \(a special file\)/),
  refusedDown('postgresql', 'a down file that is a FIFO', { place: (_ctx, down) => mkfifo(down) }, 4, /0004_hostile\.down\.sql is not a regular file \(a special file\)/),

  // --- the journal
  ...journalCases(),
];

function journalCases(): Case[] {
  /** The journal edited by `edit` (entries of the example's four revisions plus 0004_hostile), then `args`. */
  const journal = (d: Dialect, name: string, edit: (j: { entries: Record<string, unknown>[] }, ctx: Ctx) => unknown, exit: number, line: RegExp, args = ['up']): Case => ({
    name,
    category: 'files',
    dialect: d,
    setup: (ctx) => {
      ctx.addRevision('hostile', 'CREATE TABLE hx_t (id int);', 'DROP TABLE hx_t;');
      ctx.writeJournal(edit(ctx.journal() as unknown as { entries: Record<string, unknown>[] }, ctx));
    },
    run: (ctx) => ctx.cli(args),
    expect: { exit, line, unchanged: true },
  });
  const J = /meta\/_journal\.json/.source;
  return [
    journal('sqlite', 'the same tag twice, apart', (j) => ({ ...j, entries: [...j.entries.slice(0, 4), { ...j.entries[1], idx: 4 }, { ...j.entries[4], idx: 5 }] }), 4, new RegExp(`${J} lists revision 0001_add_audits twice \\(entries 1 and 4\\)`)),
    journal('postgresql', 'entries out of idx order', (j) => ({ ...j, entries: [j.entries[0], j.entries[2], j.entries[1], j.entries[3], j.entries[4]] }), 4, /comes after .*order the entries by idx/),
    journal('sqlite', 'a journal cut in the middle (not JSON)', (_j, ctx) => JSON.stringify(ctx.journal()).slice(0, 150), 2, new RegExp(`${J} is not valid JSON`)),
    journal('postgresql', 'an empty journal file', () => '', 2, new RegExp(`${J} is not valid JSON`)),
    journal('postgresql', 'a journal that is JSON null', () => 'null', 2, new RegExp(`${J} (has no valid "entries" list|is not)`)),
    {
      ...journal('sqlite', 'a tag with ../ naming a file outside the folder', (j) => ({ ...j, entries: j.entries.map((e, i) => (i === 4 ? { ...e, tag: '../hx_outside' } : e)) }), 4, /hx_outside.*(outside the migration folder|not a revision|tag)/),
      setup: (ctx) => {
        ctx.addRevision('hostile', 'CREATE TABLE hx_t (id int);', 'DROP TABLE hx_t;');
        const j = ctx.journal();
        j.entries[4]!.tag = '../hx_outside';
        ctx.writeJournal(j);
        writeFileSync(path.join(ctx.folder, '..', 'hx_outside.sql'), 'DELETE FROM users;\nCREATE TABLE hx_outside (id int);');
      },
      expect: { exit: [2, 4], line: /hx_outside/, unchanged: true },
    },
    {
      ...journal('postgresql', 'an up file the journal lists but the folder lacks', (j) => j, 4, /up SQL of revision 0004_hostile is missing: .*0004_hostile\.sql/),
      setup: (ctx) => {
        ctx.addRevision('hostile', 'CREATE TABLE hx_t (id int);', 'DROP TABLE hx_t;');
        rmSync(path.join(ctx.folder, `${TAG}.sql`));
      },
    },
    {
      // Real histories have revisions added by hand without a snapshot: on SQLite that one down is read
      // from the real states the scratch run saw, and verified (a corrupt snapshot still stops
      // everything: errors.test.ts; on PostgreSQL what no repair mends stays flagged: proven.test.ts).
      name: 'a missing snapshot: that revision\'s down is read from the real states and verified',
      category: 'files',
      dialect: 'sqlite',
      setup: (ctx) => {
        ctx.addRevision('hostile', 'CREATE TABLE hx_t (id int);', null);
        rmSync(path.join(ctx.folder, 'meta', '0004_snapshot.json'));
      },
      run: (ctx) => ctx.cli(['downs']),
      expect: {
        exit: 0,
        unchanged: true,
        after: (ctx, _r, expect) => {
          const down = readFileSync(path.join(ctx.folder, `${TAG}.down.sql`), 'utf8');
          expect(down).toMatch(/^-- sluice:verified by running it on a scratch database/m);
          expect(down).toMatch(/^-- WARNING: read from the real schema before and after the up[^\n]*\nPRAGMA foreign_keys=OFF;\n--> statement-breakpoint\nDROP TABLE "hx_t";\n/m);
          expect(down).not.toMatch(/manual-down-required/);
        },
      },
    },
  ];
}
