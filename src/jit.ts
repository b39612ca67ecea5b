/**
 * A hook run once, before the first large generated code loads (the SQLite parser, drizzle-kit's API,
 * PGlite, the PostgreSQL parser). The CLI registers its V8 settings here (cli.ts, limitTopTier)
 * instead of applying them at start-up: loading `node:v8` costs every command ~3 ms, and the settings
 * only matter to that code. V8 reads the bytecode limit when it decides to optimize a function, and
 * the WebAssembly tiering budget when a module is instantiated, so setting them before that code
 * loads is as good as setting them first. Library
 * callers register nothing: their process keeps its own settings.
 */
let hook: (() => void) | undefined;

export function beforeLargeCode(fn: () => void): void {
  hook = fn;
}

/** Called by the modules that load large generated code, just before they load it. */
export function largeCodeLoads(): void {
  const fn = hook;
  hook = undefined;
  fn?.();
}
