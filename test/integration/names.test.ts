/** Unusual names end to end on real databases: schemas, identifiers, paths, messages (a hunt's findings). */
import { spawnSync } from 'node:child_process';
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addRevision, describeFor, dialectEnvs, expectOneLineError, makeProject, pgUrl, REPO, runCli, sql, tempDir, uniqueSchema, type Env, upgradeTo } from '../support/project.js';

describeFor('postgresql')('DATABASE_SCHEMA that pg_dump prints quoted', () => {
  // found by a hunt: migrate-check's drift compared the replay's dump, its scratch schema's name replaced
  // by DATABASE_SCHEMA unquoted (`MixedCase."users"`), with the live dump, which pg_dump quotes
  // (`"MixedCase"."users"`): every line of an unchanged database was drift, exit 9
  for (const schema of [`Mixed_${uniqueSchema('Case')}`, 'order']) {
    it(`migrate-check of an unchanged database under DATABASE_SCHEMA=${schema.startsWith('Mixed') ? 'Mixed…' : schema} is no drift; a hand change still is`, async () => {
      const dir = makeProject();
      const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: schema };
      try {
        const up = runCli(dir, ['up'], env);
        expect(up.status, up.stdout + up.stderr).toBe(0);
        const [row] = await sql<{ n: number }>(dir, env, 'SELECT count(*)::int AS n FROM pg_catalog.pg_tables WHERE schemaname = $1', [schema]);
        expect(row!.n).toBeGreaterThan(1);
        const clean = runCli(dir, ['verify'], env);
        expect(clean.status, clean.stdout + clean.stderr).toBe(0);
        expect(clean.stdout).toMatch(/ok {3}drift \(postgresql\)/);
        await sql(dir, env, 'ALTER TABLE users ADD COLUMN hand_added integer');
        const r = runCli(dir, ['verify'], env);
        expect(r.status, r.stdout + r.stderr).toBe(9);
        expect(r.stdout).toMatch(/FAIL drift \(postgresql\): 1 difference/);
        expect(r.stdout).toMatch(/\+ .*hand_added/);
      } finally {
        await sql(dir, { DATABASE_URL: pgUrl() }, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      }
    });
  }
});

for (const d of ['sqlite', 'postgresql'] as const) {
  describeFor(d)(`down files saved with a byte order mark (${d})`, () => {
    // found by a hunt: a down an editor saved with a UTF-8 BOM hid its first line from the header's
    // reading, so `-- sluice:manual-down-required` there was not seen and the down ran ("reverted", exit 0);
    // so was an `-- sluice:up-checksum` of another up there
    it('a manual-down-required or a stale up-checksum on the first line still refuses the down (exit 6), nothing reverted', async () => {
      const dir = makeProject();
      const env = dialectEnvs(dir).find((e) => e.name === d)!.env;
      const tag = addRevision(dir, d, 'bom_down', 'CREATE TABLE "bom_t" ("id" integer);', 'DROP TABLE "bom_t";\n');
      const downFile = path.join(dir, 'drizzle', d, `${tag}.down.sql`);
      const up = runCli(dir, ['up', '--no-backup'], env);
      expect(up.status, up.stdout + up.stderr).toBe(0);
      const tables = async () => (await sql<{ n: number }>(dir, env, d === 'sqlite' ? "SELECT count(*) AS n FROM sqlite_master WHERE name = 'bom_t'" : "SELECT count(*)::int AS n FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'bom_t'"))[0]!.n;
      const versions = async () => (await sql<{ n: number }>(dir, env, `SELECT count(*) AS n FROM sluice_version WHERE revision = '${tag}'`))[0]!.n;
      for (const [header, pattern] of [
        ['-- sluice:manual-down-required written by hand later', /needs a hand-written down: written by hand later/],
        [`-- sluice:up-checksum ${'0'.repeat(64)} (the up this down was made for)`, /changed after its down was generated/],
      ] as const) {
        for (const eol of ['\n', '\r\n']) {
          writeFileSync(downFile, `\uFEFF${header}${eol}DROP TABLE "bom_t";${eol}`);
          const r = runCli(dir, ['down', '-1', '--no-backup'], env);
          expectOneLineError(r, 6, pattern);
          expect(await tables()).toBe(1);
          expect(Number(await versions())).toBe(1);
        }
      }
    });
  });
}

