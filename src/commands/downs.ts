/**
 * migrate-downs: adopt an existing drizzle-kit history. Writes the missing `<tag>.down.sql` of every
 * revision from its snapshots; a down file that exists (a human may have written it) is left alone.
 */
import { loadProjectConfig, type DialectName, type HistoryConfig } from '../config.js';
import { resolveEnv, type CommandOptions } from '../context.js';
import { messageFromTag, readDown, readHistory, readUp, writeNewFile } from '../source.js';
import { isOnlyComments } from '../sql.js';
import { renderDownFor, type CreatedRevision } from './create.js';

export interface DownsResult {
  written: CreatedRevision[];
  kept: { dialect: DialectName; revision: string }[];
}

export async function writeMissingDowns(options: CommandOptions = {}): Promise<DownsResult> {
  const { root, env } = resolveEnv(options);
  const project = await loadProjectConfig(root, options.config ?? env.SLUICE_CONFIG);
  const result: DownsResult = { written: [], kept: [] };
  const pending: Awaited<ReturnType<typeof renderDownFor>>[] = [];
  for (const [dialect, h] of Object.entries(project.histories) as [DialectName, HistoryConfig][]) {
    const revs = readHistory(h.out).revisions;
    for (const rev of revs) {
      if (readDown(rev) !== null) {
        result.kept.push({ dialect, revision: rev.id });
        continue;
      }
      const empty = isOnlyComments(readUp(rev));
      pending.push(await renderDownFor(root, dialect, h.out, rev, revs[rev.index - 1], messageFromTag(rev.id), empty));
    }
  }
  // Everything computed first: a bad snapshot anywhere writes nothing.
  for (const p of pending) {
    writeNewFile(p.file, p.text);
    result.written.push(p.result);
  }
  return result;
}
