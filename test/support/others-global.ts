/**
 * Tests that run the CLI as another user (openToOthers, runCliAsNobody in project.ts; the suite runs as
 * root) need that user to reach this checkout and the temporary folder: search permission on them and
 * on every folder above them. Given here once for the whole run and taken back at its end, so that two
 * test files running at once never take it back from each other. Nothing else changes.
 */
import { chmodSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');

export default function setup(): (() => void) | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const opened: { folder: string; mode: number }[] = [];
  for (const start of [REPO, os.tmpdir()]) {
    for (let p = start; ; p = path.dirname(p)) {
      const mode = statSync(p).mode & 0o7777;
      if (!(mode & 0o001) && !opened.some((o) => o.folder === p)) {
        chmodSync(p, mode | 0o001);
        opened.push({ folder: p, mode });
      }
      if (p === path.dirname(p)) break;
    }
  }
  return () => {
    for (const { folder, mode } of opened.reverse()) chmodSync(folder, mode);
  };
}
