/**
 * Passwords (issue 13, finding 5): a postgres URL becomes a child connection whose argv holds no
 * password (PGPASSWORD carries it), and every form of the password is masked in what sluice prints.
 */
import { parse as pgParse } from 'pg-connection-string';
import { describe, expect, it } from 'vitest';
import { parseDatabaseTarget } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { displayUrl, libpqConnection, parsePgUrl, passwordForms } from '../../src/pgconn.js';
import { MIN_GLOBAL_SECRET, passwordsIn, redactor } from '../../src/printer.js';

/** A password with every character a URL treats specially, plus quotes, a backslash and a space. */
const PW = `Zq9Vt2@:/?#%&+= x'y"z\\`;
const ENC = encodeURIComponent(PW);

/** Every spelling of a password a URL or a message could carry. */
function spellings(pw: string): string[] {
  return [...new Set([pw, encodeURIComponent(pw), encodeURI(pw), new URLSearchParams({ p: pw }).toString().slice(2), JSON.stringify(pw).slice(1, -1)])];
}

/** URLs naming the same role and password in each form the issue lists. */
const FORMS: { name: string; url: string; password: string }[] = [
  { name: 'userinfo, percent-encoded', url: `postgres://app:${ENC}@db.example:5433/main`, password: PW },
  { name: '?password=, percent-encoded', url: `postgres://app@db.example:5433/main?password=${ENC}`, password: PW },
  { name: '?password= with + as space', url: 'postgres://app@db.example:5433/main?sslmode=disable&password=Zq9+Vt2%2B', password: 'Zq9 Vt2+' },
  { name: 'userinfo with raw @ and :', url: 'postgres://app:Zq9@Vt2:w@db.example:5433/main', password: 'Zq9@Vt2:w' },
  { name: 'userinfo with a stray %', url: 'postgres://app:Zq9%Vt2@db.example:5433/main', password: 'Zq9%Vt2' },
  { name: 'userinfo and ?password= (the query wins)', url: `postgres://app:Other9Pw@db.example:5433/main?password=${ENC}`, password: PW },
];

describe('parsePgUrl reads URLs as node-postgres does', () => {
  const urls = [
    ...FORMS.map((f) => f.url),
    'postgresql://u@127.0.0.1/db?sslmode=verify-full&application_name=x',
    'postgres://u:pw@%2Fvar%2Frun%2Fpostgresql/db',
    'postgres:///db?host=/tmp&port=5999&user=other',
    'postgres://u:p%20w@[::1]:5432/d%C3%A9j%C3%A0',
    'postgres://u:p w@h/db',
    // a user and no host, the socket folder in host= (libpq's form; a hunt: refused as "not a valid URL")
    'postgresql://weird@/appdb?host=/tmp&port=5999',
    'postgresql://u:pw@/appdb?host=%2Fvar%2Frun%2Fpostgresql',
  ];
  for (const url of urls) {
    it(url, () => {
      const ours = parsePgUrl(url);
      const pg = pgParse(url);
      expect({ user: ours.user, password: ours.password, host: ours.host, port: ours.port ?? '', database: ours.database ?? null }).toEqual({
        user: pg.user || undefined,
        password: pg.password || undefined,
        host: pg.host || undefined,
        port: pg.port ?? '',
        database: pg.database ?? null,
      });
    });
  }
});