for (const d of ['sqlite', 'postgresql'] as const) {
  describeFor(d)(`migrate-lint of an up saved with a byte order mark (${d})`, () => {
    // found by a hunt: lint parsed the up with its BOM and reported `unparseable` ("sluice would refuse
    // to run it"), exit 11, for a file migrate-up runs (it drops the BOM); its own rules were not checked
    it('is read as migrate-up reads it: its findings, and no unparseable', () => {
      const dir = makeProject();
      const env = dialectEnvs(dir).find((e) => e.name === d)!.env;
      const tag = addRevision(dir, d, 'bom_up', '\uFEFFDROP TABLE "audits";\r\n', null);
      const up = runCli(dir, ['up', '--no-backup'], env);
      expect(up.status, up.stdout + up.stderr).toBe(0);
      const r = runCli(dir, ['--json', 'lint', tag], env);
      expect(r.status, r.stdout + r.stderr).toBe(11);
      const rules = (JSON.parse(r.stdout).findings as { rule: string; revision: string }[]).filter((f) => f.revision === tag).map((f) => f.rule);
      expect(rules).not.toContain('unparseable');
      expect(rules).toContain('drop-table');
    });
  });
}

describeFor('postgresql')('a PostgreSQL table whose name holds a schema name and a dot', () => {
  // found by a hunt: the catalog lines read the schema's own name as `$` wherever `<schema>.` appeared,
  // also inside a table's own name, so a table named "public.t2" was listed as `$.t2`: the down's proof
  // counted rows in relation "$.t2", which does not exist, and flagged a sound down
  // (manual-down-required; migrate-down and db-test refused it)
  it('its down is verified, db-test passes, and down reverts it with rows in it', async () => {
    const dir = tempDir('sluice-dotname-');
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    writeFileSync(path.join(dir, 'drizzle.config.ts'), "export default { dialect: 'postgresql', schema: './m.ts', out: './drizzle' };\n");
    const models = (extra: string) =>
      "import { integer, pgTable, text } from 'drizzle-orm/pg-core';\n" +
      "export const a = pgTable('public', { id: integer('id').primaryKey() });\n" +
      `export const b = pgTable('public.t2', { id: integer('id').primaryKey(), r: integer('r').references(() => a.id)${extra} });\n`;
    writeFileSync(path.join(dir, 'm.ts'), models(''));
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('dot') };
    for (const [message, extra] of [['init', ''], ['note', ", note: text('note')"]] as const) {
      writeFileSync(path.join(dir, 'm.ts'), models(extra));
      const created = runCli(dir, ['create', '-m', message], env);
      expect(created.status, created.stdout + created.stderr).toBe(0);
      expect(created.stdout, created.stdout).toMatch(/verified on a scratch database/);
      expect(created.stdout).not.toMatch(/manual down required|NOT verified/);
    }
    const check = runCli(dir, ['check'], env);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/ok {3}postgresql: every down proven, rows kept/);
    await upgradeTo(dir, env);
    await sql(dir, env, 'INSERT INTO "public" (id) VALUES (1); INSERT INTO "public.t2" (id, r, note) VALUES (1, 1, \'n\')');
    const down = runCli(dir, ['down', '-1'], env);
    expect(down.status, down.stdout + down.stderr).toBe(0);
    const rows = await sql<{ n: number }>(dir, env, 'SELECT count(*)::int AS n FROM "public.t2"');
    expect(rows[0]!.n).toBe(1);
    const cols = await sql<{ c: string }>(dir, env, "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'public.t2' ORDER BY 1");
    expect(cols.map((c) => c.c)).toEqual(['id', 'r']);
  });
});

