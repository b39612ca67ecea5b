/**
 * PostgreSQL scratch databases on PGlite, the embedded engine (scratch.ts openScratch, without
 * SLUICE_CHECK_DATABASE_URL): PostgreSQL compiled to WASM, in this process, served on a loopback port so
 * sluice's own PostgreSQL adapter talks to it unchanged. One PGlite instance is one session (search_path
 * is shared by its connections), so each purpose gets its own instance, in memory. Its initialised data
 * folder is kept as an image (pgliteimage.ts) in node_modules/.cache/sluice/ (initdb takes ~5 s once; loading it, <1 s).
 * An instance can be started ahead of need (warmPglite) while something else runs.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDatabaseTarget } from './config.js';
import { openConnection } from './dialect/index.js';
import { sluiceCacheDir } from './cachedir.js';
import { nodeCrypto } from './hash.js';
import { largeCodeLoads } from './jit.js';
import { type DataImage, imageFileSystem, imageFrom, readImage } from './pgliteimage.js';
import type { Scratch } from './scratch.js';
import { saysVerifyOff } from './verifysetting.js';

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

interface PgliteInstance {
  db: { close(): Promise<void>; query<T>(sql: string): Promise<{ rows: T[] }> };
  server: { stop(): Promise<void>; getServerConn(): string };
}

/**
 * A PGlite instance in memory, loaded from the template (an initialised data folder kept as an image,
 * pgliteimage.ts), served on a loopback port. Nothing of it is on disk: no copy to make, nothing to remove.
 */
