/**
 * Hostile battery: messages (MSG), environment values and revision targets. Messages go through
 * real generation (drizzle-kit, seconds), so one revision is generated once in its own project copy
 * and both dialects' message cases use it; the other cases are refusals that must change nothing and
 * print one line, without the password.
 */
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pgUrl, REPO } from '../support/project.js';
import { HEAD, MARKER, projectCopy, PW, pwUrl, waitFor, type Case, type Ctx, type Dialect, type Ran } from './hostile-battery.js';
import { admin, pgShape, qi } from './hostile-db.js';

// ---------------------------------------------------------------- messages

/**
 * One MSG with everything: the breakpoint marker followed by SQL, newlines (LF, CRLF, U+2028, U+2029,
 * NEL), quotes, $( ), backticks, control characters (ESC, BEL), unicode, 2000 characters in all.
 */
const MSG = `add notes --> statement-breakpoint\nDELETE FROM users; -- $(touch hx_pwned) \`touch hx_pwned2\` 'q' "dq" \x1b[31mred\x07\r\n--> statement-breakpoint\nDROP TABLE users; téléphone 电话 🚀\u2028--> statement-breakpoint\u2029DELETE FROM users;\u0085\t${'é'.repeat(2000)}`.slice(0, 2000);

let messages: { dir: string; made?: Promise<{ cli: Ran; tag: string }> } | undefined;
/**
 * The messages' own project copy. Generation uses its drizzle.config.ts (drizzle-kit needs it); the
 * other commands a plain .mjs naming the same folders (SLUICE_CONFIG), which is not compiled again
 * for every DATABASE_URL.
 */
function messagesProject(): string {
  if (!messages) {
    const dir = projectCopy();
    writeFileSync(path.join(dir, 'sluice.config.mjs'), "export const dialects = { sqlite: { schema: './models/sqlite.ts', out: './drizzle/sqlite' }, postgresql: { schema: './models/postgres.ts', out: './drizzle/postgresql' } };\n");
    messages = { dir };
  }
  return messages.dir;
}
/** Once (generation runs drizzle-kit per dialect: seconds): `create --empty -m MSG` through the CLI, MSG one argv element. */
function generated(ctx: Ctx): Promise<{ cli: Ran; tag: string }> {
  const dir = messagesProject();
  return (messages!.made ??= (async () => {
    // (no down verification: the message is what these cases read, and a scratch replay of both dialects costs CI seconds)
    const cli = await ctx.cli(['create', '--empty', '-m', MSG], { cwd: dir, env: { DATABASE_URL: undefined, DATABASE_SCHEMA: undefined, SLUICE_CONFIG: undefined, SLUICE_VERIFY: 'off' } });
    const tag = readdirSync(path.join(dir, 'drizzle', 'sqlite')).find((f) => /^0004_.*\.down\.sql$/.test(f))?.replace('.down.sql', '') ?? '(none)';
    return { cli, tag };
  })());
}

/** The generated revision: its down header holds MSG as one comment line; up, history and down run nothing of it. */
function messageCase(d: Dialect): Case {
  return {
    name: 'MSG with the marker and SQL, newlines, quotes, $( ), backticks, control characters, unicode, 2000 characters: one comment line; up and down delete nothing',
    category: 'messages',
    dialect: d,
    project: messagesProject,
    start: 'none',
    setup: async (ctx) => {
      ctx.env.SLUICE_CONFIG = 'sluice.config.mjs';
      await generated(ctx);
      const r = await ctx.cli(['up', HEAD]);
      if (r.status !== 0) throw new Error(r.stderr);
      await ctx.query("INSERT INTO users (email, name) VALUES ('hx1@example.com', 'one'), ('hx2@example.com', 'two')");
    },
    run: async (ctx) => [(await generated(ctx)).cli, await ctx.cli(['up']), await ctx.cli(['history']), await ctx.cli(['down'])],
    expect: {
      exit: 0,
      after: async (ctx, [, up, history, down], expect) => {
        const { tag } = await generated(ctx);
        expect(tag).toMatch(/^0004_add_notes_statement_breakpoint_delete_from_users_/);
        expect(tag.length, 'the slug is bounded').toBeLessThanOrEqual(65);
        const file = readFileSync(path.join(ctx.root, 'drizzle', d, `${tag}.down.sql`), 'utf8');
        expect(file.split('\n').filter((l) => l.startsWith('-- message: ')), 'one message line').toHaveLength(1);
        expect(file.split('\n').filter((l) => l.trim() && !l.startsWith('--')), 'down lines that are not comments').toEqual([]);
        expect(file).not.toMatch(/[\x1b\x07\r\u2028\u2029\u0085]/);
        expect(file).not.toContain('--> statement-breakpoint');
        expect(up!.stdout).toMatch(new RegExp(`${tag} applied`));
        expect(history!.stdout.split('\n').filter((l) => l.includes('téléphone')), 'history shows the message on one line').toHaveLength(1);
        expect(history!.stdout).not.toMatch(/[\x1b\x07\u2028\u2029\u0085]/);
        expect(down!.stdout).toMatch(new RegExp(`${tag} reverted`));
        expect(Number((await ctx.query<{ n: string }>('SELECT count(*) AS n FROM users'))[0]!.n), 'user rows').toBe(2);
        expect(existsSync(path.join(ctx.root, 'hx_pwned')) || existsSync(path.join(ctx.root, 'hx_pwned2')), '$( ) or backticks ran').toBe(false);
      },
    },
  };
}

