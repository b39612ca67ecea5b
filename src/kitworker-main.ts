/** The drizzle-kit worker thread (kitworker.ts): diffs snapshot pairs sent by the main thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { describeCause } from './errors.js';
import { diffLocally } from './downgen.js';

const { root } = workerData as { root: string };
// drizzle-kit prints its own errors (a rename it would ask about on a terminal, with a stack) before
// throwing them; here they come back to the main thread as the reply's error, once, in sluice's words.
for (const k of ['log', 'error', 'warn', 'info'] as const) console[k] = () => {};
parentPort!.on('message', async (m: { id: number; dialect: 'postgresql' | 'sqlite'; from: Record<string, any>; to: Record<string, any> }) => {
  try {
    const warnings: string[] = [];
    const statements = await diffLocally(root, m.dialect, m.from, m.to, warnings);
    parentPort!.postMessage({ id: m.id, statements, ...(warnings.length ? { warnings } : {}) });
  } catch (err) {
    // zod's issues (a snapshot drizzle-kit's validation refuses) go whole, as JSON: the main thread
    // names the first one (downgen.ts diffFailed; was: cut to their first line, "[")
    const message = err instanceof Error ? err.message : '';
    parentPort!.postMessage({ id: m.id, error: message.trimStart().startsWith('[') ? message : describeCause(err) });
  }
});
