/**
 * A disposable local PostgreSQL cluster from the installed binaries (initdb, pg_ctl): used by
 * `make db-up` where no Docker engine runs, by the test suite, by `make db-test` and by the benchmark.
 * As root, the server runs as the `postgres` user (runuser -u postgres --).
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { SluiceError, ExitCode, describeCause } from './errors.js';
import { pidAlive } from './pids.js';

const run = promisify(execFile);

export interface Cluster {
  dir: string;
  port: number;
  url: string;
}

export function pgBinDir(): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length) return path.join(root, versions[0]!, 'bin');
  }
  throw new SluiceError('no PostgreSQL server binaries found under /usr/lib/postgresql (initdb, pg_ctl); install postgresql', ExitCode.connection);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const asRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

async function pgRun(bin: string, args: string[]): Promise<string> {
  const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  try {
    const { stdout, stderr } = await run(cmd, argv, { timeout: 60_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    throw new SluiceError(`${path.basename(bin)} failed: ${(e.stderr || e.stdout || describeCause(err)).trim().split('\n').slice(-3).join(' ')}`, ExitCode.connection, {
      cause: err,
    });
  }
}

function giveToPostgres(dir: string): void {
  if (!asRoot()) return;
  const { uid, gid } = postgresUser();
  chownSync(dir, uid, gid);
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new SluiceError('running as root but there is no postgres user to run the server as', ExitCode.connection);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Whether nothing listens on 127.0.0.1:`port` now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Start (initialising if needed) a cluster in `dir`, listening on 127.0.0.1. Reuses a running one.
 * `durable`: a cluster that keeps what it committed (the dev database of `db up`): PostgreSQL's own
 * fsync and commit settings, and the port it had before when that is free (the URL in .env stays
 * right). Without it (tests, the bench, db-test's own cluster): fsync and synchronous commit off.
 * `settings`: more server settings (`-c name=value`; names of lower-case letters and `_`, values of letters,
 * digits, `_` and `.`), for a cluster this call starts (a running one is reused as it is).
 */
export async function startCluster(dir: string, options: { port?: number; durable?: boolean; settings?: Record<string, string> } = {}): Promise<Cluster> {
  const bin = pgBinDir();
  mkdirSync(dir, { recursive: true });
  giveToPostgres(dir);
  const data = path.join(dir, 'data');
  const portFile = path.join(dir, 'port');
  if (existsSync(path.join(data, 'postmaster.pid')) && existsSync(portFile)) {
    const port = Number(readFileSync(portFile, 'utf8'));
    if (await isUp(bin, data)) return cluster(dir, port);
  }
  if (!existsSync(path.join(data, 'PG_VERSION'))) {
    await pgRun(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  }
  const before = options.durable && existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : NaN;
  const port = options.port ?? (Number.isInteger(before) && before > 0 && (await portFree(before)) ? before : await freePort());
  const fast = options.durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
  const extra = Object.entries(options.settings ?? {}).map(([name, value]) => {
    if (!/^[a-z_]+$/.test(name) || !/^[\w.]+$/.test(value)) throw new Error(`invalid server setting ${name}=${value}`);
    return ` -c ${name}=${value}`;
  });
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${fast} -c max_connections=100${extra.join('')}`;
  await pgRun(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', '-o', opts, 'start']);
  writeFileSync(portFile, String(port));
  return cluster(dir, port);
}

async function isUp(bin: string, data: string): Promise<boolean> {
  try {
    await pgRun(path.join(bin, 'pg_ctl'), ['-D', data, 'status']);
    return true;
  } catch {
    return false;
  }
}

function cluster(dir: string, port: number): Cluster {
  return { dir, port, url: `postgres://postgres@127.0.0.1:${port}/postgres` };
}

/** Whether the postmaster of the cluster in `dir` runs (its postmaster.pid names a live process). */
export function clusterRunning(dir: string): boolean {
  try {
    const pid = Number(readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 && pidAlive(pid);
  } catch {
    return false;
  }
}

/** `durable`: a clean shutdown (fast: every commit is on disk); else immediate (a throwaway cluster). */
const stopArgs = (dir: string, durable = false) => ['-D', path.join(dir, 'data'), '-m', durable ? 'fast' : 'immediate', '-w', 'stop'];

export async function stopCluster(dir: string, options: { durable?: boolean } = {}): Promise<boolean> {
  if (!existsSync(path.join(dir, 'data', 'postmaster.pid'))) return false;
  await pgRun(path.join(pgBinDir(), 'pg_ctl'), stopArgs(dir, options.durable));
  return true;
}

/** The shell command that stops the cluster in `dir` by hand, as this user can run it (as root: as the postgres user). */
export function stopCommand(dir: string): string {
  const words = [path.join(pgBinDir(), 'pg_ctl'), ...stopArgs(dir)].map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`));
  return [...(asRoot() ? ['runuser', '-u', 'postgres', '--'] : []), ...words].join(' ');
}

/** Whether the server (run as the postgres user when we are root) can reach a folder inside `dir`. */
export function reachableByServer(dir: string): boolean {
  if (!asRoot()) return true;
  let p = path.resolve(dir);
  while (p !== path.dirname(p)) {
    if (existsSync(p) && (statSync(p).mode & 0o001) === 0) return false;
    p = path.dirname(p);
  }
  return true;
}
