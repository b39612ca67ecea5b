/**
 * migrate-lint's rules over revision files (the up SQL; the down only for `irreversible`).
 *  - PostgreSQL: squawk (npm `squawk-cli`, a maintained linter for PostgreSQL migrations: locks, table
 *    rewrites, indexes without CONCURRENTLY, constraints without NOT VALID, volatile defaults…), run
 *    once per batch of files with `--reporter json`. sluice runs each revision in a transaction, so
 *    squawk is told so (`--assume-in-transaction`: an index on a table the same revision creates is
 *    harmless); `-- sluice:no-transaction` files, and files with a statement that cannot run in a
 *    transaction (which sluice runs as if marked), are linted without it.
 *  - sluice's own rules, both dialects, where no linter has them: `drop-table` / `drop-column` (the
 *    data is lost: the down brings them back empty), `sqlite-table-rebuild` (drizzle-kit's copy into
 *    `__new_<table>`), `irreversible` (no usable down: missing, empty, or marked
 *    `-- sluice:manual-down-required` by the down check), `unparseable` (sluice would refuse the file).
 * Every finding is mapped to its statement through sluice's own parse of the file (parseSql). A
 * `-- sluice:lint-ignore <rule>[,<rule>]` comment above a statement (after the previous one) or on
 * its lines silences those rules there; without rule names, every rule. squawk's own
 * `-- squawk-ignore <rule>` comments work too (squawk reads them).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { DialectName, SqliteEngine } from './config.js';
import { NO_TRANSACTION_MARKER } from './prepare.js';
import { ConfigError, describeCause, ExitCode, SluiceError } from './errors.js';
import { readDown, readSnapshot, readUp, tsFileOf, type RevisionFile } from './source.js';
import { downIsEmpty, downIsProven, downIsStale, parseDownHeader } from './downheader.js';
import { firstLine } from './sql.js';
import { loadParser, parseSql, SqlSyntaxError, type ParsedSql } from './sqlparse.js';
import { statementChange, type StatementChange } from './sqlchange.js';
import { sqliteTriggerTracker, type TriggersByTable } from './sqlitetriggers.js';
import { withoutBom } from './bom.js';
import { narrowingFindings } from './lintnarrow.js';
import { readyToSplit } from './altertable.js';

/** sluice's own rules (never passed to squawk). */
export const SLUICE_RULES = ['drop-table', 'drop-column', 'sqlite-table-rebuild', 'empty-table', 'drop-cascade', 'narrowing-type', 'irreversible', 'unparseable'];

/** squawk rules sluice does not report unless the config's `lint.include` names them, and why. */
export const DEFAULT_SKIP: Record<string, string> = {
  'prefer-bigint-over-int': 'a column type preference, not a locking or data-loss risk',
  'prefer-bigint-over-smallint': 'a column type preference',
  'prefer-identity': 'a column type preference (drizzle-kit writes serial)',
  'prefer-text-field': 'a column type preference',
  'prefer-timestamp-tz': 'a column type preference',
  'require-lock-timeout': 'sluice sets lock_timeout on every migration (SLUICE_LOCK_TIMEOUT, default 10s)',
  'require-statement-timeout': 'sluice sets statement_timeout from SLUICE_STATEMENT_TIMEOUT',
  'ban-drop-table': "sluice's drop-table reports it, for both dialects",
  'ban-drop-column': "sluice's drop-column reports it, for both dialects",
};

export interface LintFinding {
  dialect: DialectName;
  revision: string;
  /** The file, relative to the project folder. */
  file: string;
  /** 1-based line in the file. */
  line: number;
  /** The statement: its number in the file (1-based) and its first line; absent for a finding on the revision (irreversible). */
  statement?: { index: number; text: string };
  rule: string;
  source: 'squawk' | 'sluice';
  message: string;
  help?: string;
}

export interface LintSettings {
  /** Rules not reported. */
  skip: Set<string>;
  /** squawk's opt-in rules to turn on. */
  include: string[];
  /** SQLite: the engine the history's SQL is written for (libsql for drizzle's "turso" dialect). */
  engine?: SqliteEngine;
}

export interface LintRun {
  findings: LintFinding[];
  notes: string[];
  /** `squawk <version>` when squawk ran. */
  linter?: string;
}

export interface FileLint {
  rev: RevisionFile;
  parsed: ParsedSql;
  /** Last line of each statement. */
  ends: number[];
}

