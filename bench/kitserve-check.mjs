// The differ migrate-create asks drizzle-kit's own process for (src/kitserve.cjs) against drizzle-kit's
// API (what sluice used before, and still uses when drizzle-kit's process does not serve), on every
// snapshot pair of the corpus (bench/README.md "Real histories"), both directions: the statements (or
// the validation error) must be the same. `node bench/kitserve-check.mjs [corpus folder]`; exit 1 on a difference.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(REPO, 'package.json'));
const corpus = process.argv[2] ?? process.env.SLUICE_CORPUS ?? ['../shared/corpus', '/work/corpus'].map((p) => path.resolve(REPO, p)).find((p) => existsSync(p));
if (!corpus || !existsSync(corpus)) {
  console.error('no corpus: give its folder (bench/README.md "Real histories")');
  process.exit(2);
}
const kitserve = require(path.join(REPO, 'dist', 'kitserve.cjs'));
const bin = path.join(path.dirname(require.resolve('drizzle-kit')), 'bin.cjs');
kitserve.exposeDiffer(bin);
const argv = process.argv;
process.argv = [argv[0], bin, '--version']; // loading the bin runs its CLI: the cheapest command
const log = console.log;
console.log = () => {};
require(bin);
await new Promise((r) => setTimeout(r, 50));
console.log = log;
process.argv = argv;
const k = kitserve.differ();
if (!k) {
  console.error('drizzle-kit bin.cjs does not expose its differ (another build?)');
  process.exit(1);
}
const { diffSnapshots, diffLocally } = await import(path.join(REPO, 'dist', 'downgen.js'));
const differ = { diff: (dialect) => (a, b) => kitserve.diff(k, dialect, a, b), empty: () => undefined };
const quiet = (f) => async (...a) => {
  const saved = [console.log, console.error, console.warn];
  console.log = console.error = console.warn = () => {};
  try {
    return JSON.stringify(await f(...a));
  } catch (err) {
    return `error: ${err instanceof Error ? err.message.split('\n')[0] : err}`;
  } finally {
    [console.log, console.error, console.warn] = saved;
  }
};
let pairs = 0;
let same = 0;
let failed = 0;
const differences = [];
const t0 = Date.now();
for (const name of readdirSync(corpus).sort()) {
  const dir = path.join(corpus, name);
  const manifest = path.join(dir, 'MANIFEST.json');
  if (!existsSync(manifest)) continue;
  const dialect = JSON.parse(readFileSync(manifest, 'utf8')).dialect;
  const journal = JSON.parse(readFileSync(path.join(dir, 'meta', '_journal.json'), 'utf8'));
  const snaps = journal.entries
    .map((e) => [`${String(e.idx).padStart(4, '0')}`, e.tag.split('_')[0]].map((p) => path.join(dir, 'meta', `${p}_snapshot.json`)).find((f) => existsSync(f)) ?? '')
    .filter((f) => existsSync(f))
    .map((f) => JSON.parse(readFileSync(f, 'utf8')));
  let n = 0;
  for (let i = 1; i < snaps.length; i++) {
    for (const [from, to] of [[snaps[i], snaps[i - 1]], [snaps[i - 1], snaps[i]]]) {
      const served = await quiet(() => diffSnapshots(REPO, dialect, from, to, { diff: differ.diff(dialect), empty: differ.empty }))();
      const api = await quiet(() => diffLocally(REPO, dialect, from, to))();
      pairs++;
      if (api.startsWith('error:')) failed++;
      n++;
      // the served path wraps drizzle-kit's error as diffSnapshots does (diffFailed); compare the statements, and that both failed
      if (served === api || (served.startsWith('error:') && api.startsWith('error:'))) same++;
      else differences.push(`${name} ${i - 1}/${i}: served ${served.slice(0, 200)} | api ${api.slice(0, 200)}`);
    }
  }
  log(`${name}: ${n} diffs`);
}
log(`${pairs} diffs (every snapshot pair, both directions), ${same} the same (${failed} of them drizzle-kit's validation error in both), ${differences.length} different, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
for (const d of differences.slice(0, 20)) log(`  ${d}`);
process.exit(differences.length ? 1 : 0);
