/**
 * db-up / db-down / db-connect: a development PostgreSQL. Docker compose (postgres:15) where a
 * Docker engine answers, otherwise a local cluster from the installed binaries in .sluice/postgres.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadProjectConfig, parseDatabaseTarget, projectDatabaseTarget } from '../config.js';
import { resolveEnv, type CommandOptions } from '../context.js';
import { SluiceError, ExitCode } from '../errors.js';
import { libpqConnection } from '../pgconn.js';
import { reachableByServer, startCluster, stopCluster, pgBinDir } from '../pgcluster.js';
import { quoteIdent } from '../sql.js';
import { sha256 } from '../hash.js';
import { flushConsole } from '../printer.js';
import { checkOptions, COMMON_OPTIONS } from '../options.js';

const run = promisify(execFile);

export const COMPOSE_URL = 'postgres://sluice:sluice@localhost:5432/sluice';

export interface DevDbResult {
  via: 'docker' | 'local';
  url: string;
  /** Local cluster: its folder. */
  dir?: string;
  running: boolean;
}

async function dockerAvailable(env: Record<string, string | undefined>): Promise<boolean> {
  if (env.SLUICE_NO_DOCKER === '1') return false;
  try {
    await run('docker', ['info'], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * The local cluster lives in .sluice/postgres of the project. When we run as root and the postgres
 * user cannot reach the project folder (e.g. under /root), it lives in the temp folder instead, under
 * a name derived from the project path, and .sluice/postgres-location says where.
 */
function localDir(root: string): string {
  const own = path.join(root, '.sluice', 'postgres');
  if (reachableByServer(path.join(root, '.sluice'))) return own;
  const hash = sha256(root).slice(0, 12);
  const dir = path.join(os.tmpdir(), `sluice-dev-pg-${hash}`);
  mkdirSync(path.join(root, '.sluice'), { recursive: true });
  writeFileSync(path.join(root, '.sluice', 'postgres-location'), `${dir}\n`);
  return dir;
}

export async function dbUp(options: CommandOptions = {}): Promise<DevDbResult> {
  checkOptions('dbUp', options, COMMON_OPTIONS);
  const { root, env } = resolveEnv(options);
  if (await dockerAvailable(env)) {
    await run('docker', ['compose', '-f', path.join(root, 'docker', 'compose.yml'), 'up', '-d', '--wait'], { cwd: root });
    return { via: 'docker', url: COMPOSE_URL, running: true };
  }
  const dir = localDir(root);
  const c = await startCluster(dir, { port: env.SLUICE_DEV_PG_PORT ? Number(env.SLUICE_DEV_PG_PORT) : undefined, durable: true });
  return { via: 'local', url: c.url, running: true, dir };
}

export async function dbDown(options: CommandOptions = {}): Promise<DevDbResult & { stopped: boolean }> {
  checkOptions('dbDown', options, COMMON_OPTIONS);
  const { root, env } = resolveEnv(options);
  if (await dockerAvailable(env)) {
    await run('docker', ['compose', '-f', path.join(root, 'docker', 'compose.yml'), 'down'], { cwd: root });
    return { via: 'docker', url: COMPOSE_URL, running: false, stopped: true };
  }
  const stopped = await stopCluster(localDir(root), { durable: true });
  return { via: 'local', url: '', running: false, stopped };
}

/** Open psql or sqlite3 on the configured database, attached to this terminal. Resolves with its exit code. */
export async function dbConnect(options: CommandOptions & { args?: string[] } = {}): Promise<number> {
  checkOptions('dbConnect', options, { ...COMMON_OPTIONS, args: 'strings' });
  const { root, env } = resolveEnv(options);
  // DATABASE_URL unset: the config's SQLite file, as every other command (config.ts projectDatabaseTarget)
  const project = (env.DATABASE_URL ?? '').trim() === '' ? await loadProjectConfig(root, options.config ?? env.SLUICE_CONFIG).catch(() => undefined) : undefined;
  const target = project ? projectDatabaseTarget(env, root, project) : parseDatabaseTarget(env, root);
  let cmd: string;
  let argv: string[];
  const childEnv: NodeJS.ProcessEnv = { ...(env as NodeJS.ProcessEnv) };
  if (target.dialect === 'sqlite') {
    cmd = 'sqlite3';
    argv = [target.file!, ...(options.args ?? [])];
  } else {
    cmd = existsSync('/usr/bin/psql') ? '/usr/bin/psql' : path.join(pgBinDir(), 'psql');
    // psql's argv holds no password (any local user can read it with ps): the connection string is
    // built without it and the password goes through the environment (src/pgconn.ts).
    const child = libpqConnection(target.url!, { extraOptions: `-c search_path=${[target.schema!, ...(target.lookup ?? [])].map((x) => quoteIdent(x)).join(',')}`, fallbackOptions: env.PGOPTIONS });
    argv = ['-d', child.conninfo, ...(options.args ?? [])];
    Object.assign(childEnv, child.env);
  }
  return new Promise((resolve, reject) => {
    flushConsole(); // lines held for one write go out before the child's own output
    const child = spawn(cmd, argv, { stdio: 'inherit', env: childEnv });
    child.on('error', () => reject(new SluiceError(`${cmd} is not installed; install it (apt-get install ${target.dialect === 'sqlite' ? 'sqlite3' : 'postgresql-client'})`, ExitCode.usage)));
    child.on('close', (code) => resolve(code ?? 1));
  });
}
