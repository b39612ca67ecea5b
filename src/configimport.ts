/**
 * Importing a TypeScript drizzle.config.ts when its cached description cannot be used (a fresh
 * clone, a CI deploy, an edited config).
 *
 * tsx costs ~280 ms here for that: ~90 ms to load, then esbuild's service process. A config that
 * imports only packages (`drizzle-kit`, `dotenv/config`, `node:` modules: what drizzle's docs show)
 * has its types stripped by sucrase instead (~80 ms with its load; it changes nothing else) and is
 * imported from a module file in sluice's cache folder, inside the project's nearest node_modules, so
 * its imports resolve from the same node_modules. Everything else goes through tsx, as before: a
 * relative import, a workspace package (linked into node_modules from a project folder), tsconfig
 * `paths`, a dynamic import, import.meta, __dirname, require or module.exports, a `.cts` config, text
 * sucrase or the lexer cannot read, or a package Node.js cannot load without a TypeScript loader (found
 * while loading, before any of the config's code runs).
 *
 * Each way reports the project files the config loaded, for the config cache (src/configrecord.ts).
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pruneCacheFiles, sluiceCacheDir, writeAtomically } from './cachedir.js';
import { bundledBuild } from './bundledbuild.js';
import { sha256 } from './hash.js';
import { withoutBom } from './bom.js';

/** Stripped config modules kept per cache folder (one per text of a config), the most recently written. */
const CONFIG_MODULES_KEPT = 16;

export type ImportedConfig = Record<string, unknown>;

/** The config's exports, and the project files it loaded (undefined: they cannot be known). */
export interface LoadedConfig {
  mod: ImportedConfig;
  files: string[] | undefined;
}

