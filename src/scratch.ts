/**
 * Scratch databases for the down verification, with no set-up:
 *  - SQLite: a file in a temporary folder (the same engine and adapter as the real target);
 *  - PostgreSQL: a real server when the user names one (SLUICE_CHECK_DATABASE_URL: a scratch schema
 *    per purpose, or a scratch database per purpose when the history uses schemas of its own or
 *    creates extensions: OwnDatabase), else PGlite, the embedded engine (pglite.ts).
 * Everything is removed by close().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lookupSchemas, parseDatabaseTarget, type DatabaseTarget, type DialectName, type SqliteEngine } from './config.js';
import { openConnection } from './dialect/index.js';
import type { Connection } from './dialect/types.js';
import { ConfigError, describeCause } from './errors.js';
import { pgliteScratch } from './pglite.js';
import { otherSchemasOf, readDown, readUp, type RevisionFile } from './source.js';
import { quoteIdent } from './sql.js';
import { loadParser } from './sqlparse.js';
import { publicBeyondTranslation } from './publicschema.js';
import { schemasWrittenBy } from './sqlschemas.js';

import { coolPglite, warmPglite } from './pglite.js';
import { coolServer, openServerAdmin, scratchName, takeWarmServer, warmServer } from './serverwarm.js';

/**
 * Start what a coming verification of `dialect`'s downs will need while something else runs
 * (migrate-create: drizzle-kit in child processes): PGlite (pglite.ts), or the connections to
 * SLUICE_CHECK_DATABASE_URL (serverwarm.ts). A no-op when nothing is to verify. Pair with coolScratch().
 */
export function warmScratch(root: string, dialect: DialectName, env: Record<string, string | undefined>, extensionsOf: () => string[] = () => []): void {
  if (dialect !== 'postgresql') return;
  warmPglite(root, env, extensionsOf);
  warmServer(root, env);
}

/** Stop or let go of what warmScratch started and no scratch took. */
export async function coolScratch(): Promise<void> {
  await Promise.all([coolPglite(), coolServer()]);
}

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
  /** PostgreSQL: the extensions the history creates (extensionsCreated): loaded at PGlite's start; on a server, see OwnDatabase. */
  extensions?: () => string[];
  /** PostgreSQL on a server: whether the history names public where a scratch schema cannot stand in for it (namesPublic; see OwnDatabase). */
  namesPublic?: () => Promise<boolean>;
  /**
   * PostgreSQL on a server: the downs run are the project's as written (db-test), not sluice's own: a
   * scratch schema beside extensions of the history the database has already, which the role could
   * drop, is refused (a down's DROP EXTENSION would drop the database's own).
   */
  downsAsWritten?: boolean;
  /** PostgreSQL on a server: the roles the history creates (rolesCreated), dropped with the scratch databases when the server had none of them. */
  roles?: () => string[];
}

export async function openScratch(root: string, dialect: DialectName, env: Record<string, string | undefined>, options: ScratchOptions = {}): Promise<Scratch> {
  if (dialect === 'sqlite') return sqliteScratch(root, options.engine);
  const url = (env.SLUICE_CHECK_DATABASE_URL ?? '').trim();
  if (!url) return pgliteScratch(root, env, options.extensions?.() ?? []);
  const extensions = options.separateDatabases ? [] : (options.extensions?.() ?? []);
  return serverScratch(root, url, env, await ownDatabaseFor(!!options.separateDatabases, extensions, options.namesPublic), extensions, !!options.downsAsWritten, options.roles?.() ?? []);
}

/**
 * Whether a scratch on a server gets a database of its own (CREATE DATABASE) rather than a schema:
 * - `required`: the history names schemas besides public; without CREATEDB the verification is refused.
 * - `preferred`: the history creates extensions, or names public where a scratch schema cannot stand
 *   in for it (namesPublic). An extension belongs to a whole database: in a scratch schema, `CREATE
 *   EXTENSION x` fails when the database has x already (the developer's own tables use it, or another
 *   scratch schema of the same check created it), and `IF NOT EXISTS` leaves its objects in a schema
 *   the scratch's search path does not read. A function declared with `SET search_path = pg_catalog,
 *   public`, or a string naming public, reads the real public from a scratch schema (sluice rewrites
 *   only `public.` qualifiers). Schemas, as before, where no
 *   database can be made (a role without CREATEDB, template1 in use, PostgreSQL before 13, which
 *   cannot drop a database still connected to), or where the role cannot connect to the new one or
 *   create the history's extensions in it (an extension that is not trusted, for a role that is not
 *   superuser): tried once, in a transaction rolled back, on the first database made.
 * - `no`: a schema beside the data.
 */
