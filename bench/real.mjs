/**
 * make bench, real histories: the largest PostgreSQL and the largest SQLite history of the corpus
 * (public drizzle-kit histories kept outside this repository; see bench/README.md "Real histories"),
 * each in a project of its own under bench/.work. Per history:
 *  - migrate-downs (every down computed and proven on a scratch database), one timed run; its downs
 *    are the ones the down rows run;
 *  - up base → head: sluice, sluice -1, drizzle-orm's migrate(), floor (the same statements in one
 *    transaction through psql / sqlite3), floor/rev (each revision in its own transaction with a
 *    version row), each on an empty database (PostgreSQL: a database of its own per run);
 *  - down head → the newest flagged revision (base when none is flagged: a flagged down needs a hand,
 *    so no tool can revert past it): sluice, and the floor running the same down files;
 *  - db-test (`sluice check`), one timed run (the corpus has no models, so its models check fails by
 *    construction and is not counted).
 * A PostgreSQL history that needs a search path of its own (objects in its own pgSchema named
 * unqualified), or that drizzle-orm's migrate() cannot apply whole (pickHistories), is passed over for
 * the next largest: drizzle-orm's migrate() and the floor could not run it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyProject, ownSchemas, readHistories } from './corpus-lib.mjs';

export { findCorpus } from './corpus-lib.mjs';

const BP = /-->\s*statement-breakpoint/;

/** The statements of a drizzle-kit file as the floor runs them: split at breakpoints, each ended by `;`. */
function statementsOf(text) {
  return text
    .split(BP)
    .map((s) => s.trim())
    .filter((s) => s && !/^(--[^\n]*(\n|$)|\s)*$/.test(s))
    .map((s) => (/;\s*$/.test(s.replace(/--[^\n]*$/gm, '').trim()) ? s : `${s};`));
}

/**
 * `appliesWhole(h)`: whether drizzle-orm's migrate() applies the PostgreSQL history to an empty
 * database (it runs every revision in one transaction: a history that uses an enum value in the
 * transaction that added it, as PageSpace's 0094 does, was only ever applied in steps and cannot be
 * compared with it); asked of the largest candidates in turn.
 */
export function pickHistories(corpus, appliesWhole = () => true) {
  const all = readHistories(corpus);
  const bySize = (list) => list.sort((a, b) => b.tags.length - a.tags.length);
  const skipped = [];
  const pg = bySize(
    all.filter((h) => {
      if (h.manifest.dialect !== 'postgresql') return false;
      const own = ownSchemas(h.dir).length > 0;
      if (own) skipped.push(`${h.name} (${h.tags.length} revisions, needs its own search path)`);
      return !own;
    }),
  ).find((h) => {
    const why = appliesWhole(h);
    if (why !== true) skipped.push(`${h.name} (${h.tags.length} revisions, drizzle-orm's migrate() cannot apply it whole: ${why})`);
    return why === true;
  });
  const largest = (list) => bySize(list)[0];
  const sqlite = largest(all.filter((h) => h.manifest.dialect === 'sqlite' && !h.manifest.drizzleDialect));
  return { picked: [pg, sqlite].filter(Boolean), skipped };
}

/**
 * Run the rows for one history. `tools` come from run.mjs: measure(dialect, n, op, tools), run(cmd,
 * args, opts) → ms, url (the bench's server), CLI, REPO, WORK, nodeEnv, push(row).
 */