async function startPglite(root: string, extensionNames: string[]): Promise<PgliteInstance> {
  largeCodeLoads();
  const { PGlite, MemoryFS } = await import('@electric-sql/pglite');
  if (typeof MemoryFS !== 'function') throw new Error("the installed @electric-sql/pglite has no MemoryFS, which sluice starts PGlite with; install the version sluice depends on (npm ci)");
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const extensions = await pgliteExtensions(extensionNames);
  let template = await pgliteTemplate(root, PGlite, MemoryFS);
  // A 16 MB buffer pool instead of PostgreSQL's 128 MB: a scratch database holds a history's schema and
  // test rows, and PGlite starts ~50 ms sooner (of ~450) without the larger shared memory to set up.
  const startParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];
  const load = (image: DataImage) => PGlite.create({ fs: imageFileSystem(MemoryFS, image), startParams, extensions });
  let db: InstanceType<typeof PGlite>;
  try {
    db = await load(template.image);
  } catch (err) {
    // a kept template PGlite does not start from: made again, once (used from memory when it cannot be replaced)
    if (!template.file) throw err;
    try {
      rmSync(template.file, { force: true });
    } catch {
      /* a read-only cache folder: the new one is not kept either */
    }
    template = await pgliteTemplate(root, PGlite, MemoryFS, { remake: true });
    db = await load(template.image);
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

async function stopPglite(i: PgliteInstance): Promise<void> {
  await i.server.stop().catch(() => {});
  await i.db.close().catch(() => {});
}

/** An instance started ahead of need (warmPglite), taken by the next PGlite scratch database made that needs no other extension. */
let warm: { instance: Promise<PgliteInstance>; extensions: string[] } | undefined;

/**
 * Start the PGlite instance a coming verification will need, while something else runs (migrate-create:
 * drizzle-kit generate in child processes). A no-op unless that verification will use PGlite. Pair
 * with coolPglite(), which stops it if nothing took it.
 */
export function warmPglite(root: string, env: Record<string, string | undefined>, extensionsOf: () => string[] = () => []): void {
  if (warm || (env.SLUICE_CHECK_DATABASE_URL ?? '').trim() || saysVerifyOff(env)) return;
  const extensions = extensionsOf();
  warm = { instance: startPglite(root, extensions), extensions };
  warm.instance.catch(() => {}); // an error shows when the instance is made for real
}

export async function coolPglite(): Promise<void> {
  const w = warm;
  warm = undefined;
  const instance = await w?.instance.catch(() => undefined);
  if (instance) await stopPglite(instance);
}

export async function pgliteScratch(root: string, env: Record<string, string | undefined>, extensions: string[]): Promise<Scratch> {
  const instances: PgliteInstance[] = [];
  let engine = 'PGlite';
  return {
    get engine() {
      return engine;
    },
    async make() {
      // the instance started ahead, when it loaded every extension this history creates (else it is left to coolPglite)
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

/** Raised with any change to how the template is made (2: without template0; 3: an image, not a tar; 4: without initdb's WAL), so a kept one is made again. */
export const TEMPLATE_FORMAT = 4;

/**
 * An initialised PGlite data folder as an image (pgliteimage.ts), made once per project (and PGlite
 * version); each instance loads its own reading of it. `file` is where it is kept (none when it could
 * not be written: it is then made each time). A kept file that is not a whole image is made again.
 */
async function pgliteTemplate(
  root: string,
  PGlite: typeof import('@electric-sql/pglite').PGlite,
  MemoryFS: typeof import('@electric-sql/pglite').MemoryFS,
  { remake = false } = {},
): Promise<{ image: DataImage; file?: string }> {
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
  const inCache = sluiceCacheDir(root, `pglite-${version}.${TEMPLATE_FORMAT}.pgdata`);
  const cache = inCache ?? path.join(os.tmpdir(), `sluice-pglite-${version}.${TEMPLATE_FORMAT}-${uid}.pgdata`);
  // what earlier formats kept there, removed once the new template is written: sluice's own names only
  const images = Array.from({ length: TEMPLATE_FORMAT - 3 }, (_, i) => i + 3); // the image formats before this one
  const earlier = inCache
    ? [`pglite-${version}`, `pglite-${version}.tar`, `pglite-${version}.2.tar`, ...images.map((f) => `pglite-${version}.${f}.pgdata`)].map((n) => path.join(path.dirname(inCache), n))
    : [`sluice-pglite-${version}-${uid}.tar`, `sluice-pglite-${version}-${uid}`, `sluice-pglite-${version}.2-${uid}.tar`, ...images.map((f) => `sluice-pglite-${version}.${f}-${uid}.pgdata`)].map((n) => path.join(os.tmpdir(), n));
  if (!remake) {
    try {
      return { image: readImage(cache), file: cache };
    } catch {
      /* not made yet, or not a whole image (a write cut short): made again */
    }
  }
  const fs = imageFileSystem(MemoryFS);
  const db = await PGlite.create({ fs });
  let bytes: Buffer;
  try {
    // template0 is dropped: nothing connects to it (datallowconn is off), and only CREATE DATABASE …
    // TEMPLATE template0 reads it, which a scratch database never needs; without its ~300 files every
    // instance loads ~25% less (~70 ms of CPU a start here). template1 stays, so CREATE DATABASE works.
    // Each statement on its own: DROP DATABASE cannot run in the implicit transaction of a multi-statement string.
    await db.exec('ALTER DATABASE template0 IS_TEMPLATE false');
    await db.exec('DROP DATABASE template0');
    // initdb's ~7 MB of WAL, which no start reads (the checkpoint below is its redo point), leaves the
    // image: a new segment (zero-filled: wal_init_zero) takes the checkpoint, and the old one is removed
    // rather than recycled under a later name with its bytes. The image: 22.9 → 15.7 MB to read per start.
    await db.exec('SET wal_recycle = off');
    await db.exec('SELECT pg_switch_wal()');
    await db.exec('CHECKPOINT'); // a start then replays no WAL
    bytes = fs.image();
  } finally {
    await db.close();
  }
  const building = `${cache}.${process.pid}.${nodeCrypto().randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(path.dirname(building), { recursive: true });
    writeFileSync(building, bytes, { flag: 'wx' });
    renameSync(building, cache); // atomic: a concurrent run reads the whole file or makes its own
    for (const old of earlier) rmSync(old, { recursive: true, force: true });
    return { image: imageFrom(bytes), file: cache };
  } catch {
    rmSync(building, { force: true }); // not writable here (a read-only node_modules): used from memory
    return { image: imageFrom(bytes) };
  }
}
