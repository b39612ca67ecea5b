/**
 * Read-only commands: status, history, show. They never create the database, schema or table.
 */
import { loadContext, withSession, type CommandOptions } from '../context.js';
import { isChecksumOf, tsOf, upOf } from '../revisionreads.js';
import { BASE, currentIndex, currentOutsideFolder, labelOf, outOfOrder, requireRevisionName, resolveTarget } from '../revision.js';
import { readDown, readUp, withMessages, type RevisionFile } from '../source.js';
import { downIsEmpty, downIsStale, parseDownHeader } from '../downheader.js';
import { rel } from '../relpath.js';
import { downHoldsNoStatement, mayHoldNoStatement } from './stepprep.js';
import { ConnectionError, ConnectionLost, ExitCode, SluiceError, UsageError } from '../errors.js';
import { PrivilegeError, type AppliedRow } from '../store.js';
import type { Context } from '../context.js';
import { takeoverView, type TakeoverView } from './takeover.js';
import { shortTail } from '../jit.js';
import { checkOptions, COMMON_OPTIONS } from '../options.js';
import { UnopenableDatabase } from '../config.js';

export interface StatusResult {
  database: string;
  /**
   * The current revision; when the database records a revision the folder does not have whose tag sorts
   * after the folder's current one, that revision (the newest such), which is then in `unknownApplied`
   * too (was: the newest applied revision the folder has, below where the database stands).
   */
  current: string;
  head: string;
  applied: number;
  pending: string[];
  outOfOrder: string[];
  /** Applied revisions whose up file changed since. */
  changed: string[];
  /** Applied revisions missing from the folder. */
  unknownApplied: string[];
  /**
   * Set while sluice_version holds no rows and drizzle's migrator's table has some (commands/takeover.ts).
   * State pending: current, applied and pending above already count drizzle's rows, as the next
   * migrate-up will record them; other states: the note says why they are not counted.
   */
  takeover?: Omit<TakeoverView, 'records'>;
}

export async function status(options: CommandOptions = {}): Promise<StatusResult> {
  checkOptions('status', options, COMMON_OPTIONS);
  const ctx = await loadContext(options, { connect: { write: false, prefetch: 'stat' } });
  const history = ctx.history.revisions;
  return withSession(
    ctx,
    false,
    async ({ conn, store, applied, appliedIds }) => {
      // what is left: the applied-file check's loop and the answer (jit.ts); the database's driver,
      // whose code cache is made under the flags it is read with, is loaded by now
      shortTail();
      const byId = new Map(history.map((r) => [r.id, r]));
      // Read-only: a database drizzle's migrator manages is shown as the takeover would record it.
      const view = applied.length === 0 ? await takeoverView(ctx, conn, store) : undefined;
      let takeover: StatusResult['takeover'];
      if (view) {
        const { records, ...rest } = view;
        takeover = rest;
        if (view.state === 'pending') {
          applied = records;
          appliedIds = new Set(records.map((r) => r.revision));
        }
      }
      const unknownApplied = applied.filter((a) => !byId.has(a.revision)).map((a) => a.revision);
      return {
        database: conn.display,
        current: currentOutsideFolder(history, appliedIds) ?? labelOf(history, currentIndex(history, appliedIds)),
        head: labelOf(history, history.length - 1),
        applied: applied.length,
        pending: history.filter((r) => !appliedIds.has(r.id)).map((r) => r.id),
        outOfOrder: outOfOrder(history, appliedIds).map((r) => r.id),
        changed: applied.filter((a) => byId.has(a.revision) && !isChecksumOf(ctx, byId.get(a.revision)!, a.checksum)).map((a) => a.revision),
        unknownApplied,
        ...(takeover ? { takeover } : {}),
      };
    },
    { sums: true },
  );
}

export interface HistoryRow {
  revision: string;
  message: string;
  createdAt: string;
  appliedAt: string | null;
  current: boolean;
  head: boolean;
  /** Down file state: ok, missing, empty or manual (needs a hand). */
  down: 'ok' | 'missing' | 'manual' | 'stale';
  /** Applied, and its up (or TypeScript part) changed since: the checksum differs from the version table's (status: "changed since applied"). */
  changed: boolean;
  /** Pending, but older than the current revision (merged from another branch): up applies it. */
  outOfOrder: boolean;
}

