/**
 * A cache of parsed revision files, so a run parses only files it has not seen: the SQLite parser
 * costs ~250 ms to load and ~2 ms a file, PostgreSQL's ~30 ms and a fraction of a millisecond.
 *
 * One file per project (`pack-<hash>.json` in the nearest node_modules/.cache/sluice/parsed/) holds
 * an entry per (parser versions, sluice's classification code, dialect, SHA-256 of the text), so a
 * run over 1000 revisions reads one file, not 1000. An entry stores where each statement and comment
 * lies in the text (offsets, not copies), with the parser's classification. A project without a pack
 * yet starts from the one written last in that folder (packOf). An entry is used only when those
 * spans lie in the text in order and cover all of it but whitespace, `;` and breakpoints (load): a stale or damaged
 * entry is ignored and the file parsed again. New entries are written once, after the run's first wait or at exit; a pack that
 * cannot be written is only slower. SLUICE_NO_PARSE_CACHE=1 disables it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DialectName, SqliteEngine } from './config.js';
import { FOLDER_CACHES_KEPT, pruneCacheFiles, sluiceCacheDir, writeAtomically } from './cachedir.js';
import { loadParser, parseSql, type ParsedSql, type SqlStatement } from './sqlparse.js';
import { sha256 } from './hash.js';
import { forgetQualifiers, publicQualifiers, rememberQualifiers } from './publicschema.js';

const PARSERS = 'libpg-query@18.1.5;sql-parser-cst@0.42.1';
/** 3: a PostgreSQL statement's `public` qualifiers (publicschema.ts) are stored with it. */
const PACK_FORMAT = 3;
/** Entries kept when a pack is written, at least (more when one run uses more). */
const PACK_KEEP = 4000;

let format: string | undefined;
/** The cache key covers the parsers and sluice's own classification code: a new sluice re-parses. */
function formatKey(): string {
  if (format === undefined) {
    let own = '';
    try {
      // the classification, and where the `public` qualifiers are found (both stored in an entry)
      own = sha256(readFileSync(fileURLToPath(new URL('./sqlparse.js', import.meta.url))), readFileSync(fileURLToPath(new URL('./publicschema.js', import.meta.url))));
    } catch {
      own = String(Date.now()); // unreadable: never reuse entries
    }
    format = `sluice-parse;${PARSERS};${own}`;
  }
  return format;
}

/**
 * A statement as stored: offset and length in the text, line, kind, its three flags as bits, and
 * (PostgreSQL) the UTF-8 byte offsets in the statement of the `public` qualifiers a run in another
 * schema rewrites (publicschema.ts), so that run need not load the scanner to find them.
 */
type StoredStatement = [offset: number, length: number, line: number, kind: string, flags: number, publicAt: number[]];
/** A comment as stored: offset and length in the text, and its line. */
type StoredComment = [offset: number, length: number, line: number];
interface StoredEntry {
  s: StoredStatement[];
  c: StoredComment[];
}

interface Pack {
  /** The project folder: a pack is not written once it is gone (a temp project removed before exit). */
  root: string;
  file: string | undefined;
  entries: Map<string, StoredEntry>;
  used: Set<string>;
  dirty: boolean;
  scheduled: boolean;
  /** Its entries came from another project's pack (packOf): written as the project's own once used. */
  seeded: boolean;
}

const packs = new Map<string, Pack>();
const PACK_NAME = /^pack-[0-9a-f]{32}\.json$/;
const stats = { hits: 0, misses: 0 };

/** Entries used and files parsed by this process (diagnostics; `make bench` and tests read it). */
export function parseCacheStats(): { hits: number; misses: number } {
  return { ...stats };
}

/** Load the project's pack now (prefetch.ts: while the command waits for its database). */
export function warmParseCache(root: string): void {
  packOf(root);
}

