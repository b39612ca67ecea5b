/** Human-readable rendering of command results. Pure: results in, lines out (colours: printer.ts). */
import { colours as pc } from './printer.js';
import type { StepResult } from './engine.js';
import type { CreateResult } from './commands/create.js';
import type { InitResult } from './commands/init.js';
import type { DownsResult } from './commands/downs.js';
import type { HistoryResult, ShowResult, StatusResult } from './commands/inspect.js';
import type { MoveResult } from './commands/migrate.js';
import { terminated } from './sql.js';
import { comesAfter } from './revision.js';

const VERB: Record<string, string> = {
  applied: 'applied',
  reverted: 'reverted',
  stamped: 'stamped',
  unstamped: 'unstamped',
  failed: 'FAILED',
  interrupted: 'INTERRUPTED',
  'not-run': 'not run',
  'already-done': 'already done by another run',
  'rolled-back': 'rolled back',
  prepared: 'prepared, not committed',
};

/**
 * One finished step. With `progress` (its position in the run and the run's elapsed time) the line
 * ends with `[n/N, 1.2 s]`: plain lines a log or CI keeps are the progress report off a terminal.
 */
export function formatStep(r: StepResult, progress?: { n: number; total: number; elapsedMs: number }): string {
  const arrow = r.direction === 'up' ? '↑' : '↓';
  const colour = r.status === 'failed' || r.status === 'interrupted' ? pc.red : r.status === 'not-run' ? pc.dim : r.status === 'rolled-back' || r.status === 'prepared' ? pc.yellow : pc.green;
  const time = r.status === 'applied' || r.status === 'reverted' ? pc.dim(` (${r.statements} statement${r.statements === 1 ? '' : 's'}, ${r.ms} ms)`) : '';
  const where = progress && progress.total > 1 ? pc.dim(` [${progress.n}/${progress.total}, ${seconds(progress.elapsedMs)}]`) : '';
  return `${arrow} ${r.revision} ${colour(VERB[r.status] ?? r.status)}${time}${where}`;
}

/** The status line of a run in progress (a terminal only): the revision running, n/N, elapsed. */
export function formatProgress(p: { running?: { revision: string; direction: 'up' | 'down' }; done: number; total: number; elapsedMs: number }): string {
  const what = p.running ? `${p.running.direction === 'up' ? '↑' : '↓'} ${p.running.revision}` : 'finishing';
  return `${what}  revision ${Math.min(p.done + 1, p.total)}/${p.total}, ${seconds(p.elapsedMs)}`;
}

