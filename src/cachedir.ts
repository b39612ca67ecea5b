/** Where sluice keeps caches: the nearest node_modules/.cache/sluice of a project. */
import { existsSync } from 'node:fs';
import path from 'node:path';

/** sluice's folder in the nearest node_modules/.cache of the project at `root` (undefined without node_modules). */
export function sluiceCacheDir(root: string, name: string): string | undefined {
  for (let dir = root; ; dir = path.dirname(dir)) {
    const modules = path.join(dir, 'node_modules');
    if (existsSync(modules)) return path.join(modules, '.cache', 'sluice', name);
    if (dir === path.dirname(dir)) return undefined;
  }
}
