'use strict';
/**
 * drizzle-kit's differ, served by the `drizzle-kit generate` process that has just written the
 * revision (kitrun.cjs, for migrate-create): its code is loaded and warm there, while loading
 * drizzle-kit's API in sluice's own process costs ~250–300 ms of CPU (issue 11: migrate-create is
 * CPU-bound on two cores). The diff is the one drizzle-kit's API runs (`generateMigration`,
 * `generateSQLiteMigration` in drizzle-kit/api.js 0.31): the same functions of the same package,
 * reached in the bin's module scope.
 *
 * - `exposeDiffer(bin)`: the bin's text, when Node.js compiles it, gets one statement appended that
 *   hands those module-scope functions to this file (nothing runs until it is asked).
 * - `servable()`: right after the bin has loaded, whether it has those modules (kitrun.cjs tells sluice
 *   `noserve` at once otherwise, so it loads drizzle-kit's API while drizzle-kit runs, as before).
 * - `serveWhenDone(fd)`: once drizzle-kit is done and the process would exit 0 (its event loop is empty,
 *   so every file is written), `ready` is written on the report channel (a socket pair: fd 3), and
 *   requests are answered on it, one JSON line each, until sluice closes it; then the process ends as it
 *   would have, and says `exit <code>` on the channel as it exits. Without the functions (another drizzle-kit build) nothing is served (`servable()`
 *   said `noserve` already): sluice's process diffs with drizzle-kit's API itself, as before.
 */
const KEY = Symbol.for('sluice.kitDiffer');
const NAMES = [
  'applyPgSnapshotsDiff', 'applySqliteSnapshotsDiff', 'squashPgScheme', 'squashSqliteScheme', 'pgSchema', 'sqliteSchema', 'dryPg', 'drySQLite',
  'schemasResolver', 'enumsResolver', 'sequencesResolver', 'policyResolver', 'indPolicyResolver', 'roleResolver', 'tablesResolver', 'columnsResolver', 'viewsResolver', 'sqliteViewsResolver',
];
const INITS = ['init_pgSchema', 'init_sqliteSchema', 'init_snapshotsDiffer', 'init_migrate'];
// evaluated in the bin's module scope, only when called: a name this build lacks is a ReferenceError
// then; `probe` only asks whether the build has the modules' init functions (typeof never throws)
const HOOK = `\n;globalThis[Symbol.for('sluice.kitDiffer')] = function (probe) { if (probe) return ${INITS.map((n) => `typeof ${n} === 'function'`).join(' && ')}; ${INITS.map((n) => `${n}();`).join(' ')} return { ${NAMES.join(', ')} }; };\n`;

function exposeDiffer(bin) {
  const fs = require('node:fs');
  const Module = require('node:module');
  let file;
  try {
    file = fs.realpathSync(bin);
  } catch {
    return;
  }
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename, ...rest) {
    if (filename === file && typeof content === 'string') {
      Module.prototype._compile = compile;
      content += HOOK;
    }
    return compile.call(this, content, filename, ...rest);
  };
}

/** Whether the bin loaded has the differ's modules (checked as soon as it has loaded, before drizzle-kit runs anything). */
function servable() {
  const get = globalThis[KEY];
  try {
    return typeof get === 'function' && get(true) === true;
  } catch {
    return false;
  }
}

function differ() {
  const get = globalThis[KEY];
  if (typeof get !== 'function') return undefined;
  try {
    const k = get();
    return NAMES.every((n) => k[n] !== undefined) ? k : undefined;
  } catch {
    return undefined;
  }
}

/** drizzle-kit/api's generateMigration / generateSQLiteMigration, with the bin's functions. */
async function diff(k, dialect, prev, cur) {
  if (dialect === 'postgresql') {
    const p = k.pgSchema.parse(prev);
    const c = k.pgSchema.parse(cur);
    const r = await k.applyPgSnapshotsDiff(
      k.squashPgScheme(p), k.squashPgScheme(c),
      k.schemasResolver, k.enumsResolver, k.sequencesResolver, k.policyResolver, k.indPolicyResolver, k.roleResolver, k.tablesResolver, k.columnsResolver, k.viewsResolver,
      p, c,
    );
    return r.sqlStatements;
  }
  const p = k.sqliteSchema.parse(prev);
  const c = k.sqliteSchema.parse(cur);
  const r = await k.applySqliteSnapshotsDiff(k.squashSqliteScheme(p), k.squashSqliteScheme(c), k.tablesResolver, k.columnsResolver, k.sqliteViewsResolver, p, c);
  return r.sqlStatements;
}

