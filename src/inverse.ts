/**
 * Known inverses of statements that drizzle-kit's snapshots cannot describe (extensions, functions,
 * triggers, views, policies, sequences, types, extra indexes), read from PostgreSQL's own parse tree.
 * The down verification (prove.ts) tries them only when a down leaves such objects behind, and keeps
 * them only when the down then proves out; otherwise the down stays flagged with the difference.
 * Identifiers are quoted through one helper; nothing is built from the statement's text.
 */
import { createRequire } from 'node:module';
import { quoteIdent, quoteLiteral } from './sql.js';
import { untagged } from './introspect.js';

type Node = Record<string, any>;

export interface Inverse {
  /** The up statement's first line, for the comment above its inverse. */
  of: string;
  sql: string;
  /** Drop it before the down's own statements (it depends on tables) or after them (tables depend on it). */
  when: 'before' | 'after';
  /** The object's name as the schema description shows it (`extension pgcrypto`, `index ix`...). */
  object: string;
  /** A comment line the down carries above it (what the reader should know before running it). */
  note?: string;
}

const names = (list: Node[] | undefined): string[] => (list ?? []).map((n) => String(n.String?.sval ?? ''));
const last = (list: Node[] | undefined): string => names(list).at(-1) ?? '';

function inverseOf(stmt: Node): Omit<Inverse, 'of'> | undefined {
  const [kind] = Object.keys(stmt);
  const n = stmt[kind!] as Node;
  switch (kind) {
    case 'CreateExtensionStmt': {
      const name = String(n.extname);
      if (!n.if_not_exists) return { sql: `DROP EXTENSION IF EXISTS ${quoteIdent(name)}`, when: 'after', object: `extension ${name}` };
      // The up makes it only where it is missing, and an extension is the whole database's: one another
      // tenant's run made (in its schema), or one there before the history, was dropped by this down (a
      // hunt: a tenant's down took pg_trgm from public and from another tenant, exit 0). Dropped only from
      // the schema the run works in, where this history's up puts it (unless it names another).
      if (name.includes('$sluice$')) return undefined;
      return {
        sql: `DO $sluice$ BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace s ON s.oid = e.extnamespace WHERE e.extname = ${quoteLiteral(name)} AND s.nspname = pg_catalog.current_schema()) THEN DROP EXTENSION ${quoteIdent(name)}; END IF; END $sluice$`,
        when: 'after',
        object: `extension ${name}`,
        note: `the up makes extension ${name} only if it is missing (IF NOT EXISTS), and an extension serves the whole database: it is dropped only from the schema the run works in (if it was there before the up, delete this statement)`,
      };
    }
    case 'IndexStmt':
      return n.idxname ? { sql: `DROP INDEX IF EXISTS ${quoteIdent(n.idxname)}`, when: 'before', object: `index ${n.idxname}` } : undefined;
    case 'CreateFunctionStmt':
      return { sql: `DROP ${n.is_procedure ? 'PROCEDURE' : 'FUNCTION'} IF EXISTS ${quoteIdent(last(n.funcname))}`, when: 'after', object: `function ${last(n.funcname)}(` };
    case 'CreateTrigStmt':
      return { sql: `DROP TRIGGER IF EXISTS ${quoteIdent(n.trigname)} ON ${quoteIdent(n.relation.relname)}`, when: 'before', object: `trigger ${n.relation.relname}.${n.trigname}` };
    case 'ViewStmt':
      return { sql: `DROP VIEW IF EXISTS ${quoteIdent(n.view.relname)}`, when: 'before', object: `view ${n.view.relname}` };
    case 'CreateTableAsStmt':
      return n.objtype === 'OBJECT_MATVIEW'
        ? { sql: `DROP MATERIALIZED VIEW IF EXISTS ${quoteIdent(n.into.rel.relname)}`, when: 'before', object: `materialized view ${n.into.rel.relname}` }
        : undefined;
    case 'CreatePolicyStmt':
      return { sql: `DROP POLICY IF EXISTS ${quoteIdent(n.policy_name)} ON ${quoteIdent(n.table.relname)}`, when: 'before', object: `policy ${n.table.relname}.${n.policy_name}` };
    case 'CreateSeqStmt':
      return { sql: `DROP SEQUENCE IF EXISTS ${quoteIdent(n.sequence.relname)}`, when: 'after', object: `sequence ${n.sequence.relname}` };
    case 'CreateEnumStmt':
      return { sql: `DROP TYPE IF EXISTS ${quoteIdent(last(n.typeName))}`, when: 'after', object: `enum ${last(n.typeName)}` };
    case 'CreateDomainStmt':
      return { sql: `DROP DOMAIN IF EXISTS ${quoteIdent(last(n.domainname))}`, when: 'after', object: `domain ${last(n.domainname)}` };
    default:
      return undefined;
  }
}

/**
 * Inverses of the up's statements whose objects are among `leftovers` (schema lines found after the
 * down that the previous revision did not have: `+ extension pgcrypto`...). PostgreSQL only.
 */