export interface HistoryResult {
  database: string;
  revisions: HistoryRow[];
  /**
   * Set when the database could not be read (unreachable, not readable by this role): the history
   * comes from the folder alone, every appliedAt is null and no revision is marked current.
   */
  databaseError?: string;
  /** Revisions the database records that the folder does not have (applied from another branch: the database is ahead of the code). */
  unknownApplied?: string[];
}

/**
 * The applied rows for history and show, which must work without a database: when it cannot be
 * reached or read, `error` says why and the rows are unknown. Other errors (bad configuration,
 * integrity) still stop the command.
 */
async function appliedOrUnknown(ctx: Context): Promise<{ database: string; applied: AppliedRow[] | null; error?: string }> {
  try {
    return await withSession(ctx, false, async ({ conn, store, applied }) => {
      // A database drizzle's migrator manages reads as the takeover would record it (commands/takeover.ts).
      const view = applied.length === 0 ? await takeoverView(ctx, conn, store) : undefined;
      return { database: conn.display, applied: view?.state === 'pending' ? view.records : applied };
    });
  } catch (err) {
    // a session the server ended as it opened (a shutdown, a pooler) is a database that could not be read too (was: exit 7)
    if (!(err instanceof ConnectionError) && !(err instanceof ConnectionLost) && !(err instanceof PrivilegeError) && !(err instanceof UnopenableDatabase)) throw err;
    const t = ctx.target;
    return { database: t.dialect === 'postgresql' ? `${t.display} (schema ${t.schema})` : t.display, applied: null, error: err.message };
  }
}

export async function history(options: CommandOptions = {}): Promise<HistoryResult> {
  checkOptions('history', options, COMMON_OPTIONS);
  const ctx = await loadContext(options);
  withMessages(ctx.history);
  const revs = ctx.history.revisions;
  const { database, applied, error } = await appliedOrUnknown(ctx);
  const appliedAt = new Map((applied ?? []).map((a) => [a.revision, a.appliedAt]));
  const appliedIds = new Set((applied ?? []).map((a) => a.revision));
  // a revision the folder lacks that comes after the folder's current one is current (as status says):
  // then no row of the folder is (a hunt: history marked the folder's head current)
  const cur = applied && !currentOutsideFolder(revs, appliedIds) ? currentIndex(revs, appliedIds) : undefined;
  const byId = new Map(revs.map((r) => [r.id, r]));
  const changed = new Set((applied ?? []).filter((a) => byId.has(a.revision) && !isChecksumOf(ctx, byId.get(a.revision)!, a.checksum)).map((a) => a.revision));
  const early = new Set(applied ? outOfOrder(revs, appliedIds).map((r) => r.id) : []);
  // a down that holds no statement by the parser (a block comment, an empty BEGIN/COMMIT) is missing
  // too, as migrate-down reads it; only a text that may be such is parsed
  const downs = new Map<string, HistoryRow['down']>();
  for (const r of revs) {
    const down = readDown(r);
    const up = upOf(ctx, r);
    const none = down !== null && !downIsEmpty(down) && mayHoldNoStatement(down) && !downIsEmpty(up) && (await downHoldsNoStatement(ctx, r, down));
    downs.set(r.id, none ? 'missing' : downState(down, up));
  }
  return {
    database,
    revisions: revs.map((r) => ({
      revision: r.id,
      message: r.message,
      createdAt: new Date(r.createdAt).toISOString(),
      appliedAt: appliedAt.get(r.id) ?? null,
      current: r.index === cur,
      head: r.index === revs.length - 1,
      down: downs.get(r.id)!,
      changed: changed.has(r.id),
      outOfOrder: early.has(r.id),
    })),
    ...(error === undefined ? {} : { databaseError: error }),
    ...unknownOf(revs, applied),
  };
}

function unknownOf(revs: RevisionFile[], applied: { revision: string }[] | null | undefined): { unknownApplied?: string[] } {
  const known = new Set(revs.map((r) => r.id));
  const unknown = (applied ?? []).map((a) => a.revision).filter((id) => !known.has(id));
  return unknown.length ? { unknownApplied: unknown } : {};
}