export type OwnDatabase = 'required' | 'preferred' | 'no';

/** The ups' texts (one that cannot be read is left out: the replay reports it where it reads it). */
function* upsOf(revisions: RevisionFile[], downs = false): Generator<string> {
  for (const rev of revisions) {
    for (const read of downs ? [readUp, readDown] : [readUp]) {
      let text: string | null;
      try {
        text = read(rev);
      } catch {
        continue; // reported by the replay
      }
      if (text !== null) yield text;
    }
  }
}

/** `others`: the history names schemas besides public; `extensions`: the ones it creates; `publicNamed`: namesPublic, asked only when neither decides. */
async function ownDatabaseFor(others: boolean, extensions: string[], publicNamed?: () => Promise<boolean>): Promise<OwnDatabase> {
  return others ? 'required' : extensions.length || (await publicNamed?.()) ? 'preferred' : 'no';
}

/**
 * Whether the ups or downs of a PostgreSQL history name the schema public where a scratch schema
 * cannot stand in for it (publicBeyondTranslation). drizzle-kit's own `"public".` qualifiers are
 * rewritten, so a text is scanned only when it has another word public (not `"publicId"`), or those
 * qualifiers and a function (whose body's qualifiers are not rewritten). The downs too: a replay runs
 * them (found by a hunt: db-test beside the data ran a hand-written down's `setval('public.users_id_seq',
 * 1, false)` on the real sequence, and one's `DROP SCHEMA public CASCADE` on the real schema, exit 0).
 */
export async function namesPublic(revisions: RevisionFile[]): Promise<boolean> {
  for (const text of upsOf(revisions, true)) {
    if (!/public/i.test(text)) continue;
    const unqualified = text.replace(/"public"\s*\./gi, '');
    if (!/\bpublic\b/i.test(unqualified) && !(unqualified !== text && /\b(?:function|procedure)\b/i.test(text))) continue;
    await loadParser('postgresql');
    if (publicBeyondTranslation(text)) return true;
  }
  return false;
}

/**
 * The extensions the ups of a history create (`CREATE EXTENSION [IF NOT EXISTS] name`), sorted. PGlite
 * ships PostgreSQL's contrib extensions (pg_trgm, pgcrypto, "uuid-ossp", citext, hstore, ltree…) but
 * loads one only when asked at its start. Found in the text: a name seen in a comment only costs its
 * load, and one PGlite does not ship fails on the scratch database, which says so, as before.
 */
export function extensionsCreated(revisions: RevisionFile[]): string[] {
  const names = new Set<string>();
  for (const text of upsOf(revisions)) {
    if (!/extension/i.test(text)) continue;
    for (const m of text.matchAll(CREATE_EXTENSION)) names.add(m[1] ?? m[2]!.toLowerCase());
  }
  return [...names].sort();
}
/**
 * The roles the ups of a history create (`CREATE ROLE` / `CREATE USER` name, drizzle's pgRole), in
 * PostgreSQL's spelling of the name. A role belongs to the whole server: one a replay on a server made
 * is dropped with the scratch databases (found by a hunt: migrate-create's proof left pgRole's role on
 * the check server, so the real `up` there failed on "role already exists", and every later proof).
 */
