/**
 * `drizzle-kit generate`, run for migrate-create in a child process per dialect (commands/create.ts):
 * found in the project (else beside sluice), started through kitrun.cjs (a V8 code cache of its own,
 * and a report channel on fd 3: drizzle-kit exits 0 on its own failures, so "no revision" is "no
 * change" only when drizzle-kit said so), on the terminal when it must ask about renames.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { DialectName } from './config.js';
import { ExitCode, SluiceError } from './errors.js';
import { flushConsole } from './printer.js';

/** drizzle-kit's bin found for each project root (migrate-create asks once per dialect and once for kitServes; a resolve is ~0.7 ms). */
const kitBins = new Map<string, string>();

function drizzleKitBin(root: string): string {
  const known = kitBins.get(root);
  if (known && existsSync(known)) return known;
  for (const from of [path.join(root, 'package.json'), import.meta.url]) {
    try {
      const bin = path.join(path.dirname(createRequire(from).resolve('drizzle-kit')), 'bin.cjs');
      if (!existsSync(bin)) continue;
      if (from !== import.meta.url) kitBins.set(root, bin); // sluice's own is a fallback: the project may install one later
      return bin;
    } catch {
      /* try the next */
    }
  }
  throw new SluiceError('drizzle-kit is not installed; run npm install', ExitCode.usage);
}

/**
 * How drizzle-kit's bin is started: through kitrun.cjs (beside this file's folder, in dist/ or src/),
 * which compiles drizzle-kit's code through a V8 code cache of its own for each dialect (the two load
 * different drizzle-orm files), else directly.
 */
function kitCommand(root: string, dialect: DialectName): string[] {
  const bin = drizzleKitBin(root);
  const runner = fileURLToPath(new URL('./kitrun.cjs', import.meta.url));
  return existsSync(runner) ? [runner, `drizzle-kit-${dialect}.generate`, bin] : [bin];
}

type Snapshot = Record<string, any>;

/**
 * Whether `drizzle-kit generate` runs through kitrun.cjs and is expected to serve its differ: asked
 * to (`SLUICE_KIT_SERVE=0`: never), and a drizzle-kit 0.31, whose bin kitserve.cjs knows (another
 * build that has the same modules serves too; one that has not says so at once: runDrizzleKit's
 * `onUnavailable`).
 */