function packOf(root: string): Pack {
  let pack = packs.get(root);
  if (pack) return pack;
  const dir = process.env.SLUICE_NO_PARSE_CACHE === '1' ? undefined : sluiceCacheDir(root, 'parsed');
  const file = dir ? path.join(dir, `pack-${sha256(path.resolve(root)).slice(0, 32)}.json`) : undefined;
  pack = { root, file, entries: new Map(), used: new Set(), dirty: false, scheduled: false, seeded: false };
  if (dir && file) {
    const own = readPack(file);
    // A project's first run on this node_modules (a new checkout or worktree beside another, an app of a
    // monorepo, each test's copy of the example project) starts from the pack written last in the
    // folder: entries are keyed by the text they describe, so another project's are as good for the
    // files both have (the same history, or a shared start), and a miss parses as before.
    const seed = own ?? (existsSync(file) ? undefined : readPack(newestPack(dir)));
    if (seed) pack.entries = seed;
    pack.seeded = !own && !!seed;
  }
  packs.set(root, pack);
  return pack;
}

/** A pack's entries, or undefined when it is missing, unreadable or of another format or parser build. */
function readPack(file: string | undefined): Map<string, StoredEntry> | undefined {
  if (!file) return undefined;
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown; key?: unknown; entries?: unknown };
    if (data.format === PACK_FORMAT && data.key === formatKey() && data.entries && typeof data.entries === 'object') {
      return new Map(Object.entries(data.entries as Record<string, StoredEntry>));
    }
  } catch {
    /* missing or unreadable */
  }
  return undefined;
}

/** The pack of `dir` written last, if any. */
function newestPack(dir: string): string | undefined {
  let best: string | undefined;
  let bestMs = -Infinity;
  try {
    for (const name of readdirSync(dir)) {
      if (!PACK_NAME.test(name)) continue;
      const ms = statSync(path.join(dir, name), { throwIfNoEntry: false })?.mtimeMs ?? -Infinity;
      if (ms > bestMs) [best, bestMs] = [path.join(dir, name), ms];
    }
  } catch {
    /* no folder yet */
  }
  return best;
}

/** Write the packs that gained entries (atomically: a reader sees the old pack or the new one). */
export function flushParseCache(): void {
  for (const pack of packs.values()) {
    pack.scheduled = false;
    if (!pack.file || !pack.dirty) continue;
    pack.dirty = false;
    if (!existsSync(pack.root)) continue; // removed by its caller: writing would make the folders again
    let entries = [...pack.entries];
    if (entries.length > Math.max(PACK_KEEP, 2 * pack.used.size)) entries = entries.filter(([k]) => pack.used.has(k));
    try {
      writeAtomically(pack.file, JSON.stringify({ format: PACK_FORMAT, key: formatKey(), entries: Object.fromEntries(entries) }));
      pruneCacheFiles(path.dirname(pack.file), PACK_NAME, FOLDER_CACHES_KEPT, pack.file);
    } catch {
      /* a cache that cannot be written is only slower */
    }
  }
}

/** Forget the packs this process read, without writing them: the next parse reads them again, as a new process would. */
export function forgetParseCache(): void {
  packs.clear();
  forgetQualifiers();
}

let exitHook = false;
function schedule(pack: Pack): void {
  pack.dirty = true;
  if (!exitHook) {
    exitHook = true;
    process.once('exit', flushParseCache);
  }
  if (pack.scheduled) return;
  pack.scheduled = true;
  setTimeout(flushParseCache, 0).unref();
}

/**
 * The entry for a parse of `text`, or undefined when the parse is not made of spans of the text. Each
 * statement and comment is found at its own line (a note comment may quote a statement word for word).
 */
function store(text: string, parsed: ParsedSql, dialect: DialectName): StoredEntry | undefined {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  /** Where `part` is, from `at` on, on line `line` (1-based); -1 when it is not there. */
  const find = (part: string, at: number, line: number) => {
    const from = Math.max(at, starts[line - 1] ?? Infinity);
    const i = text.indexOf(part, from);
    return i >= 0 && i < (starts[line] ?? Infinity) ? i : -1;
  };
  const s: StoredStatement[] = [];
  let at = 0;
  for (const st of parsed.statements) {
    const i = find(st.text, at, st.line);
    if (i < 0) return undefined;
    const publicAt = dialect === 'postgresql' ? publicQualifiers(st.text) : [];
    if (dialect === 'postgresql') rememberQualifiers(st.text, publicAt);
    s.push([i, st.text.length, st.line, st.kind, (st.transactionControl ? 1 : 0) | (st.setsSearchPath ? 2 : 0) | (st.outsideTransaction ? 4 : 0), publicAt]);
    at = i + st.text.length;
  }
  const c: StoredComment[] = [];
  at = 0;
  for (const [k, comment] of parsed.comments.entries()) {
    const line = parsed.commentLines[k] ?? 0;
    const i = find(comment, at, line);
    if (i < 0) return undefined;
    c.push([i, comment.length, line]);
    at = i + comment.length;
  }
  return { s, c };
}

