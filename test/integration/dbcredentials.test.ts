/**
 * The database a command acts on when DATABASE_URL is unset: the SQLite file drizzle.config.ts's
 * dbCredentials.url names, as drizzle-kit's own commands use (found by a hunt: sluice migrated a new
 * ./db.sqlite beside the app's database and said "applied"). Real CLI, real SQLite files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanEnv, makeProject, REPO, runCli } from '../support/project.js';

const config = (credentials: string) =>
  `import { defineConfig } from 'drizzle-kit';\nexport default defineConfig({ dialect: 'sqlite', schema: './models/sqlite.ts', out: './drizzle/sqlite'${credentials} });\n`;

describe('DATABASE_URL unset', () => {
  it("acts on the SQLite file the config's dbCredentials.url names, not ./db.sqlite", () => {
    const dir = makeProject();
    writeFileSync(path.join(dir, 'drizzle.config.ts'), config(", dbCredentials: { url: 'file:./app.db' }"));
    const up = runCli(dir, ['up']);
    expect(up.status, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^sqlite:app\.db: base -> 0003_add_phone_to_users \(4 revisions applied\)$/m);
    expect(existsSync(path.join(dir, 'app.db'))).toBe(true);
    expect(existsSync(path.join(dir, 'db.sqlite'))).toBe(false);
    // the second run reads the config's description from the cache: the same file
    const status = runCli(dir, ['--json', 'status']);
    expect(JSON.parse(status.stdout)).toMatchObject({ database: 'sqlite:app.db', current: '0003_add_phone_to_users' });
    // make db-connect opens the same file
    const connect = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli.cjs'), 'db', 'connect'], { cwd: dir, env: cleanEnv() as NodeJS.ProcessEnv, input: 'SELECT count(*) FROM sluice_version;\n', encoding: 'utf8' });
    expect(connect.stdout.trim(), connect.stderr).toBe('4');
    // DATABASE_URL set wins
    expect(JSON.parse(runCli(dir, ['--json', 'status'], { DATABASE_URL: 'file:./other.db' }).stdout)).toMatchObject({ database: 'sqlite:other.db', current: 'base' });
  });

  // a hunt: drizzle-kit reads drizzle.config.json when there is no .ts or .js config; sluice said "no
  // drizzle.config.ts", and with --config printed Node.js's import-attribute error
  it('reads a drizzle.config.json as drizzle-kit does: found by itself, and through --config', () => {
    const dir = makeProject();
    rmSync(path.join(dir, 'drizzle.config.ts'));
    writeFileSync(path.join(dir, 'drizzle.config.json'), JSON.stringify({ dialect: 'sqlite', schema: './models/sqlite.ts', out: './drizzle/sqlite', dbCredentials: { url: 'file:./json.db' } }, null, 2));
    const up = runCli(dir, ['up', '2']);
    expect(up.status, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^sqlite:json\.db: base -> 0002_add_sessions_and_roles \(3 revisions applied\)$/m);
    const status = runCli(dir, ['--json', '--config', 'drizzle.config.json', 'status']);
    expect(JSON.parse(status.stdout), status.stderr).toMatchObject({ database: 'sqlite:json.db', current: '0002_add_sessions_and_roles' });
  });

  it("a config without a database (none, :memory:) keeps ./db.sqlite; a PostgreSQL-only config says DATABASE_URL is unset", () => {
    const dir = makeProject();
    for (const credentials of ['', ", dbCredentials: { url: ':memory:' }"]) {
      writeFileSync(path.join(dir, 'drizzle.config.ts'), config(credentials));
      const r = runCli(dir, ['--json', 'status']);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ database: 'sqlite:db.sqlite' });
    }
    // found by a hunt: a database sluice cannot open (a server, a D1 driver, a file URL with options)
    // migrated ./db.sqlite instead, exit 0; now refused in one line that never shows the URL
    for (const [credentials, what] of [
      [", dbCredentials: { url: 'libsql://db.example.com?authToken=secret' }", 'a database server \\(libSQL or HTTP\\)'],
      [", dbCredentials: { url: 'file:./data.db?mode=rwc&secret=1' }", 'a file URL with options after "\\?"'],
      [", driver: 'd1-http', dbCredentials: { accountId: 'a', databaseId: 'b', token: 'secret' }", 'a database through driver "d1-http"'],
    ]) {
      writeFileSync(path.join(dir, 'drizzle.config.ts'), config(credentials!));
      for (const command of ['status', 'up']) {
        const r = runCli(dir, [command]);
        expect(r.status, r.stdout + r.stderr).toBe(2);
        expect(r.stderr).toMatch(new RegExp(`^sluice: DATABASE_URL is not set, and drizzle\\.config\\.ts's dbCredentials names ${what}, which sluice cannot open .*set DATABASE_URL to the database to migrate .*nothing was changed\n$`));
        expect(r.stdout + r.stderr).not.toContain('secret');
      }
      expect(existsSync(path.join(dir, 'db.sqlite'))).toBe(false);
      expect(JSON.parse(runCli(dir, ['--json', 'status'], { DATABASE_URL: 'file:./other.db' }).stdout)).toMatchObject({ database: 'sqlite:other.db' });
    }
    // commands that need no connection still work: offline SQL, and history from the files (a review:
    // they were refused too)
    const offline = runCli(dir, ['sql', 'head']);
    expect(offline.status, offline.stderr).toBe(0);
    expect(offline.stdout).toMatch(/^-- sluice offline SQL: sqlite, base -> 0003_add_phone_to_users/);
    const history = runCli(dir, ['history']);
    expect(history.status, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/note: the database could not be read, so applied markers are unknown \(DATABASE_URL is not set/);
    // migrate-check runs its other checks, and says why there is no drift check
    const verify = runCli(dir, ['verify']);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^skip drift \(sqlite\): no database: DATABASE_URL is not set, and the config's dbCredentials names a database through driver "d1-http", which sluice cannot open$/m);
    writeFileSync(path.join(dir, 'drizzle.config.ts'), "export default { dialect: 'postgresql', schema: './models/postgres.ts', out: './drizzle/postgresql' };\n");
    const pg = runCli(dir, ['status']);
    expect(pg.status).toBe(2);
    expect(pg.stderr).toMatch(/^sluice: DATABASE_URL is unset, so sluice would open the SQLite file \.\/db\.sqlite, but drizzle\.config\.ts only configures postgresql; set DATABASE_URL \(in the environment or \.env\) to your postgresql database\n$/);
  });
});
