/**
 * Synthetic drizzle-kit histories for the benchmark: N revisions cycling through create table, add
 * column, create index and add foreign key, each with its down, written in drizzle-kit's folder format
 * (meta/_journal.json + <tag>.sql) plus sluice's <tag>.down.sql. Also the concatenated up and down SQL
 * for the floor (psql -1 / sqlite3 in one call).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const BP = '\n--> statement-breakpoint\n';

/** @returns {{ up: string[], down: string[] }} statements of revision i */
function revision(i, dialect) {
  const table = (k) => `t_${k}`;
  const lastTable = Math.floor(i / 4) * 4; // the table created at the start of this group of four
  const prevTable = Math.max(0, lastTable - 4);
  switch (i % 4) {
    case 0:
      return { up: [`CREATE TABLE "${table(i)}" ("id" integer PRIMARY KEY NOT NULL, "name" text NOT NULL)`], down: [`DROP TABLE "${table(i)}"`] };
    case 1:
      return { up: [`ALTER TABLE "${table(lastTable)}" ADD COLUMN "c_${i}" text`], down: [`ALTER TABLE "${table(lastTable)}" DROP COLUMN "c_${i}"`] };
    case 2:
      return { up: [`CREATE INDEX "ix_${i}" ON "${table(lastTable)}" ("name")`], down: [`DROP INDEX "ix_${i}"`] };
    default:
      if (dialect === 'postgresql') {
        return {
          up: [`ALTER TABLE "${table(lastTable)}" ADD COLUMN "ref_${i}" integer`, `ALTER TABLE "${table(lastTable)}" ADD CONSTRAINT "fk_${i}" FOREIGN KEY ("ref_${i}") REFERENCES "${table(prevTable)}"("id")`],
          down: [`ALTER TABLE "${table(lastTable)}" DROP CONSTRAINT "fk_${i}"`, `ALTER TABLE "${table(lastTable)}" DROP COLUMN "ref_${i}"`],
        };
      }
      return {
        up: [`CREATE TABLE "fk_${i}" ("id" integer PRIMARY KEY NOT NULL, "parent_id" integer REFERENCES "${table(prevTable)}"("id"))`],
        down: [`DROP TABLE "fk_${i}"`],
      };
  }
}

/** Write a project folder (drizzle.config.ts + history) for `n` revisions of `dialect`. */
export function generateProject(dir, dialect, n) {
  rmSync(dir, { recursive: true, force: true });
  const out = path.join(dir, 'drizzle');
  mkdirSync(path.join(out, 'meta'), { recursive: true });
  writeFileSync(
    path.join(dir, 'drizzle.config.ts'),
    `import { defineConfig } from 'drizzle-kit';\nexport default defineConfig({ dialect: '${dialect}', schema: './schema.ts', out: './drizzle' });\n`,
  );
  const entries = [];
  const ups = [];
  const downs = [];
  const perRevision = [];
  const perRevisionDown = [];
  for (let i = 0; i < n; i++) {
    const tag = `${String(i).padStart(4, '0')}_bench_${i}`;
    const r = revision(i, dialect);
    entries.push({ idx: i, version: dialect === 'postgresql' ? '7' : '6', when: 1_700_000_000_000 + i, tag, breakpoints: true });
    writeFileSync(path.join(out, `${tag}.sql`), r.up.map((s) => `${s};`).join(BP));
    writeFileSync(path.join(out, `${tag}.down.sql`), `-- sluice:down ${tag}\n-- message: bench ${i}\n${r.down.map((s) => `${s};`).join(BP)}\n`);
    ups.push(...r.up);
    downs.unshift(...r.down);
    perRevision.push(`BEGIN;\n${r.up.map((x) => `${x};`).join('\n')}\nINSERT INTO "v" VALUES ('${tag}', now_text(), ${i});\nCOMMIT;`);
    perRevisionDown.unshift(`BEGIN;\n${r.down.map((x) => `${x};`).join('\n')}\nDELETE FROM "v" WHERE "r" = '${tag}';\nCOMMIT;`);
  }
  writeFileSync(path.join(out, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect, entries }, null, 2));
  return {
    dir,
    out,
    upSql: ups.map((s) => `${s};`).join('\n'),
    downSql: downs.map((s) => `${s};`).join('\n'),
    /** The same ups, each revision in its own transaction with a version row: the floor of sluice's default mode. */
    perRevisionSql: (nowText) => perRevision.join('\n').replaceAll('now_text()', nowText),
    /** The downs, newest first, each revision in its own transaction deleting its version row: the floor of a default-mode down. */
    perRevisionDownSql: perRevisionDown.join('\n'),
  };
}
