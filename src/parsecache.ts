/**
 * A cache of parsed revision files, so a run parses only files it has not seen: the SQLite parser
 * costs ~250 ms to load and ~2 ms a file, PostgreSQL's ~30 ms and a fraction of a millisecond.
 * Entries live in the nearest node_modules/.cache/sluice/parsed/, one file per (dialect, parser
 * versions, SHA-256 of the text). An entry is used only if every statement it lists is found in the
 * text, in order, and every comment too: a stale or tampered entry is ignored and the file re-parsed.
 * SLUICE_NO_PARSE_CACHE=1 disables it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DialectName, SqliteEngine } from './config.js';
import { loadParser, parseSql, type ParsedSql } from './sqlparse.js';

const PARSERS = 'libpg-query@18.1.5;sql-parser-cst@0.42.1';
let format: string | undefined;
/** The cache key covers the parsers and sluice's own classification code: a new sluice re-parses. */
function formatKey(): string {
  if (format === undefined) {
    let own = '';
    try {
      own = createHash('sha256').update(readFileSync(fileURLToPath(new URL('./sqlparse.js', import.meta.url)))).digest('hex');
    } catch {
      own = String(Date.now()); // unreadable: never reuse entries
    }
    format = `sluice-parse;${PARSERS};${own}`;
  }
  return format;
}

export interface ParseCache {
  dir?: string;
}

/** sluice's folder in the nearest node_modules/.cache of the project at `root` (undefined without node_modules). */
export function sluiceCacheDir(root: string, name: string): string | undefined {
  for (let dir = root; ; dir = path.dirname(dir)) {
    const modules = path.join(dir, 'node_modules');
    if (existsSync(modules)) return path.join(modules, '.cache', 'sluice', name);
    if (dir === path.dirname(dir)) return undefined;
  }
}

const dirs = new Map<string, string | undefined>();
function cacheDir(root: string): string | undefined {
  if (process.env.SLUICE_NO_PARSE_CACHE === '1') return undefined;
  if (!dirs.has(root)) dirs.set(root, sluiceCacheDir(root, 'parsed'));
  return dirs.get(root);
}

/** True when the entry describes this text: its statements and comments appear in it, in order. */
function matches(text: string, parsed: ParsedSql): boolean {
  let at = 0;
  for (const s of parsed.statements) {
    const i = text.indexOf(s.text, at);
    if (i < 0 || typeof s.line !== 'number' || typeof s.transactionControl !== 'boolean' || typeof s.setsSearchPath !== 'boolean' || typeof s.outsideTransaction !== 'boolean') return false;
    at = i + s.text.length;
  }
  return parsed.comments.every((c) => typeof c === 'string' && text.includes(c));
}

/** Parse `text` as `dialect`, from the cache of the project at `root` when it has a valid entry. */
export async function parseRevision(text: string, dialect: DialectName, root: string, engine?: SqliteEngine): Promise<ParsedSql> {
  const dir = cacheDir(root);
  const key = createHash('sha256').update(`${formatKey()}\n${dialect}${engine === 'libsql' ? '/libsql' : ''}\n`).update(text).digest('hex');
  const file = dir ? path.join(dir, `${key.slice(0, 40)}.json`) : undefined;
  if (file) {
    try {
      const hit = JSON.parse(readFileSync(file, 'utf8')) as ParsedSql;
      if (Array.isArray(hit.statements) && Array.isArray(hit.comments) && matches(text, hit)) return hit;
    } catch {
      /* missing or unreadable: parse */
    }
  }
  await loadParser(dialect);
  const parsed = parseSql(text, dialect, engine);
  if (file) {
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(`${file}.${process.pid}`, JSON.stringify(parsed));
      renameSync(`${file}.${process.pid}`, file);
    } catch {
      /* a cache that cannot be written is only slower */
    }
  }
  return parsed;
}
