/**
 * make bench: sluice against the physical floor and drizzle-orm's migrator, side by side.
 * Whole processes as a user runs them; median of BENCH_RUNS (default 5) runs after one warm-up;
 * tools alternate run by run. Starts its own PostgreSQL. Writes bench/results/latest.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateProject } from './generate.mjs';
import { benchHistory, findCorpus, pickHistories } from './real.mjs';
import { startCluster, stopCluster } from '../dist/pgcluster.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(REPO, 'bench', '.work');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SIZES = (process.env.BENCH_SIZES ?? '100,1000').split(',').map(Number);
const CLI = path.join(REPO, 'dist', 'cli.cjs');
const PSQL = existsSync('/usr/bin/psql') ? '/usr/bin/psql' : 'psql';
const results = [];
/** A fresh clone or CI deploy: no config description, parse or checksum cache in node_modules/.cache/sluice. */
const NO_CACHES = { SLUICE_NO_CONFIG_CACHE: '1', SLUICE_NO_PARSE_CACHE: '1', SLUICE_NO_CHECKSUM_CACHE: '1', SLUICE_NO_COMPILE_CACHE: '1' };
let schemaCounter = 0;
/** What any status has to do, written bare with the same drivers (bench/status-bare.cjs). */
const BARE_STATUS = path.join(REPO, 'bench', 'status-bare.cjs');
/** The least any Node.js program does for `up` / `down base` with `--single-transaction` (bench/run-bare.cjs). */
const BARE_RUN = path.join(REPO, 'bench', 'run-bare.cjs');

/**
 * `node -e 0`, the start-up the status target is a multiple of; and, when NODE_EXTRA_CA_CERTS is set
 * (Node.js 20 reads and parses that file at every start: ~45 ms here), `node -e 0` without it, to show
 * how much of that start-up is the certificate file.
 */
function startTools() {
  const tools = [{ tool: 'node -e 0', cmd: () => [process.execPath, ['-e', '0']] }];
  if (process.env.NODE_EXTRA_CA_CERTS) {
    const { NODE_EXTRA_CA_CERTS: _, ...env } = process.env;
    tools.push({ tool: 'node -e 0, no extra CA file', cmd: () => [process.execPath, ['-e', '0'], { env }] });
  }
  return tools;
}

