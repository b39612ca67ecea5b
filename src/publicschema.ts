/**
 * The schema public in PostgreSQL revision files, read with PostgreSQL's own scanner (libpg-query,
 * sqlparse.ts): rewriting its qualifiers so one file runs in any schema (translatePublic), and telling
 * where a text names it beyond what that rewrite reaches (publicBeyondTranslation).
 */
import { loadParser, pgParser } from './sqlparse.js';

/**
 * Rewrite the schema qualifier `public.` / `"public".` to `"<to>".` using PostgreSQL's own scanner:
 * only identifier tokens followed by a `.` token change, never strings or comments. The bodies of
 * DO blocks (PL/pgSQL, which drizzle-kit writes for enum types and foreign keys) are rewritten the
 * same way. Like SQLAlchemy's schema_translate_map: the same file runs in any schema.
 *
 * Where the qualifiers lie does not depend on `to`: a text's are found once (publicQualifiers) and
 * kept, and the parse cache (parsecache.ts) stores them with each statement, so a run whose files it
 * has parsed before translates them without loading the scanner (~50–90 ms of CPU a command here).
 * Call readyToTranslate before translating a text that may not be known yet.
 */
export function translatePublic(text: string, to: string): string {
  if (to === 'public' || !MAY_NAME.test(text)) return text; // nothing to translate: no scan
  let at = known.get(text);
  if (at === undefined) known.set(text, (at = publicQualifiers(text)));
  if (at.length === 0) return text;
  const bytes = Buffer.from(text, 'utf8');
  const quoted = Buffer.from(`"${to.replace(/"/g, '""')}"`, 'utf8');
  const parts: Buffer[] = [];
  let from = 0;
  for (const start of at) {
    parts.push(bytes.subarray(from, start), quoted);
    from = start + nameLength(bytes, start);
  }
  parts.push(bytes.subarray(from));
  return Buffer.concat(parts).toString('utf8');
}

/** A text that may name the schema public: the word, or a `U&"…"` name (its escapes can spell it). */
const MAY_NAME = /public|u&"/i;

/** The qualifiers of the texts seen so far: UTF-8 byte offsets of each `public` translatePublic rewrites. */
const known = new Map<string, readonly number[]>();

/** Bytes of the name at `start`: `"public"`, `public` in any case, or a `U&"…"` spelling of it (to its closing quote). */
function nameLength(bytes: Buffer, start: number): number {
  if (bytes[start] === 0x22) return 8;
  if (bytes[start] !== 0x55 && bytes[start] !== 0x75) return 6;
  for (let i = start + 3; i < bytes.length; i++) {
    if (bytes[i] !== 0x22) continue;
    if (bytes[i + 1] !== 0x22) return i + 1 - start;
    i++; // "" inside the name
  }
  return bytes.length - start;
}

/**
 * The UTF-8 byte offsets, in order, of the `public` / `"public"` qualifiers translatePublic rewrites
 * in `text`, DO blocks' bodies included; none when the text does not scan (the server reports it as
 * it is). Needs the scanner loaded (loadParser).
 */
export function publicQualifiers(text: string): number[] {
  const found: number[] = [];
  if (MAY_NAME.test(text)) collectQualifiers(text, 0, found);
  return found;
}

function collectQualifiers(text: string, base: number, found: number[]): void {
  const bytes = Buffer.from(text, 'utf8');
  const parser = pgParser(); // throws when not loaded (readyToTranslate): never read as "does not scan"
  let tokens;
  try {
    tokens = parser.scanSync(text).tokens;
  } catch {
    return; // does not scan: left as it is
  }
  let doBody = false;
  let starts = true; // the next significant token is a statement's first (only `DO` there opens a DO block: not ON CONFLICT … DO)
  let before: string[] = []; // the two significant tokens before this one, upper case
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const raw = bytes.subarray(t.start, t.end).toString('utf8');
    const first = starts && !isComment(t);
    if (first) starts = false;
    if ((t.tokenName === 'IDENT' || /^u&"/i.test(raw)) && isPublicName(raw) && (nextSignificant(tokens, i)?.text === '.' || (before[0] === 'SET' && before[1] === 'SCHEMA'))) {
      // a qualifier, or the schema an ALTER … SET SCHEMA moves an object to (drizzle-kit writes
      // `ALTER TABLE "x"."t" SET SCHEMA public;` for a table moved from pgSchema("x") to pgTable)
      found.push(base + t.start);
    } else if (first && t.tokenName !== 'IDENT' && raw.toUpperCase() === 'DO') {
      doBody = true;
    } else if (t.tokenName === 'SCONST' && doBody && raw.startsWith('$')) {
      const { tag, body } = dollarQuoted(raw);
      if (MAY_NAME.test(body)) collectQualifiers(body, base + t.start + Buffer.byteLength(tag), found);
    } else if (raw === ';') {
      doBody = false;
      starts = true;
    }
    if (!isComment(t)) before = [before[1] ?? '', raw.toUpperCase()];
  }
}

