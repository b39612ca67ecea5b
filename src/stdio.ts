/**
 * The CLI's stdout and stderr: written through their file descriptors while that is what Node.js's
 * own streams would do, through the streams otherwise.
 *
 * Why: `process.stdout` and `process.stderr` are made on first use, and for a pipe (CI logs, `| tee`,
 * any parent reading the output) that loads node:net and opens a socket on the descriptor: ~2-3 ms of
 * every start (bench/README.md, `status`), for a command that prints a few lines.
 *
 * Only the CLI turns this on (`installStdio`, before anything prints); a process that imports the
 * library keeps Node.js's streams and its own handling of their errors (`write` goes to the stream).
 * Once on:
 * - A file, a terminal or a device is written synchronously, as Node.js's streams write them on POSIX.
 * - A pipe or a socket: Node.js's stream never blocks (it queues what the reader has not taken yet),
 *   where a synchronous write to a full pipe would wait for the reader, with a transaction open for
 *   `up`, and with signals unanswered. So only the first PIPE_DIRECT bytes go to the descriptor (a
 *   pipe holds at least one page: they cannot wait on a reader that has taken nothing); from then on,
 *   and after any EAGAIN (a descriptor someone made non-blocking), the stream carries the rest, in
 *   order. `status` and the other short outputs stay under it.
 * - A stream other code made (a TypeScript revision's console.log) that still queues data takes the
 *   CLI's lines too, after that data, so nothing overtakes it; exit waits for every stream that was
 *   made (`pending`). The lazy getters are watched for that.
 * - A reader that goes away early (`sluice history | head`, a pager quit) makes the next write fail
 *   with EPIPE; that must not end the process (in the middle of a run, for `up`): the rest of the
 *   output is dropped quietly and the command goes on to its end and exits with its own code. Any
 *   other failure to write stdout (a full disk under `> log`) is named once on stderr, and the command
 *   goes on the same way. Errors writing stderr itself have nowhere to go and are dropped. The same
 *   holds for the errors a stream reports (its error listener below).
 */
import { fstatSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';

type Fd = 1 | 2;
const NAMES = { 1: 'stdout', 2: 'stderr' } as const;
/** Bytes a pipe takes without a reader: one page, the least a Linux pipe holds (its per-user limits). */
const PIPE_DIRECT = 4096;

let installed = false;
/** Descriptors whose output goes through Node.js's stream from now on. */
const streamed: Record<Fd, boolean> = { 1: false, 2: false };
/** Streams made so far (by this module or any other code), once installed. */
const made: Record<Fd, boolean> = { 1: false, 2: false };
/** Pipes and sockets: bytes written to them directly so far; undefined: not a pipe. */
const piped: Record<Fd, number | undefined> = { 1: undefined, 2: undefined };
let lostTold = false;
/** Node.js's own getters of process.stdout and process.stderr, once installed: the streams the CLI writes. */
const own: Partial<Record<Fd, () => NodeJS.WriteStream>> = {};
/** --json: stdout is the document's alone; what other code writes through process.stdout goes to stderr. */
let documentOnly = false;

/** The real stream of a descriptor (made on first use, its errors watched). */
function stream(fd: Fd): NodeJS.WriteStream {
  const get = own[fd];
  if (!get) return process[NAMES[fd]];
  const s = get.call(process);
  if (!made[fd]) watchErrors(fd, s);
  return s;
}

/** What a descriptor is, asked once (installStdio and isTerminal both need it); undefined: closed. */
const kinds: Partial<Record<Fd, 'pipe' | 'device' | 'other' | null>> = {};
function kindOf(fd: Fd): 'pipe' | 'device' | 'other' | undefined {
  if (kinds[fd] === undefined) {
    try {
      const st = fstatSync(fd);
      kinds[fd] = st.isFIFO() || st.isSocket() ? 'pipe' : st.isCharacterDevice() ? 'device' : 'other';
    } catch {
      kinds[fd] = null;
    }
  }
  return kinds[fd] ?? undefined;
}

/** A stream's errors handled as the descriptor's (EPIPE and friends arrive as events on a stream; see above). */
function watchErrors(fd: Fd, stream: NodeJS.WriteStream): void {
  made[fd] = true;
  stream.on('error', (err: NodeJS.ErrnoException) => (fd === 1 ? outputLost(err.code ?? err.message) : undefined));
}

/** The CLI's output through the descriptors (see above); called once, before anything prints. */
export function installStdio(): void {
  if (installed) return;
  installed = true;
  for (const fd of [1, 2] as const) {
    const kind = kindOf(fd);
    if (kind === 'pipe') piped[fd] = 0;
    else if (kind === undefined) streamed[fd] = true; // closed: Node.js's stream decides what to do
    // Watch the lazy getter: a stream another module makes is one the CLI's lines must not overtake.
    const name = NAMES[fd];
    const desc = Object.getOwnPropertyDescriptor(process, name);
    const get = desc?.get;
    if (!get || !desc.configurable) {
      // not a lazy getter here: the stream, as without this module
      streamed[fd] = true;
      watchErrors(fd, process[name]);
      continue;
    }
    own[fd] = get as () => NodeJS.WriteStream;
    Object.defineProperty(process, name, {
      ...desc,
      // with --json, other code's process.stdout (console.log included) is stderr: see stdoutForDocumentOnly
      get: () => stream(fd === 1 && documentOnly ? 2 : fd),
    });
  }
}

/**
 * `--json`: stdout carries the one JSON document and nothing else. What code other than the CLI's printer
 * writes there — a drizzle.config.ts that logs (dotenv 17's `injecting env` line, on every load that
 * is not cached: a fresh clone, a CI deploy), a TypeScript revision's console.log — goes to stderr
 * instead (was: printed before the document, which a script's JSON.parse then refused). The printer
 * writes the descriptor (or Node.js's own stream) itself. Called by the CLI before anything loads;
 * Node.js's global console takes process.stdout on its first use, so it must come before that too.
 */
export function stdoutForDocumentOnly(): void {
  documentOnly = true;
}

/**
 * Whether the descriptor is a terminal (what `process.stdout.isTTY` says, without making the stream).
 * node:tty loads node:net, so it is asked only about a character device (a terminal, or /dev/null):
 * a pipe, a file or a socket is no terminal.
 */
export function isTerminal(fd: Fd): boolean {
  return kindOf(fd) === 'device' && (createRequire(import.meta.url)('node:tty') as typeof import('node:tty')).isatty(fd);
}

/** Write `text` to stdout (1) or stderr (2), in order with everything written before. */
export function write(fd: Fd, text: string): void {
  if (!installed || streamed[fd]) {
    stream(fd).write(text);
    return;
  }
  const data = Buffer.from(text, 'utf8');
  const sent = piped[fd];
  // through the stream: past a pipe's first page, or behind what a stream made elsewhere still queues
  if ((sent !== undefined && sent + data.length > PIPE_DIRECT) || (made[fd] && stream(fd).writableLength > 0)) {
    streamed[fd] = true;
    stream(fd).write(data);
    return;
  }
  let at = 0;
  while (at < data.length) {
    try {
      at += writeSync(fd, data, at, data.length - at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINTR') continue;
      if (code === 'EAGAIN') {
        streamed[fd] = true;
        stream(fd).write(data.subarray(at));
        return;
      }
      if (fd === 1) outputLost(code ?? String(err));
      return;
    }
  }
  if (sent !== undefined) piped[fd] = sent + data.length;
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
      .filter((fd) => made[fd] || !installed)
      .map((fd) => stream(fd))
      .map((stream) => (stream.writableLength > 0 ? new Promise<void>((resolve) => stream.write('', () => resolve())) : undefined)),
  );
}
