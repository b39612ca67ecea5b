/**
 * The CLI builds only the command the arguments name (cli.ts); every command when they name none, one
 * it may not know, or ask for help: commandNamed decides which, from the arguments alone.
 */
import { describe, expect, it } from 'vitest';
import { commandNamed } from '../../src/argv.js';

const named = (...args: string[]) => commandNamed(['node', 'sluice', ...args]);

describe('commandNamed', () => {
  it('names the first word after the global options, skipping their values', () => {
    expect(named('status')).toBe('status');
    expect(named('--json', 'status')).toBe('status');
    expect(named('-C', 'some/dir', '--verbose', 'up', '+1')).toBe('up');
    expect(named('--config', 'drizzle.config.ts', 'down', '--', '-1')).toBe('down');
    expect(named('--cwd=app', '--config=x.ts', 'history')).toBe('history');
    expect(named('db', 'up')).toBe('db');
    expect(named('statu')).toBe('statu'); // not defined: the CLI then builds every command (its error suggests one)
  });

  it('names none when help or the version is asked for, or for help and init, which list every command', () => {
    expect(named()).toBeUndefined();
    expect(named('--help')).toBeUndefined();
    expect(named('status', '-h')).toBeUndefined();
    expect(named('-V')).toBeUndefined();
    expect(named('help', 'status')).toBeUndefined();
    expect(named('init')).toBeUndefined();
    expect(named('--json', 'init')).toBeUndefined();
  });

  it('names none when a global option is written in a form it does not read (commander decides)', () => {
    expect(named('-Cdir', 'status')).toBeUndefined();
    expect(named('--unknown', 'status')).toBeUndefined();
    expect(named('--', 'status')).toBeUndefined();
  });

  it('a help flag after `--` is an argument, not a request for help', () => {
    expect(named('show', '--', '--help')).toBe('show');
  });
});
