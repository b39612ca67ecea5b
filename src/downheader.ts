/**
 * sluice's down files' header: the comment lines it writes at a down's top (`-- message:`,
 * `-- sluice:manual-down-required`, `-- sluice:up-checksum`, `-- sluice:typescript-part`, `-- sluice:verified`, `-- WARNING:`), read
 * from the down's text. Pure: no files (source.ts reads them).
 */
import { checksum, earlierChecksums, isOnlyComments } from './sql.js';

export interface DownHeader {
  message?: string;
  manualReason?: string;
  /** SHA-256 of the up SQL the down was generated for. */
  upChecksum?: string;
  warnings: string[];
}

const MESSAGE_LINE = /^-- message: (.*)$/m;
const MANUAL_LINE = /^-- sluice:manual-down-required (.*)$/m;
const UP_CHECKSUM_LINE = /^-- sluice:up-checksum ([0-9a-f]{64})\b/m;
const TYPESCRIPT_PART_LINE = /^-- sluice:typescript-part (\S+)/m;

/**
 * The line naming a TypeScript revision's part, which the revision cannot run without: in its down's
 * header (migrate-create --ts, migrate-downs) and, since the fifty-second session, under drizzle-kit's
 * comment at the top of its up (migrate-create --ts), where `up` reads it at no cost (the up is read anyway).
 */
export function typescriptPartLine(file: string, side: 'up' | 'down' = 'down'): string {
  return side === 'down'
    ? `-- sluice:typescript-part ${file} (its down(db) runs before the statements below; sluice names that file when it is missing)`
    : `-- sluice:typescript-part ${file} (its up(db) runs after this file's statements; sluice names that file when it is missing)`;
}

/**
 * The TypeScript part's file name an up or a down names (`-- sluice:typescript-part`), if it names one:
 * read in the comment lines the file starts with (blank lines among them), where sluice writes it (the
 * down's header; the up's line under drizzle-kit's comment), so the words in a string, a function body
 * or a block comment further down are never taken for it; and no more of a long up is read.
 */
export function typescriptPartOf(text: string | null): string | undefined {
  if (text === null) return undefined;
  let at = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    const line = (end < 0 ? text.slice(at) : text.slice(at, end)).trim();
    if (line !== '' && !line.startsWith('--')) return undefined;
    const m = TYPESCRIPT_PART_LINE.exec(line);
    if (m) return m[1];
    if (end < 0) return undefined;
    at = end + 1;
  }
  return undefined;
}

/**
 * Which of a revision's files names a TypeScript part: its up, else its down (read only if need be).
 * `downUnlessSql`: the down is not read for an up with SQL (or none), as `up` tells it (stepprep.ts).
 */
export function partNamedIn(up: string | null, down: () => string | null, downUnlessSql = false): 'up' | 'down' | undefined {
  if (typescriptPartOf(up) !== undefined) return 'up';
  if (downUnlessSql && (up === null || !isOnlyComments(up))) return undefined;
  return typescriptPartOf(down()) !== undefined ? 'down' : undefined;
}

export function parseDownHeader(text: string): DownHeader {
  const warnings = [...text.matchAll(/^\s*-- WARNING: (.*)$/gm)].map((m) => m[1]!);
  return { message: MESSAGE_LINE.exec(text)?.[1], manualReason: MANUAL_LINE.exec(text)?.[1], upChecksum: UP_CHECKSUM_LINE.exec(text)?.[1], warnings };
}

/** The down's `-- sluice:manual-down-required` reason, if it has one (parseDownHeader's, without reading the rest). */
export function manualReasonOf(down: string): string | undefined {
  return MANUAL_LINE.exec(down)?.[1];
}

/**
 * True when the down records the checksum of an up other than this one (`up`: its text, or its SQL's
 * checksum and a way to read the text). A checksum an earlier sluice may have taken of this up before it
 * read CRLF as LF (sql.ts earlierChecksums) is this up's too.
 */
export function downIsStale(up: string | { checksum: string; text: () => string }, down: string | null): boolean {
  const recorded = down === null ? undefined : UP_CHECKSUM_LINE.exec(down)?.[1];
  if (recorded === undefined || recorded === (typeof up === 'string' ? checksum(up) : up.checksum)) return false;
  try {
    return !earlierChecksums(typeof up === 'string' ? up : up.text()).includes(recorded);
  } catch {
    return true; // the up cannot be read now: the recorded checksum is not shown to be its
  }
}

/** True when the down records the checksum of an up (`-- sluice:up-checksum`) and it is `up`'s (as downIsStale reads it). */
export function downRecordsUp(up: { checksum: string; text: () => string }, down: string | null): boolean {
  return down !== null && UP_CHECKSUM_LINE.test(down) && !downIsStale(up, down);
}

/**
 * A down that sluice proved on a scratch database (its header says `sluice:verified`): when it holds
 * no statement, that is the proven inverse (an up that changes only rows, grants or comments).
 */
export function downIsProven(down: string | null): boolean {
  return down !== null && /^-- sluice:verified /m.test(down) && !/^-- sluice:manual-down-required/m.test(down);
}

/** True when the down file holds no statement (missing, or comments only). */
export function downIsEmpty(down: string | null): boolean {
  return down === null || isOnlyComments(down.replace(/--> statement-breakpoint/g, ''));
}
