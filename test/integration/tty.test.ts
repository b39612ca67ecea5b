/**
 * migrate-create on a terminal: drizzle-kit asks whether a new column is a rename; the answer given at
 * the prompt ends up in the up's RENAME statement, and sluice's down renames back (data kept). The
 * terminal is a real pseudo-terminal from util-linux `script`; keys are sent when the prompt shows.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { downgrade, status, upgrade } from '../../src/index.js';
import { pgDescribe, cleanEnv, makeProject, pgUrl, REPO, runCli, sql, uniqueSchema } from '../support/project.js';

function createOnTerminal(dir: string, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const cmd = `${process.execPath} ${path.join(REPO, 'dist', 'cli.cjs')} create -m '${message}'`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: dir, env: cleanEnv({ TERM: 'xterm' }) as NodeJS.ProcessEnv });
    let out = '';
    let answered = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (b) => {
      out += b.toString();
      // one answer per prompt: a prompt is open when the question shows after the last "resolved" line
      const resolved = out.split('conflicts in users table resolved').length - 1;
      const lastResolved = out.lastIndexOf('conflicts in users table resolved');
      if (answered === resolved && out.indexOf('created or renamed from another column?', lastResolved + 1) > lastResolved) {
        answered += 1;
        setTimeout(() => child.stdin.write('\x1b[B'), 150); // arrow down to "rename"
        setTimeout(() => child.stdin.write('\r'), 300);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const clean = out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
      if (code === 0) resolve(clean);
      else reject(new Error(`create on a terminal exited ${code}:\n${clean}`));
    });
  });
}

pgDescribe('migrate-create on a terminal', () => {
  it('captures a rename answered at drizzle-kit prompt; the down renames back and keeps the data', async () => {
    const dir = makeProject();
    for (const f of ['models/sqlite.ts', 'models/postgres.ts']) {
      const p = path.join(dir, f);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(p, readFileSync(p, 'utf8').replace("  name: text('name'),", "  fullName: text('full_name'),"));
    }
    const out = await createOnTerminal(dir, 'rename name');
    expect(out).toMatch(/created sqlite 0004_rename_name/);
    expect(out).toMatch(/created postgresql 0004_rename_name/);
    expect(out).not.toMatch(/manual down required/);
    for (const [dialect, env] of [
      ['sqlite', { DATABASE_URL: `file:${path.join(dir, 't.sqlite')}`, SLUICE_NO_BACKUP: '1' }],
      ['postgresql', { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('tty') }],
    ] as const) {
      const down = readFileSync(path.join(dir, 'drizzle', dialect, '0004_rename_name.down.sql'), 'utf8');
      expect(down).toMatch(/RENAME COLUMN [`"]full_name[`"] TO [`"]name[`"]/);
      await upgrade({ cwd: dir, env, revision: '0003' });
      await sql(dir, env, `INSERT INTO users (email, name) VALUES ('a@b.c', 'Ada')`);
      await upgrade({ cwd: dir, env });
      expect(await sql(dir, env, 'SELECT full_name FROM users')).toEqual([{ full_name: 'Ada' }]);
      await downgrade({ cwd: dir, env });
      expect(await sql(dir, env, 'SELECT name FROM users')).toEqual([{ name: 'Ada' }]);
    }
  });
});

/** `reset` on a terminal; `key` is typed once its question shows. Resolves with the exit code and what the terminal showed. */
function resetOnTerminal(dir: string, env: Record<string, string>, key: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const cmd = `${process.execPath} ${path.join(REPO, 'dist', 'cli.cjs')} reset`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: dir, env: cleanEnv({ TERM: 'xterm', ...env }) as NodeJS.ProcessEnv });
    let out = '';
    let typed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (b) => {
      out += b.toString();
      if (!typed && out.includes('Revert every revision')) {
        typed = true;
        setTimeout(() => child.stdin.write(key), 150);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '') });
    });
  });
}

describe('migrate-reset asks on a terminal', () => {
  it('Ctrl+D or Ctrl+C at the question is a no: exit 6 with the usual line, nothing reverted', async () => {
    const dir = makeProject();
    const env = { DATABASE_URL: `file:${path.join(dir, 'r.sqlite')}`, SLUICE_NO_BACKUP: '1' };
    expect(runCli(dir, ['up'], env).status).toBe(0);
    for (const [name, key] of [['Ctrl+D', '\x04'], ['Ctrl+C', '\x03'], ['n', 'n\r']] as const) {
      const r = await resetOnTerminal(dir, env, key);
      expect(r.out, name).toMatch(/sluice: migrate-reset reverts every revision; confirm with YES=1 \(or --yes\)/);
      expect(r.out, name).not.toMatch(/internal error|at .*\.js:\d+/);
      expect(r.code, `${name}: ${r.out}`).toBe(6);
      expect((await status({ cwd: dir, env })).current, name).toBe('0003_add_phone_to_users');
    }
  });
});

