/**
 * The schema as text, by pg_dump (dumpSchema of the PostgreSQL adapter: db-test's and migrate-check's
 * comparisons of what a history builds).
 */
import { existsSync } from 'node:fs';
import { describeCause, ExitCode, SluiceError } from '../errors.js';
import { libpqConnection } from '../pgconn.js';
import { quoteIdent } from '../sql.js';
import { VERSION_TABLE } from '../store.js';

export function pgDumpPath(): string {
  for (const p of ['/usr/lib/postgresql/15/bin/pg_dump']) if (existsSync(p)) return p;
  return 'pg_dump';
}

/**
 * `pg_dump --schema-only -n <schema>`, without sluice's version table and the dump's random restrict keys.
 * The connection goes to pg_dump as a keyword/value string without the password; the password goes
 * through its environment (PGPASSWORD), never its argv (src/pgconn.ts).
 */
export async function dumpPostgres(url: string, schema: string): Promise<string> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const child = libpqConnection(url);
  const { stdout } = await promisify(execFile)(
    pgDumpPath(),
    ['--schema-only', '--no-owner', '--no-privileges', '-n', quoteIdent(schema), '-T', `${quoteIdent(schema)}.${quoteIdent(VERSION_TABLE)}`, '-d', child.conninfo],
    { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...child.env } },
  ).catch((err: { stderr?: string }) => {
    // pg_dump's own message (its first line), not execFile's "Command failed: <argv>".
    const said = String(err.stderr ?? '').trim().split('\n')[0];
    // the role may not read a table of the schema (a read-only role enough for status): a setting, not a bug (a hunt: exit 1)
    if (/permission denied/i.test(said ?? '')) {
      throw new SluiceError(`pg_dump cannot read schema ${schema} to compare it (${said}); the drift check reads the whole schema's structure: run it as a role that may (SELECT on its tables, as the owner has), or leave the database out (migrate-check --no-database)`, ExitCode.usage, { cause: err });
    }
    throw new SluiceError(`pg_dump failed: ${said || describeCause(err)}`, ExitCode.internal, { cause: err });
  });
  const lines = stdout.split('\n').filter((l) => !/^\\(un)?restrict /.test(l) && !l.startsWith('--') && l.trim() !== '');
  return sortTableColumns(lines).join('\n');
}

/**
 * Column order is cosmetic (a column re-added by a down comes last): list each CREATE TABLE's column
 * and constraint lines sorted, so comparisons see the schema, not the attribute numbers.
 */
function sortTableColumns(lines: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    out.push(lines[i]!);
    if (!/^CREATE (UNLOGGED )?TABLE .*\($/.test(lines[i]!)) continue;
    const body: string[] = [];
    while (i + 1 < lines.length && !/^\)/.test(lines[i + 1]!)) body.push(lines[++i]!.replace(/,$/, ''));
    body.sort();
    out.push(...body.map((l, k) => (k < body.length - 1 ? `${l},` : l)));
  }
  return out;
}
