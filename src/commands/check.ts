/**
 * db-test: the migration checks on scratch databases. For every configured dialect: a fresh SQLite
 * file or a fresh PostgreSQL schema; up one revision at a time recording the schema, then down one at
 * a time checking each step restores the previous schema exactly, then up to head again.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadProjectConfig, modelsPath, projectDatabaseTarget, type DatabaseTarget, type DialectName, type ProjectConfig } from '../config.js';
import { resolveEnv, type CommandOptions } from '../context.js';
import { openConnection } from '../dialect/index.js';
import type { Connection } from '../dialect/types.js';
import { carryingNotRemoved, checkpoint, failureOf, scratchNote, stopIfAborted, stoppable } from '../errors.js';
import { clusterRunning, startCluster, stopCluster, stopCommand } from '../pgcluster.js';
import { introspect } from '../introspect.js';
import { PREPARED_WORDS } from '../proofscratch.js';
import { proveDowns } from '../prove.js';
import { extensionsCreated, foreignSchemas, namesPublic, rolesCreated, notRemovedLine, removeFolder, replayDatabase } from '../scratch.js';
import { otherSchemasOf, readDown, readHistory, readUp, tsFileOf, type RevisionFile } from '../source.js';
import { rel } from '../relpath.js';
import { VersionStore } from '../store.js';
import { downgrade, upgrade } from './migrate.js';
import { checkModels, headsOf } from './verify.js';
import { checkOptions, COMMON_OPTIONS } from '../options.js';

export interface CheckItem {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface DialectCheck {
  dialect: DialectName;
  database: string;
  revisions: number;
  skipped?: string;
  checks: CheckItem[];
}

export interface CheckResult {
  ok: boolean;
  dialects: DialectCheck[];
  /** Scratch databases (or the PostgreSQL db-test started) that could not be removed, and why: remove them by hand. */
  notRemoved?: string[];
}

type CheckOptions = CommandOptions & {
  onCheck?: (d: DialectName, c: CheckItem) => void;
  /**
   * Stops the check between its steps (a statement running on PostgreSQL is cancelled): its scratch
   * databases are removed (a scratch schema, a PostgreSQL it started) and Interrupted is thrown.
   */
  signal?: AbortSignal;
};

/** A run's options and where its clean-up adds what it could not remove. */
type CheckRun = CheckOptions & { notRemoved: string[] };

export async function check(options: CheckOptions = {}): Promise<CheckResult> {
  checkOptions('check', options, { ...COMMON_OPTIONS, onCheck: 'function', signal: 'signal' });
  const notRemoved: string[] = [];
  // once stopped, every finally below has run: scratch schemas dropped, a cluster sluice started stopped, temp folders removed
  const result = await stoppable(options.signal, () => `during db-test: ${scratchNote(notRemoved)}; nothing else had changed`, () => carryingNotRemoved(notRemoved, () => checkAll({ ...options, notRemoved })));
  return notRemoved.length ? { ...result, notRemoved } : result;
}

async function checkAll(options: CheckRun): Promise<CheckResult> {
  const { root, env } = resolveEnv(options);
  const project = await loadProjectConfig(root, options.config ?? env.SLUICE_CONFIG);
  const results: DialectCheck[] = [];
  for (const dialect of Object.keys(project.histories) as DialectName[]) {
    stopIfAborted(options.signal, 'db-test');
    if (dialect === 'sqlite') {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-check-'));
      try {
        results.push(await roundTrip(root, { ...env, DATABASE_URL: `file:${path.join(dir, 'check.sqlite')}` }, dialect, options, project));
      } finally {
        removeFolder(dir, 'the scratch folder', options.notRemoved);
      }
      continue;
    }
    results.push(await checkPostgres(root, env, options, project));
  }
  return { ok: results.every((r) => !r.skipped && r.checks.every((c) => c.ok)), dialects: results };
}