export function rolesCreated(revisions: RevisionFile[]): string[] {
  const names = new Set<string>();
  for (const text of upsOf(revisions)) {
    if (!/\bcreate\b/i.test(text) || !/\b(role|user)\b/i.test(text)) continue;
    for (const m of text.matchAll(CREATE_ROLE)) names.add(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!.toLowerCase());
  }
  return [...names].sort();
}
/** Between two words: blanks and comments (`/* … *\/`, `-- …`), as PostgreSQL reads them. */
// (a block comment as `/*`, then anything up to the first `*/`, in a form that can split a run of comments only one way)
const GAP = String.raw`(?:\s|/\*[^*]*\*+(?:[^/*][^*]*\*+)*/|--[^\n]*(?:\n|$))+`;
const CREATE_ROLE = new RegExp(String.raw`\bcreate${GAP}(?:role|user)${GAP}(?:if${GAP}not${GAP}exists${GAP})?(?:"((?:[^"]|"")+)"|([a-z_][a-z0-9_$]*))`, 'gi');
const CREATE_EXTENSION = new RegExp(String.raw`\bcreate${GAP}extension${GAP}(?:if${GAP}not${GAP}exists${GAP})?(?:"([^"]+)"|([a-z_][a-z0-9_]*))`, 'gi');

function sqliteScratch(root: string, engine: SqliteEngine | undefined): Scratch {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-check-'));
  return {
    engine: 'SQLite',
    async make(purpose) {
      const env = { DATABASE_URL: `file:${path.join(dir, `${purpose}.sqlite`)}` };
      const target = parseDatabaseTarget(env, root, engine);
      const open = async () => {
        const conn = await openConnection(target, { write: true, env });
        // a scratch file is removed with its folder: nothing in it needs to survive a crash, so its
        // commits are not flushed to the disk (13–15 ms each here); what SQL does is the same
        await conn.execute('PRAGMA synchronous = OFF').catch(async (err: unknown) => {
          await conn.close().catch(() => {});
          throw err;
        });
        return conn;
      };
      return { target, env, open };
    },
    async close() {
      const left: string[] = [];
      removeFolder(dir, 'the scratch folder', left);
      return left;
    },
  };
}

/**
 * The schemas a replay of the history must not share a database with: those its snapshots name,
 * DATABASE_SEARCH_PATH's (unqualified names would find their real objects), and those its up and down
 * SQL writes to by name (sqlschemas.ts: a hand-written `DROP TABLE analytics.events` in a down dropped
 * the real one during db-test). Sorted. `named`: the snapshots' (otherSchemasOf), when the caller has
 * read them already.
 */
export async function foreignSchemas(out: string, revisions: RevisionFile[], env: Record<string, string | undefined>, named = otherSchemasOf(out, revisions)): Promise<string[]> {
  return [...new Set([...named, ...lookupSchemas(env), ...(await schemasWrittenBy(revisions))])].sort();
}

/**
 * Where db-test and migrate-check's drift check replay the history beside the real data: a scratch
 * schema on `url` (the app's own database when no SLUICE_CHECK_DATABASE_URL is given; every `public.`
 * of the history lands in the scratch schema) — unless the history names schemas besides public
 * or DATABASE_SEARCH_PATH does (`others`, from foreignSchemas): their objects would land in the real
 * schemas of those names on that database, and the replayed downs would drop them. Then the replay gets a database of its own on that server (CREATE
 * DATABASE), or is refused. `schema` is the DATABASE_SCHEMA the replay uses in its own database. A history
 * that creates extensions (`extensions`, from extensionsCreated) gets a database of its own too where
 * one can be made, else the scratch schema (OwnDatabase); so does one that names public where a
 * scratch schema cannot stand in for it (`publicNamed`: namesPublic, asked only when nothing else decides).
 */
