/**
 * `make migrate-check` (CLI `sluice verify`), for CI: three findings, each with its own exit code.
 *  - heads: the history is one line (no two revisions with one number, no two snapshots continuing
 *    the same parent): a forked history after a git merge has two heads;
 *  - models: the models and the history agree — drizzle-kit's differ (its API, no files written)
 *    finds nothing between the last snapshot and the models; otherwise the statements it would write;
 *  - drift (with a database): the live schema equals the schema its applied revisions build on a
 *    scratch database (SQLite: a temp file; PostgreSQL: a scratch schema on SLUICE_CHECK_DATABASE_URL
 *    or the same server, dropped afterwards); otherwise the lines that differ.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { conflictMarkerIn, conflictMarkerMessage } from '../conflictmarkers.js';
import { historyFor, loadProjectConfig, modelsPath, parseDatabaseTarget, projectDatabaseTarget, type DialectName } from '../config.js';
import { loadContext, resolveEnv, withSession, type CommandOptions } from '../context.js';
import { openConnection } from '../dialect/index.js';
import { diffSnapshots, emptySnapshot, generateSnapshot } from '../downgen.js';
import { carryingNotRemoved, checkpoint, ConfigError, ConnectionLost, describeCause, ExitCode, failureOf, IntegrityError, MigrationFailed, MultipleHeads, scratchNote, stoppable, type ExitCodeValue } from '../errors.js';
import { currentIndex, labelOf } from '../revision.js';
import { otherSchemasOf, readDown, readHistory, readUp, readSnapshot, snapshotFile, tsFileOf, type History } from '../source.js';
import { partNamedIn } from '../downheader.js';
import { rel } from '../relpath.js';
import { isChecksumOf } from '../revisionreads.js';
import { extensionsCreated, foreignSchemas, namesPublic, rolesCreated, removeFolder, replayDatabase } from '../scratch.js';
import { quoteIdent } from '../sql.js';
import { introspect, schemaDiff, untagged } from '../introspect.js';
import { importTypeScript } from '../tsmodule.js';
import { upgrade } from './migrate.js';
import { takeoverView } from './takeover.js';

export const VerifyExit = { heads: ExitCode.multipleHeads, models: ExitCode.modelsDiffer, drift: ExitCode.drift } as const;

export interface VerifyFinding {
  check: 'heads' | 'models' | 'drift';
  dialect: DialectName;
  ok: boolean;
  /** Set when the check could not run (e.g. no database for drift). */
  skipped?: string;
  /** What differs: heads, statements drizzle-kit would generate, or schema lines (- expected, + live). */
  details: string[];
}

export interface VerifyResult {
  ok: boolean;
  /** 0, or the exit code of the first failing check (heads 10, models 8, drift 9). */
  exitCode: ExitCodeValue;
  findings: VerifyFinding[];
  /** Scratch databases the drift check could not remove, and why: drop them by hand. */
  notRemoved?: string[];
}

/** Heads of a history: revisions that no other revision continues (by number and by snapshot prevId). */
export function headsOf(history: History): string[] {
  const revs = history.revisions;
  const byNumber = new Map<number, string[]>();
  for (const r of revs) byNumber.set(r.number, [...(byNumber.get(r.number) ?? []), r.id]);
  const dupNumbers = [...byNumber.values()].filter((ids) => ids.length > 1);
  const parents = new Map<string, string[]>();
  for (const r of revs) {
    let prevId: string | undefined;
    try {
      prevId = String(readSnapshot(history.dir, r).prevId ?? '');
    } catch {
      continue;
    }
    parents.set(prevId, [...(parents.get(prevId) ?? []), r.id]);
  }
  const forks = [...parents.values()].filter((ids) => ids.length > 1);
  const branched = new Set([...dupNumbers, ...forks].flat());
  if (branched.size === 0) return revs.length ? [revs.at(-1)!.id] : [];
  return [...branched];
}

