#!/usr/bin/env node
/**
 * `make corpus`: sluice on real drizzle-kit histories that nobody here wrote.
 * The corpus is data kept OUTSIDE this repository (public repositories' migration folders, each with a
 * MANIFEST.json naming its repository, commit and licence): SLUICE_CORPUS=<folder>, else
 * ../shared/corpus, else /work/corpus. For each history, in a temporary project:
 *  1. adoption: `migrate-downs` writes every down, each proven on a scratch database (timed);
 *  2. PostgreSQL: the whole history applied under DATABASE_SCHEMA=tenant_x through the engine, then
 *     reverted one revision at a time down to the first flagged one (or base), each down's schema
 *     compared with the state before its up (a down that completes and differs without having been
 *     flagged is "silently wrong"), `public` checked empty, then applied again to head (a history
 *     that names public beyond its `public.` qualifiers runs in public, in a database of its own);
 *     SQLite: the same on a file.
 * Needs SLUICE_CHECK_DATABASE_URL / a server for PostgreSQL histories: CORPUS_PG_URL (else one is
 * started with the repository's pgcluster helper). Writes bench/results/corpus.json and prints a table.
 * CORPUS_ONLY=name1,name2 runs some histories only.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { findCorpus, historyProject, ownSchemas, readHistories } = await import('./corpus-lib.mjs');
const sluice = await import(path.join(REPO, 'dist', 'index.js'));
const { openConnection } = await import(path.join(REPO, 'dist', 'dialect', 'index.js'));
const { parseDatabaseTarget } = await import(path.join(REPO, 'dist', 'config.js'));
const { introspect, schemaDiff } = await import(path.join(REPO, 'dist', 'introspect.js'));
const { startCluster, stopCluster } = await import(path.join(REPO, 'dist', 'pgcluster.js'));
const { namesPublic } = await import(path.join(REPO, 'dist', 'scratch.js'));
const { readHistory } = await import(path.join(REPO, 'dist', 'source.js'));

const corpus = findCorpus(REPO);
if (!corpus) {
  console.error('no corpus: set SLUICE_CORPUS to a folder of drizzle-kit histories (each with a MANIFEST.json)');
  process.exit(2);
}
const only = (process.env.CORPUS_ONLY ?? '').split(',').filter(Boolean);
const histories = readHistories(corpus).filter((h) => !only.length || only.includes(h.name));

let pgUrl = process.env.CORPUS_PG_URL;
let clusterDir;
if (!pgUrl && histories.some((h) => h.manifest.dialect === 'postgresql')) {
  clusterDir = mkdtempSync(path.join(os.tmpdir(), 'sluice-corpus-pg-'));
  pgUrl = (await startCluster(clusterDir)).url;
}

/** The schema sluice works in, and the other schemas the history's snapshots name (drizzle's pgSchema; each line tagged). */
async function schemaOf(env, root, others = []) {
  const target = parseDatabaseTarget(env, root);
  const conn = await openConnection(target, { write: false, env });
  try {
    return await introspect(conn, target.schema, undefined, others);
  } finally {
    await conn.close();
  }
}

async function publicIsEmpty(env, root) {
  const conn = await openConnection(parseDatabaseTarget({ ...env, DATABASE_SCHEMA: 'public' }, root), { write: false, env });
  try {
    const rows = await conn.query("SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'");
    return rows[0].n === 0;
  } finally {
    await conn.close();
  }
}

/** One statement on the corpus server's own database. */
async function adminExecute(root, statement) {
  const conn = await openConnection(parseDatabaseTarget({ DATABASE_URL: pgUrl, DATABASE_SCHEMA: 'public' }, root), { write: true, env: process.env });
  try {
    await conn.execute(statement);
  } finally {
    await conn.close();
  }
}

