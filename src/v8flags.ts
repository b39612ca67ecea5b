/**
 * V8 flags the CLI process sets for itself, at the moments jit.ts names (the CLI only: a library
 * caller's process keeps its own settings).
 */
import { createRequire } from 'node:module';

/**
 * A sluice process is short: V8's top tier (TurboFan) compiling sql-parser-cst's generated parser
 * (6 MB of PEG code, some functions far above 30 KB of bytecode) in the background costs more than it
 * returns. Reading 1000 SQLite files without the parse cache took 3.9–4.0 s, 3.6 s of CPU and 380 MB,
 * most of it those compilations, which the process waits for before it exits; with functions over
 * 30 000 bytes of bytecode left to the baseline tiers (V8's default limit is 61 440): 1.3–1.4 s and
 * 125 MB. Everything else keeps TurboFan (capping the whole tier instead cost migrate-downs ~40 % more
 * CPU). The CLI process only: a library caller's process keeps its own settings. A limit given to
 * node wins; SLUICE_FULL_JIT=1 keeps V8's default. Applied just before the first large generated code
 * loads (jit.ts), not at start-up: loading `node:v8` alone costs ~3 ms.
 *
 * The same holds for WebAssembly (libpg-query's parser, PGlite's PostgreSQL): V8 recompiles a wasm
 * function with TurboFan once it has run ~1.8 MB of code (`--wasm-tiering-budget`). PostgreSQL's
 * functions are large; a migrate-create compiled them on the second core while drizzle-kit ran, and
 * then waited ~100–200 ms at exit for the compilations still running. With the budget raised to 2e9
 * a function tiers up only after a long run of its own. By hand: migrate-create verified on PGlite
 * 2.35–2.90 s → 1.54–2.10 s (blocks of 7; the exit wait: ~150 → ~45 ms); on ctrlplane (197 revisions, on
 * PGlite) db-test 5.2 and 6.8 s → 4.4 and 5.9 s, migrate-downs 11.8 and 12.1 s → 12.5 and 12.6 s
 * (this machine's noise is ±15%). Parsing 2000 PostgreSQL files 5 times over: no slower.
 */
export function limitTopTier(): void {
  const cache = globalThis as { [k: symbol]: (() => void) | undefined };
  // The bin's V8 code cache is written now if it is to be written: one made under the changed flag
  // would be rejected on the next start (src/bin.cjs).
  cache[Symbol.for('sluice.compileCache.flush')]?.();
  setTopTierLimits();
  // From here on, the package files the command loads (drizzle-kit's API, drizzle-orm, the parsers) are
  // compiled through a code cache of their own, made under the flag as it is now (src/v8modules.cjs).
  cache[Symbol.for('sluice.compileCache.modules')]?.();
}

function setTopTierLimits(): void {
  setFlags([
    ['--max-optimized-bytecode-size', '30000'],
    ['--wasm-tiering-budget', '2000000000'],
  ]);
}

/**
 * A command's short tail (jit.ts beforeShortTail): no function is optimized from here on (a bytecode
 * limit of 0), so no compile job holds the exit. Not in a run that will write the bin's code cache
 * (the first after a build): that cache is written at exit, holding the tail's functions too, under
 * the flags it will be read with (a cache made under another flag is rejected on the next start).
 */
export function noLateOptimization(): void {
  if ((globalThis as { [k: symbol]: (() => boolean) | undefined })[Symbol.for('sluice.compileCache.pending')]?.()) return;
  setFlags([['--max-optimized-bytecode-size', '0']]);
}

function setFlags(wanted: string[][]): void {
  if (process.env.SLUICE_FULL_JIT === '1') return;
  if (Number(process.versions.v8.split('.')[0]) < 11) return; // an older V8 may not know the flags (it would print an error)
  const flags = wanted.filter(([flag]) => !process.execArgv.some((a) => a.replace(/_/g, '-').startsWith(flag!))); // one given to node wins (V8 takes either spelling)
  if (!flags.length) return;
  const v8 = createRequire(import.meta.url)('node:v8') as typeof import('node:v8');
  for (const [flag, value] of flags) v8.setFlagsFromString(`${flag}=${value}`);
}
