import path from 'node:path';

/** A file's path as messages show it: relative to the working directory when inside it, else absolute. */
export function rel(file: string): string {
  const r = path.relative(process.cwd(), file);
  return r && !r.startsWith('..') ? r : file;
}
