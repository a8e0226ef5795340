import AxeBuilder from '@axe-core/playwright';
import { Browser, expect, Page, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, createPublicKey, randomBytes, verify as cryptoVerify } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { join, resolve as resolvePath } from 'node:path';
import { get as httpsGet } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
// openid-client 5 verifies HS* ID tokens itself (6 leaves token-endpoint signatures to TLS):
// it keys HMAC with the client secret's octets, as OpenID Connect Core §10.1 says.
import { Issuer as IssuerV5, TokenSet as TokenSetV5 } from 'openid-client-v5';
import {
  callbackServer,
  discover,
  fetchText,
  Network,
  oidc,
  pysaml2ServiceProvider,
  sandboxFetch,
  sandboxNetwork,
  ServiceProvider,
} from './relying-party';

// A directory member's `sub`: opaque, made when they are added, never their username (a later
// member with the same username is someone else to every application).
const MEMBER_SUBJECT = /^directory:[A-Za-z0-9_-]{43}$/;

// One story, in order, as a newcomer lives it: set the first operator's password from the
// printed link, create tenants, invite a tenant admin, and sign in as that admin.
test.describe.configure({ mode: 'serial' });

const operator = { email: 'ops@vestibule.test', password: 'operator password 1' };
const admin = { email: 'admin@acme.test', password: 'tenant admin password 1' };
let invitationUrl = '';

// Hydration errors, Content-Security-Policy violations and server errors reach only the console:
// fail on them. Chromium also logs each 4xx answer, which these tests provoke on purpose.
const expectedAnswer = /^Failed to load resource: the server responded with a status of 4\d\d/;
let consoleErrors: string[] = [];
test.beforeEach(({ page }) => {
  consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !expectedAnswer.test(message.text())) {
      consoleErrors.push(message.text());
    }
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
});
test.afterEach(() => {
  expect(consoleErrors, 'browser console errors').toEqual([]);
});

// A full page load is interactive once the wasm has hydrated it; forms submitted earlier would
// go to the server as plain HTML forms.
async function hydrated(page: Page) {
  await page.locator('body[data-hydrated]').waitFor({ state: 'attached' });
}

async function visit(page: Page, url: string) {
  await page.goto(url);
  await hydrated(page);
}

async function signIn(page: Page, email: string, password: string) {
  await visit(page, '/login');
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// Presses the Copy button of the value `label` names and returns what reached the clipboard.
async function copied(page: Page, label: string): Promise<string> {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const button = page.getByRole('button', { name: `Copy ${label}`, exact: true });
  await button.click();
  await expect(button).toHaveText('Copied');
  return page.evaluate(() => navigator.clipboard.readText());
}

// A message with its quoted-printable soft line breaks and =XX escapes undone (lettre encodes
// text bodies with long lines so).
function quotedPrintableDecoded(message: string): string {
  const joined = message.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const hex = joined.slice(i + 1, i + 3);
    if (joined[i] === '=' && /^[0-9A-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

// The newest message the test SMTP server (tools/smtp-sink) received for `address` after
// `since` messages to it, decoded, waiting up to 20 seconds for the outbox to send it.
async function mailTo(address: string, since = 0): Promise<string> {
  const folder = process.env.VESTIBULE_E2E_MAIL_DIR ?? '';
  const messages = () =>
    (existsSync(folder) ? readdirSync(folder) : [])
      .filter((name) => name.endsWith('.eml'))
      .sort()
      .map((name) => readFileSync(join(folder, name), 'utf8'))
      .filter((text) => text.startsWith(`X-Sink-Rcpt: ${address}\r\n`));
  let found: string[] = [];
  await expect
    .poll(() => (found = messages()).length, { timeout: 20_000, message: `mail to ${address}` })
    .toBeGreaterThan(since);
  return quotedPrintableDecoded(found[found.length - 1]);
}

function mailCount(address: string): number {
  const folder = process.env.VESTIBULE_E2E_MAIL_DIR ?? '';
  return (existsSync(folder) ? readdirSync(folder) : [])
    .filter((name) => name.endsWith('.eml'))
    .filter((name) => readFileSync(join(folder, name), 'utf8').startsWith(`X-Sink-Rcpt: ${address}\r\n`))
    .length;
}

// The messages to `address` whose subject starts with `subject`, oldest first.
function mailsTo(address: string, subject: string): string[] {
  const folder = process.env.VESTIBULE_E2E_MAIL_DIR ?? '';
  return (existsSync(folder) ? readdirSync(folder) : [])
    .filter((name) => name.endsWith('.eml'))
    .sort()
    .map((name) => readFileSync(join(folder, name), 'utf8'))
    .filter((text) => text.startsWith(`X-Sink-Rcpt: ${address}\r\n`) && text.includes(`\r\nSubject: ${subject}`))
    .map(quotedPrintableDecoded);
}

// Asks for reset links with `ask` until the address has had its hourly share of five, then
// twice more, and returns the last link mailed: the asks past the share must not replace it.
async function lastResetLinkPastTheLimit(address: string, subject: string, path: string, ask: () => Promise<void>) {
  while (mailsTo(address, subject).length < 5) {
    const before = mailsTo(address, subject).length;
    await ask();
    await expect.poll(() => mailsTo(address, subject).length, { timeout: 20_000 }).toBeGreaterThan(before);
  }
  await ask();
  await ask();
  // Nothing is mailed past the share; the server works on an ask after answering it.
  await new Promise((done) => setTimeout(done, 1500));
  const mails = mailsTo(address, subject);
  expect(mails.length).toBe(5);
  return linkIn(mails[4], path);
}

// The link in a message's plain-text body.
function linkIn(body: string, path: string): string {
  const match = body.match(new RegExp(`https?://\\S+${path.replace(/[?]/g, '\\?')}\\S+`));
  expect(match, `a ${path} link in:\n${body}`).not.toBeNull();
  return match![0];
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
}

test('the first operator sets a password from the printed link', async ({ page }) => {
  const setupUrl = process.env.VESTIBULE_SETUP_URL;
  expect(setupUrl, 'global setup captured the link').toBeTruthy();
  await visit(page, setupUrl!);
  await expect(page.getByRole('heading', { name: 'Create the first operator' })).toBeVisible();
  await page.getByLabel('Your e-mail address').fill(operator.email);
  await page.getByLabel('New password (at least 12 characters)').fill(operator.password);
  await page.getByLabel('Repeat the password').fill(operator.password);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByRole('heading', { name: 'Your password is set' })).toBeVisible();

  await visit(page, setupUrl!);
  await expect(page.getByRole('heading', { name: 'This link does not work' })).toBeVisible();
});

test('a wrong password shows an error and no session', async ({ page }) => {
  await signIn(page, operator.email, 'not the right password');
  await expect(page.getByRole('alert')).toHaveText('The e-mail address or password is not right.');
  await expect(page).toHaveURL(/\/login$/);
  await signIn(page, 'nobody@vestibule.test', operator.password);
  await expect(page.getByRole('alert')).toHaveText('The e-mail address or password is not right.');
});

test('the operator creates tenants and invites a tenant admin', async ({ page }) => {
  await signIn(page, operator.email, operator.password);
  await expect(page).toHaveURL(/\/tenants$/);
  await hydrated(page);
  await expect(page.getByText('No tenants yet.')).toBeVisible();

  for (const [cloudId, name] of [['acme', 'Acme Association'], ['beta', 'Beta Society']]) {
    await page.getByLabel('Cloud ID').fill(cloudId);
    await page.getByLabel('Display name').fill(name);
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await expect(page.getByRole('cell', { name })).toBeVisible();
  }
  await page.getByLabel('Cloud ID').fill('acme');
  await page.getByLabel('Display name').fill('Duplicate');
  await page.getByRole('button', { name: 'Create tenant' }).click();
  await expect(page.getByRole('alert')).toContainText('already exists');

  // The list is searched on the server, so a search is a link.
  await page.getByRole('searchbox', { name: 'Search tenants' }).fill('society');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page).toHaveURL(/\/tenants\?q=society$/);
  await expect(page.getByRole('cell', { name: 'Beta Society' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'acme' })).toHaveCount(0);
  await expect(page.getByText('1–1 of 1')).toBeVisible();
  await visit(page, '/tenants');

  await page.getByRole('link', { name: 'acme' }).click();
  await expect(page.getByRole('heading', { name: 'Domain Setup' })).toBeVisible();
  await page.getByRole('link', { name: 'Team' }).click();
  await expect(page.getByText('No one on this team yet.')).toBeVisible();
  await page.getByLabel('E-mail address').fill(admin.email);
  await page.getByRole('button', { name: 'Invite' }).click();
  const link = page.getByLabel('Setup link', { exact: true });
  await expect(link).toHaveValue(/\/setup\?token=/);
  const firstUrl = await link.inputValue();
  expect(await copied(page, 'setup link')).toBe(firstUrl);
  await expect(page.getByRole('cell', { name: 'Invitation pending' })).toBeVisible();
  // Inviting the same address again is not an error: a new link replaces the first.
  await page.getByLabel('E-mail address').fill(admin.email);
  await page.getByRole('button', { name: 'Invite' }).click();
  await expect(page.getByRole('status')).toContainText('had been invited already');
  await expect(link).not.toHaveValue(firstUrl);
  // "Send a new link" on the row does the same, and the link is shown where the eye is.
  await page.getByRole('button', { name: `Send a new link to ${admin.email}` }).click();
  const resent = page.getByRole('status').filter({ hasText: 'this new link replaces the earlier ones' }).first();
  await expect(resent).toBeInViewport();
  invitationUrl = await resent.getByLabel('Setup link', { exact: true }).inputValue();
  expect(invitationUrl).not.toBe(firstUrl);
  // The same link went out by e-mail, in words, from the deployment's address.
  await expect(resent).toContainText('on its way to them by e-mail');
  const invitationMail = await mailTo(admin.email, 2);
  expect(invitationMail).toContain('From: Vestibule <sso@vestibule.test>');
  expect(invitationMail).toContain('manage single sign-on for Acme Association');
  expect(linkIn(invitationMail, '/setup?token=')).toBe(invitationUrl);
  await expect(page.getByRole('cell', { name: 'Invitation pending' })).toHaveCount(1);
  await visit(page, firstUrl);
  await expect(page.getByText('This setup link has expired or has already been used')).toBeVisible();
  await visit(page, '/t/acme/team');
  // A pending invitation is revoked only with its address typed again.
  await page.getByLabel('E-mail address').fill('temp@acme.test');
  await page.getByRole('button', { name: 'Invite' }).click();
  const tempLink = await page.getByLabel('Setup link', { exact: true }).inputValue();
  const tempRow = page.getByRole('row').filter({ hasText: 'temp@acme.test' });
  await tempRow.getByText('Revoke…').click();
  await tempRow.getByLabel('Type temp@acme.test to confirm').fill('temp');
  await tempRow.getByRole('button', { name: 'Revoke invitation: temp@acme.test' }).click();
  await expect(tempRow.getByRole('alert')).toContainText('Type temp@acme.test to confirm');
  await expect(tempRow).toHaveCount(1);
  await tempRow.getByLabel('Type temp@acme.test to confirm').fill('temp@acme.test');
  await tempRow.getByRole('button', { name: 'Revoke invitation: temp@acme.test' }).click();
  await expect(tempRow).toHaveCount(0);
  await visit(page, tempLink);
  await expect(page.getByText('This setup link has expired or has already been used')).toBeVisible();
  await visit(page, '/t/acme/audit');
  await expect(page.locator('table.audit-log')).toContainText('Invitation revoked');
  await expect(page.locator('table.audit-log')).toContainText('Invitation sent again');
  await signOut(page);
});

test('the tenant admin signs in and sees only their Cloud ID', async ({ page }) => {
  expect(invitationUrl).toContain('/setup?token=');
  await visit(page, invitationUrl);
  await expect(page.getByRole('heading', { name: 'Choose your password' })).toBeVisible();
  await expect(page.locator('.setup-email')).toHaveText(admin.email);
  await page.getByLabel('New password (at least 12 characters)').fill(admin.password);
  await page.getByLabel('Repeat the password').fill(admin.password);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByRole('heading', { name: 'Your password is set' })).toBeVisible();

  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await hydrated(page);
  await expect(page.getByText('Acme Association')).toBeVisible();
  await expect(page.getByText('Not Provisioned')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Tenants' })).toHaveCount(0);
  // The first page starts with the way to a live association, nothing ticked yet, in view.
  const checklist = page.locator('.getting-started');
  await expect(checklist.getByRole('heading', { name: 'Getting started' })).toBeInViewport();
  await expect(checklist).toContainText('0 of 4 done');
  for (const [step, href] of [
    ['Put your SSO domain online', '/t/acme/domain'],
    ['Connect iMIS and test the connection', '/t/acme/settings'],
    ['Register your first application', '/t/acme/oidc'],
    ['Sign a member in', '/t/acme/members'],
  ]) {
    const item = checklist.getByRole('listitem').filter({ hasText: step });
    await expect(item.getByRole('link', { name: step })).toHaveAttribute('href', href);
    await expect(item).toContainText('To do');
  }

  // Every Cloud SSO page renders, reached from the navigation.
  for (const name of ['Settings', 'OIDC Client Apps', 'SAML Client Apps', 'Team', 'Domain Setup']) {
    await page.getByRole('navigation').getByRole('link', { name }).click();
    await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  }
  await visit(page, '/t/acme/team');
  await expect(page.getByRole('cell', { name: admin.email })).toBeVisible();

  // Editing the Cloud ID in the address bar does not reveal another tenant.
  await visit(page, '/t/beta/domain');
  await expect(page.getByRole('heading', { name: 'No access' })).toBeVisible();
  await expect(page.getByText('Beta Society')).toHaveCount(0);
  await visit(page, '/tenants');
  await expect(page.getByRole('heading', { name: 'No access' })).toBeVisible();

  // The keyboard reaches the skip link first.
  await visit(page, '/t/acme/domain');
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await signOut(page);
  await visit(page, '/t/acme/domain');
  await expect(page).toHaveURL(/\/login$/);
});

test('a tenant admin removes another admin from the team, whose session ends at once', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await visit(page, '/t/acme/team');
  const me = page.getByRole('row').filter({ hasText: `${admin.email} (you)` });
  await expect(me).toBeVisible();
  await expect(me.getByText('Remove…')).toHaveCount(0);
  const second = { email: 'second@acme.test', password: 'second admin password 1' };
  await page.getByLabel('E-mail address').fill(second.email);
  await page.getByRole('button', { name: 'Invite' }).click();
  const link = await page.getByLabel('Setup link', { exact: true }).inputValue();

  const context = await browser.newContext();
  const other = await context.newPage();
  await visit(other, link);
  await other.getByLabel('New password (at least 12 characters)').fill(second.password);
  await other.getByLabel('Repeat the password').fill(second.password);
  await other.getByRole('button', { name: 'Set password' }).click();
  await expect(other.getByRole('heading', { name: 'Your password is set' })).toBeVisible();
  await signIn(other, second.email, second.password);
  await expect(other).toHaveURL(/\/t\/acme\/domain$/);

  await visit(page, '/t/acme/team');
  const row = page.getByRole('row').filter({ hasText: second.email });
  await expect(row.getByRole('cell', { name: 'Active · password only' })).toBeVisible();
  await row.getByText('Remove…').click();
  await row.getByLabel(`Type ${second.email} to confirm`).fill(second.email);
  await row.getByRole('button', { name: `Remove from team: ${second.email}` }).click();
  await expect(row).toHaveCount(0);
  await visit(other, '/t/acme/domain');
  await expect(other).toHaveURL(/\/login$/);
  await context.close();
  await visit(page, '/t/acme/audit');
  await expect(page.locator('table.audit-log tbody tr').first()).toContainText('Staff member removed');
  await expect(page.locator('table.audit-log tbody tr').first()).toContainText(second.email);
  await signOut(page);
});

test('a read-only member sees the Cloud ID and changes nothing, until an admin makes them an admin', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await visit(page, '/t/acme/team');
  // Nobody changes their own access.
  const me = page.getByRole('row').filter({ hasText: `${admin.email} (you)` });
  await expect(me.getByRole('combobox')).toHaveCount(0);
  const viewer = { email: 'viewer@acme.test', password: 'viewer password 123' };
  await page.getByLabel('E-mail address').fill(viewer.email);
  await page.getByLabel('Access', { exact: true }).selectOption('read_only');
  await page.getByRole('button', { name: 'Invite' }).click();
  const link = await page.getByLabel('Setup link', { exact: true }).inputValue();

  const context = await browser.newContext();
  const other = await context.newPage();
  await visit(other, link);
  await other.getByLabel('New password (at least 12 characters)').fill(viewer.password);
  await other.getByLabel('Repeat the password').fill(viewer.password);
  await other.getByRole('button', { name: 'Set password' }).click();
  await expect(other.getByRole('heading', { name: 'Your password is set' })).toBeVisible();
  await signIn(other, viewer.email, viewer.password);
  await expect(other).toHaveURL(/\/t\/acme\/domain$/);
  const notice = other.getByRole('note').filter({ hasText: 'Read-only access' });
  await expect(notice).toBeInViewport();

  // Every page shows; a change is refused beside the button pressed, in words.
  await visit(other, '/t/acme/team');
  await expect(other.getByRole('row').filter({ hasText: `${viewer.email} (you)` })).toContainText('Read-only');
  await expect(other.getByRole('combobox', { name: /Access of/ })).toHaveCount(0);
  await other.getByLabel('E-mail address').fill('friend@acme.test');
  await other.getByRole('button', { name: 'Invite' }).click();
  const refused = other.getByText('Your access to this Cloud ID is read-only: ask one of its admins to make this change.').last();
  await expect(refused).toBeInViewport();
  await expect(other.getByRole('row').filter({ hasText: 'friend@acme.test' })).toHaveCount(0);

  // The admin makes them an admin; the notice is gone at their next page.
  await visit(page, '/t/acme/team');
  const row = page.getByRole('row').filter({ hasText: viewer.email });
  await row.getByRole('combobox', { name: `Access of ${viewer.email}` }).selectOption('admin');
  await row.getByRole('button', { name: `Change the access of ${viewer.email}` }).click();
  await expect(row.getByRole('combobox', { name: `Access of ${viewer.email}` })).toHaveValue('admin');
  await visit(other, '/t/acme/team');
  await expect(other.getByRole('note').filter({ hasText: 'Read-only access' })).toHaveCount(0);
  await expect(other.getByRole('row').filter({ hasText: `${viewer.email} (you)` })).toContainText('Admin');
  await context.close();

  await visit(page, '/t/acme/audit');
  const latest = page.locator('table.audit-log tbody tr').first();
  await expect(latest).toContainText("Staff member's access changed");
  await expect(latest).toContainText('Role: read-only → tenant admin');
  // Back to read-only, and removed, so the later stories see the team they expect.
  await visit(page, '/t/acme/team');
  await row.getByText('Remove…').click();
  await row.getByLabel(`Type ${viewer.email} to confirm`).fill(viewer.email);
  await row.getByRole('button', { name: `Remove from team: ${viewer.email}` }).click();
  await expect(row).toHaveCount(0);
  await signOut(page);
});

