'use strict';
/**
 * `node bench/status-bare.cjs <postgresql|sqlite>`, run in a bench project: what any `status` has to
 * do, written bare, with the drivers sluice uses (node-postgres, better-sqlite3) required plainly:
 * read the journal, `lstat` every revision's up file (a changed applied file is part of status's
 * answer), read the version table, print one line. No configuration, no checks, no caches, no
 * output formatting. `make bench` runs it beside `sluice status` so that the status figures have a
 * reference that is neither `node -e 0` nor sluice itself (bench/README.md).
 * DATABASE_URL (`file:<path>` for SQLite) and DATABASE_SCHEMA are read as sluice reads them.
 */
const fs = require('node:fs');
const path = require('node:path');

const dialect = process.argv[2];
const entries = JSON.parse(fs.readFileSync(path.join('drizzle', 'meta', '_journal.json'), 'utf8')).entries;
let present = 0;
for (const e of entries) if (fs.lstatSync(path.join('drizzle', `${e.tag}.sql`), { throwIfNoEntry: false })?.isFile()) present++;
const done = (rows) => process.stdout.write(`applied ${rows.length} of ${entries.length} (${present} files)\n`);

if (dialect === 'sqlite') {
  const Database = require('better-sqlite3');
  const db = new Database(process.env.DATABASE_URL.replace(/^file:/, ''), { readonly: true });
  done(db.prepare('SELECT "revision", "checksum" FROM "sluice_version"').all());
  db.close();
} else {
  const { Client } = require('pg');
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  client
    .connect()
    .then(() => client.query(`SELECT "revision", "checksum" FROM ${client.escapeIdentifier(process.env.DATABASE_SCHEMA || 'public')}."sluice_version"`))
    .then((r) => done(r.rows))
    .finally(() => client.end())
    .catch((err) => {
      process.stderr.write(`status-bare: ${err.message}\n`);
      process.exitCode = 1;
    });
}
