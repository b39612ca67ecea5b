/**
 * `sluice init`: set sluice up in a drizzle-kit project where it has just been installed. Writes
 * `sluice.mk` (the Make targets, calling the installed binary), a Makefile including it when the
 * project has none, npm scripts, `.env.example`, `docker/compose.yml` (a dev PostgreSQL) and a CI
 * workflow, filled from the project's drizzle.config.ts; and the missing down files of an existing
 * history (as `sluice downs`). Nothing that exists is ever overwritten: every file is reported as
 * written, kept (it existed) or skipped (not relevant to this project); every npm script as added or
 * kept. Files are created with O_EXCL, so a file that appears meanwhile is kept too.
 *
 * Make targets for commands that are not in every sluice (sql, heads, merge, takeover, deploy, verify, lint) are written only
 * when the sluice that runs init has the command: see OPTIONAL_COMMANDS. A command added later gets
 * its target with one line there and one `#@if` block in templates/sluice.mk.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findConfigFile, loadProjectConfig, sqliteFileUrl, type DialectName, type HistoryConfig } from '../config.js';
import { resolveEnv, type CommandOptions } from '../context.js';
import { ConfigError, describeCause } from '../errors.js';
import { COMPOSE_URL } from './devdb.js';
import { writeMissingDowns } from './downs.js';
import { writeIfAbsent } from './initfiles.js';
import { addScripts, readPackageJson, type Undo } from './initpackage.js';
import { checkOptions, COMMON_OPTIONS } from '../options.js';

export interface InitOptions extends CommandOptions {
  /**
   * The sluice commands available (the CLI passes its own). Optional Make targets and npm scripts are
   * written only for these. Default: detected from the command modules installed beside this one.
   */
  commands?: string[];
  /** Skip writing the missing down files of the existing history. */
  noDowns?: boolean;
}

export type InitFileStatus = 'written' | 'kept' | 'skipped';

export interface InitFile {
  /** Relative to the project folder. */
  path: string;
  status: InitFileStatus;
  /** Why it was kept or skipped, or what to do next with it. */
  note?: string;
}

export interface InitResult {
  /** The project folder, absolute. */
  root: string;
  /** drizzle.config.ts, relative to the project folder. */
  config: string;
  dialects: DialectName[];
  files: InitFile[];
  /** npm scripts in package.json: added, or kept because the project already has a script of that name. */
  scripts: { added: string[]; kept: string[] };
  /** Down files of the existing history (null: no history yet, or skipped). */
  downs: { written: string[]; kept: number } | null;
  /** Things to check by hand (e.g. the config reads another variable than DATABASE_URL). */
  notes: string[];
  /** What to run next. */
  next: string[];
  /** Scratch databases the downs' verification could not remove, and why: remove them by hand. */
  notRemoved?: string[];
}

/** Make targets (and npm scripts) that need a command not every sluice has: command -> module file. */
const OPTIONAL_COMMANDS: Record<string, string> = {
  sql: 'offline.js',
  heads: 'verify.js',
  merge: 'merge.js',
  takeover: 'takeover.js',
  deploy: 'deploy.js',
  verify: 'verify.js',
  lint: 'lint.js',
};

/** npm scripts init adds: name -> command line (the `sluice` binary npm puts on the scripts' PATH). */
function npmScripts(commands: Set<string>): Record<string, string> {
  const scripts: Record<string, string> = {
    'migrate:create': 'sluice create --message',
    'migrate:downs': 'sluice downs',
    'migrate:up': 'sluice up',
    'migrate:down': 'sluice down',
    'migrate:stamp': 'sluice stamp',
    'migrate:history': 'sluice history',
    'migrate:status': 'sluice status',
    'migrate:show': 'sluice show',
    'migrate:reset': 'sluice reset',
  };
  if (commands.has('sql')) scripts['migrate:sql'] = 'sluice sql --';
  if (commands.has('heads')) scripts['migrate:heads'] = 'sluice heads';
  if (commands.has('merge')) scripts['migrate:merge'] = 'sluice merge';
  if (commands.has('takeover')) scripts['migrate:takeover'] = 'sluice takeover';
  if (commands.has('deploy')) scripts['migrate:deploy'] = 'sluice deploy';
  if (commands.has('verify')) scripts['migrate:check'] = 'sluice verify';
  if (commands.has('lint')) scripts['migrate:lint'] = 'sluice lint';
  Object.assign(scripts, { 'db:test': 'sluice check', 'db:up': 'sluice db up', 'db:down': 'sluice db down', 'db:connect': 'sluice db connect' });
  return scripts;
}

const TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL('../../package.json', import.meta.url));

export async function init(options: InitOptions = {}): Promise<InitResult> {
  checkOptions('init', options, { ...COMMON_OPTIONS, commands: 'strings', noDowns: 'boolean' });
  const { root, env } = resolveEnv(options);
  const configFile = findConfigFile(root, options.config ?? env.SLUICE_CONFIG);
  const project = await loadProjectConfig(root, options.config ?? env.SLUICE_CONFIG);
  const dialects = (['sqlite', 'postgresql'] as const).filter((d) => project.histories[d]);
  const commands = new Set(options.commands ?? detectCommands());
  const flags = new Set<string>([...dialects, ...[...commands].filter((c) => c in OPTIONAL_COMMANDS)]);
  const pkg = readPackageJson(root);
  const raw = await rawConfig(configFile);
  const notes: string[] = [];
  const envVar = urlVariable(configFile);
  if (envVar && envVar !== 'DATABASE_URL') {
    notes.push(
      `${path.relative(root, configFile)} reads its database from ${envVar}; sluice reads DATABASE_URL: set both to the same database (or make the config read DATABASE_URL)`,
    );
  }

  // The missing downs first: computing them is what can fail (a broken snapshot, a down that does not
  // prove out), and a refused init must not have written the other files already.
  const made = options.noDowns ? null : await missingDowns(root, options, env, project.histories);
  const downs = made && { written: made.written, kept: made.kept };

  const files: InitFile[] = [];
  // what this init made, undone if a later write fails: a refused init leaves the project as it was
  const undo: Undo[] = [];
  const put = (rel: string, text: string, note?: string) => files.push(writeIfAbsent(root, rel, text, undo, note));
  const vars: Record<string, string> = {
    VERSION: sluiceVersion(),
    PG_URL: COMPOSE_URL,
    SQLITE_URL: sqliteUrl(raw, project.histories.sqlite ? raw?.dialect : undefined),
    PROJECT: pkg.json?.name ?? path.basename(root),
    COMPOSE_NAME: composeName(pkg.json?.name ?? path.basename(root)),
    ENV_NOTE: envVar && envVar !== 'DATABASE_URL' ? `\n# ${path.relative(root, configFile)} reads ${envVar}: give it the same value as DATABASE_URL.\n# ${envVar}=` : '',
    ...ciVars(root, dialects, commands),
  };

  let scripts: InitResult['scripts'];
  let included = true;
  const makefile = ['GNUmakefile', 'makefile', 'Makefile'].find((m) => existsSync(path.join(root, m)));
  try {
    // The Make include, and a Makefile that includes it when the project has none.
    const mk = render(template('sluice.mk'), vars, flags);
    put('sluice.mk', mk);
    if (!makefile) put('Makefile', render(template('Makefile'), vars, flags), 'includes sluice.mk');
    else {
      const own = readFileSync(path.join(root, makefile), 'utf8');
      included = /^\s*-?include\s+(.*\s)?sluice\.mk(\s|$)/m.test(own);
      // targets of its own with sluice.mk's names: make runs whichever recipe it reads last, saying only
      // "overriding recipe" (a hunt: the include appended, the project's own db-up replaced by sluice's)
      const mine = new Set(makeTargets(own));
      const same = makeTargets(mk).filter((t) => mine.has(t));
      const clash = same.length ? `; it has targets of sluice.mk's names (${same.join(', ')}): make runs the recipe it reads last, so put the include above them to keep yours, or rename them` : '';
      files.push({ path: makefile, status: 'kept', note: `${included ? 'it includes sluice.mk already' : 'add this line to it: include sluice.mk'}${clash}` });
    }

    scripts = addScripts(pkg, npmScripts(commands), undo);
    if (pkg.json === undefined) files.push({ path: 'package.json', status: 'skipped', note: 'no package.json in the project folder; no npm scripts added' });

    put('.env.example', render(template('env.example'), vars, flags));
    if (dialects.includes('postgresql')) put(path.join('docker', 'compose.yml'), render(template('compose.yml'), vars, flags), 'a dev PostgreSQL: make db-up');
    else files.push({ path: path.join('docker', 'compose.yml'), status: 'skipped', note: 'the config has no PostgreSQL dialect' });
    put(workflowPath(root), render(template('workflow.yml'), vars, flags), `db-test on ${dialects.map(dialectName).join(' and ')} in CI`);
  } catch (err) {
    const stuck: string[] = [];
    for (const step of undo.reverse()) {
      try {
        step.run();
      } catch {
        stuck.push(step.what);
      }
    }
    if (!(err instanceof ConfigError) && typeof (err as NodeJS.ErrnoException | null)?.code !== 'string') throw err; // a defect, not the project's
    const kept = downs?.written.length ? `; the ${downs.written.length} missing down(s) written before it are kept` : '';
    const back = stuck.length ? `init could not put back ${stuck.join(', ')} (restore ${stuck.length === 1 ? 'it' : 'them'} by hand, e.g. from version control)` : 'init put back what it had written';
    throw new ConfigError(`${describeCause(err)}; ${back}${kept}: fix that, then run sluice init again`, { cause: err });
  }

  const makeTarget = (t: string) => `make ${t}`;
  const next = [
    ...(included ? [] : [`add the line "include sluice.mk" to ${makefile}`]),
    ...(existsSync(path.join(root, '.env')) ? [] : ['cp .env.example .env   (then adjust DATABASE_URL)']),
    ...(dialects.includes('postgresql') ? [`${makeTarget('db-up')}   a dev PostgreSQL, if you need one`] : []),
    `${makeTarget('migrate-status')}   where the database stands${commands.has('takeover') ? " (a database drizzle's migrator manages is taken over on the first migrate-up)" : ''}`,
    `${makeTarget('db-test')}   every revision up and down on a scratch database`,
    'add to .gitignore: .env  .sluice/  *.sluice-lock*',
  ];
  return { root, config: path.relative(root, configFile), dialects, files, scripts, downs, notes, next, ...(made?.notRemoved ? { notRemoved: made.notRemoved } : {}) };
}

