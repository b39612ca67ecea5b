/**
 * A git merge left unfinished in the models: `<<<<<<< ` / `>>>>>>> ` lines in a file drizzle.config's
 * `schema` names. drizzle-kit (and migrate-check's load of the models) then fails on a syntax error
 * ("Expected identifier but found "<<"") that does not say why; migrate-merge settles the migration
 * folders, not the models. Found before anything runs, with the file and line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const MARKER = /^(?:<{7}|>{7})(?: |$)/m;

/** The first conflict marker in the model files `schema` lists (comma-separated files and folders; globs are skipped), or undefined. */
export function conflictMarkerIn(root: string, schema: string): { file: string; line: number; text: string } | undefined {
  for (const entry of schema.split(',').map((s) => s.trim()).filter((s) => s && !/[*?{[]/.test(s))) {
    const abs = path.resolve(root, entry);
    const st = statSync(abs, { throwIfNoEntry: false });
    if (!st) continue;
    const files = st.isDirectory()
      ? (readdirSync(abs, { recursive: true }) as string[]).filter((f) => /\.[cm]?[jt]s$/.test(f) && !f.endsWith('.d.ts')).sort().map((f) => path.join(abs, f))
      : [abs];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue; // unreadable: the load says so
      }
      const m = MARKER.exec(text);
      if (!m) continue;
      const line = text.slice(0, m.index).split('\n').length;
      return { file: path.relative(root, file), line, text: text.slice(m.index).split('\n')[0]!.trim() };
    }
  }
  return undefined;
}

/** The one-line error for a marker found: where, and what to do. */
export function conflictMarkerMessage(found: { file: string; line: number; text: string }, then: string): string {
  return `${found.file}:${found.line} holds a git conflict marker (${found.text}): the models are half merged; resolve the conflict in that file, then ${then}`;
}