describe('libpqConnection: argv without the password, the password in the environment', () => {
  for (const f of FORMS) {
    it(f.name, () => {
      const c = libpqConnection(f.url);
      expect(c.env).toEqual({ PGPASSWORD: f.password });
      for (const s of [...spellings(f.password), 'Zq9', 'Other9Pw']) expect(c.conninfo).not.toContain(s);
      expect(c.conninfo).toMatch(/^host='db\.example' port='5433' dbname='main' user='app'/);
      expect(c.conninfo).not.toMatch(/password/i);
    });
  }

  it('passes non-password parameters on: sslmode, socket directory, options, application_name', () => {
    expect(libpqConnection('postgres://u:pw@h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=my%20app&connect_timeout=3').conninfo).toBe(
      "host='h' dbname='db' user='u' sslmode='verify-full' sslrootcert='/etc/ca.pem' application_name='my app' connect_timeout='3'",
    );
    expect(libpqConnection('postgres://u@%2Fvar%2Frun%2Fpostgresql:5444/db').conninfo).toBe("host='/var/run/postgresql' port='5444' dbname='db' user='u'");
    expect(libpqConnection('postgres:///db?host=/tmp/sock&port=5999').conninfo).toBe("host='/tmp/sock' port='5999' dbname='db'");
    expect(libpqConnection('postgres://h/db?options=-c%20statement_timeout%3D5s').conninfo).toBe("host='h' dbname='db' options='-c statement_timeout=5s'");
  });

  it('adds session options after the URL ones (else after PGOPTIONS), and translates node-postgres-only parameters', () => {
    const sp = { extraOptions: '-c search_path="s1"', fallbackOptions: '-c work_mem=8MB' };
    expect(libpqConnection('postgres://h/db', sp).conninfo).toBe(`host='h' dbname='db' options='-c work_mem=8MB -c search_path="s1"'`);
    expect(libpqConnection('postgres://h/db?options=-c%20a%3Db', sp).conninfo).toBe(`host='h' dbname='db' options='-c a=b -c search_path="s1"'`);
    expect(libpqConnection('postgres://h/db').conninfo).toBe("host='h' dbname='db'");
    expect(libpqConnection('postgres://h/db?ssl=true&uselibpqcompat=true&statement_timeout=5').conninfo).toBe("host='h' dbname='db' sslmode='require'");
    expect(libpqConnection('postgres://h/db?ssl=0').conninfo).toBe("host='h' dbname='db' sslmode='disable'");
    expect(libpqConnection('postgres://h/db?ssl=true&sslmode=verify-ca').conninfo).toBe("host='h' dbname='db' sslmode='verify-ca'");
  });

  it("quotes values for libpq (quotes, backslashes, spaces) and never passes sslpassword", () => {
    const c = libpqConnection("postgres://o'neil@h/my%20db?sslpassword=Key9Secret&application_name=a%5Cb");
    expect(c.conninfo).toBe("host='h' dbname='my db' user='o\\'neil' application_name='a\\\\b'");
    expect(c.env).toEqual({});
  });

  it('refuses a password holding a NUL byte, without showing it', () => {
    expect(() => libpqConnection('postgres://u:Zq9%00Vt2@h/db')).toThrow(/NUL byte/);
    try {
      libpqConnection('postgres://u:Zq9%00Vt2@h/db');
    } catch (e) {
      expect((e as Error).message).not.toContain('Zq9');
    }
  });
});

describe('URLs that would spill the password are refused without showing it', () => {
  // A raw / ? # ends the host early: the password's tail would be read as path, query or fragment.
  for (const url of [
    'postgres://app:123/Zq9Vt2@db.example/main',
    'postgres://app:123?Zq9Vt2@db.example/main',
    'postgres://app:123#Zq9Vt2@db.example/main',
    'postgres://app:Zq9/Vt2@db.example/main',
    'postgres://app:Zq9?Vt2@db.example/main',
    'postgres://app:Zq9#Vt2@db.example/main',
  ]) {
    it(url, () => {
      let err: unknown;
      try {
        parseDatabaseTarget({ DATABASE_URL: url }, '/p');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/percent-encode/);
      expect((err as Error).message).not.toMatch(/Zq9|Vt2/);
      // and the printer would mask it all the same
      const secrets = passwordsIn({ DATABASE_URL: url });
      expect(secrets.some((s) => s.includes('Vt2'))).toBe(true);
    });
  }
});

