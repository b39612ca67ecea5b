/**
 * Configuration: `.env`, DATABASE_URL, DATABASE_SCHEMA and the project's drizzle.config.ts.
 * Turning these into typed settings is pure (tested without a database); loading the TypeScript
 * config is the only I/O here.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { markUsed, pruneCacheFiles, sluiceCacheDir, writeAtomically } from './cachedir.js';
import { cacheName, sha256 } from './hash.js';
import { importJavaScriptConfig, importJsonConfig, importTypeScriptConfig, type LoadedConfig } from './configimport.js';
import { inputsHold, inputsOf, recordingEnv, type ConfigInputs } from './configrecord.js';
import { ConfigError, describeCause } from './errors.js';
import { displayUrl, parsePgUrl, passwordForms } from './pgconn.js';
import { plainIdentifier } from './sql.js';
// node-postgres's URL parser, bundled into the CLI (scripts/bundle-cli.mjs): required from node_modules
// when a PostgreSQL URL was first read, it cost those commands ~4 ms of resolving and loading.
import pgConnectionString from 'pg-connection-string';
import { withoutBom } from './bom.js';

export type DialectName = 'sqlite' | 'postgresql';
/** How a SQLite file is opened: SQLite itself (better-sqlite3), or libSQL, the fork drizzle's "turso" dialect writes SQL for. */
export type SqliteEngine = 'sqlite' | 'libsql';

export interface DatabaseTarget {
  dialect: DialectName;
  /** SQLite: absolute file path. */
  file?: string;
  /** PostgreSQL: the connection URL as given. */
  url?: string;
  /** PostgreSQL: the schema everything lives in. */
  schema?: string;
  /** PostgreSQL: schemas searched after `schema` for unqualified names (DATABASE_SEARCH_PATH). */
  lookup?: string[];
  /** SQLite: the engine that opens the file; `libsql` for drizzle's "turso" dialect (its SQL needs libSQL). */
  engine?: SqliteEngine;
  /** For messages: the URL rebuilt with any password (userinfo or `?password=`) as `***`. */
  display: string;
  /** Strings that must never be printed: every form of the password (raw, percent-decoded). */
  secrets: string[];
}

export const DEFAULT_SQLITE_FILE = './db.sqlite';
export const DEFAULT_SCHEMA = 'public';

/** DATABASE_SEARCH_PATH's schemas (each a plain identifier), less `schema` itself. */
export function lookupSchemas(env: Record<string, string | undefined>, schema?: string): string[] {
  return (env.DATABASE_SEARCH_PATH ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x && x !== schema)
    .map((x) => plainIdentifier(x, 'DATABASE_SEARCH_PATH entry'));
}

/** Parse DATABASE_URL / DATABASE_SCHEMA into a database target. Unset → the SQLite file ./db.sqlite. */
/** The database DATABASE_URL names; a SQLite one opened with `engine` (the history's: libsql for dialect "turso"). */
export function parseDatabaseTarget(env: Record<string, string | undefined>, root: string, engine?: SqliteEngine): DatabaseTarget {
  const target = targetOf(env, root);
  return engine && target.dialect === 'sqlite' ? { ...target, engine } : target;
}

