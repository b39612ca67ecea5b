/**
 * A hook run once, before the first large generated code loads (the SQLite parser, drizzle-kit's API,
 * PGlite, the PostgreSQL parser). The CLI registers its V8 settings here (cli.ts, limitTopTier)
 * instead of applying them at start-up: loading `node:v8` costs every command ~3 ms, and the settings
 * only matter to that code. V8 reads the bytecode limit when it decides to optimize a function, and
 * the WebAssembly tiering budget when a module is instantiated, so setting them before that code
 * loads is as good as setting them first. Library
 * callers register nothing: their process keeps its own settings.
 */
const largeCode = onceHook();
export const beforeLargeCode = largeCode.register;
/** Called by the modules that load large generated code, just before they load it. */
export const largeCodeLoads = largeCode.run;

/**
 * A hook run once when what is left of a command is a short loop over the history and its output
 * (status: the applied-file check of every applied revision). V8 optimizes a function that runs
 * often (that loop's lstat, its Stats and path functions) on a background thread, and a Node.js
 * process cannot exit before such a compile job ends: 2-5 ms after the result is printed, for code
 * that will not run again. The CLI registers a setting that stops optimizing from there (cli.ts).
 */
const tail = onceHook();
export const beforeShortTail = tail.register;
/** Called by a command once only its short tail is left (see beforeShortTail). */
export const shortTail = tail.run;

/** A hook the CLI registers and the first `run` calls, once. */
function onceHook(): { register(fn: () => void): void; run(): void } {
  let hook: (() => void) | undefined;
  return {
    register: (fn) => {
      hook = fn;
    },
    run: () => {
      const fn = hook;
      hook = undefined;
      fn?.();
    },
  };
}
