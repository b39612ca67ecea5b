/**
 * migrate-create: drizzle-kit generates the up migration from the models (for every dialect the
 * config lists, in lockstep); sluice writes the down SQL beside it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { conflictMarkerIn, conflictMarkerMessage } from '../conflictmarkers.js';
import { loadProjectConfig, modelsPath, type DialectName, type HistoryConfig } from '../config.js';
import { resolveEnv, type CommandOptions } from '../context.js';
import { preloadKit } from '../downgen.js';
import { coolScratch, extensionsCreated, warmScratch } from '../scratch.js';
import { proofAhead, type ProofAhead } from '../proofscratch.js';
import { withFolderLock } from '../folderlock.js';
import { KitInterrupted, kitFailure, kitServes, madeNothing, runDrizzleKit, type KitOutcome } from '../kitgenerate.js';
import { checkpoint, ConfigError, Interrupted, scratchNote, signalName, SluiceError, UsageError, ExitCode, withNotRemoved } from '../errors.js';
import { folderState, readHistory, readUp, restoreFolder, snapshotFile, tsFileOf, writeNewFile, type RevisionFile } from '../source.js';
import { rel } from '../relpath.js';
import { typescriptPartLine } from '../downheader.js';
import { typeScriptTemplate } from '../tsrevision.js';
import { verifyDowns } from '../downproof.js';
import { resolvePrimaryKeyDropsInText, restartIdentitiesInText } from '../downrules.js';
import { renameChangesLeftOut } from '../renamelost.js';
import { warmParser } from '../sqlparse.js';
import { beginLintCreated, type CreatedLint } from './lint.js';
import { commentSafe, renderDownFor } from './downfile.js';
import { verifyOff } from '../verifysetting.js';
import { checkOptions, COMMON_OPTIONS } from '../options.js';

export interface CreateOptions extends CommandOptions {
  message: string;
  /** An empty revision: up and down written by hand (Alembic's `revision -m`). */
  empty?: boolean;
  /** Let drizzle-kit ask its rename questions on this terminal (runs dialects one after another). */
  interactive?: boolean;
  /** A TypeScript data migration: an empty revision (its optional SQL part) plus `<tag>.ts` with up(db) and down(db). */
  ts?: boolean;
  /**
   * Stops the command: drizzle-kit is stopped, every file drizzle-kit and sluice wrote in the
   * migrations folders is removed and the journal put back, and Interrupted is thrown (the abort's
   * reason names the signal, 'SIGINT' or 'SIGTERM'). Once every revision is written the command ends as usual.
   */
  signal?: AbortSignal;
  /** Lint the new revisions (CreateResult.lint, as lintCreated): each up as soon as drizzle-kit is done, while its down is proven. */
  lint?: boolean;
}

export interface CreatedRevision {
  dialect: DialectName;
  revision: string;
  upFile: string;
  downFile: string;
  downStatements: number;
  warnings: string[];
  /** The down needs a hand (hand-written or edited up SQL, or its verification failed). */
  manualReason?: string;
  /** The down was proven on a scratch database (downproof.ts); undefined when not run. */
  verified?: boolean;
  /** Why the verification did not run (`SLUICE_VERIFY=off`, `no scratch database (…)`…), when it did not. */
  unverified?: string;
  /** `create({ ts: true })`: the TypeScript part written beside the up. */
  tsFile?: string;
}

export interface CreateResult {
  created: CreatedRevision[];
  /** Dialects whose models had no change. */
  unchanged: DialectName[];
  /** Set when the dialects' histories no longer line up. */
  lockstepWarning?: string;
  /**
   * Dialects without model changes whose newest revision has no down file (a migrate-create stopped
   * half way, or drizzle-kit run alone): `make migrate-downs` writes and verifies it.
   */
  withoutDown?: { dialect: DialectName; revision: string }[];
  /** Scratch databases the down's verification could not remove, and why: remove them by hand. */
  notRemoved?: string[];
  /** `create({ lint: true })`: the new revisions' lint findings (warnings) and notes. */
  lint?: CreatedLint;
}

/** A file already where the new revision's down or TypeScript part goes (create() puts the folders back). */
class LeftoverFile extends Error {
  constructor(readonly file: string) {
    super(`${file} already exists`);
  }
}

