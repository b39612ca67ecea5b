/**
 * The version table checked against the folder before a command moves the database (checkIntegrity):
 * every applied revision is in the folder, and no applied up (or TypeScript part) changed since.
 */
import type { Context } from './context.js';
import { downOf, isChecksumOf, tsOf, upChecksumOf, upOf } from './revisionreads.js';
import { IntegrityError } from './errors.js';
import { tsFileOf, type RevisionFile } from './source.js';
import { downRecordsUp, partNamedIn } from './downheader.js';
import { rel } from './relpath.js';
import { isOnlyComments } from './sql.js';
import type { AppliedRow } from './store.js';

/** The revision's down text, or null when it has none or it cannot be read (a message's hint only). */
function downOrNull(ctx: Context, rev: RevisionFile): string | null {
  try {
    return downOf(ctx, rev);
  } catch {
    return null;
  }
}

/**
 * Which of the revision's files names a TypeScript part (`-- sluice:typescript-part`): its up (migrate-create
 * --ts writes the line there since the fifty-second session) or its down (migrate-create --ts, migrate-downs);
 * undefined when neither does, or cannot be read to say so. `downUnlessSql`: the down is read only when the
 * up holds comments only, as `up` reads it (stepprep.ts): a revision made before the up's line, with SQL
 * in its up, is then not told (migrate-check tells it).
 */
export function partNamedBy(ctx: Context, rev: RevisionFile, downUnlessSql = false): 'up' | 'down' | undefined {
  let up: string | null = null;
  try {
    up = upOf(ctx, rev);
  } catch {
    /* unreadable: its down may still say */
  }
  return partNamedIn(up, () => downOrNull(ctx, rev), downUnlessSql);
}

/**
 * The version table must agree with the folder: no applied revision missing from the folder
 * (database ahead of the code), and no applied up file changed since it was applied.
 */
export function checkIntegrity(ctx: Context, applied: AppliedRow[], options: { allowChanged?: boolean } = {}): void {
  const byId = new Map(ctx.history.revisions.map((r) => [r.id, r]));
  const unknown = applied.filter((a) => !byId.has(a.revision)).map((a) => a.revision);
  if (unknown.length) {
    // a tag migrate-merge moved whose up was edited after it was applied: not recognised by checksum
    const held = new Set(applied.map((a) => a.revision));
    const name = (id: string) => id.replace(/^\d+/, '');
    const moved = unknown.flatMap((id) => {
      const same = ctx.history.revisions.filter((r) => !held.has(r.id) && name(r.id) === name(id));
      return same.length === 1 ? [`${id} may be ${same[0]!.id} (moved by migrate-merge?), whose up differs from the one applied`] : [];
    });
    throw new IntegrityError(
      `the database has revision(s) ${unknown.join(', ')} that ${rel(ctx.history.dir)} does not have (database ahead of the code)${moved.length ? `; ${moved.join('; ')}: restore the up it was applied with (git log -p on it) and run again` : ''}; check out the code that has them, or record where the database really is with make migrate-stamp REVISION=<rev> PURGE=1`,
    );
  }
  if (options.allowChanged) return;
  for (const a of applied) {
    const rev = byId.get(a.revision)!;
    if (!isChecksumOf(ctx, rev, a.checksum)) {
      const ts = tsOf(ctx, rev);
      // no .ts now, and its up or down names the part it was made with (migrate-create --ts): that part is missing
      const by = ts ? undefined : partNamedBy(ctx, rev);
      if (by) {
        throw new IntegrityError(
          `revision ${rev.id} was applied with its TypeScript part ${rel(tsFileOf(rev))} (its ${by} file names it), which is missing: restore it from version control, or pass --allow-changed to go on without it (a down through that revision then runs its down SQL alone, and says so)`,
        );
      }
      // no .ts now, and the up SQL is the one its down was made for: the TypeScript part it was
      // applied with is what is missing (was: reported as an edit of the untouched .sql)
      if (!ts && upIsTheDownsOwn(ctx, rev)) {
        // the row was recorded for another text: a TypeScript part now missing, or the file as it was
        // when stamped (found by a hunt: "may have been applied with a TypeScript part", in a project with
        // none, of a row stamped after an edit since undone): both named
        throw new IntegrityError(
          `revision ${rev.id}'s checksum in the version table differs from ${rel(rev.upFile)}, though that file is the up its down was made for: the row was recorded for another text (a TypeScript part ${rel(tsFileOf(rev))} now missing, or the file as it was when applied or stamped, an edit since undone); restore what it was applied with, put the change in a new revision, or pass --allow-changed`,
        );
      }
      // an up of comments only, with no .ts now: the TypeScript part it was applied with, deleted since, is
      // the likelier change (a hunt: only the untouched .sql was named)
      const missingTs = !ts && isOnlyComments(upOf(ctx, rev)) ? `, or the TypeScript part ${rel(tsFileOf(rev))} it was applied with is missing` : '';
      throw new IntegrityError(
        `${ts ? `${rel(rev.upFile)} or ${ts.display}` : rel(rev.upFile)} changed after it was applied${missingTs} (checksum differs from the version table); restore it, put the change in a new revision, or pass --allow-changed`,
      );
    }
  }
}

/** Whether the revision's up SQL is the one its down file records it was made for (its header's up checksum). */
function upIsTheDownsOwn(ctx: Context, rev: RevisionFile): boolean {
  return downRecordsUp({ checksum: upChecksumOf(ctx, rev), text: () => upOf(ctx, rev) }, downOrNull(ctx, rev));
}

/**
 * `down --allow-changed` (and reset): of the revisions it reverts, those whose version row was likely
 * recorded with a TypeScript part that is missing now (no `.ts` beside the up, the checksum differs, and
 * its up or down names the part (migrate-create --ts writes that line), or, for a revision made before that
 * line, the up SQL is the one its down was made for, or holds comments only). Their down SQL runs alone: the
 * part's down(db) cannot. One warning each, naming the file (was: reverted, exit 0, nothing said).
 */
export function missingPartWarnings(ctx: Context, applied: AppliedRow[], reverted: readonly RevisionFile[], dryRun: boolean): string[] {
  const recorded = new Map(applied.map((a) => [a.revision, a.checksum]));
  return reverted.flatMap((rev) => {
    const checksum = recorded.get(rev.id);
    if (checksum === undefined || tsOf(ctx, rev) || isChecksumOf(ctx, rev, checksum)) return [];
    const by = partNamedBy(ctx, rev);
    if (!by && !upIsTheDownsOwn(ctx, rev) && !isOnlyComments(upOf(ctx, rev))) return [];
    const part = rel(tsFileOf(rev));
    const what = dryRun
      ? `this down would run only ${rel(rev.downFile)}, not the part's down(db); restore the file from version control first if what down(db) undoes matters`
      : `this down runs only ${rel(rev.downFile)}, not the part's down(db): whatever its up(db) changed stays in the database`;
    return [by ? `${rev.id} was applied with its TypeScript part ${part} (its ${by} file names it), which is missing: ${what}` : `${rev.id}'s checksum differs from the version table and ${part} is missing: if it was applied with that TypeScript part, ${what}`];
  });
}