export function benchHistory(h, t) {
  const { measure, run, url, CLI, REPO, WORK, nodeEnv, push, PSQL } = t;
  const dialect = h.manifest.dialect;
  const n = h.tags.length;
  const label = `${dialect} (${h.name})`;
  const root = path.join(WORK, `real-${h.name}`);
  const out = historyProject(h, root); // under bench/.work: the repository's node_modules is found

  // Databases: PostgreSQL, one database per run (the histories write to public); SQLite, a file.
  let db = 0;
  let current = '';
  const admin = (sql) => {
    const r = spawnSync(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
  };
  const dbUrl = (name) => url.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const file = path.join(root, 'real.sqlite');
  const fresh =
    dialect === 'postgresql'
      ? () => {
          current = `real_${process.pid}_${++db}`;
          admin(`CREATE DATABASE "${current}"`);
        }
      : () => spawnSync('rm', ['-f', file, `${file}-wal`, `${file}-shm`, `${file}-journal`]);
  const drop = dialect === 'postgresql' ? () => admin(`DROP DATABASE IF EXISTS "${current}" WITH (FORCE)`) : () => {};
  const target = () => (dialect === 'postgresql' ? dbUrl(current) : `file:${file}`);
  const env = () => ({ ...nodeEnv, DATABASE_URL: target(), SLUICE_CHECK_DATABASE_URL: url, SLUICE_NO_BACKUP: '1', SLUICE_TAKEOVER: 'off' });
  const floorCmd = (sqlFile, oneTx) =>
    dialect === 'postgresql'
      ? [PSQL, ['-X', '-q', ...(oneTx ? ['-1'] : []), '-v', 'ON_ERROR_STOP=1', '-d', dbUrl(current), '-f', sqlFile]]
      : ['sqlite3', ['-bail', file, `.read ${sqlFile}`]];

  // migrate-downs: one run, on the bench's server; its downs are the ones the down rows run.
  const downsMs = run(process.execPath, [CLI, 'downs'], { cwd: root, env: { ...nodeEnv, DATABASE_URL: dialect === 'postgresql' ? url : `file:${file}`, SLUICE_CHECK_DATABASE_URL: url } });
  push({ dialect: label, revisions: n, operation: 'migrate-downs', tool: 'sluice', median_ms: Math.round(downsMs * 10) / 10, min_ms: null, max_ms: null, runs: 1, peak_rss_mb: null });
  const flagged = h.tags.filter((tag) => /^--\s*sluice:manual-down-required/m.test(readFileSync(path.join(out, `${tag}.down.sql`), 'utf8')));
  const stop = flagged.at(-1);
  const reverted = stop ? h.tags.slice(h.tags.indexOf(stop) + 1) : h.tags;

  // Floor scripts.
  const ups = h.tags.map((tag) => statementsOf(readFileSync(path.join(out, `${tag}.sql`), 'utf8')));
  const upFile = path.join(root, 'floor-up.sql');
  const perRevFile = path.join(root, 'floor-per-revision.sql');
  const downFile = path.join(root, 'floor-down.sql');
  const now = dialect === 'postgresql' ? 'now()::text' : "datetime('now')";
  writeFileSync(upFile, `${dialect === 'sqlite' ? 'BEGIN;\n' : ''}${ups.flat().join('\n')}\n${dialect === 'sqlite' ? 'COMMIT;\n' : ''}`);
  writeFileSync(
    perRevFile,
    `CREATE TABLE "v" ("r" text PRIMARY KEY, "t" text, "e" integer);\n${ups.map((s, i) => `BEGIN;\n${s.join('\n')}\nINSERT INTO "v" VALUES ('${h.tags[i]}', ${now}, ${i});\nCOMMIT;`).join('\n')}\n`,
  );
  const downs = [...reverted].reverse().flatMap((tag) => statementsOf(readFileSync(path.join(out, `${tag}.down.sql`), 'utf8')));
  writeFileSync(downFile, `${dialect === 'sqlite' ? 'PRAGMA foreign_keys=OFF;\nBEGIN;\n' : ''}${downs.join('\n')}\n${dialect === 'sqlite' ? 'COMMIT;\n' : ''}`);

  const sluiceUp = (extra) => () => [process.execPath, [CLI, 'up', ...extra], { cwd: root, env: env() }];
  const drizzleUp = () =>
    dialect === 'postgresql'
      ? [process.execPath, [path.join(REPO, 'bench', 'drizzle-migrate.mjs'), 'postgresql', out, dbUrl(current), 'public']]
      : [process.execPath, [path.join(REPO, 'bench', 'drizzle-migrate.mjs'), 'sqlite', out, file]];
  measure(label, n, 'up', [
    { tool: 'sluice', prepare: fresh, cmd: sluiceUp([]), cleanup: drop },
    { tool: 'sluice -1', prepare: fresh, cmd: sluiceUp(['--single-transaction']), cleanup: drop },
    { tool: 'floor', prepare: fresh, cmd: () => floorCmd(upFile, true), cleanup: drop },
    { tool: 'floor/rev', prepare: fresh, cmd: () => floorCmd(perRevFile, false), cleanup: drop },
    { tool: 'drizzle-orm', prepare: fresh, cmd: drizzleUp, cleanup: drop },
  ]);
  measure(label, reverted.length, 'down', [
    {
      tool: 'sluice',
      prepare: () => (fresh(), run(process.execPath, [CLI, 'up'], { cwd: root, env: env() })),
      cmd: () => [process.execPath, [CLI, 'down', stop ?? 'base'], { cwd: root, env: env() }],
      cleanup: drop,
    },
    {
      tool: 'floor',
      prepare: () => (fresh(), run(...floorCmd(upFile, true))),
      cmd: () => floorCmd(downFile, true),
      cleanup: drop,
    },
  ]);

  // db-test: one run; every check but the models one must pass.
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, 'check', '--json'], { cwd: root, env: { ...nodeEnv, DATABASE_URL: dialect === 'postgresql' ? url : `file:${file}`, SLUICE_CHECK_DATABASE_URL: url }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  let failed = ['unreadable output'];
  try {
    const json = JSON.parse(r.stdout);
    failed = json.dialects.flatMap((d) => d.checks.filter((c) => !c.ok && c.name !== 'models match the history').map((c) => c.name));
  } catch {
    failed = [`exit ${r.status}: ${(r.stderr || '').split('\n')[0]}`];
  }
  push({ dialect: label, revisions: n, operation: 'db-test', tool: 'sluice', median_ms: Math.round(ms * 10) / 10, min_ms: null, max_ms: null, runs: 1, peak_rss_mb: null, ...(failed.length ? { failed } : {}) });
  return { name: h.name, revisions: n, flagged: flagged.length, downTo: stop ?? 'base', reverted: reverted.length };
}
