/**
 * `make migrate-lint` (CLI `sluice lint [revision]`): lint the up SQL of every history the config
 * keeps (both dialects; no database needed) with squawk for PostgreSQL and sluice's own rules (src/lint.ts).
 * Findings exit 11. Rules are skipped by the config's `export const lint = { skip: [...] }` (and
 * SLUICE_LINT_SKIP=a,b), or one statement at a time by a `-- sluice:lint-ignore <rule>` comment.
 * migrate-create lints the revisions it has just written (lintCreated), as warnings.
 */
import path from 'node:path';
import { loadProjectConfig, type DialectName, type SqliteEngine } from '../config.js';
import { resolveEnv, type CommandOptions } from '../context.js';
import { ExitCode, UnknownRevision, UsageError, type ExitCodeValue } from '../errors.js';
import { DEFAULT_SKIP, finishLint, lintUps, type LintFinding, type UpsLinted } from '../lint.js';
import { requireRevisionName, resolveTarget } from '../revision.js';
import { readHistory, type RevisionFile } from '../source.js';
import { checkOptions, COMMON_OPTIONS } from '../options.js';

export interface LintOptions extends CommandOptions {
  /**
   * Which revisions: a tag, number, unique prefix or `head` (that one), or `<from>:<to>` (those after
   * `from` up to `to`, as migrate-sql: `0004:head`). Default: every revision.
   */
  revision?: string;
  /** Only these revisions (migrate-create's new ones); overrides `revision`. */
  only?: { dialect: DialectName; revision: string }[];
}

export interface LintResult {
  ok: boolean;
  /** 0, or 11 when there are findings. */
  exitCode: ExitCodeValue;
  /** Each history linted and the revisions read. */
  dialects: { dialect: DialectName; folder: string; revisions: string[] }[];
  findings: LintFinding[];
  /** Rules not reported (sluice's defaults, the config's lint.skip, SLUICE_LINT_SKIP). */
  skipped: string[];
  /** Things that limited the lint (a statement squawk could not read). */
  notes: string[];
  /** `squawk <version>` when a PostgreSQL history was linted. */
  linter?: string;
}

export async function lint(options: LintOptions = {}): Promise<LintResult> {
  checkOptions('lint', options, { ...COMMON_OPTIONS, revision: 'revision', only: 'array' });
  return (await beginLint(options)).finish();
}

/**
 * lint() in two steps: the rules that read the ups start now (squawk's process among them); finish()
 * adds `irreversible`, which reads the downs as they are then (migrate-create: once they are written).
 */
export async function beginLint(options: LintOptions = {}): Promise<{ finish(): Promise<LintResult> }> {
  const { root, env } = resolveEnv(options);
  const project = await loadProjectConfig(root, options.config ?? env.SLUICE_CONFIG);
  const include = project.lint.include;
  const fromEnv = (env.SLUICE_LINT_SKIP ?? '').split(/[\s,]+/).filter(Boolean);
  const skip = new Set([...Object.keys(DEFAULT_SKIP).filter((r) => !include.includes(r)), ...project.lint.skip, ...fromEnv]);
  const spec = options.revision === undefined ? undefined : requireRevisionName(options.revision);
  const unknown: UnknownRevision[] = [];
  const runs: { dialect: DialectName; folder: string; revisions: string[]; ups: Promise<UpsLinted> }[] = [];
  for (const [dialect, h] of Object.entries(project.histories) as [DialectName, { out: string; engine?: SqliteEngine }][]) {
    // a history `only` does not name is not read (migrate-create: its drizzle-kit may be writing its journal)
    if (options.only && !options.only.some((o) => o.dialect === dialect)) continue;
    const history = readHistory(h.out, { allowMissing: true }).revisions;
    let selected: RevisionFile[];
    try {
      selected = options.only ? history.filter((r) => options.only!.some((o) => o.dialect === dialect && o.revision === r.id)) : select(history, spec);
    } catch (err) {
      // A tag one history lacks (histories written by hand can differ): lint the others; refused when none has it.
      if (!(err instanceof UnknownRevision)) throw err;
      unknown.push(err);
      continue;
    }
    if (options.only && !selected.length) continue;
    const ups = lintUps(root, dialect, h.out, history, selected, { skip, include, engine: h.engine });
    ups.catch(() => {}); // reported by finish()
    runs.push({ dialect, folder: path.relative(root, h.out) || '.', revisions: selected.map((r) => r.id), ups });
  }
  if (unknown.length && !runs.length) throw unknown[0];
  return {
    async finish() {
      const result: LintResult = { ok: true, exitCode: ExitCode.ok, dialects: [], findings: [], skipped: [...skip].sort(), notes: [] };
      for (const r of runs) {
        const run = finishLint(await r.ups);
        result.dialects.push({ dialect: r.dialect, folder: r.folder, revisions: r.revisions });
        result.findings.push(...run.findings);
        result.notes.push(...run.notes);
        if (run.linter) result.linter = run.linter;
      }
      result.ok = result.findings.length === 0;
      result.exitCode = result.ok ? ExitCode.ok : ExitCode.lintFindings;
      return result;
    },
  };
}

function select(history: RevisionFile[], spec: string | undefined): RevisionFile[] {
  if (spec === undefined) return history;
  const range = spec.includes(':');
  const [fromSpec, toSpec] = range ? [spec.slice(0, spec.indexOf(':')) || 'base', spec.slice(spec.indexOf(':') + 1) || 'head'] : [undefined, spec];
  if ([fromSpec, toSpec].some((s) => s && /^[+-]/.test(s))) {
    throw new UsageError(`revision "${spec}": give head, base, a tag or a number (lint reads no database, so +N / -N mean nothing)`);
  }
  const to = resolveTarget(history, new Set(), toSpec);
  if (!range) {
    if (to < 0) throw new UsageError('base is no revision; give a tag, a number, head, or a range such as 0004:head');
    return [history[to]!];
  }
  const from = resolveTarget(history, new Set(), fromSpec!);
  // the revisions after <from> up to <to>: a backwards range is a mistake, not "no findings" (an empty
  // one is not: with two dialects, one history may have nothing after <from>)
  if (to < from) {
    throw new UsageError(`revision range "${spec}" runs backwards, so it selects no revision (lint reads the revisions after ${fromSpec} up to ${toSpec}); give the older one first, e.g. 0001:head`);
  }
  return history.filter((r) => r.index > from && r.index <= to);
}

/** migrate-create's hook: lint the revisions it has just written. Never throws: a lint that cannot run is a note. */
export async function lintCreated(created: { dialect: DialectName; revision: string }[], options: CommandOptions): Promise<CreatedLint> {
  return beginLintCreated(created, options).finish();
}

export interface CreatedLint {
  findings: LintFinding[];
  notes: string[];
}

/** lintCreated in two steps (beginLint): started as soon as the revisions' ups are final, finished once their downs are written. Never throws. */
export function beginLintCreated(created: { dialect: DialectName; revision: string }[], options: CommandOptions): { finish(): Promise<CreatedLint> } {
  const failed = (err: unknown): CreatedLint => ({ findings: [], notes: [`lint did not run: ${(err as Error).message}`] });
  if (!created.length) return { finish: async () => ({ findings: [], notes: [] }) };
  // the command's own options only (migrate-create's message, ts, signal… are not lint's)
  const begun = beginLint({ cwd: options.cwd, env: options.env, config: options.config, connection: options.connection, only: created });
  begun.catch(() => {}); // reported by finish()
  return {
    finish: () =>
      begun.then(
        (b) => b.finish().then((r) => ({ findings: r.findings, notes: r.notes }), failed),
        failed,
      ),
  };
}
