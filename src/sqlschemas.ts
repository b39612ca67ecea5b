/**
 * The schemas a history's SQL writes to by name, besides `public` (which a replay translates to its
 * scratch schema): `CREATE TABLE IF NOT EXISTS analytics.events`, `DROP TABLE analytics.events`,
 * `INSERT INTO audit.log`. A replay in a scratch schema beside the real data (db-test, migrate-check,
 * a down's proof on a server) would run those in the real schemas of those names: a hunt saw
 * `make db-test` on the dev database drop the rows of `analytics.events` (its down dropped the real
 * table, head again made it empty), exit 0. Such a history gets a database of its own (scratch.ts
 * replayDatabase), as one whose snapshots name schemas does.
 *
 * Read with PostgreSQL's parser from the up and down files: the statements that create, change, drop
 * or write an object, and the schema they name it in. A schema only read (a function called, a type
 * used, a table selected from or referenced by a foreign key: `extensions.uuid_generate_v4()`,
 * `auth.users`) is not counted: the replay beside the data needs those to exist, as they do there.
 * SQL inside strings (DO blocks, function bodies) and TypeScript revisions are not read.
 */
import { loadParser, pgParser } from './parsers.js';
import { readDown, readUp, type RevisionFile } from './source.js';

type Node = Record<string, unknown>;

/** Schemas no replay puts objects in by name: the system's, and public (translated). */
const NOT_FOREIGN = /^(public|pg_catalog|information_schema|pg_temp.*|pg_toast.*)$/;
// (DATABASE_WIDE is added by its own name)

/** Statements that write the relation (a RangeVar, bare or wrapped) in these fields. */
const WRITES_RELATION: Record<string, string[]> = {
  // a partition of, or a child of, a table elsewhere links the two (a down's DROP reaches both)
  CreateStmt: ['relation', 'inhRelations'],
  CreateTableAsStmt: ['into'],
  ViewStmt: ['view'],
  IndexStmt: ['relation'],
  CreateSeqStmt: ['sequence'],
  AlterSeqStmt: ['sequence'],
  AlterTableStmt: ['relation'],
  RenameStmt: ['relation'],
  TruncateStmt: ['relations'],
  InsertStmt: ['relation'],
  UpdateStmt: ['relation'],
  DeleteStmt: ['relation'],
  MergeStmt: ['relation'],
  CreateTrigStmt: ['relation'],
  CreatePolicyStmt: ['table'],
  AlterPolicyStmt: ['table'],
  RuleStmt: ['relation'],
  CompositeTypeStmt: ['typevar'],
  AlterObjectSchemaStmt: ['relation'],
  CopyStmt: ['relation'],
  RefreshMatViewStmt: ['relation'],
  PartitionCmd: ['name'], // ALTER TABLE p ATTACH / DETACH PARTITION other.c
  AlterOwnerStmt: ['relation'],
  GrantStmt: ['objects'], // GRANT … ON other.t (ON ALL TABLES IN SCHEMA: below)
};
/** Statements that name the object they make or change as a qualified name list in these fields. */
const WRITES_NAME: Record<string, string[]> = {
  CreateEnumStmt: ['typeName'],
  AlterEnumStmt: ['typeName'],
  CreateDomainStmt: ['domainname'],
  CreateFunctionStmt: ['funcname'],
  DefineStmt: ['defnames'],
  AlterDomainStmt: ['typeName'],
  CreateRangeStmt: ['typeName'],
  CreateStatsStmt: ['defnames'],
  AlterStatsStmt: ['defnames'],
  CreateConversionStmt: ['conversion_name'],
  AlterTSConfigurationStmt: ['cfgname'],
  AlterTSDictionaryStmt: ['dictname'],
  AlterCollationStmt: ['collname'],
};
/** Statements that name the object they change as an object (a name list, an ObjectWithArgs, a TypeName) in these fields. */
const WRITES_OBJECT: Record<string, string[]> = {
  RenameStmt: ['object'],
  AlterObjectSchemaStmt: ['object'],
  AlterFunctionStmt: ['func'],
  AlterOwnerStmt: ['object'],
  CommentStmt: ['object'],
  SecLabelStmt: ['object'],
  AlterExtensionContentsStmt: ['object'],
};
/**
 * What a replay beside the data would change in the whole database, not in a schema: it gets a
 * database of its own too, under this name in the list of schemas (its message names it).
 */