function targetOf(env: Record<string, string | undefined>, root: string): DatabaseTarget {
  const raw = (env.DATABASE_URL ?? '').trim();
  // Set but empty is a mistake, not "unset": a CI secret that is not defined (`DATABASE_URL: ${{ secrets.DB }}`)
  // gives an empty value, which also keeps .env's line from applying (was: the local ./db.sqlite
  // migrated, "applied", exit 0, in a pipeline that meant its database).
  if (raw === '' && env.DATABASE_URL !== undefined) {
    throw new ConfigError(`DATABASE_URL is set but empty (a CI secret that is not defined, or an empty DATABASE_URL= line); set it to your database's URL, or unset it to use the local SQLite file ${DEFAULT_SQLITE_FILE}`);
  }
  if (raw === '') return sqliteTarget(DEFAULT_SQLITE_FILE, root);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === 'file' || scheme === 'sqlite') {
    const rest = sqlitePathOf(scheme, raw);
    if (rest === '') throw new ConfigError('DATABASE_URL names no SQLite file; use file:./db.sqlite or sqlite:/abs/path.db');
    // `file:./dev.db?connection_limit=1` (Prisma's form) would otherwise make a file named with the options
    const query = rest.indexOf('?');
    if (query >= 0) throw new ConfigError(`DATABASE_URL ${scheme}:${rest.slice(0, query)}?… has options after "?", which sluice does not read for SQLite; remove everything from the "?"`);
    return sqliteTarget(rest, root);
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    // Never quote `raw` in a message: it may hold a password. `display` is rebuilt with the password
    // as ***, `secrets` lists every form of it for the printer (src/pgconn.ts).
    const parts = parsePgUrl(raw, 'DATABASE_URL');
    if (!parts.host) {
      throw new ConfigError('DATABASE_URL has no host; expected postgres://user:password@host:5432/dbname');
    }
    // node-postgres's own URL parser throws on some broken percent-escapes (URI malformed): say so here.
    try {
      pgConnectionString.parse(raw);
    } catch {
      throw new ConfigError('DATABASE_URL has a malformed percent-escape (in the user, password or database name); write a literal % as %25');
    }
    const schema = plainIdentifier((env.DATABASE_SCHEMA ?? '').trim() || DEFAULT_SCHEMA, 'DATABASE_SCHEMA');
    const lookup = lookupSchemas(env, schema);
    return { dialect: 'postgresql', url: raw, schema, ...(lookup.length ? { lookup } : {}), display: displayUrl(raw), secrets: passwordForms(raw) };
  }
  // Nor any of it here but a scheme: a URL in quotes or with a mistyped scheme (`postgres//`) holds the
  // password a few characters in (was: its first 20 characters shown, the password's start with them).
  const use = `use postgres://user:password@host:5432/db, file:./path.sqlite, or leave it unset for ${DEFAULT_SQLITE_FILE}`;
  if (/^["'`]|["'`]$/.test(raw)) throw new ConfigError(`DATABASE_URL is wrapped in quotes (a CI secret or an environment file written with them); remove them: ${use}`);
  const name = /^([A-Z_][A-Z0-9_]*)=/i.exec(raw)?.[1];
  if (name) throw new ConfigError(`DATABASE_URL holds "${name}=…", an assignment; set it to the URL alone: ${use}`);
  throw new ConfigError(`DATABASE_URL ${scheme ? `"${scheme}:…" is not supported` : 'does not start with a scheme (postgres://, file:)'}; ${use}`);
}

/**
 * The file of a `file:` or `sqlite:` DATABASE_URL: `<scheme>:path` (relative to the project, or absolute),
 * or with an authority, `<scheme>://[localhost]/abs/path` (RFC 8089). A host other than localhost is
 * refused: `sqlite://app.db` and `file://data/app.db` read as URLs name `/` and `/app.db`, at the root of
 * the filesystem (a hunt: the whole history applied to a new `/app.db`, exit 0, the app's database
 * untouched). So is `sqlite:///app.db`, which SQLAlchemy (Alembic's) reads as `./app.db` and a URL as
 * `/app.db`; `sqlite:////abs/path.db` is absolute for both, and `file:///abs/path.db` (libSQL's form) too.
 */
function sqlitePathOf(scheme: string, raw: string): string {
  const rest = raw.slice(scheme.length + 1);
  if (!rest.startsWith('//')) return rest;
  const end = rest.indexOf('/', 2);
  const host = rest.slice(2, end < 0 ? rest.length : end);
  const tail = end < 0 ? '' : rest.slice(end);
  if (host !== '' && host.toLowerCase() !== 'localhost') {
    throw new ConfigError(
      `DATABASE_URL ${scheme}://${host}… has "${host}" where a URL's host goes, so it would name ${tail || '/'} at the root of the filesystem; write ${scheme}:./${host}${tail} for a file in the project, or ${scheme}:/absolute/path.db`,
    );
  }
  if (scheme === 'sqlite' && host === '' && /^\/[^/]/.test(tail)) {
    throw new ConfigError(
      `DATABASE_URL sqlite:///${tail.slice(1)} is a relative path to SQLAlchemy (./${tail.slice(1)}) and an absolute one as a URL (${tail}); write sqlite:./${tail.slice(1)} or sqlite:${tail}`,
    );
  }
  return tail.replace(/^\/{2,}/, '/');
}

function sqliteTarget(file: string, root: string): DatabaseTarget {
  const abs = path.resolve(root, file);
  return { dialect: 'sqlite', file: abs, display: `sqlite:${path.relative(root, abs) || abs}`, secrets: [] };
}

/**
 * Variables this process took from a project's `.env`, with the value set and the project: a library
 * call for another project (apps, tests: several in one process) must not read them as if they had
 * been set by the environment ("variables already set win" would then migrate the first project's
 * database). Before another project's `.env` is read, those still holding the value sluice set go.
 */
const fromDotEnv = new Map<string, { root: string; value: string }>();

/** Read `.env` into the environment if present (variables already set win, as with dotenv). */
export function loadDotEnv(root: string): void {
  for (const [k, v] of fromDotEnv) {
    if (v.root === root) continue;
    if (process.env[k] === v.value) delete process.env[k];
    fromDotEnv.delete(k);
  }
  const file = path.join(root, '.env');
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st) return;
  // A folder or a pipe named .env is no settings file (reading a pipe would wait forever); an unreadable
  // one is named as such (Node.js reports it as missing).
  if (!st.isFile()) throw new ConfigError(`${file} is not a file; remove it or put the settings in a file named .env`);
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: permission denied; give the user running sluice access to it`, { cause: err });
  }
  let parsed: NodeJS.Dict<string>;
  try {
    // Node.js's own parser (process.loadEnvFile's), on the text without a byte order mark: an editor's
    // BOM made the first name "\uFEFFDATABASE_URL", so DATABASE_URL was unset and the default
    // ./db.sqlite migrated instead, exit 0 (a hunt; dotenv, which a config imports, reads it)
    parsed = parseEnv(withoutBom(readFileSync(file, 'utf8')));
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${describeCause(err)}; fix the file or remove it`, { cause: err });
  }
  for (const [k, v] of Object.entries(parsed)) {
    if (v === undefined || k in process.env) continue; // variables already set win
    process.env[k] = v;
    fromDotEnv.set(k, { root, value: v });
  }
}

