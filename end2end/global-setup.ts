import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// Starts `vestibule serve` on a fresh SQLite database and hands the one-time setup link it
// prints to the tests through the environment. Returns the teardown.
export default async function globalSetup() {
  const repo = resolve(__dirname, '..');
  const port = process.env.VESTIBULE_E2E_PORT ?? '3310';
  const url = `http://127.0.0.1:${port}`;
  const data = mkdtempSync(join(tmpdir(), 'vestibule-e2e-'));
  const server = spawn(join(repo, 'target/debug/vestibule'), ['serve'], {
    cwd: repo,
    env: {
      ...process.env,
      VESTIBULE_DATABASE_URL: `sqlite://${data}/vestibule.db`,
      VESTIBULE_LISTEN: `127.0.0.1:${port}`,
      VESTIBULE_PUBLIC_URL: url,
      VESTIBULE_SITE_ROOT: join(repo, 'target/site'),
      VESTIBULE_LOG: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });

  const setupUrl = await new Promise<string>((resolveLink, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no setup link printed:\n${output}`)), 30_000);
    server.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const link = output.match(/(http:\/\/\S+\/setup\?token=\S+)/);
      if (link && output.includes('Cloud Dashboard:')) {
        clearTimeout(timer);
        resolveLink(link[1]);
      }
    });
    server.on('exit', (code) => reject(new Error(`vestibule exited with ${code}:\n${output}`)));
  });

  process.env.VESTIBULE_E2E_URL = url;
  process.env.VESTIBULE_SETUP_URL = setupUrl;
  return async () => {
    server.kill('SIGTERM');
  };
}