const QUIET = ['log', 'error', 'warn', 'info'];

/**
 * A down's diff never asks: this process has the user's terminal (it asked drizzle-kit's questions for
 * the up), and drizzle-kit would ask again about the reverse diff, where the default answer (create, not
 * rename or move) wrote a down that drops the table's rows (found by a hunt: a table moved to a pgSchema).
 * With no terminal drizzle-kit fails instead, and the down is left to a hand.
 */
async function withoutTerminal(run) {
  const had = Object.getOwnPropertyDescriptor(process.stdin, 'isTTY');
  Object.defineProperty(process.stdin, 'isTTY', { value: false, configurable: true, writable: true });
  try {
    return await run();
  } finally {
    if (had) Object.defineProperty(process.stdin, 'isTTY', had);
    else delete process.stdin.isTTY;
  }
}

/**
 * One reply. drizzle-kit prints its own errors (a rename it would ask about) before throwing them:
 * while it diffs, console is silent, and they go back to sluice as the reply's error, once, in sluice's
 * words (as on its worker, kitworker-main.ts). Anything else the process prints (a late failure of the
 * project's own code) is still in its output, which sluice reads when the process ends non-zero.
 */
let answering = 0; // requests being answered (console is silent while any is)
let saved = [];
async function answer(k, m) {
  if (answering++ === 0) {
    saved = QUIET.map((n) => console[n]);
    for (const n of QUIET) console[n] = () => {};
  }
  try {
    if (m.op === 'empty') return { id: m.id, snapshot: m.dialect === 'postgresql' ? k.dryPg : k.drySQLite };
    if (m.op === 'diff') return { id: m.id, statements: await withoutTerminal(() => diff(k, m.dialect, m.from, m.to)) };
    return { id: m.id, error: `unknown request ${JSON.stringify(m.op)}` };
  } catch (err) {
    return { id: m.id, error: err instanceof Error ? err.message : String(err) };
  } finally {
    if (--answering === 0) QUIET.forEach((n, i) => (console[n] = saved[i]));
  }
}

function serveWhenDone(fd, wanted) {
  process.once('beforeExit', (code) => {
    if (code || !wanted()) return;
    const k = differ();
    if (!k) return;
    let sock;
    try {
      // allowHalfOpen: sluice's end of the channel leaves this one open (and its fd this process's) until the process exits
      sock = new (require('node:net').Socket)({ fd, readable: true, writable: true, allowHalfOpen: true });
    } catch {
      return;
    }
    sock.on('error', () => sock.destroy());
    sock.setEncoding('utf8');
    let buffered = '';
    sock.on('data', (chunk) => {
      buffered += chunk;
      if (!chunk.includes('\n')) return; // a large snapshot comes in many chunks: scanned once whole
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let m;
        try {
          m = JSON.parse(line);
        } catch {
          continue;
        }
        answer(k, m).then((reply) => sock.write(`${JSON.stringify(reply)}\n`));
      }
    });
    // sluice is done asking: the process ends as it would have, and its last 'exit' listener tells
    // sluice the exit code on the channel, so sluice need not wait for the process's teardown
    // (~20–40 ms here). Not told when another listener comes after it (it could still change the code).
    sock.on('end', () => {
      const fs = require('node:fs');
      const tell = (code) => {
        const all = process.listeners('exit');
        if (all[all.length - 1] !== tell || sock.destroyed) return; // (destroyed: its fd closed, maybe another file's now)
        try {
          // the code the process exits with: an earlier listener may have set process.exitCode since the event's `code`
          fs.writeSync(fd, `exit ${process.exitCode ?? code}\n`);
        } catch {
          /* sluice is gone: it waits for nothing */
        }
      };
      process.on('exit', tell);
      sock.unref(); // open until the process ends, without holding it
    });
    sock.write('ready\n');
  });
}

module.exports = { exposeDiffer, serveWhenDone, servable, differ, diff };