/** What lintUps found: every rule but `irreversible`, which reads the downs (finishLint). */
export interface UpsLinted {
  dialect: DialectName;
  history: RevisionFile[];
  files: Map<string, FileLint & { text: string }>;
  findings: LintFinding[];
  notes: string[];
  linter?: string;
  add: (f: Omit<LintFinding, 'dialect' | 'file'> & { file: string }, ignored?: Set<string>) => void;
}

/**
 * Lint `selected` revisions of one history (`history`: all of it, for the snapshots before each), in
 * two steps. First the rules that read the ups only (sluice's own, squawk's): migrate-create starts them as soon as a
 * new up is final, while its down is still being proven; finishLint adds `irreversible` once the down is written.
 */
export async function lintUps(root: string, dialect: DialectName, out: string, history: RevisionFile[], selected: RevisionFile[], settings: LintSettings): Promise<UpsLinted> {
  await loadParser(dialect);
  const findings: LintFinding[] = [];
  const notes: string[] = [];
  const files = new Map<string, FileLint & { text: string }>();
  const add = (f: Omit<LintFinding, 'dialect' | 'file'> & { file: string }, ignored: Set<string> = new Set()) => {
    if (!settings.skip.has(f.rule) && !ignored.has(f.rule) && !ignored.has('*')) findings.push({ dialect, ...f, file: relTo(root, f.file) });
  };
  let triggers: ReturnType<typeof sqliteTriggerTracker> | undefined; // made at the first rebuild met
  for (const rev of selected) {
    // without a byte order mark, as migrate-up reads it (prepare.ts; was: `unparseable`, a file up runs)
    const text = withoutBom(readUp(rev));
    let parsed: ParsedSql;
    try {
      parsed = parseSql(text, dialect, settings.engine);
    } catch (err) {
      if (!(err instanceof SqlSyntaxError)) throw err;
      add({ revision: rev.id, file: rev.upFile, line: err.line, rule: 'unparseable', source: 'sluice', message: `${err.message}; sluice refuses to run a file its parser cannot read` });
      continue;
    }
    if (dialect === 'postgresql') await readyToSplit(parsed.statements.map((s) => s.text));
    const file = { rev, parsed, text, ends: parsed.statements.map((s) => s.line + (s.text.match(/\n/g)?.length ?? 0)) };
    files.set(rev.upFile, file);
    ownRules(
      file,
      dialect,
      history[rev.index - 1] ? () => readSnapshot(out, history[rev.index - 1]!) : undefined,
      (i, rule, message) => add({ revision: rev.id, file: rev.upFile, line: parsed.statements[i]!.line, statement: statementOf(file, i), rule, source: 'sluice', message }, ignoresAt(file, i)),
      dialect === 'sqlite' ? () => (triggers ??= sqliteTriggerTracker(history, settings.engine)).before(rev.index) : undefined,
    );
  }
  let linter: string | undefined;
  if (dialect === 'postgresql') {
    const withStatements = [...files.values()].filter((f) => f.parsed.statements.length > 0);
    const exclude = [...settings.skip].filter((r) => !SLUICE_RULES.includes(r));
    const include = settings.include.filter((r) => !SLUICE_RULES.includes(r));
    for (const inTransaction of [true, false]) {
      const outside = (f: (typeof withStatements)[number]) => f.parsed.comments.some((c) => NO_TRANSACTION_MARKER.test(c)) || f.parsed.statements.some((s) => s.outsideTransaction);
      const batch = withStatements.filter((f) => outside(f) !== inTransaction);
      if (!batch.length) continue;
      linter = squawkVersion();
      for (const v of await runSquawk(root, batch.map((f) => f.rev.upFile), inTransaction, exclude, include)) {
        const file = files.get(path.resolve(root, v.file));
        if (!file) continue;
        const line = v.line + 1;
        const i = statementAtLine(file, line);
        if (v.rule_name === 'syntax-error') {
          notes.push(`${relTo(root, file.rev.upFile)} line ${line}: squawk could not read this statement (${v.message}), so its rules were not checked there; PostgreSQL's own parser reads it`);
          continue;
        }
        add({ revision: file.rev.id, file: file.rev.upFile, line, statement: i >= 0 ? statementOf(file, i) : undefined, rule: v.rule_name, source: 'squawk', message: v.message, ...(v.help ? { help: v.help } : {}) }, i >= 0 ? ignoresAt(file, i) : new Set());
      }
    }
  }
  return { dialect, history, files, findings, notes, linter, add };
}

