/**
 * The PGlite template as an image (src/pgliteimage.ts), on real PGlite instances: what one instance
 * wrote is there in the next one loaded from its image, an instance goes on writing into the files it
 * took from an image, and a kept template that is not a whole image is made again.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryFS, PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { TEMPLATE_FORMAT } from '../../dist/pglite.js';
import { type DataImage, imageFileSystem, imageFrom, imageOf, readImage } from '../../dist/pgliteimage.js';
import { openScratch } from '../../dist/scratch.js';
import { embeddedScratchWorks, REPO } from '../support/project.js';

async function rows(db: PGlite): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM kept')).rows[0]!.n);
}

const VERSION = (JSON.parse(readFileSync(path.join(REPO, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as { version: string }).version;

/**
 * The template sluice keeps for this checkout, read (made by a scratch database when missing or not
 * one this build reads): saves a test its own initdb.
 */
async function keptTemplate(): Promise<DataImage> {
  const file = path.join(REPO, 'node_modules', '.cache', 'sluice', `pglite-${VERSION}.${TEMPLATE_FORMAT}.pgdata`);
  try {
    return readImage(file);
  } catch {
    rmSync(file, { force: true });
    const scratch = await openScratch(REPO, 'postgresql', { SLUICE_CHECK_DATABASE_URL: '' });
    await scratch.make('real');
    await scratch.close();
    return readImage(file);
  }
}

describe('PGlite data-folder image', () => {
  it('an instance loaded from an image has what the imaged one wrote, writes on, and its own image carries that on', async () => {
    const template = await keptTemplate();
    // the kept template leaves initdb's WAL out (no start reads it): its one segment holds the checkpoint only
    const segments = template.files.filter((f) => f.path.startsWith('/pg_wal/0'));
    expect(segments).toHaveLength(1);
    const data = segments[0]!.data;
    let written = data.length;
    while (written > 0 && data[written - 1] === 0) written--;
    expect(written).toBeLessThan(64 * 1024); // was: ~7 MB written
    const first = imageFileSystem(MemoryFS, template);
    const a = await PGlite.create({ fs: first });
    let bytes: Buffer;
    try {
      // the kept template's database: made without template0
      expect((await a.query<{ datname: string }>('SELECT datname FROM pg_database ORDER BY 1')).rows.map((r) => r.datname)).toEqual(['postgres', 'template1']);
      await a.exec("CREATE TABLE kept (id int PRIMARY KEY, note text); INSERT INTO kept SELECT g, 'row ' || g FROM generate_series(1, 500) g");
      await a.exec('CHECKPOINT');
      bytes = first.image();
    } finally {
      await a.close();
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-image-'));
    const kept = path.join(dir, 'template.pgdata');
    writeFileSync(kept, bytes);
    const image = readImage(kept);
    rmSync(dir, { recursive: true, force: true });
    // the WAL segment's unwritten zeros are left out, and given back whole, in an array of its own
    const wal = image.files.find((f) => f.path.startsWith('/pg_wal/0'))!;
    expect(wal.data.length).toBe(16 * 1024 * 1024);
    expect(wal.data.buffer.byteLength).toBe(16 * 1024 * 1024);
    expect(bytes.length).toBeLessThan(image.files.reduce((n, f) => n + f.data.length, 0));
    // the files stored whole share one read, which holds them and nothing else
    const stored = image.files.filter((f) => f !== wal);
    expect(new Set(stored.map((f) => f.data.buffer)).size).toBe(1);
    expect(stored[0]!.data.buffer.byteLength).toBe(stored.reduce((n, f) => n + f.data.length, 0));
    const second = imageFileSystem(MemoryFS, image);
    const b = await PGlite.create({ fs: second });
    let again: Buffer;
    try {
      expect(await rows(b)).toBe(500);
      // files grow past what the image held, and the WAL moves on
      await b.exec("INSERT INTO kept SELECT g, repeat('x', 200) FROM generate_series(501, 5000) g; CREATE INDEX kept_note ON kept (note)");
      await b.exec('CHECKPOINT');
      expect(await rows(b)).toBe(5000);
      again = second.image();
    } finally {
      await b.close();
    }
    const c = await PGlite.create({ fs: imageFileSystem(MemoryFS, imageFrom(again)) });
    try {
      expect(await rows(c)).toBe(5000);
      expect((await c.query<{ note: string }>('SELECT note FROM kept WHERE id = 7')).rows).toEqual([{ note: 'row 7' }]);
    } finally {
      await c.close();
    }
  });

  it('bytes that are not a whole image are refused, naming what is wrong', () => {
    expect(() => imageFrom(Buffer.from('a tar, or anything else'))).toThrow(/not a PGlite data-folder image of sluice's: no header/);
    // a one-file data folder, on a file system of plain functions (the format only; the other tests use PGlite's)
    const fs = { readdir: (p: string) => (p === '/d' ? ['.', '..', 'PG_VERSION'] : []), stat: () => ({ mode: 0o100600 }), isDir: () => false, readFile: () => new Uint8Array([49, 56, 10]) };
    const whole = imageOf(fs as unknown as Parameters<typeof imageOf>[0], '/d');
    expect(imageFrom(whole).files.map((f) => [f.path, [...f.data]])).toEqual([['/PG_VERSION', [49, 56, 10]]]);
    expect(() => imageFrom(whole.subarray(0, whole.length - 1))).toThrow(/cut short/);
    expect(() => imageFrom(Buffer.concat([whole, Buffer.from([0])]))).toThrow(/bytes after the last file/);
    // the files stored whole come first: an index that lists one after a file with zeros left out is refused
    const twoFiles = { ...fs, readdir: (p: string) => (p === '/d' ? ['.', '..', 'a', 'PG_VERSION'] : []), readFile: (p: string) => (p.endsWith('/a') ? new Uint8Array(70 * 1024) : new Uint8Array([1])) };
    const ordered = imageOf(twoFiles as unknown as Parameters<typeof imageOf>[0], '/d');
    expect(imageFrom(ordered).files.map((f) => [f.path, f.data.length])).toEqual([['/PG_VERSION', 1], ['/a', 70 * 1024]]);
    const json = ordered.subarray(32, 32 + ordered.readUInt32LE(28)).toString();
    const swapped = JSON.stringify({ dirs: [], files: [...(JSON.parse(json) as { files: unknown[] }).files].reverse() });
    expect(swapped.length).toBe(json.length);
    expect(() => imageFrom(Buffer.concat([ordered.subarray(0, 32), Buffer.from(swapped), ordered.subarray(32 + json.length)]))).toThrow(/files stored whole come first/);
    // a data folder without PG_VERSION is no database: PGlite would run initdb on every start from it
    const empty = imageOf({ ...fs, readdir: () => [] } as unknown as Parameters<typeof imageOf>[0], '/d');
    expect(() => imageFrom(empty)).toThrow(/no PG_VERSION/);
  });

  it('a kept template that is not a whole image (a write cut short) is made again, and the scratch database works', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-tmpdir-'));
    const root = mkdtempSync(path.join(tmp, 'project-')); // nothing above it has a node_modules: the template is kept in TMPDIR
    const kept = path.join(tmp, `sluice-pglite-${VERSION}.${TEMPLATE_FORMAT}-${process.getuid?.() ?? 0}.pgdata`);
    writeFileSync(kept, 'sluice PGlite data folder 1\n\u0010\u0000\u0000\u0000{"dirs":[],"fi'); // cut short
    try {
      await embeddedScratchWorks(root, tmp);
      expect(readImage(kept).files.some((f) => f.path === '/PG_VERSION')).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
