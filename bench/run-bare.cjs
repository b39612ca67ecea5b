'use strict';
/**
 * `node bench/run-bare.cjs <up|down>`, run in a PostgreSQL bench project (at base for `up`, at head for
 * `down`): the least any Node.js program does for `up --single-transaction` / `down base
 * --single-transaction`, written bare, with the driver sluice uses (node-postgres, required plainly):
 * read the journal and every revision's file (ups oldest first, downs newest first) and send them to
 * the server as ONE message: `BEGIN; <schema and version table>; <every file>; <the version rows
 * in one INSERT / one DELETE>; COMMIT;` — a single round trip, fewer than `psql -1 -f` (the floor),
 * which sends each statement on its own. No lock, no applied-file or checksum check (an up's
 * checksums are computed, as a record needs them), no parsing, no per-revision record, one line of
 * output. `make bench` runs it beside sluice and the floor so that the `-1` targets have a reference
 * a Node.js program can reach at all: Node.js's start, the driver's load and the server's own time
 * for the statements are in it (bench/README.md). DATABASE_URL and DATABASE_SCHEMA are read as
 * sluice reads them.
 */
const fs = require('node:fs');
const path = require('node:path');
const { createHash } = require('node:crypto');
const { Client } = require('pg');

const direction = process.argv[2];
if (direction !== 'up' && direction !== 'down') throw new Error('usage: node bench/run-bare.cjs <up|down>');
const entries = JSON.parse(fs.readFileSync(path.join('drizzle', 'meta', '_journal.json'), 'utf8')).entries;
const client = new Client({ connectionString: process.env.DATABASE_URL });
const schema = client.escapeIdentifier(process.env.DATABASE_SCHEMA || 'public');
const table = `${schema}."sluice_version"`;
const statements = (text) => (/;\s*$/.test(text) ? text : `${text};`); // its breakpoint lines are SQL comments
const parts = ['BEGIN;'];
if (direction === 'up') {
  parts.push(
    `CREATE SCHEMA IF NOT EXISTS ${schema};`,
    `SET LOCAL search_path TO ${schema};`,
    `CREATE TABLE IF NOT EXISTS ${table} ("revision" text PRIMARY KEY, "name" text NOT NULL, "checksum" text NOT NULL, "applied_at" timestamptz NOT NULL DEFAULT now(), "execution_ms" integer);`,
  );
  const rows = [];
  for (const e of entries) {
    const text = fs.readFileSync(path.join('drizzle', `${e.tag}.sql`), 'utf8');
    parts.push(statements(text));
    rows.push(`(${client.escapeLiteral(e.tag)}, ${client.escapeLiteral(e.tag)}, '${createHash('sha256').update(text).digest('hex')}')`);
  }
  parts.push(`INSERT INTO ${table} ("revision", "name", "checksum") VALUES ${rows.join(', ')};`);
} else {
  parts.push(`SET LOCAL search_path TO ${schema};`);
  for (let i = entries.length - 1; i >= 0; i--) parts.push(statements(fs.readFileSync(path.join('drizzle', `${entries[i].tag}.down.sql`), 'utf8')));
  parts.push(`DELETE FROM ${table};`);
}
parts.push('COMMIT;');
client
  .connect()
  .then(() => client.query(parts.join('\n')))
  .then(() => process.stdout.write(`${direction}: ${entries.length} revisions\n`))
  .finally(() => client.end())
  .catch((err) => {
    process.stderr.write(`run-bare: ${err.message}\n`);
    process.exitCode = 1;
  });