/** lintUps' findings with `irreversible` (from the downs as they are now), in order. */
export function finishLint(u: UpsLinted): LintRun {
  const { findings, notes, linter } = u;
  for (const { rev, text, parsed } of u.files.values()) {
    irreversible(rev, u.dialect, text, parsed.statements.length > 0, (line, message, ignored) =>
      u.add({ revision: rev.id, file: rev.downFile, line, rule: 'irreversible', source: 'sluice', message }, ignored),
    );
  }
  const order = new Map(u.history.map((r) => [r.id, r.index]));
  // By revision; in a revision the up's findings by line, then the down's (irreversible).
  const downLast = (f: LintFinding) => (f.rule === 'irreversible' ? 1 : 0);
  findings.sort((a, b) => order.get(a.revision)! - order.get(b.revision)! || downLast(a) - downLast(b) || a.line - b.line);
  return { findings, notes: [...new Set(notes)], ...(linter ? { linter } : {}) };
}

type Report = (statement: number, rule: string, message: string) => void;

/** drop-table, drop-column, sqlite-table-rebuild, empty-table, drop-cascade on one parsed up file. */
function ownRules(file: FileLint, dialect: DialectName, previousSnapshot: (() => Record<string, unknown>) | undefined, report: Report, triggersBefore?: () => TriggersByTable): void {
  const changes = file.parsed.statements.map((s) => statementChange(s.text, dialect));
  const { rebuilds, replaced } = dialect === 'sqlite' ? sqliteRebuilds(changes) : { rebuilds: new Map<string, string>(), replaced: new Set<string>() };
  const created = new Set<string>();
  changes.forEach((c, i) => {
    for (const table of c.dropsTables) {
      // A table this file created holds no data of its own; a SQLite rebuild's original is replaced by its copy.
      if (created.has(table) || replaced.has(`${i}:${table.toLowerCase()}`)) continue;
      report(i, 'drop-table', `drops table ${table} and every row in it; a down can re-create the table, not its rows`);
    }
    for (const d of c.dropsColumns) report(i, 'drop-column', `drops column ${d.table}.${d.column} and its values; a down can bring the column back, not its values`);
    if (c.emptiesTables) {
      const mine = c.emptiesTables.tables.filter((t) => !created.has(t));
      if (mine.length) report(i, 'empty-table', `${c.emptiesTables.how} empties ${mine.length === 1 ? 'table' : 'tables'} ${mine.join(', ')}: every row is gone, and a down cannot bring rows back`);
    }
    if (c.dropsOwned?.length) report(i, 'drop-table', `DROP OWNED drops every object ${c.dropsOwned.join(', ')} ${c.dropsOwned.length === 1 ? 'owns' : 'own'} in the database, in every schema (tables with every row in them, unnamed); a down cannot bring them back: drop them by name`);
    if (c.dropsCascade) {
      report(i, 'drop-cascade', `drops ${c.dropsCascade.kind} ${c.dropsCascade.names.join(', ')} with CASCADE: whatever depends on it goes too, unnamed (a column of that type with its values, a view, a default, a foreign key); drop the dependents by name first`);
    }
    const table = c.createsTable && rebuilds.has(c.createsTable) ? originalName(changes, c.createsTable, rebuilds.get(c.createsTable)!) : undefined;
    if (c.createsTable && table) {
      const copy = changes.find((k) => k.insertsInto?.table.toLowerCase() === c.createsTable!.toLowerCase())?.insertsInto;
      // no column list (INSERT INTO copy SELECT …): the copy's own columns, by position
      const lost = lostColumns(previousSnapshot, table, copy && (copy.columns.length ? copy.columns : c.createsColumns));
      // the table's triggers go with its DROP; those this file makes again after it are not lost
      const again = new Set(changes.slice(i).flatMap((k) => (k.createsTrigger ? [k.createsTrigger.name.toLowerCase()] : [])));
      const triggers = [...(triggersBefore?.().get(table.toLowerCase()) ?? new Map<string, string>())].filter(([k]) => !again.has(k)).map(([, n]) => n);
      report(
        i,
        'sqlite-table-rebuild',
        `rebuilds table ${table} (copies it into ${c.createsTable}, drops it, renames the copy): every row is rewritten while the database is locked for writing` +
          (copy ? (lost.length ? `; column(s) ${lost.join(', ')} are not copied: their data is lost` : '') : `; no INSERT copies its rows: its data is lost`) +
          (triggers.length ? `; its trigger(s) ${triggers.join(', ')}, made by an earlier revision, are dropped with it and not made again: add their CREATE TRIGGER after the rename` : ''),
      );
    }
    if (c.createsTable) created.add(c.createsTable);
    if (dialect === 'postgresql') for (const m of narrowingFindings(file.parsed.statements[i]!.text, previousSnapshot)) report(i, 'narrowing-type', m);
  });
}