export function inversesFor(upStatements: string[], leftovers: string[]): Inverse[] {
  const pg = createRequire(import.meta.url)('libpg-query') as PgParser;
  const found: Inverse[] = [];
  for (const text of upStatements) {
    let stmts: { stmt: Node }[] = [];
    try {
      stmts = pg.parseSync(text).stmts ?? [];
    } catch {
      continue;
    }
    for (const stmt of stmts.flatMap(({ stmt }) => [stmt, ...insideDo(pg, stmt)])) {
      const inv = inverseOf(stmt);
      // (a leftover in another schema the history names reads `+ [name] <object>`: its drop finds it by the search path)
      if (inv && leftovers.some((l) => l.startsWith('+ ') && untagged(l.slice(2)).startsWith(inv.object))) found.push({ ...inv, of: text.split('\n')[0]!.slice(0, 100) });
    }
  }
  return found;
}

type PgParser = { parseSync(sql: string): { stmts?: { stmt: Node }[] }; parsePlPgSQLSync(sql: string): unknown };

/**
 * The SQL statements a `DO` block runs (drizzle-kit wrote `DO $$ BEGIN CREATE TYPE …; EXCEPTION WHEN
 * duplicate_object THEN null; END $$`), read with PostgreSQL's PL/pgSQL parser. Empty for anything else.
 */
function insideDo(pg: PgParser, stmt: Node): Node[] {
  const args = (stmt.DoStmt?.args ?? []) as Node[];
  const body = args.find((a) => a.DefElem?.defname === 'as')?.DefElem.arg?.String?.sval as string | undefined;
  const language = args.find((a) => a.DefElem?.defname === 'language')?.DefElem.arg?.String?.sval as string | undefined;
  if (body === undefined || (language && language.toLowerCase() !== 'plpgsql')) return [];
  const queries: string[] = [];
  const walk = (n: unknown): void => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) return n.forEach(walk);
    const o = n as Node;
    if (o.PLpgSQL_stmt_execsql) queries.push(String(o.PLpgSQL_stmt_execsql.sqlstmt?.PLpgSQL_expr?.query ?? ''));
    else Object.values(o).forEach(walk);
  };
  try {
    const tag = `$sluice_${Math.random().toString(36).slice(2)}$`;
    walk(pg.parsePlPgSQLSync(`CREATE FUNCTION sluice_do() RETURNS void LANGUAGE plpgsql AS ${tag}${body}${tag}`));
    return queries.flatMap((q) => (pg.parseSync(q).stmts ?? []).map((x) => x.stmt));
  } catch {
    return [];
  }
}

/** The qualified name of the enum a `CREATE TYPE … AS ENUM` statement creates, else undefined. */
export function createdEnum(sql: string): string[] | undefined {
  const pg = createRequire(import.meta.url)('libpg-query') as { parseSync(sql: string): { stmts?: { stmt: Node }[] } };
  try {
    const stmts = pg.parseSync(sql).stmts ?? [];
    const n = stmts.length === 1 ? stmts[0]!.stmt.CreateEnumStmt : undefined;
    return n ? names(n.typeName) : undefined;
  } catch {
    return undefined;
  }
}

/** `[relation, column]` of an `ALTER TABLE … ALTER COLUMN … TYPE` statement (one command), quoted, else undefined. */
export function alteredColumnType(sql: string): [string, string] | undefined {
  const pg = createRequire(import.meta.url)('libpg-query') as PgParser;
  try {
    const stmts = pg.parseSync(sql).stmts ?? [];
    const n = stmts.length === 1 ? stmts[0]!.stmt.AlterTableStmt : undefined;
    const cmd = n?.cmds?.length === 1 ? n.cmds[0].AlterTableCmd : undefined;
    if (cmd?.subtype !== 'AT_AlterColumnType') return undefined;
    const rel = [n.relation.schemaname, n.relation.relname].filter(Boolean).map((x: string) => quoteIdent(x)).join('.');
    return [rel, quoteIdent(cmd.name)];
  } catch {
    return undefined;
  }
}

/**
 * The functions, triggers and indexes these statements create: the object's name as the schema
 * description shows it (`function f(`, `trigger t.name`, `index ix`), its drop, and the statement.
 */
export function definitionsIn(statements: string[]): { object: string; drop: string; text: string }[] {
  const pg = createRequire(import.meta.url)('libpg-query') as PgParser;
  return statements.flatMap((text) => {
    try {
      const stmts = pg.parseSync(text).stmts ?? [];
      const stmt = stmts.length === 1 ? stmts[0]!.stmt : undefined;
      const kind = stmt && Object.keys(stmt)[0];
      if (kind !== 'CreateFunctionStmt' && kind !== 'CreateTrigStmt' && kind !== 'IndexStmt') return [];
      const inv = inverseOf(stmt!);
      return inv ? [{ object: inv.object, drop: inv.sql, text }] : [];
    } catch {
      return [];
    }
  });
}
