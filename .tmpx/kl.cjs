const t0 = process.hrtime.bigint();
const crc32 = require('node:zlib').crc32;
let write;
if (process.env.CACHE) { const v8c = require('../dist/v8cache.cjs'); write = require('../dist/v8modules.cjs').installModuleCache(v8c.cacheDir(__dirname + '/../dist'), 'modules.kltest', crc32); }
const t1 = process.hrtime.bigint();
require('drizzle-kit/api');
const t2 = process.hrtime.bigint();
if (process.env.SQ) require('sql-parser-cst');
const t3 = process.hrtime.bigint();
process.on('exit', () => write && write());
const u = process.cpuUsage();
console.log(`${process.env.CACHE ? 'cached' : 'plain '} kit ${(Number(t2 - t1) / 1e6).toFixed(0)} sqlparser ${(Number(t3 - t2) / 1e6).toFixed(0)} cpu ${((u.user + u.system) / 1000).toFixed(0)} boot ${Math.round(process.uptime()*1000 - Number(t3-t0)/1e6)}`);
