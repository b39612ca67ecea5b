/**
 * repair.ts reads the verification's difference lines and failures; here they are written inline.
 * What a repaired down does on a real database is checked where it runs (proven.test.ts, `make corpus`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repairDown } from '../../src/repair.js';
import { loadParser } from '../../src/sqlparse.js';
import type { Proof } from '../../src/prove.js';
import type { RevisionFile } from '../../src/source.js';

let dir: string;
beforeAll(async () => {
  await loadParser('postgresql');
  dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-repair-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function revision(up: string): RevisionFile {
  const upFile = path.join(dir, '0001_x.sql');
  writeFileSync(upFile, up);
  return { id: '0001_x', upFile, downFile: path.join(dir, '0001_x.down.sql') } as unknown as RevisionFile;
}
const proof = (p: Partial<Proof>): Proof => ({ revision: '0001_x', verified: false, checked: [], notes: [], differences: [], upDifferences: [], ...p });
const sqls = (st: { sql: string }[] | undefined) => st?.map((s) => s.sql);

describe('repairs from what the run showed', () => {
  it('a statement the real state refuses (already there / not there) is left out, with a line saying so', () => {
    const rev = revision('ALTER TABLE "t" ADD COLUMN "c" text;');
    const down = [{ sql: 'ALTER TABLE "t" DROP COLUMN "c";' }, { sql: 'ALTER TABLE "t" ADD COLUMN "name" text;' }];
    const out = repairDown(rev, down, proof({ failed: { statement: 'ALTER TABLE "t" ADD COLUMN "name" text', message: 'column "name" of relation "t" already exists' } }), [rev]);
    expect(sqls(out)).toEqual(['ALTER TABLE "t" DROP COLUMN "c";', '-- sluice: left out, the real state differs from the snapshots (ALTER TABLE "t" ADD COLUMN "name" text: column "name" of relation "t" already exists)']);
  });

  it('a rename is never left out, and a column the up renamed something to is never dropped (its values would go)', () => {
    // the up kept the old values aside by hand; the down's rename back fails on the real state
    const rev = revision('ALTER TABLE "t" RENAME COLUMN "price" TO "price_old";\nALTER TABLE "t" ADD COLUMN "price" numeric;');
    const down = [{ sql: 'ALTER TABLE "t" RENAME COLUMN "price_old" TO "price";' }, { sql: 'ALTER TABLE "t" ALTER COLUMN "price" SET DATA TYPE text USING "price"::text;' }];
    const failedRename = proof({ failed: { statement: 'ALTER TABLE "t" RENAME COLUMN "price_old" TO "price"', message: 'column "price" of relation "t" already exists' } });
    expect(repairDown(rev, down, failedRename, [rev])).toBeUndefined();
    expect(repairDown(rev, down, proof({ differences: ['+ column t.price_old text'] }), [rev])).toBeUndefined();
  });

  it('indexes, constraints, NOT NULL and defaults follow the previous real state; names that read two ways are left alone', () => {
    const rev = revision('SELECT 1;');
    const out = repairDown(
      rev,
      [],
      proof({
        differences: [
          '- index ix CREATE INDEX ix ON $.t USING btree (a) WHERE (a > 0)',
          '+ index ix CREATE INDEX ix ON $.t USING btree (a)',
          "- constraint t.t_doc CHECK (jsonb_path_exists(doc, '$.id'::jsonpath))",
          "- column t.id integer not null default nextval('$.t_id_seq'::regclass)",
          "+ column t.id integer not null default nextval('$.t_id_seq2'::regclass)",
          '- column t.n text not null',
          '+ column t.n text',
          '+ column t.extra text',
          '+ column t.my col text',
          '- column t.g integer not null identity by default',
          '+ column t.g integer not null',
          '- constraint a.b.pk PRIMARY KEY (id)',
        ],
      }),
      [rev],
    );
    expect(sqls(out)).toEqual([
      'DROP INDEX IF EXISTS "ix";',
      "-- sluice: as the previous revision's real state has it (not as its snapshot describes it)\nCREATE INDEX ix ON t USING btree (a) WHERE (a > 0);",
      "-- sluice: as the previous revision's real state has it (not as its snapshot describes it)\nALTER TABLE \"t\" ADD CONSTRAINT \"t_doc\" CHECK (jsonb_path_exists(doc, '$.id'::jsonpath));",
      "-- sluice: the previous revision's real state has no such column (its snapshot says otherwise)\nALTER TABLE \"t\" DROP COLUMN \"extra\";",
      // (t.my col reads as column "my" of type "col text": a wrong drop fails the proof, it stays flagged)
      "-- sluice: the previous revision's real state has no such column (its snapshot says otherwise)\nALTER TABLE \"t\" DROP COLUMN \"my\";",
      "-- sluice: the column as the previous revision's real state has it (not as its snapshot describes it)\nALTER TABLE \"t\" ALTER COLUMN \"id\" SET DEFAULT nextval('t_id_seq'::regclass);",
      "-- sluice: the column as the previous revision's real state has it (not as its snapshot describes it)\nALTER TABLE \"t\" ALTER COLUMN \"n\" SET NOT NULL;",
    ]);
  });

  it("a column of another schema the history names (introspect's `[schema] ` lines) is repaired with its table qualified", () => {
    const rev = revision('ALTER TABLE "billing"."invoices" ADD COLUMN IF NOT EXISTS "note" text;');
    const out = repairDown(rev, [], proof({ differences: ['+ [billing] column invoices.note text', '- [billing] column invoices.amount integer not null', '+ [billing] column invoices.amount integer', '+ [billing] table audit', '+ [billing] column audit.id integer', '+ column invoices.note text'] }), [rev]);
    expect(sqls(out)).toEqual([
      "-- sluice: the previous revision's real state has no such column (its snapshot says otherwise)\nALTER TABLE \"billing\".\"invoices\" DROP COLUMN \"note\";",
      // the run's own schema's invoices is another table
      "-- sluice: the previous revision's real state has no such column (its snapshot says otherwise)\nALTER TABLE \"invoices\" DROP COLUMN \"note\";",
      "-- sluice: the column as the previous revision's real state has it (not as its snapshot describes it)\nALTER TABLE \"billing\".\"invoices\" ALTER COLUMN \"amount\" SET NOT NULL;",
    ]);
  });
});