test('without JavaScript the dashboard signs in, renders every page whole and says what needs a script', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  // A wrong password: the sign-in form again, with the message in words (not the raw answer).
  await page.goto('/login');
  await page.getByLabel('E-mail address').fill(admin.email);
  await page.getByLabel('Password').fill('not the right password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('The e-mail address or password is not right.');
  await expect(page.getByRole('heading', { name: 'Sign in to Vestibule' })).toBeVisible();

  // The right one: the tenant's first page, whole in the first response.
  await page.getByLabel('E-mail address').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  const pages: [string, string][] = [
    ['domain', 'Domain Setup'],
    ['settings', 'Settings'],
    ['branding', 'Branding'],
    ['members', 'Members'],
    ['oidc', 'OIDC Client Apps'],
    ['saml', 'SAML Client Apps'],
    ['team', 'Team'],
    ['audit', 'Audit log'],
  ];
  for (const [path, heading] of pages) {
    await page.goto(`/t/acme/${path}`);
    await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
    await expect(page.getByText('Loading…')).toHaveCount(0);
    await expect(page.getByRole('button').first()).toBeVisible();
  }

  // Templates are links: choosing one fills the form in the first response.
  await page.goto('/t/acme/oidc');
  await page.getByRole('navigation', { name: 'Start from a template' }).getByRole('link', { name: /^WordPress/ }).click();
  await expect(page).toHaveURL(/\?template=wordpress#add-app$/);
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('WordPress');
  await page.goto('/t/acme/saml?template=higher-logic');
  await expect(page.locator('#new-nameid')).toHaveValue('unspecified');
  await expect(page.getByLabel('Require signed requests')).toBeChecked();

  // A form whose answer is shown once (a new client secret) would lose it in the redirect that
  // follows a plain form post: it is refused in words, and nothing is created.
  await page.goto('/t/acme/oidc');
  await page.getByLabel('Name', { exact: true }).fill('No script app');
  await page.getByLabel('Redirect URIs (one per line)', { exact: true }).fill('https://noscript.example.org/cb');
  await page.getByRole('button', { name: 'Add app' }).click();
  await expect(page.getByRole('alert')).toContainText('needs JavaScript');
  await expect(page.getByRole('alert')).toContainText('Nothing was changed.');
  await expect(page.getByText('No script app')).toHaveCount(0);

  // Sign out is a real form too.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/t/acme/domain');
  await expect(page).toHaveURL(/\/login$/);
  await context.close();
});

test('the dashboard\'s script, wasm and stylesheet are content-named, cached for a year and sent compressed', async ({ request }) => {
  const html = await (await request.get('/login')).text();
  const names = [...html.matchAll(/\/pkg\/(vestibule-[0-9a-f]{16})\.(js|wasm|css)/g)];
  expect(new Set(names.map((m) => m[2]))).toEqual(new Set(['js', 'wasm', 'css']));
  const name = names[0][1];
  for (const extension of ['js', 'wasm', 'css']) {
    const raw = await rawGet(`/pkg/${name}.${extension}`, 'br, gzip');
    expect(raw.status, extension).toBe(200);
    expect(raw.headers['content-encoding'], extension).toBe('br');
    expect(raw.headers['cache-control'], extension).toBe('public, max-age=31536000, immutable');
    expect(raw.headers['vary'], extension).toContain('accept-encoding');
    if (extension === 'wasm') {
      // Issue 24's budget for the whole app on the wire.
      expect(raw.bytes).toBeLessThan(1_000_000);
      const gzip = await rawGet(`/pkg/${name}.wasm`, 'gzip');
      expect(gzip.headers['content-encoding']).toBe('gzip');
      expect(gzip.bytes).toBeLessThan(1_000_000);
    }
  }
  // Whatever is not named after its content is revalidated.
  expect((await rawGet('/pkg/output-name', 'identity')).headers['cache-control']).toBe('no-cache');
});

// What the server sends, undecoded: status, headers and the number of bytes on the wire.
function rawGet(
  path: string,
  acceptEncoding: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bytes: number }> {
  const base = new URL(process.env.VESTIBULE_E2E_URL ?? 'http://localhost:3310');
  return new Promise((resolveReply, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: base.port, path, headers: { host: base.host, 'accept-encoding': acceptEncoding } },
      (response) => {
        let bytes = 0;
        response.on('data', (chunk: Buffer) => (bytes += chunk.length));
        response.on('end', () =>
          resolveReply({ status: response.statusCode ?? 0, headers: response.headers, bytes }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// --- Domain Setup, against the sandbox's ACME CA (Pebble) and DNS server ----------------------

// Set VESTIBULE_E2E_SCREENSHOTS to a folder to keep pictures of key states for review.
async function snapshot(page: Page, name: string) {
  const folder = process.env.VESTIBULE_E2E_SCREENSHOTS;
  if (folder) await page.screenshot({ path: `${folder}/${name}.png`, fullPage: true });
}

async function setDns(endpoint: string, body: object) {
  const response = await fetch(`${process.env.SANDBOX_DNS_API}/${endpoint}`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  expect(response.ok, `${endpoint} ${JSON.stringify(body)}`).toBeTruthy();
}

// Pebble's issuing root, from its management API (served with the sandbox's own CA).
function issuingRoot(): Promise<string> {
  const ca = readFileSync(process.env.SANDBOX_TRUSTED_ROOT!);
  return new Promise((resolveRoot, reject) => {
    httpsGet(`${process.env.SANDBOX_ACME_API}/roots/0`, { ca }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolveRoot(body));
    }).on('error', reject);
  });
}

// A TLS client asking the edge for `servername`, verifying the chain against `ca`.
function httpsHome(servername: string, ca: string): Promise<{ authorized: boolean; body: string }> {
  return new Promise((resolveReply, reject) => {
    const socket = tlsConnect(
      { host: '127.0.0.1', port: Number(process.env.VESTIBULE_E2E_HTTPS_PORT), servername, ca },
      () => {
        socket.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
      },
    );
    let body = '';
    socket.on('data', (chunk) => (body += chunk));
    socket.on('end', () => resolveReply({ authorized: socket.authorized, body }));
    socket.on('error', reject);
  });
}

test('the tenant admin provisions the SSO domain and it serves HTTPS', async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await hydrated(page);
  await expect(page.locator('#domain-status')).toHaveText('Not Provisioned');
  // No made-up name in the record before one is typed; the name follows the typing.
  await expect(page.locator('.cname-name-pending')).toHaveText('the domain you enter in step 2');
  await expect(page.locator('.cname-name')).toHaveCount(0);
  // Each Cloud ID points its record at its own name under the edge's, so no other Cloud ID
  // can claim a name that points at this one.
  await expect(page.locator('.cname-target')).toHaveText(/^acme-[0-9a-f]{8}\.edge\.vestibule\.test$/);
  const cnameTarget = await page.locator('.cname-target').innerText();
  expect(await copied(page, 'record value')).toBe(cnameTarget);

  // A pasted URL is explained, not accepted.
  await page.getByLabel('SSO Domain').fill('https://sso.acme.test/');
  await page.getByRole('button', { name: 'Start Provisioning' }).click();
  await expect(page.getByRole('alert')).toContainText('without "https://"');
  await expect(page.locator('#domain-status')).toHaveText('Not Provisioned: the check failed');
  await expect(page.locator('#domain-status')).toHaveClass(/status-failed/);

  // Before the CNAME exists the DNS check says what it found and what it expected.
  await page.getByLabel('SSO Domain').fill('sso.acme.test');
  await expect(page.locator('.cname-name')).toHaveText('sso.acme.test');
  await page.getByRole('button', { name: 'Start Provisioning' }).click();
  await expect(page.locator('#domain-problem')).toContainText('instead of a CNAME', { timeout: 30_000 });
  await expect(page.locator('#domain-status')).toHaveText('Failed');
  await expect(page.locator('#domain-status')).toHaveClass(/status-failed/);
  // One primary button: trying again; another domain is the secondary way.
  await expect(page.locator('main .button.primary')).toHaveCount(1);
  await expect(page.locator('main .button.primary')).toHaveText('Try again with sso.acme.test');
  await expect(page.locator('.cname-name')).toHaveText('sso.acme.test');
  await snapshot(page, 'domain-failed');

  // With the record in place, trying again brings the domain online; the page follows the
  // job on its own.
  await setDns('set-cname', { host: 'sso.acme.test.', target: `${cnameTarget}.` });
  await page.getByRole('button', { name: 'Try again with sso.acme.test' }).click();
  await expect(page.locator('#domain-status')).toHaveText('Online', { timeout: 90_000 });
  await expect(page.getByText('Certificate valid until')).toBeVisible();
  await expect(page.locator('.domain-address')).toHaveAttribute('href', 'https://sso.acme.test/');
  await snapshot(page, 'domain-online');

  // A member's browser reaches the domain over TLS with a chain from the CA.
  const root = await issuingRoot();
  const reply = await httpsHome('sso.acme.test', root);
  expect(reply.authorized).toBe(true);
  expect(reply.body).toMatch(/^HTTP\/1\.1 200/);
  expect(reply.body).toContain('Acme Association');
  expect(reply.body.toLowerCase()).toContain('strict-transport-security');

  // A reload shows the same state: nothing lived only in the browser.
  await visit(page, '/t/acme/domain');
  await expect(page.locator('#domain-status')).toHaveText('Online');

  // A second domain for trying apps: its own CNAME, certificate and status, served beside the
  // first. Made primary, the page's links follow it; released, the first goes on.
  await setDns('set-cname', { host: 'sso-test.acme.test.', target: `${cnameTarget}.` });
  await page.getByLabel('Another domain').fill('sso-test.acme.test');
  await page.getByRole('button', { name: 'Add domain' }).click();
  const others = page.locator('table.other-domains');
  await expect(others.locator('tbody tr')).toHaveCount(1);
  await expect(others.locator('tbody tr').first()).toContainText('sso-test.acme.test');
  await expect(others.locator('.status')).toHaveText('Online', { timeout: 90_000 });
  const second = await httpsHome('sso-test.acme.test', root);
  expect(second.authorized).toBe(true);
  expect(second.body).toMatch(/^HTTP\/1\.1 200/);

  // An app registered on the test domain is used there: its card says so and its vendor sheet
  // gives that domain's issuer. The test domain is not released while an app is on it; moving
  // the app is an edit.
  await visit(page, '/t/acme/oidc');
  await hydrated(page);
  await expect(page.locator('section.card', { hasText: 'For vendors' })).toContainText('The primary domain\'s.');
  await page.getByLabel('Name').fill('Trial');
  await page.getByLabel('SSO domain').selectOption('sso-test.acme.test');
  await page.getByLabel('Redirect URIs (one per line)', { exact: true }).fill('https://trial.example.org/cb');
  await page.getByRole('button', { name: 'Add app' }).click();
  await page.getByRole('button', { name: 'I have copied it' }).click();
  const trial = page.locator('section.oidc-app', { hasText: 'Trial' });
  await expect(trial.locator('.app-domain')).toHaveText('sso-test.acme.test');
  await trial.getByRole('link', { name: 'Send to your vendor: Trial' }).click();
  await expect(page.locator('dl.vendor-facts')).toContainText('https://sso-test.acme.test');
  await expect(page.locator('dl.vendor-facts')).not.toContainText('https://sso.acme.test');
  await visit(page, '/t/acme/domain');
  await hydrated(page);
  const otherCard = page.locator('section.card', { has: page.getByRole('heading', { name: 'Other domains' }) });
  await others.getByText('Release…').click();
  await others.getByLabel(/to confirm/).fill('sso-test.acme.test');
  await others.getByRole('button', { name: 'Release sso-test.acme.test' }).click();
  await expect(otherCard.getByRole('alert')).toContainText('Trial (OIDC) is used on sso-test.acme.test');
  await expect(others.locator('tbody tr')).toHaveCount(1);
  await visit(page, '/t/acme/oidc');
  await page.getByRole('link', { name: 'Edit Trial' }).click();
  await hydrated(page);
  await expect(page.getByLabel('SSO domain')).toHaveValue('sso-test.acme.test');
  await page.getByLabel('SSO domain').selectOption('');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status')).toHaveText('Saved.');
  await visit(page, '/t/acme/oidc');
  await hydrated(page);
  await expect(trial.locator('.app-domain')).toHaveText('sso.acme.test (primary)');
  await trial.getByText('Delete…').click();
  await trial.getByLabel('Type Trial to confirm').fill('Trial');
  await trial.getByRole('button', { name: 'Delete Trial' }).click();
  await expect(trial).toHaveCount(0);
  await visit(page, '/t/acme/domain');
  await hydrated(page);
  await page.getByRole('button', { name: 'Make sso-test.acme.test primary' }).click();
  await expect(page.locator('.domain-name')).toContainText('sso-test.acme.test');
  await expect(others).toContainText('sso.acme.test');
  await page.getByRole('button', { name: 'Make sso.acme.test primary' }).click();
  await expect(page.locator('.domain-name')).toContainText('sso.acme.test');
  await others.getByText('Release…').click();
  await others.getByLabel(/to confirm/).fill('sso-test.acme.test');
  await others.getByRole('button', { name: 'Release sso-test.acme.test' }).click();
  await expect(others).toHaveCount(0);
  await expect(httpsHome('sso-test.acme.test', root)).rejects.toThrow();
  expect((await httpsHome('sso.acme.test', root)).authorized).toBe(true);

  // Releasing needs the name typed out, then the edge stops serving it.
  await page.getByLabel(/to confirm/).fill('sso.acme.test');
  await page.getByRole('button', { name: 'Release domain' }).click();
  await expect(page.locator('#domain-status')).toHaveText('Not Provisioned');
  await expect(httpsHome('sso.acme.test', root)).rejects.toThrow();
  await signOut(page);
});

test('the tenant admin connects iMIS in Settings and tests the connection', async ({ page }) => {
  const imis = process.env.VESTIBULE_E2E_IMIS_URL!;
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await page.getByRole('navigation').getByRole('link', { name: 'Settings' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Settings' })).toBeVisible();
  await hydrated(page);

  // A plain-HTTP address on another host is refused with the reason; nothing is saved.
  const callback = await page.locator('.oidc-callback').innerText();
  expect(await copied(page, 'OpenID Connect Login Redirect URL')).toBe(callback);
  await page.getByLabel('iMIS base URL').fill('http://members.acme.test');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('alert')).toContainText('https://');

  await page.getByLabel('iMIS base URL').fill(imis);
  await page.getByLabel('Profile IQA').fill('$/Vestibule/MemberProfile');
  await page.getByLabel('iMIS sign-out page (optional)').fill('/');
  const oidc = page.locator('section', { hasText: 'OpenID Connect client application' });
  await oidc.getByLabel('Client ID').fill('vestibule-oidc');
  await oidc.getByLabel('Client secret').fill('not-the-secret');
  await oidc.getByLabel('SSO page (publish location)').fill('/sso/oidc');
  const saml = page.locator('section', { hasText: 'SAML client application' });
  await saml.getByLabel('Client ID').fill('vestibule-saml');
  await saml.getByLabel('Client secret').fill('demo-saml-secret');
  await saml.getByLabel('SSO page (publish location)').fill('/sso/saml');
  await page.getByLabel('Username').fill('vestibule-api');
  await page.getByLabel('Password', { exact: true }).fill('demo-api-password');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('status')).toHaveText('Settings saved.');

  // Branding is its own page: the preview follows the form as it is typed, the colour has a
  // picker beside its hex field, and saving it leaves the iMIS connection as it was.
  await page.getByRole('navigation').getByRole('link', { name: 'Branding' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Branding' })).toBeVisible();
  await hydrated(page);
  const preview = page.locator('.preview-page');
  await expect(preview).toBeInViewport();
  await page.getByLabel('Display name').fill('Acme Association');
  await expect(preview.locator('.preview-name')).toHaveText('Acme Association');
  await page.getByLabel('Sign-in text').fill('Members sign in with their Acme account.');
  await expect(preview).toContainText('Members sign in with their Acme account.');
  await page.getByLabel('Support contact').fill('help@acme.test');
  await expect(preview).toContainText('Need help? Contact help@acme.test.');
  await page.getByLabel('Pick the colour').fill('#aa3300');
  await expect(page.getByLabel('Colour', { exact: true })).toHaveValue('#aa3300');
  await expect(preview.locator('.preview-button')).toHaveCSS('background-color', 'rgb(170, 51, 0)');
  await page.getByLabel('Colour', { exact: true }).fill('#1f5fbf');
  await expect(page.getByLabel('Pick the colour')).toHaveValue('#1f5fbf');
  await expect(preview.locator('.preview-button')).toHaveCSS('background-color', 'rgb(31, 95, 191)');
  await page.getByRole('button', { name: 'Save branding' }).click();
  await expect(page.getByRole('status')).toHaveText('Branding saved.');
  await visit(page, '/t/acme/settings');
  await expect(page.getByLabel('iMIS base URL')).toHaveValue(imis);
  await expect(page.getByLabel('Profile IQA')).toHaveValue('$/Vestibule/MemberProfile');

  // Secrets are write-only: the form never shows them again.
  await visit(page, '/t/acme/settings');
  await expect(oidc.getByLabel('Client secret')).toHaveValue('');
  await expect(oidc.getByLabel('Client secret')).toHaveAttribute('placeholder', /Saved/);
  expect(await page.content()).not.toContain('demo-api-password');

  await page.getByRole('button', { name: 'Test connection' }).click();
  const checks = page.locator('.checks');
  await expect(checks.locator('li')).toHaveCount(7);
  await expect(checks.locator('li.step-failed')).toHaveCount(1);
  await expect(checks.locator('li.step-failed')).toContainText('does not accept the client id vestibule-oidc');
  await snapshot(page, 'settings-test-connection');

  // Fix the secret (other secrets stay as saved) and everything passes.
  await oidc.getByLabel('Client secret').fill('demo-oidc-secret');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('status')).toHaveText('Settings saved.');
  // The results were for the settings before the save: they are gone.
  await expect(checks).toHaveCount(0);
  await page.getByRole('button', { name: 'Test connection' }).click();
  await expect(checks.locator('li.step-done')).toHaveCount(7);
  // The checklist on the first page ticks "iMIS" on the passed test (a failed one would not).
  await page.getByRole('navigation').getByRole('link', { name: 'Domain Setup' }).click();
  const imisStep = page.locator('.getting-started li', { hasText: 'Connect iMIS and test the connection' });
  await expect(imisStep).toContainText('✓ Done');
  await expect(imisStep).toContainText('Tested: every step passed.');
  await page.getByRole('navigation').getByRole('link', { name: 'Settings' }).click();
  await hydrated(page);

  // An iMIS that is down (HTTP 503 with its own HTML page) is not a green "iMIS address", its
  // page is never shown, and the steps that need it say they were not checked.
  const behaviour = async (body: object) => {
    const response = await fetch(`${imis}/_emulator/behaviour`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.ok).toBeTruthy();
  };
  await behaviour({ fail: 'all', delay_ms: 0 });
  await page.getByRole('button', { name: 'Test connection' }).click();
  await expect(checks.locator('li').first()).toHaveClass(/step-failed/);
  await expect(checks.locator('li').first()).toContainText('HTTP 503 (Service Unavailable)');
  await expect(checks.locator('li', { hasText: 'Not checked: iMIS did not answer' })).toHaveCount(6);
  await expect(checks).not.toContainText('<h1>');
  await behaviour({ fail: 'none', delay_ms: 0 });
  await visit(page, '/t/acme/domain');
  await expect(imisStep).toContainText('To do');
  await expect(imisStep).toContainText('The last Test connection failed');
  await visit(page, '/t/acme/settings');
  // A slow iMIS: each step shows as soon as it is known, while the next is still checked.
  await behaviour({ fail: 'none', delay_ms: 700 });
  await page.getByRole('button', { name: 'Test connection' }).click();
  await expect(checks.locator('li.step-done').first()).toContainText('iMIS address');
  await expect(page.getByRole('button', { name: 'Testing…' })).toBeVisible();
  await expect(checks.locator('li.step-active')).toHaveText('Checking the next step…');
  await expect(checks.locator('li.step-done')).toHaveCount(7, { timeout: 30_000 });
  await expect(page.getByRole('button', { name: 'Test connection' })).toBeEnabled();
  await expect(checks.locator('li.step-active')).toHaveCount(0);
  await behaviour({ fail: 'none', delay_ms: 0 });
  await signOut(page);
});

// The hosted member pages have no JavaScript of their own: plain navigation, no hydration.
const memberSite = () => process.env.VESTIBULE_E2E_MEMBER_SITE!;

test('a member signs in on the branded hosted page through iMIS', async ({ page }) => {
  const site = memberSite();
  await page.goto(`${site}/`);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expect(page.locator('header.brand')).toHaveText('Acme Association');
  await page.getByRole('link', { name: 'Sign in with your Acme Association account' }).click();

  // iMIS's own sign-in page, then its SSO page posts the member back to our callback.
  await expect(page.getByRole('heading', { name: 'Sign In' })).toBeVisible();
  expect(page.url()).toContain(process.env.VESTIBULE_E2E_IMIS_URL!);
  await page.getByLabel('Username').fill('jane');
  await page.getByLabel('Password').fill('jane-demo-password');
  await page.getByRole('button', { name: 'Sign In' }).click();

  await expect(page.getByRole('heading', { name: 'You are signed in' })).toBeVisible();
  expect(page.url()).toBe(`${site}/`);
  await expect(page.locator('main')).toContainText('Welcome, Jane Member.');
  await expect(page.locator('main')).toContainText('jane@members.acme.test');
  await snapshot(page, 'member-signed-in');
  const cookies = await page.context().cookies(site);
  const session = cookies.find((c) => c.name === '__Host-vestibule_member');
  expect(session?.httpOnly && session?.secure, 'session cookie flags').toBeTruthy();
  expect(cookies.find((c) => c.name === '__Host-vestibule_pending'), 'pending cleared').toBeUndefined();

  // Coming back to the sign-in page with a destination goes straight there.
  await page.goto(`${site}/login?return_to=/`);
  await expect(page.getByRole('heading', { name: 'You are signed in' })).toBeVisible();

  // A replayed refresh token (a stale tab, the Back button) gets the branded explanation and
  // leaves the session alone.
  await page.evaluate(() => {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = '/imis/callback';
    const token = document.createElement('input');
    token.name = 'refresh_token';
    token.value = 'stale-or-replayed';
    form.append(token);
    document.body.append(form);
    form.submit();
  });
  await expect(page.getByRole('heading', { name: 'This sign-in has expired' })).toBeVisible();
  await expect(page.locator('header.brand')).toHaveText('Acme Association');
  await page.goto(`${site}/`);
  await expect(page.getByRole('heading', { name: 'You are signed in' })).toBeVisible();
  // The support contact is a link the member can follow.
  await expect(page.getByRole('link', { name: 'help@acme.test' })).toHaveAttribute('href', 'mailto:help@acme.test');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'You are signed out' })).toBeVisible();
  // Signing out here does not end the session on the association's own (iMIS) site: said,
  // with iMIS's own sign-out page (named in Settings) one click away.
  await expect(page.getByText('You may still be signed in to Acme Association')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Sign out of the member site' }))
    .toHaveAttribute('href', `${process.env.VESTIBULE_E2E_IMIS_URL}/`);
  await page.getByRole('link', { name: 'Sign out of the member site' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.goto(`${site}/`);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
});

test('tenant admins see member sign-ins with the technical cause of failures', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await page.getByRole('navigation').getByRole('link', { name: 'Members' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Members' })).toBeVisible();
  const events = page.locator('table.events');
  await expect(events.locator('tr.event-ok').first()).toContainText('jane');
  await expect(events.locator('tr.event-failed').first()).toContainText('refresh token refused');
  await expect(events.locator('tr.event-failed').first()).toContainText('iMIS refused the grant');
  // Outcomes read by colour and by word.
  await expect(events.locator('tr.event-ok .outcome-ok').first()).toContainText('✓');
  await expect(events.locator('tr.event-failed .outcome-failed').first()).toContainText('✗');
  // With iMIS as the identity source the sign-ins come first; the unused directory is folded.
  expect((await page.locator('main h2').allInnerTexts())[0]).toBe('Recent sign-ins');
  await expect(page.getByRole('heading', { name: 'Add a member' })).toBeHidden();
  await expect(page.getByText('Member directory (not in use: members sign in with iMIS)')).toBeVisible();
  // Sign-ins on the hosted page itself went to no application.
  await expect(events.locator('tr.event-ok').first().locator('td:nth-child(4)')).toHaveText('Sign-in page');
  // A search by member, any case.
  await page.getByLabel('Member or application').fill('JAN');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page).toHaveURL(/search=JAN/);
  await expect(events.locator('tbody tr').first()).toBeVisible();
  for (const member of await events.locator('tbody tr td:nth-child(3)').allInnerTexts()) {
    expect(member.toLowerCase()).toContain('jan');
  }
  await page.getByLabel('Member or application').fill('nobody-by-this-name');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page.getByText('No sign-ins of a member or application matching “nobody-by-this-name”.')).toBeVisible();
  await snapshot(page, 'members-events');
  await signOut(page);
});

// A 1×1 PNG.
const logoPng = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

test('members of a tenant without iMIS sign in with the member directory', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await visit(page, '/t/acme/members');
  // acme still signs in with iMIS: its directory is folded until opened.
  await page.getByText('Member directory (not in use: members sign in with iMIS)').click();
  await page.getByLabel('Username').fill('demo.member');
  await page.getByLabel('E-mail address').fill('demo.member@acme.test');
  await page.getByLabel('First name').fill('Demo');
  await page.getByLabel('Last name').fill('Member');
  await page.getByLabel('Initial password').fill('demo-member-password');
  await page.getByRole('button', { name: 'Add member' }).click();
  await expect(page.getByRole('status')).toContainText('Added demo.member');
  await expect(page.locator('table.members')).toContainText('demo.member@acme.test');

  // Removing a member cannot be undone: it takes their username typed again.
  await hydrated(page);
  await page.getByLabel('Username').fill('leaving.member');
  await page.getByLabel('E-mail address').fill('leaving.member@acme.test');
  await page.getByLabel('First name').fill('Leaving');
  await page.getByLabel('Last name').fill('Member');
  await page.getByLabel('Initial password').fill('leaving-member-password');
  await page.getByRole('button', { name: 'Add member' }).click();
  const leaving = page.locator('table.members tr', { hasText: 'leaving.member' });
  await expect(leaving).toBeVisible();
  await leaving.getByText('Remove…').click();
  await leaving.getByLabel('Type leaving.member to confirm').fill('demo.member');
  await leaving.getByRole('button', { name: 'Remove leaving.member' }).click();
  await expect(leaving.getByRole('alert')).toHaveText('Type leaving.member to confirm that you want to remove this member.');
  await leaving.getByLabel('Type leaving.member to confirm').fill('leaving.member');
  await leaving.getByRole('button', { name: 'Remove leaving.member' }).click();
  await expect(page.locator('table.members')).not.toContainText('leaving.member');
  await expect(page.locator('table.members')).toContainText('demo.member@acme.test');

  // Choose the directory in Settings, and upload a logo in Branding.
  await visit(page, '/t/acme/settings');
  await page.getByLabel("With an account in Vestibule's member directory").check();
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('status')).toHaveText('Settings saved.');
  await visit(page, '/t/acme/branding');
  await page.getByLabel('Image file').setInputFiles({ name: 'logo.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg/>') });
  await page.getByRole('button', { name: 'Upload logo' }).click();
  await expect(page.getByRole('alert')).toContainText('SVG is not accepted');
  await hydrated(page);
  await page.getByLabel('Image file').setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: logoPng });
  await page.getByRole('button', { name: 'Upload logo' }).click();
  await expect(page.getByRole('status')).toHaveText('Logo saved.');
  await hydrated(page);
  await signOut(page);

  const site = memberSite();
  await page.goto(`${site}/login`);
  await expect(page.locator('header.brand img')).toHaveAttribute('src', /\/branding\/logo\?v=/);
  await page.getByLabel('Username').fill('demo.member');
  await page.getByLabel('Password').fill('wrong password here');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('do not match');
  await page.getByLabel('Username').fill('demo.member');
  await page.getByLabel('Password').fill('demo-member-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'You are signed in' })).toBeVisible();
  await expect(page.locator('main')).toContainText('Welcome, Demo Member.');
  await snapshot(page, 'member-directory-signed-in');
});