export const DATABASE_WIDE = '(objects of the whole database)';
const DATABASE_WIDE_KINDS = new Set(['DropOwnedStmt', 'ReassignOwnedStmt', 'CreatePublicationStmt', 'CreateEventTrigStmt', 'CreateCastStmt']);
const DATABASE_WIDE_DROPS = new Set(['OBJECT_PUBLICATION', 'OBJECT_EVENT_TRIGGER', 'OBJECT_CAST', 'OBJECT_FOREIGN_SERVER', 'OBJECT_FDW']);

/** The schemas the ups and downs of `revisions` write to by name (sorted; PostgreSQL histories). */
export async function schemasWrittenBy(revisions: readonly RevisionFile[]): Promise<string[]> {
  const found = new Set<string>();
  for (const rev of revisions) {
    for (const text of [readOrNull(() => readUp(rev)), readOrNull(() => readDown(rev))]) {
      if (!text || !mayWriteElsewhere(text)) continue;
      await loadParser('postgresql');
      for (const name of schemasWrittenIn(text)) found.add(name);
    }
  }
  return [...found].sort();
}

/** A file that cannot be read is reported by the command that runs it, not here. */
function readOrNull(read: () => string | null): string | null {
  try {
    return read();
  } catch {
    return null;
  }
}

/**
 * The blank and `--` lines a file starts with: comments whatever they say, since no string or quoted
 * name can be open before the first statement. Every down sluice writes starts with a header whose
 * verification line says "the down restores the previous schema": read as text, that word sent every
 * such down through the PostgreSQL parser (its WebAssembly loaded and every down parsed, ~0.1 s of CPU
 * in each migrate-create, db-test and migrate-check of a PostgreSQL history).
 */
const LEADING_LINE_COMMENTS = /^(?:[ \t]*(?:--[^\n]*)?\r?\n)*/;

/**
 * The text may write outside its schema (else it is not parsed): a qualified name other than public's,
 * or a word that names what a schema or the whole database holds. Read on the raw text (a quote in a
 * comment or a dollar-quoted string must not hide what follows it: found by a review).
 */
export function mayWriteElsewhere(text: string): boolean {
  const rest = text.replace(LEADING_LINE_COMMENTS, '').replace(/"public"\s*\.|\bpublic\s*\./gi, '');
  return /(?:"|[\w$\u0080-\uFFFF])\s*\.\s*(?:"|[A-Za-z_\u0080-\uFFFF])/.test(rest) || /\b(?:schema|owned|publication|event\s+trigger|cast)\b/i.test(rest);
}

/** The schemas one file's statements write to by name; none when it does not parse (the run reports it). */
export function schemasWrittenIn(text: string): string[] {
  let stmts: { stmt?: Node }[];
  try {
    stmts = (pgParser().parseSync(text) as { stmts?: { stmt?: Node }[] }).stmts ?? [];
  } catch {
    return [];
  }
  const found = new Set<string>();
  const add = (name: unknown) => {
    if (typeof name === 'string' && !NOT_FOREIGN.test(name)) found.add(name);
  };
  for (const { stmt } of stmts) {
    if (stmt) visit(stmt, add);
  }
  return [...found];
}