// one dialect: the message goes into both dialects' files whichever database the case applies them
// to, and trust-files.test.ts applies a marker-holding MSG's revision on both
const MESSAGE_CASES: Case[] = [
  messageCase('sqlite'),
  ...[
    ['a MSG of punctuation and control characters only', '!!! \x1b\x07 --> ;;'],
    ['an empty MSG', ''],
    ['a MSG of white space and newlines only', ' \n\t\r\n '],
  ].map(([name, msg]): Case => ({
    name: name!,
    category: 'messages',
    dialect: 'sqlite',
    start: 'none',
    run: (ctx) => ctx.cli(['create', '-m', msg!]),
    expect: {
      exit: 2,
      line: /MSG must contain letters or digits|message/,
      unchanged: true,
      after: (ctx, _r, expect) => expect(readdirSync(ctx.folder).filter((f) => f.startsWith('0004'))).toEqual([]),
    },
  })),
];

// ---------------------------------------------------------------- environment

/** A command run with `env` on top of the case's, refused with `exit` and `line`; nothing created or changed anywhere. */
function envCase(d: Dialect, name: string, env: Ctx['env'] | ((ctx: Ctx) => Ctx['env']), exit: number, line: RegExp, args = ['up'], extra: Partial<Case['expect']> = {}): Case {
  return {
    name,
    category: 'env',
    dialect: d,
    start: 'none',
    run: (ctx) => ctx.cli(args, { env: typeof env === 'function' ? env(ctx) : env }),
    expect: { exit, line, unchanged: true, ...extra },
  };
}
const closedPort = () => `127.0.0.1:1`;
const db = () => new URL(pgUrl()).pathname;

