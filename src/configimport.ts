/**
 * Importing a TypeScript drizzle.config.ts when its cached description cannot be used (a fresh
 * clone, a CI deploy, an edited config).
 *
 * tsx costs ~280 ms here for that: ~90 ms to load, then esbuild's service process. A config that
 * imports only packages (`drizzle-kit`, `dotenv/config`, `node:` modules: what drizzle's docs show)
 * has its types stripped by sucrase instead (~80 ms with its load; it changes nothing else) and is
 * imported from a module file in sluice's cache folder, inside the project's nearest node_modules, so
 * its imports resolve from the same node_modules. Everything else goes through tsx, as before: a
 * relative import, tsconfig `paths`, a dynamic import, import.meta, __dirname, require or module.exports,
 * a `.cts` config, text sucrase or the lexer cannot read, or a package Node.js cannot load without a
 * TypeScript loader (found while loading, before any of the config's code runs).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { pruneCacheFiles, sluiceCacheDir } from './cachedir.js';
import { sha256 } from './hash.js';

/** Stripped config modules kept per cache folder (one per text of a config), the most recently written. */
const CONFIG_MODULES_KEPT = 16;

export type ImportedConfig = Record<string, unknown>;

/** CommonJS-isms and file-relative values: the stripped module would not mean the same thing. */
const NEEDS_TSX = /\b(?:__dirname|__filename|require\s*\(|module\.exports|exports\.)|\bimport\s*\.\s*meta\b/;

/** Node.js's own loading errors (resolution, file types, formats): thrown before the config's code runs. */
const LOADING = /^ERR_(?:MODULE_NOT_FOUND|UNKNOWN_FILE_EXTENSION|UNSUPPORTED_DIR_IMPORT|UNSUPPORTED_ESM_URL_SCHEME|PACKAGE_PATH_NOT_EXPORTED|PACKAGE_IMPORT_NOT_DEFINED|INVALID_MODULE_SPECIFIER|UNKNOWN_MODULE_FORMAT|REQUIRE_ESM)$/;

let loads = 0;

/** The config module's exports (through tsx when the quick path does not apply). */
export async function importTypeScriptConfig(configFile: string): Promise<ImportedConfig> {
  const quick = /\.(?:ts|mts)$/.test(configFile) ? await strippedModule(configFile) : undefined;
  if (quick) {
    try {
      // a URL of its own per load, as tsImport does: a process that loads the config again (its
      // environment changed) runs it again rather than getting Node's cached module
      return (await import(`${pathToFileURL(quick).href}?load=${++loads}`)) as ImportedConfig;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // a named import Node.js's CommonJS interop cannot see fails while linking, before any code runs;
      // any other SyntaxError is the config's own (JSON.parse...), thrown while it ran
      const linking = err instanceof SyntaxError && /does not provide an export named/.test(err.message);
      if (!(typeof code === 'string' && LOADING.test(code)) && !linking) throw err;
    }
  }
  const { tsImport } = await import('tsx/esm/api');
  return (await tsImport(pathToFileURL(configFile).href, import.meta.url)) as ImportedConfig;
}

/** The config without its types, as a module file in sluice's cache folder; undefined when tsx must load it. */
async function strippedModule(configFile: string): Promise<string | undefined> {
  if (process.env.SLUICE_CONFIG_LOADER === 'tsx') return undefined;
  const dir = sluiceCacheDir(path.dirname(configFile), 'config-modules');
  if (!dir) return undefined;
  let code: string;
  try {
    const text = readFileSync(configFile, 'utf8');
    if (NEEDS_TSX.test(text) || hasPathAliases(configFile)) return undefined;
    const [{ transform }, lexer] = await Promise.all([import('sucrase'), import('es-module-lexer')]);
    code = transform(text, { transforms: ['typescript'], disableESTransforms: true, filePath: configFile }).code;
    await lexer.init;
    const [imports] = lexer.parse(code);
    for (const i of imports) {
      if (i.type !== 'static' && i.type !== 'reexport-star') return undefined;
      if (!isPackage(i.specifier)) return undefined;
    }
  } catch {
    return undefined; // tsx reads it, and reports what is wrong with it
  }
  const file = path.join(dir, `${sha256(code).slice(0, 32)}.mjs`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${file}.${process.pid}`, code);
    renameSync(`${file}.${process.pid}`, file);
    pruneCacheFiles(dir, /^[0-9a-f]{32}\.mjs$/, CONFIG_MODULES_KEPT, file); // one per text of the config: bounded too
  } catch {
    return undefined; // a cache folder that cannot be written: tsx
  }
  return file;
}

/** A bare package specifier or a Node.js builtin: resolved the same from the cache folder as from the config's. */
function isPackage(specifier: string | undefined): boolean {
  if (!specifier) return false;
  if (specifier.startsWith('node:')) return true;
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return false; // file:, data:, http:
  // './x', '/x', '#x' (package imports), '~/x' and '@/x' (path aliases) are not packages
  return /^@[a-z0-9][\w.-]*\/[\w.-]/i.test(specifier) || /^[a-z0-9][\w.-]*(?:\/|$)/i.test(specifier);
}

/** tsconfig `paths` (which tsx applies, Node.js does not) in the config's folder or the working directory. */
function hasPathAliases(configFile: string): boolean {
  for (const dir of new Set([path.dirname(configFile), process.cwd()])) {
    try {
      if (/"paths"\s*:/.test(readFileSync(path.join(dir, 'tsconfig.json'), 'utf8'))) return true;
    } catch {
      /* no tsconfig.json there */
    }
  }
  return false;
}
