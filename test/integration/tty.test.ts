/**
 * migrate-create on a terminal: drizzle-kit asks whether a new column is a rename; the answer given at
 * the prompt ends up in the up's RENAME statement, and sluice's down renames back (data kept). The
 * terminal is a real pseudo-terminal from util-linux `script`; keys are sent when the prompt shows.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { downgrade, status, upgrade } from '../../dist/index.js';
import { pgDescribe, cleanEnv, makeProject, pgUrl, REPO, runCli, sql, uniqueSchema } from '../support/project.js';

function createOnTerminal(dir: string, message: string): Promise<string> {
  return createOnTerminalEnded(dir, message).then(({ code, out }) => (code === 0 ? out : Promise.reject(new Error(`create on a terminal exited ${code}:\n${out}`))));
}

/**
 * migrate-create on a terminal; at each rename question, `answer` is typed (arrow down to "rename",
 * then Enter, by default). Resolves with the exit code and what the terminal showed.
 */
function createOnTerminalEnded(dir: string, message: string, answer: string[] = ['\x1b[B', '\r']): Promise<{ code: number | null; out: string }> {
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
        answer.forEach((key, i) => setTimeout(() => child.stdin.write(key), 150 * (i + 1)));
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '') });
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

// Found by review: on a terminal drizzle-kit's output is not read, and drizzle-kit exits 0 on its own
// failures; and Ctrl+C at its prompt reaches drizzle-kit alone (the terminal is in raw mode)
describe('migrate-create on a terminal, when drizzle-kit does not make the revision', () => {
  it('a model file that does not compile: exit 2, not "No changes in the models" (was: exit 0, the change dropped)', async () => {
    const dir = makeProject();
    const { writeFileSync } = await import('node:fs');
    const p = path.join(dir, 'models', 'sqlite.ts');
    writeFileSync(p, `${readFileSync(p, 'utf8').replace("  name: text('name'),", "  name: text('name'),\n  nick: text('nick'),")}\nexport const oops = ;\n`);
    const r = await createOnTerminalEnded(dir, 'add nick');
    expect(r.code, r.out).toBe(2);
    expect(r.out).toMatch(/sluice: sqlite: drizzle-kit generate made no revision and did not say the models are unchanged: see its output above/);
    expect(r.out).not.toMatch(/No changes in the models/);
  });

  it('Ctrl+C at the rename question: exit 130, nothing kept in either dialect, the other dialect not asked (was: went on to it and created its revision)', async () => {
    const dir = makeProject();
    const { existsSync, writeFileSync } = await import('node:fs');
    for (const f of ['models/sqlite.ts', 'models/postgres.ts']) {
      const p = path.join(dir, f);
      writeFileSync(p, readFileSync(p, 'utf8').replace("  name: text('name'),", "  fullName: text('full_name'),"));
    }
    const journals = ['sqlite', 'postgresql'].map((d) => readFileSync(path.join(dir, 'drizzle', d, 'meta', '_journal.json'), 'utf8'));
    const r = await createOnTerminalEnded(dir, 'rename name', ['\x03']);
    expect(r.code, r.out).toBe(130);
    expect(r.out).toMatch(/sluice: interrupted \(Ctrl\+C at drizzle-kit's prompt\) during migrate-create: nothing was kept/);
    expect(r.out.split('Reading config file').length - 1, r.out).toBe(1); // one drizzle-kit ran
    expect(['sqlite', 'postgresql'].map((d) => readFileSync(path.join(dir, 'drizzle', d, 'meta', '_journal.json'), 'utf8'))).toEqual(journals);
    for (const d of ['sqlite', 'postgresql']) expect(existsSync(path.join(dir, 'drizzle', d, '0004_rename_name.sql'))).toBe(false);
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