/** File-name-safe slug of a message: lower case, letters and digits joined by underscores. */
export function slugify(message: string): string {
  const slug = message
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 60)
    .replace(/_+$/g, '');
  // (a message in another script, "добавить телефон", has letters but none of these: say which ones count)
  if (!slug) throw new UsageError('MSG must contain letters or digits of the Latin alphabet (a-z, 0-9), which name the revision\'s files; e.g. make migrate-create MSG="add phone to users"');
  return slug;
}


/** The snapshot file drizzle-kit reads as the newest: the name that sorts last in `<out>/meta`, `_journal.json` aside. */
function lastSnapshotName(out: string): string | undefined {
  try {
    return readdirSync(path.join(out, 'meta'))
      .filter((n) => !n.startsWith('_')) // as drizzle-kit's prepareOutFolder lists them
      .sort()
      .at(-1);
  } catch {
    return undefined;
  }
}

export async function create(options: CreateOptions): Promise<CreateResult> {
  checkOptions('create', options, { ...COMMON_OPTIONS, message: 'string', empty: 'boolean', interactive: 'boolean', ts: 'boolean', signal: 'signal', lint: 'boolean' }, ['message']);
  const slug = slugify(options.message ?? '');
  const message = commentSafe(options.message);
  const { root, env } = resolveEnv(options);
  verifyOff(env); // a SLUICE_VERIFY it does not take is refused before anything runs
  const project = await loadProjectConfig(root, options.config ?? env.SLUICE_CONFIG);
  // drizzle-kit reads the default export: with several dialects it must follow SLUICE_DIALECT, or every
  // run generates one dialect's revision (a hunt: "no change for postgresql", exit 0, its models changed)
  if (project.followsDialect === false) {
    throw new ConfigError(
      `${path.relative(root, project.configFile)} exports dialects ${Object.keys(project.histories).join(', ')}, but loading it does not read SLUICE_DIALECT, which migrate-create sets for each dialect's drizzle-kit run: its default export names one dialect whatever the run, so the others would be reported unchanged; nothing was run: pick the dialect from it, e.g. const dialect = process.env.SLUICE_DIALECT ?? 'sqlite'; export default defineConfig({ dialect, ...dialects[dialect] })`,
    );
  }
  const dialects = Object.entries(project.histories) as [DialectName, HistoryConfig][];
  // another migrate-create (or migrate-downs, migrate-merge) writing these folders refuses this one (folderlock.ts)
  return withFolderLock(root, dialects.map(([, h]) => h.out), () => createLocked(options, slug, message, root, env, project, dialects));
}

