/** Types of bench/generate.mjs, for the tests that import it (test/integration/single-later.test.ts). */
export interface GeneratedProject {
  dir: string;
  out: string;
  upSql: string;
  downSql: string;
  /** The same ups, each revision in its own transaction with a version row: the floor of sluice's default mode. */
  perRevisionSql: (nowText: string) => string;
  /** The downs, newest first, each revision in its own transaction deleting its version row. */
  perRevisionDownSql: string;
}
/** Write a project folder (drizzle.config.ts + history) for `n` revisions of `dialect`. */
export function generateProject(dir: string, dialect: 'postgresql' | 'sqlite', n: number): GeneratedProject;