async function checkPostgres(
  root: string,
  env: Record<string, string | undefined>,
  options: CheckRun,
  project: ProjectConfig,
): Promise<DialectCheck> {
  if (env.SLUICE_SKIP_PG === '1') {
    return { dialect: 'postgresql', database: '-', revisions: 0, skipped: 'SLUICE_SKIP_PG=1: PostgreSQL checks NOT run', checks: [] };
  }
  let url = env.SLUICE_CHECK_DATABASE_URL ?? (/^postgres(ql)?:/.test(env.DATABASE_URL ?? '') ? env.DATABASE_URL! : '');
  let clusterDir: string | undefined;
  let replay: Awaited<ReturnType<typeof replayDatabase>> | undefined;
  // On a cluster of db-test's own, what its scratch databases left goes with the cluster once it is
  // stopped and its folder removed: only named if the cluster is not.
  const left: string[] = [];
  try {
    // inside the try: a Ctrl+C also reaches initdb and pg_ctl (one process group), and what they left is removed
    if (!url) {
      clusterDir = mkdtempSync(path.join(os.tmpdir(), 'sluice-check-pg-'));
      url = (await startCluster(clusterDir)).url;
    }
    const history = project.histories.postgresql!;
    const revisions = readHistory(history.out).revisions;
    // the other schemas the history names (drizzle's pgSchema): read with the replay's own at each step
    const others = otherSchemasOf(history.out, revisions);
    replay = await replayDatabase(root, url, env, 'public', await foreignSchemas(history.out, revisions, env, others), extensionsCreated(revisions), () => namesPublic(revisions), true, rolesCreated(revisions));
    return await roundTrip(root, replay.env, 'postgresql', { ...options, notRemoved: left }, project, others);
  } finally {
    if (replay) left.push(...(await replay.close()));
    if (!clusterDir) options.notRemoved.push(...left);
    else {
      const dir = clusterDir;
      const failed = await stopCluster(dir).then(
        () => undefined,
        (err: unknown) => (clusterRunning(dir) ? err : undefined), // a stale pid file: nothing runs
      );
      // a server still running keeps its folder: removing it under the server would lose the way to stop it
      if (failed) options.notRemoved.push(...left, notRemovedLine(`the PostgreSQL db-test started, in ${dir} (stop it with: ${stopCommand(dir)}; then delete the folder)`, failed));
      else removeFolder(dir, 'the folder of the PostgreSQL db-test started,', options.notRemoved);
    }
  }
}

async function roundTrip(
  root: string,
  env: Record<string, string | undefined>,
  dialect: DialectName,
  options: CheckRun,
  project: ProjectConfig,
  others: string[] = [],
): Promise<DialectCheck> {
  // the history's SQLite engine (libsql for dialect "turso") opens the check's connection too
  const target = projectDatabaseTarget(env, root, project, project.histories[dialect]?.engine);
  const checks: CheckItem[] = [];
  const record = (c: CheckItem) => {
    checks.push(c);
    options.onCheck?.(dialect, c);
  };
  // One connection reads every schema (a new backend's first catalog queries cost more than the query).
  let conn: Connection | undefined;
  const reader = async () => (conn ??= await openConnection(target, { write: true, env }));
  const dump = async () => {
    await new VersionStore(await reader()).ensure();
    return (await introspect(await reader(), target.schema, undefined, others)).join('\n');
  };
  try {
    return await checksOf(root, env, dialect, options, project, target, record, checks, dump, reader);
  } finally {
    await conn?.close();
  }
}