/** The optional commands whose modules are installed beside this one (the library's default). */
function detectCommands(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const ext = path.extname(fileURLToPath(import.meta.url));
  return Object.entries(OPTIONAL_COMMANDS)
    .filter(([, file]) => existsSync(path.join(here, file.replace(/\.js$/, ext))))
    .map(([command]) => command);
}

/** The targets a Makefile gives recipes to (`name:` or `a b:` at a line's start; not `name := value`). */
function makeTargets(text: string): string[] {
  return [...text.matchAll(/^([A-Za-z0-9_.-]+(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*::?(?!=)/gm)].flatMap((m) => m[1]!.split(/[ \t]+/)).filter((t) => !t.startsWith('.'));
}

function template(name: string): string {
  return readFileSync(path.join(TEMPLATES, name), 'utf8');
}

/**
 * The templates' little language: `{{NAME}}` is replaced by its value (a line that is only an empty
 * `{{NAME}}` disappears); `#@if flag` / `#@if !flag` … `#@end` keep their lines only when the flag is
 * set (not set). The marker lines are comments in every file type used (Make, YAML, .env).
 */
export function render(text: string, vars: Record<string, string>, flags: ReadonlySet<string>): string {
  const out: string[] = [];
  const keep: boolean[] = [];
  for (const line of text.split('\n')) {
    const cond = /^\s*#@if\s+(!?)([\w-]+)\s*$/.exec(line);
    if (cond) {
      keep.push(flags.has(cond[2]!) !== (cond[1] === '!'));
      continue;
    }
    if (/^\s*#@end\s*$/.test(line)) {
      if (!keep.length) throw new Error('#@end without #@if in a template');
      keep.pop();
      continue;
    }
    if (!keep.every(Boolean)) continue;
    const only = /^\{\{(\w+)\}\}$/.exec(line.trim());
    if (only && vars[only[1]!] === '') continue;
    out.push(
      line.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
        if (!(name in vars)) throw new Error(`template variable ${name} has no value`);
        return vars[name]!;
      }),
    );
  }
  if (keep.length) throw new Error('unterminated #@if in a template');
  return out.join('\n');
}

