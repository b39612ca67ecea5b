/** Known inverses of statements the snapshots do not describe (src/inverse.ts), found from the leftovers a proof saw. */
import { beforeAll, describe, expect, it } from 'vitest';
import { inversesFor } from '../../src/inverse.js';
import { loadParser } from '../../src/sqlparse.js';

beforeAll(async () => {
  await loadParser('postgresql');
});

describe('inversesFor', () => {
  const up = ['CREATE FUNCTION "f"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;', 'CREATE TRIGGER "t" AFTER INSERT ON "docs" FOR EACH ROW EXECUTE FUNCTION "f"();', 'CREATE INDEX "ix" ON "docs" ("id");'];
  it('finds the objects a down left, in the run\'s schema or in another schema the history names ([name] lines)', () => {
    const found = inversesFor(up, ['+ trigger docs.t CREATE TRIGGER t …', '+ [billing] index ix CREATE INDEX ix ON billing.docs …', '- column docs.x text']);
    expect(found.map((i) => i.sql)).toEqual(['DROP TRIGGER IF EXISTS "t" ON "docs"', 'DROP INDEX IF EXISTS "ix"']);
  });
  it('finds nothing for a leftover the up did not make, nor for a line the down lacks', () => {
    expect(inversesFor(up, ['+ [billing] index other CREATE INDEX other …', '- [billing] trigger docs.t …'])).toEqual([]);
  });
});
