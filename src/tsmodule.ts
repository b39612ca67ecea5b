/**
 * Loading a TypeScript module of the project: a revision's TypeScript part (`<tag>.ts`, tsrevision.ts)
 * and the models migrate-check compares with the history (commands/verify.ts).
 *
 * Through tsx's CommonJS hooks, in sluice's own thread: tsx's `tsImport` (its ES module hooks) costs a
 * run ~0.4 s more here (`up` with one pending TypeScript part: ~0.75 s against ~0.35 s): Node.js 20
 * runs module hooks in a worker thread of their own, which starts for the load, and every file of
 * drizzle-orm the part imports then passes through it. The part is written as an ES module; tsx
 * compiles it, and the project files it imports, to CommonJS with the same meaning for what a data
 * migration does (`import.meta.url`, `.dirname` and `.filename` are the file's; packages come from the
 * project's node_modules, by their `require` entry, or as ES modules where Node.js can require them).
 *
 * Through tsx's ES module hooks, as before, when the CommonJS way cannot mean the same:
 * - the part's own text calls `import()` (a module loaded that way at run time would not get tsx's
 *   hooks) or uses `import.meta` for anything but `url`, `dirname` and `filename`; or a project file
 *   it imports calls `import()` (found after the load: the load is done again, as below);
 * - loading it fails for a reason only an ES module has: a top-level `await`, a package that exports
 *   only to `import`, or a module Node.js cannot require (`ERR_REQUIRE_ESM`, `ERR_REQUIRE_ASYNC_MODULE`).
 *   What those files ran before (their top-level code) runs again in the second load; a failure of
 *   any other kind is the part's, reported as it is.
 *
 * Each load reads the part and the project's files it imports afresh (tsImport gave each load a
 * namespace of its own for that): a process that runs an edited part again, or a part importing an
 * edited helper, never gets the text it loaded before. Installed packages stay loaded, as Node.js keeps
 * them whichever way.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export type TypeScriptModule = Record<string, unknown>;

/** Uses in the file's own text the CommonJS way cannot give the same meaning to. */
const NEEDS_ESM = /\bimport\s*\(|\bimport\s*\.\s*meta\b(?!\s*\.\s*(?:url|dirname|filename)\b)/;

/** Failures of a load that only an ES module load avoids (see above). */
const ESM_ONLY_CODES = new Set(['ERR_REQUIRE_ESM', 'ERR_REQUIRE_ASYNC_MODULE', 'ERR_PACKAGE_PATH_NOT_EXPORTED']);

const IN_PACKAGES = `${path.sep}node_modules${path.sep}`;

/** The module's exports. `text`: the file's content (a part's, as its checksum was taken). */
export async function importTypeScript(file: string, text: string): Promise<TypeScriptModule> {
  if (!NEEDS_ESM.test(text)) {
    try {
      const { exports, files } = requireModule(file);
      // a project file it imports that calls import(): that import would not get tsx's hooks at run time
      if (!files.some((f) => f !== file && callsImport(f))) return exports;
    } catch (err) {
      if (!esmOnly(err)) throw err;
    }
  }
  const { tsImport } = await import('tsx/esm/api');
  return (await tsImport(pathToFileURL(file).href, import.meta.url)) as TypeScriptModule;
}

/** The module's exports, and the project's files the load read (the file, its helpers, its models). */
function requireModule(file: string): { exports: TypeScriptModule; files: string[] } {
  const req = createRequire(import.meta.url);
  const { register } = req('tsx/cjs/api') as typeof import('tsx/cjs/api');
  const before = new Set(Object.keys(req.cache));
  delete req.cache[file];
  const files: string[] = [];
  const unregister = register();
  try {
    return { exports: req(file) as TypeScriptModule, files };
  } finally {
    unregister();
    // read again by the next load
    for (const key of Object.keys(req.cache)) {
      if (before.has(key) || key.includes(IN_PACKAGES)) continue;
      delete req.cache[key];
      files.push(key);
    }
  }
}

function callsImport(file: string): boolean {
  try {
    return /\bimport\s*\(/.test(readFileSync(file, 'utf8'));
  } catch {
    return true; // unreadable now: the ES module way, which reads it itself
  }
}

function esmOnly(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && ESM_ONLY_CODES.has(e.code)) return true;
  // esbuild's refusal to compile a top-level await to CommonJS (tsx's TransformError)
  return e.name === 'TransformError' && typeof e.message === 'string' && e.message.includes('Top-level await');
}
