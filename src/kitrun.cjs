'use strict';
/**
 * `node kitrun.cjs <pack name> <drizzle-kit's bin.cjs> <arguments...>`: drizzle-kit's CLI, run as
 * `node <bin.cjs> <arguments...>` would run it, with its package files compiled through a V8 code
 * cache (src/v8modules.cjs). migrate-create runs `drizzle-kit generate` this way (commands/create.ts):
 * compiling drizzle-kit's 3.7 MB bin and the drizzle-orm files it loads is most of the ~0.45 s a
 * generate takes here, and it runs once per dialect on every migrate-create.
 *
 * The process is drizzle-kit's in every other way: its arguments (process.argv is what drizzle-kit
 * would see), environment, working folder, output and exit code. The pack is named by the caller (one
 * per dialect: the two load different drizzle-orm files) and written only by a run that exits 0.
 * Without zlib.crc32, a cache folder, or with SLUICE_NO_COMPILE_CACHE=1, drizzle-kit runs uncached.
 */
const [, , name, bin] = process.argv;
process.argv.splice(1, 2); // [node, bin, ...arguments]: what `node <bin> ...` gives drizzle-kit

const crc32 = process.env.SLUICE_NO_COMPILE_CACHE === '1' ? undefined : require('node:zlib').crc32;
const v8cache = typeof crc32 === 'function' ? require('./v8cache.cjs') : undefined;
const dir = v8cache && v8cache.PACK_NAME.test(name) ? v8cache.cacheDir(__dirname) : undefined;
if (dir) {
  const write = require('./v8modules.cjs').installModuleCache(dir, name, crc32);
  process.once('exit', (code) => {
    if (code === 0) write();
  });
}
// What drizzle-kit's output says, told to sluice on a channel of its own (SLUICE_KIT_REPORT_FD, a pipe
// the parent reads whatever stdio is: inherited on a terminal). drizzle-kit exits 0 on its own failures
// (a malformed or old snapshot, a model file that does not compile, a prompt with no terminal), so
// "no revision" means "no change" only when drizzle-kit said so: `unchanged` is that line
// (drizzle-kit 0.31 writeResult), `interrupted` its prompt's answer to Ctrl+C (hanji writes ^C, exits 1).
const reportFd = Number(process.env.SLUICE_KIT_REPORT_FD) || undefined;
// SLUICE_KIT_SERVE=1: once drizzle-kit is done, its differ answers sluice's diffs on the channel (kitserve.cjs)
const serve = reportFd !== undefined && process.env.SLUICE_KIT_SERVE === '1';
delete process.env.SLUICE_KIT_SERVE;
let unchanged = false;
let report = () => {};
if (reportFd) {
  delete process.env.SLUICE_KIT_REPORT_FD;
  report = (what) => {
    if (what === 'unchanged') unchanged = true;
    try {
      require('node:fs').writeSync(reportFd, `${what}\n`);
    } catch {
      /* the parent is gone or reads nothing: drizzle-kit runs on */
    }
  };
  const log = console.log;
  console.log = function (...args) {
    if (typeof args[0] === 'string' && args[0].startsWith('No schema changes, nothing to migrate')) report('unchanged');
    return log.apply(this, args);
  };
  const write = process.stdout.write;
  process.stdout.write = function (chunk, ...rest) {
    if (typeof chunk === 'string' && chunk.trim() === '^C') report('interrupted');
    // drizzle-kit's warning(): a change of the models it leaves out of the revision (SQLite cannot ADD a
    // STORED generated column): told to sluice, which says so (was: "no change", exit 0)
    else if (typeof chunk === 'string' && chunk.includes('Warning')) {
      const plain = chunk.replace(/\u001b\[[0-9;]*m/g, '').trim();
      if (plain.startsWith('[Warning] ')) report(`warning ${plain.slice(10).replace(/\s+/g, ' ')}`);
    }
    return write.call(this, chunk, ...rest);
  };
}
// The differ's hook is in the bin's text whether or not it serves: the text the code cache is keyed on
// stays the same (an interactive run would otherwise replace the pack, and the next one miss it)
const kitserve = require('./kitserve.cjs');
kitserve.exposeDiffer(bin);
if (serve) kitserve.serveWhenDone(reportFd, () => !unchanged); // no revision, nothing to diff
require(bin);
// the bin's top level has run (drizzle-kit's command goes on asynchronously): a build without the
// differ's modules is told at once, and sluice loads drizzle-kit's API while drizzle-kit runs
if (serve && !kitserve.servable()) report('noserve');
