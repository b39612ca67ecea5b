/**
 * SLUICE_VERIFY: whether the downs migrate-create, migrate-downs and migrate-merge write are verified on
 * a scratch database (downproof.ts). `off` turns it off; so do 0, false and no, as a user of other
 * tools writes it (was: anything but `off` verified, silently).
 */
import { ConfigError } from './errors.js';

const OFF = new Set(['off', '0', 'false', 'no']);
const ON = new Set(['', 'on', '1', 'true', 'yes']);

/** True when SLUICE_VERIFY turns the verification off; a value it does not take is refused (ConfigError, exit 2). */
export function verifyOff(env: Record<string, string | undefined>): boolean {
  const value = (env.SLUICE_VERIFY ?? '').trim().toLowerCase();
  if (OFF.has(value)) return true;
  if (ON.has(value)) return false;
  throw new ConfigError(`SLUICE_VERIFY=${env.SLUICE_VERIFY} is not a value it takes: off (or 0, false, no) skips the verification of downs; unset, on, 1, true or yes verifies them`);
}

/** verifyOff without the refusal, for work started ahead of need (a value it does not take is refused by the command itself). */
export function saysVerifyOff(env: Record<string, string | undefined>): boolean {
  return OFF.has((env.SLUICE_VERIFY ?? '').trim().toLowerCase());
}