/**
 * Keep qualifiers read elsewhere (a parse cache entry) for `text`, when each lies in it as a name
 * `public` (a stale or damaged entry is dropped: the text is scanned when translated).
 */
export function rememberQualifiers(text: string, at: unknown): void {
  if (!Array.isArray(at) || known.has(text)) return;
  if (at.length === 0) {
    known.set(text, at as number[]);
    return;
  }
  const bytes = Buffer.from(text, 'utf8');
  let end = 0;
  for (const start of at) {
    if (!Number.isInteger(start) || start < end || start + nameLength(bytes, start) > bytes.length) return;
    end = start + nameLength(bytes, start);
    if (!isPublicName(bytes.subarray(start, end).toString('utf8'))) return;
  }
  known.set(text, at as number[]);
}

/** Forget the qualifiers kept (parsecache.ts forgetParseCache: as a new process would start). */
export function forgetQualifiers(): void {
  known.clear();
}

/** Load the scanner if translating one of `texts` to `to` needs it (a text mentioning public whose qualifiers are not known). */
export async function readyToTranslate(texts: readonly string[], to: string | undefined): Promise<void> {
  if (to === 'public') return;
  if (texts.some((t) => !known.has(t) && MAY_NAME.test(t))) await loadParser('postgresql');
}

/** A bare `public` that is the role PUBLIC: a grantee of GRANT/REVOKE (not `ON SCHEMA public`), a policy's role (`CREATE POLICY … TO public`). */
function roleNamed(first: string | undefined, second: string | undefined, previous: string | undefined): boolean {
  if (first === 'GRANT' || first === 'REVOKE') return previous !== 'SCHEMA';
  return (first === 'CREATE' || first === 'ALTER') && second === 'POLICY' && (previous === 'TO' || previous === ',');
}

/** Words that make a `'public'` string in the same statement a schema's name (a catalog lookup, search_path). */
const SCHEMA_CONTEXT = /search_path|table_schema|schemaname|schema_name|nspname|regnamespace|pg_namespace|information_schema|current_schema/i;

/**
 * Whether a PostgreSQL text names the schema public where translatePublic leaves it as it is: a bare
 * `public` (`SET search_path = pg_catalog, public` on a function, `CREATE SCHEMA public`, `GRANT … ON
 * SCHEMA public`), a `public.` qualifier in a function's body (DO blocks' bodies are rewritten,
 * functions' are not) or in a string (`'public.users'::regclass`), or a `'public'` string in a
 * statement that reads the catalog or sets search_path (`WHERE table_schema = 'public'`). Comments, the
 * qualifiers translatePublic rewrites, the role PUBLIC of GRANT and REVOKE, and other strings (an enum
 * value 'public') do not count. Replayed in a scratch schema, such a text would reach for the real
 * public (the caller then prefers a scratch database).
 */
export function publicBeyondTranslation(text: string, functionBody = false): boolean {
  if (!/public/i.test(text)) return false;
  const bytes = Buffer.from(text, 'utf8');
  let tokens;
  try {
    tokens = pgParser().scanSync(text).tokens;
  } catch {
    return false; // does not scan: the replay reports it as it is (a body that is not SQL: nothing to see)
  }
  let first: string | undefined; // the statement's first word
  let second: string | undefined;
  let previous: string | undefined; // the last significant token's text, upper case
  let doBody = false;
  let context = false; // the statement reads the catalog or names search_path
  let publicString = false; // the statement has a 'public' string
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isComment(t)) continue;
    const raw = bytes.subarray(t.start, t.end).toString('utf8');
    if (first === undefined) first = raw.toUpperCase();
    else second ??= raw.toUpperCase();
    if (SCHEMA_CONTEXT.test(raw)) context = true;
    if (t.tokenName === 'IDENT' && isPublicName(raw)) {
      if (nextSignificant(tokens, i)?.text === '.') {
        if (functionBody) return true;
      } else if (!roleNamed(first, second, previous)) return true;
    } else if (second === undefined && t.tokenName !== 'IDENT' && raw.toUpperCase() === 'DO') {
      doBody = true; // a DO block (its first word), not ON CONFLICT … DO
    } else if (t.tokenName === 'SCONST') {
      if (raw.startsWith('$')) {
        if (publicBeyondTranslation(dollarQuoted(raw).body, functionBody || !doBody)) return true;
      } else if (/\bpublic\s*"?\s*\./i.test(raw)) return true;
      else if (/\bpublic\b/i.test(raw)) publicString = true;
    }
    if (raw === ';') {
      if (publicString && context) return true;
      doBody = context = publicString = false;
      first = second = previous = undefined;
    } else previous = raw.toUpperCase();
  }
  return publicString && context;
}