/**
 * SQLite table rebuilds in one file: copy → the table it replaces (lower case). drizzle-kit's copy is
 * `__new_<table>`; a hand-written one (seed 001's `user_new`) is any table the file creates, then
 * renames to the name of a table the file dropped in between.
 */
function sqliteRebuilds(changes: StatementChange[]): { rebuilds: Map<string, string>; replaced: Set<string> } {
  const rebuilds = new Map<string, string>();
  /** `<statement index>:<table>` of each DROP a rebuild makes: its rows live on in the copy. */
  const replaced = new Set<string>();
  const lower = (n: string | undefined) => n?.toLowerCase();
  changes.forEach((c, i) => {
    const copy = c.createsTable;
    if (!copy) return;
    const r = changes.findIndex((k, j) => j > i && lower(k.renamesTable?.from) === lower(copy));
    const to = r >= 0 ? lower(changes[r]!.renamesTable!.to)! : copy.startsWith('__new_') ? lower(copy.slice('__new_'.length))! : undefined;
    if (!to) return;
    const d = changes.findIndex((k, j) => j > i && (r < 0 || j < r) && k.dropsTables.some((t) => lower(t) === to));
    if (d < 0 && !copy.startsWith('__new_')) return;
    rebuilds.set(copy, to);
    // its DROP is the rebuild's, not a drop-table of its own, unless the copy was filled from another
    // table (then the rows are lost there); a copy filled from nowhere is said lost by the rebuild's finding
    const fill = changes.slice(i + 1, d < 0 ? undefined : d).find((k) => lower(k.insertsInto?.table) === lower(copy))?.insertsInto;
    if (d >= 0 && (fill?.from === undefined || lower(fill.from) === to)) replaced.add(`${d}:${to}`);
  });
  return { rebuilds, replaced };
}

/** The rebuilt table's name as the file writes it (its DROP's spelling; the copy's suffix for a `__new_` copy without one). */
function originalName(changes: StatementChange[], copy: string, lower: string): string {
  for (const c of changes) for (const t of c.dropsTables) if (t.toLowerCase() === lower) return t;
  return copy.startsWith('__new_') ? copy.slice('__new_'.length) : lower;
}

/** Columns the table had before this revision (its previous snapshot) that the rebuild's copy leaves out. */
function lostColumns(previousSnapshot: (() => Record<string, unknown>) | undefined, table: string, copied: string[] | undefined): string[] {
  if (!previousSnapshot || !copied?.length) return [];
  try {
    const tables = previousSnapshot().tables as Record<string, { name?: string; columns?: Record<string, unknown> }> | undefined;
    const before = Object.values(tables ?? {}).find((t) => t.name?.toLowerCase() === table.toLowerCase());
    const kept = new Set(copied.map((c) => c.toLowerCase()));
    return Object.keys(before?.columns ?? {}).filter((c) => !kept.has(c.toLowerCase()));
  } catch {
    return [];
  }
}

/** irreversible: migrate-down refuses this revision (no down, an empty one, or one marked manual by the down check). */
function irreversible(rev: RevisionFile, dialect: DialectName, up: string, upHasStatements: boolean, report: (line: number, message: string, ignored: Set<string>) => void): void {
  const down = readDown(rev);
  if (down !== null) {
    let ignored = new Set<string>();
    // no statement by the parser (a block comment, bare semicolons, an empty BEGIN/COMMIT), as migrate-down reads it
    let noStatement = false;
    try {
      const parsed = parseSql(down, dialect);
      ignored = ignoreRules(parsed.comments);
      noStatement = parsed.statements.every((st) => st.transactionControl) && !existsSync(tsFileOf(rev));
    } catch {
      /* a down the parser cannot read is reported when it runs */
    }
    const manual = parseDownHeader(down).manualReason;
    if (manual) {
      const line = down.split('\n').findIndex((l) => l.startsWith('-- sluice:manual-down-required ')) + 1;
      report(line, `the down check could not reverse this revision: ${manual}; migrate-down refuses it until the down is written and that line deleted`, ignored);
      return;
    }
    if (downIsStale(up, down)) {
      const line = down.split('\n').findIndex((l) => l.startsWith('-- sluice:up-checksum ')) + 1;
      report(line, 'the down was made for another up (its sluice:up-checksum is not the up\'s): migrate-down refuses this revision until you check that the down still undoes the up and delete that line', ignored);
      return;
    }
    if (!(downIsEmpty(down) || noStatement) || !upHasStatements || downIsProven(down)) return;
    report(1, 'the down file holds no statement: migrate-down refuses this revision; write the statements that undo the up', ignored);
    return;
  }
  if (upHasStatements) report(1, 'no down file: migrate-down refuses this revision; run make migrate-downs or write it by hand', new Set());
}

