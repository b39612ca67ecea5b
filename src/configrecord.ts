/**
 * What a drizzle.config.ts depended on while it loaded, so that its cached description is used only
 * while all of it is unchanged: the environment variables read by any code that ran (the config, the
 * modules it imports, dotenv...), and the project files it imported (outside node_modules; packages
 * are taken as installed). Both are recorded while the config loads, not guessed from its text: a
 * variable read in an imported module, or an edited imported file, is then a cache miss.
 *
 * Reading process.env as a whole (`{ ...process.env }`, `Object.keys`, a child process spawned with
 * it) or changing it (`dotenv.config({ path })` filling it from a file sluice cannot follow) makes the
 * result depend on what cannot be named: such a config is not cached at all.
 */
import { statSync } from 'node:fs';
import { sha256 } from './hash.js';

/** What the loaded config depended on, as stored with its cached description. */
export interface ConfigInputs {
  /** Variables read, sorted. */
  envNames: string[];
  /** SHA-256 of their values (they may be secrets: never stored as text). Absent when none was read. */
  envDigest?: string;
  /** Project files loaded besides the config: absolute path, size, mtime. */
  files: [string, number, number][];
}

export interface Recorded<T> {
  value: T;
  names: string[];
  /** process.env was enumerated or changed: what the config read cannot be named. */
  opaque: boolean;
}

/**
 * Code that loads the config without being part of it: Node.js's module loader (NODE_V8_COVERAGE,
 * WATCH_REPORT_DEPENDENCIES), tsx and esbuild (their own settings, colours). What they read does not
 * change what the config exports, and some of it differs from a terminal to CI (TERM, NO_COLOR).
 */
const LOADER = /\(?node:internal\/|[/\\]node_modules[/\\](?:tsx|esbuild|@esbuild|get-tsconfig)[/\\]/;

/** Whether the code `depth` frames up (0: "Error", 1: this function, then the trap's own frames) is the loader's. */
function readByLoader(depth: number): boolean {
  const frame = new Error().stack?.split('\n')[depth];
  return frame !== undefined && LOADER.test(frame);
}

/** Run `fn` with process.env watched; every name read by the config's own code (and the packages it uses) is recorded. */
export async function recordingEnv<T>(fn: () => Promise<T>): Promise<Recorded<T>> {
  const real = process.env;
  const names = new Set<string>();
  let opaque = false;
  const seen = (k: string | symbol) => {
    if (typeof k === 'string' && !names.has(k) && !readByLoader(4)) names.add(k); // Error, readByLoader, seen, the trap, the reader
  };
  process.env = new Proxy(real, {
    get(t, k) {
      seen(k);
      return Reflect.get(t, k);
    },
    has(t, k) {
      seen(k);
      return Reflect.has(t, k);
    },
    getOwnPropertyDescriptor(t, k) {
      seen(k);
      return Reflect.getOwnPropertyDescriptor(t, k);
    },
    ownKeys(t) {
      if (!readByLoader(3)) opaque = true; // Error, readByLoader, the trap, the reader
      return Reflect.ownKeys(t);
    },
    set(t, k, v) {
      opaque = true;
      return Reflect.set(t, k, v);
    },
    deleteProperty(t, k) {
      opaque = true;
      return Reflect.deleteProperty(t, k);
    },
    defineProperty(t, k, d) {
      opaque = true;
      return Reflect.defineProperty(t, k, d);
    },
  });
  try {
    const value = await fn();
    return { value, names: [...names].sort(), opaque };
  } finally {
    process.env = real;
  }
}

/** The digest of the current values of `names` (undefined for none: no hash, no node:crypto). */
export function envDigest(names: readonly string[]): string | undefined {
  return names.length ? sha256(JSON.stringify(names.map((n) => process.env[n] ?? null))) : undefined;
}

/** The inputs to store; undefined when a file cannot be read (nothing to compare against later). */
export function inputsOf(names: string[], files: readonly string[]): ConfigInputs | undefined {
  try {
    const stamped = [...new Set(files)].sort().map((f): [string, number, number] => {
      const st = statSync(f);
      return [f, st.size, st.mtimeMs];
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
    if (!st || st.size !== f[1] || st.mtimeMs !== f[2]) return false;
  }
  return envDigest(envNames) === digest;
}