export function kitServes(root: string, dialect: DialectName, env: Record<string, string | undefined>): boolean {
  try {
    const command = kitCommand(root, dialect);
    if (env.SLUICE_KIT_SERVE === '0' || command.length < 2) return false;
    const { version } = JSON.parse(readFileSync(path.join(path.dirname(command[2]!), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof version === 'string' && version.startsWith('0.31.');
  } catch {
    return false; // drizzle-kit is missing (its run says so), or its package.json unreadable
  }
}

/** How a `drizzle-kit generate` ended (exit 0): what its report channel said (kitrun.cjs), and its output when read. */
export interface KitOutcome {
  /** drizzle-kit said the models have no change (undefined: no report channel, so unknown). */
  unchanged?: boolean;
  /** drizzle-kit's warnings: changes of the models it left out of the revision (kitrun.cjs). */
  readonly warnings?: string[];
  /** Its output (not read on a terminal); complete once the process has ended (after `service.close()`). */
  readonly output: string;
  /** drizzle-kit's differ in its still-running process (kitserve.cjs), when asked for and served. */
  service?: KitService;
}

/**
 * The differ of a `drizzle-kit generate` process that is done (kitserve.cjs): drizzle-kit/api's
 * generateMigration / generateSQLiteMigration there, without loading that API in this process.
 * Requests fail once the process is gone (a signal); `close()` ends it and resolves when it has exited.
 */
export interface KitService {
  diff(from: Snapshot, to: Snapshot): Promise<string[]>;
  /** drizzle-kit's empty snapshot of the dialect (the `previous` of a first revision). */
  empty(): Promise<Snapshot>;
  /**
   * Ends the process and resolves with its exit code once it has exited (non-zero: drizzle-kit's
   * process failed after all, e.g. a `beforeExit` handler of the project's code set an exit code), or
   * with 0 as soon as the process says it exits 0, its last `exit` listener run (kitserve.cjs).
   */
  close(): Promise<number | null>;
}

/**
 * Whether a `drizzle-kit generate` that exited 0 and made no revision failed: it did not report the
 * models unchanged, or, without the report channel (drizzle-kit's bin run directly), its output reads as
 * a failure (unknown on a terminal, whose output is not read: taken as no change, as before).
 */
export function madeNothing(o: KitOutcome): boolean {
  if (o.unchanged !== undefined) return !o.unchanged;
  return /Error|error:|malformed|not of the latest|TTY/.test(o.output.replace(/\x1b\[[0-9;]*m/g, ''));
}

/** What drizzle-kit said went wrong (kitReason), with what to do when it needed a terminal to ask about renames. */
export function kitFailure(output: string, code: number | null): string {
  const hint = /TTY|interactive|prompt/i.test(output) ? '; drizzle-kit needs to ask about renames: run it on a terminal' : '';
  return `${kitReason(output, code)}${hint}`;
}

/** The line of drizzle-kit's output that says what went wrong (esbuild's `file:line:col: ERROR:` first), else its last. */
export function kitReason(output: string, code: number | null): string {
  const lines = output
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Reading config file /.test(l)); // its path may hold any word
  const at = lines.find((l) => /^\S+:\d+:\d+: ERROR: /.test(l));
  const first = lines.find((l) => /error|malformed|not of the latest|interactive|TTY|rename/i.test(l));
  return [first, at].filter((l, i, all) => l && all.indexOf(l) === i).join(' ') || lines.at(-1) || `exit code ${code}`;
}

/**
 * Run `drizzle-kit generate`. With `serve` (never on a terminal), a process that is done and made a
 * revision stays up to answer diffs (`KitOutcome.service`): the promise resolves then, and the caller
 * closes the service. Otherwise it resolves when the process has exited 0. A drizzle-kit build that
 * cannot serve says so as soon as it has loaded (`onUnavailable`).
 */
export function runDrizzleKit(
  root: string,
  dialect: DialectName,
  args: string[],
  env: Record<string, string | undefined>,
  interactive: boolean,
  signal?: AbortSignal,
  serve = false,
  /** Told at once when the process cannot serve (its drizzle-kit build lacks the differ's modules). */
  onUnavailable?: () => void,
): Promise<KitOutcome> {
  return new Promise((resolve, reject) => {
    flushConsole(); // lines held for one write go out before the child's own output
    const command = kitCommand(root, dialect);
    const reports = command.length > 1; // through kitrun.cjs: its report channel is fd 3
    const served = reports && serve && !interactive && env.SLUICE_KIT_SERVE !== '0';
    const child = spawn(process.execPath, [...command, ...args], {
      cwd: root,
      env: (reports ? { ...env, SLUICE_KIT_REPORT_FD: '3', SLUICE_KIT_SERVE: served ? '1' : '0' } : env) as NodeJS.ProcessEnv,
      stdio: [...(interactive ? ['inherit', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe']), ...(reports ? ['pipe'] : [])] as StdioOptions,
    });
    // stopped with the command (its promise settles on close, once it can write nothing more)
    const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
    // once set, every request (waiting or new) fails with it: the process is gone, or being stopped
    const state: { gone?: Error } = {};
    const fail = (gone: Error) => {
      state.gone ??= gone;
      for (const p of pending.values()) p.reject(state.gone);
      pending.clear();
    };
    // stopped by the command's signal: no other way to diff is tried (the command is stopping)
    const stop = () => {
      fail(new Error('drizzle-kit was stopped with the command'));
      child.kill('SIGTERM');
    };
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
    child.on('close', () => signal?.removeEventListener('abort', stop));
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    const said = new Set<string>();
    const warnings: string[] = [];
    const channel = child.stdio[3] as Duplex | null | undefined;
    let service: KitService | undefined;
    let closed: Promise<number | null> | undefined;
    let exited: ((code: number) => void) | undefined;
    if (channel) {
      channel.setEncoding('utf8');
      channel.on('error', () => {}); // the process's end says what happened
      let buffered = '';
      channel.on('data', (chunk: string) => {
        buffered += chunk;
        if (!chunk.includes('\n')) return; // a long reply comes in many chunks: scanned once whole
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.startsWith('warning ')) warnings.push(line.slice(8));
          else if (!line.startsWith('{')) said.add(line);
          if (line === 'ready' && served && !service) {
            // exit 0, as the process says it exits (its teardown goes on), or its real end
            closed = new Promise((done) => {
              exited = done;
              child.once('close', (code) => done(code));
            });
            service = serviceOn(dialect, channel, pending, state, () => closed!);
            resolve({ get output() { return output; }, unchanged: said.has('unchanged'), warnings, service });
          } else if (line === 'ready') channel.end(); // not asked for: it ends
          else if (line === 'noserve' && served) {
            try {
              onUnavailable?.();
            } catch {
              /* a preload that fails: the diff that needs it fails again where it is reported */
            }
          }
          else if (line === 'exit 0') exited?.(0); // another code waits for the real end: its output is complete then
          else if (line.startsWith('{')) settle(pending, line);
        }
      });
    }
    child.on('error', (err) => reject(new SluiceError(`cannot run drizzle-kit: ${err.message}`, ExitCode.internal, { cause: err })));
    child.on('close', (code) => {
      // gone before it answered (killed, or a late failure of the project's code): the caller diffs another way
      fail(new KitServiceGone(`drizzle-kit's process ended (${code === null ? 'stopped' : `exit code ${code}`}) before it answered`));
      if (service) return; // resolved already: close() gives the exit code
      if (code === 0) return resolve({ output, warnings, ...(reports ? { unchanged: said.has('unchanged') } : {}) });
      if (said.has('interrupted')) return reject(new KitInterrupted());
      reject(new SluiceError(`drizzle-kit generate failed: ${kitFailure(output, code)}`, ExitCode.usage));
    });
  });
}

function serviceOn(
  dialect: DialectName,
  channel: Duplex,
  pending: Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>,
  state: { gone?: Error },
  closed: () => Promise<number | null>,
): KitService {
  let next = 0;
  let ended = false;
  const ask = <T>(request: Record<string, unknown>): Promise<T> =>
    new Promise((resolve, reject) => {
      if (state.gone) return reject(state.gone);
      if (ended) return reject(new KitServiceGone("drizzle-kit's differ was closed"));
      const id = ++next;
      pending.set(id, { resolve, reject });
      channel.write(`${JSON.stringify({ id, ...request })}\n`);
    });
  return {
    diff: (from, to) => ask<string[]>({ op: 'diff', dialect, from, to }),
    empty: () => ask<Snapshot>({ op: 'empty', dialect }),
    close() {
      if (!ended) {
        ended = true;
        channel.end();
      }
      return closed();
    },
  };
}

/** The differ's process is gone (or was closed): not drizzle-kit's answer; the caller diffs another way. */
export class KitServiceGone extends Error {}

/** A reply of the differ: `{id, statements | snapshot | error}`. */
function settle(pending: Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>, line: string): void {
  let reply: { id?: number; statements?: string[]; snapshot?: Snapshot; error?: string };
  try {
    reply = JSON.parse(line);
  } catch {
    return;
  }
  const p = pending.get(reply.id!);
  if (!p) return;
  pending.delete(reply.id!);
  if (reply.error !== undefined) p.reject(new Error(reply.error));
  else p.resolve(reply.statements ?? reply.snapshot);
}

/** Ctrl+C at drizzle-kit's prompt: the terminal is in raw mode, so drizzle-kit gets it, not sluice. */
export class KitInterrupted extends Error {
  constructor() {
    super('Ctrl+C at drizzle-kit\'s prompt');
  }
}
