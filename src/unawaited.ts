/**
 * Lines of a TypeScript part holding a drizzle query that nothing awaits, returns or keeps: a drizzle
 * query runs only when awaited (its builder is lazy), so such a query never runs and the revision
 * would be recorded applied without it (a hunt: `db.execute(sql…)` and `db.update(…).set(…)` left
 * without await, "applied", exit 0, no row changed).
 *
 * Read from TypeScript's own syntax tree (the `typescript` package, a dependency): every expression
 * statement, wherever it stands (a one-line block, a brace-less `if`/`for` body, after `;` on the same
 * line), and the operands whose value such a statement drops (`a && db.update(…)`, either branch of
 * `c ? … : …`, `void …`, the comma operator), and the body of an arrow given to `forEach`. Was: read
 * line by line, a statement counted only where a line starts after `;`, `{` or `}`: the shapes above
 * ran nothing, "applied", exit 0 (a hunt).
 *
 * A query: a call chain on the drizzle handle (`db`, `tx`, the first parameter of `up`/`down`, or of a
 * function given to the handle's `transaction(…)`). Left alone: `db.$client…` (eager, its failures caught
 * at run time), a chain with `.then(`/`.catch(`/`.finally(`, a builder's `.execute()`/`.run()`/`.all()`/
 * `.get()` (they start it), and the handle's own synchronous `run`/`all`/`get`/`values` (better-sqlite3),
 * on SQLite `transaction(…)` too: better-sqlite3's runs its function at once (on PostgreSQL it stays
 * refused: its promise would go on past the revision). 1-based line numbers of the statements.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as TS from 'typescript';
import type { DialectName } from './config.js';
import { pruneCacheFiles, sluiceCacheDir, writeAtomically } from './cachedir.js';
import { sha256 } from './hash.js';
import { largeCodeLoads } from './jit.js';

type Ts = typeof TS;
let loaded: Ts | undefined;
/**
 * The `typescript` package, required (its 9 MB file is CommonJS): an import() of it cost ~0.6 s of CPU
 * more (Node.js's ES module loader scans a CommonJS file for its export names, and tsx's hooks, when a
 * TypeScript part registered them, read it again), and a require goes through the CLI's V8 code cache
 * of package files (src/v8modules.cjs), set up just before (largeCodeLoads).
 */
function typescript(): Ts {
  if (!loaded) {
    largeCodeLoads();
    loaded = createRequire(import.meta.url)('typescript') as Ts;
  }
  return loaded;
}

/**
 * The lines, from the cache beside the project's packages when this text was read before
 * (node_modules/.cache/sluice/unawaited, keyed by the text and dialect): loading the `typescript`
 * package is ~0.4 s of every run with a TypeScript revision otherwise (`near`: a path in the project).
 */
export async function unawaitedQueries(text: string, dialect?: DialectName, near?: string): Promise<number[]> {
  const dir = near ? sluiceCacheDir(path.dirname(near), 'unawaited') : undefined;
  const file = dir && path.join(dir, `${sha256(`v1\0${dialect ?? ''}\0${text}`)}.json`);
  if (file) {
    try {
      const kept = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      if (Array.isArray(kept) && kept.every((n) => Number.isInteger(n))) return kept as number[];
    } catch {
      /* not read before, or unreadable: read it now */
    }
  }
  const lines = read(text, dialect);
  if (dir && file) {
    try {
      mkdirSync(dir, { recursive: true });
      writeAtomically(file, JSON.stringify(lines));
      pruneCacheFiles(dir, /\.json$/, 256, path.basename(file));
    } catch {
      /* a cache that cannot be written: read again next time */
    }
  }
  return lines;
}

