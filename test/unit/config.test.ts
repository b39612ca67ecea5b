import { describe, expect, it } from 'vitest';
import { slugify } from '../../src/commands/create.js';
import { describeConfig, findConfigFile, parseDatabaseTarget, sqliteFileUrl, sqliteUrlUnusable } from '../../src/config.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { passwordsIn, redactor } from '../../src/printer.js';
import { plainIdentifier, splitStatements } from '../../src/sql.js';
import { removalsOnly } from '../../src/downgen.js';
import { guardFailure } from '../../src/dialect/postgres.js';

describe('parseDatabaseTarget', () => {
  it('defaults to ./db.sqlite', () => {
    const t = parseDatabaseTarget({}, '/proj');
    expect(t).toMatchObject({ dialect: 'sqlite', file: '/proj/db.sqlite' });
  });
  // a hunt: a CI secret that is not defined gives DATABASE_URL="" (set, empty), which kept .env's line
  // from applying and migrated the local ./db.sqlite, exit 0
  it('refuses DATABASE_URL set but empty (or blank): only unset means the default', () => {
    for (const v of ['', '  ', '\t']) {
      expect(() => parseDatabaseTarget({ DATABASE_URL: v }, '/proj')).toThrow(
        "DATABASE_URL is set but empty (a CI secret that is not defined, or an empty DATABASE_URL= line); set it to your database's URL, or unset it to use the local SQLite file ./db.sqlite",
      );
    }
  });
  it('reads file: and sqlite: URLs', () => {
    expect(parseDatabaseTarget({ DATABASE_URL: 'file:./x/a.db' }, '/proj').file).toBe('/proj/x/a.db');
    expect(parseDatabaseTarget({ DATABASE_URL: 'sqlite:/abs/b.db' }, '/proj').file).toBe('/abs/b.db');
    expect(parseDatabaseTarget({ DATABASE_URL: 'sqlite:////abs/c.db' }, '/proj').file).toBe('/abs/c.db');
    expect(parseDatabaseTarget({ DATABASE_URL: 'file:///abs/d.db' }, '/proj').file).toBe('/abs/d.db');
    expect(parseDatabaseTarget({ DATABASE_URL: 'file://localhost/abs/e.db' }, '/proj').file).toBe('/abs/e.db');
    expect(parseDatabaseTarget({ DATABASE_URL: 'file:app.db' }, '/proj').file).toBe('/proj/app.db');
  });

  // found by a hunt: `sqlite://app.db` named /app.db, and up applied the whole history there, exit 0
  it('refuses a file: or sqlite: URL whose host is a file name, and sqlite:/// that SQLAlchemy and URLs read apart', () => {
    expect(() => parseDatabaseTarget({ DATABASE_URL: 'sqlite://app.db' }, '/proj')).toThrow(
      'DATABASE_URL sqlite://app.db… has "app.db" where a URL\'s host goes, so it would name / at the root of the filesystem; write sqlite:./app.db for a file in the project, or sqlite:/absolute/path.db',
    );
    expect(() => parseDatabaseTarget({ DATABASE_URL: 'file://data/app.db' }, '/proj')).toThrow(/write file:\.\/data\/app\.db for a file in the project/);
    expect(() => parseDatabaseTarget({ DATABASE_URL: 'sqlite:///app.db' }, '/proj')).toThrow(
      'DATABASE_URL sqlite:///app.db is a relative path to SQLAlchemy (./app.db) and an absolute one as a URL (/app.db); write sqlite:./app.db or sqlite:/app.db',
    );
    for (const url of ['file://', 'sqlite://', 'file://localhost']) expect(() => parseDatabaseTarget({ DATABASE_URL: url }, '/proj')).toThrow(/names no SQLite file/);
  });
  it('refuses options after "?" in a SQLite URL instead of making a file named with them', () => {
    expect(() => parseDatabaseTarget({ DATABASE_URL: 'file:./dev.db?connection_limit=1' }, '/proj')).toThrow(
      'DATABASE_URL file:./dev.db?… has options after "?", which sluice does not read for SQLite; remove everything from the "?"',
    );
    expect(() => parseDatabaseTarget({ DATABASE_URL: 'sqlite:/abs/b.db?mode=ro' }, '/proj')).toThrow(ConfigError);
  });
  it('reads postgres URLs with the schema, default public, hiding the password', () => {
    const t = parseDatabaseTarget({ DATABASE_URL: 'postgresql://u:s3cret@h:5432/db' }, '/p');
    expect(t).toMatchObject({ dialect: 'postgresql', schema: 'public', display: 'postgresql://u:***@h:5432/db' });
    expect(t.secrets).toContain('s3cret');
    expect(parseDatabaseTarget({ DATABASE_URL: 'postgres://h/db', DATABASE_SCHEMA: 'tenant_1' }, '/p').schema).toBe('tenant_1');
  });
  it('refuses unsupported and malformed URLs and bad schema names', () => {
    expect(() => parseDatabaseTarget({ DATABASE_URL: 'mysql://h/db' }, '/p')).toThrow(/"mysql:…" is not supported/);
    expect(() => parseDatabaseTarget({ DATABASE_URL: 'postgres://u:p@:99999999/db' }, '/p')).toThrow(ConfigError);
    expect(() => parseDatabaseTarget({ DATABASE_URL: 'nonsense' }, '/p')).toThrow(ConfigError);
    for (const bad of ['a-b', '1abc', 'x"; drop schema public; --', 'a'.repeat(64)]) {
      expect(() => parseDatabaseTarget({ DATABASE_URL: 'postgres://h/db', DATABASE_SCHEMA: bad }, '/p')).toThrow(/DATABASE_SCHEMA .* is not a plain identifier/);
    }
  });
  it('reads DATABASE_SEARCH_PATH: schemas searched after DATABASE_SCHEMA, each a plain identifier', () => {
    const t = parseDatabaseTarget({ DATABASE_URL: 'postgres://h/db', DATABASE_SCHEMA: 'tenant_x', DATABASE_SEARCH_PATH: ' latitude, tenant_x ,audit,' }, '/p');
    expect([t.schema, t.lookup]).toEqual(['tenant_x', ['latitude', 'audit']]);
    expect(parseDatabaseTarget({ DATABASE_URL: 'postgres://h/db' }, '/p').lookup).toBeUndefined();
    expect(() => parseDatabaseTarget({ DATABASE_URL: 'postgres://h/db', DATABASE_SEARCH_PATH: 'ok,"x"; reset all' }, '/p')).toThrow(/DATABASE_SEARCH_PATH entry .* is not a plain identifier/);
  });
});