const ENV_CASES: Case[] = [
  envCase('postgresql', 'DATABASE_URL that does not parse', { DATABASE_URL: `postgres://app:${encodeURIComponent(PW)}@[bad/db` }, 2, /DATABASE_URL is not a valid URL/),
  envCase('postgresql', 'DATABASE_URL of an unsupported database, with a password', { DATABASE_URL: `mysql://root:${encodeURIComponent(PW)}@127.0.0.1/db` }, 2, /DATABASE_URL "mysql:…" is not supported/),
  envCase('postgresql', 'DATABASE_URL without a host', { DATABASE_URL: `postgres://app:${MARKER}x@:5432/db` }, 2, /DATABASE_URL (has no host|is not a valid URL)/),
  envCase('postgresql', 'password in userinfo, server refusing', () => ({ DATABASE_URL: `postgres://app:${encodeURIComponent(PW)}@${closedPort()}${db()}` }), 5, /cannot connect to postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/\S+: connection refused/),
  envCase('postgresql', 'password in ?password= and ?sslpassword=, status --json', () => ({ DATABASE_URL: `postgres://app@${closedPort()}${db()}?sslmode=disable&sslpassword=${MARKER}2&password=${encodeURIComponent(PW)}` }), 5, /./, ['--json', 'status'], {
    manyLines: true,
    after: (_ctx, [r], expect) => expect(JSON.parse(r!.stdout)).toMatchObject({ code: 5, error: expect.stringMatching(/password=\*\*\*.*connection refused/) }),
  }),
  envCase('postgresql', 'raw @ and : in the password, --verbose (stack traces)', () => ({ DATABASE_URL: `postgres://app:${MARKER}@:x@${closedPort()}${db()}` }), 5, /./, ['--verbose', 'up'], { manyLines: true }),
  envCase('postgresql', 'raw / in the password', { DATABASE_URL: `postgres://app:12/${MARKER}@127.0.0.1:1/db` }, 2, /percent-encode/),
  // a malformed URL (exit 2) or a refused connection (exit 5): either way one line, never "internal error"
  {
    ...envCase('postgresql', 'a password with a broken %-escape and unicode', () => ({ DATABASE_URL: `postgres://app:${MARKER}%zz%E2%82%AC€@${closedPort()}${db()}` }), 5, /./, ['status']),
    expect: { exit: [2, 5], line: /DATABASE_URL.*percent|cannot connect/, unchanged: true },
  },
  {
    name: 'the password in userinfo and ?password= against the real server: --verbose --json up and history',
    category: 'env',
    dialect: 'postgresql',
    start: 'none',
    run: async (ctx) => [
      await ctx.cli(['--verbose', '--json', 'up'], { env: { DATABASE_URL: `${pwUrl()}?password=${encodeURIComponent(PW)}&application_name=sluice` } }),
      await ctx.cli(['--verbose', 'history'], { env: { DATABASE_URL: pwUrl({ where: 'query' }) } }),
    ],
    expect: { exit: 0, after: (_ctx, [up], expect) => expect(JSON.parse(up!.stdout)).toMatchObject({ to: HEAD }) },
  },
  {
    name: 'psql with the password in ?password=',
    category: 'env',
    dialect: 'postgresql',
    start: 'none',
    run: (ctx) => ctx.cli(['db', 'connect', '--', '-X', '-A', '-t', '-c', 'select pg_sleep(0.5)'], { env: { DATABASE_URL: pwUrl({ where: 'query' }) } }),
    expect: { exit: 0, watchArgv: /^psql$/ },
  },
  // db-test and migrate-check's pg_dump with a password, and psql with one in the userinfo: their
  // argv is watched in trust-secrets.test.ts (the same commands; run here too, they cost ~20 s of CI)
  envCase('sqlite', 'file: naming no file', { DATABASE_URL: 'file:' }, 2, /DATABASE_URL names no SQLite file/),
  envCase('sqlite', 'a SQLite file in a folder that does not exist', (ctx) => ({ DATABASE_URL: `sqlite:${ctx.dir}/no/such/dir/x.sqlite` }), 2, /folder .*no\/such\/dir of the SQLite file does not exist/),
  ...['PG_Catalog', 'Information_Schema'].map((s) => envCase('postgresql', `DATABASE_SCHEMA=${s} (a system schema)`, { DATABASE_SCHEMA: s }, 2, new RegExp(`DATABASE_SCHEMA=${s} is a PostgreSQL system schema`))),
  envCase('postgresql', 'DATABASE_SCHEMA with a quote and SQL', { DATABASE_SCHEMA: 'app"; DROP SCHEMA public CASCADE; --' }, 2, /DATABASE_SCHEMA "app"; DROP SCHEMA public CASCADE; --" is not a plain identifier/),
  envCase('postgresql', 'DATABASE_SCHEMA of 64 characters', { DATABASE_SCHEMA: `hx_${'s'.repeat(61)}` }, 2, /is not a plain identifier.*at most 63 characters/),
  envCase('postgresql', 'DATABASE_SCHEMA with unicode', { DATABASE_SCHEMA: 'sch\u00e9ma' }, 2, /DATABASE_SCHEMA "sch\?ma" is not a plain identifier/),
  {
    name: 'DATABASE_SCHEMA of exactly 63 characters is used as given',
    category: 'env',
    dialect: 'postgresql',
    start: 'none',
    run: (ctx) => ctx.cli(['up'], { env: { DATABASE_SCHEMA: (ctx.env.DATABASE_SCHEMA = `${ctx.schema}_${'x'.repeat(63)}`.slice(0, 63)) } }),
    expect: {
      exit: 0,
      after: async (ctx, _r, expect) => {
        const s = await pgShape(ctx.env.DATABASE_SCHEMA!);
        expect(s.versions).toHaveLength(4);
        await admin().query(`DROP SCHEMA ${qi(ctx.env.DATABASE_SCHEMA!)} CASCADE`);
      },
    },
  },
  {
    name: 'DATABASE_SCHEMA empty or blank is the default, public (README), in a database of its own',
    category: 'env',
    dialect: 'postgresql',
    ownDatabase: true,
    start: 'none',
    run: async (ctx) => [await ctx.cli(['up'], { env: { DATABASE_SCHEMA: '' } }), await ctx.cli(['status'], { env: { DATABASE_SCHEMA: '   ' } })],
    expect: {
      exit: 0,
      after: async (ctx, [up, st], expect) => {
        expect(up!.stdout).toMatch(/\(schema public\): base -> 0003_add_phone_to_users/);
        expect(st!.stdout).toMatch(/\(schema public\)[\s\S]*current:\s+0003_add_phone_to_users/);
        expect((await pgShape('public', undefined, ctx.database)).versions).toHaveLength(4);
      },
    },
  },
  envCase('sqlite', 'SLUICE_LOCK_WAIT=abc', { SLUICE_LOCK_WAIT: 'abc' }, 2, /SLUICE_LOCK_WAIT must be a number of seconds/),
  envCase('postgresql', 'SLUICE_LOCK_WAIT=-1', { SLUICE_LOCK_WAIT: '-1' }, 2, /SLUICE_LOCK_WAIT must be a number of seconds/),
  envCase('sqlite', 'SLUICE_LOCK_WAIT=Infinity', { SLUICE_LOCK_WAIT: 'Infinity' }, 2, /SLUICE_LOCK_WAIT must be a number of seconds/, ['stamp', 'head']),
  envCase('postgresql', 'SLUICE_CONNECT_TIMEOUT=abc', { SLUICE_CONNECT_TIMEOUT: 'abc' }, 2, /SLUICE_CONNECT_TIMEOUT must be a .*number of seconds/),
  {
    ...envCase('postgresql', 'SLUICE_CONNECT_TIMEOUT=1e9 (a long but valid timeout) on a reachable server', { SLUICE_CONNECT_TIMEOUT: '1e9' }, 0, /SLUICE_CONNECT_TIMEOUT/),
    expect: { exit: [0, 2], line: /SLUICE_CONNECT_TIMEOUT/ },
  },
  envCase('postgresql', 'SLUICE_LOCK_TIMEOUT holding a quote and SQL', { SLUICE_LOCK_TIMEOUT: "1s'; DROP SCHEMA public CASCADE; --" }, 2, /invalid session setting \(SLUICE_LOCK_TIMEOUT \/ SLUICE_STATEMENT_TIMEOUT\): invalid value for parameter "lock_timeout"/, ['up'], {
    after: async (_ctx, _r, expect) => expect((await admin().query("SELECT 1 FROM pg_namespace WHERE nspname = 'public'")).rowCount).toBe(1),
  }),
  envCase('postgresql', 'SLUICE_STATEMENT_TIMEOUT=forever', { SLUICE_STATEMENT_TIMEOUT: 'forever' }, 2, /invalid session setting .*statement_timeout/),
];

// ---------------------------------------------------------------- targets

/** The database at 0002 with two user rows; `args` is refused (or is a no-op) and changes nothing. */
function target(d: Dialect, name: string, args: string[], exit: number | number[], line: RegExp, extra: Partial<Case> = {}): Case {
  return { name, category: 'targets', dialect: d, start: 2, run: (ctx) => ctx.cli(args), expect: { exit, line, unchanged: true }, ...extra };
}
const UNKNOWN = (name: string) => new RegExp(`unknown revision "${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`);

const TARGET_CASES: Case[] = [
  target('sqlite', "up ''", ['up', ''], 2, /empty revision; give head, base, \+N, -N, a tag or a number \(or leave it out for head\)/),
  target('postgresql', "stamp ''", ['stamp', ''], 2, /empty revision/),
  target('sqlite', 'up head+1', ['up', 'head+1'], 2, UNKNOWN('head+1')),
  target('postgresql', 'down -0 (a no-op or refused)', ['down', '-0'], [0, 2], /-0/),
  target('sqlite', 'up +0 (a no-op or refused)', ['up', '+0'], [0, 2], /\+0/),
  target('sqlite', 'down -- -- (the revision "--")', ['down', '--', '--'], 2, UNKNOWN('--')),
  {
    ...target('sqlite', 'make migrate-down REVISION=-- (one argument, not the end of options)', ['migrate-down', 'REVISION=--'], 2, UNKNOWN('--')),
    project: () => {
      const dir = projectCopy();
      // the copy's dist is the build under test: make must not rebuild it because src/ moved on meanwhile
      utimesSync(path.join(dir, 'dist', '.built'), new Date(), new Date());
      return dir;
    },
    run: async (ctx) => {
      // make installs (npm ci) when npm's install record is missing, and the copy's node_modules is a
      // link to this checkout's: never run it while something else is reinstalling them
      await waitFor('node_modules/.package-lock.json', () => existsSync(path.join(REPO, 'node_modules', '.package-lock.json')), 120_000, 250);
      return ctx.cli(['migrate-down', 'REVISION=--'], { via: 'make', timeoutMs: 150_000 });
    },
  },
  target('postgresql', 'down ../x', ['down', '../x'], 2, UNKNOWN('../x')),
  { ...target('sqlite', 'show ../../../../etc/passwd', ['show', '../../../../etc/passwd'], 2, UNKNOWN('../../../../etc/passwd')), expect: { exit: 2, line: UNKNOWN('../../../../etc/passwd'), unchanged: true, after: (_c, [r], expect) => expect(r!.stdout + r!.stderr).not.toMatch(/root:/) } },
  target('postgresql', 'a tag with a zero-width space', ['up', `${HEAD}\u200b`], 2, new RegExp(`unknown revision "${HEAD}\u200b"; did you mean ${HEAD}`)),
  target('postgresql', 'a 10000-character name', ['up', 'x'.repeat(10_000)], 2, /unknown revision "x{10000}"/),
  {
    ...target('sqlite', 'an ambiguous number: two revisions numbered 0004', ['up', '4'], 2, /revision "4" is ambiguous: it matches 0004_a, 0004_b/),
    setup: (ctx) => {
      ctx.addRevision('a', 'SELECT 1;', 'SELECT 1;');
      renameTag(ctx, ctx.addRevision('b', 'SELECT 1;', 'SELECT 1;'), '0004_b');
    },
  },
  {
    ...target('postgresql', 'an ambiguous prefix', ['up', '0004_add'], 2, /revision "0004_add" is ambiguous: it matches 0004_add_x, 0004_add_y/),
    setup: (ctx) => {
      ctx.addRevision('add_x', 'SELECT 1;', 'SELECT 1;');
      renameTag(ctx, ctx.addRevision('add_y', 'SELECT 1;', 'SELECT 1;'), '0004_add_y');
    },
  },
  target('sqlite', 'a number past head', ['up', '9'], 2, UNKNOWN('9')),
  target('postgresql', 'a relative target past head by 10^20', ['up', '+99999999999999999999'], 2, /\+99999999999999999999 is past head/),
  target('sqlite', 'stamp with SQL in the name', ['stamp', 'head; DROP TABLE users'], 2, UNKNOWN('head; DROP TABLE users')),
  target('postgresql', 'up -1 (below the current revision)', ['up', '-1'], 2, /is below the current revision 0002_add_sessions_and_roles; use migrate-down/),
];

/** Give a revision another tag (its files follow). */
function renameTag(ctx: Ctx, from: string, to: string): void {
  const j = ctx.journal();
  j.entries.find((e) => e.tag === from)!.tag = to;
  ctx.writeJournal(j);
  for (const ext of ['.sql', '.down.sql']) {
    const text = readFileSync(path.join(ctx.folder, `${from}${ext}`));
    writeFileSync(path.join(ctx.folder, `${to}${ext}`), text);
  }
}

export const INPUT_CASES: Case[] = [...MESSAGE_CASES, ...ENV_CASES, ...TARGET_CASES];
