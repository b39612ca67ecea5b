/**
 * Work a command will need, done while it waits for PostgreSQL. Between loadContext and the session
 * being ready (connecting, the session settings, the lock, the version table: several round trips)
 * the process is idle. In that time, in slices of about a millisecond between network events, it
 * takes the `lstat` of every up file (the applied-file check: checksums.ts) and reads the files the
 * command runs (`up`: the ups, `down`: the downs), newest revision first: the pending ones of an up
 * and the applied ones a down reverts are the newest.
 *
 * Only what succeeds is kept, in the command's context, where it would have been put anyway: a file
 * that cannot be read is left for the command's own read, which reports it exactly where and how it
 * always did. Nothing here decides anything; it only moves reads earlier, by a few milliseconds.
 * Prefetching stops when the session is ready (`stop`).
 */
import { lstatSync, type Stats } from 'node:fs';
import { readDown, readUp, type RevisionFile } from './source.js';
import { monotonicMs } from './clock.js';

/** What the command will read: `up` and `down` files, or only the applied ups' `lstat`. */
export type Prefetch = 'up' | 'down' | 'stat';

export interface PrefetchTarget {
  revisions: readonly RevisionFile[];
  /** Up files' lstat by path (undefined: the file is missing). */
  stats: Map<string, Stats | undefined>;
  ups: Map<string, string>;
  downs: Map<string, string | null>;
}

const SLICE_MS = 1;

/**
 * Start prefetching in the background; the returned function stops it. `warm`: caches the command
 * fills on its first step anyway (a built-in module's load, the parse cache's pack, the folder's
 * listing), filled first; it must throw nothing. `stated` (`stat` only): called with each revision
 * once its lstat is taken (status: its checksum looked up in the checksum cache); true when it used
 * the lstat up (it is then not kept in `stats`); it must throw nothing.
 */
export function startPrefetch(what: Prefetch, target: PrefetchTarget, warm?: () => void, stated?: (rev: RevisionFile, st: Stats | undefined) => boolean): () => void {
  let stopped = false;
  const n = target.revisions.length;
  // `down` takes every lstat first, then the downs: the applied-file check needs all of them before
  // anything runs, where a long down under --single-transaction reads most of its files while the
  // server runs its first ones (engine.ts LaterSteps)
  let i = what === 'down' ? 2 * n - 1 : n - 1;
  const stat = (rev: RevisionFile): Stats | undefined => {
    const had = target.stats.has(rev.upFile);
    const st = had ? target.stats.get(rev.upFile) : lstatSync(rev.upFile, { throwIfNoEntry: false });
    if (!had) target.stats.set(rev.upFile, st);
    return st;
  };
  const one = (k: number) => {
    try {
      if (what === 'down') {
        const rev = target.revisions[k % n]!;
        if (k >= n) stat(rev);
        else if (!target.downs.has(rev.id)) target.downs.set(rev.id, readDown(rev));
        return;
      }
      const rev = target.revisions[k]!;
      if (what === 'stat' && stated) {
        // a Stats the hook used up is not kept (1000 of them, each with four Dates, outlive young collections)
        if (target.stats.has(rev.upFile)) return;
        const st = lstatSync(rev.upFile, { throwIfNoEntry: false });
        if (!stated(rev, st)) target.stats.set(rev.upFile, st);
        return;
      }
      const st = stat(rev);
      // an lstat taken just now serves the read too (a missing file is left to the command's own read)
      if (what === 'up' && st && !target.ups.has(rev.id)) target.ups.set(rev.id, readUp(rev, st));
    } catch {
      /* left for the command's own read, which reports it */
    }
  };
  const slice = () => {
    if (stopped) return;
    if (warm) {
      warm();
      warm = undefined;
      return setImmediate(slice);
    }
    const until = monotonicMs() + SLICE_MS;
    while (i >= 0) {
      one(i--);
      if ((i & 7) === 0 && monotonicMs() >= until) break;
    }
    if (i >= 0) setImmediate(slice);
  };
  setImmediate(slice);
  return () => {
    stopped = true;
  };
}
