/**
 * PostgreSQL connection URLs, for child processes and for messages.
 *
 * - `parsePgUrl` reads a `postgres://` URL the way node-postgres (pg-connection-string) does, so a
 *   child (pg_dump, psql) reaches exactly the database sluice itself connects to.
 * - `libpqConnection` turns it into what a libpq child needs: a keyword/value connection string for
 *   its argv that holds no password (argv is visible to every local user through `ps` and
 *   /proc/<pid>/cmdline), and an environment holding the password (`PGPASSWORD`; a process's
 *   environment is readable only by its owner and root).
 * - `displayUrl` and `passwordForms` are what messages may show and what they must never show.
 *
 * A password with `@ : / ? # %` must be percent-encoded in the URL (`%40 %3A %2F %3F %23 %25`); raw `@`
 * and `:` are tolerated (the credentials end at the last `@` before the host), raw `/ ? #` are not:
 * they end the host early, so the rest of the password would be read as path, query or fragment.
 * Such a URL (any `@` after the host) is refused with a message that does not show it.
 */
import { ConfigError } from './errors.js';

export interface PgUrlParts {
  user?: string;
  password?: string;
  host?: string;
  port?: string;
  database?: string;
  /** Every query parameter, decoded (the last of a repeated one wins), password ones included. */
  params: Record<string, string>;
}

/** Query parameters that carry secrets: never on argv, always masked in messages. */
export const SECRET_PARAMS: ReadonlySet<string> = new Set(['password', 'sslpassword']);

/**
 * libpq connection keywords (PostgreSQL 15, plus 16/17 additions) a URL query may carry to a child.
 * Others (node-postgres' own: `ssl`, `uselibpqcompat`, `statement_timeout`…) would make libpq refuse
 * the connection string; they are translated (`ssl`) or left to node-postgres.
 */
const LIBPQ_KEYWORDS = new Set([
  'hostaddr', 'passfile', 'channel_binding', 'connect_timeout', 'client_encoding', 'options', 'application_name',
  'fallback_application_name', 'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count',
  'tcp_user_timeout', 'replication', 'gssencmode', 'sslmode', 'requiressl', 'sslcompression', 'sslcert', 'sslkey',
  'sslcrl', 'sslcrldir', 'sslsni', 'sslrootcert', 'sslcertmode', 'sslnegotiation', 'requirepeer',
  'ssl_min_protocol_version', 'ssl_max_protocol_version', 'krbsrvname', 'gsslib', 'gssdelegation', 'service',
  'target_session_attrs', 'load_balance_hosts', 'require_auth',
]);

/** pg-connection-string's pre-pass: a URL with spaces or stray `%` is encoded before parsing. */
function preEncode(str: string): string {
  return / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(str) ? encodeURI(str).replace(/%25(\d\d)/g, '%$1') : str;
}

/**
 * The URL as WHATWG's parser reads it, and whether its host is empty: libpq's and node-postgres's
 * `postgresql://user@/db?host=/socket/folder` (a user and no host: a Unix socket given by `host=`),
 * which `new URL` refuses, is read with a stand-in host (a hunt: refused as "not a valid URL").
 */