const spansOk = (spans: unknown, size: number, text: string): boolean => {
  if (!Array.isArray(spans)) return false;
  let end = 0;
  for (const sp of spans) {
    if (!Array.isArray(sp) || !Number.isInteger(sp[0]) || !Number.isInteger(sp[1]) || sp[0] < end || sp[1] < 0 || sp[0] + sp[1] > text.length || sp.length !== size) return false;
    end = sp[0] + sp[1];
  }
  return true;
};

/** What may lie between statements and comments: whitespace, `;`, drizzle-kit's breakpoint markers. */
const BETWEEN = /^(?:[\s;]|-->\s*statement-breakpoint)*$/;

/** True when every character outside the spans is whitespace, `;` or a breakpoint: no SQL is left out of the statements. */
function covers(text: string, spans: [number, number, ...unknown[]][]): boolean {
  let at = 0;
  for (const [offset, length] of [...spans].sort((a, b) => a[0] - b[0])) {
    if (offset > at && !BETWEEN.test(text.slice(at, offset))) return false;
    at = Math.max(at, offset + length);
  }
  return BETWEEN.test(text.slice(at));
}

/**
 * The parse an entry describes, or undefined when it does not fit the text (stale or damaged): its
 * spans must lie in the text in order, and, with the comments', cover all of it but whitespace, `;`
 * and breakpoint markers, so a statement cut short or left out is refused. (Like the rest of node_modules, the cache is
 * trusted not to be forged with care: whoever can write it can change sluice itself.)
 */
function load(text: string, e: StoredEntry, dialect: DialectName): ParsedSql | undefined {
  if (!e || !spansOk(e.s, 6, text) || !spansOk(e.c, 3, text) || !covers(text, [...e.s, ...e.c])) return undefined;
  const statements: SqlStatement[] = [];
  for (const [offset, length, line, kind, flags] of e.s) {
    if (typeof kind !== 'string' || typeof line !== 'number' || typeof flags !== 'number') return undefined;
    statements.push({ text: text.slice(offset, offset + length), line, kind, transactionControl: (flags & 1) !== 0, setsSearchPath: (flags & 2) !== 0, outsideTransaction: (flags & 4) !== 0 });
  }
  // the entry is whole: a PostgreSQL statement's qualifiers are kept (each checked there to lie in it as a name public)
  if (dialect === 'postgresql') e.s.forEach((st, k) => rememberQualifiers(statements[k]!.text, st[5]));
  return { statements, comments: e.c.map(([o, l]) => text.slice(o, o + l)), commentLines: e.c.map(([, , line]) => line) };
}

/** Parse `text` as `dialect`, from the cache of the project at `root` when it has a valid entry. */
export async function parseRevision(text: string, dialect: DialectName, root: string, engine?: SqliteEngine): Promise<ParsedSql> {
  const pack = packOf(root);
  const key = pack.file ? sha256(`${dialect}${engine === 'libsql' ? '/libsql' : ''}\n`, text).slice(0, 40) : '';
  if (pack.file) {
    const hit = pack.entries.get(key);
    const parsed = hit && load(text, hit, dialect);
    if (parsed) {
      pack.used.add(key);
      stats.hits += 1;
      if (pack.seeded) {
        pack.seeded = false; // written once as the project's own (with what it borrowed: its later commands read other files)
        schedule(pack);
      }
      return parsed;
    }
  }
  stats.misses += 1;
  await loadParser(dialect);
  const parsed = parseSql(text, dialect, engine);
  const entry = pack.file ? store(text, parsed, dialect) : undefined;
  if (entry) {
    pack.entries.set(key, entry);
    pack.used.add(key);
    schedule(pack);
  }
  return parsed;
}
