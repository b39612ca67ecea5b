/**
 * SQLite backups: before an up or down that changes the file, a consistent copy through SQLite's
 * backup API in .sluice/backups/ of the project, keeping the newest SLUICE_BACKUP_KEEP (default 10)
 * per database file. Restore: stop the app, copy the backup over the database file.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Context } from './context.js';
import type { Connection } from './dialect/types.js';
import { rel } from './source.js';

export function backupDir(root: string): string {
  return path.join(root, '.sluice', 'backups');
}

/** Take a backup if the connection supports it and the database holds anything; returns its path. */
export async function backupBeforeChange(ctx: Context, conn: Connection, anyApplied: boolean): Promise<string | undefined> {
  if (!conn.backupTo || !ctx.target.file) return undefined;
  if (!anyApplied && (await conn.dumpSchema()) === '') return undefined;
  const dir = backupDir(ctx.root);
  mkdirSync(dir, { recursive: true });
  const stem = path.basename(ctx.target.file).replace(/\.[^.]*$/, '');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(dir, `${stem}.${stamp}.sqlite`);
  await conn.backupTo(file);
  rotate(dir, stem, Number(ctx.env.SLUICE_BACKUP_KEEP ?? 10));
  return rel(file);
}

function rotate(dir: string, stem: string, keep: number): void {
  if (!Number.isFinite(keep) || keep < 1) return;
  const mine = readdirSync(dir)
    .filter((f) => f.startsWith(`${stem}.`) && f.endsWith('.sqlite') && /^\d{4}-/.test(f.slice(stem.length + 1)))
    .sort();
  for (const f of mine.slice(0, Math.max(0, mine.length - keep))) rmSync(path.join(dir, f), { force: true });
}