/** Every statement node in `node` (nested ones too: CREATE SCHEMA's elements, a WITH's data-modifying parts). */
function visit(node: unknown, add: (name: unknown) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) visit(item, add);
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [kind, value] of Object.entries(node as Node)) {
    if (!value || typeof value !== 'object') continue;
    const v = value as Node;
    for (const field of WRITES_RELATION[kind] ?? []) relations(v[field], add);
    for (const field of WRITES_NAME[kind] ?? []) add(qualifier(v[field]));
    for (const field of WRITES_OBJECT[kind] ?? []) add(objectQualifier(v[field]));
    if (kind === 'CreateSchemaStmt') add(v.schemaname);
    if (kind === 'RenameStmt' && v.renameType === 'OBJECT_SCHEMA') [v.subname, v.newname].forEach(add);
    if (kind === 'SelectStmt') relations((v.intoClause as Node | undefined)?.rel, add); // SELECT … INTO other.t
    if (kind === 'CreateForeignTableStmt') relations((v.base as Node | undefined)?.relation, add);
    if (kind === 'ImportForeignSchemaStmt') add(v.local_schema);
    if (kind === 'GrantStmt') for (const o of (v.objects as Node[]) ?? []) add(v.targtype === 'ACL_TARGET_ALL_IN_SCHEMA' ? (o.String as Node | undefined)?.sval : o.ObjectWithArgs ? objectQualifier(o) : undefined);
    if (kind === 'AlterDefaultPrivilegesStmt') for (const d of (v.options as Node[]) ?? []) if ((d.DefElem as Node | undefined)?.defname === 'schemas') for (const s of (((d.DefElem as Node).arg as Node | undefined)?.List as Node | undefined)?.items as Node[] ?? []) add((s.String as Node | undefined)?.sval);
    // a function of another schema called for its effect: CALL other.p(), SELECT cron.schedule(…) at the
    // top of a statement (Supabase's pg_cron: a replayed down's unschedule removed the real job)
    if (kind === 'CallStmt') add(qualifier((v.funccall as Node | undefined)?.funcname));
    if (kind === 'SelectStmt') for (const t of (v.targetList as Node[]) ?? []) add(qualifier(((((t.ResTarget as Node | undefined)?.val as Node | undefined)?.FuncCall as Node | undefined)?.funcname)));
    if (DATABASE_WIDE_KINDS.has(kind) || (kind === 'DropStmt' && DATABASE_WIDE_DROPS.has(String(v.removeType)))) add(DATABASE_WIDE);
    if (kind === 'AlterObjectSchemaStmt') add(v.newschema);
    if (kind === 'DropStmt') dropped(v, add);
    visit(value, add);
  }
}

/** A RangeVar (bare, wrapped, or a list of them): its schema. */
function relations(value: unknown, add: (name: unknown) => void): void {
  if (Array.isArray(value)) {
    for (const v of value) relations(v, add);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const v = value as Node;
  const rv = (v.RangeVar ?? (v.rel as Node | undefined) ?? v) as Node; // CreateTableAsStmt's `into` holds `rel`
  add(rv.schemaname);
}

const ON_TABLE = new Set(['OBJECT_TRIGGER', 'OBJECT_POLICY', 'OBJECT_RULE']);

/** DROP …: a schema itself, or each object's qualified name (a name list, an ObjectWithArgs, a TypeName). */
function dropped(v: Node, add: (name: unknown) => void): void {
  for (const o of (v.objects as unknown[]) ?? []) {
    const obj = o as Node;
    if (v.removeType === 'OBJECT_SCHEMA') add((obj.String as Node | undefined)?.sval);
    // DROP TRIGGER / POLICY / RULE x ON [schema.]table: the table's name, then the object's
    else if (ON_TABLE.has(String(v.removeType))) add(qualifier(((obj.List as Node | undefined)?.items as unknown[] | undefined)?.slice(0, -1)));
    else add(objectQualifier(obj));
  }
}

/** The schema of an object's name: a name list (bare or wrapped in List), an ObjectWithArgs, a TypeName. */
function objectQualifier(o: unknown): string | undefined {
  if (Array.isArray(o) || !o || typeof o !== 'object') return qualifier(o);
  const obj = o as Node;
  const owa = (obj.ObjectWithArgs ?? (obj.objname ? obj : undefined)) as Node | undefined;
  return qualifier((obj.List as Node | undefined)?.items ?? owa?.objname ?? (obj.TypeName as Node | undefined)?.names ?? obj.names);
}

/** The schema of a qualified name list (`[schema, name]`; `[database, schema, name]`), or undefined. */
function qualifier(list: unknown): string | undefined {
  if (!Array.isArray(list) || list.length < 2) return undefined;
  return ((list[list.length - 2] as Node).String as Node | undefined)?.sval as string | undefined;
}
