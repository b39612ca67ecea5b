import { defineConfig } from 'drizzle-kit';

/**
 * The one configuration for drizzle-kit and sluice.
 *
 * The example app keeps one model set and one migration history per dialect, in lockstep:
 * `make migrate-create` generates a revision for every dialect listed in `dialects`, and the
 * history targets act on whichever database DATABASE_URL names (unset: the SQLite file ./db.sqlite).
 */
export const dialects = {
  sqlite: { schema: './models/sqlite.ts', out: './drizzle/sqlite' },
  postgresql: { schema: './models/postgres.ts', out: './drizzle/postgresql' },
} as const;

const url = process.env.DATABASE_URL ?? '';
const dialect: keyof typeof dialects =
  (process.env.SLUICE_DIALECT as keyof typeof dialects | undefined) ??
  (/^postgres(ql)?:/.test(url) ? 'postgresql' : 'sqlite');

export default defineConfig({
  dialect,
  ...dialects[dialect],
  breakpoints: true,
  dbCredentials: { url: url || 'file:./db.sqlite' },
});