async function missingDowns(
  root: string,
  options: InitOptions,
  env: Record<string, string | undefined>,
  histories: Partial<Record<DialectName, HistoryConfig>>,
): Promise<(NonNullable<InitResult['downs']> & Pick<InitResult, 'notRemoved'>) | null> {
  const all = Object.values(histories);
  if (!all.length || !all.every((h) => existsSync(path.join(h.out, 'meta', '_journal.json')))) return null;
  const result = await writeMissingDowns({ cwd: root, env, config: options.config });
  return { written: result.written.map((w) => w.downFile), kept: result.kept.length, ...(result.notRemoved ? { notRemoved: result.notRemoved } : {}) };
}

/** drizzle.config.ts's default export as loaded (for its dbCredentials), or undefined when it cannot be read. */
async function rawConfig(configFile: string): Promise<{ dialect?: string; dbCredentials?: { url?: unknown } } | undefined> {
  try {
    const mod = /\.m?ts$/.test(configFile)
      ? ((await (await import('tsx/esm/api')).tsImport(pathToFileURL(configFile).href, import.meta.url)) as { default?: unknown })
      : ((await import(pathToFileURL(configFile).href)) as { default?: unknown });
    let def = mod.default as { default?: unknown; dialect?: string } | undefined;
    if (def && def.default && !def.dialect) def = def.default as typeof def;
    return def as { dialect?: string; dbCredentials?: { url?: unknown } } | undefined;
  } catch {
    return undefined;
  }
}

