/**
 * migrate-create on a terminal: drizzle-kit asks whether a new column is a rename; the answer given at
 * the prompt ends up in the up's RENAME statement, and sluice's down renames back (data kept). The
 * terminal is a real pseudo-terminal from util-linux `script`; keys are sent when the prompt shows.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { downgrade, upgrade } from '../../src/index.js';
import { pgDescribe, cleanEnv, makeProject, pgUrl, REPO, sql, uniqueSchema } from '../support/project.js';

function createOnTerminal(dir: string, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const cmd = `${process.execPath} ${path.join(REPO, 'dist', 'cli.js')} create -m '${message}'`;
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
