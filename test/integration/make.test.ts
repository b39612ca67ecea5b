/** The Make targets as a user runs them, in a temp copy of the project, on SQLite and PostgreSQL. */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pgDescribe, addUserColumn, cleanEnv, makeProject, pgUrl, runMake, uniqueSchema, type Env } from '../support/project.js';

const ok = (r: { status: number; stdout: string; stderr: string }) => {
  if (r.status !== 0) throw new Error(`make failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};

describe('make targets on the embedded default (SQLite ./db.sqlite)', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeProject();
  });

  it('migrate-up with no environment creates ./db.sqlite at head', () => {
    expect(existsSync(path.join(dir, 'db.sqlite'))).toBe(false);
    expect(ok(runMake(dir, ['migrate-up']))).toMatch(/base -> 0003_add_phone_to_users \(4 revisions applied\)/);
    expect(existsSync(path.join(dir, 'db.sqlite'))).toBe(true);
    expect(ok(runMake(dir, ['migrate-status']))).toMatch(/current:\s+0003_add_phone_to_users[\s\S]*pending:\s+none/);
  });

  it('history, show, down, stamp and reset', () => {
    const hist = ok(runMake(dir, ['migrate-history']));
    expect(hist).toMatch(/0003_add_phone_to_users \(head, current\)\s+add phone to users/);
    expect(ok(runMake(dir, ['migrate-show', 'REVISION=2']))).toMatch(/revision:\s+0002_add_sessions_and_roles[\s\S]*-- up[\s\S]*CREATE TABLE `sessions`[\s\S]*-- down[\s\S]*DROP TABLE `sessions`/);
    expect(ok(runMake(dir, ['migrate-down']))).toMatch(/0003_add_phone_to_users reverted/);
    expect(ok(runMake(dir, ['migrate-down', 'REVISION=0001_add_audits']))).toMatch(/0002_add_sessions_and_roles reverted/);
    expect(ok(runMake(dir, ['migrate-up', 'REVISION=+1']))).toMatch(/0002_add_sessions_and_roles applied/);
    expect(ok(runMake(dir, ['migrate-stamp', 'REVISION=head']))).toMatch(/0003_add_phone_to_users stamped/);
    expect(ok(runMake(dir, ['migrate-stamp', 'REVISION=2']))).toMatch(/0003_add_phone_to_users unstamped/);
    ok(runMake(dir, ['migrate-up']));
    const refused = runMake(dir, ['migrate-reset']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/confirm with YES=1/);
    expect(ok(runMake(dir, ['migrate-status']))).toMatch(/current:\s+0003/);
    // an applied up edited afterwards: reset refuses it and names --allow-changed, which migrate-reset takes
    // as migrate-down does (was: the flag was unknown to reset, and make dropped ALLOW_CHANGED=1)
    const up = path.join(dir, 'drizzle', 'sqlite', '0001_add_audits.sql');
    const text = readFileSync(up, 'utf8');
    writeFileSync(up, `${text}\n-- edited after it was applied\n`);
    const changed = runMake(dir, ['migrate-reset', 'YES=1']);
    expect(changed.status).not.toBe(0);
    expect(changed.stderr).toMatch(/0001_add_audits\.sql changed after it was applied.*--allow-changed/);
    // the next guard: the down was made for the up as it was (checked, its up-checksum line deleted)
    const allowed = runMake(dir, ['migrate-reset', 'YES=1', 'ALLOW_CHANGED=1', 'SINGLE_TRANSACTION=1']);
    expect(allowed.stderr).toMatch(/the up of 0001_add_audits changed after its down was generated/);
    const down = path.join(dir, 'drizzle', 'sqlite', '0001_add_audits.down.sql');
    const downText = readFileSync(down, 'utf8');
    writeFileSync(down, downText.replace(/^-- sluice:up-checksum .*\n/m, ''));
    expect(ok(runMake(dir, ['migrate-reset', 'YES=1', 'ALLOW_CHANGED=1', 'SINGLE_TRANSACTION=1']))).toMatch(/-> base \(4 revisions reverted\)/);
    writeFileSync(up, text);
    writeFileSync(down, downText);
  });

  it('refuses bad revisions with one line and a non-zero exit', () => {
    for (const [args, message] of [
      [['migrate-down', 'REVISION=-5'], /-5 is past base/],
      [['migrate-up', 'REVISION=nope'], /unknown revision "nope"/],
      [['migrate-stamp'], /REVISION is required/],
      [['migrate-show', 'REVISION=add_audit'], /did you mean 0001_add_audits/],
    ] as const) {
      const r = runMake(dir, [...args]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('migrate-create passes MSG through make untouched: no shell injection, slugified file names', () => {
    addUserColumn(dir, 'bio');
    const msg = `add bio "quoted" $(touch pwned1) \`touch pwned2\` ; touch pwned3 'x'\nsecond line`;
    const out = ok(runMake(dir, ['migrate-create', `MSG=${msg}`]));
    expect(out).toMatch(/created sqlite 0004_add_bio_quoted_touch_pwned1_touch_pwned2_touch_pwned3_x_seco/);
    for (const f of ['pwned1', 'pwned2', 'pwned3']) expect(existsSync(path.join(dir, f))).toBe(false);
    const files = readdirSync(path.join(dir, 'drizzle', 'postgresql'));
    const down = files.find((f) => f.endsWith('.down.sql') && f.startsWith('0004_'))!;
    expect(readFileSync(path.join(dir, 'drizzle', 'postgresql', down), 'utf8')).toContain(
      `-- message: add bio "quoted" $(touch pwned1) \`touch pwned2\` ; touch pwned3 'x' second line`,
    );
    expect(ok(runMake(dir, ['migrate-create', 'MSG=again']))).toMatch(/No changes in the models; nothing created/);
    expect(ok(runMake(dir, ['migrate-up']))).toMatch(/0004_.* applied/);
  });

  it('db-connect opens sqlite3 on the configured database', () => {
    const r = spawnSync('make', ['--no-print-directory', 'db-connect'], { cwd: dir, input: 'SELECT count(*) FROM sluice_version;\n', encoding: 'utf8', env: cleanEnv() as NodeJS.ProcessEnv });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('5');
  });
});

