/**
 * The version store: one row per applied revision in the target database, written through the
 * dialect interface (same SQL for every dialect; identifiers quoted, values bound).
 */
import type { Connection } from './dialect/types.js';
import { ConfigError, describeCause, environmentError, IntegrityError, versionRowSuppressed } from './errors.js';

export const VERSION_TABLE = 'sluice_version';
/** drizzle-orm's own migrations table (default name), which sluice reads at takeover and never writes. */
export const DRIZZLE_TABLE = '__drizzle_migrations';

export interface AppliedRow {
  revision: string;
  name: string;
  checksum: string;
  appliedAt: string;
  executionMs: number;
}

/** What `status` reads of a version row (VersionStore.sums): the revision and its checksum. */
export type AppliedSum = Pick<AppliedRow, 'revision' | 'checksum'>;

export interface VersionStoreOptions {
  /**
   * The session's first read of the table may find out by itself whether the table is there: read,
   * and take the dialect's "no such table" error for an empty history (Connection.missingTable), one
   * round trip instead of two on a server. Only on a connection sluice opened and holds no transaction
   * on (withSession): a failed statement would end a caller's transaction.
   */
  readFirst?: boolean;
}

/** The version table's DDL (also printed by offline SQL). */
export function versionTableDdl(table: string, timestampType: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
  "revision" varchar(255) PRIMARY KEY NOT NULL,
  "name" text NOT NULL,
  "checksum" varchar(64) NOT NULL,
  "applied_at" ${timestampType} NOT NULL,
  "execution_ms" integer NOT NULL
)`;
}

export class VersionStore {
  /**
   * Whether the table is there, as last found or made (ensure) since the session began: withSession's
   * set-up (a takeover's check, ensure, the first read) asks in turn, each ask a round trip on a server;
   * under the lock nothing but this store makes the table then, and `recheck` ends the memo before any
   * revision runs.
   */
  private present: boolean | undefined;
  private settled = false;
  /** This store made the table (ensure): a first run that then recorded nothing removes it (dropIfMadeEmpty). */
  private made = false;
  /** ensure made the namespace too (PostgreSQL: the schema): removed with the table when nothing else is in it. */
  private madeNamespace = false;

  constructor(
    private readonly conn: Connection,
    private readonly options: VersionStoreOptions = {},
  ) {}

  private get table(): string {
    return this.conn.table(VERSION_TABLE);
  }

  async exists(): Promise<boolean> {
    if (this.settled) return this.conn.tableExists(VERSION_TABLE);
    this.present ??= await this.conn.tableExists(VERSION_TABLE);
    return this.present;
  }

  /** Ask the database each time from now on (the session's set-up is over: revisions may drop or make the table). */
  recheck(): void {
    this.present = undefined;
    this.settled = true;
  }

  /** Create the namespace and the table if missing. A role lacking the rights for that gets a PrivilegeError naming the grant. */
  async ensure(): Promise<void> {
    if (await this.exists()) return; // its schema is there too
    try {
      this.madeNamespace = await this.conn.prepareNamespace();
    } catch (err) {
      throw await this.privilegeError(err, 'create-schema');
    }
    try {
      await this.conn.execute(versionTableDdl(this.table, this.conn.timestampType));
    } catch (err) {
      throw await this.privilegeError(err, 'write');
    }
    if (!this.settled) this.present = true;
    this.made = true;
  }

  /**
   * After a run that recorded nothing (one transaction per revision: its first revision failed, or a
   * signal stopped it before anything committed): the table this store made, still empty, is removed, so the
   * database is as before the run. Its absence is what lets the next run take over a database drizzle's
   * migrator manages (was: an empty sluice_version left behind, and every later up and deploy ran the
   * history from base against drizzle's tables). Best effort: a failure leaves it, as before.
   */
  async dropIfMadeEmpty(): Promise<void> {
    if (!this.made) return;
    try {
      if ((await this.sums()).length === 0) {
        await this.conn.execute(`DROP TABLE ${this.table}`);
        if (!this.settled) this.present = false;
        if (this.madeNamespace) await this.conn.dropNamespaceIfEmpty?.().catch(() => {}); // holding anything: left
      }
      this.made = false;
      this.madeNamespace = false;
    } catch {
      /* left as it is: status explains an empty sluice_version */
    }
  }

  /** Every version row, in revision order (an absent table reads as none). */
  async list(): Promise<AppliedRow[]> {
    const columns = `"revision", "name", "checksum", ${this.conn.isoTimestamp?.('"applied_at"') ?? '"applied_at"'} AS "applied_at", "execution_ms"`;
    const rows = await this.read(columns);
    return rows.map((r) => ({
      revision: String(r.revision),
      name: String(r.name),
      checksum: String(r.checksum),
      appliedAt: r.applied_at instanceof Date ? r.applied_at.toISOString() : String(r.applied_at),
      executionMs: Number(r.execution_ms),
    }));
  }

  /** The revision and checksum of every version row, in revision order: what `status` needs, read and decoded in less time than `list`. */
  async sums(): Promise<AppliedSum[]> {
    // sluice's other columns are named, not read: a table of this name that lacks them is refused
    // (notSluices) exactly as list() refuses it; the condition is always true and costs no row anything
    const rows = await this.read('"revision", "checksum"', ' WHERE "name" IS NULL OR "applied_at" IS NULL OR "execution_ms" IS NULL OR 1 = 1');
    return rows.map((r) => ({ revision: String(r.revision), checksum: String(r.checksum) }));
  }

  private async read(columns: string, where = ''): Promise<Record<string, unknown>[]> {
    const missingTable = this.conn.missingTable?.bind(this.conn);
    // the session's first question about the table, answered by the read itself (VersionStoreOptions)
    const guess = this.options.readFirst && !this.settled && this.present === undefined && missingTable;
    if (!guess && !(await this.exists())) return [];
    const json = this.conn.jsonRows?.(columns, `${this.table}${where}`, '"revision"');
    let read: Record<string, unknown>[];
    try {
      read = await this.conn.query<Record<string, unknown>>(json ?? `SELECT ${columns} FROM ${this.table}${where} ORDER BY "revision"`);
    } catch (err) {
      if (guess && missingTable(err)) {
        this.present = false;
        return [];
      }
      // a role that may not use the schema: absent or unreadable, told apart as before the guess
      if (guess && isPrivilegeError(err) && !(await this.exists())) return [];
      throw this.notSluices(err) ?? environmentError(err) ?? (await this.privilegeError(err, 'read'));
    }
    if (guess) this.present = true;
    return json ? (JSON.parse(String(read[0]?.rows ?? '[]')) as Record<string, unknown>[]) : read;
  }

  /**
   * A table of this name that lacks sluice's columns (PostgreSQL 42703, SQLite "no such column") was
   * made by something else: named as such instead of read as sluice's history.
   */
  private notSluices(err: unknown): IntegrityError | undefined {
    const e = err as { code?: unknown; message?: unknown } | null;
    const message = typeof e?.message === 'string' ? e.message : '';
    if (e?.code !== '42703' && !/^no such column/i.test(message)) return undefined;
    return new IntegrityError(
      `the table ${this.table} in the database is not sluice's version table (${describeCause(err).replace(/ - should this be a string literal in single-quotes\?$/, '')}); rename or drop that table, or point DATABASE_URL (DATABASE_SCHEMA) at sluice's database`,
      { cause: err },
    );
  }

  /** Delete every row (stamp --purge), whatever revisions they name. */
  async purge(): Promise<void> {
    await this.conn.execute(`DELETE FROM ${this.table}`);
  }

  /**
   * PostgreSQL's insufficient_privilege (SQLSTATE 42501) while sluice sets up or reads its own table is
   * a configuration problem (the role in DATABASE_URL, the schema in DATABASE_SCHEMA), not a bug: one
   * line naming role, schema, database and the grant that fixes it. Other errors pass through unchanged.
   */
  private async privilegeError(err: unknown, phase: 'create-schema' | 'write' | 'read'): Promise<unknown> {
    if (!isPrivilegeError(err)) return err;
    const schema = /^"((?:[^"]|"")*)"\./.exec(this.table)?.[1]?.replace(/""/g, '"') ?? '?';
    let role = '?';
    let database = '?';
    try {
      const rows = await this.conn.query<{ role: string; db: string }>('SELECT current_user AS "role", current_database() AS "db"');
      role = rows[0]?.role ?? role;
      database = rows[0]?.db ?? database;
    } catch {
      /* keep the placeholders: the message still names the schema and the cause */
    }
    const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
    const why = `${describeCause(err)}, SQLSTATE 42501`;
    const elsewhere = 'or set DATABASE_SCHEMA to a schema the role owns';
    // a scratch schema of sluice's own (the down verification, db-test, drift): its name changes every run,
    // so naming it in a GRANT helps nobody (a hunt)
    const scratch = /^sluice_check_\d+_/.test(schema);
    const message =
      scratch && phase === 'create-schema'
        ? `role ${q(role)} may not create the scratch schema sluice verifies in, in database ${q(database)} (${why}); have an administrator GRANT CREATE ON DATABASE ${q(database)} TO ${q(role)}, or set SLUICE_CHECK_DATABASE_URL to a server where the role may (a local one: make db-up)`
        : phase === 'create-schema'
        ? `role ${q(role)} may not create schema ${q(schema)} in database ${q(database)} (${why}); have an administrator run GRANT CREATE ON DATABASE ${q(database)} TO ${q(role)} (or CREATE SCHEMA ${q(schema)} AUTHORIZATION ${q(role)}), ${elsewhere}`
        : phase === 'write'
          ? `role ${q(role)} may not create sluice's version table in schema ${q(schema)} of database ${q(database)} (${why}); have the schema's owner GRANT USAGE, CREATE ON SCHEMA ${q(schema)} TO ${q(role)}, ${elsewhere}`
          : `role ${q(role)} may not read sluice's version table in schema ${q(schema)} of database ${q(database)} (${why}); have the owner GRANT USAGE ON SCHEMA ${q(schema)} TO ${q(role)} and GRANT SELECT ON ${q(schema)}.${q(VERSION_TABLE)} TO ${q(role)} (enough for status, history and show; a role that runs up, down or stamp also needs INSERT, UPDATE, DELETE on that table, CREATE on the schema and to own the tables its revisions alter: run those as the schema's owner), ${elsewhere}`;
    return new PrivilegeError(message, { cause: err });
  }

  async has(revision: string): Promise<boolean> {
    const rows = await this.conn.query(`SELECT 1 FROM ${this.table} WHERE "revision" = ${this.conn.param(1)}`, [revision], 'sluice_version_has');
    return rows.length > 0;
  }

  /**
   * Record a revision, and read the record back: a trigger that drops the row (returning NULL,
   * RAISE(IGNORE)), changes it or moves it, or a rule, would otherwise leave a revision that ran
   * unrecorded, to be run again; that throws instead, inside the revision's transaction.
   */
  async insert(row: AppliedRow): Promise<void> {
    const p = (n: number) => this.conn.param(n);
    await this.conn.query(
      `INSERT INTO ${this.table} ("revision", "name", "checksum", "applied_at", "execution_ms") VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`,
      [row.revision, row.name, row.checksum, row.appliedAt, row.executionMs],
      'sluice_version_insert',
    );
    const back = await this.conn.query<{ n: number | string }>(
      `SELECT count(*) AS "n" FROM ${this.table} WHERE "revision" = ${p(1)} AND "checksum" = ${p(2)}`,
      [row.revision, row.checksum],
      'sluice_version_read_back',
    );
    if (Number(back[0]?.n) !== 1) throw new Error(versionRowSuppressed(`no record of ${row.revision}, rows: ${Number(back[0]?.n ?? 0)}`));
  }

  /**
   * Give rows their new tags (recognizeMoved), in one transaction: each through a tag of its own first,
   * as one's new tag may be another's old one (0004_fix to 0005_fix while 0005_fix goes to 0006_fix).
   */
  async rekey(moves: { from: string; to: string }[]): Promise<void> {
    if (!moves.length) return;
    const update = `UPDATE ${this.table} SET "revision" = ${this.conn.param(1)} WHERE "revision" = ${this.conn.param(2)}`;
    await this.conn.begin();
    try {
      for (const m of moves) await this.conn.query(update, [`sluice-moving:${m.from}`, m.from]);
      for (const m of moves) await this.conn.query(update, [m.to, `sluice-moving:${m.from}`]);
      await this.conn.commit();
    } catch (err) {
      await this.conn.rollback();
      throw err;
    }
  }

  /** Forget a revision; as `insert`, the table is read back (a trigger or rule that keeps the row throws). */
  async remove(revision: string): Promise<void> {
    await this.conn.query(`DELETE FROM ${this.table} WHERE "revision" = ${this.conn.param(1)}`, [revision], 'sluice_version_delete');
    const back = await this.conn.query<{ n: number | string }>(`SELECT count(*) AS "n" FROM ${this.table} WHERE "revision" = ${this.conn.param(1)}`, [revision], 'sluice_version_left');
    if (Number(back[0]?.n) !== 0) throw new Error(versionRowSuppressed(`record left of ${revision}, rows: ${Number(back[0]?.n)}`));
  }
}

/** The database role lacks a privilege sluice needs for its own table or schema (a configuration error, exit 2). */
export class PrivilegeError extends ConfigError {}

/** PostgreSQL insufficient_privilege. */
export function isPrivilegeError(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { code?: unknown }).code === '42501';
}
