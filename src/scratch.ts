/**
 * Scratch databases for the down verification, with no set-up:
 *  - SQLite: a file in a temporary folder (the same engine and adapter as the real target);
 *  - PostgreSQL: a real server when the user names one (SLUICE_CHECK_DATABASE_URL: a scratch schema
 *    per database, or a scratch database per purpose when the history uses schemas of its own), else
 *    PGlite — PostgreSQL compiled to WASM, in this process — served on a loopback port, so sluice's
 *    own PostgreSQL adapter talks to it unchanged. One PGlite instance is one session (search_path is
 *    shared by its connections), so each purpose gets its own instance, in memory. Its initialised data
 *    folder is kept as a tar in node_modules/.cache/sluice/ (initdb takes ~5 s once; loading it, <1 s).
 * Everything is removed by close().
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lookupSchemas, parseDatabaseTarget, type DatabaseTarget, type DialectName, type SqliteEngine } from './config.js';
import { openConnection } from './dialect/index.js';
import type { Connection } from './dialect/types.js';
import { ConfigError, describeCause } from './errors.js';
import { sluiceCacheDir } from './cachedir.js';
import { nodeCrypto } from './hash.js';
import type { Revision } from './revision.js';
import { otherSchemasOf, readUp, type RevisionFile } from './source.js';
import { largeCodeLoads } from './jit.js';
import { quoteIdent } from './sql.js';

export interface ScratchDatabase {
  target: DatabaseTarget;
  env: Record<string, string | undefined>;
  open(): Promise<Connection>;
}

export interface Scratch {
  /** What runs the scratch databases, for messages: `SQLite 3.x`, `PGlite 0.5 (PostgreSQL 18)`, `PostgreSQL 15.8 at …`. */
  engine: string;
  /** A new, empty database for one purpose (`real`, `model`). */
  make(purpose: string): Promise<ScratchDatabase>;
  /** Remove every scratch database made; resolves to what could not be removed (notRemoved), never rejects. */
  close(): Promise<string[]>;
}

/** rmSync of a scratch folder; what it could not remove is added to `notRemoved`. */
export function removeFolder(dir: string, what: string, notRemoved: string[]): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    notRemoved.push(notRemovedLine(`${what} ${dir}`, err));
  }
}

/** One line of what was not removed and why. */
export function notRemovedLine(what: string, err: unknown): string {
  return `${what} (${describeCause(err).split('\n')[0]})`;
}

export interface ScratchOptions {
  /**
   * On a server: true when the history uses PostgreSQL schemas besides public (each purpose needs a
   * database of its own, or the verification is refused); unset, a history that creates extensions
   * still gets databases of its own where the role may create them (see OwnDatabase).
   */
  separateDatabases?: boolean;
  /** SQLite: the engine that opens the scratch files (libsql for drizzle's "turso" dialect). */
  engine?: SqliteEngine;
  /** PostgreSQL on PGlite: the extensions the history creates (extensionsCreated), loaded at its start; asked only there. */
  extensions?: () => string[];
}

export async function openScratch(root: string, dialect: DialectName, env: Record<string, string | undefined>, options: ScratchOptions = {}): Promise<Scratch> {
  if (dialect === 'sqlite') return sqliteScratch(root, options.engine);
  const url = (env.SLUICE_CHECK_DATABASE_URL ?? '').trim();
  if (!url) return pgliteScratch(root, env, options.extensions?.() ?? []);
  return serverScratch(root, url, env, options.separateDatabases ? 'required' : options.extensions?.().length ? 'preferred' : 'no');
}

/**
 * Whether a scratch on a server gets a database of its own (CREATE DATABASE) rather than a schema:
 * - `required`: the history names schemas besides public; without CREATEDB the verification is refused.
 * - `preferred`: the history creates extensions. An extension belongs to a whole database: in a
 *   scratch schema, `CREATE EXTENSION x` fails when the database has x already (the developer's own
 *   tables use it, or another scratch schema of the same check created it), and `IF NOT EXISTS` leaves
 *   its objects in a schema the scratch's search path does not read. Where no database can be made
 *   (a role without CREATEDB, template1 in use), schemas, as before.
 * - `no`: a schema beside the data.
 */
export type OwnDatabase = 'required' | 'preferred' | 'no';

