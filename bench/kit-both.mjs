/** drizzle-kit generate alone, for both dialects of the example app, in parallel (what sluice create runs). */
import { spawn } from 'node:child_process';

const kit = process.argv[2];
const gen = (dialect) =>
  new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [kit, 'generate', '--config', 'drizzle.config.ts', '--name', 'bench_column'], {
      env: { ...process.env, SLUICE_DIALECT: dialect },
      stdio: 'ignore',
    });
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`drizzle-kit exited ${code}`))));
  });
await Promise.all([gen('sqlite'), gen('postgresql')]);
