/** Human-readable lines for takeover and deploy results (pure; the CLI prints them). */
import type { WaitAttempt, DeployResult } from './commands/deploy.js';
import type { TakeoverResult, TakeoverSummary, TakeoverView } from './commands/takeover.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The line a command prints when it took the database over from drizzle's migrator (dry run: would). */
export function takeoverLine(t: TakeoverSummary, dryRun = false): string {
  const what = `${plural(t.revisions.length, 'revision')}${t.revisions.length ? ` up to ${t.at}` : ''}`;
  return dryRun
    ? `-- would take over from drizzle's migrator: record ${what} from ${t.source} in sluice_version, running no SQL`
    : `taken over from drizzle's migrator: ${t.source} (${plural(t.rows, 'row')}) recorded as ${what} in sluice_version; no SQL ran, ${t.source} left as it was. Stop calling drizzle's migrate() now (sluice's upgrade() replaces it): a revision it applies from here is recorded in ${t.source} only, and migrate-up would run it again`;
}

/** The status line about drizzle's table while sluice_version holds nothing. */
export function takeoverStatusLine(v: Omit<TakeoverView, 'records'>): string {
  const head = `managed by drizzle's migrator (${v.source}, ${plural(v.rows, 'row')})`;
  switch (v.state) {
    case 'pending':
      return `${head}; matches up to ${v.at}; taken over on the next migrate-up (or down, stamp, deploy), running no SQL`;
    case 'refused':
      return `${head}; cannot be taken over: ${v.problems.join('; ')}; fix the cause, or record where the database stands with make migrate-stamp REVISION=<rev> PURGE=1`;
    case 'explicit':
      return `${head}, but sluice_version exists and is empty; if sluice never applied anything here, run make migrate-takeover (sluice takeover)${v.problems.length ? `; it would refuse: ${v.problems.join('; ')}` : `; it matches up to ${v.at}`}`;
    case 'off':
      return `${head}; not taken over (SLUICE_TAKEOVER=off)`;
  }
}

/** `sluice takeover`'s result. */
export function formatTakeover(r: TakeoverResult): string[] {
  if (r.status === 'already-managed') return [`${r.database}: sluice_version already records the database (at ${r.at}); nothing taken over`];
  if (r.status === 'dry-run') return [takeoverLine(r, true), `-- dry run on ${r.database}: nothing was written`];
  return [takeoverLine(r), `${r.database}: at ${r.at}`];
}

/** A failed connection attempt while deploy waits for the database (stderr). */
export function waitLine(a: WaitAttempt): string {
  return `sluice: waiting for ${a.database}: ${a.reason} (attempt ${a.attempt}, ${a.elapsedS}s of SLUICE_DEPLOY_WAIT=${a.waitS}s)`;
}

/** Deploy's one-line summary: `deployed <db>: <from> -> <to>, N revisions in X s` or `nothing to deploy: at <rev>`. */
export function deploySummary(r: DeployResult): string {
  if (r.status === 'up-to-date') return `nothing to deploy: at ${r.to} on ${r.database}`;
  return `deployed ${r.database}: ${r.from} -> ${r.to}, ${plural(r.revisions.length, 'revision')} in ${r.seconds.toFixed(1)} s`;
}
