/** Human-readable lines for migrate-lint's findings (pure; the CLI prints them). */
import { colours as pc } from './printer.js';
import type { LintResult } from './commands/lint.js';
import type { LintFinding } from './lint.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One finding: `<file>:<line> <rule> (<source>) statement N: <first line>`, then its message. */
export function findingLines(f: LintFinding, indent = ''): string[] {
  const where = f.statement ? ` statement ${f.statement.index}: ${f.statement.text}` : '';
  return [`${indent}${f.file}:${f.line} ${pc.yellow(f.rule)} (${f.source})${where}`, `${indent}  ${f.message}${f.help ? ` ${f.help}` : ''}`];
}

export function formatLint(r: LintResult): string[] {
  const lines = r.findings.flatMap((f) => findingLines(f));
  for (const n of r.notes) lines.push(pc.dim(`note: ${n}`));
  const total = r.dialects.reduce((n, d) => n + d.revisions.length, 0);
  const per = r.dialects.map((d) => `${d.dialect} ${d.revisions.length}`).join(', ');
  const linted = `${plural(total, 'revision')} linted (${per || 'no history'}${r.linter ? `; ${r.linter}` : ''})`;
  if (r.ok) {
    lines.push(`${pc.green('no findings')}: ${linted}`);
    return lines;
  }
  const revisions = new Set(r.findings.map((f) => `${f.dialect}/${f.revision}`)).size;
  lines.push(
    `${pc.red(plural(r.findings.length, 'finding'))} in ${plural(revisions, 'revision')}; ${linted}`,
    'Silence a rule for one statement with "-- sluice:lint-ignore <rule>" above it, or everywhere with drizzle.config.ts: export const lint = { skip: [\'<rule>\'] }',
  );
  return lines;
}

/** migrate-create: the new revisions' findings, as warnings. */
export function lintWarnings(l: { findings: LintFinding[]; notes: string[] }): string[] {
  if (!l.findings.length) return l.notes.map((n) => pc.yellow(`warning: ${n}`));
  return [
    pc.yellow(`warning: make migrate-lint finds ${plural(l.findings.length, 'problem')} in the new revision${new Set(l.findings.map((f) => f.dialect)).size > 1 ? 's' : ''}:`),
    ...l.findings.flatMap((f) => findingLines(f, '  ')),
    ...l.notes.map((n) => pc.dim(`  note: ${n}`)),
  ];
}