export interface HistoryConfig {
  /** Migration folder, absolute. */
  out: string;
  /** Models (drizzle schema) path as configured, relative to the root; absent in a config only for migrating (modelsPath). */
  schema?: string;
  /** drizzle's own migrations table, as drizzle-kit's `migrations: { table, schema }` configures it (takeover reads it). */
  migrations?: { table?: string; schema?: string };
  /** SQLite histories: `libsql` when the config says dialect "turso" (drizzle-kit then writes libSQL's `ALTER COLUMN … TO`). */
  engine?: SqliteEngine;
  /** drizzle-kit's `casing`: the models check builds its snapshot with it, as drizzle-kit generate does. */
  casing?: 'snake_case' | 'camelCase';
}

export interface ProjectConfig {
  root: string;
  /** drizzle.config.ts, absolute. */
  configFile: string;
  /** One history per dialect the project keeps. */
  histories: Partial<Record<DialectName, HistoryConfig>>;
  /** True when the config lists several dialects (generation sets SLUICE_DIALECT per dialect). */
  multiDialect: boolean;
  /** migrate-lint settings: the config's `export const lint = { skip: [...], include: [...] }`. */
  lint: LintConfig;
  /** The SQLite file the default export's `dbCredentials.url` names (`file:<path>`): the database when DATABASE_URL is unset. */
  sqliteUrl?: string;
  /** What the default export's SQLite database is when sluice cannot open it (sqliteUrlUnusable): DATABASE_URL must then be set. */
  sqliteUnusable?: string;
  /**
   * Several dialects: whether loading the config read SLUICE_DIALECT, which migrate-create sets for each
   * dialect's drizzle-kit run (false: its default export names one dialect whatever it is; undefined: not known).
   */
  followsDialect?: boolean;
}

export interface LintConfig {
  /** Rules never reported. */
  skip: string[];
  /** Rules reported although sluice skips them by default (or squawk's opt-in rules). */
  include: string[];
}