async function createLocked(
  options: CreateOptions,
  slug: string,
  message: string,
  root: string,
  env: Record<string, string | undefined>,
  project: Awaited<ReturnType<typeof loadProjectConfig>>,
  dialects: [DialectName, HistoryConfig][],
): Promise<CreateResult> {
  const histories = new Map(dialects.map(([d, h]) => [d, readHistory(h.out, { allowMissing: true }).revisions]));
  // drizzle-kit writes its up over a file of the name it picks: one there already (an earlier attempt's,
  // or written by hand) is refused before anything runs (was: overwritten, and not put back on Ctrl+C)
  for (const [d, h] of dialects) {
    const revs = histories.get(d)!;
    const last = revs.at(-1);
    if (last && !/^\d{4}_/.test(last.id)) continue; // named by timestamp: a name nobody can have taken
    const file = path.join(h.out, `${String((last?.number ?? -1) + 1).padStart(4, '0')}_${slug}.sql`);
    if (existsSync(file)) {
      throw new ConfigError(`${rel(file)} already exists (left by an earlier attempt, or written by hand), and drizzle-kit would write this revision's up over it; nothing was run: move that file away and run it again`);
    }
  }
  // drizzle-kit diffs the models against the newest snapshot it finds: without the last revision's, it
  // takes an older one and writes that revision's changes again (was: exit 2 after the duplicate was
  // written, kept in every dialect's folder; found by a hunt)
  for (const [d, h] of dialects) {
    const last = histories.get(d)!.at(-1);
    if (last && /^\d/.test(last.id) && !existsSync(snapshotFile(h.out, last))) { // (migrations.prefix "none": its snapshots are named otherwise)
      throw new ConfigError(
        `snapshot ${rel(snapshotFile(h.out, last))} of the last revision ${last.id} is missing, and drizzle-kit would diff the models against an older snapshot, writing that revision's changes again; nothing was run: restore it from version control (or, if ${last.id} changed nothing the models describe, copy the snapshot before it under that name)`,
      );
    }
  }
  // drizzle-kit takes the snapshot whose file name sorts last in meta/ as the last one: a history named
  // by timestamp that gained an index-named revision (a config without its `migrations.prefix`) sorts
  // an older snapshot last, and drizzle-kit wrote that revision's changes again, exit 0 (found by a hunt)
  for (const [d, h] of dialects) {
    const last = histories.get(d)!.at(-1);
    if (!last || !/^\d/.test(last.id) || !existsSync(snapshotFile(h.out, last))) continue;
    const sortsLast = lastSnapshotName(h.out);
    const own = path.basename(snapshotFile(h.out, last));
    if (sortsLast && sortsLast !== own) {
      throw new ConfigError(
        `drizzle-kit takes the snapshot whose name sorts last in ${rel(path.join(h.out, 'meta'))} (${sortsLast}) as the newest, but the last revision ${last.id}'s is ${own}: it would write the changes since ${sortsLast} again; nothing was run: name new revisions as the history does (a history named by timestamp needs migrations: { prefix: 'timestamp' } in drizzle.config.ts), and rename ${own} and its revision to sort last`,
      );
    }
  }
  // a merge left unfinished in the models: drizzle-kit would fail on a syntax error that does not say so
  for (const [, h] of dialects) {
    const marker = conflictMarkerIn(root, modelsPath(h, 'migrate-create'));
    if (marker) throw new ConfigError(conflictMarkerMessage(marker, 'run migrate-create again; nothing was run'));
  }
  const { signal } = options;
  // how each folder was, to put it back when the command stops half way (a signal, a file in the way)
  const states = dialects.map(([, h]) => folderState(h.out));
  // a signal that came during synchronous work (a SQLite proof) is seen here; the catch below says what was kept
  const stopIfAsked = () => checkpoint(signal, 'migrate-create');

  const generate = (d: DialectName) =>
    runDrizzleKit(root, d, ['generate', '--config', project.configFile, '--name', slug, ...(options.empty || options.ts ? ['--custom'] : [])], {
      ...env,
      ...(project.multiDialect ? { SLUICE_DIALECT: d } : {}),
    }, options.interactive ?? false, signal, true, () => preloadKit(root)); // a drizzle-kit that cannot serve: its API is loaded here, while it runs
  const failures: SluiceError[] = [];
  const kit = new Map<DialectName, KitOutcome>();
  let promptStopped = false; // Ctrl+C at drizzle-kit's prompt (interactive)
  const attempt = (d: DialectName) =>
    generate(d).then(
      (o) => void kit.set(d, o),
      (err: SluiceError) => {
        if (err instanceof KitInterrupted) promptStopped = true;
        else failures.push(new SluiceError(`${d}: ${err.message}`, err.exitCode, { cause: err }));
      },
    );
  // The scratch databases of the downs' verification start while drizzle-kit runs: PGlite with the
  // extensions the history creates, or the connections to SLUICE_CHECK_DATABASE_URL; then each replays
  // its history as read above (proofscratch.ts), for the proof of the new revision's down to start there.
  const aheads = new Map<DialectName, ProofAhead>();
  const warm = () => {
    for (const [d] of dialects) warmScratch(root, d, env, () => extensionsCreated(histories.get(d)!));
    if (options.empty || options.ts || verifyOff(env)) return; // nothing to prove
    for (const [d, h] of dialects) aheads.set(d, proofAhead({ root, dialect: d, engine: h.engine, dir: h.out, revisions: histories.get(d)!, env }));
  };
  const notRemoved: string[] = [];
  // what started ahead and nothing took (no change, a failure, a stop): PGlite stopped, connections let
  // go (a connection still opening is cut), then what was replayed ahead removed; said in notRemoved
  const letGoOfScratches = async () => {
    await coolScratch();
    for (const a of aheads.values()) notRemoved.push(...(await a.discard()));
  };
  // a drizzle-kit that serves its differ (kitserve.cjs) runs until closed: before anything is put back, and at the end
  const closeKits = () => Promise.all([...kit.values()].map((o) => o.service?.close()));
  // A drizzle-kit that served the diff and then exited non-zero failed, as when it did not serve: its
  // revision is kept, with its down, and the failure is reported (the command exits non-zero).
  const failedLate = new Set<DialectName>();
  const servedAndFailed = async (d: DialectName): Promise<boolean> => {
    const o = kit.get(d);
    const code = await o?.service?.close();
    if (!o || !code) return false;
    if (!failedLate.has(d)) failures.push(new SluiceError(`${d}: drizzle-kit generate failed: ${kitFailure(o.output, code)}`, ExitCode.usage));
    failedLate.add(d);
    return true;
  };
  // drizzle-kit for every dialect at once; each dialect's down is made as soon as its own drizzle-kit
  // is done (SQLite's is often done 50–120 ms before PostgreSQL's). These never reject (attempt);
  // none in interactive mode, which has run them one after another already.
  let generated: Promise<void>[] = [];
  try {
    if (options.interactive) {
      warm();
      // one after another, each on the terminal; the first that fails or is stopped ends the round
      for (const [d] of dialects) {
        await stopIfAsked();
        await attempt(d);
        if (promptStopped || failures.length) break;
      }
      if (promptStopped) throw new KitInterrupted();
    } else {
      generated = dialects.map(([d]) => attempt(d));
      warm();
      // drizzle-kit's API, unless drizzle-kit's own processes will diff (kitserve.cjs: ~250 ms of CPU less
      // here); it overlaps with the child processes, as do the parsers the down's check reads the up with
      if (!kitServes(root, dialects[0]![0], env)) preloadKit(root);
      for (const [d] of dialects) await warmParser(d).catch(() => {}); // a parser that cannot load is reported where it is used
    }

    // Each dialect as soon as its own drizzle-kit is done, beside the other: one's proof on a server
    // waits on the network while the other's down is made and proven here. Reported in the config's order.
    const outcomes: ({ created: CreatedRevision } | { unchanged: DialectName; withoutDown?: string } | undefined)[] = [];
    const lints: ReturnType<typeof beginLintCreated>[] = [];
    const finish = async (i: number): Promise<void> => {
      const [d, h] = dialects[i]!;
      await stopIfAsked();
      const hist = readHistory(h.out, { allowMissing: true });
      if (hist.revisions.length === histories.get(d)!.length) {
        const o = kit.get(d);
        if (!o) return; // it failed (failures says how), or never ran (interactive, after one that failed)
        if (await servedAndFailed(d)) return; // its output is complete once it has exited
        // drizzle-kit exits 0 on its own failures: no revision is "no change" only when it said so
        if (madeNothing(o)) {
          failures.push(new SluiceError(`${d}: drizzle-kit generate made no revision and did not say the models are unchanged: ${options.interactive ? 'see its output above' : kitFailure(o.output, 0)}`, ExitCode.usage));
          return;
        }
        // "no change" because drizzle-kit left the change out (its warning says why): not a success
        if (o.warnings?.length) {
          failures.push(new SluiceError(`${d}: drizzle-kit left the change of the models out, so no revision was made: ${o.warnings.join('; ')}; change the models another way, or write the revision by hand (migrate-create --empty)`, ExitCode.usage));
          return;
        }
        const last = hist.revisions.at(-1);
        outcomes[i] = { unchanged: d, withoutDown: last && !existsSync(last.downFile) ? last.id : undefined };
        return;
      }
      const rev = hist.revisions[hist.revisions.length - 1]!;
      const prev = hist.revisions[hist.revisions.length - 2];
      // one revision, ours: another migrate-create in this folder at the same time would make the
      // journal list another (its files are its own: none is touched here)
      const made = hist.revisions.length - histories.get(d)!.length;
      if (made !== 1 || !rev.id.endsWith(`_${slug}`)) {
        throw new SluiceError(
          `${rel(h.out)}: the journal lists ${made} new revision(s) (${hist.revisions.slice(histories.get(d)!.length).map((r) => r.id).join(', ')}) where this migrate-create made one named *_${slug}: another one ran in this folder at the same time; check the folder and the journal (git status), then run it again alone`,
          ExitCode.usage,
        );
      }
      // a down (or TypeScript part) already there is a file sluice did not write for this revision:
      // it would become its down unread; nothing is kept, that file is left as it is
      const leftover = [rev.downFile, tsFileOf(rev)].find((f) => existsSync(f));
      if (leftover) throw new LeftoverFile(leftover);
      if (options.empty || options.ts) {
        // drizzle-kit's custom up is one comment line with no line end: SQL appended to it (echo >>)
        // would join the comment, and run as nothing ("applied (0 statements)"). A TypeScript revision's up
        // names its part on the next line: `up` refuses the revision when the .ts is missing, whatever SQL
        // the up gains (was: its SQL applied alone and recorded, its up(db) never run)
        const up = readUp(rev);
        const ended = up.endsWith('\n') ? up : `${up}\n`;
        const text = options.ts ? `${ended}${typescriptPartLine(path.basename(tsFileOf(rev)), 'up')}\n` : ended;
        if (text !== up) writeNewFile(rev.upFile, text, { overwrite: true });
      }
      if (d === 'postgresql') {
        // drizzle-kit leaves an unnamed primary-key drop commented out; make the up runnable; and an
        // identity given to a column with rows starts past them
        const up = readUp(rev);
        const fixed = restartIdentitiesInText(resolvePrimaryKeyDropsInText(up));
        if (fixed !== up) writeNewFile(rev.upFile, fixed, { overwrite: true });
      }
      // its lint (the rules that read the up, squawk's process among them) runs while its down is made and proven
      if (options.lint) lints[i] = beginLintCreated([{ dialect: d, revision: rev.id }], options);
      const service = kit.get(d)?.service;
      const rendered = await renderDownFor(root, d, h.out, rev, prev, message, !!options.empty || !!options.ts, true, service, !!options.ts);
      void service?.close(); // it exits while the down is proven (awaited at the end)
      await stopIfAsked();
      // The down is proven on a scratch database before it is written (downproof.ts).
      const down = (await verifyDowns([rendered], { root, dialect: d, engine: h.engine, dir: h.out, revisions: hist.revisions, env, checkUp: false, notRemoved, ahead: aheads.get(d) })).downs[0]!;
      await stopIfAsked();
      writeNewFile(down.file, down.text);
      const created = down.result;
      // the new revision's own up failed on the scratch database: migrate-up will fail the same way
      // (was: said only inside the down's "not verified" note)
      const upFails = created.unverified?.match(new RegExp(`^the history stops applying at ${rev.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: its up fails ([\\s\\S]*)$`));
      if (upFails) created.warnings.push(`its up fails ${upFails[1]}: make migrate-up will likely fail the same way, unless the database has what the scratch one lacks (an extension, role or schema made outside the history); edit the up (or the models, then create again) before applying it`);
      // a change drizzle-kit left out of the up, saying so (its warning): the revision lacks it
      for (const w of kit.get(d)?.warnings ?? []) created.warnings.push(`drizzle-kit left a change of the models out of this revision: ${w}`);
      // a column renamed and changed in one model edit: drizzle-kit's up renames it only (a hunt)
      if (!options.empty && !options.ts) {
        const statements = readUp(rev).split(/-->\s*statement-breakpoint|;[ \t]*\r?\n/);
        const snapshot = (r: RevisionFile | undefined) => (r && existsSync(snapshotFile(h.out, r)) ? (JSON.parse(readFileSync(snapshotFile(h.out, r), 'utf8')) as Record<string, unknown>) : undefined);
        try {
          created.warnings.push(...renameChangesLeftOut(statements, snapshot(prev), snapshot(rev) ?? {}));
        } catch {
          /* a snapshot that does not read: nothing to say here (the down's proof says what it met) */
        }
      }
      if (options.ts) created.tsFile = writeTsPart(root, d, h, rev, message);
      outcomes[i] = { created };
    };
    // both run to their end (nothing is put back while the other still writes); the first error in the config's order is the one reported
    const settled = await Promise.allSettled(dialects.map((_, i) => Promise.resolve(generated[i]).then(() => finish(i))));
    const errors = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    // two dialects that each failed their own way: both said (the first in the config's order is the cause)
    const plain = (e: Error) => e instanceof SluiceError && !(e instanceof Interrupted);
    if (errors.length > 1 && !signal?.aborted && errors.every(plain) && errors[1]!.message !== errors[0]!.message) {
      throw new SluiceError(errors.map((e) => e.message).join('; '), (errors[0] as SluiceError).exitCode, { cause: errors[0] });
    }
    // a file in the way of a new down is said first: then nothing is kept in any folder (not a foreign file taken as a down)
    if (errors.length) throw errors.find((e) => e instanceof LeftoverFile) ?? errors[0];
    await letGoOfScratches();
    for (const [d] of dialects) await servedAndFailed(d);
    const result: CreateResult = { created: [], unchanged: [] };
    for (const o of outcomes) {
      if (o && 'created' in o) result.created.push(o.created);
      else if (o) {
        result.unchanged.push(o.unchanged);
        if (o.withoutDown) (result.withoutDown ??= []).push({ dialect: o.unchanged, revision: o.withoutDown });
      }
    }
    if (failures.length) {
      // Revisions that were generated keep their downs; the failure is reported with them.
      const made = result.created.map((c) => `${c.dialect} ${c.revision}`).join(', ');
      throw new SluiceError(`${failures.map((f) => f.message).join('; ')}${made ? ` (created anyway, with downs: ${made})` : ''}`, failures[0]!.exitCode, {
        cause: failures[0],
      });
    }
    const numbers = new Set(result.created.map((c) => c.revision));
    if (result.created.length && (numbers.size > 1 || result.unchanged.length)) {
      result.lockstepWarning = `dialect histories differ: ${result.created.map((c) => `${c.dialect} ${c.revision}`).join(', ')}${
        result.unchanged.length ? `; no change for ${result.unchanged.join(', ')}` : ''
      }; keep the model files of every dialect in step`;
    }
    if (notRemoved.length) result.notRemoved = notRemoved;
    if (options.lint) {
      // finished in the config's order, now that the downs are written (irreversible reads them)
      const done = await Promise.all(lints.filter(Boolean).map((l) => l.finish()));
      result.lint = { findings: done.flatMap((l) => l.findings), notes: done.flatMap((l) => l.notes) };
    }
    return result;
  } catch (err) {
    // every drizzle-kit has exited before anything is said or put back (a signal has stopped them; its promise settles on close)
    await Promise.all(generated);
    await closeKits();
    await letGoOfScratches();
    if (err instanceof LeftoverFile && !signal?.aborted) {
      const removed = states.flatMap((st) => restoreFolder(st, slug));
      throw new ConfigError(
        `${rel(err.file)} already exists (left by an earlier attempt, or written by hand), and sluice never takes a file it did not write as a new revision's ${err.file.endsWith('.ts') ? 'TypeScript part' : 'down'}; nothing was kept (${removed.length ? `removed ${removed.map(rel).join(', ')}; journals put back` : 'no file had been written'}): move that file away and run it again`,
        { cause: err },
      );
    }
    if (err instanceof KitInterrupted && !signal?.aborted) {
      // Ctrl+C at drizzle-kit's prompt reached drizzle-kit alone (the terminal was in raw mode): stopped as a signal stops it
      const removed = states.flatMap((st) => restoreFolder(st, slug));
      throw new Interrupted(
        `interrupted (Ctrl+C at drizzle-kit's prompt) during migrate-create: nothing was kept (${removed.length ? `removed ${removed.map(rel).join(', ')}; journals put back` : 'no file had been written'}); run it again`,
        'SIGINT',
        undefined,
      );
    }
    if (!signal?.aborted) throw withNotRemoved(err, notRemoved); // once stopped, any error (a journal drizzle-kit left half written) is the stop's
    // nothing writes to the folders any more
    const removed = states.flatMap((st) => restoreFolder(st, slug));
    const put = states.filter((st) => st.journal !== undefined).length; // a journal that was not there is removed, not put back
    const name = signalName(signal);
    throw new Interrupted(
      `interrupted (${name}) during migrate-create: nothing was kept (${removed.length ? `removed ${removed.map(rel).join(', ')}${put ? `; journal${put > 1 ? 's' : ''} put back` : ''}` : 'no file had been written'})${notRemoved.length ? `; ${scratchNote(notRemoved)}` : ''}; run it again`,
      name,
      undefined,
      { cause: err instanceof Interrupted ? undefined : err },
    );
  } finally {
    await closeKits();
    await letGoOfScratches();
  }
}

/** `create({ ts: true })`: write `<tag>.ts` beside the (custom, empty) up: the revision's TypeScript part. */
function writeTsPart(root: string, dialect: DialectName, h: HistoryConfig, rev: RevisionFile, message: string): string {
  const file = tsFileOf(rev);
  const models = path.resolve(root, modelsPath(h, 'migrate-create'));
  const spec = existsSync(models) && !statSync(models).isDirectory() ? path.relative(h.out, models).replace(/\\/g, '/').replace(/\.[cm]?ts$/, '') : undefined;
  const text = typeScriptTemplate({ dialect, revision: rev.id, message, models: spec && (spec.startsWith('.') ? spec : `./${spec}`) });
  writeNewFile(file, text);
  return rel(file);
}

