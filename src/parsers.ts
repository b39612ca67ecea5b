/**
 * The two SQL parsers sqlparse.ts reads revision files with, loaded once per process and only when a
 * command first needs one: libpg-query (PostgreSQL's parser compiled to WebAssembly) and sql-parser-cst
 * (SQLite), the latter from the bin's one-file build of it when there is one for the installed version.
 */
import { createRequire } from 'node:module';
import type { DialectName } from './config.js';
import { bundledBuild } from './bundledbuild.js';
import { largeCodeLoads } from './jit.js';

type PgModule = typeof import('libpg-query');
let pg: PgModule | undefined;
const require = createRequire(import.meta.url);

/** Load the PostgreSQL parser (WASM, ~30 ms once per process). SQLite's parser needs no loading. */
export async function loadParser(dialect: DialectName): Promise<void> {
  if (dialect !== 'postgresql' || pg) return;
  largeCodeLoads();
  // required, not imported: import() of this CommonJS file has Node.js scan it for its export names,
  // and that scan's lexer gets optimised on the way (~40–80 ms of compiler time on a second thread)
  const mod = require('libpg-query') as PgModule;
  await mod.loadModule();
  pg = mod;
}

type CstModule = typeof import('sql-parser-cst');
let cst: CstModule | undefined;
/**
 * sql-parser-cst (6.5 MB of generated parser in 121 files): the bin's one-file build of it
 * (dist/sqlparser.cjs, through the bin's code cache: ~19 ms of CPU instead of ~75) when the installed
 * package is the version it was built from, else the package itself.
 */
export function sqliteParser(): CstModule {
  if (cst) return cst;
  largeCodeLoads();
  return (cst = bundledBuild<CstModule>('sqlparser', () => (require('sql-parser-cst/package.json') as { version?: unknown }).version) ?? (require('sql-parser-cst') as CstModule));
}

/** libpg-query, once loadParser has loaded it (throws before). */
export function pgParser(): PgModule {
  if (!pg) throw new Error('PostgreSQL parser used before loadParser()');
  return pg;
}