// drizzle-kit 0.31's order (ts, js, json), then the two it does not look for: a project with
// drizzle.config.mjs and drizzle.config.json had sluice read the one, drizzle-kit the other (a hunt)
const CONFIG_NAMES = ['drizzle.config.ts', 'drizzle.config.js', 'drizzle.config.json', 'drizzle.config.mts', 'drizzle.config.mjs'];

export function findConfigFile(root: string, explicit?: string): string {
  if (explicit) {
    const abs = path.resolve(root, explicit);
    if (!existsSync(abs)) throw new ConfigError(`config file ${explicit} does not exist; pass the path of your drizzle.config.ts`);
    // a folder or a pipe would fail obscurely or wait forever
    if (!statSync(abs).isFile()) throw new ConfigError(`config file ${explicit} is not a file; pass the path of your drizzle.config.ts`);
    return abs;
  }
  for (const name of CONFIG_NAMES) {
    const abs = path.join(root, name);
    if (existsSync(abs)) return abs;
  }
  // was: "no drizzle.config.ts in <root>" for a folder that is not there (a mistyped -C)
  if (!existsSync(root)) throw new ConfigError(`the folder ${root} does not exist; pass the project folder to -C / --cwd, or run sluice from it`);
  throw new ConfigError(`no drizzle.config.ts in ${root}; run sluice from the project folder or pass --config`);
}

interface RawConfig {
  dialect?: string;
  out?: string;
  schema?: string | string[];
  migrations?: { table?: unknown; schema?: unknown };
  casing?: unknown;
  dbCredentials?: { url?: unknown };
  /** pick's copy of a local SQLite dbCredentials.url (sqliteFileUrl): never anything else of dbCredentials, which may hold a password. */
  sqliteUrl?: string;
  /** pick's description of a SQLite database sluice cannot open (sqliteUrlUnusable), never the URL itself. */
  sqliteUnusable?: string;
  driver?: unknown;
}

/**
 * What a SQLite config's database is when sluice cannot open it: a server (libSQL, HTTP, Cloudflare's
 * D1 through `driver`), `:memory:`, or a file URL with options. With DATABASE_URL unset such a config
 * is refused (found by a hunt: `file:./data.db?mode=rwc`, `libsql://…` and `driver: 'd1-http'` each
 * migrated ./db.sqlite instead, exit 0). Never the URL itself: it may carry a token.
 */
export function sqliteUrlUnusable(dialect: unknown, url: unknown, driver: unknown): string | undefined {
  if (dialect !== 'sqlite' && dialect !== 'turso') return undefined;
  if (typeof driver === 'string' && driver) return `a database through driver "${driver}"`;
  if (typeof url !== 'string' || !url.trim() || sqliteFileUrl(dialect, url)) return undefined;
  const u = url.trim();
  if (/^(?:(?:file|sqlite):)?:memory:/i.test(u)) return undefined; // no database to keep: ./db.sqlite, as README says
  if (/^[a-z][a-z0-9+.-]*:\/\/(?!\/)|^(libsql|wss?|https?):/i.test(u)) return 'a database server (libSQL or HTTP)';
  return 'a file URL with options after "?"';
}

/**
 * A SQLite config's `dbCredentials.url` as DATABASE_URL would say it (`file:<path>`), when it names a
 * local file: not `:memory:`, a libSQL or HTTP server (whose URL may carry a token), or a URL with options.
 */
export function sqliteFileUrl(dialect: unknown, url: unknown): string | undefined {
  if ((dialect !== 'sqlite' && dialect !== 'turso') || typeof url !== 'string') return undefined;
  const u = url.trim();
  if (!u || u.includes('?') || /^[a-z][a-z0-9+.-]*:\/\/(?!\/)|^(libsql|wss?|https?):/i.test(u)) return undefined;
  const file = u.replace(/^(file|sqlite):(\/\/(?=\/))?/i, '');
  if (!file || file === ':memory:') return undefined;
  return `file:${file.startsWith('/') || file.startsWith('.') ? file : `./${file}`}`;
}

/**
 * The database a command acts on: DATABASE_URL's, or, when it is unset, the SQLite file the config's
 * `dbCredentials.url` names, as drizzle-kit's own commands would use (was: ./db.sqlite whatever the
 * config said, so `up` migrated a new empty file beside the app's database; found by a hunt).
 */