/**
 * The extensions the ups of a history create (`CREATE EXTENSION [IF NOT EXISTS] name`), sorted. PGlite
 * ships PostgreSQL's contrib extensions (pg_trgm, pgcrypto, "uuid-ossp", citext, hstore, ltree…) but
 * loads one only when asked at its start. Found in the text: a name seen in a comment only costs its
 * load, and one PGlite does not ship fails on the scratch database, which says so, as before.
 */
export function extensionsCreated(revisions: RevisionFile[]): string[] {
  const names = new Set<string>();
  for (const rev of revisions) {
    let text: string;
    try {
      text = readUp(rev);
    } catch {
      continue; // a missing up is reported where the replay reads it
    }
    if (!/extension/i.test(text)) continue;
    for (const m of text.matchAll(CREATE_EXTENSION)) names.add(m[1] ?? m[2]!.toLowerCase());
  }
  return [...names].sort();
}
/** Between two words: blanks and comments (`/* … *\/`, `-- …`), as PostgreSQL reads them. */
const GAP = String.raw`(?:\s|/\*[\s\S]*?\*/|--[^\n]*(?:\n|$))+`;
const CREATE_EXTENSION = new RegExp(String.raw`\bcreate${GAP}extension${GAP}(?:if${GAP}not${GAP}exists${GAP})?(?:"([^"]+)"|([a-z_][a-z0-9_]*))`, 'gi');

/**
 * Contrib extensions PGlite ships without a module of their own, or that need another loaded first:
 * each name here is loaded through the modules listed. autoinc, refint and insert_username are in the
 * bundle of moddatetime (PostgreSQL's spi); earthdistance requires cube (CREATE EXTENSION … CASCADE).
 */
const LOADED_WITH: Record<string, string[]> = {
  autoinc: ['moddatetime'],
  refint: ['moddatetime'],
  insert_username: ['moddatetime'],
  earthdistance: ['cube', 'earthdistance'],
};

/** PGlite's own module for each of `names` it ships (`@electric-sql/pglite/contrib/<name>`, `-` as `_`); others are left out. */
async function pgliteExtensions(names: string[]): Promise<import('@electric-sql/pglite').Extensions> {
  const found: import('@electric-sql/pglite').Extensions = {};
  for (const id of new Set(names.flatMap((n) => LOADED_WITH[n.replace(/-/g, '_')] ?? [n.replace(/-/g, '_')]))) {
    if (!/^[a-z0-9_]+$/.test(id)) continue;
    try {
      const mod = (await import(`@electric-sql/pglite/contrib/${id}`)) as Record<string, unknown>;
      if (mod[id]) found[id] = mod[id] as import('@electric-sql/pglite').Extension;
    } catch {
      /* not one PGlite ships: its CREATE EXTENSION fails on the scratch database, with PostgreSQL's message */
    }
  }
  return found;
}

function sqliteScratch(root: string, engine: SqliteEngine | undefined): Scratch {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-check-'));
  return {
    engine: 'SQLite',
    async make(purpose) {
      const env = { DATABASE_URL: `file:${path.join(dir, `${purpose}.sqlite`)}` };
      const target = parseDatabaseTarget(env, root, engine);
      return { target, env, open: () => openConnection(target, { write: true, env }) };
    },
    async close() {
      const left: string[] = [];
      removeFolder(dir, 'the scratch folder', left);
      return left;
    },
  };
}

/**
 * The schemas a replay of the history must not share a database with: those its snapshots name, and
 * DATABASE_SEARCH_PATH's (unqualified names would find their real objects). Sorted.
 */
export function foreignSchemas(out: string, revisions: Revision[], env: Record<string, string | undefined>): string[] {
  return [...new Set([...otherSchemasOf(out, revisions), ...lookupSchemas(env)])].sort();
}

/**
 * Where db-test and migrate-check's drift check replay the history beside the real data: a scratch
 * schema on `url` (the app's own database when no SLUICE_CHECK_DATABASE_URL is given; every `public.`
 * of the history lands in the scratch schema) — unless the history names schemas besides public
 * or DATABASE_SEARCH_PATH does (`others`, from foreignSchemas): their objects would land in the real
 * schemas of those names on that database, and the replayed downs would drop them. Then the replay gets a database of its own on that server (CREATE
 * DATABASE), or is refused. `schema` is the DATABASE_SCHEMA the replay uses in its own database. A history
 * that creates extensions (`extensions`, from extensionsCreated) gets a database of its own too where
 * one can be made, else the scratch schema (OwnDatabase).
 */