describe('sqliteFileUrl', () => {
  it("reads a SQLite config's dbCredentials.url as DATABASE_URL would say it, when it names a local file", () => {
    expect(sqliteFileUrl('sqlite', 'file:./data/app.db')).toBe('file:./data/app.db');
    expect(sqliteFileUrl('sqlite', 'sqlite.db')).toBe('file:./sqlite.db');
    expect(sqliteFileUrl('turso', 'file:///abs/app.db')).toBe('file:/abs/app.db');
    expect(sqliteFileUrl('sqlite', '/abs/app.db')).toBe('file:/abs/app.db');
    for (const url of [':memory:', 'file::memory:', 'libsql://x.turso.io?authToken=t', 'http://127.0.0.1:8080', 'file:./a.db?mode=ro', '', 42, undefined]) {
      expect(sqliteFileUrl('sqlite', url)).toBeUndefined();
    }
    expect(sqliteFileUrl('postgresql', 'file:./a.db')).toBeUndefined();
    expect(describeConfig('/p', '/p/drizzle.config.ts', { default: { dialect: 'sqlite', schema: './s.ts', dbCredentials: { url: 'app.db' } } as never }).sqliteUrl).toBe('file:./app.db');
  });
});

describe('describeConfig', () => {
  it('reads a multi-dialect config and a plain drizzle-kit one', () => {
    const multi = describeConfig('/p', '/p/drizzle.config.ts', {
      dialects: { sqlite: { schema: './m/s.ts', out: './drizzle/sqlite' }, postgresql: { schema: './m/p.ts', out: './drizzle/pg' } },
    });
    expect(multi.multiDialect).toBe(true);
    expect(multi.histories.postgresql!.out).toBe('/p/drizzle/pg');
    const single = describeConfig('/p', '/p/drizzle.config.ts', { default: { dialect: 'postgresql', schema: './s.ts' } });
    expect(single.histories.postgresql!.out).toBe('/p/drizzle');
    expect(() => describeConfig('/p', '/p/drizzle.config.ts', { default: { dialect: 'mysql', schema: 'x' } })).toThrow(/dialect "mysql" is not supported/);
    expect(() => describeConfig('/p', '/p/drizzle.config.ts', {})).toThrow(/no default export/);
  });
});

