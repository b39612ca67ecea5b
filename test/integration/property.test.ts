/**
 * Property-style check of generated downs: seeded random sequences of model edits (add/drop/rename
 * table and column, add/drop index, add foreign key, add enum value, type change) become a history
 * (snapshots from drizzle-kit's API, ups as drizzle-kit writes them); sluice adopts it (writes every
 * down), then each revision is applied with a row in every table, reverted and compared with the
 * previous schema, and the chain goes head -> base -> head. Seeds are fixed so failures reproduce.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as pgc from 'drizzle-orm/pg-core';
import * as sqc from 'drizzle-orm/sqlite-core';
import { expect, it } from 'vitest';
import { diffSnapshots } from '../../dist/downgen.js';
import { applyRenames, renameSql, resolvePrimaryKeyDrops, type Rename } from '../../dist/downrules.js';
import { downgrade, status, upgrade, writeMissingDowns } from '../../dist/index.js';
import { describeFor, dumpSchema, pgUrl, REPO, sql, tempDir, uniqueSchema, type Env } from '../support/project.js';

const api = createRequire(import.meta.url)('drizzle-kit/api');
type Dialect = 'sqlite' | 'postgresql';

interface Col { name: string; type: 'int' | 'text' | 'enum'; ref?: string }
interface Table { name: string; cols: Col[]; indexes: { name: string; col: string }[] }
interface State { tables: Table[]; enumValues: string[] }

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function models(state: State, dialect: Dialect): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const built = new Map<string, any>();
  const mood = dialect === 'postgresql' ? pgc.pgEnum('mood', state.enumValues as [string, ...string[]]) : undefined;
  if (mood) out.mood = mood;
  for (const t of state.tables) {
    const cols: Record<string, any> = {};
    for (const c of [{ name: 'id', type: 'int' as const }, ...t.cols]) {
      let col: any;
      if (dialect === 'postgresql') col = c.type === 'enum' ? mood!(c.name) : c.type === 'int' ? pgc.integer(c.name) : pgc.text(c.name);
      else col = c.type === 'int' ? sqc.integer(c.name) : sqc.text(c.name);
      if (c.name === 'id') col = col.primaryKey();
      const ref = (c as Col).ref;
      if (ref) col = col.references(() => built.get(ref).id);
      cols[c.name] = col;
    }
    const table = dialect === 'postgresql'
      ? pgc.pgTable(t.name, cols, (x: any) => t.indexes.map((i) => pgc.index(i.name).on(x[i.col])))
      : sqc.sqliteTable(t.name, cols, (x: any) => t.indexes.map((i) => sqc.index(i.name).on(x[i.col])));
    built.set(t.name, table);
    out[t.name] = table;
  }
  return out;
}

/** One random edit; returns the renames it makes (what drizzle-kit's prompts would record). */
function edit(state: State, r: () => number, n: number, dialect: Dialect): { what: string; renames: Rename[] } {
  const pick = <T,>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const referenced = (name: string) => state.tables.some((t) => t.cols.some((c) => c.ref === name));
  const plain = (t: Table) => t.cols.filter((c) => !c.ref && c.type !== 'enum' && !t.indexes.some((i) => i.col === c.name));
  for (;;) {
    const kind = pick(['addTable', 'dropTable', 'renameTable', 'addColumn', 'dropColumn', 'renameColumn', 'addIndex', 'dropIndex', 'addFk', 'enumValue', 'typeChange']);
    const t = state.tables.length ? pick(state.tables) : undefined;
    switch (kind) {
      case 'addTable':
        state.tables.push({ name: `t${n}`, cols: [{ name: `c${n}`, type: 'text' }], indexes: [] });
        return { what: kind, renames: [] };
      case 'dropTable':
        if (!t || state.tables.length < 2 || referenced(t.name)) break;
        state.tables = state.tables.filter((x) => x !== t);
        return { what: kind, renames: [] };
      case 'renameTable': {
        if (!t) break;
        const to = `r${n}`;
        for (const x of state.tables) for (const c of x.cols) if (c.ref === t.name) c.ref = to;
        const from = t.name;
        t.name = to;
        return { what: kind, renames: [{ kind: 'table', table: from, from, to }] };
      }
      case 'addColumn':
        if (!t) break;
        t.cols.push({ name: `c${n}`, type: r() < 0.5 ? 'int' : 'text' });
        return { what: kind, renames: [] };
      case 'dropColumn': {
        const c = t && plain(t)[0];
        if (!t || !c) break;
        t.cols = t.cols.filter((x) => x !== c);
        return { what: kind, renames: [] };
      }
      case 'renameColumn': {
        const c = t && plain(t).at(-1);
        if (!t || !c) break;
        const from = c.name;
        c.name = `c${n}`;
        return { what: kind, renames: [{ kind: 'column', table: t.name, from, to: c.name }] };
      }
      case 'addIndex': {
        const c = t && plain(t)[0];
        if (!t || !c) break;
        t.indexes.push({ name: `ix${n}`, col: c.name });
        return { what: kind, renames: [] };
      }
      case 'dropIndex':
        if (!t || !t.indexes.length) break;
        t.indexes.pop();
        return { what: kind, renames: [] };
      case 'addFk': {
        const target = state.tables.length > 1 ? pick(state.tables.filter((x) => x !== t)) : undefined;
        if (!t || !target || state.tables.indexOf(target) > state.tables.indexOf(t)) break;
        t.cols.push({ name: `f${n}`, type: 'int', ref: target.name });
        return { what: kind, renames: [] };
      }
      case 'enumValue':
        if (dialect !== 'postgresql' || !t) break;
        state.enumValues.push(`v${n}`);
        if (!state.tables.some((x) => x.cols.some((c) => c.type === 'enum'))) t.cols.push({ name: `m${n}`, type: 'enum' });
        return { what: kind, renames: [] };
      case 'typeChange': {
        // int -> text only upwards: drizzle-kit's up has no USING, and PostgreSQL refuses text -> int without one
        const c = t && plain(t).find((x) => x.type === 'int');
        if (!t || !c) break;
        c.type = 'text';
        return { what: kind, renames: [] };
      }
    }
  }
}

