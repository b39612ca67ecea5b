/** Unusual names end to end on real databases: schemas, identifiers, paths, messages (a hunt's findings). */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { addRevision, describeFor, dialectEnvs, expectOneLineError, makeProject, pgUrl, runCli, sql, uniqueSchema, type Env } from '../support/project.js';

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
