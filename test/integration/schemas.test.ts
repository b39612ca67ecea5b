/** PostgreSQL schema scoping: the same files in two schemas of one database, public untouched. */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { downgrade, status, upgrade } from '../../dist/index.js';
import { addRevision, pgDescribe, makeProject, pgUrl, sql, uniqueSchema } from '../support/project.js';

pgDescribe('schema-scoped PostgreSQL', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeProject();
  });

  const objectsIn = async (schema: string) =>
    (
      await sql<{ n: string }>(
        dir,
        { DATABASE_URL: pgUrl() },
        `SELECT c.relname AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1
         UNION ALL SELECT t.typname FROM pg_type t JOIN pg_namespace s ON s.oid = t.typnamespace WHERE s.nspname = $1 AND t.typtype = 'e'
         ORDER BY 1`,
        [schema],
      )
    ).map((r) => r.n);

  it('keeps two schemas isolated and leaves public empty', async () => {
    const a = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('tenant_a') };
    const b = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('tenant_b') };
    const publicBefore = await objectsIn('public');
    await upgrade({ cwd: dir, env: a });
    await upgrade({ cwd: dir, env: b, revision: '0001' });
    expect(await objectsIn(a.DATABASE_SCHEMA)).toEqual(expect.arrayContaining(['audits', 'role', 'sessions', 'sluice_version', 'submissions', 'users']));
    expect(await objectsIn(b.DATABASE_SCHEMA)).toEqual(expect.arrayContaining(['audits', 'sluice_version', 'submissions', 'users']));
    expect(await objectsIn(b.DATABASE_SCHEMA)).not.toContain('sessions');
    // foreign keys point inside their own schema
    const fks = await sql<{ def: string }>(
      dir,
      a,
      `SELECT pg_get_constraintdef(c.oid, true) AS def FROM pg_constraint c JOIN pg_namespace s ON s.oid = c.connamespace WHERE s.nspname = $1 AND c.contype = 'f'`,
      [b.DATABASE_SCHEMA],
    );
    expect(fks.length).toBeGreaterThan(0);
    for (const fk of fks) expect(fk.def).toContain(`REFERENCES ${b.DATABASE_SCHEMA}.users(id)`);
    expect((await status({ cwd: dir, env: a })).current).toBe('0003_add_phone_to_users');
    expect((await status({ cwd: dir, env: b })).current).toBe('0001_add_audits');
    await downgrade({ cwd: dir, env: a, revision: 'base' });
    expect(await objectsIn(a.DATABASE_SCHEMA)).toEqual(['sluice_version', 'sluice_version_pkey']);
    expect(await objectsIn(b.DATABASE_SCHEMA)).toEqual(expect.arrayContaining(['audits', 'users']));
    expect(await objectsIn('public')).toEqual(publicBefore);
    expect(publicBefore).toEqual([]);
  });

  it('a first up refused before any revision runs creates nothing: no schema, no sluice_version', async () => {
    const refused = makeProject();
    const file = path.join(refused, 'drizzle', 'postgresql', '0002_add_sessions_and_roles.sql');
    const original = readFileSync(file, 'utf8');
    const exists = async (env: Record<string, string>) => (await sql(refused, env, 'SELECT 1 FROM pg_namespace WHERE nspname = $1', [env.DATABASE_SCHEMA])).length > 0;
    // a no-transaction revision under --single-transaction (exit 2), then an up the parser cannot read (exit 6)
    writeFileSync(file, `-- sluice:no-transaction\n${original}`);
    const a = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('refused') };
    await expect(upgrade({ cwd: refused, env: a, singleTransaction: true })).rejects.toThrow(/no-transaction; it cannot run with --single-transaction/);
    expect(await exists(a)).toBe(false);
    writeFileSync(file, `${original}\nCREATE TABLLE oops (;\n`);
    const b = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('refused') };
    await expect(upgrade({ cwd: refused, env: b })).rejects.toThrow(/syntax error at or near "TABLLE"/);
    expect(await exists(b)).toBe(false);
    // a schema that was there before the run is kept, only the version table the run made goes
    await sql(refused, { DATABASE_URL: pgUrl() }, `CREATE SCHEMA "${b.DATABASE_SCHEMA}"`);
    await expect(upgrade({ cwd: refused, env: b })).rejects.toThrow(/TABLLE/);
    expect(await exists(b)).toBe(true);
    expect(await objectsIn(b.DATABASE_SCHEMA)).toEqual([]);
    // and the run that is not refused applies as usual
    writeFileSync(file, original);
    expect((await upgrade({ cwd: refused, env: b })).steps.every((s) => s.status === 'applied')).toBe(true);
  });

  it("objects drizzle-kit moves to public (`SET SCHEMA public`, from a pgSchema to pgTable) land in DATABASE_SCHEMA, and their down moves them back", async () => {
    const moved = makeProject();
    const other = uniqueSchema('other');
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('tenant_m') };
    addRevision(moved, 'postgresql', 'into_other', `CREATE SCHEMA "${other}";\n--> statement-breakpoint\nCREATE TYPE "${other}"."mood" AS ENUM('a', 'b');\n--> statement-breakpoint\nCREATE SEQUENCE "${other}"."ctr";\n--> statement-breakpoint\nCREATE TABLE "${other}"."moved" ("id" integer, "m" "${other}"."mood");\n`, `DROP TABLE "${other}"."moved";\n--> statement-breakpoint\nDROP SEQUENCE "${other}"."ctr";\n--> statement-breakpoint\nDROP TYPE "${other}"."mood";\n--> statement-breakpoint\nDROP SCHEMA "${other}";\n`);
    // drizzle-kit's own spellings: the table's and the sequence's target bare, the enum's quoted
    addRevision(moved, 'postgresql', 'to_public', `ALTER TABLE "${other}"."moved" SET SCHEMA public;\n--> statement-breakpoint\nALTER TYPE "${other}"."mood" SET SCHEMA "public";\n--> statement-breakpoint\nALTER SEQUENCE "${other}"."ctr" SET SCHEMA public;\n`, `ALTER TABLE "public"."moved" SET SCHEMA "${other}";\n--> statement-breakpoint\nALTER TYPE "public"."mood" SET SCHEMA "${other}";\n--> statement-breakpoint\nALTER SEQUENCE "public"."ctr" SET SCHEMA "${other}";\n`);
    const publicBefore = await objectsIn('public');
    await upgrade({ cwd: moved, env });
    expect(await objectsIn('public')).toEqual(publicBefore); // was: moved, mood and ctr in public, "applied"
    expect(await objectsIn(env.DATABASE_SCHEMA)).toEqual(expect.arrayContaining(['ctr', 'mood', 'moved']));
    expect(await objectsIn(other)).toEqual([]);
    await downgrade({ cwd: moved, env }); // was: relation "<schema>.moved" does not exist
    expect(await objectsIn(other)).toEqual(['ctr', 'mood', 'moved']);
    expect(await objectsIn(env.DATABASE_SCHEMA)).not.toContain('moved');
    await downgrade({ cwd: moved, env, revision: 'base' });
    expect(await objectsIn('public')).toEqual(publicBefore);
  });

  it('a U&"…" qualifier spelling public (escaped or not) names DATABASE_SCHEMA, in DO bodies and downs too', async () => {
    const escaped = makeProject();
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('tenant_u') };
    addRevision(
      escaped,
      'postgresql',
      'unicode_names',
      `CREATE TABLE U&"public".ut (id int, s text);\n--> statement-breakpoint\nINSERT INTO u&"\\0070ublic"."ut" VALUES (1, 'é€'), (2, U&'public.\\0078');\n--> statement-breakpoint\nDO $$ BEGIN INSERT INTO U&"\\+000070ublic".ut VALUES (3, 'public.y'); END $$;\n`,
      'DROP TABLE U&"\\0070ublic".ut;\n',
    );
    const publicBefore = await objectsIn('public');
    await upgrade({ cwd: escaped, env });
    expect(await objectsIn('public')).toEqual(publicBefore); // was: ut made in public, "applied"
    expect(await sql(escaped, env, `SELECT id, s FROM "${env.DATABASE_SCHEMA}".ut ORDER BY id`)).toEqual([
      { id: 1, s: 'é€' },
      { id: 2, s: 'public.x' },
      { id: 3, s: 'public.y' },
    ]);
    await downgrade({ cwd: escaped, env });
    expect(await objectsIn(env.DATABASE_SCHEMA)).not.toContain('ut');
  });

  it('status on a schema that does not exist creates nothing', async () => {
    const env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('ghost') };
    expect(await status({ cwd: dir, env })).toMatchObject({ current: 'base', applied: 0 });
    const rows = await sql(dir, env, 'SELECT 1 FROM pg_namespace WHERE nspname = $1', [env.DATABASE_SCHEMA]);
    expect(rows).toEqual([]);
  });
});