/** CommonJS-isms and file-relative values: the stripped module would not mean the same thing. */
const NEEDS_TSX = /\b(?:__dirname|__filename|require\s*\(|module\.exports|exports\.)|\bimport\s*\.\s*meta\b/;

/** Node.js's own loading errors (resolution, file types, formats): thrown before the config's code runs. */
const LOADING = /^ERR_(?:MODULE_NOT_FOUND|UNKNOWN_FILE_EXTENSION|UNSUPPORTED_DIR_IMPORT|UNSUPPORTED_ESM_URL_SCHEME|PACKAGE_PATH_NOT_EXPORTED|PACKAGE_IMPORT_NOT_DEFINED|INVALID_MODULE_SPECIFIER|UNKNOWN_MODULE_FORMAT|REQUIRE_ESM)$/;

let loads = 0;

/**
 * The config module's exports (through tsx when the quick path does not apply), and the project files
 * it loaded: none on the quick path (it imports only installed packages), every file tsx reports
 * loading (ES modules) or Node.js's CommonJS loader took in (a config in a CommonJS package) otherwise.
 */
export async function importTypeScriptConfig(configFile: string, loader: string | undefined): Promise<LoadedConfig> {
  const quick = /\.(?:ts|mts)$/.test(configFile) && loader !== 'tsx' ? await strippedModule(configFile) : undefined;
  if (quick) {
    try {
      // a URL of its own per load, as tsImport does: a process that loads the config again (its
      // environment changed) runs it again rather than getting Node's cached module
      return { mod: (await import(`${pathToFileURL(quick).href}?load=${++loads}`)) as ImportedConfig, files: [] };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // a named import Node.js's CommonJS interop cannot see fails while linking, before any code runs;
      // any other SyntaxError is the config's own (JSON.parse...), thrown while it ran
      const linking = err instanceof SyntaxError && /does not provide an export named/.test(err.message);
      if (!(typeof code === 'string' && LOADING.test(code)) && !linking) throw err;
    }
  }
  const { tsImport } = await import('tsx/esm/api');
  const urls: string[] = [];
  const { value: mod, required } = await requiring(async () => (await tsImport(pathToFileURL(configFile).href, { parentURL: import.meta.url, onImport: (u) => urls.push(u) })) as ImportedConfig);
  const loaded = [...urls.filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u.replace(/[?#].*$/s, ''))), ...required];
  return { mod, files: projectFiles(loaded, configFile) };
}

/**
 * A JavaScript config, imported as it is. Its project files are those Node.js's CommonJS loader took
 * in (a CommonJS config's `require`s); an ES module config that imports anything but installed
 * packages, or imports dynamically, has files that cannot be known (undefined).
 */
/** drizzle.config.json (drizzle-kit reads one too, when there is no .ts or .js config): its object is the default export. */
export function importJsonConfig(configFile: string): LoadedConfig {
  return { mod: { default: JSON.parse(withoutBom(readFileSync(configFile, 'utf8'))) }, files: [] };
}

export async function importJavaScriptConfig(configFile: string): Promise<LoadedConfig> {
  const { value: mod, required: loaded } = await requiring(async () => (await import(pathToFileURL(configFile).href)) as ImportedConfig);
  let known = false;
  try {
    const lexer = await import('es-module-lexer');
    await lexer.init;
    const [imports] = lexer.parse(readFileSync(configFile, 'utf8'));
    known = imports.every((i) => (i.type === 'static' || i.type === 'reexport-star') && isPackage(i.specifier) && installedPackage(i.specifier!, configFile));
  } catch {
    /* text the lexer cannot read: unknown */
  }
  return { mod, files: known ? projectFiles(loaded, configFile) : undefined };
}

/** What `load` returns, and the files Node.js's CommonJS loader took in meanwhile (absolute paths, as its cache keys them). */
async function requiring<T>(load: () => Promise<T>): Promise<{ value: T; required: string[] }> {
  const cjs = createRequire(import.meta.url).cache;
  const before = new Set(Object.keys(cjs));
  const value = await load();
  return { value, required: Object.keys(cjs).filter((k) => !before.has(k) && path.isAbsolute(k)) };
}

/** The project's own files among those loaded: not the config, not an installed package (tsx's `?namespace=` dropped). */
function projectFiles(loaded: string[], configFile: string): string[] {
  const files = new Set<string>();
  for (const f of loaded) {
    const file = f.replace(/\?.*$/s, '');
    if (file !== configFile && !file.split(path.sep).includes('node_modules')) files.add(file);
  }
  return [...files];
}

/** A config's import of a package: true when it resolves to an installed package (a workspace link to a project folder is not one). */
export function installedPackage(specifier: string, configFile: string): boolean {
  if (specifier.startsWith('node:') || isBuiltin(specifier)) return true;
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
  for (let dir = path.dirname(configFile); ; dir = path.dirname(dir)) {
    const folder = path.join(dir, 'node_modules', name);
    if (existsSync(folder)) {
      try {
        return realpathSync(folder).split(path.sep).includes('node_modules');
      } catch {
        return false;
      }
    }
    if (dir === path.dirname(dir)) return false;
  }
}

/**
 * sucrase: the bin's one-file build of it (dist/sucrase.cjs, through the bin's code cache: ~10 ms of
 * CPU instead of ~50 for its 63 files) when the installed package is the version it was built from,
 * else the package itself.
 */
async function sucrase(): Promise<Pick<typeof import('sucrase'), 'transform'>> {
  const version = () => (createRequire(import.meta.url)('sucrase/package.json') as { version?: unknown }).version;
  return bundledBuild<typeof import('sucrase')>('sucrase', version) ?? import('sucrase');
}

/** The config without its types, as a module file in sluice's cache folder; undefined when tsx must load it. */
async function strippedModule(configFile: string): Promise<string | undefined> {
  const dir = sluiceCacheDir(path.dirname(configFile), 'config-modules');
  if (!dir) return undefined;
  let code: string;
  try {
    const text = readFileSync(configFile, 'utf8');
    if (NEEDS_TSX.test(text) || hasPathAliases(configFile)) return undefined;
    const [{ transform }, lexer] = await Promise.all([sucrase(), import('es-module-lexer')]);
    code = transform(text, { transforms: ['typescript'], disableESTransforms: true, filePath: configFile }).code;
    await lexer.init;
    const [imports] = lexer.parse(code);
    for (const i of imports) {
      if (i.type !== 'static' && i.type !== 'reexport-star') return undefined;
      // a workspace package linked into node_modules is the project's own code: tsx, which reports the files it loads
      if (!isPackage(i.specifier) || !installedPackage(i.specifier!, configFile)) return undefined;
    }
  } catch {
    return undefined; // tsx reads it, and reports what is wrong with it
  }
  const file = path.join(dir, `${sha256(code).slice(0, 32)}.mjs`);
  try {
    writeAtomically(file, code);
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
