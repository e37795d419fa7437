import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { accessibilityProblems, builtConsole, launchBrowser, screenshot, watchedPage } from '../support/browser';
import { createTestDatabase, TestDatabase } from '../support/database';

const password = 'correct horse battery staple';

/** The risk screen's per-connection controls and a member's own notification choices, in a real browser against the real api. */
describe('console: connection risk and notification preferences (chromium)', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let browser: Browser;

  beforeAll(async () => {
    const dist = builtConsole();
    db = await createTestDatabase();
    const env = { CONSOLE_DIR: dist, DATA_DIR: mkdtempSync(join(tmpdir(), 'switchyard-risk-')), RATE_LIMIT_PER_MINUTE: '100000' };
    [api, browser] = await Promise.all([startApi(db, env), launchBrowser()]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await db?.drop();
  });

  async function addMember(ws: { id: string; token: string }, role: 'viewer' | 'trader' | 'admin'): Promise<string> {
    const email = `${role}-${ws.id.slice(0, 8)}@example.com`;
    const res = await http(api.url, 'POST', '/v1/members', { token: ws.token, body: { email, password, role } });
    if (res.status !== 201) throw new Error(`member create failed: ${res.status} ${res.text}`);
    return email;
  }

  async function signedIn(email: string, path: string, viewport?: { width: number; height: number }) {
    const w = await watchedPage(browser, api.url, viewport);
    await w.page.goto(path);
    await w.page.getByLabel('Email').fill(email);
    await w.page.getByLabel('Password').fill(password);
    await w.page.getByRole('button', { name: 'Sign in' }).click();
    await w.page.getByTestId('who').waitFor();
    return w;
  }

  it("an admin engages and releases a connection's kill switch and sets its loss limits (bad input beside its field); a viewer sees no control", async () => {
    const ws = await createWorkspace(api, 'connection-risk', password);
    const [adminEmail, viewerEmail] = [await addMember(ws, 'admin'), await addMember(ws, 'viewer')];
    const token = (await http(api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'checks', role: 'admin' } })).body.token as string;
    const created = await http(api.url, 'POST', '/v1/connections', { token, body: { broker: 'paper', label: 'Desk', environment: 'paper', credentials: {} } });
    expect(created.status).toBe(201);
    const connection = async () => (await http(api.url, 'GET', `/v1/connections/${created.body.id}`, { token })).body;

    const admin = await signedIn(adminEmail, '/risk');
    try {
      const page = admin.page;
      await page.getByTestId('connection-kill-Desk').getByText('Kill switch: off').waitFor();
      const kill = page.getByRole('form', { name: 'Kill switch of Desk' });
      await kill.getByLabel('Why engage it').fill('broker outage');
      await kill.getByRole('button', { name: 'Engage kill switch of Desk' }).click();
      await page
        .getByTestId('connection-kill-Desk')
        .getByText(/engaged since .* \(broker outage\)/)
        .waitFor();
      expect((await connection()).killSwitch).toMatchObject({ engaged: true, reason: 'broker outage' });
      // The workspace switch is untouched: only this connection's entries stop.
      expect((await http(api.url, 'GET', '/v1/workspace', { token })).body.killSwitch.engaged).toBe(false);

      const limits = page.getByRole('form', { name: 'Loss limits of Desk' });
      await limits.getByLabel(/Daily loss limit/).fill('250.50');
      await limits.getByLabel(/Maximum drawdown/).fill('100');
      await limits.getByLabel('On a breach').selectOption('flatten');
      await limits.getByLabel(/Session starts at/).fill('09:30');
      await limits.getByLabel('Session time zone').fill('Mars/Olympus');
      await limits.getByLabel('Why change them').fill('new desk rules');
      await limits.getByRole('button', { name: 'Save loss limits of Desk' }).click();
      const zone = limits.getByLabel('Session time zone');
      await zone.and(page.locator('[aria-invalid="true"]')).waitFor();
      const beside = await zone.getAttribute('aria-describedby');
      expect(await page.locator(`[id="${beside}"]`).textContent()).toMatch(/IANA time zone/);
      expect((await connection()).lossLimits).toBeNull();

      await zone.fill('America/New_York');
      await limits.getByRole('button', { name: 'Save loss limits of Desk' }).click();
      const saved = /daily loss 250\.50, drawdown 100; on a breach flatten the connection .* 09:30 America\/New_York/;
      await page.getByTestId('loss-limits-Desk').getByText(saved).waitFor();
      expect((await connection()).lossLimits).toMatchObject({
        dailyLossLimit: '250.50',
        maxDrawdown: '100',
        action: 'flatten',
        sessionStart: '09:30',
        sessionTimezone: 'America/New_York',
      });
      await screenshot(page, 'risk-connections');
      expect(await accessibilityProblems(page)).toEqual([]);

      await kill.getByLabel('Why release it').fill('broker back');
      await kill.getByRole('button', { name: 'Release kill switch of Desk' }).click();
      await page.getByTestId('connection-kill-Desk').getByText('Kill switch: off').waitFor();
      expect((await connection()).killSwitch).toMatchObject({ engaged: false, reason: 'broker back' });
      const audit = await http(api.url, 'GET', `/v1/audit?resourceId=${created.body.id}&limit=20`, { token });
      const audited = audit.body.items as Array<{ action: string; reason: string }>;
      expect(audited.filter((e) => e.action !== 'credential.create').map((e) => [e.action, e.reason])).toEqual([
        ['connection.kill_switch', 'broker back'],
        ['connection.loss_limits', 'new desk rules'],
        ['connection.kill_switch', 'broker outage'],
      ]);
      admin.assertClean();
    } finally {
      await admin.close();
    }

    // At phone width the connection's forms fit without sideways scrolling.
    const phone = await signedIn(adminEmail, '/risk', { width: 375, height: 740 });
    try {
      await phone.page.getByRole('form', { name: 'Loss limits of Desk' }).waitFor();
      expect(await phone.page.evaluate('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
      phone.assertClean();
    } finally {
      await phone.close();
    }

    const viewer = await signedIn(viewerEmail, '/risk');
    try {
      await viewer.page
        .getByTestId('loss-limits-Desk')
        .getByText(/daily loss 250\.50/)
        .waitFor();
      await viewer.page.getByText("Only admins and owners may change a connection's kill switch or loss limits.").waitFor();
      expect(await viewer.page.getByRole('button').allTextContents()).toEqual(['Sign out']);
      expect(await viewer.page.locator('form').count()).toBe(0);
      viewer.assertClean();
    } finally {
      await viewer.close();
    }
  });

  it('a viewer chooses her own notification mail; the choice is hers alone', async () => {
    const ws = await createWorkspace(api, 'notifications', password);
    const viewerEmail = await addMember(ws, 'viewer');
    const ownerToken = (await http(api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'checks', role: 'owner' } })).body.token as string;
    const viewer = await signedIn(viewerEmail, '/notifications');
    viewer.page.setDefaultTimeout(5000);
    try {
      const page = viewer.page;
      const form = page.getByRole('form', { name: 'My notifications' });
      await form.getByText(`Mail me at ${viewerEmail} about (the defaults until you save)`).waitFor();
      // The defaults: everything but fills.
      expect(await form.getByRole('checkbox', { name: /^Fills/ }).isChecked()).toBe(false);
      expect(await form.getByRole('checkbox', { name: /^Rejections/ }).isChecked()).toBe(true);
      expect(await accessibilityProblems(page)).toEqual([]);

      await form.getByRole('checkbox', { name: /^Fills/ }).check();
      await form.getByRole('checkbox', { name: /^Blocks/ }).uncheck();
      await form.getByRole('checkbox', { name: /^Approvals waiting/ }).uncheck();
      await form.getByRole('button', { name: 'Save my notifications' }).click();
      await form.getByRole('status').getByText('Saved: Fills, Rejections, Limit breaches.').waitFor();
      await screenshot(page, 'notifications');

      // What the api holds, read back through her own session after a reload.
      await page.reload();
      await form.getByText(`Mail me at ${viewerEmail} about`, { exact: true }).waitFor();
      expect(await form.getByRole('checkbox', { name: /^Fills/ }).isChecked()).toBe(true);
      expect(await form.getByRole('checkbox', { name: /^Blocks/ }).isChecked()).toBe(false);
      viewer.assertClean();
    } finally {
      await viewer.close();
    }
    // The owner's choices are untouched by the viewer's.
    const owner = await http(api.url, 'GET', '/v1/members/me/notifications', { token: ownerToken });
    expect(owner.body).toMatchObject({ chosen: false, kinds: ['rejections', 'blocks', 'limit_breaches', 'approvals_waiting'] });
  });
});
