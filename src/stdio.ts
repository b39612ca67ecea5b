/**
 * The CLI's stdout and stderr, written through their file descriptors.
 *
 * Why: `process.stdout` and `process.stderr` are made on first use, and for a pipe (CI logs, `| tee`,
 * any parent reading the output) that loads node:net and opens a socket on the descriptor: ~2-3 ms of
 * every start (bench/README.md, `status`). A synchronous write to the descriptor says the same bytes
 * in the same order, and is done when it returns (nothing queued to flush at exit).
 *
 * - A descriptor that refuses a write with EAGAIN (something made it non-blocking: Node.js itself
 *   does when code in the process uses `process.stdout` on a pipe) sends the rest, and everything
 *   after, through Node.js's stream, in order; `pending` waits for what that stream still queues.
 * - A reader that goes away early (`sluice history | head`, a pager quit) makes the next write fail
 *   with EPIPE; that must not end the process (in the middle of a run, for `up`): the rest of the
 *   output is dropped quietly and the command goes on to its end and exits with its own code. Any
 *   other failure to write stdout (a full disk under `> log`) is named once on stderr, and the command
 *   goes on the same way. Errors writing stderr itself have nowhere to go and are dropped. The same
 *   holds for errors a stream made by other code reports (its error listener below).
 * - `process.stdout`/`process.stderr` made by other code (a TypeScript revision's console.log) are
 *   waited for at exit too (`pending`): the getters are watched for that.
 */
import { fstatSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';

type Fd = 1 | 2;
const NAMES = { 1: 'stdout', 2: 'stderr' } as const;

/** Descriptors whose output now goes through Node.js's stream (after an EAGAIN). */
const streamed: Record<Fd, boolean> = { 1: false, 2: false };
/** Streams made so far (by this module or any other code). */
const made: Record<Fd, boolean> = { 1: false, 2: false };
let lostTold = false;

// Watch the lazy getters: a stream another module makes is one whose queue exit waits for.
for (const fd of [1, 2] as const) {
  const name = NAMES[fd];
  const desc = Object.getOwnPropertyDescriptor(process, name);
  const get = desc?.get;
  if (!get || !desc.configurable) {
    made[fd] = true; // not a lazy getter here: treat the stream as made
    continue;
  }
  Object.defineProperty(process, name, {
    ...desc,
    get() {
      const stream = get.call(process) as NodeJS.WriteStream;
      if (!made[fd]) {
        made[fd] = true;
        // EPIPE and friends arrive as events on a stream: handled as on the descriptor (see above)
        stream.on('error', (err: NodeJS.ErrnoException) => (fd === 1 ? outputLost(err.code ?? err.message) : undefined));
      }
      return stream;
    },
  });
}

/**
 * Whether the descriptor is a terminal (what `process.stdout.isTTY` says, without making the stream).
 * node:tty loads node:net, so it is asked only about a character device (a terminal, or /dev/null):
 * a pipe, a file or a socket is no terminal.
 */
export function isTerminal(fd: Fd): boolean {
  try {
    if (!fstatSync(fd).isCharacterDevice()) return false;
  } catch {
    return false; // closed
  }
  return (createRequire(import.meta.url)('node:tty') as typeof import('node:tty')).isatty(fd);
}

/** Write `text` to stdout (1) or stderr (2), in order with everything written before. */
export function write(fd: Fd, text: string): void {
  if (streamed[fd]) {
    process[NAMES[fd]].write(text);
    return;
  }
  const data = Buffer.from(text, 'utf8');
  let at = 0;
  while (at < data.length) {
    try {
      at += writeSync(fd, data, at, data.length - at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINTR') continue;
      if (code === 'EAGAIN') {
        streamed[fd] = true;
        process[NAMES[fd]].write(data.subarray(at));
        return;
      }
      if (fd === 1) outputLost(code ?? String(err));
      return;
    }
  }
}

function outputLost(code: string): void {
  if (code === 'EPIPE' || lostTold) return;
  lostTold = true;
  write(2, `sluice: cannot write the output (${code}); the rest of it is lost, the command runs to its end\n`);
}

/**
 * Resolves once the streams that were made have handed what they queue to their reader: a pipe takes
 * 64 KiB at a time, and process.exit drops what is still queued (a slowly read `--json` would arrive cut).
 */
export async function pending(): Promise<void> {
  await Promise.all(
    ([1, 2] as const)
      .filter((fd) => made[fd])
      .map((fd) => process[NAMES[fd]])
      .map((stream) => (stream.writableLength > 0 ? new Promise<void>((resolve) => stream.write('', () => resolve())) : undefined)),
  );
}