describe('sql helpers', () => {
  it('splits on drizzle-kit breakpoints and drops comment-only pieces', () => {
    expect(splitStatements('-- header\n--> statement-breakpoint\nCREATE TABLE a (x int);--> statement-breakpoint\nDROP TABLE b;')).toEqual([
      'CREATE TABLE a (x int);',
      'DROP TABLE b;',
    ]);
  });
  it('validates identifiers', () => {
    expect(plainIdentifier('tenant_01', 'X')).toBe('tenant_01');
    expect(() => plainIdentifier('ten ant', 'X')).toThrow(/X "ten ant" is not a plain identifier/);
  });
});

describe('slugify', () => {
  it('makes file-safe names from any message', () => {
    expect(slugify('add phone to users')).toBe('add_phone_to_users');
    expect(slugify('Ação: "quotes" $(rm -rf /) `id`\nnew line')).toBe('acao_quotes_rm_rf_id_new_line');
    expect(() => slugify('  !!! ')).toThrow(/MSG must contain letters or digits/);
    // a message in another script has letters, but none a file name is made of: the error says which count
    expect(() => slugify('добавить телефон')).toThrow(/MSG must contain letters or digits of the Latin alphabet \(a-z, 0-9\)/);
    expect(slugify('Ünïcode ✓ add')).toBe('unicode_add');
  });
});

describe('secrets', () => {
  it('finds and hides the password of DATABASE_URL', () => {
    const secrets = passwordsIn({ DATABASE_URL: 'postgres://app:p%40ss@db:5432/x' });
    expect(secrets).toEqual(['p%40ss', 'p@ss']);
    expect(redactor(secrets)('failed for p@ss and p%40ss')).toBe('failed for *** and ***');
  });
});

describe('removalsOnly (no rename prompts)', () => {
  const table = (name: string, cols: string[]) => ({ name, schema: '', columns: Object.fromEntries(cols.map((c) => [c, { name: c, type: 'text' }])), indexes: {}, foreignKeys: {} });
  it('returns null when the diff only adds or only removes', () => {
    expect(removalsOnly({ tables: { a: table('a', ['x']) } }, { tables: { a: table('a', ['x', 'y']) } }, 'sqlite')).toBeNull();
  });
  it('splits a diff that both adds and removes columns of a table', () => {
    const mid = removalsOnly({ tables: { a: table('a', ['x', 'old']) } }, { tables: { a: table('a', ['x', 'new']) } }, 'sqlite')!;
    expect(Object.keys(mid.tables.a.columns)).toEqual(['x']);
  });
  it('splits a diff that both adds and removes tables', () => {
    const mid = removalsOnly({ tables: { a: table('a', ['x']) } }, { tables: { b: table('b', ['x']) } }, 'sqlite')!;
    expect(Object.keys(mid.tables)).toEqual([]);
  });
  describe('an enum made where another is dropped (PostgreSQL)', () => {
    const en = (name: string) => ({ [`public.${name}`]: { name, schema: 'public', values: ['a'] } });
    const typed = (name: string, cols: [string, string][]) => ({ name, schema: 'public', columns: Object.fromEntries(cols.map(([c, type]) => [c, { name: c, type, typeSchema: 'public' }])), indexes: {}, foreignKeys: {} });
    const from = { tables: { 'public.a': typed('a', [['x', 'text']]), 'public.r': typed('r', [['s', 'old_kind']]) }, enums: en('old_kind') };
    it('leaves out the new enum with the columns and tables this diff adds that use it', () => {
      const to = { tables: { 'public.a': typed('a', [['x', 'text'], ['k', 'new_kind[]']]), 'public.n': typed('n', [['k', 'new_kind']]) }, enums: en('new_kind') };
      const mid = removalsOnly(from, to, 'postgresql')!;
      expect(mid.enums).toEqual({});
      expect(Object.keys(mid.tables)).toEqual(['public.a']);
      expect(Object.keys(mid.tables['public.a'].columns)).toEqual(['x']);
    });
    it('keeps it when a column that exists before changes to it (drizzle-kit asks; the down is left to a hand)', () => {
      const to = { tables: { 'public.a': typed('a', [['x', 'new_kind']]) }, enums: en('new_kind') };
      expect(removalsOnly(from, to, 'postgresql')).toBeNull();
    });
  });
});

