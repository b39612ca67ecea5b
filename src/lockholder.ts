/**
 * Who holds a sluice lock (the SQLite migration lock, a history folder's lock): the holder writes
 * this record right after taking the lock and removes it before releasing. It only names the holder
 * in a waiter's error and decides nothing: a record left by a killed holder is harmless.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface Holder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export function readHolder(file: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    if (typeof h.pid !== 'number' || typeof h.host !== 'string') return undefined;
    return { pid: h.pid, host: h.host, command: String(h.command ?? '?'), since: String(h.since ?? '?') };
  } catch {
    return undefined; // none, or caught mid-write
  }
}

/** This process's command, as a user would recognise it: `sluice up head` for the CLI. */
export function commandLine(): string {
  const [, script, ...args] = process.argv;
  if (!script) return 'node';
  const name = /(^|[\\/])(dist[\\/]cli\.c?js|sluice)$/.test(script) ? 'sluice' : path.basename(script);
  const line = [name, ...args].join(' ').replace(/\s+/g, ' ');
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
