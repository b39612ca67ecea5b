/**
 * The PGlite template as sluice keeps it (pglite.ts): an initialised data folder as an image of its
 * own, not a tar. PGlite's `loadDataDir` untars a data folder by copying every file twice (out of the
 * tar, then into its in-memory file system) and looking up each parent folder per file; an image is
 * handed to the file system as it is read: each file's contents are a view of the image's bytes
 * (Emscripten's `canOwn`), so a start copies nothing but what the image leaves out, the zeros at the
 * end of the WAL segment (16 MB, ~7 MB of it written). An instance writes into its own reading of the
 * image: one reading, one instance.
 *
 * Layout: MAGIC, a 4-byte little-endian length, that many bytes of JSON (`Index`), then each file's
 * stored bytes in the index's order. A file ends with `size - stored` zero bytes that are not stored.
 */
import type { PGlite as PGliteClass, MemoryFS as MemoryFSClass } from '@electric-sql/pglite';

const MAGIC = 'sluice PGlite data folder 1\n';
/** Zeros at a file's end left out of the image only from this many on: a few bytes would cost a copy of the file. */
const LEFT_OUT_FROM = 64 * 1024;

interface Index {
  /** Folders under the data folder, each after its parent: [path from the data folder, mode]. */
  dirs: [string, number][];
  /** Files: [path from the data folder, mode, size, bytes stored]. */
  files: [string, number, number, number][];
}

/** What an image holds, ready to be put into a file system (its bytes: the image's, not copies). */
export interface DataImage {
  dirs: [string, number][];
  files: { path: string; mode: number; data: Uint8Array }[];
}

/** The part of Emscripten's FS an image is read from and written into. */
interface EmscriptenFS {
  readdir(path: string): string[];
  stat(path: string): { mode: number };
  isDir(mode: number): boolean;
  readFile(path: string, opts: { encoding: 'binary' }): Uint8Array;
  analyzePath(path: string): { exists: boolean };
  mkdirTree(path: string, mode?: number): void;
  mkdir(path: string, mode?: number): void;
  writeFile(path: string, data: Uint8Array, opts: { canOwn: boolean; mode: number }): void;
}

/** The image of the data folder at `root` of `fs` (a running instance's, after a CHECKPOINT). */
export function imageOf(fs: EmscriptenFS, root: string): Buffer {
  const index: Index = { dirs: [], files: [] };
  const chunks: Uint8Array[] = [];
  const walk = (rel: string): void => {
    for (const name of fs.readdir(root + rel).sort()) {
      if (name === '.' || name === '..') continue;
      const at = `${rel}/${name}`;
      const { mode } = fs.stat(root + at);
      if (fs.isDir(mode)) {
        index.dirs.push([at, mode]);
        walk(at);
        continue;
      }
      const data = fs.readFile(root + at, { encoding: 'binary' });
      let end = data.length;
      while (end > 0 && data[end - 1] === 0) end--;
      if (data.length - end < LEFT_OUT_FROM) end = data.length;
      index.files.push([at, mode, data.length, end]);
      chunks.push(data.subarray(0, end));
    }
  };
  walk('');
  const json = Buffer.from(JSON.stringify(index));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  return Buffer.concat([Buffer.from(MAGIC), length, json, ...chunks]);
}

/** The image in `bytes` (a file's whole reading); throws when they are not one, or are cut short. */
export function imageFrom(bytes: Buffer): DataImage {
  const bad = (what: string) => new Error(`not a PGlite data-folder image of sluice's: ${what}`);
  if (bytes.length < MAGIC.length + 4 || bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) throw bad('no header');
  const jsonAt = MAGIC.length + 4;
  const jsonEnd = jsonAt + bytes.readUInt32LE(MAGIC.length);
  if (jsonEnd > bytes.length) throw bad('cut short');
  const index = JSON.parse(bytes.toString('utf8', jsonAt, jsonEnd)) as Index;
  if (!Array.isArray(index.dirs) || !Array.isArray(index.files)) throw bad('no index');
  // the files write into these bytes: they must be the image's alone, not a slice of a shared pool
  const view = bytes.byteLength === bytes.buffer.byteLength ? new Uint8Array(bytes.buffer) : new Uint8Array(bytes);
  let at = jsonEnd;
  const files = index.files.map(([path, mode, size, stored]) => {
    if (!(stored >= 0 && size >= stored && at + stored <= bytes.length)) throw bad('cut short');
    let data = view.subarray(at, at + stored);
    at += stored;
    if (size > stored) {
      const whole = new Uint8Array(size); // zeroed: only the stored part is copied
      whole.set(data);
      data = whole;
    }
    return { path, mode, data };
  });
  if (at !== bytes.length) throw bad('bytes after the last file');
  return { dirs: index.dirs, files };
}

/** Put `image` into `fs` at `root` (an empty folder so far); the files take its bytes as their own. */
export function putImage(fs: EmscriptenFS, root: string, image: DataImage): void {
  if (fs.analyzePath(`${root}/PG_VERSION`).exists) throw new Error(`PGlite already has a data folder at ${root}`);
  fs.mkdirTree(root);
  for (const [dir, mode] of image.dirs) fs.mkdir(root + dir, mode);
  for (const f of image.files) fs.writeFile(root + f.path, f.data, { canOwn: true, mode: f.mode });
}

/**
 * PGlite's in-memory file system (MemoryFS), given the data folder of `image` before PostgreSQL starts
 * (PGlite then finds a database and starts it, as it would one it had untarred); without an image, the
 * file system a template is made in (`image()` after its CHECKPOINT).
 */
export function imageFileSystem(MemoryFS: typeof MemoryFSClass, image?: DataImage): InstanceType<typeof MemoryFSClass> & { image(): Buffer } {
  class ImageFS extends MemoryFS {
    override async initialSyncFs(): Promise<void> {
      await super.initialSyncFs();
      if (image) putImage(this.fs(), dataFolder(this.pg!), image);
      image = undefined; // its bytes are the instance's now
    }
    image(): Buffer {
      return imageOf(this.fs(), dataFolder(this.pg!));
    }
    private fs(): EmscriptenFS {
      const fs = this.pg?.Module?.FS as unknown as EmscriptenFS | undefined;
      if (typeof fs?.writeFile !== 'function') throw new Error('this PGlite does not show its file system (PGlite.Module.FS)');
      return fs;
    }
  }
  return new ImageFS();
}

/** Where PGlite keeps its data folder (PGDATA in its module's environment; /pglite/data in 0.5). */
function dataFolder(pg: InstanceType<typeof PGliteClass>): string {
  return (pg.Module as unknown as { ENV?: Record<string, string> }).ENV?.PGDATA || '/pglite/data';
}