export async function replayDatabase(
  root: string,
  url: string,
  env: Record<string, string | undefined>,
  schema: string,
  others: string[],
  extensions: string[] = [],
): Promise<{ env: Record<string, string | undefined>; close(): Promise<string[]> }> {
  // a history that only creates extensions gets a database of its own where one can be made (OwnDatabase), else the schema below
  const scratch = others.length ? await serverScratch(root, url, env, 'required') : extensions.length ? await serverScratch(root, url, env, 'preferred').catch(() => undefined) : undefined;
  if (scratch) {
    try {
      const db = await scratch.make('replay');
      // a database of its own; or, where none could be made for a history that only creates extensions, a scratch schema
      return { env: db.env.DATABASE_URL !== url ? { ...db.env, DATABASE_SCHEMA: schema } : db.env, close: () => scratch.close() };
    } catch (err) {
      await scratch.close();
      if (!others.length) throw err;
      const display = parseDatabaseTarget({ DATABASE_URL: url }, root).display;
      throw new ConfigError(
        `this history names schemas besides public (${others.join(', ')}; its snapshots or DATABASE_SEARCH_PATH), so it is replayed in a database of its own, which ${display} would not create (${describeCause((err as { cause?: unknown }).cause ?? err).split('\n')[0]}); grant the role CREATEDB, or set SLUICE_CHECK_DATABASE_URL to a server where it has it`,
        { cause: err },
      );
    }
  }
  const name = scratchName('replay');
  const replayEnv = { ...env, DATABASE_URL: url, DATABASE_SCHEMA: name, SLUICE_TAKEOVER: 'off' };
  return {
    env: replayEnv,
    async close() {
      const target = parseDatabaseTarget(replayEnv, root);
      const what = `the scratch schema ${quoteIdent(name)} on ${target.display}`;
      let conn: Connection;
      try {
        conn = await openConnection(target, { write: true, env: replayEnv });
      } catch (err) {
        return [notRemovedLine(what, err)];
      }
      try {
        await conn.execute(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
        return [];
      } catch (err) {
        return [notRemovedLine(what, err)];
      } finally {
        await conn.close().catch(() => {});
      }
    },
  };
}

function scratchName(purpose: string): string {
  return `sluice_check_${process.pid}_${Math.random().toString(36).slice(2, 8)}_${purpose}`;
}

async function serverScratch(root: string, url: string, env: Record<string, string | undefined>, own: OwnDatabase): Promise<Scratch> {
  const base = parseDatabaseTarget({ DATABASE_URL: url, DATABASE_SCHEMA: 'public' }, root);
  if (base.dialect !== 'postgresql') throw new ConfigError('SLUICE_CHECK_DATABASE_URL must be a postgres:// URL (the server sluice verifies PostgreSQL downs on)');
  const admin = await openConnection(base, { write: true, env }).catch((err) => {
    throw new ConfigError(`SLUICE_CHECK_DATABASE_URL: ${describeCause(err).replace(/\bDATABASE_URL\b/g, 'SLUICE_CHECK_DATABASE_URL')}; fix it, or unset it to verify on the embedded engine (PGlite)`, { cause: err });
  });
  const version = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v"))[0]?.v ?? '?';
  const schemas: string[] = [];
  const databases: string[] = [];
  return {
    engine: `PostgreSQL ${version} at ${base.display}`,
    async make(purpose) {
      const name = scratchName(purpose);
      let scratchEnv: Record<string, string | undefined>;
      const separate =
        own !== 'no' &&
        (await admin.execute(`CREATE DATABASE ${quoteIdent(name)}`).then(
          () => true,
          (err) => {
            if (own === 'preferred') {
              own = 'no'; // not here (no CREATEDB, template1 busy...): schemas for this scratch and the next ones, as before
              return false;
            }
            throw new ConfigError(
              `SLUICE_CHECK_DATABASE_URL: cannot create a scratch database (${describeCause(err)}); this history uses schemas besides public, so verification needs a role with CREATEDB, or unset it to use the embedded engine`,
              { cause: err },
            );
          },
        ));
      if (separate) {
        databases.push(name);
        const u = new URL(url);
        u.pathname = `/${name}`;
        scratchEnv = { ...env, DATABASE_URL: u.toString(), DATABASE_SCHEMA: 'public', SLUICE_TAKEOVER: 'off' };
      } else {
        schemas.push(name);
        scratchEnv = { ...env, DATABASE_URL: url, DATABASE_SCHEMA: name, SLUICE_TAKEOVER: 'off' };
      }
      const target = parseDatabaseTarget(scratchEnv, root);
      return { target, env: scratchEnv, open: () => openConnection(target, { write: true, env: scratchEnv }) };
    },
    async close() {
      const left: string[] = [];
      for (const s of schemas) await admin.execute(`DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`).catch((err) => left.push(notRemovedLine(`the scratch schema ${quoteIdent(s)} on ${base.display}`, err)));
      for (const d of databases) await admin.execute(`DROP DATABASE IF EXISTS ${quoteIdent(d)} WITH (FORCE)`).catch((err) => left.push(notRemovedLine(`the scratch database ${quoteIdent(d)} on ${base.display}`, err)));
      await admin.close().catch(() => {});
      return left;
    },
  };
}

interface PgliteInstance {
  db: { close(): Promise<void>; query<T>(sql: string): Promise<{ rows: T[] }> };
  server: { stop(): Promise<void>; getServerConn(): string };
}

/**
 * A PGlite instance in memory, loaded from the template (an initialised data folder kept as a tar),
 * served on a loopback port. Nothing of it is on disk: no copy to make, nothing to remove.
 */
async function startPglite(root: string, extensionNames: string[]): Promise<PgliteInstance> {
  largeCodeLoads();
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const extensions = await pgliteExtensions(extensionNames);
  let template = await pgliteTemplate(root, PGlite);
  // The bytes as they are; a PGlite that reads them otherwise (a later version) is given a real Blob.
  // A 16 MB buffer pool instead of PostgreSQL's 128 MB: a scratch database holds a history's schema and
  // test rows, and PGlite starts ~50 ms sooner (of ~450) without the larger shared memory to set up.
  const startParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];
  const load = (tar: Buffer<ArrayBuffer>) =>
    PGlite.create({ loadDataDir: tarball(tar), startParams, extensions }).catch(() => PGlite.create({ loadDataDir: new Blob([tar]), startParams, extensions }));
  let db: InstanceType<typeof PGlite>;
  try {
    db = await load(template.tar);
  } catch (err) {
    // a cached template that does not load (cut short, another version's): made again, once
    if (!template.file) throw err;
    rmSync(template.file, { force: true });
    template = await pgliteTemplate(root, PGlite);
    db = await load(template.tar);
  }
  try {
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 4 });
    await server.start();
    return { db, server };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

