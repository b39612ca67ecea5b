/** What the CLI makes of errors that are not sluice's own (src/errors.ts), without a database. */
import { describe, expect, it } from 'vitest';
import { ConfigError, describeCause, environmentError, ExitCode } from '../../src/errors.js';

describe('environmentError', () => {
  // found by a README walk: SLUICE_STATEMENT_TIMEOUT=5 (5 ms to PostgreSQL) gave "internal error", exit 1
  it("PostgreSQL's statement_timeout stopping one of sluice's own queries is a configuration error naming the setting", () => {
    const pgError = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
    const e = environmentError(pgError);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e!.exitCode).toBe(ExitCode.usage);
    expect(e!.message).toMatch(/^one of sluice's own queries was stopped by PostgreSQL's statement_timeout \(canceling statement due to statement timeout\): SLUICE_STATEMENT_TIMEOUT, or the role's or database's own statement_timeout, is too small \(a number without a unit is milliseconds to PostgreSQL\); raise it/);
    expect(e!.cause).toBe(pgError);
  });
  it('a cancel of another kind (sluice cancelling on Ctrl+C) is not one', () => {
    expect(environmentError(Object.assign(new Error('canceling statement due to user request'), { code: '57014' }))).toBeUndefined();
  });
});

describe('describeCause', () => {
  // found by a README walk: a TypeScript part that does not compile said only "Transform failed with 1 error:"
  it("carries esbuild's file, line, column and reason after its first line", () => {
    const err = new Error('Transform failed with 1 error:\n/p/drizzle/sqlite/0004_x.ts:1:38: ERROR: Expected ";" but found "error"');
    expect(describeCause(err)).toBe('Transform failed with 1 error: /p/drizzle/sqlite/0004_x.ts:1:38: ERROR: Expected ";" but found "error"');
  });
  it('is the first line of any other message', () => {
    expect(describeCause(new Error('relation "x" does not exist\nDETAIL: more'))).toBe('relation "x" does not exist');
  });
});
