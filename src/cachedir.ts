/** Where sluice keeps caches: the nearest node_modules/.cache/sluice of a project. */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

/** The nearest node_modules of each project root asked about (looked up once per process). */
const modulesOf = new Map<string, string | undefined>();

/** sluice's folder in the nearest node_modules/.cache of the project at `root` (undefined without node_modules). */
export function sluiceCacheDir(root: string, name: string): string | undefined {
  if (!modulesOf.has(root)) {
    let found: string | undefined;
    for (let dir = root; ; dir = path.dirname(dir)) {
      if (existsSync(path.join(dir, 'node_modules'))) {
        found = path.join(dir, 'node_modules');
        break;
      }
      if (dir === path.dirname(dir)) break;
    }
    modulesOf.set(root, found);
  }
  const modules = modulesOf.get(root);
  return modules && path.join(modules, '.cache', 'sluice', name);
}

/**
 * Keep the `keep` newest files of `dir` whose names match `pattern`, remove the others: entries keyed
 * by what changes (a config's mtime, the values of the variables it reads) would otherwise pile up,
 * one per edit or per database switched to. Best effort: a file that cannot be read or removed stays.
 */
export function pruneCacheFiles(dir: string, pattern: RegExp, keep: number): void {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => pattern.test(n));
  } catch {
    return;
  }
  if (names.length <= keep) return;
  const aged = names.flatMap((n) => {
    try {
      return [{ file: path.join(dir, n), mtime: statSync(path.join(dir, n)).mtimeMs }];
    } catch {
      return [];
    }
  });
  aged.sort((a, b) => b.mtime - a.mtime);
  for (const { file } of aged.slice(keep)) rmSync(file, { force: true });
}
