/** Human-readable rendering of command results. Pure: results in, lines out. */
import pc from 'picocolors';
import type { StepResult } from './engine.js';
import type { CreateResult } from './commands/create.js';
import type { InitResult } from './commands/init.js';
import type { HistoryResult, ShowResult, StatusResult } from './commands/inspect.js';
import type { MoveResult } from './commands/migrate.js';

const VERB: Record<string, string> = {
  applied: 'applied',
  reverted: 'reverted',
  stamped: 'stamped',
  unstamped: 'unstamped',
  failed: 'FAILED',
  'not-run': 'not run',
  'already-done': 'already done by another run',
  'rolled-back': 'rolled back',
};

export function formatStep(r: StepResult): string {
  const arrow = r.direction === 'up' ? '↑' : '↓';
  const colour = r.status === 'failed' ? pc.red : r.status === 'not-run' ? pc.dim : pc.green;
  const time = r.status === 'applied' || r.status === 'reverted' ? pc.dim(` (${r.statements} statement${r.statements === 1 ? '' : 's'}, ${r.ms} ms)`) : '';
  return `${arrow} ${r.revision} ${colour(VERB[r.status] ?? r.status)}${time}`;
}

export function formatMove(verb: string, r: MoveResult): string[] {
  const lines: string[] = [];
  if (r.outOfOrder.length) {
    lines.push(pc.yellow(`note: ${r.outOfOrder.join(', ')} sort(s) before the current revision (merged from another branch); applied now, in order`));
  }
  if (r.dryRun) {
    lines.push(`-- dry run on ${r.database}: ${r.from} -> ${r.to}, ${r.steps.length} step(s); nothing was changed`);
    for (const s of r.sql ?? []) {
      lines.push(`-- ${s.direction} ${s.revision}`);
      for (const st of s.statements) lines.push(`${st.replace(/;?\s*$/, ';')}`);
    }
    return lines;
  }
  if (r.backup) lines.push(pc.dim(`backup: ${r.backup}`));
  if (r.steps.length === 0) lines.push(`${r.database}: already at ${r.to}; nothing to ${verb}`);
  else lines.push(`${r.database}: ${r.from} -> ${r.to} (${r.steps.length} revision${r.steps.length === 1 ? '' : 's'} ${verb === 'stamp' ? 'stamped' : verb === 'upgrade' ? 'applied' : 'reverted'})`);
  return lines;
}

export function formatStatus(s: StatusResult): string[] {
  const lines = [
    `database: ${s.database}`,
    `current:  ${s.current}`,
    `head:     ${s.head}`,
    `applied:  ${s.applied}`,
    `pending:  ${s.pending.length ? s.pending.join(', ') : 'none (up to date)'}`,
  ];
  if (s.outOfOrder.length) lines.push(pc.yellow(`out of order: ${s.outOfOrder.join(', ')} (pending, but older than the current revision)`));
  if (s.changed.length) lines.push(pc.red(`changed since applied: ${s.changed.join(', ')}`));
  if (s.unknownApplied.length) lines.push(pc.red(`applied but not in the folder: ${s.unknownApplied.join(', ')} (database ahead of the code)`));
  return lines;
}

export function formatHistory(h: HistoryResult): string[] {
  const lines = [`database: ${h.database}`];
  if (!h.revisions.length) lines.push('no revisions yet; create one with make migrate-create MSG="..."');
  for (const r of [...h.revisions].reverse()) {
    const marks = [r.head ? 'head' : '', r.current ? 'current' : ''].filter(Boolean).join(', ');
    const state = r.appliedAt ? `applied ${r.appliedAt}` : pc.yellow('pending');
    const down = r.down === 'ok' ? '' : pc.red({ missing: '  [no down]', manual: '  [manual down required]', stale: '  [down made for an older up]' }[r.down]);
    lines.push(`${r.current ? pc.green('>') : ' '} ${pc.bold(r.revision)}${marks ? pc.cyan(` (${marks})`) : ''}  ${r.message}`);
    lines.push(`    created ${r.createdAt}  ${state}${down}`);
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
  if (!c.created.length) return ['No changes in the models; nothing created.'];
  const lines: string[] = [];
  for (const r of c.created) {
    lines.push(`${pc.green('created')} ${r.dialect} ${r.revision}`);
    lines.push(`  up:   ${r.upFile}`);
    lines.push(`  down: ${r.downFile} (${r.downStatements} statement${r.downStatements === 1 ? '' : 's'})`);
    for (const w of r.warnings) lines.push(pc.yellow(`  warning: ${w}`));
    if (r.manualReason) lines.push(pc.red(`  manual down required: ${r.manualReason}`));
  }
  if (c.lockstepWarning) lines.push(pc.yellow(`warning: ${c.lockstepWarning}`));
  lines.push('Review both files, then run make migrate-up.');
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