describe('a .env saved with a byte order mark', () => {
  // found by a hunt: Node.js's .env parser took the BOM into the first name ("\uFEFFDATABASE_URL"), so
  // DATABASE_URL stayed unset and `up` migrated the default ./db.sqlite instead, exit 0
  it('its first variable counts: up migrates the file DATABASE_URL names, and nothing else', async () => {
    const dir = makeProject();
    writeFileSync(path.join(dir, '.env'), '\uFEFFDATABASE_URL=file:./from-env.sqlite\r\nSLUICE_LOCK_WAIT=5\r\n');
    const r = runCli(dir, ['up']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sqlite:from-env\.sqlite: base -> 0003_add_phone_to_users/);
    expect(existsSync(path.join(dir, 'db.sqlite'))).toBe(false);
    const rows = await sql<{ n: number }>(dir, { DATABASE_URL: 'file:./from-env.sqlite' }, 'SELECT count(*) AS n FROM sluice_version');
    expect(Number(rows[0]!.n)).toBe(4);
    // a variable set in the environment still wins over the file
    const env = runCli(dir, ['status'], { DATABASE_URL: 'file:./other.sqlite' });
    expect(env.stdout).toMatch(/database: sqlite:other\.sqlite/);
  });
});

describeFor('postgresql')('an enum value holding a parenthesis', () => {
  // found by a hunt: migrate-down's check of the enum a down re-creates read its values up to the first
  // `)`, so with 'medium (m)' the rows holding 'medium (m)' and every value after it were counted as
  // outside the enum, and a sound down was refused (exit 6, "2 row(s) still use")
  it("the down that re-creates it without the value the up added runs when no row uses that value, and is refused when one does", async () => {
    const dir = makeProject();
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('enumparen') };
    addRevision(dir, 'postgresql', 'sizes', `CREATE TYPE "size" AS ENUM('small', 'medium (m)', 'large');\n--> statement-breakpoint\nCREATE TABLE "shirts" ("id" integer PRIMARY KEY, "s" "size");`, 'DROP TABLE "shirts";\n--> statement-breakpoint\nDROP TYPE "size";');
    addRevision(
      dir,
      'postgresql',
      'xl',
      `ALTER TYPE "public"."size" ADD VALUE 'xl';`,
      [`ALTER TABLE "shirts" ALTER COLUMN "s" SET DATA TYPE text USING "s"::text;`, 'DROP TYPE "public"."size";', `CREATE TYPE "public"."size" AS ENUM('small', 'medium (m)', 'large');`, `ALTER TABLE "shirts" ALTER COLUMN "s" SET DATA TYPE "public"."size" USING "s"::"public"."size";`].join('\n--> statement-breakpoint\n'),
    );
    await upgradeTo(dir, env);
    await sql(dir, env, "INSERT INTO shirts VALUES (1, 'large'), (2, 'medium (m)'), (3, 'small'), (4, 'xl')");
    for (const args of [['down', '-1'], ['down', '-1', '--single-transaction']]) {
      const refused = runCli(dir, args, env);
      expectOneLineError(refused, 6, /re-creates enum size without values that 1 row\(s\) of shirts\.s still use/);
    }
    await sql(dir, env, "DELETE FROM shirts WHERE s = 'xl'");
    const down = runCli(dir, ['down', '-1'], env);
    expect(down.status, down.stdout + down.stderr).toBe(0);
    const [range] = await sql<{ r: string }>(dir, env, 'SELECT enum_range(NULL::size)::text AS r');
    expect(range!.r).toBe('{small,"medium (m)",large}');
    expect((await sql<{ n: number }>(dir, env, 'SELECT count(*)::int AS n FROM shirts'))[0]!.n).toBe(3);
  });
});

