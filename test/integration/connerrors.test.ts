/**
 * Connection failures a Unix-socket DATABASE_URL meets (found by a hunt): no socket file is a server
 * not running there (was: "connect ENOENT /tmp/.s.PGSQL.5432"), and `deploy` waits for one still being
 * made (a server or a proxy sidecar starting; was: exit 5 at once). Real CLI; no server needed.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject, runCli } from '../support/project.js';

describe('a Unix socket with no server behind it', () => {
  it('status says no server socket, exit 5; deploy waits for it within SLUICE_DEPLOY_WAIT', () => {
    const dir = makeProject();
    const folder = mkdtempSync(path.join(os.tmpdir(), 'sluice-nosock-'));
    const env = { DATABASE_URL: `postgres://postgres@${encodeURIComponent(folder)}/postgres` };
    const status = runCli(dir, ['status'], env);
    expect(status.status, status.stdout + status.stderr).toBe(5);
    expect(status.stderr.trim().split('\n')).toHaveLength(1);
    expect(status.stderr).toContain(`no server socket at ${folder}/.s.PGSQL.5432; is the server running`);
    const deploy = runCli(dir, ['deploy'], { ...env, SLUICE_DEPLOY_WAIT: '2' });
    expect(deploy.status, deploy.stdout + deploy.stderr).toBe(5);
    expect(deploy.stderr).toMatch(/waiting for .*: no server socket \(yet\) \(attempt 1, /);
  });
});