function urlOf(database) {
  const u = new URL(pgUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function runOne(h) {
  const dialect = h.manifest.dialect;
  const root = mkdtempSync(path.join(os.tmpdir(), `sluice-corpus-${h.name}-`));
  historyProject(h, root, path.join(REPO, 'node_modules'));
  // A history in its own pgSchema may name that schema's objects unqualified (its authors' role
  // "$user" found them): the schemas its newest snapshot declares are searched after tenant_x.
  const lookup = dialect === 'postgresql' ? ownSchemas(h.dir) : [];
  // A history that names public beyond its `public.` qualifiers (a function's SET search_path =
  // public...) cannot run under another schema, for its authors either: it runs in public, in a
  // database of its own (public's emptiness is then not checked).
  const inPublic = dialect === 'postgresql' && !lookup.length && (await namesPublic(readHistory(path.join(root, 'drizzle')).revisions));
  const ownDb = inPublic ? `corpus_${h.name.replace(/[^a-z0-9_]/gi, '_')}_${process.pid}` : undefined;
  if (ownDb) await adminExecute(root, `CREATE DATABASE "${ownDb}"`);
  const db =
    dialect === 'postgresql'
      ? ownDb
        ? { DATABASE_URL: urlOf(ownDb), DATABASE_SCHEMA: 'public' }
        : { DATABASE_URL: pgUrl, DATABASE_SCHEMA: 'tenant_x', ...(lookup.length ? { DATABASE_SEARCH_PATH: lookup.join(',') } : {}) }
      : { DATABASE_URL: `file:${path.join(root, 'corpus.sqlite')}` };
  const env = { ...process.env, ...db, SLUICE_CHECK_DATABASE_URL: pgUrl, SLUICE_NO_BACKUP: '1', SLUICE_TAKEOVER: 'off' };
  const row = { name: h.name, repo: h.manifest.repo, dialect, ...(lookup.length ? { searchPath: lookup } : {}), ...(inPublic ? { inPublic } : {}), revisions: 0, verified: 0, flagged: 0, reasons: {}, silentlyWrong: 0, downsMs: 0, notes: [] };
  try {
    const t0 = performance.now();
    const adopted = await sluice.writeMissingDowns({ cwd: root, env });
    row.downsMs = Math.round(performance.now() - t0);
    row.revisions = adopted.written.length + adopted.kept.length;
    row.verified = adopted.written.filter((w) => w.verified && !w.manualReason).length;
    const flagged = adopted.written.filter((w) => w.manualReason);
    row.flagged = flagged.length;
    for (const w of flagged) {
      const key = w.manualReason.replace(/\(.*$/s, '').replace(/[0-9]+/g, 'N').slice(0, 90);
      (row.reasons[key] ??= []).push(w.revision);
    }
    // The engine: head, then down one at a time with each schema compared, then head again.
    const ids = (await sluice.history({ cwd: root, env })).revisions.map((r) => r.revision);
    const states = [await schemaOf(env, root, lookup).catch(() => [])];
    for (const id of ids) {
      await sluice.upgrade({ cwd: root, env, revision: id });
      states.push(await schemaOf(env, root, lookup));
    }
    if (dialect === 'postgresql' && !inPublic) row.publicEmpty = await publicIsEmpty(env, root);
    const flaggedIds = new Set(flagged.map((w) => w.revision));
    let reached = ids.length;
    for (let i = ids.length - 1; i >= 0; i--) {
      if (flaggedIds.has(ids[i])) break;
      try {
        await sluice.downgrade({ cwd: root, env });
      } catch (err) {
        // a down sluice refuses to run (one left empty and unverified, when the proofs could not reach it)
        row.notes.push(`${ids[i]}: down refused: ${String(err?.message ?? err).split('\n')[0].slice(0, 160)}`);
        break;
      }
      const diff = schemaDiff(states[i], await schemaOf(env, root, lookup));
      if (diff.length) {
        row.silentlyWrong += 1;
        row.notes.push(`${ids[i]}: ${diff.slice(0, 3).join(' | ')}`);
      }
      reached = i;
    }
    row.reverted = ids.length - reached;
    row.headBaseHead = reached === 0 ? 'yes' : `stops at ${ids[reached - 1]}`;
    await sluice.upgrade({ cwd: root, env });
    const again = schemaDiff(states.at(-1), await schemaOf(env, root, lookup));
    if (again.length) row.notes.push(`head again differs: ${again.slice(0, 3).join(' | ')}`);
    // make db-test on the history (its models check is meaningless here: the corpus has no models)
    if (process.env.CORPUS_DBTEST !== '0') {
      const t1 = performance.now();
      const checked = await sluice.check({ cwd: root, env });
      row.dbTestMs = Math.round(performance.now() - t1);
      const own = checked.dialects.find((d) => d.dialect === dialect);
      row.dbTestFailed = (own?.checks ?? []).filter((c) => !c.ok && c.name !== 'models match the history').map((c) => c.name);
    }
  } catch (err) {
    row.error = String(err?.message ?? err).split('\n')[0].slice(0, 300);
  } finally {
    if (ownDb) await adminExecute(root, `DROP DATABASE IF EXISTS "${ownDb}" WITH (FORCE)`).catch(() => {});
    else if (dialect === 'postgresql') for (const schema of ['tenant_x', ...lookup]) await adminExecute(root, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    rmSync(root, { recursive: true, force: true });
  }
  return row;
}

const rows = [];
try {
  for (const h of histories) {
    const row = await runOne(h);
    rows.push(row);
    const pct = row.revisions ? ((100 * row.verified) / row.revisions).toFixed(1) : '-';
    console.log(
      `${row.name.padEnd(24)} ${row.dialect.padEnd(10)} ${String(row.revisions).padStart(4)} rev  verified ${pct.padStart(5)}%  flagged ${row.flagged}  silently wrong ${row.silentlyWrong}  downs ${(row.downsMs / 1000).toFixed(1)} s  db-test ${row.dbTestMs !== undefined ? `${(row.dbTestMs / 1000).toFixed(1)} s${row.dbTestFailed.length ? ` (failed: ${row.dbTestFailed.length})` : ''}` : '-'}  head->base->head ${row.headBaseHead ?? '-'}${row.inPublic ? '  (in public: it names public)' : ''}${row.publicEmpty === false ? '  PUBLIC NOT EMPTY' : ''}${row.error ? `  ERROR ${row.error}` : ''}`,
    );
    for (const [k, v] of Object.entries(row.reasons)) console.log(`    flagged ${v.length}: ${k} (${v.slice(0, 3).join(', ')}${v.length > 3 ? ', …' : ''})`);
    for (const n of row.notes.slice(0, 5)) console.log(`    ${n}`);
  }
} finally {
  if (clusterDir) {
    await stopCluster(clusterDir).catch(() => {});
    rmSync(clusterDir, { recursive: true, force: true });
  }
}
const total = rows.reduce((a, r) => ({ revisions: a.revisions + r.revisions, verified: a.verified + r.verified, flagged: a.flagged + r.flagged, wrong: a.wrong + r.silentlyWrong }), { revisions: 0, verified: 0, flagged: 0, wrong: 0 });
console.log(`total: ${total.revisions} revisions, ${total.verified} verified (${((100 * total.verified) / Math.max(1, total.revisions)).toFixed(1)} %), ${total.flagged} flagged, ${total.wrong} silently wrong`);
mkdirSync(path.join(REPO, 'bench', 'results'), { recursive: true });
writeFileSync(path.join(REPO, 'bench', 'results', 'corpus.json'), `${JSON.stringify({ date: new Date().toISOString(), corpus, rows, total }, null, 2)}\n`);
