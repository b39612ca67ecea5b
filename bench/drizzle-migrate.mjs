/** drizzle-orm's own migrate() on a folder: node bench/drizzle-migrate.mjs <dialect> <folder> <url|file> [schema] */
import { drizzle as pgDrizzle } from 'drizzle-orm/node-postgres';
import { migrate as pgMigrate } from 'drizzle-orm/node-postgres/migrator';

const [dialect, folder, target, schema] = process.argv.slice(2);
if (dialect === 'postgresql') {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: target, options: `-c search_path=${schema}` });
  await client.connect();
  await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await pgMigrate(pgDrizzle(client), { migrationsFolder: folder, migrationsSchema: schema });
  await client.end();
} else {
  const { default: Database } = await import('better-sqlite3');
  const { drizzle } = await import('drizzle-orm/better-sqlite3');
  const { migrate } = await import('drizzle-orm/better-sqlite3/migrator');
  const db = new Database(target);
  migrate(drizzle(db), { migrationsFolder: folder });
  db.close();
}