/** The config names a database sluice cannot open, and DATABASE_URL is unset (projectDatabaseTarget). */
export class UnopenableDatabase extends ConfigError {}

export function projectDatabaseTarget(env: Record<string, string | undefined>, root: string, project: ProjectConfig, engine?: SqliteEngine): DatabaseTarget {
  if (env.DATABASE_URL === undefined && project.sqliteUrl) return parseDatabaseTarget({ ...env, DATABASE_URL: project.sqliteUrl }, root, engine);
  if (env.DATABASE_URL === undefined && project.sqliteUnusable) {
    throw new UnopenableDatabase(
      `DATABASE_URL is not set, and ${path.relative(root, project.configFile)}'s dbCredentials names ${project.sqliteUnusable}, which sluice cannot open (it migrates local SQLite files and PostgreSQL); set DATABASE_URL to the database to migrate (file:<path> for a SQLite file); nothing was changed`,
    );
  }
  return parseDatabaseTarget(env, root, engine);
}

/**
 * Load drizzle.config.ts (TypeScript through tsx) and describe the histories it names. Compiling the
 * config costs ~200 ms, so the description is cached in the nearest node_modules/.cache/sluice/, named by
 * the config file's path, size, mtime and ctime and by the values of the environment variables its text names
 * (`process.env.X`), and used only while what the config depended on when it loaded is unchanged: the
 * values of every variable read meanwhile and the project files it imported (src/configrecord.ts).
 * SLUICE_NO_CONFIG_CACHE=1 bypasses the cache.
 */
export async function loadProjectConfig(root: string, explicit?: string): Promise<ProjectConfig> {
  const configFile = findConfigFile(root, explicit);
  const cache = configCache(root, configFile);
  const hit = cache?.read();
  if (hit) {
    try {
      return withDialectFollowing(describeConfig(root, configFile, hit), hit.default ? (hit as { inputs?: ConfigInputs }).inputs?.envNames : undefined);
    } catch {
      // only a config that describes is cached: an entry that does not was damaged, and is ignored
    }
  }
  // the config runs with process.env watched; what it returns is copied while still watched (a getter
  // on the exports may read a variable too)
  const loader = process.env.SLUICE_CONFIG_LOADER; // sluice's own setting, read before the watch
  // A config loaded before in this process is partly served from Node.js's module cache (its packages,
  // and in a CommonJS project its own files): what that code read is not seen again, so only a first
  // load is recorded for the cache.
  const first = !loadedHere.has(configFile);
  loadedHere.add(configFile);
  const loadStart = Date.now();
  const recorded = await recordingEnv(async () => {
    const { mod, files } = await importConfig(root, configFile, loader);
    let copy: ConfigModule | undefined;
    try {
      // only what describeConfig reads: a dialect entry may hold dbCredentials (a password)
      const dialects = mod.dialects && typeof mod.dialects === 'object' ? Object.fromEntries(Object.entries(mod.dialects).map(([k, v]) => [k, pick(v)])) : mod.dialects;
      copy = JSON.parse(JSON.stringify({ dialects, default: pick(mod.default), lint: mod.lint })) as ConfigModule;
    } catch {
      /* exports JSON cannot hold: described from the module, not cached */
    }
    return { mod, files, copy };
  });
  const { mod, files, copy } = recorded.value;
  const described = describeConfig(root, configFile, mod);
  const inputs = first && copy && files && !recorded.opaque && !files.some(readsEnvUnseen) ? inputsOf(recorded.names, files, loadStart) : undefined;
  if (copy && inputs) cache?.write(copy, inputs);
  // (a config with no default export gives drizzle-kit nothing to read: its own error says so)
  return withDialectFollowing(described, mod.default && first && files && !recorded.opaque && !files.some(readsEnvUnseen) ? recorded.names : undefined);
}

/** ProjectConfig.followsDialect, from the variables the config's load read (undefined names: not known). */
function withDialectFollowing(config: ProjectConfig, names: readonly string[] | undefined): ProjectConfig {
  return config.multiDialect && names ? { ...config, followsDialect: names.includes('SLUICE_DIALECT') } : config;
}

/** Config files loaded by this process. */
const loadedHere = new Set<string>();

