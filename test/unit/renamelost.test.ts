/** renamelost.ts: a column renamed and changed in one model edit, whose up drizzle-kit wrote with the RENAME alone. */
import { describe, expect, it } from 'vitest';
import { renameChangesLeftOut } from '../../src/renamelost.js';

const snap = (column: Record<string, unknown>) => ({ tables: { 'public.users': { name: 'users', schema: '', columns: { id: { name: 'id', type: 'serial', primaryKey: true, notNull: true }, [column.name as string]: column } } } });

describe('renameChangesLeftOut', () => {
  const before = snap({ name: 'name', type: 'varchar(5)', primaryKey: false, notNull: false });
  const after = snap({ name: 'full_name', type: 'varchar(50)', primaryKey: false, notNull: true, default: "'anon'" });
  const rename = 'ALTER TABLE "users" RENAME COLUMN "name" TO "full_name";';

  it('names what the snapshot changed besides the name, when the up holds the rename alone', () => {
    const [w, ...rest] = renameChangesLeftOut([rename], before, after);
    expect(rest).toEqual([]);
    expect(w).toBe(`drizzle-kit's up renames users.name to full_name but leaves out its other changes (type varchar(5) -> varchar(50), NOT NULL, default none -> 'anon'): the database will not match the models; add them to the up (ALTER TABLE … ALTER COLUMN "full_name" …), or make the rename and the change in two migrate-create runs`);
  });

  it('says nothing for a plain rename, or when the up changes the column too', () => {
    expect(renameChangesLeftOut([rename], before, snap({ name: 'full_name', type: 'varchar(5)', primaryKey: false, notNull: false }))).toEqual([]);
    expect(renameChangesLeftOut([rename, 'ALTER TABLE "users" ALTER COLUMN "full_name" SET DATA TYPE varchar(50);', 'ALTER TABLE "users" ALTER COLUMN "full_name" SET NOT NULL;'], before, after)).toEqual([]);
    expect(renameChangesLeftOut([rename], undefined, after)).toEqual([]);
  });
});
