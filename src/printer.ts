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
import pc from 'picocolors';
import { passwordForms } from './pgconn.js';
import { isTerminal, write } from './stdio.js';

export interface Printer {
  line(text: string): void;
  error(text: string): void;
  json(value: unknown): void;
  /**
   * A transient status line (progress of a long run), redrawn in place; undefined clears it. Only a
   * printer attached to a terminal has one: elsewhere progress is the plain lines printed by `line`.
   */
  status?(text: string | undefined): void;
}

export type Colours = ReturnType<typeof pc.createColors>;

/**
 * Whether output is coloured. FORCE_COLOR decides when it is set (`0` or `false`: no colour,
 * anything else: colour, as Node.js and chalk read it); otherwise a non-empty NO_COLOR turns colour
 * off (no-color.org); otherwise colour only on a terminal that is not `TERM=dumb`.
 */
export function colourEnabled(env: Record<string, string | undefined>, isTTY: boolean): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !/^(0|false)$/i.test(force.trim());
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return isTTY && env.TERM !== 'dumb';
}

/** The colours every formatter uses: decided once, from the environment and whether stdout is a terminal. */
export const colours: Colours = pc.createColors(colourEnabled(process.env, isTerminal(1)));

/** Passwords are masked everywhere from this length on; shorter ones only where they stand as credentials. */
export const MIN_GLOBAL_SECRET = 4;

/** Every form of every password the environment holds (DATABASE_URL, SLUICE_CHECK_DATABASE_URL, PGPASSWORD). */
export function passwordsIn(env: Record<string, string | undefined>): string[] {
  const key = `${env.DATABASE_URL}\0${env.SLUICE_CHECK_DATABASE_URL}\0${env.PGPASSWORD}`;
  if (lastPasswords?.env !== env || lastPasswords.key !== key) lastPasswords = { env, key, found: passwordsFrom(env) };
  return [...lastPasswords.found];
}
let lastPasswords: { env: Record<string, string | undefined>; key: string; found: string[] } | undefined;

function passwordsFrom(env: Record<string, string | undefined>): string[] {
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

/**
 * The CLI's printer. Results go to stdout, errors to stderr. On a terminal (stderr is a TTY and TERM
 * is not dumb) it also keeps a status line on stderr, cleared before any other output and redrawn
 * after it, so the lines around it stay whole; SLUICE_NO_PROGRESS=1 turns it off.
 */
export function consolePrinter(secrets: () => string[], options: { live?: boolean } = {}): Printer {
  // The redactor is built again only when the secrets change (.env is read after the printer is made).
  let made: { key: string; redact: (text: string) => string } | undefined;
  const current = () => {
    const list = secrets();
    const key = list.join('\0');
    if (made?.key !== key) made = { key, redact: redactor(list) };
    return made.redact;
  };
  const redact = (text: string) => current()(text);
  const live = options.live ?? (isTerminal(2) && process.env.TERM !== 'dumb' && process.env.SLUICE_NO_PROGRESS !== '1');
  let shown: string | undefined;
  const clear = () => {
    if (shown !== undefined) write(2, '\r\x1b[2K');
  };
  const redraw = () => {
    if (shown !== undefined) write(2, fit(shown, process.stderr.columns)); // a terminal: its stream is cheap
  };
  const around = (write: () => void) => {
    flushConsole();
    clear();
    write();
    redraw();
  };
  const printer: Printer = {
    line: (text) => (live ? around(() => write(1, `${redact(text)}\n`)) : hold(`${text}\n`, current)),
    error: (text) => around(() => write(2, `${redact(text)}\n`)),
    json: (value) => around(() => write(1, `${redact(JSON.stringify(value, jsonReplacer, 2))}\n`)),
  };
  if (live) {
    printer.status = (text) => {
      clear();
      shown = text === undefined ? undefined : redact(text);
      redraw();
    };
  }
  return printer;
}

/**
 * Without a status line, stdout lines printed in one stretch of synchronous work (the results of a
 * group of revisions the server finished together: up to a thousand lines) go out in one write, at
 * the next microtask, instead of a write (and a wake-up of the reader) each. They are redacted once
 * for each run of lines of one printer, with the secrets it knew when the run began and again with
 * those it knows at the write (a secret .env brings meanwhile, or one removed from the environment,
 * is masked either way), instead of once a line (reading the environment each time: ~3 ms of a
 * thousand lines). Held lines are written before anything else a console printer writes (errors,
 * JSON, the status line), before a revision starts (engine.ts: SQLite runs statements synchronously,
 * before any microtask, and a signal ends such a run at once), before a child process that shares the
 * output starts, and at exit. One buffer for every console printer: they all write to this process's stdout.
 */
type Redactor = (text: string) => string;
let held: { current: () => Redactor; early: Redactor; text: string }[] = [];

function hold(text: string, current: () => Redactor): void {
  if (!held.length) {
    queueMicrotask(flushConsole);
    if (!exitHooked) process.once('exit', flushConsole); // a process.exit elsewhere, an uncaught error
    exitHooked = true;
  }
  const last = held[held.length - 1];
  if (last?.current === current) last.text += text;
  else held.push({ current, early: current(), text });
}
let exitHooked = false;

/** Write the console printers' held lines now. */
export function flushConsole(): void {
  if (!held.length) return;
  const runs = held;
  held = [];
  write(1, runs.map((r) => r.current()(r.early(r.text))).join(''));
}

/** One terminal line: cut to the width (the status line must never wrap, or \r could not redraw it). */
function fit(text: string, columns: number | undefined): string {
  const width = Math.max(20, (columns || 80) - 1);
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

function jsonReplacer(key: string, value: unknown): unknown {
  if (key === 'cause') return undefined;
  return value;
}