export async function replayDatabase(
  root: string,
  url: string,
  env: Record<string, string | undefined>,
  schema: string,
  others: string[],
  extensions: string[] = [],
  publicNamed?: () => Promise<boolean>,
  downsAsWritten = false,
  roles: string[] = [],
): Promise<{ env: Record<string, string | undefined>; close(): Promise<string[]> }> {
  // a history that only creates extensions or names public (namesPublic) gets a database of its own where one can be made (OwnDatabase), else the schema below
  const own = await ownDatabaseFor(others.length > 0, extensions, publicNamed);
  const scratch = own === 'required' ? await serverScratch(root, url, env, own, [], false, roles) : own === 'preferred' ? await serverScratch(root, url, env, own, extensions, downsAsWritten, roles).catch(() => undefined) : undefined;
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
        `this history names schemas besides public (${others.join(', ')}; its snapshots, its SQL or DATABASE_SEARCH_PATH), so it is replayed in a database of its own, which ${display} would not create (${describeCause((err as { cause?: unknown }).cause ?? err).split('\n')[0]}); grant the role CREATEDB, or set SLUICE_CHECK_DATABASE_URL to a server where it has it`,
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

async function serverScratch(root: string, url: string, env: Record<string, string | undefined>, own: OwnDatabase, extensions: string[] = [], downsAsWritten = false, roles: string[] = []): Promise<Scratch> {
  const base = parseDatabaseTarget({ DATABASE_URL: url, DATABASE_SCHEMA: 'public' }, root);
  if (base.dialect !== 'postgresql') throw new ConfigError('SLUICE_CHECK_DATABASE_URL must be a postgres:// URL (the server sluice verifies PostgreSQL downs on)');
  // opened ahead, while drizzle-kit ran (serverwarm.ts), when migrate-create's warmScratch did
  const early = takeWarmServer(env);
  let admin: Connection;
  let version: string;
  try {
    let versionNum: number;
    ({ admin, version, versionNum } = await (early?.admin ?? openServerAdmin(base, env)));
    if (own === 'preferred' && !(versionNum >= 130000)) own = 'no'; // DROP DATABASE … WITH (FORCE) is PostgreSQL 13's
  } catch (err) {
    await early?.release();
    throw err;
  }
  const schemas: string[] = [];
  const databases: string[] = [];
  // the history's roles the server has already are left alone; those a replay makes are dropped at close()
  const newRoles = roles.length
    ? await admin
        .query<{ n: string }>('SELECT n FROM unnest($1::text[]) AS r(n) WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.n)', [roles])
        .then((rows) => rows.map((r) => r.n), () => [] as string[])
    : [];
  const urlOf = (database: string) => {
    const u = new URL(url);
    u.pathname = `/${database}`;
    return u.toString();
  };
  const dropDatabase = (d: string) => `DROP DATABASE IF EXISTS ${quoteIdent(d)} WITH (FORCE)`;
  const drop = (d: string) => admin.execute(dropDatabase(d));
  /** `preferred`: whether the role can connect to the new database and create the history's extensions there (rolled back). */
  const usable = async (database: string): Promise<boolean> => {
    const probeEnv = { ...env, DATABASE_URL: urlOf(database), DATABASE_SCHEMA: 'public' };
    let conn: Connection | undefined;
    try {
      conn = await openConnection(parseDatabaseTarget(probeEnv, root), { write: true, env: probeEnv });
      await conn.execute(['BEGIN', ...extensions.map((e) => `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(e)} CASCADE`), 'ROLLBACK'].join(';\n'));
      return true;
    } catch {
      return false;
    } finally {
      await conn?.close().catch(() => {});
    }
  };
  let probed = false;
  /**
   * Before `preferred` settles for a scratch schema in the base database: the extensions of the history
   * that database has already and this role could drop (it owns them, or is superuser). A replay there
   * runs the downs as written (db-test), and an extension belongs to the whole database: a down's
   * `DROP EXTENSION pgcrypto [CASCADE]` dropped the app's own extension, and with CASCADE whatever uses
   * it in any schema (found by a hunt: db-test with a role without CREATEDB). Refused instead.
   */
  const refuseSchemaBesideOwnExtensions = async (why: string): Promise<void> => {
    if (!downsAsWritten || !extensions.length) return;
    const rows = await admin
      .query<{ name: string }>(
        // (not one a scratch schema of sluice's holds: db-test's first pass made it, and its proof's downs may drop it)
        "SELECT extname AS name FROM pg_catalog.pg_extension WHERE extname = ANY($1::text[]) AND pg_catalog.pg_has_role(current_user, extowner, 'USAGE') AND extnamespace::regnamespace::text NOT LIKE 'sluice\\_check\\_%' ORDER BY 1",
        [extensions],
      )
      .catch(() => [] as { name: string }[]);
    if (!rows.length) return;
    const names = rows.map((r) => r.name).join(', ');
    throw new ConfigError(
      `this history creates extensions (${names}) that the database of ${base.display} has already, owned by this role: replayed in a scratch schema beside them, its downs' DROP EXTENSION would drop the database's own (an extension belongs to the whole database, with what uses it in every schema), so it is replayed in a database of its own, which the role may not use (${why}); grant the role CREATEDB, or set SLUICE_CHECK_DATABASE_URL to a server where it has it`,
    );
  };
  /** A scratch database made (true), or none where `preferred` settles for a schema (false). */
  const ownDatabase = async (name: string): Promise<boolean> => {
    try {
      await admin.execute(`CREATE DATABASE ${quoteIdent(name)}`);
    } catch (err) {
      if (own === 'preferred') {
        await refuseSchemaBesideOwnExtensions(describeCause(err).split('\n')[0]!);
        own = 'no'; // schemas for this scratch and the next ones, as before
        return false;
      }
      throw new ConfigError(
        `SLUICE_CHECK_DATABASE_URL: cannot create a scratch database (${describeCause(err)}); this history uses schemas besides public, so verification needs a role with CREATEDB, or unset it to use the embedded engine`,
        { cause: err },
      );
    }
    databases.push(name);
    if (own !== 'preferred' || probed) return true;
    probed = true;
    if (await usable(name)) return true;
    own = 'no';
    // dropped now; one that will not drop stays listed, for close() to try again and name
    await drop(name).then(() => void databases.splice(databases.indexOf(name), 1), () => {});
    await refuseSchemaBesideOwnExtensions(`it cannot create ${extensions.join(', ')} in a new database`);
    return false;
  };
  return {
    engine: `PostgreSQL ${version} at ${base.display}`,
    async make(purpose) {
      const name = scratchName(purpose);
      let scratchEnv: Record<string, string | undefined>;
      let pending: Promise<Connection> | undefined; // opened ahead (serverwarm.ts): the first open() takes it
      if (own !== 'no' && (await ownDatabase(name))) {
        scratchEnv = { ...env, DATABASE_URL: urlOf(name), DATABASE_SCHEMA: 'public', SLUICE_TAKEOVER: 'off' };
      } else {
        // the schema whose connection was opened ahead, if any: only its name differs
        const pre = early?.takeSchema();
        pending = pre?.conn;
        schemas.push(pre?.name ?? name);
        scratchEnv = { ...env, DATABASE_URL: url, DATABASE_SCHEMA: schemas.at(-1), SLUICE_TAKEOVER: 'off' };
      }
      const target = parseDatabaseTarget(scratchEnv, root);
      const open = () => {
        const conn = pending ?? openConnection(target, { write: true, env: scratchEnv });
        pending = undefined;
        return conn;
      };
      return { target, env: scratchEnv, open };
    },
    async close() {
      await early?.release();
      const left: string[] = [];
      // an admin connection the server ended meanwhile (idle since it was opened ahead, a restart):
      // the drops go through a new one, once
      let reopened = false;
      const run = async (sql: string) => {
        try {
          await admin.execute(sql);
        } catch (err) {
          if (reopened || (await admin.query('SELECT 1').then(() => true, () => false))) throw err;
          reopened = true;
          const fresh = await openServerAdmin(base, env).catch(() => undefined);
          if (!fresh) throw err;
          await admin.close().catch(() => {});
          admin = fresh.admin;
          await admin.execute(sql);
        }
      };
      for (const s of schemas) await run(`DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`).catch((err) => left.push(notRemovedLine(`the scratch schema ${quoteIdent(s)} on ${base.display}`, err)));
      for (const d of databases) await run(dropDatabase(d)).catch((err) => left.push(notRemovedLine(`the scratch database ${quoteIdent(d)} on ${base.display}`, err)));
      for (const r of newRoles) await run(`DROP ROLE IF EXISTS ${quoteIdent(r)}`).catch((err) => left.push(notRemovedLine(`the role ${quoteIdent(r)} the replay created on ${base.display}`, err)));
      await admin.close().catch(() => {});
      return left;
    },
  };
}
