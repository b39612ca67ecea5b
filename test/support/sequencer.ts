/**
 * The order the test files start in: the longest first, by the seconds each took in a whole run (the
 * table below), so that no long file starts last and runs alone while the other workers are idle.
 *
 * Why not Vitest's own order: it sorts by the durations it cached in node_modules/.vite, which a fresh
 * clone (CI) does not have. It then starts the largest files first, by bytes, and hostile.test.ts (a
 * 3 KB file driving 131 cases, about a minute) started among the last. A file the table does not list
 * (a new one) starts first, as Vitest starts files it knows nothing about.
 *
 * The figures need only be roughly right (these: a whole run in a checkout on 2026-12-07, 19:29 UTC, three
 * files at a time on 2 cores, so longer than each file alone). To refresh them:
 * `npx vitest run --reporter=default --reporter=json --outputFile=/tmp/vitest.json`, then each file's
 * endTime - startTime in seconds.
 */
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const SECONDS: Readonly<Record<string, number>> = {
  'test/integration/merge.test.ts': 121,
  'test/integration/errors.test.ts': 105,
  'test/integration/tsmigrations.test.ts': 103,
  'test/integration/trust-usage.test.ts': 101,
  'test/integration/verify.test.ts': 93,
  'test/integration/proven.test.ts': 88,
  'test/integration/reliability.test.ts': 87,
  'test/integration/replay.test.ts': 71,
  'test/integration/make.test.ts': 63,
  'test/integration/configcache.test.ts': 59,
  'test/integration/hostile.test.ts': 55,
  'test/integration/install.test.ts': 53,
  'test/integration/trust-sqlite.test.ts': 50,
  'test/integration/signals.test.ts': 47,
  'test/integration/scratch-cleanup.test.ts': 45,
  'test/integration/checksums.test.ts': 44,
  'test/integration/faithful.test.ts': 44,
  'test/integration/signals-commands.test.ts': 43,
  'test/integration/names.test.ts': 41,
  'test/integration/takeover.test.ts': 41,
  'test/integration/deploy.test.ts': 33,
  'test/integration/trust-files.test.ts': 33,
  'test/integration/trust-secrets.test.ts': 33,
  'test/integration/lint.test.ts': 32,
  'test/integration/single-later.test.ts': 31,
  'test/integration/polish.test.ts': 30,
  'test/integration/kitserve.test.ts': 29,
  'test/integration/offline.test.ts': 28,
  'test/integration/property.test.ts': 28,
  'test/integration/workflow.test.ts': 27,
  'test/integration/modulecache.test.ts': 26,
  'test/integration/crlf.test.ts': 25,
  'test/integration/compilecache.test.ts': 24,
  'test/integration/pgliteimage.test.ts': 20,
  'test/integration/proofahead.test.ts': 20,
  'test/integration/emptydown.test.ts': 19,
  'test/integration/init.test.ts': 18,
  'test/integration/output.test.ts': 16,
  'test/integration/tty.test.ts': 13,
  'test/integration/commentdown.test.ts': 11,
  'test/integration/dbcredentials.test.ts': 9,
  'test/integration/connerrors.test.ts': 7,
  'test/integration/sharedconnection.test.ts': 7,
  'test/integration/turso.test.ts': 7,
  'test/integration/seeddown.test.ts': 6,
  'test/integration/tsmodule.test.ts': 5,
  'test/integration/schemas.test.ts': 4,
  'test/integration/savepoints.test.ts': 3,
  'test/integration/configload.test.ts': 2,
  'test/unit/argv.test.ts': 1,
  'test/unit/cachedir.test.ts': 1,
  'test/unit/compiledtext.test.ts': 1,
  'test/unit/config.test.ts': 1,
  'test/unit/conflictmarkers.test.ts': 1,
  'test/unit/downrules.test.ts': 1,
  'test/unit/errors.test.ts': 1,
  'test/unit/extensions.test.ts': 1,
  'test/unit/fkpragmas.test.ts': 1,
  'test/unit/hash.test.ts': 1,
  'test/unit/inverse.test.ts': 1,
  'test/unit/lintnarrow.test.ts': 1,
  'test/unit/merge.test.ts': 1,
  'test/unit/renamelost.test.ts': 1,
  'test/unit/repair.test.ts': 1,
  'test/unit/restorefolder.test.ts': 1,
  'test/unit/revision-name.test.ts': 1,
  'test/unit/revision.test.ts': 1,
  'test/unit/revisionfile.test.ts': 1,
  'test/unit/secrets.test.ts': 1,
  'test/unit/sqlitecopy.test.ts': 1,
  'test/unit/sqlparse.test.ts': 1,
  'test/unit/sqlschemas.test.ts': 1,
  'test/unit/statedown.test.ts': 1,
  'test/unit/tagparts.test.ts': 1,
  'test/unit/transactionopen.test.ts': 1,
  'test/unit/unawaited.test.ts': 1,
  'test/unit/wrapping.test.ts': 1,
};

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const seconds = (f: TestSpecification): number => SECONDS[path.relative(root, f.moduleId).split(path.sep).join('/')] ?? Number.MAX_SAFE_INTEGER;
    return [...files].sort((a, b) => seconds(b) - seconds(a));
  }
}