pgDescribe('make targets on PostgreSQL with DATABASE_SCHEMA', () => {
  let dir: string;
  let env: Env;
  beforeAll(() => {
    dir = makeProject();
    env = { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('make') };
  });

  it('runs the whole loop', () => {
    expect(ok(runMake(dir, ['migrate-up'], env))).toMatch(/\(schema make_.*\): base -> 0003_add_phone_to_users/);
    expect(ok(runMake(dir, ['migrate-status'], env))).toMatch(/current:\s+0003_add_phone_to_users/);
    expect(ok(runMake(dir, ['migrate-history'], env))).toMatch(/0000_init\s+init/);
    expect(ok(runMake(dir, ['migrate-show', 'REVISION=0002'], env))).toMatch(/CREATE TYPE "public"."role"/);
    expect(ok(runMake(dir, ['migrate-down', 'REVISION=base'], env))).toMatch(/4 revisions reverted/);
    expect(ok(runMake(dir, ['migrate-stamp', 'REVISION=head'], env))).toMatch(/4 revisions stamped/);
    expect(ok(runMake(dir, ['migrate-stamp', 'REVISION=base'], env))).toMatch(/4 revisions unstamped/);
    expect(ok(runMake(dir, ['migrate-up', 'REVISION=2'], env))).toMatch(/3 revisions applied/);
    expect(ok(runMake(dir, ['migrate-reset', 'YES=1'], env))).toMatch(/-> base/);
    addUserColumn(dir, 'locale');
    expect(ok(runMake(dir, ['migrate-create', 'MSG=add locale'], env))).toMatch(/created postgresql 0004_add_locale/);
    expect(ok(runMake(dir, ['migrate-up'], env))).toMatch(/0004_add_locale applied/);
    const r = spawnSync('make', ['--no-print-directory', 'db-connect'], {
      cwd: dir,
      input: 'SELECT count(*) AS n FROM sluice_version;\n',
      encoding: 'utf8',
      env: cleanEnv(env) as NodeJS.ProcessEnv,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\n\s+5\n/);
  });

  it('db-test passes on both dialects', () => {
    const out = ok(runMake(dir, ['db-test'], { SLUICE_CHECK_DATABASE_URL: pgUrl() }));
    expect(out).toMatch(/sqlite \(5 revisions\): 14 passed, 0 failed/);
    expect(out).toMatch(/postgresql \(5 revisions\): 14 passed, 0 failed/);
  });
});

pgDescribe('make db-up / db-down without Docker', () => {
  it('starts a local cluster in .sluice/postgres, prints its DATABASE_URL, and stops it', () => {
    const dir = makeProject();
    chmodSync(dir, 0o755);
    const env = { SLUICE_NO_DOCKER: '1' };
    const up = ok(runMake(dir, ['db-up'], env));
    const url = /export DATABASE_URL=(\S+)/.exec(up)?.[1];
    expect(url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(existsSync(path.join(dir, '.sluice', 'postgres', 'data', 'PG_VERSION'))).toBe(true);
    try {
      expect(ok(runMake(dir, ['migrate-up'], { DATABASE_URL: url, DATABASE_SCHEMA: 'dev' }))).toMatch(/4 revisions applied/);
      expect(ok(runMake(dir, ['db-up'], env))).toContain(url!);
    } finally {
      expect(ok(runMake(dir, ['db-down'], env))).toMatch(/PostgreSQL stopped/);
    }
    const after = runMake(dir, ['migrate-status'], { DATABASE_URL: url, SLUICE_CONNECT_TIMEOUT: '3' });
    expect(after.status).not.toBe(0);
    expect(after.stderr).toMatch(/cannot connect to .*connection refused/);
    // started again: the same URL (the one put in .env), and every committed revision is still there
    // (was: a new port each time, and the last commits lost to an immediate stop without synchronous commit)
    const again = ok(runMake(dir, ['db-up'], env));
    try {
      expect(again).toContain(url!);
      expect(ok(runMake(dir, ['migrate-status'], { DATABASE_URL: url, DATABASE_SCHEMA: 'dev' }))).toMatch(/current:\s+0003_add_phone_to_users/);
    } finally {
      ok(runMake(dir, ['db-down'], env));
    }
  });
});

pgDescribe('make migrate-downs adopts a drizzle-kit history it did not create', () => {
  it('writes every missing down (the same as migrate-create would), keeps existing ones, and the history round-trips', () => {
    const dir = makeProject();
    const folders = ['sqlite', 'postgresql'].map((d) => path.join(dir, 'drizzle', d));
    const expected = new Map<string, string>();
    for (const f of folders) {
      for (const file of readdirSync(f).filter((x) => x.endsWith('.down.sql'))) {
        expected.set(path.join(f, file), readFileSync(path.join(f, file), 'utf8'));
        if (!file.startsWith('0003_')) rmSync(path.join(f, file));
      }
    }
    writeFileSync(path.join(folders[0]!, '0003_add_phone_to_users.down.sql'), '-- hand-written\nALTER TABLE `users` DROP COLUMN `phone`;\n');
    const out = ok(runMake(dir, ['migrate-downs']));
    expect(out).toMatch(/6 down file\(s\) written \(6 verified, 0 flagged for a hand\), 2 existing kept/);
    for (const [file, text] of expected) {
      if (file.endsWith(path.join('sqlite', '0003_add_phone_to_users.down.sql'))) expect(readFileSync(file, 'utf8')).toMatch(/^-- hand-written/);
      else expect(readFileSync(file, 'utf8')).toBe(text);
    }
    const check = ok(runMake(dir, ['db-test'], { SLUICE_CHECK_DATABASE_URL: pgUrl() }));
    expect(check).toMatch(/sqlite \(4 revisions\): 12 passed, 0 failed/);
    expect(check).toMatch(/postgresql \(4 revisions\): 12 passed, 0 failed/);
  });
});
