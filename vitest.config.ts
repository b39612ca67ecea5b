import { defineConfig } from 'vitest/config';
import LongestFirst from './test/support/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/pg-global.ts', 'test/support/others-global.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The integration tests import sluice's library as users get it, from the build (dist/, which
    // `make test` makes first, and which every CLI test runs anyway), loaded by Node.js itself: through
    // Vitest's transform, src/index.ts cost each of the ~25 files importing it ~2.5 s of CPU (a
    // transform and an import of every module), dist/index.js as a plain import ~0.15 s. Unit tests
    // import src/ (small modules, no build needed).
    server: { deps: { external: [/\/dist\//] } },
    // Vitest's default is one worker on a 2-core machine; the tests mostly wait on child processes
    // (PostgreSQL, drizzle-kit, npm), so two files at a time roughly halve the wall time, and a third
    // fills what idle time is left (the whole suite on a slower 2-core machine: 720 s with two, 668 s
    // with three; `vmstat` idle ~15-35 % → ~2 %).
    maxWorkers: 3,
    // the longest files first, also in a fresh clone (test/support/sequencer.ts)
    sequence: { sequencer: LongestFirst },
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