function urlOf(raw: string): { u: URL; noHost: boolean } {
  const text = preEncode(raw.trim());
  try {
    return { u: new URL(text), noHost: false };
  } catch (err) {
    const m = /^(postgres(?:ql)?:\/\/[^/?#]*@)(?=[/?#]|$)/i.exec(text);
    if (!m) throw err;
    return { u: new URL(`${m[1]}localhost${text.slice(m[1]!.length)}`), noHost: true };
  }
}

function safeDecode(s: string, decode: (s: string) => string = decodeURIComponent): string {
  try {
    return decode(s);
  } catch {
    return s;
  }
}

/**
 * Parse a postgres:// URL as node-postgres does (query `user`/`password`/`host`/`port` win over the
 * URL's own parts). Throws a ConfigError that never quotes the URL.
 */
export function parsePgUrl(raw: string, name = 'DATABASE_URL'): PgUrlParts {
  let u: URL;
  let noHost = false;
  try {
    ({ u, noHost } = urlOf(raw));
  } catch {
    throw new ConfigError(
      `${name} is not a valid URL; expected postgres://user:password@host:5432/dbname (percent-encode @ : / ? # % in the password: %40 %3A %2F %3F %23 %25)`,
    );
  }
  if ((u.pathname + u.search + u.hash).includes('@')) {
    throw new ConfigError(
      `${name} has an "@" after the host: percent-encode @ / ? # in the password (%40 %2F %3F %23) and @ in other parts (%40)`,
    );
  }
  const params: Record<string, string> = {};
  for (const [k, v] of u.searchParams) params[k] = v;
  const hostname = noHost ? '' : u.hostname.replace(/^\[(.+)\]$/, '$1');
  const path = u.pathname.slice(1);
  return {
    user: params.user || safeDecode(u.username) || undefined,
    password: params.password || safeDecode(u.password) || undefined,
    host: params.host || safeDecode(hostname) || undefined,
    port: params.port || u.port || undefined,
    database: path ? safeDecode(path, decodeURI) : undefined,
    params,
  };
}

export interface ChildConnection {
  /** libpq keyword/value connection string for `-d`: host, port, dbname, user and parameters; never a password. */
  conninfo: string;
  /** Variables to add to the child's environment: PGPASSWORD when the URL has a password. */
  env: Record<string, string>;
}

/** A libpq value, single-quoted with `\` and `'` escaped. */
function conninfoValue(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * What a libpq child (pg_dump, psql) needs to reach the database `url` names: `-d <conninfo>` on its
 * argv, `env` merged into its environment. `extraOptions` is appended to the session options (the
 * URL's `options` parameter, else `fallbackOptions`, typically the caller's PGOPTIONS).
 */
export function libpqConnection(url: string, opts: { extraOptions?: string; fallbackOptions?: string } = {}): ChildConnection {
  const p = parsePgUrl(url);
  if (p.password?.includes('\0')) throw new ConfigError('the password in DATABASE_URL contains a NUL byte (%00); PostgreSQL passwords cannot');
  const kv: [string, string][] = [];
  if (p.host) kv.push(['host', p.host]);
  if (p.port) kv.push(['port', p.port]);
  if (p.database) kv.push(['dbname', p.database]);
  if (p.user) kv.push(['user', p.user]);
  for (const [k, v] of Object.entries(p.params)) {
    if (LIBPQ_KEYWORDS.has(k) && k !== 'options') kv.push([k, v]);
  }
  if (p.params.sslmode === undefined && p.params.ssl !== undefined) {
    // node-postgres' ssl=true/1 (TLS) and ssl=false/0 (no TLS), in libpq's words.
    if (/^(true|1)$/i.test(p.params.ssl)) kv.push(['sslmode', 'require']);
    else if (/^(false|0)$/i.test(p.params.ssl)) kv.push(['sslmode', 'disable']);
  }
  const options = [p.params.options ?? (opts.extraOptions ? opts.fallbackOptions : undefined), opts.extraOptions]
    .filter((o) => o !== undefined && o.trim() !== '')
    .join(' ');
  if (options) kv.push(['options', options]);
  const env: Record<string, string> = {};
  if (p.password) env.PGPASSWORD = p.password;
  return { conninfo: kv.map(([k, v]) => `${k}=${conninfoValue(v)}`).join(' '), env };
}

/** `?a=1&password=x` → `?a=1&password=***`; other parameters as written. */
function maskQuery(search: string): string {
  if (!search) return '';
  const parts = search
    .slice(1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      const key = safeDecode((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, ' '));
      return SECRET_PARAMS.has(key) && eq >= 0 ? `${part.slice(0, eq)}=***` : part;
    });
  return `?${parts.join('&')}`;
}

/**
 * The URL for messages: rebuilt from its parts with the password (userinfo or query) as `***` and
 * without a fragment; never the text as given. Call it on a URL parsePgUrl accepted.
 */
export function displayUrl(raw: string): string {
  let u: URL;
  let noHost = false;
  try {
    ({ u, noHost } = urlOf(raw));
  } catch {
    return 'postgres://…';
  }
  const creds = u.username || u.password ? `${u.username}${u.password ? ':***' : ''}@` : '';
  return `${u.protocol}//${creds}${noHost ? '' : u.host}${u.pathname}${maskQuery(u.search)}`;
}

/** The password part of a userinfo text (`user:password`), or undefined. */
function userinfoPassword(userinfo: string): string | undefined {
  const colon = userinfo.indexOf(':');
  return colon < 0 ? undefined : userinfo.slice(colon + 1);
}

/**
 * Every form in which the password(s) of a URL could appear in text: as written in the URL (userinfo
 * and `password=` / `sslpassword=` parameters), as a URL parser re-encodes it, percent-decoded (also
 * with `+` as space, as query strings decode), and decoded then re-encoded (encodeURIComponent,
 * encodeURI, form encoding). Also for URLs that do not parse, and for the
 * mistaken ones with a raw `/ ? #` in the password. Raw forms first. Never throws.
 */
export function passwordForms(raw: string | undefined): string[] {
  const text = (raw ?? '').trim();
  // from its first scheme on: a URL in quotes, or after `NAME=`, has its password masked too
  const m = /[a-z][a-z0-9+.-]*:\/\/(.*)$/is.exec(text);
  if (!m) return [];
  const rest = m[1]!;
  const found: string[] = [];
  const push = (s: string | undefined) => {
    if (s) found.push(s);
  };
  // As a URL parser reads it: the host starts after the last "@" before the first / ? #.
  const authEnd = rest.search(/[/?#]/);
  const authority = authEnd < 0 ? rest : rest.slice(0, authEnd);
  if (authority.includes('@')) push(userinfoPassword(authority.slice(0, authority.lastIndexOf('@'))));
  // As a person meant it when the password holds a raw / ? #: everything up to the last "@".
  if (rest.includes('@')) push(userinfoPassword(rest.slice(0, rest.lastIndexOf('@'))));
  // Query parameters as written.
  const q = rest.indexOf('?');
  if (q >= 0) {
    for (const part of rest.slice(q + 1).split(/[&#]/)) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (SECRET_PARAMS.has(safeDecode(part.slice(0, eq).replace(/\+/g, ' ')).toLowerCase())) push(part.slice(eq + 1));
    }
  }
  // As the URL parser normalises them.
  try {
    const u = new URL(preEncode(text));
    push(u.password);
    for (const k of SECRET_PARAMS) for (const v of u.searchParams.getAll(k)) push(v);
  } catch {
    /* not a URL: the textual forms above are all there is */
  }
  const raws = [...found];
  const decoded = raws.flatMap((f) => [safeDecode(f), safeDecode(f.replace(/\+/g, ' '))]);
  decoded.forEach(push);
  // and re-encoded the ways code commonly spells a password into a URL
  for (const d of decoded) {
    push(safeDecode(d, encodeURIComponent));
    push(safeDecode(d, encodeURI));
    push(new URLSearchParams({ p: d }).toString().slice(2));
  }
  return [...new Set(found)];
}