function run(cmd, args, opts = {}) {
  const cpuBefore = childrenCpuMs();
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout || '').slice(0, 500)}`);
  lastCpuMs = cpuBefore === null ? null : childrenCpuMs() - cpuBefore;
  return ms;
}

/**
 * CPU time (user + system) of this process's waited-for children so far, from /proc (Linux; null
 * elsewhere): a run's difference is the CPU its process and the processes it waited for used (the
 * drizzle-kit children of migrate-create, not the PostgreSQL server). Kernel clock ticks: 10 ms here.
 */
function childrenCpuMs() {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
let lastCpuMs = null;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** tools: [{ tool, prepare?(), cmd(): [cmd, args, opts], cleanup?() }] — alternated run by run. */
function measure(dialect, revisions, operation, tools) {
  const times = new Map(tools.map((t) => [t.tool, []]));
  const cpu = new Map(tools.map((t) => [t.tool, []]));
  for (let r = -1; r < RUNS; r++) {
    const order = tools.map((_, i) => tools[(i + Math.max(r, 0)) % tools.length]);
    for (const t of order) {
      t.prepare?.();
      const [cmd, args, opts] = t.cmd();
      const ms = run(cmd, args, opts);
      const cpuMs = lastCpuMs;
      t.cleanup?.();
      if (r >= 0) times.get(t.tool).push(ms);
      if (r >= 0 && cpuMs !== null) cpu.get(t.tool).push(cpuMs);
    }
  }
  for (const t of tools) {
    const xs = times.get(t.tool);
    const cs = cpu.get(t.tool);
    const row = { dialect, revisions, operation, tool: t.tool, median_ms: round(median(xs)), min_ms: round(Math.min(...xs)), max_ms: round(Math.max(...xs)), runs: xs.length, peak_rss_mb: null, cpu_ms: cs.length === xs.length ? round(median(cs)) : null };
    results.push(row);
    process.stdout.write(`  ${dialect.padEnd(10)} ${String(revisions).padStart(5)} ${operation.padEnd(8)} ${t.tool.padEnd(12)} ${row.median_ms.toFixed(1).padStart(9)} ms\n`);
  }
}
const round = (x) => Math.round(x * 10) / 10;

function psql(url, sql) {
  const r = spawnSync(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}

function peakRss(args, opts) {
  const file = path.join(WORK, `rss-${process.pid}`);
  run(process.execPath, ['--require', path.join(REPO, 'bench', 'rss-probe.cjs'), CLI, ...args], { ...opts, env: { ...opts.env, BENCH_RSS_FILE: file } });
  const kib = Number(readFileSync(file, 'utf8'));
  rmSync(file, { force: true });
  return round(kib / 1024);
}

async function main() {
  const started = Date.now();
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const pgDir = path.join(os.tmpdir(), `sluice-bench-pg-${process.pid}`);
  rmSync(pgDir, { recursive: true, force: true });
  const cluster = await startCluster(pgDir);
  const url = cluster.url;
  process.stdout.write(`PostgreSQL at ${url}; ${RUNS} runs per case after a warm-up\n`);
  try {
    const nodeEnv = { ...process.env, NO_COLOR: '1' };
    for (const n of SIZES) {
      // ---------- PostgreSQL ----------
      const pgProj = generateProject(path.join(WORK, `pg-${n}`), 'postgresql', n);
      const upFile = path.join(pgProj.dir, 'floor-up.sql');
      const downFile = path.join(pgProj.dir, 'floor-down.sql');
      let schema = '';
      const fresh = () => (schema = `b${++schemaCounter}`);
      const drop = () => psql(url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      const sluiceEnv = () => ({ ...nodeEnv, DATABASE_URL: url, DATABASE_SCHEMA: schema });
      const floorUp = () => {
        writeFileSync(upFile, `CREATE SCHEMA "${schema}";\nSET search_path TO "${schema}";\n${pgProj.upSql}\n`);
        return [PSQL, ['-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', upFile]];
      };
      measure('postgresql', n, 'up', [
        { tool: 'sluice', prepare: fresh, cmd: () => [process.execPath, [CLI, 'up'], { cwd: pgProj.dir, env: sluiceEnv() }], cleanup: drop },
        { tool: 'sluice -1', prepare: fresh, cmd: () => [process.execPath, [CLI, 'up', '--single-transaction'], { cwd: pgProj.dir, env: sluiceEnv() }], cleanup: drop },
        { tool: 'sluice, no caches', prepare: fresh, cmd: () => [process.execPath, [CLI, 'up'], { cwd: pgProj.dir, env: { ...sluiceEnv(), ...NO_CACHES } }], cleanup: drop },
        { tool: 'floor', prepare: fresh, cmd: floorUp, cleanup: drop },
        // the least a Node.js program does for `up --single-transaction`: the up files in one message (bench/run-bare.cjs)
        { tool: 'bare script', prepare: fresh, cmd: () => [process.execPath, [BARE_RUN, 'up'], { cwd: pgProj.dir, env: sluiceEnv() }], cleanup: drop },
        {
          tool: 'floor/rev',
          prepare: () => {
            fresh();
            writeFileSync(upFile, `CREATE SCHEMA "${schema}";\nSET search_path TO "${schema}";\nCREATE TABLE "v" ("r" text PRIMARY KEY, "t" text, "e" integer);\n${pgProj.perRevisionSql('now()::text')}\n`);
          },
          cmd: () => [PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', upFile]],
          cleanup: drop,
        },
        { tool: 'drizzle-orm', prepare: fresh, cmd: () => [process.execPath, [path.join(REPO, 'bench', 'drizzle-migrate.mjs'), 'postgresql', pgProj.out, url, schema]], cleanup: drop },
      ]);
      measure('postgresql', n, 'down', [
        {
          tool: 'sluice',
          prepare: () => (fresh(), run(process.execPath, [CLI, 'up'], { cwd: pgProj.dir, env: sluiceEnv() })),
          cmd: () => [process.execPath, [CLI, 'down', 'base'], { cwd: pgProj.dir, env: sluiceEnv() }],
          cleanup: drop,
        },
        {
          tool: 'sluice -1',
          prepare: () => (fresh(), run(process.execPath, [CLI, 'up'], { cwd: pgProj.dir, env: sluiceEnv() })),
          cmd: () => [process.execPath, [CLI, 'down', 'base', '--single-transaction'], { cwd: pgProj.dir, env: sluiceEnv() }],
          cleanup: drop,
        },
        {
          // the least a Node.js program does for that down: the down files in one message (bench/run-bare.cjs)
          tool: 'bare script',
          prepare: () => (fresh(), run(process.execPath, [CLI, 'up'], { cwd: pgProj.dir, env: sluiceEnv() })),
          cmd: () => [process.execPath, [BARE_RUN, 'down'], { cwd: pgProj.dir, env: sluiceEnv() }],
          cleanup: drop,
        },
        {
          // the same downs, each revision in its own transaction deleting its version row: the floor of the default mode
          tool: 'floor/rev',
          prepare: () => {
            fresh();
            writeFileSync(upFile, `CREATE SCHEMA "${schema}";\nSET search_path TO "${schema}";\nCREATE TABLE "v" ("r" text PRIMARY KEY, "t" text, "e" integer);\n${pgProj.perRevisionSql('now()::text')}\n`);
            run(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', upFile]);
            writeFileSync(downFile, `SET search_path TO "${schema}";\n${pgProj.perRevisionDownSql}\n`);
          },
          cmd: () => [PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', downFile]],
          cleanup: drop,
        },
        {
          tool: 'floor',
          prepare: () => {
            fresh();
            const [c, a] = floorUp();
            run(c, a);
            writeFileSync(downFile, `SET search_path TO "${schema}";\n${pgProj.downSql}\n`);
          },
          cmd: () => [PSQL, ['-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', downFile]],
          cleanup: drop,
        },
      ]);
      fresh();
      run(process.execPath, [CLI, 'up'], { cwd: pgProj.dir, env: sluiceEnv() });
      const statusEnv = sluiceEnv();
      measure('postgresql', n, 'status', [
        { tool: 'sluice', cmd: () => [process.execPath, [CLI, 'status'], { cwd: pgProj.dir, env: statusEnv }] },
        { tool: 'bare script', cmd: () => [process.execPath, [BARE_STATUS, 'postgresql'], { cwd: pgProj.dir, env: statusEnv }] },
        ...startTools(),
      ]);
      measure('postgresql', n, 'history', [{ tool: 'sluice', cmd: () => [process.execPath, [CLI, 'history'], { cwd: pgProj.dir, env: statusEnv }] }]);
      drop();
      if (n === Math.max(...SIZES)) {
        fresh();
        const rss = peakRss(['up'], { cwd: pgProj.dir, env: sluiceEnv() });
        drop();
        results.push({ dialect: 'postgresql', revisions: n, operation: 'up', tool: 'sluice (peak RSS)', median_ms: null, min_ms: null, max_ms: null, runs: 1, peak_rss_mb: rss });
        process.stdout.write(`  postgresql ${n} up peak RSS ${rss} MB\n`);
      }

      // ---------- SQLite ----------
      const sqProj = generateProject(path.join(WORK, `sqlite-${n}`), 'sqlite', n);
      const dbFile = path.join(sqProj.dir, 'bench.sqlite');
      const sqUp = path.join(sqProj.dir, 'floor-up.sql');
      const sqDown = path.join(sqProj.dir, 'floor-down.sql');
      writeFileSync(sqUp, `BEGIN;\n${sqProj.upSql}\nCOMMIT;\n`);
      writeFileSync(sqDown, `BEGIN;\n${sqProj.downSql}\nCOMMIT;\n`);
      const sqPerRev = path.join(sqProj.dir, 'floor-per-revision.sql');
      writeFileSync(sqPerRev, `CREATE TABLE "v" ("r" text PRIMARY KEY, "t" text, "e" integer);\n${sqProj.perRevisionSql("datetime('now')")}\n`);
      const sqEnv = { ...nodeEnv, DATABASE_URL: `file:${dbFile}` };
      const rmDb = () => rmSync(dbFile, { force: true });
      measure('sqlite', n, 'up', [
        { tool: 'sluice', prepare: rmDb, cmd: () => [process.execPath, [CLI, 'up'], { cwd: sqProj.dir, env: sqEnv }] },
        { tool: 'sluice -1', prepare: rmDb, cmd: () => [process.execPath, [CLI, 'up', '--single-transaction'], { cwd: sqProj.dir, env: sqEnv }] },
        { tool: 'sluice, no caches', prepare: rmDb, cmd: () => [process.execPath, [CLI, 'up'], { cwd: sqProj.dir, env: { ...sqEnv, ...NO_CACHES } }] },
        { tool: 'floor', prepare: rmDb, cmd: () => ['sqlite3', [dbFile, `.read ${sqUp}`]] },
        { tool: 'floor/rev', prepare: rmDb, cmd: () => ['sqlite3', [dbFile, `.read ${sqPerRev}`]] },
        { tool: 'drizzle-orm', prepare: rmDb, cmd: () => [process.execPath, [path.join(REPO, 'bench', 'drizzle-migrate.mjs'), 'sqlite', sqProj.out, dbFile]] },
      ]);
      measure('sqlite', n, 'down', [
        {
          tool: 'sluice',
          prepare: () => (rmDb(), run(process.execPath, [CLI, 'up'], { cwd: sqProj.dir, env: sqEnv })),
          cmd: () => [process.execPath, [CLI, 'down', 'base', '--no-backup'], { cwd: sqProj.dir, env: sqEnv }],
        },
        { tool: 'floor', prepare: () => (rmDb(), run('sqlite3', [dbFile, `.read ${sqUp}`])), cmd: () => ['sqlite3', [dbFile, `.read ${sqDown}`]] },
      ]);
      rmDb();
      run(process.execPath, [CLI, 'up'], { cwd: sqProj.dir, env: sqEnv });
      measure('sqlite', n, 'status', [
        { tool: 'sluice', cmd: () => [process.execPath, [CLI, 'status'], { cwd: sqProj.dir, env: sqEnv }] },
        { tool: 'bare script', cmd: () => [process.execPath, [BARE_STATUS, 'sqlite'], { cwd: sqProj.dir, env: sqEnv }] },
        ...startTools(),
      ]);
      if (n === Math.max(...SIZES)) {
        rmDb();
        const rss = peakRss(['up'], { cwd: sqProj.dir, env: sqEnv });
        results.push({ dialect: 'sqlite', revisions: n, operation: 'up', tool: 'sluice (peak RSS)', median_ms: null, min_ms: null, max_ms: null, runs: 1, peak_rss_mb: rss });
        process.stdout.write(`  sqlite     ${n} up peak RSS ${rss} MB\n`);
      }
    }

    // ---------- CLI start ----------
    measure('-', 0, 'version', [
      { tool: 'sluice', cmd: () => [process.execPath, [CLI, '--version']] },
      { tool: 'node -e 0', cmd: () => [process.execPath, ['-e', '0']] },
    ]);

    // ---------- migrate-create on the example app ----------
    const app = path.join(WORK, 'app');
    for (const name of ['drizzle.config.ts', 'models', 'drizzle', 'package.json']) cpSync(path.join(REPO, name), path.join(app, name), { recursive: true });
    for (const f of ['models/sqlite.ts', 'models/postgres.ts']) {
      const p = path.join(app, f);
      writeFileSync(p, readFileSync(p, 'utf8').replace("  name: text('name'),\n", "  name: text('name'),\n  benchColumn: text('bench_column'),\n"));
    }
    const pristine = path.join(WORK, 'app-drizzle');
    cpSync(path.join(app, 'drizzle'), pristine, { recursive: true });
    const reset = () => {
      rmSync(path.join(app, 'drizzle'), { recursive: true, force: true });
      cpSync(pristine, path.join(app, 'drizzle'), { recursive: true });
    };
    const kit = path.join(REPO, 'node_modules', 'drizzle-kit', 'bin.cjs');
    const both = path.join(REPO, 'bench', 'kit-both.mjs');
    measure('both', 4, 'create', [
      // The default verifies each new down on a scratch database: SQLite in a temp file, PostgreSQL on
      // PGlite (no server); the issue-8 budget is the difference with SLUICE_VERIFY=off.
      { tool: 'sluice', prepare: reset, cmd: () => [process.execPath, [CLI, 'create', '-m', 'bench column'], { cwd: app, env: { ...nodeEnv, SLUICE_CHECK_DATABASE_URL: '' } }] },
      { tool: 'sluice, verified on the server', prepare: reset, cmd: () => [process.execPath, [CLI, 'create', '-m', 'bench column'], { cwd: app, env: { ...nodeEnv, SLUICE_CHECK_DATABASE_URL: url } }] },
      { tool: 'sluice, SLUICE_VERIFY=off', prepare: reset, cmd: () => [process.execPath, [CLI, 'create', '-m', 'bench column'], { cwd: app, env: { ...nodeEnv, SLUICE_VERIFY: 'off' } }] },
      { tool: 'drizzle-kit', prepare: reset, cmd: () => [process.execPath, [both, kit], { cwd: app, env: nodeEnv }] },
    ]);

    // ---------- real histories: the corpus, kept outside this repository (bench/real.mjs) ----------
    const corpus = process.env.BENCH_REAL === '0' ? undefined : findCorpus(REPO);
    if (!corpus) {
      process.stdout.write(`\nNO REAL-HISTORY ROWS: ${process.env.BENCH_REAL === '0' ? 'BENCH_REAL=0' : 'no corpus found (SLUICE_CORPUS, ../shared/corpus, /work/corpus; bench/README.md "Real histories")'}\n`);
    } else {
      // a PostgreSQL candidate: drizzle-orm's migrate() applies it whole to an empty database (true), or its first error line
      const appliesWhole = (h) => {
        const name = `probe_${process.pid}`;
        const admin = (sql) => spawnSync(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], { encoding: 'utf8' });
        admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        admin(`CREATE DATABASE "${name}"`);
        try {
          const r = spawnSync(process.execPath, [path.join(REPO, 'bench', 'drizzle-migrate.mjs'), 'postgresql', h.dir, url.replace(/\/[^/?]*(\?|$)/, `/${name}$1`), 'public'], { encoding: 'utf8' });
          if (r.status === 0) return true;
          const lines = (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n');
          return (lines.find((l) => /^\w*Error\b|error:/i.test(l.trim())) ?? lines[0]).trim().slice(0, 160); // the message, not the stack's first frame
        } finally {
          admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        }
      };
      const { picked, skipped } = pickHistories(corpus, appliesWhole);
      process.stdout.write(`\nreal histories from ${corpus}: ${picked.map((h) => `${h.name} (${h.tags.length})`).join(', ')}${skipped.length ? `; passed over: ${skipped.join(', ')}` : ''}\n`);
      for (const h of picked) {
        try {
          const r = benchHistory(h, { measure, run, url, CLI, REPO, WORK, nodeEnv, PSQL, push: (row) => (results.push(row), process.stdout.write(`  ${row.dialect} ${row.operation} ${row.median_ms} ms\n`)) });
          process.stdout.write(`  ${r.name}: ${r.revisions} revisions, ${r.flagged} flagged downs; down rows revert ${r.reverted} (to ${r.downTo})\n`);
        } catch (err) {
          process.stdout.write(`  REAL HISTORY ${h.name} FAILED: ${String(err.message).split('\n')[0]}\n`);
          results.push({ dialect: `${h.manifest.dialect} (${h.name})`, revisions: h.tags.length, operation: 'error', tool: 'bench', median_ms: null, min_ms: null, max_ms: null, runs: 0, peak_rss_mb: null, error: String(err.message).split('\n')[0] });
        }
      }
    }
  } finally {
    await stopCluster(pgDir).catch(() => {});
    rmSync(pgDir, { recursive: true, force: true });
  }
  writeFileSync(path.join(REPO, 'bench', 'results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  printTable();
  process.stdout.write(`\nwrote bench/results/latest.json in ${Math.round((Date.now() - started) / 1000)} s\n`);
}

function printTable() {
  const find = (d, n, op, tool) => results.find((r) => r.dialect === d && r.revisions === n && r.operation === op && r.tool === tool);
  const lines = ['', '| dialect | N | operation | tool | median ms | min | max | CPU ms | vs floor | vs floor/rev | vs drizzle-orm |', '|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of results) {
    if (r.median_ms === null) {
      lines.push(`| ${r.dialect} | ${r.revisions} | ${r.operation} | ${r.tool} | ${r.error ? `FAILED: ${r.error}` : `peak RSS ${r.peak_rss_mb} MB`} | | | | | | |`);
      continue;
    }
    if (r.runs === 1) {
      lines.push(`| ${r.dialect} | ${r.revisions} | ${r.operation} | ${r.tool} | ${r.median_ms} (one run)${r.failed?.length ? ` — failed: ${r.failed.join('; ')}` : ''} | | | | | | |`);
      continue;
    }
    const floor = find(r.dialect, r.revisions, r.operation, 'floor') ?? find(r.dialect, r.revisions, r.operation, 'node -e 0') ?? find(r.dialect, r.revisions, r.operation, 'drizzle-kit');
    const dz = find(r.dialect, r.revisions, r.operation, 'drizzle-orm');
    const perRev = find(r.dialect, r.revisions, r.operation, 'floor/rev');
    const ratio = (b) => (b && b !== r ? `${(r.median_ms / b.median_ms).toFixed(2)}×` : '');
    lines.push(`| ${r.dialect} | ${r.revisions} | ${r.operation} | ${r.tool} | ${r.median_ms} | ${r.min_ms} | ${r.max_ms} | ${r.cpu_ms ?? ''} | ${ratio(floor)} | ${ratio(perRev)} | ${ratio(dz)} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.message}\n`);
  process.exit(1);
});