/** What a model export is in the database (`table:<schema>.<name>`…), else its export name. */
function modelIdentity(exportName: string, value: unknown): string {
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    const v = value as Record<string | symbol, unknown>;
    const table = v[Symbol.for('drizzle:Name')];
    if (typeof table === 'string') return `table:${String(v[Symbol.for('drizzle:Schema')] ?? '')}.${table}`;
    const view = v[Symbol.for('drizzle:ViewBaseConfig')] as { name?: unknown; schema?: unknown } | undefined;
    if (view && typeof view.name === 'string') return `view:${String(view.schema ?? '')}.${view.name}`;
    if (typeof v.enumName === 'string') return `enum:${String(v.schema ?? '')}.${v.enumName}`;
    if (typeof v.seqName === 'string') return `sequence:${String(v.schema ?? '')}.${v.seqName}`;
  }
  return `export:${exportName}`;
}

async function importModels(root: string, schema: string): Promise<Record<string, unknown>> {
  const files: string[] = [];
  for (const entry of schema.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (/[*?{[]/.test(entry)) throw new ConfigError(`models path ${entry} is a glob; migrate-check reads files and folders: list them in drizzle.config.ts's schema`);
    const abs = path.resolve(root, entry);
    const st = statSync(abs, { throwIfNoEntry: false });
    if (!st) throw new ConfigError(`models file ${entry} (drizzle.config.ts schema) does not exist`);
    // a folder's own files, as drizzle-kit's prepareFilenames lists them (not its subfolders: a hunt saw
    // a table in models/pg/sub/ reported as "would generate", which migrate-create never made)
    if (st.isDirectory()) {
      for (const f of readdirSync(abs).sort()) if (/\.(m?ts|m?js)$/.test(f) && !f.endsWith('.d.ts') && !statSync(path.join(abs, f)).isDirectory()) files.push(path.join(abs, f));
    } else files.push(abs);
  }
  // every file's exports, each table, view, enum or sequence once by its name in the database (an
  // index file's re-export is the same table, though each file loads as a module of its own: a review
  // saw drizzle-kit exit on the duplicate), anything else once by its export name: two files exporting
  // different tables under one name are two tables, as drizzle-kit reads them file by file (a hunt:
  // merged by export name, one was left out, and the check passed)
  const imports: Record<string, unknown> = {};
  for (const f of files) {
    try {
      for (const [name, value] of Object.entries(await importTypeScript(f, readFileSync(f, 'utf8')))) {
        const key = modelIdentity(name, value);
        if (!(key in imports)) imports[key] = value;
      }
    } catch (err) {
      const marker = conflictMarkerIn(root, f);
      if (marker) throw new ConfigError(conflictMarkerMessage(marker, 'run migrate-check again'), { cause: err });
      throw new ConfigError(`cannot load the models ${path.relative(root, f)}: ${describeCause(err)}`, { cause: err });
    }
  }
  return imports;
}

export async function checkModels(root: string, dialect: DialectName, history: History, schema: string, casing?: string): Promise<VerifyFinding> {
  const last = history.revisions.at(-1);
  const previous = last ? readSnapshot(history.dir, last) : await emptySnapshot(root, dialect);
  // with the config's casing, as drizzle-kit generate builds it (a hunt: snake_case projects failed, told to drop their columns)
  const current = await generateSnapshot(root, dialect, await importModels(root, schema), casing);
  // drizzle-kit's warnings: a change of the models it leaves out (a review: passed as "ok models")
  const warnings: string[] = [];
  const statements = await diffSnapshots(root, dialect, previous, current, undefined, warnings);
  const details = [...statements.map((s) => `would generate: ${s.replace(/\s+/g, ' ').trim()}`), ...warnings.map((w) => `drizzle-kit leaves a change of the models out: ${w}`)];
  return { check: 'models', dialect, ok: details.length === 0, details };
}

/**
 * What a schema dump says that drift is about: not the schema's own creation or comment (pg_dump
 * writes `COMMENT ON SCHEMA public` for public only), nor drizzle's migrator's table (SQLite keeps it
 * in the file; it is bookkeeping, like sluice_version).
 */
function comparable(dump: string): string {
  return dump
    .split('\n')
    // nor pg_dump's session settings, which a dump of a schema without objects lacks (a hunt: drift at base)
    .filter((l) => !/^(CREATE SCHEMA|COMMENT ON SCHEMA|ALTER SCHEMA)\b/.test(l) && !/^SET [a-z_]+ = .*;$/.test(l) && l !== "SELECT pg_catalog.set_config('search_path', '', false);")
    .join('\n')
    .replace(/^table __drizzle_migrations\n(?: {2}.*\n?)*/m, '');
}

/**
 * Dump lines as compared: an indented line (a column, a constraint, a foreign key) carries the line
 * above it that is not indented (its table), so that a column dropped from one table is not taken for
 * the same column another table has (both dumps list a table's parts indented under it).
 */
export function inContext(lines: string[]): string[] {
  let owner = '';
  return lines.map((line) => {
    if (!/^\s/.test(line)) return (owner = line.trim()), line;
    return owner ? `${owner} › ${line.trim()}` : line;
  });
}

async function checkDrift(options: VerifyOptions & { notRemoved: string[] }): Promise<VerifyFinding> {
  const ctx = await loadContext(options);
  const dialect = ctx.target.dialect;
  // the other schemas the history names (drizzle's pgSchema): read on both sides, each line tagged with its schema
  const others = dialect === 'postgresql' ? otherSchemasOf(ctx.history.dir, ctx.history.revisions) : [];
  const { live, liveShape, current, ids, edited } = await withSession(ctx, false, async ({ conn, store, applied, appliedIds }) => {
    // A database drizzle's migrator manages is read as the takeover would record it.
    const view = applied.length === 0 ? await takeoverView(ctx, conn, store) : undefined;
    const ids = view?.state === 'pending' ? new Set(view.records.map((r) => r.revision)) : appliedIds;
    return {
      live: await conn.dumpSchema(),
      // PostgreSQL: the catalogs too, read in order where the dump's lines compare as a set (an enum's
      // values reordered, a function body's lines, foreign keys' triggers turned off: found by a hunt)
      // SQLite: the same lines as db-test's too (a hunt: UNIQUE constraints, an index column's collation,
      // WITHOUT ROWID and STRICT were not in the dump, and a table named sqlite… was left out)
      liveShape: await introspect(conn, ctx.target.schema, undefined, others),
      current: ids.size ? labelOf(ctx.history.revisions, currentIndex(ctx.history.revisions, ids)) : 'base',
      ids,
      // applied up files changed since: the replay runs them as they are now (a hunt: an edit of an
      // applied file was reported as the live database's drift, not said)
      edited: applied.filter((a) => {
        const rev = ctx.history.revisions.find((r) => r.id === a.revision);
        try {
          return rev !== undefined && !isChecksumOf(ctx, rev, a.checksum);
        } catch {
          return false;
        }
      }).map((a) => a.revision),
    };
  });
  // PostgreSQL: a scratch schema beside the data, or a database of its own for a history that names
  // other schemas (scratch.ts); it never takes over drizzle's table of the database it lives in.
  // SQLite: a file in a temporary folder, made inside the try so that its finally removes it.
  const replay =
    dialect === 'postgresql'
      ? await replayDatabase(ctx.root, ctx.env.SLUICE_CHECK_DATABASE_URL || ctx.env.DATABASE_URL!, ctx.env, ctx.target.schema!, await foreignSchemas(ctx.history.dir, ctx.history.revisions, ctx.env, others), extensionsCreated(ctx.history.revisions), () => namesPublic(ctx.history.revisions), false, rolesCreated(ctx.history.revisions))
      : undefined;
  let tmp: string | undefined;
  try {
    if (!replay) tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-verify-'));
    const scratch = replay?.env ?? { ...ctx.env, DATABASE_URL: `file:${path.join(tmp!, 'scratch.sqlite')}` };
    const scratchSchema = scratch.DATABASE_SCHEMA ?? '';
    // the applied set only: a pending revision older than the current one (a merged branch's) is not in the database
    if (current !== 'base') await replayUpTo(current, scratch, options, ctx.root, ids);
    await checkpoint(options.signal, 'migrate-check');
    const conn = await openConnection(parseDatabaseTarget(scratch, ctx.root), { write: false, env: scratch });
    let expected: string;
    let expectedShape: string[] = [];
    // how pg_dump prints each schema's name (quote_ident: quoted when mixed case or a keyword, DATABASE_SCHEMA=MixedCase or order)
    let printed: { scratch: string; target: string } | undefined;
    try {
      expected = await conn.dumpSchema();
      if (dialect === 'postgresql' && scratchSchema !== ctx.target.schema) {
        const [row] = await conn.query<{ s: string; t: string }>(`SELECT pg_catalog.quote_ident(${conn.param(1)}) AS s, pg_catalog.quote_ident(${conn.param(2)}) AS t`, [scratchSchema, ctx.target.schema]);
        printed = { scratch: row!.s, target: row!.t };
      }
      expectedShape = dialect === 'postgresql' ? await introspect(conn, scratchSchema, ctx.target.schema, others) : await introspect(conn);
    } finally {
      await conn.close();
    }
    if (printed) expected = expected.split(quoteIdent(scratchSchema)).join(quoteIdent(ctx.target.schema!)).split(printed.scratch).join(printed.target);
    const dumped = schemaDiff(inContext(comparable(expected).split('\n')), inContext(comparable(live).split('\n'))); // `- ` expected (what the revisions build), `+ ` live
    // what the dump's comparison let through, from the catalogs (the same lines as db-test's; the schema named `$`)
    // (not extensions: the database's own, which a scratch schema beside them finds made already)
    const shape = (lines: string[]) => lines.filter((l) => !untagged(l).startsWith('extension '));
    const details = dumped.length ? dumped : schemaDiff(shape(expectedShape), shape(liveShape));
    const note = `note: the up of ${edited.join(', ')} changed since it was applied, and the replay ran it as it is now: a difference may be that edit, not a change of the database (make migrate-status lists changed files)`;
    return { check: 'drift', dialect, ok: details.length === 0, details: details.length && edited.length ? [note, ...details] : details };
  } finally {
    if (tmp) removeFolder(tmp, 'the scratch folder', options.notRemoved);
    if (replay) options.notRemoved.push(...(await replay.close()));
  }
}

/**
 * The drift check's replay of the applied revisions on its scratch database. A revision that fails
 * there, or a connection lost there, is reported as the replay's: the user's database was not touched
 * (the error's own "the database is at …" would describe the scratch database).
 */
async function replayUpTo(current: string, scratch: Record<string, string | undefined>, options: VerifyOptions, root: string, only: ReadonlySet<string>): Promise<void> {
  try {
    await upgrade({ cwd: root, env: scratch, config: options.config, revision: current, noBackup: true, signal: options.signal, only });
  } catch (err) {
    if (options.signal?.aborted || !(err instanceof MigrationFailed || err instanceof ConnectionLost)) throw err;
    const lost = err instanceof ConnectionLost;
    const message = `migrate-check could not rebuild the applied revisions (base -> ${current}) on a scratch database to compare with the database: ${failureOf(err)}. Your database was not changed; ${lost ? 'run migrate-check again when the server is reachable' : 'the history does not replay from base: fix that revision'}`;
    throw lost ? new ConnectionLost(message, err.revision, undefined, { cause: err }) : new MigrationFailed(message, err.revision, err.statementIndex, { cause: err });
  }
}

export interface HeadsResult {
  dialects: { dialect: DialectName; folder: string; heads: string[] }[];
}

/** `make migrate-heads`: the head(s) of each dialect's history; more than one means a fork to merge. */
export async function heads(options: CommandOptions = {}): Promise<HeadsResult> {
  const { root, env } = resolveEnv(options);
  const project = await loadProjectConfig(root, options.config ?? env.SLUICE_CONFIG);
  const dialects: HeadsResult['dialects'] = [];
  for (const dialect of Object.keys(project.histories) as DialectName[]) {
    const h = historyFor(project, dialect);
    try {
      dialects.push({ dialect, folder: rel(h.out), heads: headsOf(readHistory(h.out, { allowMissing: true })) });
    } catch (err) {
      if (!(err instanceof MultipleHeads)) throw err;
      dialects.push({ dialect, folder: rel(h.out), heads: err.heads });
    }
  }
  return { dialects };
}

type VerifyOptions = CommandOptions & {
  database?: boolean;
  /** Stops the check (a statement of the drift check's replay is cancelled): its scratch schema or database is removed, Interrupted thrown. */
  signal?: AbortSignal;
};

export async function verify(options: VerifyOptions = {}): Promise<VerifyResult> {
  const notRemoved: string[] = [];
  const result = await stoppable(options.signal, () => `during migrate-check: ${scratchNote(notRemoved)}; nothing else had changed`, () => carryingNotRemoved(notRemoved, () => verifyAll({ ...options, notRemoved })));
  return notRemoved.length ? { ...result, notRemoved } : result;
}

/**
 * Every revision's up and down file is there (and the TypeScript part its up or down names), and every snapshot there is JSON: what `up`, `down` and
 * drizzle-kit's next generate need (found by a hunt: a journal committed without its `.sql` file, never
 * `git add`ed, passed migrate-check, exit 0, and `up` then failed exit 4 in the deploy; a snapshot that is
 * not JSON passed too, and the next migrate-create failed). Throws IntegrityError (exit 4) or
 * ConfigError (exit 2), as `up` would.
 */
function checkFiles(history: History): void {
  for (const r of history.revisions) {
    if (!existsSync(r.upFile)) throw new IntegrityError(`up SQL of revision ${r.id} is missing: ${rel(r.upFile)}; restore it from version control (or git add it)`);
    if (!existsSync(r.downFile)) throw new IntegrityError(`down SQL of revision ${r.id} is missing: ${rel(r.downFile)}; write it with make migrate-downs, or restore it from version control`);
    // a TypeScript part its up or down names (migrate-create --ts) that is not there, never `git add`ed: up refuses it
    // (a revision made before the up's line, with SQL in its up, would run without it)
    if (!existsSync(tsFileOf(r))) {
      const by = partNamedIn(textIfReadable(() => readUp(r)), () => textIfReadable(() => readDown(r)));
      if (by) throw new IntegrityError(`TypeScript part of revision ${r.id} is missing: ${rel(tsFileOf(r))} (its ${by} file names it); restore it from version control (or git add it)`);
    }
    if (existsSync(snapshotFile(history.dir, r))) readSnapshot(history.dir, r);
  }
}

/** A revision file's text, or null when it cannot be read (the run that reads it says why, as before). */
function textIfReadable(read: () => string | null): string | null {
  try {
    return read();
  } catch {
    return null;
  }
}

async function verifyAll(options: VerifyOptions & { notRemoved: string[] }): Promise<VerifyResult> {
  const { root, env } = resolveEnv(options);
  const project = await loadProjectConfig(root, options.config ?? env.SLUICE_CONFIG);
  // a config whose database sluice cannot open (a server: projectDatabaseTarget refuses it): no drift
  // check without DATABASE_URL, said so, while the other checks run
  const unopenable = env.DATABASE_URL === undefined && project.sqliteUnusable !== undefined && !project.sqliteUrl;
  const target = unopenable ? parseDatabaseTarget(env, root) : projectDatabaseTarget(env, root, project);
  const findings: VerifyFinding[] = [];
  for (const dialect of Object.keys(project.histories) as DialectName[]) {
    const h = historyFor(project, dialect);
    let history: History;
    let heads: string[];
    try {
      history = readHistory(h.out, { allowMissing: true });
      heads = headsOf(history);
    } catch (err) {
      if (!(err instanceof MultipleHeads)) throw err;
      findings.push({ check: 'heads', dialect, ok: false, details: [err.message] });
      continue;
    }
    findings.push({ check: 'heads', dialect, ok: heads.length <= 1, details: heads.length > 1 ? [`heads: ${heads.join(', ')} (${rel(h.out)} forked: run make migrate-merge, or renumber one branch after the other)`] : [] });
    if (heads.length > 1) continue;
    checkFiles(history);
    findings.push(await checkModels(root, dialect, history, modelsPath(h, 'migrate-check'), h.casing));
  }
  const wantDb = !unopenable && (options.database ?? ((env.DATABASE_URL ?? '').trim() !== '' || (target.dialect === 'sqlite' && existsSync(target.file!))));
  const forked = findings.some((f) => f.check === 'heads' && !f.ok && f.dialect === target.dialect);
  await checkpoint(options.signal, 'migrate-check');
  if (wantDb && !forked) findings.push(await checkDrift({ ...options, cwd: root, env }));
  else {
    // --no-database said why (was: "DATABASE_URL is not set and … does not exist", whatever held)
    const why = forked
      ? 'the history is forked'
      : options.database === false
        ? 'as asked (--no-database)'
        : unopenable
          ? `no database: DATABASE_URL is not set, and the config's dbCredentials names ${project.sqliteUnusable}, which sluice cannot open`
          : `no database: DATABASE_URL is not set and ${target.display} does not exist`;
    findings.push({ check: 'drift', dialect: target.dialect, ok: true, skipped: why, details: [] });
  }
  const failed = findings.find((f) => !f.ok);
  return { ok: !failed, exitCode: failed ? VerifyExit[failed.check] : ExitCode.ok, findings };
}
