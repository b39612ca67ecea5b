/**
 * Output goes through a Printer so commands and tests never write to the console directly. Every
 * line passes through `redact`, so a password from DATABASE_URL (or SLUICE_CHECK_DATABASE_URL, or
 * PGPASSWORD) never reaches any output: not in results, not in errors, not in --json.
 *
 * Masking policy. Messages never contain a connection URL as given: they show `DatabaseTarget.display`,
 * rebuilt with the password as `***`, and child processes get the password through their environment
 * (src/pgconn.ts). On top of that the printer masks, in every line:
 * - a password of at least MIN_GLOBAL_SECRET (4) characters, in every form (as written, URL-encoded,
 *   percent-decoded, JSON-escaped), wherever it appears;
 * - a password of any length where it stands as a credential: `:<pw>@` (URL userinfo) and
 *   `password=<pw>` / `"password": "<pw>"` (also `sslpassword`, `PGPASSWORD`).
 * A 1–3 character password is not masked everywhere: replacing every `e` of the output would destroy
 * it, and would show the reader which characters the password is made of.
 */
import { passwordForms } from './pgconn.js';

export interface Printer {
  line(text: string): void;
  error(text: string): void;
  json(value: unknown): void;
}

/** Passwords are masked everywhere from this length on; shorter ones only where they stand as credentials. */
export const MIN_GLOBAL_SECRET = 4;

/** Every form of every password the environment holds (DATABASE_URL, SLUICE_CHECK_DATABASE_URL, PGPASSWORD). */
export function passwordsIn(env: Record<string, string | undefined>): string[] {
  const found = [...passwordForms(env.DATABASE_URL), ...passwordForms(env.SLUICE_CHECK_DATABASE_URL)];
  if (env.PGPASSWORD) found.push(env.PGPASSWORD);
  return [...new Set(found)].filter((s) => s.length > 0);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function redactor(secrets: string[]): (text: string) => string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  if (forms.size === 0) return (text) => text;
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  const everywhere = sorted.filter((s) => s.length >= MIN_GLOBAL_SECRET);
  const alternatives = sorted.map(escapeRe).join('|');
  const userinfo = new RegExp(`:(?:${alternatives})(?=@)`, 'g');
  const keyed = new RegExp(`(password["']?\\s*[=:]\\s*["']?)(?:${alternatives})(?![^\\s&#'"),;}\\]])`, 'gi');
  return (text) => {
    let t = text;
    for (const s of everywhere) t = t.split(s).join('***');
    return t.replace(userinfo, ':***').replace(keyed, '$1***');
  };
}

export function consolePrinter(secrets: () => string[]): Printer {
  const redact = (text: string) => redactor(secrets())(text);
  return {
    line: (text) => process.stdout.write(`${redact(text)}\n`),
    error: (text) => process.stderr.write(`${redact(text)}\n`),
    json: (value) => process.stdout.write(`${redact(JSON.stringify(value, jsonReplacer, 2))}\n`),
  };
}

function jsonReplacer(key: string, value: unknown): unknown {
  if (key === 'cause') return undefined;
  return value;
}