async function checksOf(
  root: string,
  env: Record<string, string | undefined>,
  dialect: DialectName,
  options: CheckRun,
  project: ProjectConfig,
  target: DatabaseTarget,
  record: (c: CheckItem) => void,
  checks: CheckItem[],
  dump: () => Promise<string>,
  reader: () => Promise<Connection>,
): Promise<DialectCheck> {
  // Scratch databases: no SQLite backups of them in the project's .sluice/backups.
  // The commands run on the check's own connection: one backend for the whole check.
  const common = { cwd: root, env, config: options.config, noBackup: true, connection: await reader(), signal: options.signal };
  const revs = readHistory(project.histories[dialect]!.out).revisions;
  // Each command below runs on a session as clean as a CLI run's: what a TypeScript part or a PREPARE
  // prepared in one (a named statement) is not found by the next; and after a revision's DEALLOCATE or
  // DISCARD, the driver's memory of sluice's own named statements is made true again before the next read.
  const prepares = revs.some((r) => existsSync(tsFileOf(r)) || mentionsPrepare(r));
  const command = async <T>(run: () => Promise<T>): Promise<T> => {
    if (!prepares) return run();
    const conn = await reader();
    await conn.forgetPrepared?.();
    try {
      return await run();
    } finally {
      await conn.forgetPrepared?.().catch(() => {}); // the command's own failure is the one reported
    }
  };
  /** `name`: a function when what the check could show is known only once it ran. */
  const attempt = async (name: string | (() => string), fn: () => Promise<string | undefined>) => {
    await checkpoint(options.signal, 'db-test');
    const named = () => (typeof name === 'function' ? name() : name);
    try {
      const problem = await fn();
      record({ name: named(), ok: !problem, detail: problem });
      return !problem;
    } catch (err) {
      if (options.signal?.aborted) throw err; // stopped, not a failed check
      // a revision that failed on the scratch database: what failed, not where that database then stood
      record({ name: named(), ok: false, detail: failureOf(err) });
      return false;
    }
  };
  // pytest-alembic's first checks: one head, and the models match what the history builds.
  const history = project.histories[dialect]!;
  await attempt('single head', async () => {
    const heads = headsOf(readHistory(history.out));
    return heads.length > 1 ? `the history has ${heads.length} heads: ${heads.join(', ')}` : undefined;
  });
  await attempt('models match the history', async () => {
    const f = await checkModels(root, dialect, readHistory(history.out), modelsPath(history, 'db-test'), history.casing);
    return f.ok ? undefined : f.details.join('\n');
  });
  const dumps: string[] = [await dump()];
  let ok = true;
  for (const r of revs) {
    ok = await attempt(`up ${r.id}`, async () => {
      await command(() => upgrade({ ...common, revision: r.id }));
      dumps.push(await dump());
      return undefined;
    });
    if (!ok) break;
  }
  if (ok) {
    for (let i = revs.length - 1; i >= 0 && ok; i--) {
      ok = await attempt(`down ${revs[i]!.id} restores ${i ? revs[i - 1]!.id : 'base'}`, async () => {
        await command(() => downgrade({ ...common, revision: '-1' }));
        const now = await dump();
        return now === dumps[i] ? undefined : `schema differs after down:\n${firstDifference(dumps[i]!, now)}`;
      });
    }
  }
  if (ok) {
    await attempt('base -> head again matches head', async () => {
      await command(() => upgrade({ ...common, revision: 'head' }));
      const now = await dump();
      return now === dumps[revs.length] ? undefined : `schema differs:\n${firstDifference(dumps[revs.length]!, now)}`;
    });
  }
  if (ok) {
    // The downs as written, proven revision by revision on a scratch database, with a synthetic row in
    // every table before each down (rows the down's kept tables lose are a failure): prove.ts.
    // A down that runs outside a transaction (no-transaction, CONCURRENTLY) is proven without synthetic
    // rows (they could not be rolled back), as is one that refused to run with them: the line says which,
    // instead of claiming their rows kept.
    let withoutRows: string[] = [];
    let unfilled: string[] = [];
    const label = () =>
      `every down proven, rows kept${withoutRows.length ? ` (except ${withoutRows.join(', ')}: proven without rows, as it runs outside a transaction or refused to run with rows)` : ''}${
        unfilled.length ? ` (not proven in ${unfilled.join(', ')}: no synthetic row could be put there, e.g. a CHECK refused it)` : ''
      }`;
    await attempt(label, async () => {
      const downs = new Map(revs.flatMap((r) => {
        const text = readDown(r);
        return text === null ? [] : [[r.id, text] as const];
      }));
      const proved = await proveDowns({ root, dialect, engine: history.engine, dir: history.out, revisions: revs, downs, checkUp: false, downsAsWritten: true, env: { ...env, SLUICE_CHECK_DATABASE_URL: dialect === 'postgresql' ? target.url : undefined }, signal: options.signal, notRemoved: options.notRemoved });
      withoutRows = [...proved.proofs.values()].filter((p) => p.verified && !p.checked.some((c) => c.startsWith('rows kept'))).map((p) => p.revision);
      const byTable = new Map<string, number>();
      for (const p of proved.proofs.values()) {
        if (!p.verified || !p.checked.some((c) => c.startsWith('rows kept'))) continue;
        for (const t of p.unfilled ?? []) byTable.set(t, (byTable.get(t) ?? 0) + 1);
      }
      unfilled = [...byTable].map(([t, n]) => `${t} (${n} down${n === 1 ? '' : 's'})`);
      if (proved.stoppedAt) return `${proved.stoppedAt.revision}: ${proved.stoppedAt.reason}`;
      const bad = [...proved.proofs.values()].filter((p) => !p.verified);
      return bad.length ? bad.map((p) => `${p.revision} (${rel(revs.find((r) => r.id === p.revision)!.downFile)}): ${p.reason}${p.differences.length ? `\n    ${p.differences.slice(0, 5).join('\n    ')}` : ''}`).join('\n') : undefined;
    });
  }
  return { dialect, database: target.display, revisions: revs.length, checks };
}

/** The revision's SQL says PREPARE, DEALLOCATE or DISCARD (a file that cannot be read says nothing here: its step reports it). */
function mentionsPrepare(r: RevisionFile): boolean {
  try {
    return PREPARED_WORDS.test(`${readUp(r)}\n${readDown(r) ?? ''}`);
  } catch {
    return false;
  }
}

/**
 * The lines one schema has and the other lacks (`- expected`, `+ found`; at most 5 of each): was the
 * first line at which they part, so one index added showed as a pair of unrelated lines (a hunt).
 */
function firstDifference(expected: string, actual: string): string {
  const count = (lines: string[]) => lines.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
  const a = count(expected.split('\n'));
  const b = count(actual.split('\n'));
  const only = (x: Map<string, number>, y: Map<string, number>) => [...x].flatMap(([l, n]) => Array<string>(Math.max(0, n - (y.get(l) ?? 0))).fill(l));
  const cap = (lines: string[], sign: string) => [...lines.slice(0, 5).map((l) => `  ${sign} ${l}`), ...(lines.length > 5 ? [`  ${sign} … ${lines.length - 5} more`] : [])];
  return [...cap(only(a, b), '-'), ...cap(only(b, a), '+')].join('\n');
}