function downState(down: string | null, up: string): HistoryRow['down'] {
  if (down !== null && parseDownHeader(down).manualReason) return 'manual';
  if (downIsStale(up, down)) return 'stale';
  return downIsEmpty(down) && !downIsEmpty(up) ? 'missing' : 'ok';
}

export interface ShowResult {
  revision: string;
  number: number;
  message: string;
  createdAt: string;
  appliedAt: string | null;
  upFile: string;
  downFile: string;
  up: string;
  down: string | null;
  warnings: string[];
  manualReason: string | null;
  /** Applied, and its up (or TypeScript part) changed since: what is shown is not what ran. */
  changed: boolean;
  /** Its TypeScript part (`<tag>.ts`: up(db) after the up SQL, down(db) before the down SQL), when it has one. */
  tsFile?: string;
  /** Set when the database could not be read: appliedAt is then unknown (null), not "pending". */
  databaseError?: string;
}

/** A revision's metadata, up SQL and down SQL. Reads the database only to tell whether it is applied. */
export async function show(options: CommandOptions & { revision: string }): Promise<ShowResult> {
  checkOptions('show', options, { ...COMMON_OPTIONS, revision: 'revision' }, ['revision']);
  const name = requireRevisionName(options.revision);
  const ctx = await loadContext(options);
  withMessages(ctx.history);
  const revs = ctx.history.revisions;
  // Every name the other commands take: head, base (refused: not a revision), a tag, a number, a
  // unique prefix (resolved before the database is read), +N / -N (from the current revision).
  const relative = /^[+-]\d+$/.test(name);
  let index = relative ? BASE : resolveTarget(revs, new Set(), name);
  if (!relative && index === BASE) {
    throw new UsageError(name === 'base' ? 'base is the empty database before the first revision, not a revision; name one to show (head, a tag, a number)' : 'no revisions yet; nothing to show');
  }
  const { applied, error } = await appliedOrUnknown(ctx);
  if (relative) {
    if (!applied) throw new SluiceError(`${name} counts from the current revision, which is unknown: ${error}`, ExitCode.connection);
    const appliedIds = new Set(applied.map((a) => a.revision));
    // the current revision not in the folder (the database ahead of the code, as status says): no place
    // in the folder to count from (a hunt: -1 counted from the folder's newest applied revision instead)
    const ahead = currentOutsideFolder(revs, appliedIds);
    if (ahead !== undefined) {
      throw new SluiceError(`${name} counts from the current revision, ${ahead}, which is not in ${rel(ctx.history.dir)} (the database is ahead of the code); name the revision to show`, ExitCode.integrity);
    }
    index = resolveTarget(revs, appliedIds, name);
    if (index === BASE) throw new UsageError(`${name} is base (the empty database before the first revision), not a revision`);
  }
  const rev = revs[index] as RevisionFile;
  const up = readUp(rev);
  const down = readDown(rev);
  const header = down ? parseDownHeader(down) : { warnings: [], manualReason: undefined };
  const row = applied?.find((a) => a.revision === rev.id);
  const appliedAt = row?.appliedAt ?? null;
  const changed = !!row && !isChecksumOf(ctx, rev, row.checksum);
  const ts = tsOf(ctx, rev);
  const warnings = [
    ...(changed ? ['its up changed after it was applied (the checksum differs from the version table): what is shown is not what ran; restore it from git, or put the change in a new revision'] : []),
    ...header.warnings,
    ...(downIsStale(up, down) ? ['the up changed after this down was generated: check the down still undoes it'] : []),
  ];
  return {
    revision: rev.id,
    number: rev.number,
    message: rev.message,
    createdAt: new Date(rev.createdAt).toISOString(),
    appliedAt,
    upFile: rel(rev.upFile),
    downFile: rel(rev.downFile),
    up,
    down,
    warnings,
    manualReason: header.manualReason ?? null,
    changed,
    ...(ts ? { tsFile: ts.display } : {}),
    ...(error === undefined ? {} : { databaseError: error }),
  };
}
