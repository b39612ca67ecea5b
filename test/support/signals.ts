/** Helpers of the signal tests (signals*.test.ts): real sluice processes, signalled; what they leave. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { cleanEnv, REPO, type Env } from './project.js';

export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Started {
  child: ReturnType<typeof spawn>;
  ended: Promise<Ended>;
  /** What it printed so far. */
  output: () => { stdout: string; stderr: string };
}

/** Start the CLI (or `make <target>`, in a process group of its own, as a terminal runs it); `ended` resolves when it exits. */
export function start(dir: string, args: string[], env: Env, viaMake = false): Started {
  const child = viaMake
    ? spawn('make', ['--no-print-directory', ...args], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv, detached: true })
    : spawn(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), ...args], { cwd: dir, env: cleanEnv(env) as NodeJS.ProcessEnv });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b) => (stdout += b));
  child.stderr!.on('data', (b) => (stderr += b));
  const ended = new Promise<Ended>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, ended, output: () => ({ stdout, stderr }) };
}

/**
 * `run.ended`, or, when it has not come `ms` after the call, a failure that says what was going on (the
 * process still running or only its output still open, its children, what it printed), the process then
 * killed: a hang after a signal (seen once in a loaded CI run, not reproduced) says where it hung instead
 * of the test timing out with nothing.
 */
export async function endedWithin(run: Started, ms: number): Promise<Ended> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const pid = run.child.pid!;
      const kids = childrenOf(pid);
      const state = run.child.exitCode === null && run.child.signalCode === null ? 'was still running' : `had exited (${run.child.exitCode ?? run.child.signalCode}) but its output was still open`;
      run.child.kill('SIGKILL');
      const { stdout, stderr } = run.output();
      reject(new Error(`process ${pid} ${state} ${ms} ms later; its children: ${kids.join(', ') || 'none'}; stderr: ${JSON.stringify(stderr.slice(-2000))}; stdout: ${JSON.stringify(stdout.slice(-2000))}`));
    }, ms);
  });
  try {
    return await Promise.race([run.ended, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The scratch schemas (scratch.ts names them sluice_check_<pid>_…) that the sluice process `pid` has on the admin client's database. */
export const scratchSchemasOf = async (admin: pg.Client, pid: number): Promise<string[]> =>
  (await admin.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'sluice_check\\_' || $1 || '\\_%'", [String(pid)])).rows.map((r) => r.n);

/** Every file under `dir` with a hash of its bytes: two listings are equal when nothing was added, removed or changed. */
export function listing(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** The pids of `pid`'s child processes. */
export const childrenOf = (pid: number): number[] =>
  spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);


export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
