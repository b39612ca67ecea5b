/**
 * The PGlite template as sluice keeps it (pglite.ts): an initialised data folder as an image of its
 * own, not a tar. PGlite's `loadDataDir` untars a data folder by copying every file twice (out of the
 * tar, then into its in-memory file system) and looking up each parent folder per file; an image is
 * read from disk into the arrays the in-memory file system then takes as the files' contents
 * (Emscripten's `canOwn`): the files stored whole, one after the other, in one read, and each file
 * whose trailing zeros the image leaves out (the WAL segment: 16 MB, ~7 MB of it written) into a
 * zeroed array of its own size. Nothing is copied again, and nothing read is left unused. An instance
 * writes into its own reading of the image: one reading, one instance.
 *
 * Layout: MAGIC, a 4-byte little-endian length, that many bytes of JSON (`Index`), then each file's
 * stored bytes in the index's order, which lists the files stored whole first. A file ends with
 * `size - stored` zero bytes that are not stored.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { PGlite as PGliteClass, MemoryFS as MemoryFSClass } from '@electric-sql/pglite';

const MAGIC = 'sluice PGlite data folder 1\n';
/** Zeros at a file's end left out of the image only from this many on: a few bytes would cost a copy of the file. */
const LEFT_OUT_FROM = 64 * 1024;

interface Index {
  /** Folders under the data folder, each after its parent: [path from the data folder, mode]. */
  dirs: [string, number][];
  /** Files: [path from the data folder, mode, size, bytes stored]; those stored whole first. */
  files: [string, number, number, number][];
}

/** What an image holds, ready to be put into a file system (its arrays become the files' contents: one image, one instance). */
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
  const files: { entry: Index['files'][number]; bytes: Uint8Array }[] = [];
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
      files.push({ entry: [at, mode, data.length, end], bytes: data.subarray(0, end) });
    }
  };
  walk('');
  // stored whole first (one read), then those with zeros left out (each read into its own array)
  for (const f of [...files.filter((f) => f.entry[2] === f.entry[3]), ...files.filter((f) => f.entry[2] !== f.entry[3])]) {
    index.files.push(f.entry);
    chunks.push(f.bytes);
  }
  const json = Buffer.from(JSON.stringify(index));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  return Buffer.concat([Buffer.from(MAGIC), length, json, ...chunks]);
}

/** Where an image is read from: `read` fills `into` from offset `at`, all of it, else throws. */
interface ImageSource {
  size: number;
  read(into: Uint8Array, at: number): void;
}

/** The image kept in `file`; throws when it is not one, or is cut short. */
export function readImage(file: string): DataImage {
  const fd = openSync(file, 'r');
  try {
    return parseImage({
      size: fstatSync(fd).size,
      read(into, at) {
        for (let done = 0; done < into.length; ) {
          const n = readSync(fd, into, done, into.length - done, at + done);
          if (n === 0) throw notAnImage('cut short');
          done += n;
        }
      },
    });
  } finally {
    closeSync(fd);
  }
}

/** The image in `bytes` (one just made); its files get copies, so `bytes` stays the caller's. */
export function imageFrom(bytes: Uint8Array): DataImage {
  return parseImage({
    size: bytes.length,
    read(into, at) {
      if (at + into.length > bytes.length) throw notAnImage('cut short');
      into.set(bytes.subarray(at, at + into.length));
    },
  });
}

const notAnImage = (what: string) => new Error(`not a PGlite data-folder image of sluice's: ${what}`);

function parseImage(src: ImageSource): DataImage {
  const head = Buffer.alloc(MAGIC.length + 4);
  if (src.size < head.length) throw notAnImage('no header');
  src.read(head, 0);
  if (head.toString('latin1', 0, MAGIC.length) !== MAGIC) throw notAnImage('no header');
  const jsonLength = head.readUInt32LE(MAGIC.length);
  if (head.length + jsonLength > src.size) throw notAnImage('cut short');
  const json = Buffer.alloc(jsonLength);
  src.read(json, head.length);
  const index = JSON.parse(json.toString('utf8')) as Index;
  if (!Array.isArray(index.dirs) || !Array.isArray(index.files)) throw notAnImage('no index');
  let at = head.length + json.length;
  const whole = index.files.findIndex(([, , size, stored]) => size !== stored);
  const wholeCount = whole < 0 ? index.files.length : whole;
  let wholeBytes = 0;
  for (const [, , size, stored] of index.files.slice(0, wholeCount)) {
    if (!(Number.isSafeInteger(size) && size === stored && size >= 0)) throw notAnImage('a bad index');
    wholeBytes += size;
  }
  if (at + wholeBytes > src.size) throw notAnImage('cut short');
  const block = new Uint8Array(wholeBytes); // the files' own: they write into it
  src.read(block, at);
  let inBlock = 0;
  const files = index.files.map(([path, mode, size, stored], i) => {
    if (i < wholeCount) {
      const data = block.subarray(inBlock, inBlock + size);
      inBlock += size;
      return { path, mode, data };
    }
    if (!(Number.isSafeInteger(size) && Number.isSafeInteger(stored) && stored >= 0 && size > stored)) throw notAnImage('a bad index (files stored whole come first)');
    if (at + wholeBytes + stored > src.size) throw notAnImage('cut short');
    const data = new Uint8Array(size); // zeroed: only the stored part is read into it
    src.read(data.subarray(0, stored), at + wholeBytes);
    at += stored;
    return { path, mode, data };
  });
  if (at + wholeBytes !== src.size) throw notAnImage('bytes after the last file');
  if (!files.some((f) => f.path === '/PG_VERSION')) throw notAnImage('no PG_VERSION (PGlite would run initdb on every start)');
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
