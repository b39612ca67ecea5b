/**
 * A step's SQL, read and checked before anything runs (migrate.ts, offline.ts): a needed down missing,
 * empty, marked manual or made for another up is refused here.
 */
import type { Context } from '../context.js';
import { checksumOf, downOf, tsOf, upChecksumOf, upOf } from '../revisionreads.js';
import { prepareStep, type PreparedStep } from '../prepare.js';
import { IntegrityError, MissingDown, Refused } from '../errors.js';
import type { Step } from '../revision.js';
import { tsFileOf, type RevisionFile } from '../source.js';
import { downIsEmpty, downIsProven, downIsStale, manualReasonOf } from '../downheader.js';
import { rel } from '../relpath.js';
import { isOnlyComments } from '../sql.js';
import { parseRevision } from '../parsecache.js';
import { withoutBom } from '../bom.js';
import { partNamedBy } from '../integrity.js';

/** True when the up holds a statement (by the parser: comments of any kind are not statements); an up that does not parse counts as having some. */
async function upHasStatements(ctx: Context, up: string): Promise<boolean> {
  if (isOnlyComments(up)) return false;
  try {
    return (await parseRevision(withoutBom(up), ctx.target.dialect, ctx.root, ctx.target.engine)).statements.length > 0;
  } catch {
    return true;
  }
}

/**
 * Whether a down's text may hold no statement though it is not only `--` lines (downIsEmpty): what is
 * left without comments, semicolons and BEGIN/COMMIT words is blank. Cheap; downHoldsNoStatement decides.
 */
export function mayHoldNoStatement(down: string): boolean {
  const rest = down.replace(/\/\*[\s\S]*?\*\//g, '').replace(/--[^\n]*/g, '').replace(/\b(?:BEGIN|COMMIT|END|START|TRANSACTION|WORK)\b|;/gi, '');
  return rest.trim() === '';
}

/** The down holds no statement by the parser (transaction control aside), has no TypeScript part and is not verified by hand: migrate-down refuses it when its up has statements. */
export async function downHoldsNoStatement(ctx: Context, rev: RevisionFile, down: string): Promise<boolean> {
  if (downIsProven(down) || tsOf(ctx, rev)) return false;
  try {
    return (await parseRevision(withoutBom(down), ctx.target.dialect, ctx.root, ctx.target.engine)).statements.every((st) => st.transactionControl);
  } catch {
    return false;
  }
}

/** Read the SQL a step runs, refusing before any change when a needed down is missing or empty. */
export async function prepareFor(ctx: Context, step: Step, stampOnly: boolean): Promise<PreparedStep> {
  const rev = step.revision as RevisionFile;
  // A down or a stamp needs only the up's checksum, which the checksum cache gives without reading it.
  const runsUp = step.direction === 'up' && !stampOnly;
  let down: string | null = null;
  // A TypeScript revision (migrate-create --ts: its up SQL drizzle-kit's custom file, up and down naming
  // the part) whose .ts is missing: applied, it would run its SQL alone and be recorded (was: exit 0, its
  // up(db) never run). The up's line costs nothing to read (the up is read anyway); a revision made before
  // it names its part in its down only, read here for an up of comments only (else a read per revision).
  if (runsUp && !tsOf(ctx, rev)) {
    const by = partNamedBy(ctx, rev, true);
    if (by) {
      throw new IntegrityError(
        `revision ${rev.id} has a TypeScript part ${rel(tsFileOf(rev))} (its ${by} file names it), which is missing: its up(db) would not run, and the revision would be recorded as applied; restore the file from version control, or, if the revision has no TypeScript part, delete the "-- sluice:typescript-part" line from ${by === 'up' ? rel(rev.upFile) : rel(rev.downFile)}${by === 'up' ? ' (and its down)' : ''}`,
      );
    }
  }
  if (step.direction === 'down' && !stampOnly) {
    down = downOf(ctx, rev);
    const manual = down === null ? undefined : manualReasonOf(down);
    if (manual) {
      throw new Refused(
        `revision ${rev.id} needs a hand-written down: ${manual}. Edit ${rel(rev.downFile)}, then delete its "-- sluice:manual-down-required" line`,
      );
    }
    if (downIsEmpty(down) && !downIsProven(down) && (await upHasStatements(ctx, upOf(ctx, rev)))) throw new MissingDown(rev.id, rel(rev.downFile), down !== null);
    if (downIsStale({ checksum: upChecksumOf(ctx, rev), text: () => upOf(ctx, rev) }, down)) {
      throw new Refused(
        `the up of ${rev.id} changed after its down was generated; check that ${rel(rev.downFile)} still undoes it, then delete its "-- sluice:up-checksum" line`,
      );
    }
  }
  const prepared = await prepareStep(
    rev,
    step.direction,
    runsUp ? upOf(ctx, rev) : { checksum: checksumOf(ctx, rev) },
    down,
    stampOnly,
    {
      dialect: ctx.target.dialect,
      engine: ctx.target.engine,
      get file() {
        return rel(step.direction === 'up' ? rev.upFile : rev.downFile); // for a refusal's message only: not worked out per step
      },
      schema: ctx.target.schema,
      root: ctx.root,
    },
    tsOf(ctx, rev),
  );
  // The text check above reads `--` lines only: a down whose text is a block comment (`/* DROP TABLE x; */`)
  // or bare semicolons holds no statement either, by the parser, and would be "reverted" running nothing.
  if (down !== null && !prepared.typescript && prepared.statements.length === 0 && !downIsProven(down) && (await upHasStatements(ctx, upOf(ctx, rev)))) {
    throw new MissingDown(rev.id, rel(rev.downFile), true);
  }
  return prepared;
}
