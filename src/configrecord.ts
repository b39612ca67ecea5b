/**
 * What a drizzle.config.ts depended on while it loaded, so that its cached description is used only
 * while all of it is unchanged: the environment variables read by any code that ran (the config, the
 * modules it imports, dotenv...), and the project files it imported (outside node_modules; packages
 * are taken as installed). Both are recorded while the config loads, not guessed from its text: a
 * variable read in an imported module, or an edited imported file, is then a cache miss.
 *
 * Reading process.env as a whole (`{ ...process.env }`, `Object.keys`, a child process spawned with
 * it) or changing it (`dotenv.config({ path })` or `process.loadEnvFile` filling it from a file sluice
 * cannot follow) makes the result depend on what cannot be named: such a config is not cached at all.
 */
import { statSync } from 'node:fs';
import { sha256 } from './hash.js';

/** What the loaded config depended on, as stored with its cached description. */
export interface ConfigInputs {
  /** Variables read, sorted. */
  envNames: string[];
  /** SHA-256 of their values (they may be secrets: never stored as text). Absent when none was read. */
  envDigest?: string;
  /** Project files loaded besides the config: absolute path, size, mtime, ctime (which no tool sets back: an edit whose mtime was put back, by cp -p, rsync -t or an unpacked archive, still shows). */
  files: [string, number, number, number][];
}

export interface Recorded<T> {
  value: T;
  names: string[];
  /** process.env was enumerated, changed or replaced, or a file loaded into it: what the config read cannot be named. */
  opaque: boolean;
}

/**
 * Code that loads the config without being part of it: Node.js's module loader (NODE_V8_COVERAGE,
 * WATCH_REPORT_DEPENDENCIES), tsx and esbuild (their own settings, colours). What they read does not
 * change what the config exports, and some of it differs from a terminal to CI (TERM, NO_COLOR).
 */
const LOADER = /\(?node:internal\/|[/\\]node_modules[/\\](?:tsx|esbuild|@esbuild|get-tsconfig)[/\\]/;

/** Whether the code that touched process.env is the loader's: frames [0] "Error", [1] this, [2] note/opaque, [3] the trap, [4] the reader. */
function touchedByLoader(): boolean {
  const stack: unknown = new Error().stack; // a project's Error.prepareStackTrace may return anything
  if (typeof stack !== 'string') return false;
  const frame = stack.split('\n')[4];
  return frame !== undefined && LOADER.test(frame);
}

interface Recorder {
  names: Set<string>;
  opaque: boolean;
}

/** The recordings under way (loads of configs may overlap in a library caller): each sees every access. */
const recorders = new Set<Recorder>();
let installed: { real: NodeJS.ProcessEnv; proxy: NodeJS.ProcessEnv; loadEnvFile: typeof process.loadEnvFile } | undefined;

function note(k: string | symbol): void {
  if (typeof k !== 'string' || !recorders.size) return;
  let byLoader: boolean | undefined;
  for (const r of recorders) {
    if (r.names.has(k)) continue;
    byLoader ??= touchedByLoader();
    if (!byLoader) r.names.add(k);
  }
}

function opaque(checkLoader: boolean): void {
  if (!recorders.size || (checkLoader && touchedByLoader())) return;
  for (const r of recorders) r.opaque = true;
}

function install(): void {
  const real = process.env;
  // Every trap passes through to the real environment; while no recording is under way (a module
  // that kept a reference to this object, e.g. `env` from node:process first imported meanwhile) it
  // only passes through.
  const proxy = new Proxy(real, {
    get(t, k) {
      note(k);
      return Reflect.get(t, k);
    },
    has(t, k) {
      note(k);
      return Reflect.has(t, k);
    },
    getOwnPropertyDescriptor(t, k) {
      note(k);
      return Reflect.getOwnPropertyDescriptor(t, k);
    },
    ownKeys(t) {
      opaque(true);
      return Reflect.ownKeys(t);
    },
    set(t, k, v) {
      opaque(false);
      return Reflect.set(t, k, v);
    },
    deleteProperty(t, k) {
      opaque(false);
      return Reflect.deleteProperty(t, k);
    },
    defineProperty(t, k, d) {
      opaque(false);
      return Reflect.defineProperty(t, k, d);
    },
  });
  const loadEnvFile = process.loadEnvFile;
  // process.loadEnvFile writes the environment without going through process.env
  process.loadEnvFile = function (this: unknown, ...args: Parameters<typeof process.loadEnvFile>) {
    for (const r of recorders) r.opaque = true;
    return loadEnvFile.apply(process, args);
  };
  process.env = proxy;
  installed = { real, proxy, loadEnvFile };
}

function uninstall(): void {
  if (!installed) return;
  if (process.env === installed.proxy) process.env = installed.real;
  process.loadEnvFile = installed.loadEnvFile;
  installed = undefined;
}

/**
 * Run `fn` with process.env watched; every name read by the config's own code (and the packages it
 * uses) is recorded. Overlapping recordings share one watch, put back when the last one ends.
 */
export async function recordingEnv<T>(fn: () => Promise<T>): Promise<Recorded<T>> {
  const r: Recorder = { names: new Set(), opaque: false };
  if (!recorders.size) install();
  const proxy = installed?.proxy;
  recorders.add(r);
  try {
    const value = await fn();
    if (process.env !== proxy) r.opaque = true; // replaced by the config: what it read is not known
    return { value, names: [...r.names].sort(), opaque: r.opaque };
  } finally {
    recorders.delete(r);
    if (!recorders.size) uninstall();
  }
}

/** The digest of the current values of `names` (undefined for none: no hash, no node:crypto). */
export function envDigest(names: readonly string[]): string | undefined {
  return names.length ? sha256(JSON.stringify(names.map((n) => process.env[n] ?? null))) : undefined;
}

/**
 * Files modified this close to the load are not trusted to be what was loaded (an edit saved while the
 * config loaded, a file system with a coarse clock): the description is not cached that time.
 */
export const SETTLED_MS = 3000;

/** The inputs to store; undefined when a file cannot be read or was modified within SETTLED_MS of the load's start. */
export function inputsOf(names: string[], files: readonly string[], loadStart: number): ConfigInputs | undefined {
  try {
    const stamped = [...new Set(files)].sort().map((f): [string, number, number, number] => {
      const st = statSync(f);
      if (st.mtimeMs > loadStart - SETTLED_MS) throw new Error('not settled');
      return [f, st.size, st.mtimeMs, st.ctimeMs];
    });
    const digest = envDigest(names);
    return { envNames: names, ...(digest ? { envDigest: digest } : {}), files: stamped };
  } catch {
    return undefined;
  }
}

/** True while every recorded input is as it was: the same values of the variables, the same files. */
export function inputsHold(inputs: unknown): boolean {
  if (!inputs || typeof inputs !== 'object') return false;
  const { envNames, envDigest: digest, files } = inputs as Partial<ConfigInputs>;
  if (!Array.isArray(envNames) || !Array.isArray(files)) return false;
  for (const f of files) {
    if (!Array.isArray(f) || typeof f[0] !== 'string') return false;
    const st = statSync(f[0], { throwIfNoEntry: false });
    if (!st || st.size !== f[1] || st.mtimeMs !== f[2] || st.ctimeMs !== f[3]) return false;
  }
  return envDigest(envNames) === digest;
}