test('a directory member who forgot the password gets a link by e-mail and chooses a new one', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const site = memberSite();
  await page.goto(`${site}/login`);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page.getByRole('heading', { name: 'Forgot your password?' })).toBeVisible();
  // Nobody by that name: the same answer, and no mail.
  await page.getByLabel('Username or e-mail address').fill('nobody.here');
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page.getByRole('status')).toContainText('If an account matches');
  const before = mailCount('demo.member@acme.test');
  await page.goto(`${site}/password/forgot`);
  await page.getByLabel('Username or e-mail address').fill('Demo.Member@acme.test');
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page.getByRole('status')).toContainText('If an account matches');
  const mail = await mailTo('demo.member@acme.test', before);
  // Sent in the association's name, naming the username, with a link on the tenant's domain.
  expect(mail).toMatch(/From: .*Acme.* <sso@vestibule\.test>/);
  expect(mail).toContain('username demo.member');
  const link = linkIn(mail, '/password/reset?token=');
  expect(link.startsWith(`${site}/password/reset?token=`)).toBe(true);

  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  await expect(page.locator('main')).toContainText('demo.member');
  await page.getByLabel('New password (at least 12 characters)').fill('a new member password');
  await page.getByLabel('Repeat the new password').fill('a different password');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await expect(page.getByRole('alert')).toHaveText('The two passwords do not match.');
  await page.getByLabel('New password (at least 12 characters)').fill('a new member password');
  await page.getByLabel('Repeat the new password').fill('a new member password');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await expect(page.getByRole('heading', { name: 'Your password is changed' })).toBeVisible();
  // The link worked once.
  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'This link does not work any more' })).toBeVisible();

  await page.goto(`${site}/login`);
  await page.getByLabel('Username').fill('demo.member');
  await page.getByLabel('Password').fill('demo-member-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('do not match');
  await page.getByLabel('Username').fill('demo.member');
  await page.getByLabel('Password').fill('a new member password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'You are signed in' })).toBeVisible();

  // By username this time, back to the password the later stories sign in with.
  const sent = mailCount('demo.member@acme.test');
  await page.goto(`${site}/password/forgot`);
  await page.getByLabel('Username or e-mail address').fill('demo.member');
  await page.getByRole('button', { name: 'Send the link' }).click();
  await page.goto(linkIn(await mailTo('demo.member@acme.test', sent), '/password/reset?token='));
  await page.getByLabel('New password (at least 12 characters)').fill('demo-member-password');
  await page.getByLabel('Repeat the new password').fill('demo-member-password');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await expect(page.getByRole('heading', { name: 'Your password is changed' })).toBeVisible();
  await context.close();
});

