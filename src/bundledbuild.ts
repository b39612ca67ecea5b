/**
 * The one-file builds of packages that the bin runs through its code cache (src/bin.cjs:
 * dist/sqlite.cjs, dist/sqlparser.cjs, dist/sucrase.cjs; scripts/bundle-cli.mjs makes them), asked
 * for by the modules that load those packages.
 */

/** The builds, by the name of the bin's loader (a global it sets: `Symbol.for('sluice.compileCache.<name>')`). */
export type BundledBuild = 'sqlite' | 'sqlparser' | 'sucrase';

/**
 * A package's exports from the bin's one-file build of it, when the bin ran (not a library import or
 * a test of src/) and that build was made from the installed version (`installedVersion`: the
 * package's own package.json; the bin compares it with the build's first line). Else undefined, and
 * the caller loads the package itself, which reports its own errors.
 */
export function bundledBuild<T>(name: BundledBuild, installedVersion: () => unknown): T | undefined {
  const load = (globalThis as Record<symbol, unknown>)[Symbol.for(`sluice.compileCache.${name}`)];
  if (typeof load !== 'function') return undefined;
  try {
    const version = installedVersion();
    return typeof version === 'string' ? (load(version) as T | undefined) : undefined;
  } catch {
    return undefined; // the package as it is
  }
}