/** db-test's status line (a terminal only): the check running and the elapsed time. */
export function formatCheckProgress(p: { dialect: string; done: number; elapsedMs: number }): string {
  return `db-test ${p.dialect}: ${p.done} check${p.done === 1 ? '' : 's'} done, ${seconds(p.elapsedMs)}`;
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatMove(verb: string, r: MoveResult): string[] {
  const lines: string[] = [];
  if (r.outOfOrder.length) {
    lines.push(pc.yellow(`note: ${r.outOfOrder.join(', ')} sort(s) before the current revision (merged from another branch); applied now, in order`));
  }
  const rows = (n: number) => `${n} row${n === 1 ? '' : 's'}`;
  const revisions = (n: number) => `${n} revision${n === 1 ? '' : 's'}`;
  if (r.dryRun) {
    const purge = r.purged ? `; would empty the version table (${rows(r.purged.removed)}) and record ${revisions(r.purged.recorded)} up to ${r.to}, with today's checksums` : '';
    lines.push(`-- dry run on ${r.database}: ${r.from} -> ${r.to}, ${r.steps.length} step(s)${purge}; nothing was changed`);
    for (const s of r.sql ?? []) {
      lines.push(`-- ${s.direction} ${s.revision}`);
      for (const st of s.statements) lines.push(st.startsWith('-- sluice: TypeScript') ? st : terminated(st));
    }
    return lines;
  }
  if (r.backup) lines.push(pc.dim(`backup: ${r.backup}`));
  // a purge rewrites every row, also when no revision moves (was: "already at …; nothing to stamp")
  if (r.purged) lines.push(`${r.database}: ${r.from} -> ${r.to}: version table emptied (${rows(r.purged.removed)}) and ${revisions(r.purged.recorded)} recorded up to ${r.to}, with today's checksums`);
  else if (r.steps.length === 0) lines.push(`${r.database}: already at ${r.to}; nothing to ${verb}`);
  else if (verb === 'stamp') {
    // a stamp records revisions (up) or takes their records away (down); a purge may do both
    const n = (dir: 'up' | 'down') => r.steps.filter((s) => s.direction === dir).length;
    const part = (k: number, what: string) => (k ? `${k} revision${k === 1 ? '' : 's'} ${what}` : '');
    lines.push(`${r.database}: ${r.from} -> ${r.to} (${[part(n('up'), 'stamped'), part(n('down'), 'unstamped')].filter(Boolean).join(', ')})`);
  } else lines.push(`${r.database}: ${r.from} -> ${r.to} (${r.steps.length} revision${r.steps.length === 1 ? '' : 's'} ${verb === 'upgrade' ? 'applied' : 'reverted'})`);
  return lines;
}

export function formatStatus(s: StatusResult): string[] {
  const lines = [
    `database: ${s.database}`,
    `current:  ${s.current}${s.unknownApplied.includes(s.current) ? pc.red(comesAfter(s.current, s.head) ? ' (not in the folder: the database is ahead of the code)' : ' (not in the folder)') : ''}`,
    `head:     ${s.head}`,
    `applied:  ${s.applied}`,
    `pending:  ${s.pending.length ? s.pending.join(', ') : 'none (up to date)'}`,
  ];
  if (s.outOfOrder.length) lines.push(pc.yellow(`out of order: ${s.outOfOrder.join(', ')} (pending, but older than the current revision)`));
  if (s.changed.length) lines.push(pc.red(`changed since applied: ${s.changed.join(', ')}`));
  if (s.unknownApplied.length) {
    const why = s.unknownApplied.some((r) => comesAfter(r, s.head)) ? 'database ahead of the code' : 'applied from another branch, or removed from the folder';
    lines.push(pc.red(`applied but not in the folder: ${s.unknownApplied.join(', ')} (${why})`));
  }
  return lines;
}

export function formatHistory(h: HistoryResult): string[] {
  const lines = [`database: ${h.database}`];
  if (!h.revisions.length) lines.push('no revisions yet; create one with make migrate-create MSG="..."');
  for (const r of [...h.revisions].reverse()) {
    const marks = [r.head ? 'head' : '', r.current ? 'current' : ''].filter(Boolean).join(', ');
    const state = r.appliedAt ? `applied ${r.appliedAt}` : pc.yellow('pending');
    const down = r.down === 'ok' ? '' : pc.red({ missing: '  [no down]', manual: '  [manual down required]', stale: '  [down made for an older up]' }[r.down]);
    const flags = `${r.changed ? pc.red('  [changed since applied]') : ''}${r.outOfOrder ? pc.yellow('  [out of order: older than the current revision]') : ''}`;
    lines.push(`${r.current ? pc.green('>') : ' '} ${pc.bold(r.revision)}${marks ? pc.cyan(` (${marks})`) : ''}  ${r.message}`);
    lines.push(`    created ${r.createdAt}  ${state}${flags}${down}`);
  }
  if (h.unknownApplied?.length) {
    lines.push(pc.red(`note: the database has revision(s) ${h.unknownApplied.join(', ')} that this folder does not (applied from another branch: the database is ahead of the code); up and down refuse until the folder has them or make migrate-stamp REVISION=<rev> PURGE=1 records where it stands`));
  }
  return lines;
}

export function formatShow(s: ShowResult): string[] {
  return [
    `revision:  ${s.revision}`,
    `message:   ${s.message}`,
    `created:   ${s.createdAt}`,
    `applied:   ${s.appliedAt ?? 'pending'}`,
    `up file:   ${s.upFile}`,
    `down file: ${s.downFile}${s.down === null ? ' (missing)' : ''}`,
    ...(s.tsFile ? [`ts file:   ${s.tsFile} (up(db) after the up SQL, down(db) before the down SQL, one transaction)`] : []),
    ...(s.manualReason ? [pc.red(`manual down required: ${s.manualReason}`)] : []),
    ...s.warnings.map((w) => pc.yellow(`warning: ${w}`)),
    '',
    '-- up',
    s.up.trimEnd(),
    '',
    '-- down',
    (s.down ?? '-- (no down file)').trimEnd(),
  ];
}

export function formatCreate(c: CreateResult): string[] {
  const withoutDown = (c.withoutDown ?? []).map((w) => `${w.dialect} ${w.revision} has no down file (a migrate-create stopped half way leaves one): make migrate-downs writes and verifies it`);
  if (!c.created.length) return ['No changes in the models; nothing created.', ...withoutDown];
  const lines: string[] = [];
  for (const r of c.created) {
    lines.push(`${pc.green('created')} ${r.dialect} ${r.revision}`);
    lines.push(`  up:   ${r.upFile}`);
    const proof = r.verified ? ', verified on a scratch database' : r.verified === false ? ', NOT verified' : r.unverified ? pc.yellow(`, not verified: ${r.unverified}`) : '';
    lines.push(`  down: ${r.downFile} (${r.downStatements} statement${r.downStatements === 1 ? '' : 's'}${proof})`);
    if (r.tsFile) lines.push(`  ts:   ${r.tsFile} (up(db) after the up SQL, down(db) before the down SQL, one transaction)`);
    for (const w of r.warnings) lines.push(pc.yellow(`  warning: ${w}`));
    if (r.manualReason) lines.push(pc.red(`  manual down required: ${r.manualReason}`));
  }
  if (c.lockstepWarning) lines.push(pc.yellow(`warning: ${c.lockstepWarning}`));
  lines.push('Review both files, then run make migrate-up.');
  return lines;
}

/** A down written for an up with no statement: the verification leaves it alone (downproof.ts), nothing to run. */
const forEmptyUp = (w: DownsResult['written'][number]): boolean => w.verified === undefined && w.unverified === undefined && !w.manualReason && w.downStatements === 0;

/** One line per down written (verified, flagged, unverified, or written for an empty up), then the totals and what ran the verification. */
export function formatDowns(r: DownsResult): string[] {
  const lines = r.written.map((w) => {
    const status = w.manualReason ? pc.red('flagged ') : w.verified ? pc.green('verified') : forEmptyUp(w) ? pc.dim('written ') : pc.yellow('unverified');
    const extra = w.manualReason ? `: ${w.manualReason}` : forEmptyUp(w) ? ', its up is empty: nothing to revert' : w.warnings.length ? `, ${w.warnings.length} warning(s)` : '';
    return `${status} ${w.downFile} (${w.downStatements} statement${w.downStatements === 1 ? '' : 's'}${extra})`;
  });
  const verified = r.written.filter((w) => w.verified && !w.manualReason).length;
  const flagged = r.written.filter((w) => w.manualReason).length;
  lines.push(`${r.written.length} down file(s) written (${verified} verified, ${flagged} flagged for a hand), ${r.kept.length} existing kept`);
  for (const v of r.verification) {
    // what ran the check, and what it found: a line saying "verified" of downs that were not was a false success
    const mine = r.written.filter((w) => w.dialect === v.dialect);
    const ok = mine.filter((w) => w.verified && !w.manualReason).length;
    // downs written for empty ups: nothing to run for them (was: "not verified (undefined)" when all were)
    const empties = mine.filter(forEmptyUp).length;
    const forEmpty = empties ? `, ${empties} for an empty up` : '';
    if (!v.engine && !v.skipped && empties === mine.length) lines.push(`  ${v.dialect}: nothing to verify (${mine.length === 1 ? 'the down written is' : 'each down written is'} for an empty up)`);
    else lines.push(v.engine ? `  ${v.dialect}: checked on ${v.engine} in ${(v.ms / 1000).toFixed(1)} s, ${ok} of ${mine.length - empties} verified${forEmpty}` : `  ${v.dialect}: not verified (${v.skipped ?? 'no scratch database ran'})${forEmpty}`);
  }
  return lines;
}

export function formatInit(r: InitResult): string[] {
  const lines = [`sluice init in ${r.root} (${r.config}: ${r.dialects.join(', ')})`];
  const mark = { written: pc.green('written'), kept: pc.yellow('kept   '), skipped: pc.dim('skipped') };
  for (const f of r.files) lines.push(`  ${mark[f.status]}  ${f.path}${f.note ? pc.dim(`  (${f.note})`) : ''}`);
  if (r.scripts.added.length || r.scripts.kept.length) {
    lines.push(
      `  ${r.scripts.added.length ? mark.written : mark.kept}  package.json scripts: ${r.scripts.added.length} added${r.scripts.added.length ? ` (${r.scripts.added.join(', ')})` : ''}${
        r.scripts.kept.length ? `; ${r.scripts.kept.length} kept, the project has them already (${r.scripts.kept.join(', ')})` : ''
      }`,
    );
  }
  if (r.downs) {
    lines.push(`  ${r.downs.written.length ? mark.written : mark.kept}  down files: ${r.downs.written.length} written${r.downs.written.length ? ` (${r.downs.written.join(', ')})` : ''}, ${r.downs.kept} existing kept; review them`);
  }
  for (const n of r.notes) lines.push(pc.yellow(`note: ${n}`));
  lines.push('next:');
  for (const n of r.next) lines.push(`  ${n}`);
  return lines;
}