describe('display and secrets of a DatabaseTarget', () => {
  for (const f of FORMS) {
    it(f.name, () => {
      const t = parseDatabaseTarget({ DATABASE_URL: f.url }, '/p');
      expect(t.url).toBe(f.url);
      for (const s of [...spellings(f.password), 'Zq9']) expect(t.display).not.toContain(s);
      expect(t.display).toMatch(/^postgres:\/\/app(:\*\*\*)?@db\.example:5433\/main/);
      expect(t.secrets).toContain(f.password);
      const redact = redactor(t.secrets);
      for (const s of spellings(f.password)) expect(redact(`x ${s} y`)).toBe('x *** y');
    });
  }

  it('keeps other parameters in the display and masks password ones', () => {
    expect(parseDatabaseTarget({ DATABASE_URL: `postgres://app@h:1/db?sslmode=require&password=${ENC}&application_name=x` }, '/p').display).toBe(
      'postgres://app@h:1/db?sslmode=require&password=***&application_name=x',
    );
    expect(parseDatabaseTarget({ DATABASE_URL: 'postgres://app:Zq9Vt2@h:1/db?sslpassword=Key9Secret#frag' }, '/p').display).toBe(
      'postgres://app:***@h:1/db?sslpassword=***',
    );
    expect(parseDatabaseTarget({ DATABASE_URL: 'postgres://h/db' }, '/p')).toMatchObject({ display: 'postgres://h/db', secrets: [] });
  });
});

describe('passwordsIn and the redactor', () => {
  it('reads DATABASE_URL, SLUICE_CHECK_DATABASE_URL and PGPASSWORD', () => {
    const s = passwordsIn({
      DATABASE_URL: `postgres://a:${ENC}@h/db`,
      SLUICE_CHECK_DATABASE_URL: 'postgres://b@h/db?password=Check9Pw%21',
      PGPASSWORD: 'Env9Password',
    });
    for (const x of [PW, ENC, 'Check9Pw%21', 'Check9Pw!', 'Env9Password']) expect(s).toContain(x);
    expect(passwordsIn({ DATABASE_URL: 'file:./db.sqlite' })).toEqual([]);
    expect(passwordsIn({})).toEqual([]);
  });

  it('masks raw, encoded, decoded and JSON-escaped forms, in text and in --json output', () => {
    const redact = redactor(passwordsIn({ DATABASE_URL: `postgres://a@h/db?password=${ENC}` }));
    const json = JSON.stringify({ error: `failed for ${PW} (${ENC})`, url: `postgres://a@h/db?password=${ENC}` }, null, 2);
    const out = redact(json);
    for (const s of [...spellings(PW), 'Zq9']) expect(out).not.toContain(s);
    expect(JSON.parse(out)).toEqual({ error: 'failed for *** (***)', url: 'postgres://a@h/db?password=***' });
  });

  it(`masks a password shorter than ${MIN_GLOBAL_SECRET} characters only where it stands as a credential`, () => {
    // Masking every "e" would destroy the output and tell the reader the password is "e".
    for (const url of ['postgres://app:e@127.0.0.1:5/db', 'postgres://app@127.0.0.1:5/db?password=e']) {
      const redact = redactor(passwordsIn({ DATABASE_URL: url }));
      expect(redact('sluice: cannot connect to 127.0.0.1: connection refused')).toBe('sluice: cannot connect to 127.0.0.1: connection refused');
      expect(redact(`given ${url} here`)).not.toMatch(/:e@|password=e\b/);
      expect(redact('postgres://app:e@h/db ?password=e&x=1 "password": "e", PGPASSWORD=e')).toBe(
        'postgres://app:***@h/db ?password=***&x=1 "password": "***", PGPASSWORD=***',
      );
      expect(redact('password=eel, :eel@')).toBe('password=eel, :eel@');
    }
    expect(parseDatabaseTarget({ DATABASE_URL: 'postgres://app:e@127.0.0.1:5/db' }, '/p').display).toBe('postgres://app:***@127.0.0.1:5/db');
  });

  it('masks longer passwords everywhere, the longest form first', () => {
    const redact = redactor(['p@ss', 'p%40ss']);
    expect(redact('failed for p@ss and p%40ss')).toBe('failed for *** and ***');
    expect(redactor([])('unchanged')).toBe('unchanged');
    expect(redactor([''])('unchanged')).toBe('unchanged');
  });

  it('displayUrl never returns the URL as given', () => {
    expect(displayUrl('postgres://u:Zq9Vt2@h/db#Zq9')).toBe('postgres://u:***@h/db');
    expect(displayUrl('postgresql://u:Zq9Vt2@/db?host=/tmp')).toBe('postgresql://u:***@/db?host=/tmp');
    expect(passwordForms('not a url')).toEqual([]);
  });
});
