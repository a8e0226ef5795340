import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// Starts a private ACME CA and DNS server (scripts/acme-sandbox), then `vestibule serve` on a
// fresh SQLite database, and hands the one-time setup link it prints and the sandbox's
// addresses to the tests through the environment. Returns the teardown.
export default async function globalSetup() {
  const repo = resolve(__dirname, '..');
  const port = process.env.VESTIBULE_E2E_PORT ?? '3310';
  // localhost, not 127.0.0.1: passkeys need a host name (browsers refuse an IP address as RP ID).
  const url = `http://localhost:${port}`;
  const httpPort = String(Number(port) + 1);
  const httpsPort = String(Number(port) + 2);
  const data = mkdtempSync(join(tmpdir(), 'vestibule-e2e-'));
  const sandboxFolder = join(data, 'sandbox');
  const sandboxScript = join(repo, 'scripts/acme-sandbox');
  const sandbox = Object.fromEntries(
    execFileSync(sandboxScript, ['start', sandboxFolder, httpPort], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => line.split(/=(.*)/s).slice(0, 2)),
  );
  // The iMIS emulator with its demo data, its RiSE client applications' Login Redirect URLs
  // pointed at acme's test domain (served over plain HTTP by the edge, no ACME needed).
  const imisPort = String(Number(port) + 3);
  const operatorPort = String(Number(port) + 4);
  const memberSite = `http://sso.acme.localhost:${httpPort}`;
  const imisData = join(data, 'imis.toml');
  writeFileSync(
    imisData,
    readFileSync(join(repo, 'tools/imis-emulator/demo.toml'), 'utf8').replaceAll(
      'http://sso.demo.localhost:8080',
      memberSite,
    ),
  );
  const imis = spawn(
    join(repo, 'target/debug/imis-emulator'),
    ['--listen', `127.0.0.1:${imisPort}`, '--data', imisData],
    { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  // A real SMTP server on loopback (aiosmtpd) that writes each message it gets to a folder the
  // tests read: invitations and password resets arrive there.
  const mailPort = String(Number(port) + 5);
  const mailFolder = join(data, 'mail');
  const smtp = spawn(
    join(repo, 'tools/smtp-sink/smtp-sink'),
    ['--listen', `127.0.0.1:${mailPort}`, '--dir', mailFolder],
    { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const server = spawn(join(repo, 'target/debug/vestibule'), ['serve'], {
    cwd: repo,
    env: {
      ...process.env,
      ...sandbox,
      VESTIBULE_DATABASE_URL: `sqlite://${data}/vestibule.db`,
      VESTIBULE_SECRET_KEY_FILE: `${data}/secret.key`,
      VESTIBULE_LISTEN: `127.0.0.1:${port}`,
      VESTIBULE_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
      VESTIBULE_HTTPS_LISTEN: `127.0.0.1:${httpsPort}`,
      VESTIBULE_OPERATOR_LISTEN: `127.0.0.1:${operatorPort}`,
      // Members and applications reach provisioned domains on 443, as on the internet; the
      // tests' network (tests/relying-party.ts) forwards that port to the listener.
      VESTIBULE_PUBLIC_HTTPS_PORT: '443',
      VESTIBULE_CNAME_TARGET: 'edge.vestibule.test',
      VESTIBULE_ACME_CAA_IDENTITIES: '',
      VESTIBULE_DOMAIN_CHECK_SECONDS: '5',
      VESTIBULE_PUBLIC_URL: url,
      VESTIBULE_SITE_ROOT: join(repo, 'target/site'),
      VESTIBULE_TEST_DOMAINS: 'sso.acme.localhost=acme',
      // The iMIS emulator runs on this machine.
      VESTIBULE_IMIS_PRIVATE_NETWORK: 'true',
      // Plain SMTP is allowed for a relay on this machine only.
      VESTIBULE_MAIL_SMTP_HOST: '127.0.0.1',
      VESTIBULE_MAIL_SMTP_PORT: mailPort,
      VESTIBULE_MAIL_SECURITY: 'none',
      VESTIBULE_MAIL_FROM: 'sso@vestibule.test',
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
  process.env.VESTIBULE_E2E_HTTPS_PORT = httpsPort;
  process.env.VESTIBULE_E2E_IMIS_URL = `http://127.0.0.1:${imisPort}`;
  process.env.VESTIBULE_E2E_MEMBER_SITE = memberSite;
  // For tests that use the CLI beside the running server (SQLite in WAL mode allows it).
  process.env.VESTIBULE_E2E_DATABASE_URL = `sqlite://${data}/vestibule.db`;
  process.env.VESTIBULE_E2E_SECRET_KEY_FILE = `${data}/secret.key`;
  process.env.VESTIBULE_E2E_HTTP_PORT = httpPort;
  process.env.VESTIBULE_E2E_OPERATOR_URL = `http://127.0.0.1:${operatorPort}`;
  process.env.VESTIBULE_E2E_MAIL_DIR = mailFolder;
  process.env.SANDBOX_DNS_API = sandbox.SANDBOX_DNS_API;
  process.env.SANDBOX_ACME_API = sandbox.SANDBOX_ACME_API;
  process.env.SANDBOX_TRUSTED_ROOT = sandbox.VESTIBULE_ACME_ROOT;
  return async () => {
    server.kill('SIGTERM');
    imis.kill('SIGTERM');
    smtp.kill('SIGTERM');
    execFileSync(sandboxScript, ['stop', sandboxFolder]);
  };
}