function statementOf(file: FileLint, i: number): { index: number; text: string } {
  return { index: i + 1, text: firstLine(file.parsed.statements[i]!.text) };
}

/** The statement whose lines hold `line`, else the last one starting before it; -1 when none. */
function statementAtLine(file: FileLint, line: number): number {
  const inside = file.parsed.statements.findIndex((s, i) => s.line <= line && line <= file.ends[i]!);
  return inside >= 0 ? inside : file.parsed.statements.filter((s) => s.line <= line).length - 1;
}

/** Rules silenced for statement i: `sluice:lint-ignore` comments after the previous statement's last line, up to this one's. */
function ignoresAt(file: FileLint, i: number): Set<string> {
  const from = i > 0 ? file.ends[i - 1]! : 0;
  const to = file.ends[i]!;
  return ignoreRules(file.parsed.comments.filter((_, k) => file.parsed.commentLines[k]! > from && file.parsed.commentLines[k]! <= to));
}

const IGNORE = /^(?:--|\/\*)\s*sluice:lint-ignore(?![\w-])([^]*?)(?:\*\/)?\s*$/;

function ignoreRules(comments: string[]): Set<string> {
  const rules = new Set<string>();
  for (const c of comments) {
    const m = IGNORE.exec(c.trim());
    if (!m) continue;
    const names = m[1]!.split(/[\s,]+/).filter(Boolean);
    for (const r of names.length ? names : ['*']) rules.add(r);
  }
  return rules;
}

function relTo(root: string, file: string): string {
  const r = path.relative(root, file);
  return r && !r.startsWith('..') ? r : file;
}

// ---------------------------------------------------------------- squawk

interface SquawkViolation {
  file: string;
  /** 0-based. */
  line: number;
  rule_name: string;
  message: string;
  help: string | null;
}

const require = createRequire(import.meta.url);

function squawkVersion(): string {
  return `squawk ${(require('squawk-cli/package.json') as { version: string }).version}`;
}

/** The squawk binary of the platform package npm installed beside squawk-cli (no download at run time). */
function squawkBinary(): string {
  try {
    return (require('squawk-cli/js/index.js') as { getBinaryPath(): string }).getBinaryPath();
  } catch (err) {
    throw new ConfigError(
      `migrate-lint needs squawk (npm squawk-cli) for PostgreSQL and it is not installed for ${process.platform}-${process.arch} (${describeCause(err)}); reinstall with optional dependencies (npm install --include=optional)`,
      { cause: err },
    );
  }
}

/** A child process run to its end (asynchronously: migrate-create's proof goes on meanwhile), its output whole. */
function runToEnd(file: string, args: string[], cwd: string): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    const child = spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (error) => resolve({ status: null, signal: null, stdout, stderr, error })); // it could not start (settled once: the first wins)
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

async function runSquawk(root: string, files: string[], inTransaction: boolean, exclude: string[], include: string[]): Promise<SquawkViolation[]> {
  const args = ['--reporter', 'json', inTransaction ? '--assume-in-transaction' : '--no-assume-in-transaction'];
  if (exclude.length) args.push(`--exclude=${exclude.join(',')}`);
  if (include.length) args.push(`--include=${include.join(',')}`);
  // cwd: the project, so a team's own .squawk.toml (pg_version, excluded_rules) applies.
  const binary = squawkBinary();
  const r = await runToEnd(binary, [...args, ...files], root);
  // installed but not startable (no execute permission, a noexec mount, another platform's binary): the
  // install's to fix, not a bug of sluice (was: "internal error", exit 1; found by a review helper)
  if (r.error) {
    throw new ConfigError(`cannot run squawk (${binary}): ${describeCause(r.error)}; reinstall it for ${process.platform}-${process.arch} (npm ci, or npm install --include=optional)`, { cause: r.error });
  }
  const stderr = (r.stderr ?? '').trim();
  const unknown = /invalid rule name ([\w-]+)/.exec(stderr)?.[1];
  if (unknown) {
    throw new ConfigError(`lint rule "${unknown}" is neither sluice's nor squawk's; fix it in drizzle.config.ts's lint export or SLUICE_LINT_SKIP (squawk's rules are listed in its documentation)`);
  }
  try {
    if (r.status === 0 || r.status === 1) return JSON.parse(r.stdout) as SquawkViolation[];
  } catch {
    /* not JSON: reported below */
  }
  throw new SluiceError(`squawk failed (exit ${r.status ?? r.signal}): ${stderr.split('\n')[0] || 'no message'}`, ExitCode.internal);
}