describeFor('postgresql')('a column whose quoted name holds a semicolon', () => {
  // found by a hunt: the check of a down that narrows a column read the statement with a pattern that
  // stopped at any `;`, also one inside a quoted name ("a;b" in its USING): the check was skipped, and
  // migrate-down (and migrate-sql's script) cut 'longer than five' to 'longe', "reverted", exit 0
  it('a narrowing down over values it would cut is refused by migrate-down and stopped in migrate-sql, nothing cut', async () => {
    const dir = makeProject();
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('semi') };
    addRevision(dir, 'postgresql', 'semi', 'CREATE TABLE "t;1" ("id" integer PRIMARY KEY, "a;b" varchar(5));', 'DROP TABLE "t;1";');
    addRevision(dir, 'postgresql', 'widen', 'ALTER TABLE "t;1" ALTER COLUMN "a;b" SET DATA TYPE varchar(20);', 'ALTER TABLE "t;1" ALTER COLUMN "a;b" SET DATA TYPE varchar(5) USING "a;b"::varchar(5);');
    await upgradeTo(dir, env);
    await sql(dir, env, `INSERT INTO "t;1" VALUES (1, 'longer than five')`);
    for (const args of [['down', '-1'], ['down', '-1', '--single-transaction']]) {
      expectOneLineError(runCli(dir, args, env), 6, /changes t;1\.a;b from character varying\(20\) to varchar\(5\), which would cut or round the values of 1 row\(s\)/);
    }
    const script = runCli(dir, ['sql', 'head:-1'], env);
    expect(script.status, script.stderr).toBe(0);
    const psql = spawnSync('psql', ['-X', '-q', '-d', env.DATABASE_URL!, '-f', '-'], { input: script.stdout, encoding: 'utf8' });
    expect(psql.stderr).toMatch(/would change the values of 1 row\(s\); stopped before it/);
    expect((await sql<{ v: string }>(dir, env, 'SELECT "a;b" AS v FROM "t;1"'))[0]!.v).toBe('longer than five');
    expect((await sql<{ n: number }>(dir, env, 'SELECT count(*)::int AS n FROM sluice_version'))[0]!.n).toBe(6);
  });
});

describeFor('postgresql')('a hand-written down that names tables and columns without quotes', () => {
  // found by a hunt: migrate-down's checks read only quoted names (drizzle-kit's), so a hand-written
  // `ALTER TABLE prices ALTER COLUMN amount TYPE numeric(10,2)` was not checked: 1.505 became 1.51,
  // "reverted", exit 0 (so was migrate-sql's script); SET NOT NULL and an enum's values likewise unchecked
  it('is checked as the quoted form: a rounding type change, SET NOT NULL over NULLs and enum values in use are refused, nothing changed', async () => {
    const dir = makeProject();
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('plain') };
    addRevision(dir, 'postgresql', 'prices', "CREATE TYPE kind AS ENUM ('a', 'b');\nCREATE TABLE prices (id int PRIMARY KEY, amount numeric(10,2), note text NOT NULL, k kind);", 'DROP TABLE prices;\nDROP TYPE kind;');
    addRevision(
      dir,
      'postgresql',
      'loosen',
      "ALTER TABLE prices ALTER COLUMN amount TYPE numeric(12,3);\nALTER TABLE prices ALTER note DROP NOT NULL;\nALTER TYPE kind ADD VALUE 'c';",
      null,
    );
    const downFile = path.join(dir, 'drizzle', 'postgresql', '0005_loosen.down.sql');
    const downs = {
      amount: 'ALTER TABLE Prices ALTER COLUMN Amount TYPE numeric(10,2);',
      note: 'ALTER TABLE ONLY public.prices ALTER COLUMN note SET NOT NULL;',
      kind: "ALTER TABLE prices ALTER COLUMN k TYPE text;\nDROP TYPE kind;\nCREATE TYPE kind AS ENUM ('a', 'b');\nALTER TABLE prices ALTER COLUMN k TYPE kind USING k::kind;",
    };
    writeFileSync(downFile, Object.values(downs).join('\n'));
    await upgradeTo(dir, env);
    await sql(dir, env, "INSERT INTO prices VALUES (1, 1.505, NULL, 'c')");
    expectOneLineError(runCli(dir, ['down', '-1'], env), 6, /changes prices\.amount from numeric\(12,3\) to numeric\(10,2\), which would cut or round the values of 1 row\(s\)/);
    await sql(dir, env, 'UPDATE prices SET amount = 1.5');
    expectOneLineError(runCli(dir, ['down', '-1'], env), 6, /sets prices\.note NOT NULL but 1 row\(s\) hold NULL there/);
    await sql(dir, env, "UPDATE prices SET note = 'n'");
    expectOneLineError(runCli(dir, ['down', '-1'], env), 6, /re-creates enum kind without values that 1 row\(s\) of prices\.k still use/);
    expect((await sql<{ a: string; k: string }>(dir, env, 'SELECT amount::text AS a, k::text AS k FROM prices'))[0]).toEqual({ a: '1.500', k: 'c' });
    await sql(dir, env, "UPDATE prices SET k = 'a'");
    const down = runCli(dir, ['down', '-1'], env);
    expect(down.status, down.stdout + down.stderr).toBe(0);
    expect((await sql<{ a: string }>(dir, env, 'SELECT amount::text AS a FROM prices'))[0]!.a).toBe('1.50');
  });
});

