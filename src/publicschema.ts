/**
 * The schema public in PostgreSQL revision files, read with PostgreSQL's own scanner (libpg-query,
 * sqlparse.ts): rewriting its qualifiers so one file runs in any schema (translatePublic), and telling
 * where a text names it beyond what that rewrite reaches (publicBeyondTranslation).
 */
import { pgParser } from './sqlparse.js';

/**
 * Rewrite the schema qualifier `public.` / `"public".` to `"<to>".` using PostgreSQL's own scanner:
 * only identifier tokens followed by a `.` token change, never strings or comments. The bodies of
 * DO blocks (PL/pgSQL, which drizzle-kit writes for enum types and foreign keys) are rewritten the
 * same way. Like SQLAlchemy's schema_translate_map: the same file runs in any schema.
 */
export function translatePublic(text: string, to: string): string {
  if (to === 'public' || !/public/i.test(text)) return text; // nothing to translate: no scan
  const parser = pgParser();
  const bytes = Buffer.from(text, 'utf8');
  let tokens;
  try {
    tokens = parser.scanSync(text).tokens;
  } catch {
    return text; // does not scan: the server will report it as it is
  }
  const quoted = `"${to.replace(/"/g, '""')}"`;
  const edits: { start: number; end: number; text: string }[] = [];
  let doBody = false;
  let starts = true; // the next significant token is a statement's first (only `DO` there opens a DO block: not ON CONFLICT … DO)
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const raw = bytes.subarray(t.start, t.end).toString('utf8');
    const first = starts && !isComment(t);
    if (first) starts = false;
    if (t.tokenName === 'IDENT' && isPublicName(raw) && nextSignificant(tokens, i)?.text === '.') {
      edits.push({ start: t.start, end: t.end, text: quoted });
    } else if (first && t.tokenName !== 'IDENT' && raw.toUpperCase() === 'DO') {
      doBody = true;
    } else if (t.tokenName === 'SCONST' && doBody && raw.startsWith('$')) {
      const { tag, body } = dollarQuoted(raw);
      const translated = translatePublic(body, to);
      if (translated !== body) edits.push({ start: t.start, end: t.end, text: `${tag}${translated}${tag}` });
    } else if (raw === ';') {
      doBody = false;
      starts = true;
    }
  }
  if (edits.length === 0) return text;
  const parts: Buffer[] = [];
  let at = 0;
  for (const e of edits) {
    parts.push(bytes.subarray(at, e.start), Buffer.from(e.text, 'utf8'));
    at = e.end;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts).toString('utf8');
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
/** An identifier token naming the schema public (`public`, any case, or `"public"`). */
const isPublicName = (raw: string) => raw === '"public"' || raw.toLowerCase() === 'public';
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
