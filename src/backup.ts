/**
 * SQLite backups: before an up or down that changes the file, a consistent copy through SQLite's
 * backup API in .sluice/backups/ of the project, keeping the newest SLUICE_BACKUP_KEEP (default 10)
 * per database file. Restore: stop the app, copy the backup over the database file.
 *
 * A backup is written under a `.partial` name and renamed to `<name>.<timestamp>.<hash>.sqlite` only once
 * SQLite has finished it, so a run interrupted during the copy (Ctrl+C, a full disk) never leaves a
 * file that looks like a backup and restores to a half-empty database, nor one that pushes a good
 * backup out of the rotation. A `.partial` left by such a run is removed by the next backup of the
 * same database (taken under its migration lock).
 */
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Context } from './context.js';
import type { Connection } from './dialect/types.js';
import { ConfigError, describeCause, ExitCode, SluiceError } from './errors.js';
import { rel } from './relpath.js';
import { sha256 } from './hash.js';

export function backupDir(root: string): string {
  return path.join(root, '.sluice', 'backups');
}

/** SLUICE_BACKUP_KEEP: how many backups per database file to keep (a whole number, 1 or more; default 10). */
export function backupKeep(env: Record<string, string | undefined>): number {
  const raw = env.SLUICE_BACKUP_KEEP?.trim();
  if (raw === undefined || raw === '') return 10;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new ConfigError(`SLUICE_BACKUP_KEEP must be a whole number of backups to keep, 1 or more (got "${raw}"); unset it for 10`);
  return Number(raw);
}

/** Take a backup if the connection supports it and the database holds anything; returns its path. */
export async function backupBeforeChange(ctx: Context, conn: Connection, anyApplied: boolean): Promise<string | undefined> {
  if (!conn.backupTo || !ctx.target.file) return undefined;
  const keep = backupKeep(ctx.env);
  if (!anyApplied && (await conn.dumpSchema()) === '') return undefined;
  const dir = backupDir(ctx.root);
  const stem = path.basename(ctx.target.file).replace(/\.[^.]*$/, '');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  // the names hold a hash of the database's own path: two databases of one name (a/dev.db, b/dev.db,
  // or dev.db and dev.sqlite) share the folder, and each run rotates and removes only its own
  // database's backups and leftovers (under that database's lock)
  const own = sha256(ctx.target.file).slice(0, 12);
  const file = path.join(dir, `${stem}.${stamp}.${own}.sqlite`);
  const partial = `${file}.${own}.partial`;
  try {
    mkdirSync(dir, { recursive: true });
    removePartials(dir, stem, own);
    await conn.backupTo(partial);
    renameSync(partial, file);
  } catch (err) {
    removeQuietly(partial);
    // only what is wrong with the backup's folder or disk is reported as such; anything else (a damaged
    // database, a bug) as what it is
    if (!isFolderProblem(err)) throw err;
    throw new SluiceError(
      `cannot back up ${ctx.target.display} to ${rel(dir)}: ${describeCause(err)}; nothing was changed. Fix the folder (or free space), or skip the backup with --no-backup (make: NO_BACKUP=1)`,
      ExitCode.usage,
      { cause: err },
    );
  }
  rotate(dir, stem, own, keep);
  return rel(file);
}

/** Backups of this database (`stem`, `own`) an interrupted run left half written, and their SQLite journals. */
function removePartials(dir: string, stem: string, own: string): void {
  const suffix = new RegExp(`\\.sqlite\\.${own}\\.partial(-journal|-wal|-shm)?$`);
  for (const f of readdirSync(dir)) if (isBackupOf(f, stem) && suffix.test(f)) rmSync(path.join(dir, f), { force: true });
}

/** `<stem>.<timestamp>…`: a backup (or partial) of the database named `stem`. */
function isBackupOf(f: string, stem: string): boolean {
  return f.startsWith(`${stem}.`) && /^\d{4}-/.test(f.slice(stem.length + 1));
}

/** A file-system error (Node.js errno codes) or SQLite failing to open, write or fill the backup file. */
function isFolderProblem(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (/^E[A-Z]+$/.test(code) || /^SQLITE_(CANTOPEN|FULL|IOERR|READONLY|PERM)/.test(code));
}

function removeQuietly(partial: string): void {
  for (const f of [partial, `${partial}-journal`]) {
    try {
      rmSync(f, { force: true });
    } catch {
      /* the error being reported says what is wrong with the folder */
    }
  }
}

/** Keep this database's newest `keep` backups (`<stem>.<timestamp>.<own>.sqlite`); another database's, or one named before the hash was in the name, is never removed. */
function rotate(dir: string, stem: string, own: string, keep: number): void {
  const mine = readdirSync(dir)
    .filter((f) => isBackupOf(f, stem) && f.endsWith(`.${own}.sqlite`))
    .sort();
  for (const f of mine.slice(0, Math.max(0, mine.length - keep))) rmSync(path.join(dir, f), { force: true });
}
