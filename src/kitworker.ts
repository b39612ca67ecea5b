/**
 * drizzle-kit's differ on a worker thread, for commands that diff many snapshot pairs (migrate-downs
 * on an adopted history: ~50 ms of CPU a pair). The main thread meanwhile runs the verification, which
 * mostly waits on the scratch database: on two cores the two overlap instead of taking turns.
 * Started and stopped by the command; when it is not running (or its compiled file is absent, as under
 * a test runner reading the TypeScript sources), diffSnapshots runs in-process as before.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DialectName } from './config.js';
import { largeCodeLoads } from './jit.js';

type Snapshot = Record<string, any>;
type Reply = { id: number; statements?: string[]; warnings?: string[]; error?: string };

let worker: Worker | undefined;
let next = 0;
const waiting = new Map<number, { resolve: (s: string[]) => void; reject: (e: Error) => void; warnings?: string[] }>();

/** Start the worker (no-op when it runs already or its file is missing). */
export function startKitWorker(root: string): void {
  if (worker) return;
  const file = fileURLToPath(new URL('./kitworker-main.js', import.meta.url));
  if (!existsSync(file)) return;
  largeCodeLoads(); // the worker loads drizzle-kit's API; V8's flags are the process's
  const w = new Worker(file, { workerData: { root } });
  w.unref();
  w.on('message', (r: Reply) => {
    const p = waiting.get(r.id);
    waiting.delete(r.id);
    if (!waiting.size) w.unref(); // idle: it does not keep the process alive
    if (r.error !== undefined) p?.reject(new Error(r.error));
    else {
      p?.warnings?.push(...(r.warnings ?? []));
      p?.resolve(r.statements ?? []);
    }
  });
  const fail = (err: Error) => {
    for (const p of waiting.values()) p.reject(err);
    waiting.clear();
    if (worker === w) worker = undefined;
  };
  w.on('error', fail);
  w.on('exit', () => fail(new Error('the drizzle-kit worker stopped')));
  worker = w;
}

export async function stopKitWorker(): Promise<void> {
  const w = worker;
  worker = undefined;
  // kept referenced until it has exited: an idle worker is unref'd, and its terminate() promise alone
  // does not keep the process alive (a review: after a failed proof the event loop emptied first, and
  // migrate-downs ended in "waiting on a promise that nothing settles", exit 1, instead of its error)
  if (!w) return;
  w.ref();
  // its 'exit' or terminate()'s promise, whichever comes first; a worker stopped while still starting up
  // may settle neither (seen on Node.js 20), so a timer holds the process for at most a second
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 1000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    w.once('exit', done);
    w.terminate().then(done, done);
  });
}

/** The diff on the worker; undefined when no worker runs. Rejects with drizzle-kit's message. */
export function diffOnWorker(dialect: DialectName, from: Snapshot, to: Snapshot, warnings?: string[]): Promise<string[]> | undefined {
  if (!worker) return undefined;
  const id = ++next;
  const w = worker;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject, ...(warnings ? { warnings } : {}) });
    w.ref(); // a reply is awaited
    w.postMessage({ id, dialect, from, to });
  });
}