function read(text: string, dialect?: DialectName): number[] {
  const ts = typescript();
  const source = ts.createSourceFile('part.ts', text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const names = handleNames(ts, source);
  const lines = new Set<number>();
  const lineOf = (node: TS.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;

  /** The chain's methods, outermost first, and the identifier it starts from. */
  const chain = (expr: TS.Expression): { root?: string; calls: string[]; firstMember?: string } => {
    const calls: string[] = [];
    let e: TS.Expression = expr;
    let firstMember: string | undefined;
    for (;;) {
      if (ts.isParenthesizedExpression(e) || ts.isNonNullExpression(e) || ts.isAsExpression(e)) e = e.expression;
      else if (ts.isCallExpression(e)) {
        if (ts.isPropertyAccessExpression(e.expression)) calls.push(e.expression.name.text);
        e = e.expression;
      } else if (ts.isPropertyAccessExpression(e)) {
        firstMember = e.name.text;
        e = e.expression;
      } else if (ts.isElementAccessExpression(e)) e = e.expression;
      else break;
    }
    return { root: ts.isIdentifier(e) ? e.text : undefined, calls, firstMember };
  };

  const isQuery = (expr: TS.Expression): boolean => {
    if (!ts.isCallExpression(expr)) return false;
    const { root, calls, firstMember } = chain(expr);
    if (!root || !names.has(root) || firstMember === '$client') return false;
    if (calls.some((c) => c === 'then' || c === 'catch' || c === 'finally')) return false;
    const last = calls[0];
    const first = calls.at(-1);
    if (calls.length > 1 && ['execute', 'run', 'all', 'get'].includes(last!)) return false; // a builder started
    if (calls.length === 1 && ['run', 'all', 'get', 'values', ...(dialect === 'sqlite' ? ['transaction'] : [])].includes(first!)) return false;
    return true;
  };

  /** Whether the value of `expr`, dropped by the statement it stands in, holds a query. */
  const dropsQuery = (expr: TS.Expression): boolean => {
    if (ts.isParenthesizedExpression(expr)) return dropsQuery(expr.expression);
    if (ts.isVoidExpression(expr)) return dropsQuery(expr.expression);
    if (ts.isBinaryExpression(expr)) {
      const op = expr.operatorToken.kind;
      if (op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken || op === ts.SyntaxKind.QuestionQuestionToken || op === ts.SyntaxKind.CommaToken) {
        return dropsQuery(expr.left) || dropsQuery(expr.right);
      }
      return false;
    }
    if (ts.isConditionalExpression(expr)) return dropsQuery(expr.whenTrue) || dropsQuery(expr.whenFalse);
    return isQuery(expr);
  };

  const visit = (node: TS.Node): void => {
    if (ts.isExpressionStatement(node) && dropsQuery(node.expression)) lines.add(lineOf(node));
    // rows.forEach((r) => db.update(…)…): forEach drops what its function returns
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'forEach') {
      const fn = node.arguments[0];
      if (fn && ts.isArrowFunction(fn) && !ts.isBlock(fn.body) && dropsQuery(fn.body)) lines.add(lineOf(fn.body));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return [...lines].sort((a, b) => a - b);
}

/** `db`, `tx`, and the names the part gives the handle: `up`/`down`'s first parameter, a transaction function's. */
function handleNames(ts: Ts, source: TS.SourceFile): Set<string> {
  const names = new Set(['db', 'tx']);
  const firstParam = (fn: TS.SignatureDeclaration | undefined) => {
    const p = fn?.parameters[0];
    if (p && ts.isIdentifier(p.name)) names.add(p.name.text);
  };
  const isUpDown = (name: TS.Node | undefined) => !!name && (ts.isIdentifier(name) || ts.isStringLiteral(name)) && (name.text === 'up' || name.text === 'down');
  const fnOf = (e: TS.Node | undefined) => (e && (ts.isArrowFunction(e) || ts.isFunctionExpression(e)) ? e : undefined);
  const visit = (node: TS.Node): void => {
    if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && isUpDown(node.name)) firstParam(node);
    if ((ts.isVariableDeclaration(node) || ts.isPropertyAssignment(node)) && isUpDown(node.name)) firstParam(fnOf(node.initializer));
    ts.forEachChild(node, visit);
  };
  visit(source);
  // a function given to the handle's transaction(…): its parameter is a handle too (names found so far)
  const inner = (node: TS.Node): void => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'transaction') {
      const target = node.expression.expression;
      if (ts.isIdentifier(target) && names.has(target.text)) firstParam(fnOf(node.arguments[0]));
    }
    ts.forEachChild(node, inner);
  };
  inner(source);
  return names;
}
