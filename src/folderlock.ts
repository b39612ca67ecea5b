/**
 * The lock of a history folder, for the commands that write into it (migrate-create, migrate-downs,
 * migrate-merge). Two of them at once in one folder each number a revision after the same journal:
 * drizzle-kit's journal then keeps only the last one's entry, one snapshot overwrites the other, and
 * two up files share a number. The second command is refused before it starts (exit 5), naming the
 * one that runs.
 *
 * Held like the SQLite migration lock (dialect/sqlite.ts): an exclusive transaction on a lock file,
 * which the kernel releases when the process ends, however it ends, so nothing is ever left to expire
 * or delete. The lock file is kept in sluice's cache folder (node_modules/.cache/sluice/locks, else the
 * system's temporary folder), named after the folder's real path: never in the history folder, where
 * git would see it. Where no lock file can be made (a read-only cache and temporary folder, no SQLite
 * addon), the command runs without the lock, as it did before: migrate-create still finds a journal
 * entry that is not its own and says so.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { sluiceCacheDir } from './cachedir.js';
import { betterSqlite } from './dialect/sqlitedb.js';
import { ConnectionError } from './errors.js';
import { commandLine, readHolder, type Holder } from './lockholder.js';
import { pidAlive } from './pids.js';
import { rel } from './relpath.js';

export interface FolderLock {
  /** Release every folder's lock (the holder records removed first). Idempotent. */
  release(): void;
}

interface Held {
  db: Database.Database;
  record: string;
}

/** Where the lock files of `root`'s folders go: the cache folder when it can be made, else the temporary folder. */
function lockDirs(root: string): string[] {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  const cache = sluiceCacheDir(root, 'locks');
  return [...(cache ? [cache] : []), path.join(os.tmpdir(), `sluice-locks-${uid}`)];
}

function openLock(dirs: string[], key: string): { db: Database.Database; base: string } | undefined {
  for (const dir of dirs) {
    try {
      mkdirSync(dir, { recursive: true });
      const base = path.join(dir, key);
      // a short busy wait: two commands starting at the same instant each hold the file's shared lock
      // for a moment (journal_mode reads it), and without it both could be refused; a real holder
      // writes for a second or more, so the second command is still refused at once, for a person
      return { db: betterSqlite(`${base}.lock`, { timeout: 250 }), base };
    } catch {
      /* the next place, or none */
    }
  }
  return undefined;
}

/**
 * Take the lock of every folder in `folders` (history folders; missing ones are keyed by their path),
 * or throw a ConnectionError naming the command that holds one; nothing is held then.
 */
export function lockFolders(root: string, folders: string[]): FolderLock {
  const held: Held[] = [];
  const release = () => {
    for (const h of held.splice(0)) {
      try {
        rmSync(h.record, { force: true });
      } catch {
        /* a record left behind names a holder that is gone: harmless */
      }
      try {
        if (h.db.inTransaction) h.db.exec('ROLLBACK');
      } catch {
        /* closing releases it too */
      }
      h.db.close();
    }
  };
  const dirs = lockDirs(root);
  // one order for every process: two commands over the same folders never hold one each
  const keyed = [...new Set(folders.map((f) => realPath(f)))].sort().map((real) => ({ real, key: createHash('sha256').update(real).digest('hex').slice(0, 20) }));
  for (const { real, key } of keyed) {
    const opened = openLock(dirs, key);
    if (!opened) continue; // no lock to be had here: run as before
    const { db, base } = opened;
    try {
      db.pragma('journal_mode = MEMORY'); // reads the file: busy while another command holds it
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if (!/^SQLITE_BUSY/.test(String((err as { code?: unknown }).code))) continue; // not a lock held: run as before
      release();
      throw new ConnectionError(heldMessage(real, readHolder(`${base}.holder`)));
    }
    const record = `${base}.holder`;
    held.push({ db, record });
    const holder: Holder = { pid: process.pid, host: os.hostname(), command: commandLine(), since: new Date().toISOString() };
    try {
      writeFileSync(record, `${JSON.stringify(holder)}\n`);
    } catch {
      /* the record only names the holder in another command's error */
    }
  }
  return { release };
}

/** Run `run` holding the lock of `folders` (lockFolders), released however it ends. */
export async function withFolderLock<T>(root: string, folders: string[], run: () => Promise<T>): Promise<T> {
  const lock = lockFolders(root, folders);
  try {
    return await run();
  } finally {
    lock.release();
  }
}

function realPath(folder: string): string {
  const abs = path.resolve(folder);
  try {
    return realpathSync(abs);
  } catch {
    return abs; // not made yet (a first migrate-create)
  }
}

function heldMessage(folder: string, holder: Holder | undefined): string {
  const here = holder?.host === os.hostname();
  const alive = holder && (!here || pidAlive(holder.pid));
  // a library caller running two commands at once in one process: never told to kill itself
  if (alive && here && holder.pid === process.pid) return `another sluice command in this process is writing ${rel(folder)}; wait for it to finish, then run this one again`;
  const who = alive ? `pid ${holder.pid} on host ${holder.host} ("${holder.command}"), since ${holder.since}` : 'another sluice command';
  return `${who === 'another sluice command' ? who : `another sluice command, ${who},`} is writing ${rel(folder)}; wait for it to finish, then run this one again${alive && here ? ` (if it is stuck, stop it: kill ${holder.pid}; its lock goes with it)` : ''}`;
}
