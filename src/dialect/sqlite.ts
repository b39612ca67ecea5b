import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { DatabaseTarget } from '../config.js';
import { ConnectionError, ConfigError, describeCause } from '../errors.js';
import { quoteIdent } from '../sql.js';
import type { Connection } from './types.js';
import { VERSION_TABLE } from '../store.js';

const BUSY_TIMEOUT_MS = 10_000;
const FK_PRAGMA = /PRAGMA\s+foreign_keys\s*=\s*(OFF|ON|0|1)\s*;?/i;
const FK_PRAGMA_ALL = new RegExp(FK_PRAGMA.source, 'gi');

export function openSqlite(target: DatabaseTarget, options: { create: boolean }): Connection {
  const file = target.file!;
  const dir = path.dirname(file);
  if (!existsSync(dir)) throw new ConfigError(`folder ${dir} of the SQLite file does not exist; create it or fix DATABASE_URL`);
  if (!options.create && !existsSync(file)) return emptySqlite(target);
  if (existsSync(file)) {
    try {
      accessSync(file, constants.R_OK | (options.create ? constants.W_OK : 0));
    } catch {
      throw new ConnectionError(`SQLite file ${target.display} is not ${options.create ? 'writable' : 'readable'}; check its permissions`);
    }
  }
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: !options.create, fileMustExist: !options.create });
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (err) {
    throw new ConnectionError(`cannot open SQLite file ${target.display}: ${describeCause(err)}`, { cause: err });
  }
  return new SqliteConnection(db, target.display);
}

class SqliteConnection implements Connection {
  readonly dialect = 'sqlite' as const;
  readonly capabilities = { transactionalDdl: true, schemas: false, runLock: false, batchStatements: false, groupCommits: true };
  readonly timestampType = 'text';
  constructor(
    private readonly db: Database.Database,
    readonly display: string,
  ) {}

  async execute(sql: string): Promise<void> {
    this.db.exec(sql);
  }
  lostConnection(): boolean {
    return false;
  }
  private readonly prepared = new Map<string, Database.Statement>();
  async query<T>(sql: string, params: unknown[] = [], name?: string): Promise<T[]> {
    let stmt = name ? this.prepared.get(name) : undefined;
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (name) this.prepared.set(name, stmt);
    }
    if (stmt.reader) return stmt.all(...params) as T[];
    stmt.run(...params);
    return [];
  }
  param(): string {
    return '?';
  }
  table(name: string): string {
    return quoteIdent(name);
  }
  async tableExists(name: string): Promise<boolean> {
    return !!this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name);
  }
  async prepareNamespace(): Promise<void> {}
  translate(sql: string): string {
    return sql;
  }
  async begin(): Promise<void> {
    this.db.exec('BEGIN IMMEDIATE');
  }
  async commit(): Promise<void> {
    this.db.exec('COMMIT');
  }
  async rollback(): Promise<void> {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }
  async lock(): Promise<void> {
    // Each revision runs under BEGIN IMMEDIATE with a busy timeout; the engine re-checks the
    // version table inside that transaction, so concurrent runs apply each revision once.
  }
  async unlock(): Promise<void> {}
  async dumpSchema(): Promise<string> {
    return dumpSqlite(this.db);
  }
  foreignKeyRebuild(statements: string[]): string[] | undefined {
    if (!statements.some((s) => FK_PRAGMA.test(s))) return undefined;
    return statements.map((s) => s.replace(FK_PRAGMA_ALL, '').trim()).filter((s) => s.length > 0);
  }
  async setForeignKeys(on: boolean): Promise<boolean> {
    const was = this.db.pragma('foreign_keys', { simple: true }) === 1;
    this.db.pragma(`foreign_keys = ${on ? 'ON' : 'OFF'}`);
    return was;
  }
  async checkForeignKeys(): Promise<void> {
    const rows = this.db.pragma('foreign_key_check') as { table: string; parent: string }[];
    if (rows.length) {
      const pairs = [...new Set(rows.map((r) => `${r.table} -> ${r.parent}`))].join(', ');
      throw new Error(`foreign key check failed after the table rebuild: ${rows.length} row(s) reference missing parents (${pairs})`);
    }
  }
  async backupTo(file: string): Promise<void> {
    await this.db.backup(file);
  }
  async close(): Promise<void> {
    this.db.close();
  }
}

/** Structural description: per table its columns, indexes and foreign keys; views and triggers by SQL. */
function dumpSqlite(db: Database.Database): string {
  const objects = db
    .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name <> ? ORDER BY type, name")
    .all(VERSION_TABLE) as { type: string; name: string; tbl_name: string; sql: string | null }[];
  const lines: string[] = [];
  for (const o of objects) {
    if (o.type === 'table') {
      lines.push(`table ${o.name}`);
      // column order is cosmetic (a column re-added by a down comes last): sorted
      const columns = (db.prepare(`PRAGMA table_xinfo(${quoteIdent(o.name)})`).all() as Record<string, unknown>[]).map(
        (c) => `  column ${c.name} ${c.type} notnull=${c.notnull} default=${c.dflt_value} pk=${c.pk} hidden=${c.hidden}`,
      );
      lines.push(...columns.sort());
      const fks = (db.prepare(`PRAGMA foreign_key_list(${quoteIdent(o.name)})`).all() as Record<string, unknown>[]).map(
        (f) => `  fk ${f.from} -> ${f.table}(${f.to}) on_update=${f.on_update} on_delete=${f.on_delete}`,
      );
      lines.push(...fks.sort());
      const autoinc = /AUTOINCREMENT/i.test(o.sql ?? '');
      lines.push(`  autoincrement=${autoinc}`);
    } else if (o.type === 'index') {
      const cols = (db.prepare(`PRAGMA index_xinfo(${quoteIdent(o.name)})`).all() as Record<string, unknown>[])
        .filter((c) => c.key)
        .map((c) => `${c.name ?? 'expr'}${c.desc ? ' desc' : ''}`);
      const unique = (db.prepare(`PRAGMA index_list(${quoteIdent(o.tbl_name)})`).all() as Record<string, unknown>[]).find(
        (i) => i.name === o.name,
      )?.unique;
      lines.push(`index ${o.name} on ${o.tbl_name} (${cols.join(', ')}) unique=${unique} partial=${/\bWHERE\b/i.test(o.sql ?? '')}`);
    } else {
      lines.push(`${o.type} ${o.name}: ${o.sql}`);
    }
  }
  return lines.join('\n');
}

/** A database file that does not exist yet reads as empty: read-only commands never create it. */
function emptySqlite(target: DatabaseTarget): Connection {
  const db = new Database(':memory:');
  return new SqliteConnection(db, target.display);
}