describe('the search_path guard failure', () => {
  // The guard casts 'sluice_guard:<search_path>' to integer; the server words (and quotes) the error in its own language.
  it('names the new search_path whatever language the server speaks', () => {
    for (const message of [
      'invalid input syntax for type integer: "sluice_guard:public"',
      'ungültige Eingabesyntax für Typ integer: »sluice_guard:public«',
      'syntaxe en entrée invalide pour le type integer : « sluice_guard:public »',
      'sintaxe de entrada é inválida para tipo integer: "sluice_guard:public"',
    ]) {
      const err = guardFailure({ code: '22P02', message }) as Error & { searchPath?: string };
      expect(err.message).toMatch(/^the revision changed search_path to public, which would put objects outside DATABASE_SCHEMA; it was rolled back/);
      expect(err.searchPath).toBe('public');
    }
    expect(guardFailure({ code: '22P02', message: 'invalid input syntax for type integer: "abc"' })).toBeUndefined();
    expect(guardFailure({ code: '42P01', message: 'relation "sluice_guard:x" does not exist' })).toBeUndefined();
  });
});

describe('findConfigFile', () => {
  // a hunt: with drizzle.config.mjs and drizzle.config.json, sluice read the one and drizzle-kit the other
  it("takes drizzle-kit's order (ts, js, json), then .mts and .mjs", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-find-'));
    writeFileSync(path.join(dir, 'drizzle.config.mjs'), '');
    expect(path.basename(findConfigFile(dir))).toBe('drizzle.config.mjs');
    writeFileSync(path.join(dir, 'drizzle.config.mts'), '');
    expect(path.basename(findConfigFile(dir))).toBe('drizzle.config.mts');
    writeFileSync(path.join(dir, 'drizzle.config.json'), '{}');
    expect(path.basename(findConfigFile(dir))).toBe('drizzle.config.json');
    writeFileSync(path.join(dir, 'drizzle.config.js'), '');
    expect(path.basename(findConfigFile(dir))).toBe('drizzle.config.js');
    writeFileSync(path.join(dir, 'drizzle.config.ts'), '');
    expect(path.basename(findConfigFile(dir))).toBe('drizzle.config.ts');
  });
});

describe('sqliteUrlUnusable', () => {
  it('names what a SQLite config points at that sluice cannot open, never the URL', () => {
    expect(sqliteUrlUnusable('sqlite', 'file:./a.db', undefined)).toBeUndefined();
    expect(sqliteUrlUnusable('sqlite', ':memory:', undefined)).toBeUndefined();
    expect(sqliteUrlUnusable('sqlite', undefined, undefined)).toBeUndefined();
    expect(sqliteUrlUnusable('postgresql', 'libsql://x', undefined)).toBeUndefined();
    expect(sqliteUrlUnusable('turso', 'libsql://x.turso.io?authToken=s', undefined)).toBe('a database server (libSQL or HTTP)');
    expect(sqliteUrlUnusable('sqlite', 'https://x', undefined)).toBe('a database server (libSQL or HTTP)');
    expect(sqliteUrlUnusable('sqlite', 'file:./a.db?mode=rwc', undefined)).toBe('a file URL with options after "?"');
    expect(sqliteUrlUnusable('sqlite', undefined, 'd1-http')).toBe('a database through driver "d1-http"');
  });
});
