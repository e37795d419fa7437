import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { Pager } from '../../src/audit/pager/pager';
import { alertLink } from '../../src/audit/pager/pager-channel';
import { createTestDatabase, TestDatabase } from '../support/database';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { accessibilityProblems, builtConsole, launchBrowser, screenshot, watchedPage, WatchedPage } from '../support/browser';

const password = 'correct horse battery staple';

/** Issue 21, screen 10: the platform on-call's console, and what a workspace sees of the platform switch and of a page's link. */
describe('on-call console in a real browser (chromium)', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let browser: Browser;

  beforeAll(async () => {
    [db, browser] = await Promise.all([createTestDatabase(), launchBrowser()]);
    api = await startApi(db, { CONSOLE_DIR: builtConsole(), RATE_LIMIT_PER_MINUTE: '100000' });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await db?.drop();
  });

  const raiseSecurityAlert = (workspaceId: string, connectionId = randomUUID()) =>
    api.app.get(Pager).raise({
      workspaceId,
      rule: 'credential.read.out_of_context',
      resourceType: 'connection',
      resourceId: connectionId,
      summary: `Credential of connection ${connectionId} read outside a routing context`,
      details: { actorType: 'worker', actorId: 'worker-9', ip: '203.0.113.9' },
    });

  async function operatorSignsIn(path = '/platform'): Promise<WatchedPage> {
    const w = await watchedPage(browser, api.url);
    await w.page.goto(path);
    await w.page.getByLabel('Platform token').fill(api.platformToken);
    await w.page.getByRole('button', { name: 'Sign in as the platform operator' }).click();
    await w.page.getByTestId('who').getByText('Signed in as the platform operator').waitFor();
    return w;
  }

  async function memberSignsIn(email: string, path: string): Promise<WatchedPage> {
    const w = await watchedPage(browser, api.url);
    await w.page.goto(path);
    await w.page.getByLabel('Email').fill(email);
    await w.page.getByLabel('Password').fill(password);
    await w.page.getByRole('button', { name: 'Sign in' }).click();
    await w.page.getByTestId('who').waitFor();
    return w;
  }

  it("the operator signs in with the platform token, sees a workspace's security alert (metadata only), acknowledges and resolves it, engages the platform switch a member's Risk screen then shows, releases it, and signs out", async () => {
    const ws = await createWorkspace(api, 'desk-on-call', password);
    // Tenant data the operator's screens must never show: the workspace's name and a source of its own.
    const source = await http(api.url, 'POST', '/v1/sources', { token: ws.token, body: { name: 'tenant-private-source-5d2e', auth: 'hmac' } });
    expect(source.status).toBe(201);
    const alert = await raiseSecurityAlert(ws.id);

    const op = await watchedPage(browser, api.url);
    try {
      await op.page.goto('/platform');
      await op.page.getByRole('heading', { name: 'Platform sign-in' }).waitFor();
      await screenshot(op.page, 'platform-sign-in');
      expect(await accessibilityProblems(op.page)).toEqual([]);
      // A wrong credential is refused in words, and the field is emptied either way.
      await op.page.getByLabel('Platform token').fill('not-the-platform-token-at-all');
      await op.page.getByRole('button', { name: 'Sign in as the platform operator' }).click();
      await op.page.getByRole('alert').getByText('That is not the platform token.').waitFor();
      expect(await op.page.getByLabel('Platform token').inputValue()).toBe('');
      await op.page.getByLabel('Platform token').fill(api.platformToken);
      await op.page.getByRole('button', { name: 'Sign in as the platform operator' }).click();
      await op.page.getByTestId('who').getByText('Signed in as the platform operator').waitFor();

      // The browser holds only the httpOnly session cookie, never the token.
      const cookies = await op.context.cookies();
      expect(cookies).toEqual([expect.objectContaining({ name: 'switchyard_platform_session', httpOnly: true, sameSite: 'Strict' })]);
      expect(JSON.stringify(cookies)).not.toContain(api.platformToken);
      expect(await op.page.evaluate('document.cookie')).toBe('');
      expect(String(await op.page.evaluate('JSON.stringify([localStorage, sessionStorage])'))).not.toContain(api.platformToken);

      const row = op.page.getByRole('row', { name: new RegExp(ws.id) });
      await row.waitFor();
      const cells = await row.getByRole('cell').allTextContents();
      expect(cells[0]).toBe('error');
      expect(cells[1]).toContain('credential.read.out_of_context');
      expect(cells[2]).toBe(ws.id);
      expect(cells[4]).toBe('open');
      const page = await op.page.content();
      expect(page).not.toContain('desk-on-call');
      expect(page).not.toContain('tenant-private-source-5d2e');
      await screenshot(op.page, 'platform-alerts');
      expect(await accessibilityProblems(op.page)).toEqual([]);

      // Handled alerts leave the open list: show them all, so the row stays in view.
      await op.page.getByLabel('Show').selectOption('');
      await row.getByRole('button', { name: /^Acknowledge/ }).click();
      await row.getByRole('cell', { name: /^acknowledged by platform:platform-admin/ }).waitFor();
      await row.getByRole('button', { name: /^Resolve/ }).click();
      await row.getByRole('cell', { name: /; resolved by platform:platform-admin/ }).waitFor();
      expect(await row.getByRole('button').count()).toBe(0);
      const stored = await db.adminQuery<{ status: string }>('SELECT status FROM alerts WHERE id = $1', [alert.id]);
      expect(stored).toEqual([{ status: 'resolved' }]);

      const killForm = op.page.getByRole('form', { name: 'Platform kill switch' });
      await killForm.getByLabel('Why engage it').fill('exchange incident 42');
      await killForm.getByRole('button', { name: 'Engage the platform kill switch' }).click();
      await op.page
        .getByTestId('platform-kill-state')
        .getByText(/^Engaged since .*\(exchange incident 42\)/)
        .waitFor();
      await screenshot(op.page, 'platform-kill-switch-engaged');
      expect(await accessibilityProblems(op.page)).toEqual([]);

      // A member of the workspace sees that the platform stopped routing, but not the operator's reason.
      const member = await memberSignsIn(ws.ownerEmail, '/risk');
      try {
        await member.page
          .getByTestId('platform-kill-state')
          .getByText(/^Platform kill switch: engaged by the platform operator since /)
          .waitFor();
        expect(await member.page.content()).not.toContain('exchange incident 42');
        await screenshot(member.page, 'risk-platform-engaged');
        expect(await accessibilityProblems(member.page)).toEqual([]);

        await killForm.getByLabel('Why release it').fill('incident over');
        await killForm.getByRole('button', { name: 'Release the platform kill switch' }).click();
        await op.page.getByTestId('platform-kill-state').getByText('Off: workspaces route orders.').waitFor();
        await member.page.reload();
        await member.page.getByTestId('platform-kill-state').getByText('Platform kill switch: off').waitFor();
        member.assertClean();
      } finally {
        await member.close();
      }
      const audited = await db.adminQuery<{ action: string; reason: string }>(
        `SELECT action, reason FROM audit_events WHERE action = 'kill_switch.platform' ORDER BY seq`,
      );
      expect(audited.map((a) => a.reason)).toEqual(['exchange incident 42', 'incident over']);

      const [cookie] = await op.context.cookies();
      await op.page.getByRole('button', { name: 'Sign out' }).click();
      await op.page.getByRole('heading', { name: 'Platform sign-in' }).waitFor();
      // Revoked on the server: the old cookie opens nothing.
      expect((await http(api.url, 'GET', '/v1/platform/alerts', { headers: { cookie: `${cookie.name}=${cookie.value}` } })).status).toBe(401);
      op.assertClean();
    } finally {
      await op.close();
    }
  });

  it("the pager's link for a platform-owned alert opens that alert after sign-in, where the operator acknowledges it; an unknown id says so", async () => {
    const ws = await createWorkspace(api, 'paged-desk', password);
    const alert = await raiseSecurityAlert(ws.id);
    const link = new URL(alertLink(api.config.http.publicBaseUrl, { id: alert.id, rule: 'credential.read.out_of_context' }));
    expect(link.pathname).toBe(`/platform/alerts/${alert.id}`);
    const op = await operatorSignsIn(link.pathname);
    try {
      const facts = op.page.getByTestId('platform-alert');
      await facts.waitFor();
      expect(await facts.textContent()).toContain('worker worker-9 203.0.113.9');
      expect(await facts.textContent()).toContain(ws.id);
      expect(await op.page.getByTestId('platform-alert-state').textContent()).toBe('open');
      await screenshot(op.page, 'platform-alert');
      expect(await accessibilityProblems(op.page)).toEqual([]);
      await op.page.getByRole('button', { name: /^Acknowledge/ }).click();
      await op.page
        .getByTestId('platform-alert-state')
        .getByText(/^acknowledged by platform:platform-admin/)
        .waitFor();

      await op.page.goto(`/platform/alerts/${randomUUID()}`);
      await op.page.getByRole('alert').getByText('There is no alert with this id.').waitFor();
      await op.page.getByRole('link', { name: 'All alerts' }).click();
      await op.page.getByRole('heading', { name: 'Alerts across workspaces' }).waitFor();
      op.assertClean();
    } finally {
      await op.close();
    }
  });

  it('a workspace admin\'s alert link opens the alert by its id; another workspace\'s alert is "not found in this workspace"', async () => {
    const [mine, theirs] = await Promise.all([createWorkspace(api, 'mine', password), createWorkspace(api, 'theirs', password)]);
    const own = await api.app.get(Pager).raise({
      workspaceId: mine.id,
      rule: 'order.dead_lettered',
      resourceType: 'order',
      resourceId: 'order-1',
      summary: 'Order order-1 failed after all retries',
    });
    const foreign = await raiseSecurityAlert(theirs.id);
    const w = await memberSignsIn(mine.ownerEmail, `/alerts/${own.id}`);
    try {
      const linked = w.page.locator('tr[aria-current="true"]');
      await linked.getByText('(the alert you were paged about)').waitFor();
      // Resolved alerts leave the open list; the linked one stays in view, fetched by its id.
      await linked.getByRole('button', { name: /^Resolve/ }).click();
      await linked.getByRole('cell', { name: /; resolved by user:/ }).waitFor();
      await w.page.getByText('No open alert.').waitFor();

      await w.page.goto(`/alerts/${foreign.id}`);
      await w.page.getByTestId('linked-missing').getByText(`The alert you were paged about (${foreign.id}) is not found in this workspace.`).waitFor();
      expect(await accessibilityProblems(w.page)).toEqual([]);
      w.assertClean();
    } finally {
      await w.close();
    }
  });
});