async function history(dialect: Dialect, seed: number, count: number): Promise<{ dir: string; edits: string[] }> {
  const dir = tempDir('sluice-prop-');
  symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  writeFileSync(path.join(dir, 'drizzle.config.ts'), `export default { dialect: '${dialect}', schema: './m.ts', out: './drizzle' };\n`);
  const out = path.join(dir, 'drizzle');
  mkdirSync(path.join(out, 'meta'), { recursive: true });
  const r = rng(seed);
  const state: State = { tables: [{ name: 't0', cols: [{ name: 'c0', type: 'text' }], indexes: [] }], enumValues: ['a', 'b'] };
  const snapshot = async (s: State) => (dialect === 'postgresql' ? api.generateDrizzleJson(models(s, dialect)) : api.generateSQLiteDrizzleJson(models(s, dialect)));
  let prev = dialect === 'postgresql' ? api.generateDrizzleJson({}) : await api.generateSQLiteDrizzleJson({});
  const entries = [];
  const edits: string[] = [];
  for (let i = 0; i < count; i++) {
    const { what, renames } = i === 0 ? { what: 'initial', renames: [] } : edit(state, r, i, dialect);
    edits.push(what);
    const snap = await snapshot(state);
    let up = [...renames.map((x) => renameSql(x, dialect)), ...(await diffSnapshots(REPO, dialect, applyRenames(prev, renames, dialect), snap))];
    if (dialect === 'postgresql') up = resolvePrimaryKeyDrops(up);
    const tag = `${String(i).padStart(4, '0')}_${what.toLowerCase()}`;
    writeFileSync(path.join(out, `${tag}.sql`), up.join('\n--> statement-breakpoint\n'));
    writeFileSync(path.join(out, 'meta', `${String(i).padStart(4, '0')}_snapshot.json`), JSON.stringify(snap));
    entries.push({ idx: i, version: dialect === 'postgresql' ? '7' : '6', when: i, tag, breakpoints: true });
    prev = snap;
  }
  writeFileSync(path.join(out, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect, entries }));
  return { dir, edits };
}

