/** Where sluice keeps caches: the nearest node_modules/.cache/sluice of a project. */
import { existsSync } from 'node:fs';
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