/**
 * The template as the data folder PGlite loads. PGlite only calls the value's arrayBuffer() (and reads
 * its type), so the file's bytes are handed over as they are: a Blob would copy the 40 MB in, then
 * out again in chunks (~80 ms of a ~600 ms start here). Not a Blob, so typed as one.
 */
function tarball(tar: Buffer<ArrayBuffer>): Blob {
  const bytes = tar.byteOffset === 0 && tar.byteLength === tar.buffer.byteLength ? tar.buffer : tar.buffer.slice(tar.byteOffset, tar.byteOffset + tar.byteLength);
  return { type: 'application/x-tar', size: bytes.byteLength, arrayBuffer: async () => bytes } as unknown as Blob;
}

async function stopPglite(i: PgliteInstance): Promise<void> {
  await i.server.stop().catch(() => {});
  await i.db.close().catch(() => {});
}

/** An instance started ahead of need (warmScratch), taken by the next PGlite scratch database made that needs no other extension. */
let warm: { instance: Promise<PgliteInstance>; extensions: string[] } | undefined;

/**
 * Start the PGlite instance a coming verification will need, while something else runs (migrate-create:
 * drizzle-kit generate in child processes). A no-op unless that verification will use PGlite. Pair
 * with coolScratch(), which stops it if nothing took it.
 */
export function warmScratch(root: string, dialect: DialectName, env: Record<string, string | undefined>, extensionsOf: () => string[] = () => []): void {
  if (dialect !== 'postgresql' || warm || (env.SLUICE_CHECK_DATABASE_URL ?? '').trim() || (env.SLUICE_VERIFY ?? '').toLowerCase() === 'off') return;
  const extensions = extensionsOf();
  warm = { instance: startPglite(root, extensions), extensions };
  warm.instance.catch(() => {}); // an error shows when the instance is made for real
}

export async function coolScratch(): Promise<void> {
  const w = warm;
  warm = undefined;
  const instance = await w?.instance.catch(() => undefined);
  if (instance) await stopPglite(instance);
}