test('past the hourly share of reset e-mails, the last link a member was sent still works', async ({ page }) => {
  const site = memberSite();
  const link = await lastResetLinkPastTheLimit('demo.member@acme.test', 'Choose a new password for ', '/password/reset?token=', async () => {
    await page.goto(`${site}/password/forgot`);
    await page.getByLabel('Username or e-mail address').fill('demo.member');
    await page.getByRole('button', { name: 'Send the link' }).click();
    await expect(page.getByRole('status')).toContainText('If an account matches');
  });
  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  await page.getByLabel('New password (at least 12 characters)').fill('demo-member-password');
  await page.getByLabel('Repeat the new password').fill('demo-member-password');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await expect(page.getByRole('heading', { name: 'Your password is changed' })).toBeVisible();
});

// The relying party's side of the code flow, as an application's server would do it: the token
// request goes to the edge on loopback with the tenant's host name (Node does not resolve
// *.localhost), and the ID token is checked with Node's own crypto against the published JWKS.
function backchannel(path: string, init: { method?: string; body?: string; headers?: Record<string, string> }) {
  const port = Number(process.env.VESTIBULE_E2E_HTTP_PORT);
  return new Promise<{ status: number; body: string }>((resolveReply, reject) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: init.method ?? 'GET',
        headers: { Host: `sso.acme.localhost:${port}`, ...(init.headers ?? {}) },
      },
      (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolveReply({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('error', reject);
    if (init.body) request.write(init.body);
    request.end();
  });
}

test('the tenant admin registers an OIDC client app and sees its secret once', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await page.getByRole('navigation').getByRole('link', { name: 'OIDC Client Apps' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'OIDC Client Apps' })).toBeVisible();
  await hydrated(page);
  await expect(page.locator('.discovery-url')).toHaveText(
    `${memberSite()}/.well-known/openid-configuration`,
  );
  expect(await copied(page, 'discovery URL')).toBe(`${memberSite()}/.well-known/openid-configuration`);
  expect(await copied(page, 'token endpoint')).toBe(`${memberSite()}/oidc/token`);

  await page.getByLabel('Name').fill('Learning');
  await page.getByLabel('Redirect URIs (one per line)', { exact: true }).fill('http://learning.example.org/cb');
  await page.getByRole('button', { name: 'Add app' }).click();
  await expect(page.getByRole('alert')).toContainText('https://');
  await page.getByLabel('Redirect URIs (one per line)', { exact: true }).fill('https://learning.example.org/cb');
  await page.getByRole('button', { name: 'Add app' }).click();

  // The secret appears where the eye is: a dialog in the viewport that has the focus.
  const dialog = page.getByRole('dialog', { name: 'Copy the client secret now' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toBeInViewport();
  await expect(dialog.getByRole('heading', { name: 'Copy the client secret now' })).toBeFocused();
  const secret = await dialog.locator('.client-secret').inputValue();
  expect(secret).toHaveLength(43);
  await snapshot(page, 'oidc-app-created');

  // Copy puts the secret itself on the clipboard, and says so.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await dialog.getByRole('button', { name: 'Copy client secret' }).click();
  await expect(dialog.getByRole('button', { name: 'Copy client secret' })).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await dialog.getByRole('button', { name: 'Copy client ID' }).click();
  const clientId = await dialog.locator('.client-id').innerText();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(clientId);

  // The form is cleared, so a second click cannot add the app twice; the dialog closes only
  // when the admin says they copied the secret.
  await expect(page.getByLabel('Name')).toHaveValue('');
  await expect(page.getByLabel('Redirect URIs (one per line)', { exact: true })).toHaveValue('');
  await dialog.getByRole('button', { name: 'I have copied it' }).click();
  await expect(dialog).toBeHidden();

  // Shown once: after a reload the app is listed and its secret is nowhere on the page.
  await visit(page, '/t/acme/oidc');
  await expect(page.locator('section.oidc-app h2')).toContainText(['Learning']);
  expect(await page.content()).not.toContain(secret);

  // Deleting cannot be undone: it asks for the app's name, says beside the button when it does
  // not match, and deletes nothing until it does.
  await hydrated(page);
  await page.getByLabel('Name').fill('Scratch');
  await page.getByLabel('Redirect URIs (one per line)', { exact: true }).fill('https://scratch.example.org/cb');
  await page.getByRole('button', { name: 'Add app' }).click();
  await page.getByRole('button', { name: 'I have copied it' }).click();
  const scratch = page.locator('section.oidc-app', { hasText: 'Scratch' });
  await expect(scratch.getByRole('button', { name: 'Delete Scratch' })).toBeHidden();
  await scratch.getByText('Delete…').click();
  await scratch.getByLabel('Type Scratch to confirm').fill('Scratc');
  await scratch.getByRole('button', { name: 'Delete Scratch' }).click();
  await expect(scratch.getByRole('alert')).toHaveText('Type Scratch to confirm that you want to delete this app.');
  await expect(scratch.getByRole('alert')).toBeInViewport();
  await expect(page.locator('section.oidc-app h2')).toContainText(['Learning', 'Scratch']);
  await scratch.getByLabel('Type Scratch to confirm').fill('Scratch');
  await scratch.getByRole('button', { name: 'Delete Scratch' }).click();
  await expect(page.locator('section.oidc-app h2')).toHaveText(['Learning']);
  await signOut(page);
});

// `vestibule oidc add acme …` beside the running server, as an operator's script would.
function registerApp(name: string, ...options: string[]) {
  const repo = resolvePath(__dirname, '../..');
  const printed = execFileSync(
    resolvePath(repo, 'target/debug/vestibule'),
    ['oidc', 'add', 'acme', name, ...options],
    {
      cwd: repo,
      encoding: 'utf8',
      env: {
        ...process.env,
        VESTIBULE_DATABASE_URL: process.env.VESTIBULE_E2E_DATABASE_URL,
        VESTIBULE_SECRET_KEY_FILE: process.env.VESTIBULE_E2E_SECRET_KEY_FILE,
        VESTIBULE_TEST_DOMAINS: 'sso.acme.localhost=acme',
        VESTIBULE_HTTP_LISTEN: `127.0.0.1:${process.env.VESTIBULE_E2E_HTTP_PORT}`,
        VESTIBULE_LOG: 'warn',
      },
    },
  );
  return {
    clientId: printed.match(/client_id: (\S+)/)![1],
    secret: printed.match(/client_secret \(shown once\): (\S+)/)?.[1],
  };
}

test('an OpenID Connect application signs a member in with the code flow and PKCE', async ({ page }) => {
  const registered = registerApp('Events', '--redirect-uri', 'https://rp.example.test/cb', '--consent');
  const clientId = registered.clientId;
  const secret = registered.secret!;
  const site = memberSite();
  const discovery = JSON.parse((await backchannel('/.well-known/openid-configuration', {})).body);
  expect(discovery.issuer).toBe(site);

  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorize = new URL(`${site}/oidc/authorize`);
  for (const [key, value] of Object.entries({
    client_id: clientId,
    redirect_uri: 'https://rp.example.test/cb',
    response_type: 'code',
    scope: 'openid profile',
    state: 'state-1',
    nonce: 'nonce-1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })) {
    authorize.searchParams.set(key, value);
  }

  // The member directory's sign-in form (acme switched to it above), then consent.
  await page.goto(authorize.toString());
  await page.getByLabel('Username').fill('demo.member');
  await page.getByLabel('Password').fill('demo-member-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Share your details?' })).toBeVisible();
  await snapshot(page, 'oidc-consent');
  // The browser is sent on to the application's callback (which does not exist here: only the
  // address it is sent to matters).
  const sentBack = page.waitForRequest((request) => request.url().startsWith('https://rp.example.test/cb'));
  await page.getByRole('button', { name: 'Allow' }).click();
  const returned = new URL((await sentBack).url());
  expect(returned.searchParams.get('state')).toBe('state-1');
  const code = returned.searchParams.get('code')!;

  const token = await backchannel('/oidc/token', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: 'https://rp.example.test/cb',
      code_verifier: verifier,
    }).toString(),
  });
  expect(token.status).toBe(200);
  const tokens = JSON.parse(token.body);
  const [header, payload, signature] = tokens.id_token.split('.');
  const jwks = JSON.parse((await backchannel('/oidc/jwks', {})).body);
  const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString());
  const jwk = jwks.keys.find((key: { kid: string }) => key.kid === kid);
  const verified = cryptoVerify(
    'RSA-SHA256',
    Buffer.from(`${header}.${payload}`),
    createPublicKey({ key: jwk, format: 'jwk' }),
    Buffer.from(signature, 'base64url'),
  );
  expect(verified, 'the ID token verifies with the published key').toBe(true);
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  expect(claims).toMatchObject({ iss: site, aud: clientId, nonce: 'nonce-1', sub: expect.stringMatching(MEMBER_SUBJECT) });

  const userinfo = await backchannel('/oidc/userinfo', {
    headers: { Authorization: `Bearer ${tokens.access_token}` },
  });
  expect(JSON.parse(userinfo.body)).toMatchObject({ sub: expect.stringMatching(MEMBER_SUBJECT), email: 'demo.member@acme.test' });
  // The code works once.
  const replay = await backchannel('/oidc/token', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'https://rp.example.test/cb', code_verifier: verifier }).toString(),
  });
  expect(JSON.parse(replay.body).error).toBe('invalid_grant');

  // The admins' list of sign-ins says which application the member signed in to, and finds
  // the sign-ins of one application.
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await visit(page, '/t/acme/members?search=events');
  const row = page.locator('table.events tbody tr.event-ok').first();
  await expect(row).toBeVisible();
  await expect(row.locator('td:nth-child(3)')).toHaveText('demo.member');
  await expect(row.locator('td:nth-child(4)')).toHaveText(`OIDC app Events (${clientId})`);
  await signOut(page);
});