const isComment = (t: { tokenName: string }) => t.tokenName === 'SQL_COMMENT' || t.tokenName === 'C_COMMENT';
/** An identifier token naming the schema public (`public`, any case, `"public"`, or `U&"public"`, also spelled with Unicode escapes: `U&"\0070ublic"`). */
const isPublicName = (raw: string) => raw === '"public"' || raw.toLowerCase() === 'public' || unicodeName(raw) === 'public';

/**
 * The name a `U&"…"` identifier token spells, its escapes (`\XXXX`, `\+XXXXXX`, `\\`) decoded with the
 * default escape character; undefined for any other token, or an escape that does not decode (one
 * meant for a `UESCAPE` clause: such a name is left as it is).
 */
function unicodeName(raw: string): string | undefined {
  const m = /^u&"((?:[^"]|"")*)"$/is.exec(raw);
  if (!m) return undefined;
  const body = m[1]!.replace(/""/g, '"');
  let out = '';
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') out += body[i];
    else if (body[i + 1] === '\\') out += body[++i];
    else {
      const hex = body[i + 1] === '+' ? /^\+([0-9a-f]{6})/i.exec(body.slice(i + 1)) : /^([0-9a-f]{4})/i.exec(body.slice(i + 1));
      const code = hex ? parseInt(hex[1]!, 16) : NaN;
      if (!hex || code > 0x10ffff) return undefined;
      out += String.fromCodePoint(code);
      i += hex[0].length;
    }
  }
  return out;
}
/** A dollar-quoted string token's tag and body. */
function dollarQuoted(raw: string): { tag: string; body: string } {
  const tag = /^\$[^$]*\$/.exec(raw)![0];
  return { tag, body: raw.slice(tag.length, raw.length - tag.length) };
}

function nextSignificant<T extends { tokenName: string; text: string }>(tokens: T[], i: number): T | undefined {
  for (let j = i + 1; j < tokens.length; j++) {
    if (!isComment(tokens[j]!)) return tokens[j];
  }
  return undefined;
}

/**
 * Whether one statement drops, renames or gives away the schema public itself (`DROP SCHEMA [IF
 * EXISTS] public [CASCADE]`, `ALTER SCHEMA public RENAME TO … / OWNER TO …`). Under a DATABASE_SCHEMA
 * other than public such a statement acts on the real public schema, which no translation reaches
 * (found by a hunt: a down's `DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;` emptied the
 * real public, "reverted", exit 0). `kind`: the statement's kind, from the parse (cached).
 */
export async function changesPublicSchema(text: string, kind: string): Promise<boolean> {
  if ((kind !== 'DropStmt' && kind !== 'RenameStmt' && kind !== 'AlterOwnerStmt') || !/public/i.test(text) || !/\bschema\b/i.test(text)) return false;
  await loadParser('postgresql');
  let node: Record<string, unknown> | undefined;
  try {
    node = (pgParser().parseSync(text) as { stmts?: { stmt?: Record<string, Record<string, unknown>> }[] }).stmts?.[0]?.stmt?.[kind];
  } catch {
    return false; // the run's own parse reports it
  }
  const named = (v: unknown) => (v as { String?: { sval?: string } } | undefined)?.String?.sval === 'public';
  if (!node) return false;
  if (kind === 'DropStmt') return node.removeType === 'OBJECT_SCHEMA' && Array.isArray(node.objects) && node.objects.some(named);
  if (kind === 'RenameStmt') return node.renameType === 'OBJECT_SCHEMA' && node.subname === 'public';
  return node.objectType === 'OBJECT_SCHEMA' && named(node.object);
}