async function pgliteScratch(root: string, env: Record<string, string | undefined>, extensions: string[]): Promise<Scratch> {
  const instances: PgliteInstance[] = [];
  let engine = 'PGlite';
  return {
    get engine() {
      return engine;
    },
    async make() {
      // the instance started ahead, when it loaded every extension this history creates (else it is left to coolScratch)
      const ahead = warm && extensions.every((e) => warm!.extensions.includes(e)) ? warm.instance : undefined;
      if (ahead) warm = undefined;
      const instance = (await ahead?.catch(() => undefined)) ?? (await startPglite(root, extensions));
      instances.push(instance);
      const [host, port] = instance.server.getServerConn().split(':');
      const scratchEnv = { ...env, DATABASE_URL: `postgres://postgres@${host}:${port}/postgres`, DATABASE_SCHEMA: 'public', SLUICE_TAKEOVER: 'off' };
      if (engine === 'PGlite') {
        const v = await instance.db.query<{ v: string }>("SELECT current_setting('server_version') AS v");
        engine = `PGlite (embedded PostgreSQL ${v.rows[0]?.v ?? '?'})`;
      }
      const target = parseDatabaseTarget(scratchEnv, root);
      return { target, env: scratchEnv, open: () => openConnection(target, { write: true, env: scratchEnv }) };
    },
    async close() {
      for (const i of instances) await stopPglite(i);
      return []; // in memory: nothing of it outlives the process
    },
  };
}

/** Raised with any change to how the template is made (2: without template0), so a kept one is made again. */
const TEMPLATE_FORMAT = 2;

/**
 * An initialised PGlite data folder as a tar, made once per project (and PGlite version) and loaded by
 * each instance; `file` is where it is kept (none when it could not be written: it is then made each time).
 */
async function pgliteTemplate(root: string, PGlite: typeof import('@electric-sql/pglite').PGlite): Promise<{ tar: Buffer<ArrayBuffer>; file?: string }> {
  const { createRequire } = await import('node:module');
  let version = 'unknown';
  try {
    // package.json is not among the package's exports: found beside its resolved entry point
    const req = createRequire(import.meta.url);
    for (let dir = path.dirname(req.resolve('@electric-sql/pglite')); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const file = path.join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@electric-sql/pglite' && pkg.version) {
        version = pkg.version;
        break;
      }
    }
  } catch {
    /* not found: one template for all versions then */
  }
  const uid = process.getuid?.() ?? 0;
  const inCache = sluiceCacheDir(root, `pglite-${version}.${TEMPLATE_FORMAT}.tar`);
  const cache = inCache ?? path.join(os.tmpdir(), `sluice-pglite-${version}.${TEMPLATE_FORMAT}-${uid}.tar`);
  // what earlier versions kept there, removed once the new template is written: sluice's own names only
  const earlier = inCache
    ? [path.join(path.dirname(inCache), `pglite-${version}`), path.join(path.dirname(inCache), `pglite-${version}.tar`)]
    : [path.join(os.tmpdir(), `sluice-pglite-${version}-${uid}.tar`), path.join(os.tmpdir(), `sluice-pglite-${version}-${uid}`)];
  try {
    return { tar: readFileSync(cache), file: cache };
  } catch {
    /* not made yet */
  }
  const db = await PGlite.create();
  let tar: Buffer<ArrayBuffer>;
  try {
    // template0 is dropped: nothing connects to it (datallowconn is off), and only CREATE DATABASE …
    // TEMPLATE template0 reads it, which a scratch database never needs; without its ~300 files every
    // instance loads ~25% less (~70 ms of CPU a start here). template1 stays, so CREATE DATABASE works.
    // Each statement on its own: DROP DATABASE cannot run in the implicit transaction of a multi-statement string.
    await db.exec('ALTER DATABASE template0 IS_TEMPLATE false');
    await db.exec('DROP DATABASE template0');
    await db.exec('CHECKPOINT'); // a start then replays no WAL
    tar = Buffer.from(await (await db.dumpDataDir('none')).arrayBuffer());
  } finally {
    await db.close();
  }
  const building = `${cache}.${process.pid}.${nodeCrypto().randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(path.dirname(building), { recursive: true });
    writeFileSync(building, tar, { flag: 'wx' });
    renameSync(building, cache); // atomic: a concurrent run reads the whole file or makes its own
    for (const old of earlier) rmSync(old, { recursive: true, force: true });
    return { tar, file: cache };
  } catch {
    rmSync(building, { force: true }); // not writable here (a read-only node_modules): used from memory
    return { tar };
  }
}
