/** What `make corpus` (corpus.mjs) and `make bench`'s real-history rows (real.mjs) share: finding and reading the corpus. */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The corpus folder: SLUICE_CORPUS, else ../shared/corpus beside the repository, else /work/corpus. */
export function findCorpus(repo) {
  return [process.env.SLUICE_CORPUS, path.join(repo, '..', 'shared', 'corpus'), '/work/corpus'].find((d) => d && existsSync(d));
}

/** The histories of a corpus (folders with a MANIFEST.json), with their journal's tags. */
export function readHistories(corpus) {
  return readdirSync(corpus)
    .filter((n) => existsSync(path.join(corpus, n, 'MANIFEST.json')))
    .map((n) => {
      const dir = path.join(corpus, n);
      const journal = path.join(dir, 'meta', '_journal.json');
      const tags = existsSync(journal) ? JSON.parse(readFileSync(journal, 'utf8')).entries.map((e) => e.tag) : [];
      return { name: n, dir, manifest: JSON.parse(readFileSync(path.join(dir, 'MANIFEST.json'), 'utf8')), tags };
    });
}

/** The schemas besides public that the newest snapshot of a PostgreSQL history declares. */
export function ownSchemas(dir) {
  const meta = path.join(dir, 'meta');
  const newest = readdirSync(meta).filter((f) => /^\d+_snapshot\.json$/.test(f)).sort().at(-1);
  if (!newest) return [];
  const snap = JSON.parse(readFileSync(path.join(meta, newest), 'utf8'));
  return Object.keys(snap.schemas ?? {}).filter((s) => s !== 'public' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(s));
}

/**
 * A project at `root` holding the history as drizzle/ (its MANIFEST left out), under the project's own
 * drizzle dialect where it differs (turso: libSQL SQL on a SQLite file), with empty models;
 * `modules`: link this node_modules (a root outside the repository).
 */
export function historyProject(h, root, modules) {
  const out = path.join(root, 'drizzle');
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(h.dir)) if (f !== 'MANIFEST.json') cpSync(path.join(h.dir, f), path.join(out, f), { recursive: true });
  writeFileSync(path.join(root, 'package.json'), '{"name":"corpus","private":true,"type":"module"}\n');
  writeFileSync(path.join(root, 'models.ts'), 'export {};\n');
  writeFileSync(path.join(root, 'drizzle.config.ts'), `export default { dialect: '${h.manifest.drizzleDialect ?? h.manifest.dialect}', out: './drizzle', schema: './models.ts' };\n`);
  if (modules) symlinkSync(modules, path.join(root, 'node_modules'));
  return out;
}
