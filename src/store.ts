/**
 * The version store: one row per applied revision in the target database, written through the
 * dialect interface (same SQL for every dialect; identifiers quoted, values bound).
 */
import type { Connection } from './dialect/types.js';

export const VERSION_TABLE = 'sluice_version';

export interface AppliedRow {
  revision: string;
  name: string;
  checksum: string;
  appliedAt: string;
  executionMs: number;
}

export class VersionStore {
  constructor(private readonly conn: Connection) {}

  private get table(): string {
    return this.conn.table(VERSION_TABLE);
  }

  exists(): Promise<boolean> {
    return this.conn.tableExists(VERSION_TABLE);
  }

  /** Create the namespace and the table if missing. */
  async ensure(): Promise<void> {
    await this.conn.prepareNamespace();
    if (await this.exists()) return;
    await this.conn.execute(
      `CREATE TABLE IF NOT EXISTS ${this.table} (
  "revision" varchar(255) PRIMARY KEY NOT NULL,
  "name" text NOT NULL,
  "checksum" varchar(64) NOT NULL,
  "applied_at" ${this.conn.timestampType} NOT NULL,
  "execution_ms" integer NOT NULL
)`,
    );
  }

  async list(): Promise<AppliedRow[]> {
    if (!(await this.exists())) return [];
    const rows = await this.conn.query<Record<string, unknown>>(
      `SELECT "revision", "name", "checksum", "applied_at", "execution_ms" FROM ${this.table} ORDER BY "revision"`,
    );
    return rows.map((r) => ({
      revision: String(r.revision),
      name: String(r.name),
      checksum: String(r.checksum),
      appliedAt: r.applied_at instanceof Date ? r.applied_at.toISOString() : String(r.applied_at),
      executionMs: Number(r.execution_ms),
    }));
  }

  async has(revision: string): Promise<boolean> {
    const rows = await this.conn.query(`SELECT 1 FROM ${this.table} WHERE "revision" = ${this.conn.param(1)}`, [revision], 'sluice_version_has');
    return rows.length > 0;
  }

  async insert(row: AppliedRow): Promise<void> {
    const p = (n: number) => this.conn.param(n);
    await this.conn.query(
      `INSERT INTO ${this.table} ("revision", "name", "checksum", "applied_at", "execution_ms") VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`,
      [row.revision, row.name, row.checksum, row.appliedAt, row.executionMs],
      'sluice_version_insert',
    );
  }

  async remove(revision: string): Promise<void> {
    await this.conn.query(`DELETE FROM ${this.table} WHERE "revision" = ${this.conn.param(1)}`, [revision], 'sluice_version_delete');
  }
}