describeFor('postgresql')('narrowing downs of names holding a dollar sign or a double quote (migrate-down, migrate-sql)', () => {
  // found by a hunt ($): the script's check before a narrowing down spelled the table and column without
  // their `$` (kept out of its DO $sluice$ block), so "price$" was looked up as "price", not found, and
  // psql ran the down: 1.5055 rounded to 1.506 and the revision recorded reverted. Found by a review
  // (""): a quoted name holding a doubled quote did not match the check's pattern, so neither
  // migrate-down nor the script checked the down, and both rounded the values.
  it.each([
    ['a dollar sign', '"price$"', '"amount$"'],
    ['a double quote', '"pri""ces"', '"am""ount"'],
  ])('a table and a column whose names hold %s: refused, and the script stops, nothing changed', async (_what, table, column) => {
    const dir = makeProject();
    const env: Env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('oddname') };
    addRevision(dir, 'postgresql', 'price', `CREATE TABLE ${table} (${column} numeric(10,2));`, `DROP TABLE ${table};`);
    addRevision(dir, 'postgresql', 'widen', `ALTER TABLE ${table} ALTER COLUMN ${column} SET DATA TYPE numeric(14,4);`, `ALTER TABLE ${table} ALTER COLUMN ${column} SET DATA TYPE numeric(10,2);`);
    await upgradeTo(dir, env);
    await sql(dir, env, `INSERT INTO ${table} VALUES (1.5055)`);
    expectOneLineError(runCli(dir, ['down', '-1'], env), 6, /which would cut or round the values of 1 row\(s\)/);
    const script = runCli(dir, ['sql', 'head:-1'], env);
    expect(script.status, script.stderr).toBe(0);
    const psql = spawnSync('psql', ['-X', '-q', '-d', env.DATABASE_URL!, '-f', '-'], { input: script.stdout, encoding: 'utf8' });
    expect(psql.stderr).toMatch(/would change the values of 1 row\(s\); stopped before it/);
    expect((await sql<{ v: string }>(dir, env, `SELECT ${column}::text AS v FROM ${table}`))[0]!.v).toBe('1.5055');
    expect((await sql<{ n: number }>(dir, env, 'SELECT count(*)::int AS n FROM sluice_version'))[0]!.n).toBe(6);
  });
});