/** An imported project file that takes `env` from node:process as a binding: its reads bypass the watch on process.env. */
function readsEnvUnseen(file: string): boolean {
  try {
    return PROCESS_MODULE.test(readFileSync(file, 'utf8'));
  } catch {
    return true;
  }
}

type ConfigModule = { default?: unknown; dialects?: Record<string, RawConfig>; lint?: unknown };

/** Config cache entries kept per cache folder, the most recently used (each edit of the config or value of a variable it reads makes one). */
export const CONFIG_CACHE_ENTRIES = 32;

/** The variables a config reads by literal name: `env.X`, `env['X']`, `env["X"]` (process.env, or an env object built from it). */
const NAMES = /env\.([A-Za-z_][A-Za-z0-9_]*)|env\[(['"])([^'"\n]+)\2\]/g;

/**
 * A config that reaches process.env other than by a literal name, exactly as NAMES reads them
 * (`const { X } = process.env`, `process.env[name]`, a template or a sum between the brackets,
 * `{ ...process.env }`, `env` imported from node:process): the variables it reads
 * cannot be known from its text, so its description is not cached (a cached one could belong to
 * another value of DATABASE_URL).
 */
const UNKNOWN_ENV = /process\.env(?!\.[A-Za-z_][A-Za-z0-9_]*|\[(['"])[^'"\n]+\1\])|(?:import|export)\s+(?:[\w$]+\s*,\s*)?(?:\{[^}]*\benv\b[^}]*\}|\*\s*as\s+[\w$]+)\s*from\s*['"](?:node:)?process['"]|import\(\s*['"](?:node:)?process['"]\s*\)/;
/**
 * `env` taken from node:process as an ES module binding (`import { env }`, a namespace import, a
 * dynamic import): Node.js's copy of the value process.env had when node:process was first imported,
 * which the watch on process.env does not see. The default import and `require('node:process')` are
 * the process object itself, whose `env` is read live.
 */
const PROCESS_MODULE = /(?:import|export)\s+(?:[\w$]+\s*,\s*)?(?:\{[^}]*\benv\b[^}]*\}|\*\s*as\s+[\w$]+)\s*from\s*['"](?:node:)?process['"]|import\(\s*['"](?:node:)?process['"]\s*\)/;

function configCache(root: string, configFile: string) {
  if (process.env.SLUICE_NO_CONFIG_CACHE === '1') return undefined;
  let key: string;
  let name: string;
  try {
    const st = statSync(configFile);
    const text = readFileSync(configFile, 'utf8');
    if (UNKNOWN_ENV.test(text)) return undefined;
    const names = [...new Set([...text.matchAll(NAMES)].map((m) => m[1] ?? m[3]!))].sort();
    const plain = JSON.stringify(['v9', configFile, st.size, st.mtimeMs, st.ctimeMs, names]);
    // The values of the variables the config reads may be secrets (a password in DATABASE_URL, a
    // token): they enter the key only through SHA-256, never as text on disk. A config that reads
    // none is keyed by its text, named by a 64-bit hash (no node:crypto to load).
    key = names.length ? sha256(plain, '\0', JSON.stringify(names.map((n) => process.env[n] ?? null))) : plain;
    name = names.length ? key.slice(0, 32) : cacheName(key);
  } catch {
    return undefined;
  }
  // the file holds its key, which read checks: a shared name is a miss
  const file = sluiceCacheDir(root, `config-${name}.json`);
  if (!file) return undefined;
  return {
    read(): ConfigModule | undefined {
      try {
        const cached = JSON.parse(readFileSync(file, 'utf8')) as ConfigModule & { key?: unknown; inputs?: unknown };
        if (cached.key !== key || !inputsHold(cached.inputs)) return undefined;
        markUsed(file);
        return cached;
      } catch {
        return undefined;
      }
    },
    write(copy: ConfigModule, inputs: ConfigInputs): void {
      try {
        const plain = { key, ...copy, inputs };
        writeAtomically(file, JSON.stringify(plain));
        pruneCacheFiles(path.dirname(file), /^config-[0-9a-f]+\.json$/, CONFIG_CACHE_ENTRIES, file);
      } catch {
        /* a cache that cannot be written is only slower */
      }
    },
  };
}

function pick(def: unknown): RawConfig | undefined {
  let d = def as (RawConfig & { default?: RawConfig }) | undefined;
  if (d && d.default && !d.dialect) d = d.default;
  if (!d) return undefined;
  const sqliteUrl = d.sqliteUrl ?? sqliteFileUrl(d.dialect, d.dbCredentials?.url);
  const sqliteUnusable = d.sqliteUnusable ?? sqliteUrlUnusable(d.dialect, d.dbCredentials?.url, d.driver);
  return {
    dialect: d.dialect,
    out: d.out,
    schema: d.schema,
    migrations: d.migrations,
    ...(casingOf(d.casing) ? { casing: d.casing } : {}),
    ...(sqliteUrl ? { sqliteUrl } : {}),
    ...(sqliteUnusable ? { sqliteUnusable } : {}),
  };
}

async function importConfig(root: string, configFile: string, loader: string | undefined): Promise<{ mod: ConfigModule; files: string[] | undefined }> {
  let loaded: LoadedConfig;
  try {
    loaded = /\.m?ts$/.test(configFile) ? await importTypeScriptConfig(configFile, loader) : /\.json$/i.test(configFile) ? importJsonConfig(configFile) : await importJavaScriptConfig(configFile);
  } catch (err) {
    throw new ConfigError(`cannot load ${path.relative(root, configFile)}: ${describeCause(err)}`, { cause: err });
  }
  return { mod: loaded.mod as ConfigModule, files: loaded.files };
}

/** Pure: the module's exports → ProjectConfig. */
export function describeConfig(
  root: string,
  configFile: string,
  mod: ConfigModule,
): ProjectConfig {
  const histories: ProjectConfig['histories'] = {};
  const rel = path.relative(root, configFile);
  const lint = lintOf(mod.lint, rel);
  if (mod.dialects && typeof mod.dialects === 'object') {
    // drizzle's migrations table: the dialect's own `migrations`, else the default export's.
    const shared = pick(mod.default)?.migrations;
    const casing = pick(mod.default)?.casing;
    for (const [name, entry] of Object.entries(mod.dialects)) {
      histories[dialectOf(name, rel)] = historyOf(root, { migrations: shared, casing, ...entry }, name);
    }
    // one folder per history: two dialects writing one folder would read each other's revisions (a hunt:
    // the PostgreSQL history pointed at the SQLite folder failed at its first backquote)
    const entries = Object.entries(histories);
    for (const [i, [d, h]] of entries.entries()) {
      const other = entries.slice(i + 1).find(([, o]) => o!.out === h!.out);
      if (other) throw new ConfigError(`${rel}: dialects ${d} and ${other[0]} both have out ${JSON.stringify(path.relative(root, h!.out) || '.')}; give each dialect a folder of its own`);
    }
    // drizzle-kit reads the default export: for the dialect it names, its folder must be the one
    // `dialects` gives (found by a hunt: up acted on one folder and migrate-create's drizzle-kit wrote
    // into another, leaving its files there, exit 2)
    const def = pick(mod.default);
    const shown = typeof def?.dialect === 'string' && (['sqlite', 'turso', 'postgresql', 'postgres'] as string[]).includes(def.dialect) ? dialectOf(def.dialect, rel) : undefined;
    const mine = shown ? histories[shown] : undefined;
    if (mine && typeof def?.out === 'string' && path.resolve(root, def.out) !== mine.out) {
      throw new ConfigError(
        `${rel}: the default export (what drizzle-kit reads) has out ${JSON.stringify(def.out)} for ${shown}, but dialects.${shown}.out is ${JSON.stringify(path.relative(root, mine.out) || '.')}: drizzle-kit and sluice would use different folders; make them the same (e.g. export default defineConfig({ dialect, ...dialects[dialect] }))`,
      );
    }
    const { sqliteUrl, sqliteUnusable } = pick(mod.default) ?? {};
    return {
      root,
      configFile,
      histories,
      multiDialect: Object.keys(histories).length > 1,
      lint,
      ...(sqliteUrl && histories.sqlite ? { sqliteUrl } : {}),
      ...(sqliteUnusable && histories.sqlite ? { sqliteUnusable } : {}),
    };
  }
  let def = mod.default as RawConfig & { default?: RawConfig };
  if (def && def.default && !def.dialect) def = def.default;
  if (!def || typeof def !== 'object' || !def.dialect) {
    throw new ConfigError(`${rel} has no default export with a dialect; export defineConfig({ dialect, schema, out })`);
  }
  histories[dialectOf(def.dialect, rel)] = historyOf(root, def, def.dialect);
  const { sqliteUrl, sqliteUnusable } = pick(def) ?? {};
  return { root, configFile, histories, multiDialect: false, lint, ...(sqliteUrl ? { sqliteUrl } : {}), ...(sqliteUnusable ? { sqliteUnusable } : {}) };
}

/** The config's `lint` export: lists of rule names. */
function lintOf(value: unknown, rel: string): LintConfig {
  if (value === undefined) return { skip: [], include: [] };
  const list = (key: 'skip' | 'include'): string[] => {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((r) => typeof r !== 'string' || !/^[a-z0-9-]+$/.test(r))) {
      throw new ConfigError(`${rel}: lint.${key} must be a list of rule names, e.g. export const lint = { ${key}: ['ban-drop-column'] }`);
    }
    return v as string[];
  };
  if (!value || typeof value !== 'object') throw new ConfigError(`${rel}: the lint export must be an object, e.g. export const lint = { skip: ['ban-drop-column'] }`);
  return { skip: list('skip'), include: list('include') };
}

function dialectOf(name: string, rel: string): DialectName {
  if (name === 'postgresql' || name === 'postgres') return 'postgresql';
  if (name === 'sqlite' || name === 'turso') return 'sqlite';
  throw new ConfigError(`${rel}: dialect "${name}" is not supported by sluice; use postgresql or sqlite`);
}

function historyOf(root: string, entry: RawConfig, dialect: string): HistoryConfig {
  const schema = Array.isArray(entry.schema) ? entry.schema.join(',') : entry.schema;
  const m = entry.migrations;
  const migrations =
    m && typeof m === 'object'
      ? { table: typeof m.table === 'string' && m.table ? m.table : undefined, schema: typeof m.schema === 'string' && m.schema ? m.schema : undefined }
      : undefined;
  const casing = casingOf(entry.casing);
  return { out: path.resolve(root, entry.out ?? 'drizzle'), ...(schema ? { schema } : {}), ...(migrations ? { migrations } : {}), ...(casing ? { casing } : {}), ...(dialect === 'turso' ? { engine: 'libsql' as const } : {}) };
}

/** drizzle-kit's `casing` (what the models' keys become as column names), when it is one drizzle-kit knows. */
function casingOf(value: unknown): 'snake_case' | 'camelCase' | undefined {
  return value === 'snake_case' || value === 'camelCase' ? value : undefined;
}

/**
 * The history's models path, for the commands that read the models (migrate-create, migrate-check's
 * models check, db-test's). A config only for migrating may have none, as `drizzle-kit migrate` needs
 * none (found by a hunt: status and up refused such a config).
 */
export function modelsPath(h: HistoryConfig, what: string): string {
  if (!h.schema) throw new ConfigError(`the config gives the history in ${path.relative(process.cwd(), h.out) || '.'} no schema (models) path, which ${what} reads; set schema: './path/to/models.ts'`);
  return h.schema;
}

export function historyFor(config: ProjectConfig, dialect: DialectName, env?: Record<string, string | undefined>): HistoryConfig {
  const h = config.histories[dialect];
  if (!h) {
    const have = Object.keys(config.histories).join(', ');
    if (env && env.DATABASE_URL === undefined) {
      // was: "DATABASE_URL points at sqlite", of a variable nobody had set
      throw new ConfigError(
        `DATABASE_URL is unset, so sluice would open the SQLite file ${DEFAULT_SQLITE_FILE}, but ${path.relative(config.root, config.configFile)} only configures ${have}; set DATABASE_URL (in the environment or .env) to your ${have} database`,
      );
    }
    throw new ConfigError(
      `DATABASE_URL points at ${dialect} but ${path.relative(config.root, config.configFile)} only configures ${have}; point DATABASE_URL at a ${have} database or add the dialect to the config`,
    );
  }
  return h;
}
