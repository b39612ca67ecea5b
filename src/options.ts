/**
 * The library's options, checked where each command begins: a JavaScript caller (no type checker)
 * that misspells an option or gives it the wrong type gets a one-line UsageError (exit 2) naming the
 * option, instead of a raw TypeError deep inside (`cwd: 5`, `upgrade(null)`, `signal: {}`), or worse,
 * an option silently ignored (`upgrade({ dryrun: true })` ran for real) or read by its truthiness
 * (`noBackup: 'false'` skipped SQLite's backup). An option set to `undefined` counts as absent.
 */
import { UsageError } from './errors.js';

export type OptionKind = 'string' | 'revision' | 'boolean' | 'function' | 'signal' | 'env' | 'object' | 'strings' | 'set' | 'array';

/** What every command takes (CommandOptions). `connection` is checked further in context.ts. */
export const COMMON_OPTIONS: Readonly<Record<string, OptionKind>> = { cwd: 'string', env: 'env', config: 'string', connection: 'object' };

/** upgrade / downgrade / stamp / reset (MoveOptions). */
export const MOVE_OPTIONS: Readonly<Record<string, OptionKind>> = {
  ...COMMON_OPTIONS,
  revision: 'revision',
  dryRun: 'boolean',
  allowChanged: 'boolean',
  singleTransaction: 'boolean',
  noBackup: 'boolean',
  onStep: 'function',
  onPlan: 'function',
  onTakeover: 'function',
  onWarning: 'function',
  signal: 'signal',
  onInterruptible: 'function',
  only: 'set',
};

const WHAT: Record<OptionKind, string> = {
  string: 'a string',
  revision: 'a string or an integer (head, base, +N, -N, a tag, a number)',
  boolean: 'true or false',
  function: 'a function',
  signal: 'an AbortSignal',
  env: 'an object (the environment: names to strings)',
  object: 'an object',
  strings: 'an array of strings',
  set: 'a Set',
  array: 'an array',
};

function fits(kind: OptionKind, value: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'revision': // a library caller's number is a revision too (revision.ts requireRevisionName)
      return typeof value === 'string' || Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'function':
      return typeof value === 'function';
    case 'signal':
      return value instanceof AbortSignal;
    case 'env': // process.env itself has a prototype of its own; a Map's (a Set's, an array's) entries are not
      // its properties (found by a hunt: an env Map was read as empty, and the default ./db.sqlite migrated instead)
      return typeof value === 'object' && value !== null && !(Symbol.iterator in value);
    case 'object':
      return typeof value === 'object' && value !== null;
    case 'strings':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'set':
      return value instanceof Set;
    case 'array':
      return Array.isArray(value);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function shown(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'no prototype'})`;
  return `${typeof value} ${String(value)}`;
}

/**
 * Throws UsageError when `options` is not an object, holds a name `kinds` does not list, or holds a
 * value of another type. `required`: names that must be present (not undefined).
 */
export function checkOptions(
  command: string,
  options: unknown,
  kinds: Readonly<Record<string, OptionKind>>,
  required: readonly string[] = [],
): void {
  if (options === undefined && required.length === 0) return;
  if (!isPlainObject(options)) {
    throw new UsageError(`${command}(): its options must be a plain object ({ ${Object.keys(kinds).slice(0, 4).join(', ')}, … }), not ${shown(options)}`);
  }
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue; // absent, whatever its name (the CLI spreads flags it did not get)
    const kind = kinds[name];
    if (kind === undefined) {
      const near = Object.keys(kinds).find((k) => k.toLowerCase() === name.toLowerCase());
      throw new UsageError(
        `${command}(): unknown option "${name}"${near ? ` (did you mean "${near}"?)` : ''}; its options are ${Object.keys(kinds).join(', ')}`,
      );
    }
    if (!fits(kind, value)) {
      throw new UsageError(`${command}(): option "${name}" must be ${WHAT[kind]}, not ${shown(value)}`);
    }
    if (kind === 'env') {
      const bad = Object.entries(value as Record<string, unknown>).find(([, v]) => v !== undefined && typeof v !== 'string');
      if (bad) throw new UsageError(`${command}(): option "env": ${bad[0]} must be a string, not ${shown(bad[1])} (environment variables are strings)`);
    }
  }
  for (const name of required) {
    if (options[name] === undefined) throw new UsageError(`${command}(): option "${name}" is required (${WHAT[kinds[name]!]})`);
  }
}