/**
 * Known limitation, documented in the README: PostgreSQL names a primary key after the table that
 * created it (t0_pkey); after a rename and a drop, a down re-creates it as <new name>_pkey. drizzle-kit's
 * snapshots do not record that name, so it is compared here as "some primary key" (lines sorted, since
 * pg_dump orders constraints by name).
 */
async function schemaOf(dir: string, env: Env): Promise<string> {
  const dump = await dumpSchema(dir, env);
  if (!env.DATABASE_SCHEMA) return dump;
  return dump
    .replace(/ADD CONSTRAINT \w+_pkey PRIMARY KEY/g, 'ADD CONSTRAINT <pkey> PRIMARY KEY')
    .split(/\n(?=\S)/)
    .sort()
    .join('\n');
}

async function tablesOf(dir: string, env: Env): Promise<string[]> {
  return env.DATABASE_SCHEMA
    ? (await sql<{ t: string }>(dir, env, "SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 AND tablename <> 'sluice_version'", [env.DATABASE_SCHEMA])).map((x) => x.t)
    : (await sql<{ t: string }>(dir, env, "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'sluice_version'")).map((x) => x.t);
}

// More cases: PROPERTY_SEEDS=1,2,3 PROPERTY_COUNT=30 npx vitest run test/integration/property.test.ts
// (by default one seed on PostgreSQL, where a seed takes ~4× as long, two on SQLite: CI's time limit)
const seedsFor = (dialect: Dialect) => (process.env.PROPERTY_SEEDS ?? (dialect === 'postgresql' ? '11' : '11,23')).split(',').map(Number);
const COUNT = Number(process.env.PROPERTY_COUNT ?? 14);

for (const dialect of ['postgresql', 'sqlite'] as const) {
  describeFor(dialect)(`random model edits round-trip on ${dialect}`, () => {
    for (const seed of seedsFor(dialect)) {
      it(`seed ${seed}: every down restores the previous schema with rows present; head -> base -> head`, async () => {
        const { dir, edits } = await history(dialect, seed, COUNT);
        const check = { SLUICE_CHECK_DATABASE_URL: pgUrl() }; // down verification on the real server
        const env: Env = dialect === 'sqlite' ? { DATABASE_URL: `file:${path.join(dir, 'p.sqlite')}`, SLUICE_NO_BACKUP: '1', ...check } : { DATABASE_URL: pgUrl(), DATABASE_SCHEMA: uniqueSchema('prop'), ...check };
        const o = { cwd: dir, env };
        const adopted = await writeMissingDowns(o);
        expect(adopted.written.filter((w) => w.manualReason)).toEqual([]);
        expect(adopted.written.filter((w) => !w.verified)).toEqual([]);
        await upgrade({ ...o, revision: 'base' });
        const dumps = [await schemaOf(dir, env)];
        let rowId = 1000;
        for (let i = 0; i < COUNT; i++) {
          await upgrade({ ...o, revision: '+1' });
          dumps.push(await schemaOf(dir, env));
          for (const t of await tablesOf(dir, env)) await sql(dir, env, `INSERT INTO "${t}" ("id") VALUES (${rowId++})`);
          await downgrade(o);
          expect(await schemaOf(dir, env), `seed ${seed}: down of revision ${i} (${edits[i]}) restores the schema`).toBe(dumps[i]);
          await upgrade({ ...o, revision: '+1' });
          expect(await schemaOf(dir, env), `seed ${seed}: up of revision ${i} (${edits[i]}) after its down`).toBe(dumps[i + 1]);
        }
        await downgrade({ ...o, revision: 'base' });
        expect(await schemaOf(dir, env)).toBe(dumps[0]);
        await upgrade(o);
        expect(await schemaOf(dir, env)).toBe(dumps[COUNT]);
        expect((await status(o)).pending).toEqual([]);
      });
    }
  });
}
