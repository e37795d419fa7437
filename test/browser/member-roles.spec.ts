import type { Browser } from 'playwright-core';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { builtConsole, launchBrowser, watchedPage } from '../support/browser';
import { createTestDatabase, TestDatabase } from '../support/database';

const password = 'correct horse battery staple';

/** The Members screen's role select in a real browser, against the real api. */
describe('console: changing a member role (chromium)', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let browser: Browser;
  let ws: Awaited<ReturnType<typeof createWorkspace>>;
  let token: string;

  beforeAll(async () => {
    const dist = builtConsole();
    db = await createTestDatabase();
    [api, browser] = await Promise.all([startApi(db, { CONSOLE_DIR: dist, RATE_LIMIT_PER_MINUTE: '100000' }), launchBrowser()]);
    ws = await createWorkspace(api, 'roles', password);
    token = (await http(api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'checks', role: 'owner', expiresInDays: 'never' } })).body.token;
    for (const [email, role] of [
      ['admin@example.com', 'admin'],
      ['viewer@example.com', 'viewer'],
    ])
      expect((await http(api.url, 'POST', '/v1/members', { token, body: { email, password, role } })).status).toBe(201);
  }, 120_000);
  jest.setTimeout(60_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await db?.drop();
  });

  async function signedIn(email: string) {
    const w = await watchedPage(browser, api.url);
    await w.page.goto('/members');
    await w.page.getByLabel('Email').fill(email);
    await w.page.getByLabel('Password').fill(password);
    await w.page.getByRole('button', { name: 'Sign in' }).click();
    await w.page.getByTestId('who').waitFor();
    return w;
  }

  it('lets an admin change a member role with the select; the api stores it', async () => {
    const w = await signedIn('admin@example.com');
    const select = w.page.getByLabel('Role of viewer@example.com');
    await select.selectOption('trader');
    await w.page.waitForResponse((r) => r.request().method() === 'GET' && r.url().includes('/v1/members'));
    const members = (await http(api.url, 'GET', '/v1/members', { token })).body.items as Array<{ email: string; role: string }>;
    expect(members.find((m) => m.email === 'viewer@example.com')?.role).toBe('trader');
    // No select for an owner above her, nor for herself.
    expect(await w.page.getByLabel(`Role of ${ws.ownerEmail}`).count()).toBe(0);
    expect(await w.page.getByLabel('Role of admin@example.com').count()).toBe(0);
    w.assertClean();
    await w.close();
  });

  it('shows a viewer no role select', async () => {
    await http(
      api.url,
      'PATCH',
      `/v1/members/${(await http(api.url, 'GET', '/v1/members', { token })).body.items.find((m: { email: string }) => m.email === 'viewer@example.com').id}`,
      {
        token,
        body: { role: 'viewer' },
      },
    );
    const w = await signedIn('viewer@example.com');
    await w.page.getByRole('cell', { name: 'admin@example.com' }).waitFor();
    expect(await w.page.getByRole('combobox').count()).toBe(0);
    w.assertClean();
    await w.close();
  });
});