test('an admin starts an app from a vendor template and sends the vendor its sheet, without the secret', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await visit(page, '/t/acme/oidc');
  const templates = page.getByRole('navigation', { name: 'Start from a template' });
  await expect(templates.getByRole('link', { name: /^Web application/ })).toHaveAttribute('aria-current', 'true');
  await templates.getByRole('link', { name: /^Moodle/ }).click();
  await expect(page).toHaveURL(/\?template=moodle#add-app$/);
  await expect(templates.getByRole('link', { name: /^Moodle/ })).toHaveAttribute('aria-current', 'true');
  // The template fills the form, says why, and names the vendor's documentation.
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('Moodle');
  const redirects = page.getByLabel('Redirect URIs (one per line)', { exact: true });
  await expect(redirects).toHaveAttribute('placeholder', 'https://moodle.example.org/admin/oauth2callback.php');
  await expect(page.getByText('The redirect URI is your Moodle address followed by /admin/oauth2callback.php.')).toBeInViewport();
  await expect(page.getByRole('link', { name: 'MoodleDocs: OAuth 2 services' })).toHaveAttribute('href', 'https://docs.moodle.org/en/OAuth_2_services');
  await expect(page.getByLabel('Public app (no secret; PKCE required)')).not.toBeChecked();
  await hydrated(page);
  await redirects.fill('https://moodle.acme.test/admin/oauth2callback.php');
  await page.getByRole('button', { name: 'Add app' }).click();
  const dialog = page.getByRole('dialog', { name: 'Copy the client secret now' });
  const secret = await dialog.locator('.client-secret').inputValue();
  const clientId = await dialog.locator('.client-id').innerText();
  await dialog.getByRole('button', { name: 'I have copied it' }).click();

  // The vendor sheet: every address and the registration, as facts, text and a file.
  await page.getByRole('link', { name: 'Send to your vendor: Moodle' }).click();
  await expect(page).toHaveURL(new RegExp(`/t/acme/oidc/${clientId}/vendor$`));
  await expect(page.getByRole('heading', { level: 1, name: 'Send to your vendor' })).toBeVisible();
  const facts = page.locator('dl.vendor-facts');
  await expect(facts).toContainText(`${memberSite()}/.well-known/openid-configuration`);
  await expect(facts).toContainText(clientId);
  await expect(facts).toContainText('https://moodle.acme.test/admin/oauth2callback.php');
  await expect(page.locator('main')).not.toContainText(secret);
  await hydrated(page);
  const text = await copied(page, 'the sheet as text');
  expect(text).toBe(await page.locator('#vendor-text').inputValue());
  expect(text).toContain(`Client ID: ${clientId}`);
  expect(text).toContain(`Issuer: ${memberSite()}`);
  expect(text).not.toContain(secret);
  const downloading = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download moodle-oidc.json' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('moodle-oidc.json');
  const file = readFileSync(await download.path());
  const json = JSON.parse(file.toString());
  expect(json).toMatchObject({
    issuer: memberSite(),
    client_id: clientId,
    token_endpoint: `${memberSite()}/oidc/token`,
    redirect_uris: ['https://moodle.acme.test/admin/oauth2callback.php'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  expect(file.toString()).not.toContain(secret);
  await signOut(page);
});

// --- Vendor applications with a maintained OpenID Connect library, on the provisioned domain --

const issuer = 'https://sso.acme.test';
const member = { username: 'demo.member', password: 'demo-member-password' };
let network: Network;
let vendor: { origin: string; close: () => Promise<void> };
let fetchThrough: oidc.CustomFetch;

test.afterAll(async () => {
  await vendor?.close();
  await network?.close();
});

// The member's browser, on the same network as the vendor's server.
async function memberBrowser(browser: Browser) {
  const context = await browser.newContext({ proxy: { server: network.proxy }, ignoreHTTPSErrors: true });
  return context.newPage();
}

async function signInAsMember(page: Page) {
  await expect(page.locator('header.brand')).toContainText('Acme Association');
  await page.getByLabel('Username').fill(member.username);
  await page.getByLabel('Password').fill(member.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

function fragment(page: Page) {
  return new URLSearchParams(new URL(page.url()).hash.slice(1));
}

test('the tenant admin provisions the domain again and tunes an app on its edit page', async ({ page }) => {
  test.setTimeout(150_000);
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await hydrated(page);
  await page.getByLabel('SSO Domain').fill('sso.acme.test');
  await page.getByRole('button', { name: 'Start Provisioning' }).click();
  await expect(page.locator('#domain-status')).toHaveText('Online', { timeout: 90_000 });

  network = await sandboxNetwork({ 'sso.acme.test:443': Number(process.env.VESTIBULE_E2E_HTTPS_PORT) });
  vendor = await callbackServer();
  fetchThrough = sandboxFetch(network, await issuingRoot());

  // The vendor panel now names the provisioned domain.
  await visit(page, '/t/acme/oidc');
  await expect(page.locator('.discovery-url')).toHaveText(`${issuer}/.well-known/openid-configuration`);
  await page.getByLabel('Name').fill('Conference');
  await page.getByLabel('Redirect URIs (one per line)', { exact: true }).fill(`${vendor.origin}/cb`);
  await page.getByLabel('Post-logout redirect URIs (one per line)', { exact: true }).fill(`${vendor.origin}/signed-out`);
  await page.getByRole('button', { name: 'Add app' }).click();
  apps.conference = {
    clientId: await page.getByRole('dialog').locator('.client-id').innerText(),
    secret: await page.getByRole('dialog').locator('.client-secret').inputValue(),
  };
  await page.getByRole('button', { name: 'I have copied it' }).click();

  // Edit: a nested claim and a shorter ID token; bad input is explained and nothing is lost.
  await visit(page, '/t/acme/oidc');
  await page.getByRole('link', { name: 'Edit Conference' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'OIDC Client App' })).toBeVisible();
  await hydrated(page);
  const claims = page.getByLabel('Claim mapping (claim = profile property, one per line)');
  await claims.fill('email = Email\nname = FullName\nmembership.username = Username\nbroken line');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('alert')).toContainText('line 4: write it as claim = Property');
  await claims.fill('email = Email\nname = FullName\nmembership.username = Username');
  await page.getByLabel('ID token lifetime (minutes)').fill('10');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status')).toHaveText('Saved.');

  // The preview shows what the app will receive for a real member.
  await page.getByLabel('Member username').fill('nobody');
  await page.getByRole('button', { name: 'Preview' }).click();
  await expect(page.getByRole('alert')).toContainText('no member nobody');
  await page.getByLabel('Member username').fill(member.username);
  await page.getByRole('button', { name: 'Preview' }).click();
  const preview = JSON.parse(await page.getByLabel('ID token claims').innerText());
  expect(preview).toMatchObject({
    iss: issuer,
    aud: apps.conference.clientId,
    sub: expect.stringMatching(MEMBER_SUBJECT),
    membership: { username: 'demo.member' },
    name: 'Demo Member',
  });
  expect(preview.exp - preview.iat).toBe(600);
  await snapshot(page, 'oidc-app-edit');

  // A reload shows the saved values.
  await visit(page, page.url());
  await expect(page.getByLabel('ID token lifetime (minutes)')).toHaveValue('10');
  await signOut(page);
});

const apps: Record<string, { clientId: string; secret?: string }> = {};

test('openid-client signs a member in with the code flow, reads userinfo, introspects, revokes and logs out', async ({ browser }) => {
  const { clientId, secret } = apps.conference;
  const config = await discover(issuer, clientId, oidc.ClientSecretBasic(secret!), fetchThrough);
  // Check every ID token signature against the JWKS, not only its claims.
  oidc.enableNonRepudiationChecks(config);
  expect(config.serverMetadata().issuer).toBe(issuer);

  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const page = await memberBrowser(browser);
  await page.goto(
    oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${vendor.origin}/cb`,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    }).href,
  );
  await signInAsMember(page);
  await page.waitForURL(`${vendor.origin}/cb?**`);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims()!;
  expect(claims).toMatchObject({ sub: expect.stringMatching(MEMBER_SUBJECT), membership: { username: 'demo.member' } });
  expect(claims.exp - claims.iat).toBe(600);

  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  expect(userinfo).toMatchObject({ email: 'demo.member@acme.test', name: 'Demo Member' });
  expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
  await oidc.tokenRevocation(config, tokens.access_token);
  expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  await expect(oidc.fetchUserInfo(config, tokens.access_token, claims.sub)).rejects.toThrow();

  // The same code a second time is refused.
  await expect(
    oidc.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }),
  ).rejects.toMatchObject({ error: 'invalid_grant' });

  // RP-initiated logout comes back to the registered address with the state, signed out.
  await page.goto(
    oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: `${vendor.origin}/signed-out`,
      state: 'see-you',
    }).href,
  );
  await page.waitForURL(`${vendor.origin}/signed-out?state=see-you`);
  await page.goto(`${issuer}/`);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await page.context().close();
});

test('the flight recorder shows an app\'s exchanges, the exact reason of a refusal, and the full detail to its admin', async ({ page, browser }) => {
  const { clientId } = apps.conference;
  // The vendor's redirect URI differs by one letter: the member sees an error page, and the
  // admin the reason, to the character.
  const member = await memberBrowser(browser);
  const wrong = new URL(`${issuer}/oidc/authorize`);
  wrong.search = new URLSearchParams({
    client_id: clientId,
    redirect_uri: `${vendor.origin}/Cb`,
    response_type: 'code',
    scope: 'openid',
    state: 'st',
  }).toString();
  await member.goto(wrong.href);
  await expect(member.getByRole('heading', { name: 'This sign-in link is not valid' })).toBeVisible();
  await expect(member.locator('body')).not.toContainText('character');
  await member.context().close();

  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await visit(page, '/t/acme/oidc');
  await page.getByRole('link', { name: 'Flight recorder: Conference' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Flight recorder' })).toBeVisible();
  const rows = page.locator('table.exchanges tbody tr');
  await expect(rows.first()).toContainText('Authorization request');
  await expect(rows.first()).toContainText('Refused');
  const at = `${vendor.origin}/`.length + 1;
  await expect(rows.first().locator('.reason')).toHaveText(
    `redirect_uri differs from the registered one ("${vendor.origin}/cb") at character ${at}: 'C' where the registered one has 'c'`,
  );
  // The openid-client story above: its sign-in, its token requests (the replayed code refused)
  // and its logout.
  await expect(rows.filter({ hasText: 'Token request' }).filter({ hasText: 'invalid_grant' }).first()).toBeVisible();
  await expect(rows.filter({ hasText: 'Logout (end session)' }).first()).toContainText('demo.member');
  const answeredToken = rows.filter({ hasText: 'Token request' }).filter({ hasText: 'Answered' }).last();
  await answeredToken.getByRole('link').click();
  await expect(page.getByRole('heading', { level: 2, name: 'Token request · OpenID Connect' })).toBeVisible();
  await expect(page.locator('dd', { hasText: 'ID token signed by this provider: RS256' })).toBeVisible();
  const redacted = page.locator('pre.message').first();
  await expect(redacted).toContainText('"id_token": "[redacted]"');
  await expect(redacted).toContainText('"code": "[redacted]"');
  await expect(redacted).not.toContainText('"aud"');
  await snapshot(page, 'flight-recorder-exchange');

  // In full, for the admin, audited: the ID token's claims; credentials are never kept.
  await page.getByRole('link', { name: 'Show in full' }).click();
  await expect(page.getByRole('heading', { name: /^In full/ })).toBeVisible();
  const full = page.locator('pre.message').nth(1);
  await expect(full).toContainText(`"aud": "${clientId}"`);
  await expect(full).toContainText('"access_token": "[not kept]"');
  await expect(full).toContainText('"code": "[not kept]"');
  await visit(page, '/t/acme/audit?action=flight_recorder');
  await expect(page.locator('table tbody tr').first()).toContainText('Recorded exchange opened in full');

  // Test sign-in: the built-in relying party on the SSO domain runs the app's own settings for
  // the member the admin signs in as, in a new tab, and shows what a library would check.
  await visit(page, '/t/acme/oidc');
  await page.getByRole('link', { name: 'Test sign-in: Conference' }).click();
  await hydrated(page);
  await page.getByRole('button', { name: 'Test sign-in' }).click();
  const testLink = page.getByRole('link', { name: 'Open the test sign-in' });
  await expect(testLink).toHaveAttribute('target', '_blank');
  const href = (await testLink.getAttribute('href'))!;
  expect(href.startsWith(`${issuer}/test-sign-in/oidc/${clientId}?ticket=`)).toBe(true);
  const tester = await memberBrowser(browser);
  await tester.goto(href);
  await signInAsMember(tester);
  await expect(tester.getByRole('heading', { name: 'Test sign-in: Conference' })).toBeVisible();
  await expect(tester.locator('.test-verdict')).toHaveText('Every check passed.');
  await expect(tester.locator('table.test-checks')).toContainText('RS256 verified with the keys published at /oidc/jwks');
  await expect(tester.locator('pre.test-detail').nth(1)).toContainText(`"aud": "${clientId}"`);
  await expect(tester.locator('pre.test-detail').nth(2)).toContainText('"email": "demo.member@acme.test"');
  await tester.context().close();
  await visit(page, '/t/acme/audit?action=test_sign_in');
  await expect(page.locator('table tbody tr').first()).toContainText('Test sign-in started');
  await signOut(page);
});

test('openid-client runs a public app with PKCE and the implicit flow, RS512-signed', async ({ browser }) => {
  const { clientId } = (apps.learning = registerApp(
    'Learning',
    '--public',
    '--implicit',
    '--password',
    '--algorithm',
    'RS512',
    '--redirect-uri',
    `${vendor.origin}/cb`,
  ));
  const config = await discover(issuer, clientId, oidc.None(), fetchThrough, { id_token_signed_response_alg: 'RS512' });
  oidc.enableNonRepudiationChecks(config);
  const page = await memberBrowser(browser);

  // Authorization code with PKCE, no secret.
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  await page.goto(
    oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${vendor.origin}/cb`,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
    }).href,
  );
  await signInAsMember(page);
  await page.waitForURL(`${vendor.origin}/cb?**`);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  expect(tokens.claims()!.sub).toMatch(MEMBER_SUBJECT);

  // Implicit, `id_token token`: the member is signed in, so the answer comes straight back in
  // the fragment; the library checks state, nonce, claims and the RS512 signature.
  const implicit = await discover(issuer, clientId, oidc.None(), fetchThrough, { id_token_signed_response_alg: 'RS512' });
  oidc.useIdTokenResponseType(implicit);
  const state = oidc.randomState();
  const implicitNonce = oidc.randomNonce();
  await page.goto(
    oidc.buildAuthorizationUrl(implicit, {
      redirect_uri: `${vendor.origin}/cb`,
      response_type: 'id_token token',
      scope: 'openid profile',
      state,
      nonce: implicitNonce,
    }).href,
  );
  await page.waitForURL(`${vendor.origin}/cb#**`);
  const implicitClaims = await oidc.implicitAuthentication(implicit, new URL(page.url()), implicitNonce, {
    expectedState: state,
  });
  const accessToken = fragment(page).get('access_token')!;
  // at_hash: the left half of the access token's SHA-512 (the hash of RS512).
  const atHash = createHash('sha512').update(accessToken).digest().subarray(0, 32).toString('base64url');
  expect(implicitClaims.at_hash).toBe(atHash);
  expect(await oidc.fetchUserInfo(config, accessToken, implicitClaims.sub)).toMatchObject({ email: 'demo.member@acme.test' });

  // Implicit, `token` alone: an access token for userinfo, no ID token.
  await page.goto(
    oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${vendor.origin}/cb`,
      response_type: 'token',
      scope: 'openid profile',
      state: 'token-only',
    }).href,
  );
  await page.waitForURL(`${vendor.origin}/cb#**`);
  expect(fragment(page).get('state')).toBe('token-only');
  expect(fragment(page).get('id_token')).toBeNull();
  const userinfo = await oidc.fetchUserInfo(config, fragment(page).get('access_token')!, oidc.skipSubjectCheck);
  expect(userinfo.sub).toMatch(MEMBER_SUBJECT);

  // Hybrid is not offered: the error goes back to the app with its state.
  await page.goto(
    oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${vendor.origin}/cb`,
      response_type: 'code id_token',
      scope: 'openid',
      state: 'hybrid',
      nonce: 'n',
    }).href,
  );
  await page.waitForURL(`${vendor.origin}/cb**`);
  const refused = new URL(page.url());
  const answer = refused.hash ? new URLSearchParams(refused.hash.slice(1)) : refused.searchParams;
  expect(answer.get('error')).toBe('unsupported_response_type');
  expect(answer.get('state')).toBe('hybrid');
  await page.context().close();
});

test('openid-client uses the password grant, public and confidential, and HS512 tokens', async ({ browser }) => {
  // Confidential, client_secret_post, HS512: the ID tokens are signed with the client secret.
  const community = registerApp(
    'Community',
    '--password',
    '--algorithm',
    'HS512',
    '--redirect-uri',
    `${vendor.origin}/cb`,
  );
  const config = await discover(issuer, community.clientId, oidc.ClientSecretPost(community.secret!), fetchThrough, {
    id_token_signed_response_alg: 'HS512',
  });
  // A vendor's openid-client 5 configured with nothing but the client id and secret.
  const vendorClient = (secret: string) =>
    new (new IssuerV5(config.serverMetadata() as ConstructorParameters<typeof IssuerV5>[0]).Client)({
      client_id: community.clientId,
      client_secret: secret,
      id_token_signed_response_alg: 'HS512',
    }) as unknown as { validateIdToken(tokens: TokenSetV5, nonce: string | undefined, returnedBy: string): Promise<TokenSetV5> };
  const tokens = await oidc.genericGrantRequest(config, 'password', {
    username: member.username,
    password: member.password,
    scope: 'openid profile',
  });
  const claims = tokens.claims()!;
  expect(claims).toMatchObject({ iss: issuer, aud: community.clientId, sub: expect.stringMatching(MEMBER_SUBJECT) });
  expect(JSON.parse(Buffer.from(tokens.id_token!.split('.')[0], 'base64url').toString()).alg).toBe('HS512');
  await vendorClient(community.secret!).validateIdToken(new TokenSetV5({ id_token: tokens.id_token }), undefined, 'token');
  await expect(
    vendorClient(randomBytes(64).toString('base64url')).validateIdToken(
      new TokenSetV5({ id_token: tokens.id_token }),
      undefined,
      'token',
    ),
  ).rejects.toThrow(/failed to validate JWT signature/);
  // The code flow without PKCE (a confidential app may skip it), HS512 as well.
  const page = await memberBrowser(browser);
  const nonce = oidc.randomNonce();
  await page.goto(
    oidc.buildAuthorizationUrl(config, { redirect_uri: `${vendor.origin}/cb`, scope: 'openid profile', nonce }).href,
  );
  await signInAsMember(page);
  await page.waitForURL(`${vendor.origin}/cb?**`);
  const coded = await oidc.authorizationCodeGrant(config, new URL(page.url()), { expectedNonce: nonce, idTokenExpected: true });
  await vendorClient(community.secret!).validateIdToken(new TokenSetV5({ id_token: coded.id_token }), nonce, 'token');
  await page.context().close();

  // The JWKS carries no key material for the shared secret.
  const jwks = await (await fetchThrough(`${issuer}/oidc/jwks`, { method: 'GET', headers: {}, redirect: 'manual' })).text();
  expect(jwks).not.toContain(community.secret!);

  await expect(
    oidc.genericGrantRequest(config, 'password', { username: member.username, password: 'not the password', scope: 'openid' }),
  ).rejects.toMatchObject({ error: 'invalid_grant' });
  const wrongSecret = await discover(issuer, community.clientId, oidc.ClientSecretPost('not-the-secret'), fetchThrough);
  await expect(
    oidc.genericGrantRequest(wrongSecret, 'password', { username: member.username, password: member.password }),
  ).rejects.toMatchObject({ error: 'invalid_client' });
  // What seed 002 crosses out gets the spec's error.
  for (const grant of ['client_credentials', 'urn:ietf:params:oauth:grant-type:device_code']) {
    await expect(oidc.genericGrantRequest(config, grant, {})).rejects.toMatchObject({ error: 'unsupported_grant_type' });
  }

  // Public, no secret, RS512 (the Learning app).
  const learning = await discover(issuer, apps.learning.clientId, oidc.None(), fetchThrough, {
    id_token_signed_response_alg: 'RS512',
  });
  oidc.enableNonRepudiationChecks(learning);
  const publicTokens = await oidc.genericGrantRequest(learning, 'password', {
    username: member.username,
    password: member.password,
    scope: 'openid profile',
  });
  expect(publicTokens.claims()!.sub).toMatch(MEMBER_SUBJECT);
  // The Conference app did not enable the password grant.
  const conference = await discover(issuer, apps.conference.clientId, oidc.ClientSecretBasic(apps.conference.secret!), fetchThrough);
  await expect(
    oidc.genericGrantRequest(conference, 'password', { username: member.username, password: member.password }),
  ).rejects.toMatchObject({ error: 'unauthorized_client' });
});

// --- SAML: metadata import on the dashboard, then a member signs in through the IdP-initiated link

test('the tenant admin imports SAML metadata and a member signs in through the IdP-initiated link', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await page.getByRole('navigation').getByRole('link', { name: 'SAML Client Apps' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'SAML Client Apps' })).toBeVisible();
  await hydrated(page);
  const metadataUrl = await copied(page, 'IdP metadata URL');
  await expect(page.locator('.saml-metadata-url')).toHaveText(metadataUrl);
  expect(metadataUrl).toMatch(/\/saml\/metadata$/);
  await expect(page.getByLabel('Signing certificate', { exact: true })).toHaveValue(/^-----BEGIN CERTIFICATE-----/);
  expect(await copied(page, 'signing certificate')).toMatch(/^-----BEGIN CERTIFICATE-----/);

  const spMetadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example.test/saml">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example.test/slo"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.example.test/artifact" index="0"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.test/acs" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`;
  await page.getByLabel('Service provider metadata').fill(spMetadata);
  await page.getByRole('button', { name: 'Preview' }).click();
  const preview = page.locator('.saml-preview');
  await expect(preview.getByText('HTTP-Artifact')).toBeVisible();
  await expect(preview.getByLabel('Entity ID')).toHaveValue('https://sp.example.test/saml');
  await expect(preview.getByLabel(/^Assertion consumer services/)).toHaveValue('1 https://sp.example.test/acs');
  await expect(preview.getByLabel('NameID format')).toHaveValue('email_address');
  await snapshot(page, 'saml-import-preview');
  await preview.getByLabel('Name', { exact: true }).fill('Conference portal');
  await preview.getByLabel(/^Default RelayState/).fill('/welcome');
  await preview.getByRole('button', { name: 'Save imported app' }).click();
  const card = page.locator('section.saml-app', { hasText: 'Conference portal' });
  await expect(card).toBeVisible();
  // Saved: the preview closes and the new app's card is where the eye and the focus go.
  await expect(page.locator('.saml-preview')).toHaveCount(0);
  await expect(card).toBeInViewport();
  await expect(card).toBeFocused();
  // Importing the same service provider again: the refusal is beside the button pressed.
  await page.getByLabel('Service provider metadata').fill(spMetadata);
  await page.getByRole('button', { name: 'Preview' }).click();
  await preview.getByRole('button', { name: 'Save imported app' }).click();
  await expect(preview.getByRole('alert')).toContainText('already');
  await expect(preview.getByRole('alert')).toBeInViewport();
  await expect(page.locator('section', { hasText: 'Add an app' }).getByRole('alert')).toHaveCount(0);
  await card.scrollIntoViewIfNeeded();
  const link = await copied(page, 'IdP-initiated sign-in link for Conference portal');
  await expect(card.locator('.idp-initiated-link')).toHaveText(link);
  expect(link).toMatch(/\/saml\/idp\/[A-Za-z0-9_-]+$/);
  await snapshot(page, 'saml-apps');
  await signOut(page);

  // The member follows the link (on the provisioned domain, through the sandbox network), signs
  // in on the hosted page, and the browser posts the signed response to the service provider's
  // ACS by itself (the POST page's own script).
  const memberPage = await memberBrowser(browser);
  await memberPage.goto(link);
  const posted = memberPage.waitForRequest(
    (request) => request.url() === 'https://sp.example.test/acs' && request.method() === 'POST',
  );
  await signInAsMember(memberPage);
  const form = new URLSearchParams((await posted).postData() ?? '');
  await memberPage.context().close();
  expect(form.get('RelayState')).toBe('/welcome');
  const response = Buffer.from(form.get('SAMLResponse')!, 'base64').toString('utf8');
  expect(response).toContain('Destination="https://sp.example.test/acs"');
  expect(response).toContain(`<saml:Issuer>${metadataUrl}</saml:Issuer>`);
  expect(response).toContain('<saml:Audience>https://sp.example.test/saml</saml:Audience>');
  expect(response).toContain('>demo.member@acme.test</saml:NameID>');
  expect(response).toContain('<ds:SignatureValue>');
});

test('members open the apps their admin listed from the signed-in page', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  // An OIDC app with a login initiation endpoint, and a SAML app by its IdP-initiated link.
  await visit(page, '/t/acme/oidc');
  await page.getByRole('link', { name: 'Edit Conference' }).click();
  await hydrated(page);
  await page.getByLabel("Start URL for the members' launcher (optional)").fill('javascript:alert(1)');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('alert')).toContainText('javascript:alert(1)');
  await page.getByLabel("Start URL for the members' launcher (optional)").fill(`${vendor.origin}/sso/start`);
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status')).toHaveText('Saved.');
  await visit(page, '/t/acme/saml');
  await page.getByRole('link', { name: 'Edit Conference portal' }).click();
  await hydrated(page);
  await page.getByLabel(/List this app on the page members see after signing in/).check();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status')).toHaveText('Saved.');
  await signOut(page);

  const memberPage = await memberBrowser(browser);
  await memberPage.goto(`${issuer}/login`);
  await signInAsMember(memberPage);
  await expect(memberPage.getByRole('heading', { name: 'You are signed in' })).toBeVisible();
  const launcher = memberPage.locator('ul.launcher');
  await expect(launcher.getByRole('link')).toHaveText(['Conference', 'Conference portal']);
  // OpenID Connect Core §4: the app's login initiation endpoint, told which issuer to use.
  const start = new URL(await launcher.getByRole('link', { name: 'Conference', exact: true }).getAttribute('href') ?? '');
  expect(`${start.origin}${start.pathname}`).toBe(`${vendor.origin}/sso/start`);
  expect(start.searchParams.get('iss')).toBe(issuer);
  // How long the session lasts, and its end beside it: in the member's zone (this browser's
  // is UTC), with UTC on hover.
  await expect(memberPage.locator('dd', { hasText: 'another' })).toHaveText(/^another \d+ (hours|minutes) \(until .+(UTC|GMT)\)$/);
  await expect(memberPage.locator('dd time')).toHaveAttribute('title', /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
  // The SAML app opens signed in, without the form: the response goes straight to its ACS.
  const posted = memberPage.waitForRequest(
    (request) => request.url() === 'https://sp.example.test/acs' && request.method() === 'POST',
  );
  await launcher.getByRole('link', { name: 'Conference portal' }).click();
  const form = new URLSearchParams((await posted).postData() ?? '');
  expect(form.get('RelayState')).toBe('/welcome');
  await memberPage.context().close();
});

test('a SAML app starts from the Zoom template and its vendor sheet carries the certificate and metadata', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await visit(page, '/t/acme/saml?template=zoom#add-app');
  await expect(page.getByRole('link', { name: 'Zoom Support: Getting started with SSO' })).toBeVisible();
  await expect(page.locator('#new-name')).toHaveValue('Zoom');
  await expect(page.locator('#new-entity')).toHaveAttribute('placeholder', 'yourcompany.zoom.us');
  await expect(page.locator('#new-nameid')).toHaveValue('email_address');
  await expect(page.locator('#new-attributes')).toHaveValue(/^urn:oid:0\.9\.2342\.19200300\.100\.1\.3 = Email/);
  await hydrated(page);
  await page.locator('#new-entity').fill('acme.zoom.us');
  await page.locator('#new-acs').fill('https://acme.zoom.us/saml/SSO');
  await page.getByRole('button', { name: 'Add app' }).click();
  await expect(page.locator('#add-app').getByRole('status')).toHaveText('Saved.');
  await page.getByRole('link', { name: 'Send to your vendor: Zoom' }).click();
  const facts = page.locator('dl.vendor-facts');
  await expect(facts).toContainText(`${issuer}/saml/metadata`);
  await expect(facts).toContainText('acme.zoom.us');
  await expect(facts).toContainText('https://acme.zoom.us/saml/SSO (index 0, HTTP-POST)');
  await expect(facts).toContainText("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress: the member's e-mail address");
  await expect(facts.locator('pre.fact-block').first()).toContainText('-----BEGIN CERTIFICATE-----');
  const download = page.getByRole('link', { name: /^Download .*-idp-metadata\.xml$/ });
  await expect(download).toHaveAttribute('href', `${issuer}/saml/metadata?download`);
  await expect(download).toHaveAttribute('download', /-idp-metadata\.xml$/);
  await signOut(page);
});

test('the SAML certificate rolls over: the next one is published ahead, postponed, then signs at once', async ({ page }) => {
  const certificates = async () => {
    const metadata = (await backchannel('/saml/metadata', {})).body;
    return [...metadata.matchAll(/<ds:X509Certificate>([^<]+)</g)].map((m) => m[1]);
  };
  const before = await certificates();
  expect(before).toHaveLength(1);
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await visit(page, '/t/acme/saml#signing-certificates');
  const calendar = page.locator('#signing-certificates');
  await expect(calendar.getByRole('heading', { name: 'Signing certificates and keys' })).toBeVisible();
  const current = await calendar.locator('.current-certificate code').innerText();
  // OpenID Connect's keys are on the same calendar.
  await expect(calendar.locator('.token-keys')).toContainText('RS256');
  await calendar.getByRole('button', { name: 'Prepare the next certificate' }).click();
  const next = calendar.locator('.next-certificate');
  await expect(next).toContainText('signs from');
  await expect(next).toBeInViewport();
  const nextKid = await next.locator('code').innerText();
  // Published beside the current one; the current one still signs.
  const both = await certificates();
  expect(both).toHaveLength(2);
  expect(both[0]).toBe(before[0]);
  await expect(calendar.locator('.current-certificate code')).toHaveText(current);

  const firstDate = await next.locator('strong').innerText();
  await next.getByRole('button', { name: 'Postpone' }).click();
  await expect(next.locator('strong')).not.toHaveText(firstDate);
  await next.getByRole('button', { name: 'Roll over now' }).click();
  await expect(calendar.locator('.current-certificate code')).toHaveText(nextKid);
  await expect(calendar.getByRole('button', { name: 'Prepare the next certificate' })).toBeVisible();
  const after = await certificates();
  expect(after).toEqual([both[1]]);
  // The IdP card shows the certificate that signs now.
  const escaped = both[1].slice(0, 40).replace(/[+/]/g, (c) => `\\${c}`);
  await expect(page.getByLabel('Signing certificate', { exact: true })).toHaveValue(new RegExp(escaped));

  await visit(page, '/t/acme/audit');
  const log = page.locator('table.audit-log tbody');
  await expect(log.locator('tr').nth(0)).toContainText('SAML certificate rolled over');
  await expect(log.locator('tr').nth(1)).toContainText('SAML certificate rollover postponed');
  await expect(log.locator('tr').nth(2)).toContainText('Next SAML certificate published');
  await signOut(page);
});

test('a service provider certificate about to expire is flagged on the first page and in the metrics', async ({ page }) => {
  const folder = mkdtempSync(join(tmpdir(), 'vestibule-sp-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(folder, 'key.pem'),
    '-out', join(folder, 'certificate.pem'), '-days', '10', '-subj', '/CN=expiring.example.org'], { stdio: 'ignore' });
  const certificate = readFileSync(join(folder, 'certificate.pem'), 'utf8');
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await expect(page.getByRole('heading', { name: 'Needs attention' })).toHaveCount(0);
  await visit(page, '/t/acme/saml');
  await page.locator('#new-name').fill('Expiring SP');
  await page.locator('#new-entity').fill('https://expiring.example.org');
  await page.locator('#new-acs').fill('https://expiring.example.org/acs');
  await page.locator('#new-certificate').fill(certificate);
  await page.getByRole('button', { name: 'Add app' }).click();
  await expect(page.locator('#add-app').getByRole('status')).toHaveText('Saved.');

  await visit(page, '/t/acme/domain');
  const attention = page.getByRole('region', { name: 'Needs attention' });
  await expect(attention).toBeInViewport();
  const warning = attention.getByRole('link', { name: /^SAML app Expiring SP: the service provider's signing certificate expires on \d{4}-\d{2}-\d{2}\./ });
  await expect(warning).toBeVisible();
  await warning.click();
  await expect(page.getByRole('heading', { level: 1, name: 'SAML Client App' })).toBeVisible();

  // iMIS failing in a way only an admin can fix (here: down) is flagged too.
  const imis = process.env.VESTIBULE_E2E_IMIS_URL!;
  const behaviour = (body: string) => fetch(`${imis}/_emulator/behaviour`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await behaviour('{"fail":"all"}');
  try {
    const refused = await backchannel('/imis/callback', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: memberSite() },
      body: 'refresh_token=a-token-iMIS-cannot-check-now',
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
  } finally {
    await behaviour('{}');
  }
  await visit(page, '/t/acme/domain');
  await expect(attention.getByRole('link', { name: /^iMIS sign-ins failed 1 time in the last day/ })).toHaveAttribute('href', '/t/acme/members');
  await signOut(page);

  const metrics = await (await fetch(`${process.env.VESTIBULE_E2E_OPERATOR_URL}/metrics`)).text();
  const days = Number(metrics.match(/vestibule_sp_certificate_days_to_expiry\{cloud_id="acme",app="[^"]+",certificate="signing"\} ([\d.]+)/)?.[1]);
  expect(days).toBeGreaterThan(9);
  expect(days).toBeLessThanOrEqual(10);
});

// --- SAML with a third-party service provider library: pysaml2, on the vendors' side

test('pysaml2 service providers sign a member in and out: both bindings, IdP-initiated, encrypted, single logout', async ({ page, browser }) => {
  test.setTimeout(120_000);
  // Each vendor downloads the IdP metadata from the tenant's domain and configures pysaml2.
  const idpMetadata = join(mkdtempSync(join(tmpdir(), 'vestibule-idp-')), 'idp.xml');
  writeFileSync(idpMetadata, await fetchText(fetchThrough, `${issuer}/saml/metadata`));
  const events: ServiceProvider = await pysaml2ServiceProvider('events', idpMetadata);
  const learning: ServiceProvider = await pysaml2ServiceProvider('learning', idpMetadata, 'both');
  try {
    // The tenant admin uploads each service provider's metadata file and saves what the
    // preview shows; Learning then gets signed responses and encrypted assertions.
    await signIn(page, admin.email, admin.password);
    await expect(page).toHaveURL(/\/t\/acme\/domain$/);
    await visit(page, '/t/acme/saml');
    await hydrated(page);
    // An address nothing answers at: said in words, nothing saved.
    await page.getByLabel('Metadata address').fill('http://127.0.0.1:9/metadata');
    await page.getByRole('button', { name: 'Preview' }).click();
    await expect(page.getByRole('alert')).toContainText('The metadata could not be fetched: could not fetch http://127.0.0.1:9/metadata');
    for (const [sp, name] of [
      [events, 'Events'],
      [learning, 'Learning'],
    ] as const) {
      if (name === 'Events') {
        // By address: the server fetches it through the outbound guard (this installation, like
        // run-local, lets it reach addresses on this machine, as it does the iMIS emulator).
        await page.getByLabel('Metadata address').fill(`${sp.origin}/metadata`);
      } else {
        await page.getByLabel('Metadata address').fill('');
        const metadata = await (await fetch(`${sp.origin}/metadata`)).text();
        await page.getByLabel('Metadata file').setInputFiles({
          name: `${name.toLowerCase()}-metadata.xml`,
          mimeType: 'application/samlmetadata+xml',
          buffer: Buffer.from(metadata),
        });
        await expect(page.getByLabel('Service provider metadata')).toHaveValue(/SPSSODescriptor/);
      }
      await page.getByRole('button', { name: 'Preview' }).click();
      const preview = page.locator('.saml-preview');
      await expect(preview.getByLabel('Entity ID')).toHaveValue(`${sp.origin}/metadata`);
      await expect(preview.getByLabel(/^Assertion consumer services/)).toHaveValue(`1 ${sp.origin}/acs`);
      await expect(preview.getByLabel('Single logout URL', { exact: true })).toHaveValue(`${sp.origin}/slo`);
      await expect(preview.getByLabel('Single logout binding')).toHaveValue('redirect');
      await expect(preview.getByLabel('NameID format')).toHaveValue('persistent');
      await expect(preview.getByLabel('Require signed requests')).toBeChecked();
      await expect(preview.getByLabel(/^Service provider's encryption certificate/)).toHaveValue(/^-----BEGIN CERTIFICATE-----/);
      await preview.getByLabel('Name', { exact: true }).fill(name);
      await preview.getByRole('button', { name: 'Save imported app' }).click();
      await expect(page.locator('section.saml-app', { hasText: name })).toBeVisible();
    }
    await page.getByRole('link', { name: 'Edit Learning' }).click();
    await expect(page.getByRole('heading', { level: 2, name: 'Learning' })).toBeVisible();
    await hydrated(page);
    await page.getByLabel('Signed', { exact: true }).selectOption('both');
    await page.getByLabel(/Encrypt assertions/).check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(page.getByRole('status')).toHaveText('Saved.');
    await visit(page, '/t/acme/saml');
    await expect(page.locator('section.saml-app', { hasText: 'Learning' })).toContainText('assertions encrypted');

    // Later the registration has drifted from what Events publishes (an old second assertion
    // consumer service): comparing with its metadata shows the difference, Apply puts back
    // what the metadata says. Another service provider's metadata is refused.
    await page.getByRole('link', { name: 'Edit Events' }).click();
    await hydrated(page);
    const consumers = page.getByLabel(/^Assertion consumer services/);
    await consumers.fill(`1 ${events.origin}/acs\n2 ${events.origin}/acs-old`);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(page.getByRole('status')).toHaveText('Saved.');
    await page.getByLabel('Metadata address').fill(`${learning.origin}/metadata`);
    await page.getByRole('button', { name: 'Compare' }).click();
    await expect(page.getByRole('alert')).toContainText("This is not the app's metadata");
    await page.getByLabel('Metadata address').fill(`${events.origin}/metadata`);
    await page.getByRole('button', { name: 'Compare' }).click();
    const changes = page.locator('table.metadata-changes');
    await expect(changes).toContainText('Assertion consumer services');
    await expect(changes).toContainText(`2 ${events.origin}/acs-old`);
    await expect(changes.locator('tbody tr')).toHaveCount(1);
    await page.getByRole('button', { name: 'Apply these changes' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Applied' })).toBeVisible();
    await expect(consumers).toHaveValue(`1 ${events.origin}/acs`);
    // Subscribed: Events' metadata is re-read every day, its certificate rollovers applied on
    // their own; the page says so and when it was read.
    await page.getByLabel('Re-read it every day').check();
    await page.getByLabel(/Apply its certificate rollovers/).check();
    await page.getByRole('button', { name: 'Compare' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Up to date' })).toBeVisible();
    const subscription = page.locator('.metadata-subscription');
    await expect(subscription).toContainText(`Re-read every day from ${events.origin}/metadata`);
    await expect(subscription).toContainText('Certificate rollovers are applied without asking');
    await expect(subscription).toContainText('Last read');
    await visit(page, page.url());
    await expect(subscription).toContainText('Next read');
    await expect(page.getByLabel('Re-read it every day')).toBeChecked();

    // A subscription whose address stops answering shows on the app's card and the Cloud ID's
    // first page until the admin acts; stopping the re-reads clears it.
    await visit(page, '/t/acme/saml');
    await page.getByRole('link', { name: 'Edit Learning' }).click();
    await hydrated(page);
    await page.getByLabel('Metadata address').fill('http://127.0.0.1:9/metadata');
    await page.getByLabel('Re-read it every day').check();
    await page.getByRole('button', { name: 'Compare' }).click();
    await expect(page.getByRole('alert')).toContainText('The metadata could not be fetched');
    await visit(page, '/t/acme/saml');
    await expect(page.locator('section.saml-app', { hasText: 'Learning' }).locator('.metadata-notice')).toContainText('Reading its metadata failed');
    await expect(page.locator('section.saml-app', { hasText: 'Events' }).locator('.metadata-notice')).toHaveCount(0);
    await visit(page, '/t/acme/domain');
    await expect(page.locator('.needs-attention')).toContainText('SAML app Learning: Reading its metadata failed');
    await visit(page, '/t/acme/saml');
    await page.getByRole('link', { name: 'Edit Learning' }).click();
    await hydrated(page);
    await expect(page.locator('.metadata-failure')).toContainText('The last read failed');
    await page.getByRole('button', { name: 'Stop re-reading' }).click();
    await expect(page.locator('.metadata-subscription')).toHaveCount(0);
    await visit(page, '/t/acme/saml');
    await expect(page.locator('.metadata-notice')).toHaveCount(0);
    const eventsLink = await page
      .locator('section.saml-app', { hasText: 'Events' })
      .locator('.idp-initiated-link')
      .innerText();
    await signOut(page);

    // SP-initiated over HTTP-Redirect: pysaml2 signs the request's query, the member signs in
    // on the hosted page, and pysaml2 accepts the signed response posted back.
    const member = await memberBrowser(browser);
    await member.goto(`${events.origin}/login?binding=redirect&relay_state=/programme`);
    await expect(member).toHaveURL(/^https:\/\/sso\.acme\.test\//);
    await signInAsMember(member);
    await expect(member.getByRole('heading', { name: 'Signed in to events' })).toBeVisible();
    await expect(member.locator('#name-id-format')).toHaveText('urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
    await expect(member.locator('#relay-state')).toHaveText('/programme');
    await expect(member.locator('#solicited')).toHaveText('True');
    await expect(member.locator('#encrypted')).toHaveText('False');
    await expect(member.locator('[data-attribute="email"]')).toHaveText('email: demo.member@acme.test');
    const eventsNameId = await member.locator('#name-id').textContent();

    // SP-initiated over HTTP-POST (an XML-signed request) to a second service provider: the
    // member is already signed in, so the answer comes at once, encrypted and signed twice.
    await member.goto(`${learning.origin}/login?binding=post`);
    await expect(member.getByRole('heading', { name: 'Signed in to learning' })).toBeVisible();
    await expect(member.locator('#encrypted')).toHaveText('True');
    await expect(member.locator('[data-attribute="email"]')).toHaveText('email: demo.member@acme.test');
    // Persistent identifiers are different for each service provider.
    const learningNameId = await member.locator('#name-id').textContent();
    expect(learningNameId).toMatch(/\S{16,}/);
    expect(learningNameId).not.toBe(eventsNameId);

    // Single logout started at Learning (a POST-bound LogoutRequest): Vestibule ends the
    // session, tells Events, and answers Learning.
    await member.goto(`${learning.origin}/logout`);
    await expect(member.getByRole('heading', { name: 'Signed out of learning' })).toBeVisible();
    await expect(member.locator('#status')).toHaveText('urn:oasis:names:tc:SAML:2.0:status:Success');
    await member.goto(`${events.origin}/`);
    await expect(member.getByRole('heading', { name: 'Not signed in to events' })).toBeVisible();
    await member.goto(`${issuer}/`);
    await expect(member.getByRole('button', { name: 'Sign in' })).toBeVisible();

    // IdP-initiated sign-in from the link the dashboard shows, then logout on the tenant's
    // domain, which Vestibule passes on to Events.
    await member.goto(`${eventsLink}?RelayState=%2Ffrom-the-portal`);
    await signInAsMember(member);
    await expect(member.getByRole('heading', { name: 'Signed in to events' })).toBeVisible();
    await expect(member.locator('#solicited')).toHaveText('False');
    await expect(member.locator('#relay-state')).toHaveText('/from-the-portal');
    await expect(member.locator('#name-id')).toHaveText(eventsNameId!);
    await member.goto(`${issuer}/`);
    await member.getByRole('button', { name: 'Sign out' }).click();
    await expect(member.getByRole('heading', { name: 'You are signed out' })).toBeVisible();
    await member.goto(`${events.origin}/`);
    await expect(member.getByRole('heading', { name: 'Not signed in to events' })).toBeVisible();
    await member.context().close();
  } finally {
    await events.close();
    await learning.close();
  }
});

// --- The flight recorder of a SAML app

test('the flight recorder shows a service provider\'s signed requests and the responses sent, contents redacted; a test sign-in checks its response', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await visit(page, '/t/acme/saml');
  await page.getByRole('link', { name: 'Flight recorder: Events' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Flight recorder' })).toBeVisible();
  const rows = page.locator('table.exchanges tbody tr');
  await expect(rows.filter({ hasText: 'IdP-initiated sign-in' }).first()).toContainText('Answered');
  await expect(rows.filter({ hasText: 'Response sent' }).first()).toContainText('demo.member');
  // The first exchange of all: pysaml2's AuthnRequest over HTTP-Redirect, its query signed.
  await rows.filter({ hasText: 'AuthnRequest received' }).last().getByRole('link').click();
  await expect(page.getByRole('heading', { level: 2, name: 'AuthnRequest received · SAML 2.0' })).toBeVisible();
  await expect(page.locator('dd', { hasText: "verified with the app's certificate" })).toBeVisible();
  await expect(page.locator('pre.message').first()).toContainText('/metadata</');
  await page.getByRole('link', { name: /Flight recorder of Events/ }).click();
  await rows.filter({ hasText: 'Response sent' }).last().getByRole('link').click();
  const redacted = page.locator('pre.message').first();
  await expect(redacted).toContainText('[redacted]');
  await expect(redacted).toContainText('Destination=');
  await expect(redacted).not.toContainText('demo.member@acme.test');
  await expect(page.getByRole('link', { name: 'Show in full' })).toBeVisible();

  // Test sign-in: the IdP answers with Events' own settings, to the test service provider.
  await page.getByRole('link', { name: /Flight recorder of Events/ }).click();
  await hydrated(page);
  await page.getByRole('button', { name: 'Test sign-in' }).click();
  const href = (await page.getByRole('link', { name: 'Open the test sign-in' }).getAttribute('href'))!;
  const tester = await memberBrowser(browser);
  await tester.goto(href);
  await signInAsMember(tester);
  await expect(tester.getByRole('heading', { name: 'Test sign-in: Events' })).toBeVisible();
  await expect(tester.locator('.test-verdict')).toHaveText('Every check passed.');
  await expect(tester.locator('pre.test-detail').first()).toContainText('nameid-format:persistent');
  await expect(tester.locator('pre.test-detail').nth(1)).toContainText('email = demo.member@acme.test');
  await tester.context().close();
  await signOut(page);
});

// --- The audit log of all of the above

test('the tenant admin reads the audit log in words, filters it by action and days, and downloads it as CSV', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await page.getByRole('navigation').getByRole('link', { name: 'Audit log' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Audit log' })).toBeVisible();
  const log = page.locator('table.audit-log');
  const rows = log.locator('tbody tr');
  // The stories' changes (Settings, apps, the domain, members) and their members' sign-ins
  // to the apps, newest first, each in words.
  await expect(rows.first()).toContainText('Member signed in');
  await expect(log).toContainText('SAML app edited');
  await expect(log).not.toContainText('saml_app.update');
  // Older changes are past the first page of 50: a filter finds them.
  await visit(page, '/t/acme/audit?action=settings');
  await expect(log).toContainText('Settings saved');
  await expect(log).not.toContainText('very-secret');
  await visit(page, '/t/acme/audit?action=domain');
  await expect(log).toContainText('Domain provisioning started');
  await visit(page, '/t/acme/audit');
  await hydrated(page);
  await page.getByLabel('What').selectOption({ label: 'SAML app edited' });
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=saml_app\.update/);
  // Four edits: Learning's encryption and Events' ACS addresses by hand then from its metadata
  // (the pysaml2 story), and Conference portal's launcher.
  await expect(rows).toHaveCount(4);
  await expect(rows.filter({ hasText: 'Events' })).toHaveCount(2);
  const edit = rows.filter({ hasText: 'Learning' });
  await expect(rows.filter({ hasText: 'Conference portal' })).toContainText('Show in launcher: off → on');
  // One line per change in words; the JSON is folded away until asked for.
  await expect(edit.getByRole('listitem').filter({ hasText: 'Encrypt assertions: off → on' })).toBeVisible();
  await expect(edit.locator('code.json').first()).toBeHidden();
  const height = (await edit.boundingBox())?.height ?? 0;
  expect(height, 'an edit is a few lines, not a wall of JSON').toBeLessThan(250);
  await edit.getByText('Values before and after').click();
  await expect(edit.locator('code.json').last()).toBeVisible();
  await expect(edit.locator('code.json').last()).toContainText('"encrypt_assertions":"on"');
  await snapshot(page, 'audit-log');
  const csv = await page.request.get(await page.getByRole('link', { name: 'Download CSV' }).getAttribute('href') ?? '');
  expect(csv.headers()['content-type']).toBe('text/csv; charset=utf-8');
  const lines = (await csv.text()).trim().split('\r\n');
  expect(lines[0]).toBe('time,actor,action,target,before,after');
  expect(lines).toHaveLength(5);
  expect(lines.some((line) => line.includes(`${admin.email},saml_app.update,Learning (`))).toBeTruthy();
  // Member sign-ins, per application: the SAML stories' members reached Events and Learning.
  await page.getByLabel('What').selectOption({ label: 'Any member sign-in' });
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=sign_in/);
  await expect(log).toContainText('SAML app Events (');
  await expect(log).toContainText('SAML app Learning (');
  await expect(log.locator('.outcome-ok').first()).toHaveText('Member signed in');
  await expect(log).toContainText('Outcome: signed in');
  // Days: everything happened today (UTC); nothing tomorrow; a day that does not exist is
  // refused in words.
  const today = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  await page.getByLabel('From').fill(today);
  await page.getByLabel('To').fill(today);
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(new RegExp(`from=${today}&to=${today}`));
  await expect(rows.first()).toContainText('Member signed in');
  await page.getByLabel('From').fill(tomorrow);
  await page.getByLabel('To').fill(tomorrow);
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByText('Nothing matches.')).toBeVisible();
  await visit(page, '/t/acme/audit?from=2026-02-30');
  await expect(page.getByRole('alert')).toContainText('is not a date');
  await signOut(page);
});

test('the getting-started checklist ticks itself from what was done, and operators see each tenant\'s state', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  // The stories above put the domain online, tested iMIS, registered apps and signed members
  // in: every step is ticked, and the list folds away.
  const checklist = page.locator('details.getting-started');
  await expect(checklist.locator('summary')).toHaveText('Getting started: all 4 steps done');
  await expect(checklist.getByRole('listitem')).toHaveCount(0);
  await checklist.locator('summary').click();
  await expect(checklist.getByRole('listitem')).toHaveCount(4);
  for (const item of await checklist.getByRole('listitem').all()) {
    await expect(item).toContainText('✓ Done');
  }
  // Acme's members now sign in with the directory (the directory story switched it).
  await expect(checklist).toContainText('1 member in the directory.');
  await signOut(page);

  await signIn(page, operator.email, operator.password);
  await expect(page).toHaveURL(/\/tenants$/);
  const acme = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'acme', exact: true }) });
  await expect(acme.locator('.status-on')).toContainText('(Online)');
  await expect(acme).toContainText('Member directory');
  await expect(acme.locator('td').nth(4)).not.toHaveText('0');
  await expect(acme.locator('td').nth(5).locator('time')).toBeVisible();
  const beta = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'beta', exact: true }) });
  await expect(beta).toContainText('No domain');
  await expect(beta.locator('td').nth(4)).toHaveText('0');
  await expect(beta.locator('td').nth(5)).toHaveText('Never');
  await signOut(page);
});

test('times read in the viewer\'s time zone, with UTC on hover, on every page that shows one', async ({ browser }) => {
  const context = await browser.newContext({ timezoneId: 'Pacific/Auckland', locale: 'en-NZ' });
  const page = await context.newPage();
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  for (const path of ['audit', 'members', 'team', 'oidc']) {
    await visit(page, `/t/acme/${path}`);
    const time = page.locator('main time').first();
    await expect(time, path).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await expect(time, path).toHaveAttribute('title', /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC$/);
    // New Zealand's zone, named as the browser names it (NZDT in December).
    await expect(time, path).toHaveText(/NZDT|GMT\+13/);
  }
  // And on the member's signed-in page on the tenant's domain.
  await page.goto(`${memberSite()}/login`);
  await signInAsMember(page);
  await expect(page.getByRole('heading', { name: 'You are signed in' })).toBeVisible();
  const until = page.locator('main time');
  await expect(until).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  await expect(until).toHaveAttribute('title', /UTC$/);
  await expect(until).toHaveText(/NZDT|GMT\+13/);
  await context.close();
});

test('on a phone the menu folds away and no page scrolls sideways', async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await hydrated(page);
  // The first screen shows the page, not the ten links: they wait behind "Menu".
  const menu = page.getByText('Menu', { exact: true });
  await expect(menu).toBeInViewport();
  await expect(page.getByRole('heading', { level: 1, name: 'Domain Setup' })).toBeInViewport();
  await expect(page.getByRole('navigation').getByRole('link', { name: 'Audit log' })).toBeHidden();
  await menu.click();
  await page.getByRole('navigation').getByRole('link', { name: 'Settings' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Settings' })).toBeVisible();
  // Following a link folds the menu again.
  await expect(page.getByRole('navigation').getByRole('link', { name: 'Audit log' })).toBeHidden();

  for (const path of ['domain', 'settings', 'branding', 'members', 'oidc', 'saml', 'audit', 'team']) {
    await visit(page, `/t/acme/${path}`);
    expect(await overflowing(page), `/t/acme/${path}`).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  }
  // An app's own page too, with its long endpoints and redirect URIs.
  await visit(page, '/t/acme/oidc');
  await page.locator('a[href^="/t/acme/oidc/"]').first().click();
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  expect(await overflowing(page)).toEqual([]);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await context.close();
});

// The innermost elements that reach past the viewport's right edge, outside the scrolling
// regions that say they scroll sideways (`.scrolls-sideways`): what makes a page wider.
// (A phone's layout viewport grows to fit a wide page, so the width is the device's, given.)
function overflowing(page: Page, width = 390): Promise<string[]> {
  return page.evaluate((width) => {
    const wide = [...document.querySelectorAll('body *')].filter(
      (element) =>
        element.getBoundingClientRect().right > width + 0.5 &&
        !element.parentElement?.closest('.scrolls-sideways'),
    );
    return wide
      .filter((element) => !wide.some((other) => other !== element && element.contains(other)))
      .map((element) => `${element.tagName.toLowerCase()}.${[...element.classList].join('.')} ${Math.round(element.getBoundingClientRect().right)}px: ${(element.textContent ?? '').slice(0, 40)}`);
  }, width);
}

test('axe-core finds no accessibility violations on the dashboard\'s pages', async ({ page }) => {
  const violations = async (path: string) => {
    const results = await new AxeBuilder({ page }).analyze();
    return results.violations.map(
      (v) => `${path}: ${v.id} (${v.nodes.length}×, e.g. ${v.nodes[0]?.target.join(' ')}): ${v.help}`,
    );
  };
  await visit(page, '/login');
  expect(await violations('/login')).toEqual([]);
  await visit(page, '/forgot-password');
  expect(await violations('/forgot-password')).toEqual([]);
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await visit(page, '/account');
  expect(await violations('/account')).toEqual([]);
  for (const path of ['domain', 'settings', 'branding', 'members', 'oidc', 'saml', 'audit', 'team']) {
    await visit(page, `/t/acme/${path}`);
    expect(await violations(`/t/acme/${path}`)).toEqual([]);
  }
  await visit(page, '/t/acme/oidc');
  await page.locator('a[href^="/t/acme/oidc/"]').first().click();
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  expect(await violations('an OIDC app')).toEqual([]);
  await visit(page, '/t/acme/saml');
  await page.locator('a[href^="/t/acme/saml/"]').first().click();
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  expect(await violations('a SAML app')).toEqual([]);
  await signOut(page);
  // The operator's pages: the tenant list with each tenant's state.
  await signIn(page, operator.email, operator.password);
  await expect(page).toHaveURL(/\/tenants$/);
  expect(await violations('/tenants')).toEqual([]);
  await signOut(page);
  // The hosted member pages, signed out and signed in.
  const member = await memberBrowser(page.context().browser()!);
  const memberViolations = async (path: string) => {
    const results = await new AxeBuilder({ page: member }).analyze();
    return results.violations.map((v) => `${path}: ${v.id} (${v.nodes.length}×): ${v.help}`);
  };
  await member.goto(`${issuer}/login`);
  expect(await memberViolations('member /login')).toEqual([]);
  await signInAsMember(member);
  await expect(member.getByRole('heading', { name: 'You are signed in' })).toBeVisible();
  expect(await memberViolations('member /')).toEqual([]);
  await member.getByRole('button', { name: 'Sign out' }).click();
  await expect(member.getByRole('heading', { name: 'You are signed out' })).toBeVisible();
  expect(await memberViolations('member signed out')).toEqual([]);
  await member.context().close();
});

// --- The operator's view of all of the above

test('the operator listener reports the requests, the certificate and readiness', async () => {
  const operator = process.env.VESTIBULE_E2E_OPERATOR_URL!;
  expect((await fetch(`${operator}/healthz`)).status).toBe(200);
  expect(await (await fetch(`${operator}/readyz`)).text()).toBe('ready\n');
  const metrics = await (await fetch(`${operator}/metrics`)).text();
  // The stories' SAML and OpenID Connect traffic on the tenant's domain, by route.
  expect(metrics).toMatch(/vestibule_http_requests_total\{listener="edge",route="\/saml\/sso",method="GET",status="\d+"\} \d+/);
  expect(metrics).toMatch(/vestibule_http_requests_total\{listener="edge",route="\/oidc\/token",method="POST",status="200"\} \d+/);
  expect(metrics).toMatch(/vestibule_http_requests_total\{listener="dashboard",route="[^"]+",method="POST",status="200"\} \d+/);
  // The members who signed in during the stories, through iMIS and the directory.
  expect(metrics).toMatch(/vestibule_member_sign_ins_total\{source="directory",outcome="signed in"\} \d+/);
  expect(metrics).toMatch(/vestibule_member_sign_ins_total\{source="imis",outcome="signed in"\} \d+/);
  // Pebble's certificate for the provisioned domain.
  const days = Number(metrics.match(/vestibule_certificate_days_to_expiry\{domain="sso\.acme\.test"\} ([\d.]+)/)?.[1]);
  expect(days).toBeGreaterThan(1);
  expect(metrics).toContain('vestibule_provisioning_jobs{state="running"} 0');
});

test('a staff member who forgot the password chooses a new one from a link e-mailed to them', async ({ page }) => {
  await visit(page, '/login');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page).toHaveURL(/\/forgot-password$/);
  await hydrated(page);
  const before = mailCount(admin.email);
  await page.getByLabel('E-mail address').fill('nobody@vestibule.test');
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page.getByRole('status')).toContainText('If a Cloud Dashboard account uses that address');
  await visit(page, '/forgot-password');
  await page.getByLabel('E-mail address').fill(admin.email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page.getByRole('status')).toContainText('If a Cloud Dashboard account uses that address');
  const mail = await mailTo(admin.email, before);
  expect(mail).toContain('Subject: Choose a new password for the Vestibule Cloud Dashboard');
  const link = linkIn(mail, '/setup?token=');

  await visit(page, link);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  await expect(page.locator('.setup-email')).toHaveText(admin.email);
  admin.password = 'tenant admin password 2';
  await page.getByLabel('New password (at least 12 characters)').fill(admin.password);
  await page.getByLabel('Repeat the password').fill(admin.password);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByText('Your password is set')).toBeVisible();
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
});

test('past the hourly share of reset e-mails, the last link a staff member was sent still works', async ({ page }) => {
  const subject = 'Choose a new password for the Vestibule Cloud Dashboard';
  const link = await lastResetLinkPastTheLimit(admin.email, subject, '/setup?token=', async () => {
    await visit(page, '/forgot-password');
    await hydrated(page);
    await page.getByLabel('E-mail address').fill(admin.email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await expect(page.getByRole('status')).toContainText('If a Cloud Dashboard account uses that address');
  });
  await visit(page, link);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  admin.password = 'tenant admin password 3';
  await page.getByLabel('New password (at least 12 characters)').fill(admin.password);
  await page.getByLabel('Repeat the password').fill(admin.password);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByText('Your password is set')).toBeVisible();
});

// What an authenticator app shows at `at` for a base32 key (RFC 6238: HMAC-SHA-1, 30 s, 6 digits).
function totp(key: string, at = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of key.replace(/\s/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const secret = Buffer.from(bits.match(/.{8}/g)!.map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

test('with an authenticator app added, a staff member\'s password alone no longer signs in', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await hydrated(page);
  await page.getByRole('link', { name: admin.email }).click();
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
  await hydrated(page);
  await page.getByRole('button', { name: 'Add an authenticator app' }).click();
  await expect(page.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
  const key = await page.getByLabel('Authenticator key', { exact: true }).inputValue();
  await page.getByLabel('Enter the 6-digit code the app shows').fill('000000');
  await page.getByRole('button', { name: 'Turn on two-step verification' }).click();
  await expect(page.getByRole('alert')).toContainText('That code is not right');
  const before = mailCount(admin.email);
  await page.getByLabel('Enter the 6-digit code the app shows').fill(totp(key));
  await page.getByRole('button', { name: 'Turn on two-step verification' }).click();
  const done = page.getByRole('status').filter({ hasText: 'Two-step verification is on.' });
  await expect(done).toBeInViewport();
  const codes = await done.locator('ul.codes li').allTextContents();
  expect(codes).toHaveLength(10);
  expect((await mailTo(admin.email, before))).toContain('Subject: An authenticator app was added to your account');
  await visit(page, '/t/acme/audit');
  await expect(page.locator('table.audit-log')).toContainText('Second factor added');
  // The directory member's own reset, earlier, is in the log as theirs.
  await visit(page, '/t/acme/audit?action=member.set_password&actor=demo.member');
  await expect(page.locator('table.audit-log')).toContainText('the member, from an e-mailed link');
  await signOut(page);

  // The right password alone leads to the code, not in.
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/login\/verify$/);
  await visit(page, '/t/acme/domain');
  await expect(page).toHaveURL(/\/login$/);
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/login\/verify$/);
  await hydrated(page);
  await page.getByLabel('Code').fill('123456');
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('alert')).toContainText('That code is not right');
  // The next step's code (the current one confirmed the app and is used up).
  await page.getByLabel('Code').fill(totp(key, Date.now() + 30_000));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await hydrated(page);
  await signOut(page);

  // A recovery code stands in for a lost phone, once.
  await signIn(page, admin.email, admin.password);
  await expect(page).toHaveURL(/\/login\/verify$/);
  await hydrated(page);
  await page.getByLabel('Code').fill(codes[0]);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(/\/t\/acme\/domain$/);
  await hydrated(page);

  // The Cloud ID requires it of every admin from now on.
  await visit(page, '/t/acme/team');
  await page.getByLabel('Require every admin of this Cloud ID to use a passkey or an authenticator app when signing in').check();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await visit(page, '/t/acme/team');
  await expect(page.getByLabel('Require every admin of this Cloud ID to use a passkey or an authenticator app when signing in')).toBeChecked();
  // The team's list says who has a second factor.
  await expect(page.locator('table.team tr', { hasText: admin.email })).toContainText('Active · two-step verification on');
  await signOut(page);
});

test('with a passkey added, a staff member signs in with it and the password alone is not enough', async ({ page }) => {
  // Chromium's virtual authenticator stands in for a laptop's platform authenticator.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  await signIn(page, operator.email, operator.password);
  await expect(page).toHaveURL(/\/tenants$/);
  await visit(page, '/account');
  await expect(page.getByRole('heading', { name: 'Passkeys' })).toBeVisible();
  const before = mailCount(operator.email);
  await page.getByLabel('Name for the new passkey').fill('Work laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Passkey Work laptop added.' })).toBeVisible();
  await expect(page.locator('table.passkeys')).toContainText('Work laptop');
  await expect(page.locator('table.passkeys')).toContainText('never');
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  expect(credentials).toHaveLength(1);
  expect(await mailTo(operator.email, before)).toContain('Subject: A passkey was added to your account');
  // The same authenticator is not added twice.
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page.getByRole('alert')).toContainText('already has a passkey for your account');
  await signOut(page);

  // The right password alone now leads to the passkey, not in.
  await signIn(page, operator.email, operator.password);
  await expect(page).toHaveURL(/\/login\/verify$/);
  await visit(page, '/tenants');
  await expect(page).toHaveURL(/\/login$/);
  await signIn(page, operator.email, operator.password);
  await expect(page).toHaveURL(/\/login\/verify$/);
  await hydrated(page);
  // The operator has no authenticator app: the page offers the passkey only.
  await expect(page.getByLabel('Code')).toHaveCount(0);
  // The authenticator that holds it signs in.
  await page.getByRole('button', { name: 'Use a passkey' }).click();
  await expect(page).toHaveURL(/\/tenants$/);
  await hydrated(page);

  // Removing it takes the password, not the session alone.
  await visit(page, '/account');
  const row = page.locator('table.passkeys tr', { hasText: 'Work laptop' });
  await expect(row).not.toContainText('never');
  await row.getByText('Remove…').click();
  await row.getByLabel('Your password').fill('not the password');
  await row.getByRole('button', { name: 'Remove Work laptop' }).click();
  await expect(row.getByRole('alert')).toHaveText('That password is not right.');
  await row.getByLabel('Your password').fill(operator.password);
  await row.getByRole('button', { name: 'Remove Work laptop' }).click();
  await expect(page.locator('table.passkeys')).toHaveCount(0);
  await signOut(page);
  await signIn(page, operator.email, operator.password);
  await expect(page).toHaveURL(/\/tenants$/);
});