/** The environment variable drizzle.config.ts's dbCredentials url reads, when it reads one. */
function urlVariable(configFile: string): string | undefined {
  const text = readFileSync(configFile, 'utf8');
  const m = /url\s*:\s*(?:String\()?\s*process\.env(?:\.([A-Za-z_]\w*)|\[\s*['"]([^'"]+)['"]\s*\])/.exec(text);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** DATABASE_URL for a SQLite project: the config's file when it names one, else sluice's default. */
function sqliteUrl(raw: Awaited<ReturnType<typeof rawConfig>>, dialect: string | undefined): string {
  return sqliteFileUrl(dialect, raw?.dbCredentials?.url) ?? 'file:./db.sqlite';
}

function composeName(name: string): string {
  const slug = name.toLowerCase().replace(/^@/, '').replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+|[-_]+$/g, '');
  return `${slug || 'app'}-dev`;
}

function dialectName(d: DialectName): string {
  return d === 'postgresql' ? 'PostgreSQL' : 'SQLite';
}

/** The CI workflow's install and run lines, for the package manager the project uses. */
/**
 * The git repository the project folder is in (the nearest folder above it, or itself, holding `.git`),
 * or undefined outside one. GitHub reads workflows from the repository's root only.
 */
export function repositoryRoot(root: string): string | undefined {
  for (let dir = path.resolve(root); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, '.git'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Where the workflow goes, relative to the project folder: the repository's .github/workflows (a monorepo's package: its own file there). */
export function workflowPath(root: string): string {
  const repo = repositoryRoot(root);
  const sub = repo ? path.relative(repo, path.resolve(root)) : '';
  if (!repo || !sub) return path.join('.github', 'workflows', 'sluice.yml');
  return path.join(path.relative(path.resolve(root), repo), '.github', 'workflows', `sluice-${sub.split(path.sep).join('-').replace(/[^A-Za-z0-9._-]/g, '_')}.yml`);
}

/** pnpm's major version for pnpm/action-setup when package.json names none (`packageManager`): from the lock file's format. */
function pnpmVersion(lock: string): string {
  const v = /^lockfileVersion:\s*['"]?(\d+)/m.exec(readFileSync(lock, 'utf8'))?.[1];
  return v === '5' ? '7' : v === '6' ? '8' : '9';
}

function ciVars(root: string, dialects: DialectName[], commands: Set<string>): Record<string, string> {
  // a monorepo's package: the lock file may be the workspace's, above the project folder (a hunt: the
  // workflow went into the package's own .github, which GitHub never reads, and used npm install)
  const repo = repositoryRoot(root);
  const folders: string[] = [];
  for (let dir = path.resolve(root); ; dir = path.dirname(dir)) {
    folders.push(dir);
    if (!repo || dir === repo || path.dirname(dir) === dir) break;
  }
  const lockOf = (f: string) => folders.map((d) => path.join(d, f)).find((x) => existsSync(x));
  const has = (f: string) => !!lockOf(f);
  const sub = repo ? path.relative(repo, path.resolve(root)).split(path.sep).join('/') : '';
  // the lock file, from the repository's root, where it is not there (setup-node's cache looks there)
  const cachePath = (f: string) => {
    const lock = lockOf(f);
    return repo && lock && path.dirname(lock) !== repo ? [`          cache-dependency-path: ${path.relative(repo, lock).split(path.sep).join('/')}`] : [];
  };
  const node = ['      - uses: actions/setup-node@v4', '        with:', '          node-version: 20'];
  let setup: string[];
  let run: string;
  if (has('pnpm-lock.yaml')) {
    const lock = lockOf('pnpm-lock.yaml')!;
    // pnpm/action-setup stops without a version when package.json has no packageManager (a hunt)
    const named = folders.some((d) => {
      try {
        return /"packageManager"\s*:\s*"pnpm@/.test(readFileSync(path.join(d, 'package.json'), 'utf8'));
      } catch {
        return false;
      }
    });
    const action = named ? ['      - uses: pnpm/action-setup@v4'] : ['      - uses: pnpm/action-setup@v4', '        with:', `          version: ${pnpmVersion(lock)}`];
    setup = [...action, ...node, '          cache: pnpm', ...cachePath('pnpm-lock.yaml'), '      - run: pnpm install --frozen-lockfile'];
    run = 'pnpm exec sluice';
  } else if (has('yarn.lock')) {
    setup = [...node, '          cache: yarn', ...cachePath('yarn.lock'), '      - run: yarn install --frozen-lockfile'];
    run = 'yarn sluice';
  } else if (has('package-lock.json') || has('npm-shrinkwrap.json')) {
    setup = [...node, '          cache: npm', ...cachePath(has('package-lock.json') ? 'package-lock.json' : 'npm-shrinkwrap.json'), '      - run: npm ci'];
    run = 'npx --no-install sluice';
  } else {
    setup = [...node, '      - run: npm install'];
    run = 'npx --no-install sluice';
  }
  const extra: string[] = [];
  if (commands.has('verify')) extra.push('      - name: migrate-check', `        run: ${run} verify`);
  if (commands.has('lint')) extra.push('      - name: migrate-lint', `        run: ${run} lint`);
  return {
    SETUP_STEPS: setup.join('\n'),
    RUN: run,
    EXTRA_STEPS: extra.join('\n'),
    // a package of a repository: its steps run in its folder
    DEFAULTS: sub ? `\ndefaults:\n  run:\n    working-directory: ${sub}\n` : '',
    PG_JOB_NAME: dialects.includes('sqlite') ? 'db-test (SQLite and PostgreSQL)' : 'db-test (PostgreSQL)',
  };
}

function sluiceVersion(): string {
  try {
    return (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** For tests and tools: the files init may write, relative to the project folder. */
export const INIT_FILES = ['sluice.mk', 'Makefile', '.env.example', path.join('docker', 'compose.yml'), path.join('.github', 'workflows', 'sluice.yml')];
