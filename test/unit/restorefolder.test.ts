/**
 * restoreFolder (source.ts): what an interrupted migrate-create removes. Only the files a run of that
 * slug writes and that were not there before; the journal's text back; nothing else.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderState, journalFile, restoreFolder } from '../../src/source.js';
import { tempDir } from '../support/project.js';

const write = (file: string, text = 'x') => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
};

describe('restoreFolder', () => {
  it("removes the run's new revision files and snapshot, puts the journal back, and leaves everything else", () => {
    const out = path.join(tempDir('sluice-restore-'), 'drizzle');
    write(path.join(out, '0000_init.sql'));
    write(path.join(out, '0000_init.down.sql'));
    write(path.join(out, 'meta', '0000_snapshot.json'));
    write(journalFile(out), '{"entries":[1]}');
    const state = folderState(out);
    // what drizzle-kit and sluice write for "add nickname", and what somebody else writes meanwhile
    write(path.join(out, '0001_add_nickname.sql'));
    write(path.join(out, '0001_add_nickname.down.sql'));
    write(path.join(out, '0001_add_nickname.ts'));
    write(path.join(out, 'meta', '0001_snapshot.json'));
    write(path.join(out, `0001_add_nickname.down.sql.tmp-${process.pid}`));
    write(journalFile(out), '{"entries":[1,2]}');
    write(path.join(out, 'NOTES.md'));
    write(path.join(out, '0001_other_change.sql'));
    write(path.join(out, '0000_init.sql'), 'edited meanwhile');
    mkdirSync(path.join(out, 'sub'));

    const removed = restoreFolder(state, 'add_nickname').map((f) => path.relative(out, f)).sort();
    expect(removed).toEqual(['0001_add_nickname.down.sql', `0001_add_nickname.down.sql.tmp-${process.pid}`, '0001_add_nickname.sql', '0001_add_nickname.ts', path.join('meta', '0001_snapshot.json')].sort());
    expect(readFileSync(journalFile(out), 'utf8')).toBe('{"entries":[1]}');
    expect(readdirSync(out).sort()).toEqual(['0000_init.down.sql', '0000_init.sql', '0001_other_change.sql', 'NOTES.md', 'meta', 'sub']);
    expect(readFileSync(path.join(out, '0000_init.sql'), 'utf8')).toBe('edited meanwhile');
  });

  it('a folder the run created goes, journal included, when nothing else is in it; one holding another file stays', () => {
    const root = tempDir('sluice-restore-');
    const out = path.join(root, 'drizzle');
    const state = folderState(out);
    write(path.join(out, '0000_init.sql'));
    write(path.join(out, 'meta', '0000_snapshot.json'));
    write(journalFile(out), '{}');
    // a journal that was not there before is the run's: it goes with the revision it lists
    restoreFolder(state, 'init');
    expect(existsSync(out)).toBe(false);

    const other = path.join(root, 'other');
    const before = folderState(other);
    write(path.join(other, '0000_init.sql'));
    write(path.join(other, 'meta', '0000_snapshot.json'));
    write(path.join(other, 'README.md'));
    restoreFolder(before, 'init');
    expect(readdirSync(other)).toEqual(['README.md']);
  });

  it("drizzle-kit's prefix 'none' (migrations.prefix): _<name>.sql and meta/_snapshot.json are the run's too", () => {
    const out = path.join(tempDir('sluice-restore-'), 'drizzle');
    const state = folderState(out);
    write(path.join(out, '_init.sql'));
    write(path.join(out, 'meta', '_snapshot.json'));
    write(journalFile(out), '{}');
    expect(restoreFolder(state, 'init').map((f) => path.relative(out, f)).sort()).toEqual(['_init.sql', path.join('meta', '_journal.json'), path.join('meta', '_snapshot.json')].sort());
    expect(existsSync(out)).toBe(false);
  });
});
