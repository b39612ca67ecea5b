/** Unusual names end to end on real databases: schemas, identifiers, paths, messages (a hunt's findings). */
import { expect, it } from 'vitest';
import { describeFor, makeProject, pgUrl, runCli, sql, uniqueSchema, type Env } from '../support/project.js';

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
