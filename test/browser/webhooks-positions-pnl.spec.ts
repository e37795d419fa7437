import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { accessibilityProblems, builtConsole, launchBrowser, screenshot, WatchedPage, watchedPage } from '../support/browser';
import { createTestDatabase, TestDatabase } from '../support/database';
import { HttpsReceiver, selfSignedCertificate, TestCertificate } from '../support/https-receiver';
import { RunningWorker, startWorker } from '../support/worker-app';
import { createHmacSource, HmacSource, postSigned } from '../signals/support/signals-harness';

const password = 'correct horse battery staple';
const PHONE = { width: 375, height: 740 };

/** The webhooks, positions and P&L screens in a real browser, against the real api and worker (paper broker, HTTPS receiver). */
describe('console: webhooks, positions and P&L (chromium)', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let worker: RunningWorker;
  let browser: Browser;
  let cert: TestCertificate;
  const receivers: HttpsReceiver[] = [];

  beforeAll(async () => {
    const dist = builtConsole();
    cert = selfSignedCertificate();
    db = await createTestDatabase();
    const env = {
      CONSOLE_DIR: dist,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'switchyard-ledger-')),
      RATE_LIMIT_PER_MINUTE: '100000',
      WEBHOOK_RATE_LIMIT_PER_MINUTE: '100000',
      // The receiver listens on 127.0.0.1 behind a self-signed certificate: the operator's allow-list and CA, as in production.
      OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
      OUTBOUND_CA_FILE: cert.caFile,
      WEBHOOK_DELIVERY_INTERVAL_MS: '50',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_MAX_ATTEMPTS: '2',
      // Every read of positions asks the worker, so a flatten's effect shows on the next read.
      SNAPSHOT_MAX_AGE_MS: '0',
      SNAPSHOT_WAIT_MS: '5000',
    };
    [api, worker, browser] = await Promise.all([startApi(db, env), startWorker(db, env), launchBrowser()]);
  }, 120_000);
  // Each journey waits on the worker (fills, deliveries, flattens) on a shared 2-core machine.
  jest.setTimeout(90_000);
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.stop()));
    await browser?.close();
    await worker?.close();
    await api?.close();
    await db?.drop();
  });

  async function addMember(ws: { id: string; token: string }, role: 'viewer' | 'trader' | 'admin'): Promise<string> {
    const email = `${role}-${ws.id.slice(0, 8)}@example.com`;
    const res = await http(api.url, 'POST', '/v1/members', { token: ws.token, body: { email, password, role } });
    if (res.status !== 201) throw new Error(`member create failed: ${res.status} ${res.text}`);
    return email;
  }

  /** A workspace with a paper connection "Desk", an HMAC source and a route of `quantity`, and a token of its own for the checks. */
  async function tradingWorkspace(name: string, quantity: string) {
    const ws = await createWorkspace(api, name, password);
    const token = (await http(api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'checks', role: 'admin' } })).body.token as string;
    const connection = await http(api.url, 'POST', '/v1/connections', {
      token,
      body: { broker: 'paper', label: 'Desk', environment: 'paper', credentials: {} },
    });
    expect(connection.status).toBe(201);
    const source = await createHmacSource(api, token, { name: 'Strategy A' });
    const route = await http(api.url, 'POST', '/v1/routes', {
      token,
      body: { sourceId: source.id, connectionId: connection.body.id, sizing: { mode: 'fixed', value: quantity } },
    });
    expect(route.status).toBe(201);
    return { ws, token, connectionId: connection.body.id as string, source, routeId: route.body.id as string };
  }

  /** Sends a signal and waits until the worker routed it and the paper broker filled its orders. */
  async function trade(token: string, source: HmacSource, signal: Record<string, unknown>) {
    const sent = await postSigned(api, source, signal);
    expect(sent.status).toBe(202);
    const settled = await until(
      async () => (await http(api.url, 'GET', `/v1/signals/${sent.body.signalId}`, { token })).body,
      (s) => ['routed', 'partially_routed', 'blocked', 'failed'].includes(s.status),
    );
    expect(settled.status).toBe('routed');
    const orders = await until(
      async () => (await http(api.url, 'GET', `/v1/orders?signalId=${sent.body.signalId}`, { token })).body.items as any[],
      (items) => items.length > 0 && items.every((o) => o.status === 'filled'),
    );
    return orders;
  }

  async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await read();
      if (done(v)) return v;
      if (Date.now() > deadline) throw new Error(`never got there: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A signed-in page; with `record`, every response body and console line from the first request on. */
  async function signedIn(email: string, path: string, viewport?: { width: number; height: number }) {
    const w = await watchedPage(browser, api.url, viewport);
    const seen = record(w);
    await w.page.goto(path);
    await w.page.getByLabel('Email').fill(email);
    await w.page.getByLabel('Password').fill(password);
    await w.page.getByRole('button', { name: 'Sign in' }).click();
    await w.page.getByTestId('who').waitFor();
    return { ...w, seen };
  }

  function record(w: WatchedPage) {
    const responses: Array<{ method: string; path: string; body: string }> = [];
    const consoleLines: string[] = [];
    w.page.on('console', (m) => consoleLines.push(m.text()));
    w.page.on('response', (r) => {
      const path = new URL(r.url()).pathname;
      void r.text().then(
        (body) => responses.push({ method: r.request().method(), path, body }),
        () => undefined,
      );
    });
    return { responses, consoleLines };
  }

  /** Storage and cookies: where no secret may ever be kept. */
  async function kept(w: WatchedPage): Promise<string> {
    return String(await w.page.evaluate('JSON.stringify([localStorage, sessionStorage, document.cookie])')) + JSON.stringify(await w.context.cookies());
  }

  /** A write through the signed-in member's own session cookie, with the CSRF header the console sends: what the api answers her. */
  function writeAs(page: Page, method: string, path: string, body?: unknown): Promise<number> {
    return page.evaluate(
      async ([m, p, b]) =>
        (
          await fetch(p as string, {
            method: m as string,
            headers: { 'x-switchyard-csrf': '1', 'content-type': 'application/json' },
            body: b === undefined ? undefined : JSON.stringify(b),
          })
        ).status,
      [method, path, body] as const,
    );
  }

  async function besideField(page: Page, field: ReturnType<Page['getByLabel']>): Promise<string> {
    await field.and(page.locator('[aria-invalid="true"]')).waitFor();
    return (await page.locator(`[id="${await field.getAttribute('aria-describedby')}"]`).textContent()) ?? '';
  }

  it('webhooks: the SSRF refusal beside the URL, the signing secret shown once and kept nowhere, deliveries failed then sent again, rotate, delete; a viewer only reads and the api refuses her', async () => {
    const { ws, token, source } = await tradingWorkspace('webhooks', '1');
    const [adminEmail, viewerEmail] = [await addMember(ws, 'admin'), await addMember(ws, 'viewer')];
    const hooks = await HttpsReceiver.start(cert);
    receivers.push(hooks);
    hooks.answer = () => ({ status: 500, body: 'down for maintenance' });
    const url = hooks.url('127.0.0.1', '/switchyard');
    const secrets: string[] = [];

    const admin = await signedIn(adminEmail, '/webhooks');
    admin.page.on('dialog', (d) => void d.accept());
    try {
      const page = admin.page;
      const form = page.getByRole('form', { name: 'Add a webhook endpoint' });
      const field = form.getByLabel('Endpoint URL (https)');
      await field.fill('http://127.0.0.1:9/hooks');
      await form.getByRole('button', { name: 'Add webhook endpoint' }).click();
      expect(await besideField(page, field)).toBe('the URL must use https');
      await field.fill('https://169.254.169.254/latest/meta-data/');
      await form.getByRole('button', { name: 'Add webhook endpoint' }).click();
      await form.locator('.field-error', { hasText: 'non-public address' }).waitFor();
      expect(await besideField(page, field)).toMatch(/^the host 169\.254\.169\.254 is a non-public address \(.+\); only an operator allowlist entry/);
      expect((await http(api.url, 'GET', '/v1/webhooks', { token })).body.items).toEqual([]);

      await field.fill(url);
      for (const event of ['order.accepted', 'order.partially_filled', 'order.canceled', 'order.expired', 'order.rejected'])
        await form.getByRole('checkbox', { name: new RegExp(`^${event.replace('.', '\\.')} `) }).uncheck();
      await form.getByLabel('Description (optional)').fill('fills to my bot');
      await form.getByRole('button', { name: 'Add webhook endpoint' }).click();
      const shown = page.getByRole('status', { name: 'New signing secret' });
      const secret = (await shown.getByTestId('webhook-secret').textContent()) ?? '';
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      secrets.push(secret);
      expect(await field.inputValue()).toBe('');
      // While it is on screen it lives in the page's memory only.
      expect(await kept(admin)).not.toContain(secret);
      await screenshot(page, 'webhook-created');
      expect(await accessibilityProblems(page)).toEqual([]);
      await shown.getByRole('button', { name: 'Done' }).click();
      await shown.waitFor({ state: 'detached' });
      expect(await page.content()).not.toContain(secret);

      const row = page.getByRole('row', { name: /fills to my bot/ });
      expect(await row.textContent()).toMatch(/order\.filled.*version 1/);
      const [endpoint] = (await http(api.url, 'GET', '/v1/webhooks', { token })).body.items;
      expect(endpoint).toMatchObject({ url, events: ['order.filled'], description: 'fills to my bot' });

      // A fill: the receiver refuses both attempts, so the delivery ends failed; it verified the signature with the secret shown.
      hooks.secret = secret;
      await trade(token, source, { ticker: 'AAPL', action: 'buy', price: '100' });
      const attempts = await hooks.waitFor(2);
      expect(attempts.map((r) => r.verified)).toEqual([expect.objectContaining({ ok: true }), expect.objectContaining({ ok: true })]);
      expect(attempts[0].verified).toMatchObject({ payload: { type: 'order.filled', data: { symbol: 'AAPL', status: 'filled' } } });

      await row.getByRole('button', { name: `Deliveries to ${url}` }).click();
      const deliveries = page.getByRole('region', { name: `Deliveries to ${url}, newest first` });
      const delivery = deliveries.getByTestId('delivery-order.filled');
      await delivery.getByText('failed', { exact: true }).waitFor();
      expect(await delivery.textContent()).toMatch(/^order\.filled[0-9a-f]{8}failed2HTTP 500: “down for maintenance”created /);
      await page.getByLabel('Delivery status').selectOption('delivered');
      await page.getByText('No delivery delivered yet.').waitFor();
      await page.getByLabel('Delivery status').selectOption('failed');
      await delivery.waitFor();
      await screenshot(page, 'webhooks');
      expect(await accessibilityProblems(page)).toEqual([]);

      hooks.answer = () => ({ status: 204 });
      await page.getByLabel('Delivery status').selectOption('');
      await delivery.getByRole('button', { name: 'Send order.filled again' }).click();
      await delivery.getByText('delivered', { exact: true }).waitFor({ timeout: 15_000 });
      expect(hooks.requests.at(-1)).toMatchObject({ status: 204, verified: { ok: true } });
      expect(hooks.requests.at(-1)!.headers['webhook-id']).toBe(attempts[0].headers['webhook-id']);

      await row.getByRole('button', { name: `Rotate secret of ${url}` }).click();
      const rotated = (await shown.getByTestId('webhook-secret').textContent()) ?? '';
      expect(rotated).toMatch(/^whsec_/);
      expect(rotated).not.toBe(secret);
      secrets.push(rotated);
      await shown.getByText(/The previous secret keeps signing beside it until/).waitFor();
      expect(await kept(admin)).not.toContain(rotated);
      await shown.getByRole('button', { name: 'Done' }).click();
      await row.getByText(/version 2; the previous one signs too until/).waitFor();

      // The secrets reached the browser once each, in the answer that issued them, and nowhere else.
      for (const s of secrets) {
        const carriers = admin.seen.responses.filter((r) => r.body.includes(s)).map((r) => `${r.method} ${r.path}`);
        expect(carriers).toHaveLength(1);
        expect(carriers[0]).toMatch(/^POST \/v1\/webhooks(\/[0-9a-f-]+\/rotate-secret)?$/);
        expect(admin.seen.consoleLines.join('\n')).not.toContain(s);
        expect(await page.content()).not.toContain(s);
      }
      expect(await kept(admin)).not.toMatch(/whsec_/);

      // Nothing else secret reached this browser: not the source's signing secret, not the machine token.
      for (const other of [source.secret, token]) expect(admin.seen.responses.filter((r) => r.body.includes(other))).toEqual([]);

      // Disabled for a receiver's maintenance, then enabled again: the api records each, the row says it.
      await row.getByRole('button', { name: `Disable ${url}` }).click();
      await row.getByText('(disabled: no new deliveries, pending ones wait)').waitFor();
      expect((await http(api.url, 'GET', `/v1/webhooks/${endpoint.id}`, { token })).body.enabled).toBe(false);
      await row.getByRole('button', { name: `Enable ${url}` }).click();
      await row.getByRole('button', { name: `Disable ${url}` }).waitFor();
      expect((await http(api.url, 'GET', `/v1/webhooks/${endpoint.id}`, { token })).body.enabled).toBe(true);

      await row.getByRole('button', { name: `Delete ${url}` }).click();
      await page.getByText('No webhook endpoint yet.').waitFor();
      expect((await http(api.url, 'GET', `/v1/webhooks/${endpoint.id}`, { token })).status).toBe(404);
      admin.assertClean();
    } finally {
      await admin.close();
    }

    // Another endpoint for the viewer to read; she reads it at phone width.
    const second = await http(api.url, 'POST', '/v1/webhooks', { token, body: { url: hooks.url('127.0.0.1', '/second') } });
    expect(second.status).toBe(201);
    const viewer = await signedIn(viewerEmail, '/webhooks', PHONE);
    try {
      const page = viewer.page;
      const button = page.getByRole('button', { name: `Deliveries to ${second.body.url}` });
      await button.click();
      await page.getByText('No delivery yet.').waitFor();
      await page.getByText('Only admins and owners may add, rotate, disable or delete webhook endpoints or send a delivery again.').waitFor();
      expect(await page.locator('form').count()).toBe(0);
      expect(await page.getByRole('button').allTextContents()).toEqual([
        'Sign out',
        `Deliveries to ${second.body.url}`,
        'Newer deliveries',
        'Older deliveries',
      ]);
      expect(await page.evaluate('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
      await screenshot(page, 'webhooks-viewer-phone');
      expect(await accessibilityProblems(page)).toEqual([]);
      // Her own session, with the CSRF proof: the api still refuses every write.
      expect(await writeAs(page, 'POST', '/v1/webhooks', { url: hooks.url() })).toBe(403);
      expect(await writeAs(page, 'POST', `/v1/webhooks/${second.body.id}/rotate-secret`, {})).toBe(403);
      expect(await writeAs(page, 'DELETE', `/v1/webhooks/${second.body.id}`)).toBe(403);
      expect(await writeAs(page, 'PATCH', `/v1/webhooks/${second.body.id}`, { enabled: false })).toBe(403);
      for (const other of [second.body.secret, source.secret, token]) expect(viewer.seen.responses.filter((r) => r.body.includes(other))).toEqual([]);
      viewer.assertClean();
    } finally {
      await viewer.close();
    }
    expect((await http(api.url, 'GET', '/v1/webhooks', { token })).body.items).toEqual([expect.objectContaining({ id: second.body.id, secretVersion: 1 })]);
  });

  it('positions: per connection and symbol from the broker, flatten with a reason and its progress; a viewer sees no flatten and the api refuses her', async () => {
    const { ws, token, connectionId, source } = await tradingWorkspace('positions', '2');
    const [traderEmail, viewerEmail] = [await addMember(ws, 'trader'), await addMember(ws, 'viewer')];
    await trade(token, source, { ticker: 'AAPL', action: 'buy', price: '100' });
    await trade(token, source, { ticker: 'MSFT', action: 'sell', price: '50' });

    const trader = await signedIn(traderEmail, '/positions');
    trader.page.on('dialog', (d) => void d.accept());
    try {
      const page = trader.page;
      const held = page.getByRole('region', { name: 'Open positions of Desk' });
      await held.getByRole('row', { name: /AAPL/ }).waitFor();
      expect(await held.getByRole('row', { name: /AAPL/ }).textContent()).toBe('AAPLlong 2100—not reported by the broker');
      expect(await held.getByRole('row', { name: /MSFT/ }).textContent()).toBe('MSFTshort 250—not reported by the broker');
      await page
        .getByTestId('snapshot-Desk')
        .getByText(/^As of /)
        .waitFor();
      await screenshot(page, 'positions');
      expect(await accessibilityProblems(page)).toEqual([]);

      const flatten = page.getByRole('form', { name: 'Flatten Desk' });
      await flatten.getByRole('button', { name: 'Flatten Desk' }).click();
      // The reason is required: nothing is sent without one.
      expect(
        await flatten.getByLabel('Why flatten Desk').evaluate((e) => (e as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing),
      ).toBe(true);
      await flatten.getByLabel('Why flatten Desk').fill('end of day');
      await flatten.getByRole('button', { name: 'Flatten Desk' }).click();
      const progress = page.getByRole('status', { name: 'Flatten' });
      await progress.getByText(/Flatten \(end of day\), requested .*: done\./).waitFor({ timeout: 20_000 });
      expect(await progress.getByRole('listitem').textContent()).toMatch(
        /^Desk: done, 0 open orders canceled; closing (sell 2 AAPL \(filled at 100\), buy 2 MSFT \(filled at 50\)|buy 2 MSFT \(filled at 50\), sell 2 AAPL \(filled at 100\))$/,
      );
      await page.getByText('No open position.').waitFor();
      await screenshot(page, 'positions-flattened');
      await progress.getByRole('button', { name: 'Dismiss' }).click();
      const audit = await http(api.url, 'GET', `/v1/audit?action=flatten.request`, { token });
      expect(audit.body.items).toEqual([expect.objectContaining({ reason: 'end of day', resource: { type: 'connection', id: connectionId } })]);
      trader.assertClean();
    } finally {
      await trader.close();
    }

    await trade(token, source, { ticker: 'TSLA', action: 'buy', price: '200' });
    const viewer = await signedIn(viewerEmail, '/positions', PHONE);
    try {
      const page = viewer.page;
      await page.getByRole('region', { name: 'Open positions of Desk' }).getByRole('row', { name: /TSLA/ }).waitFor();
      await page.getByText('Only traders, admins and owners may flatten.').waitFor();
      expect(await page.getByRole('button').allTextContents()).toEqual(['Sign out']);
      expect(await page.locator('form').count()).toBe(0);
      expect(await page.evaluate('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
      expect(await accessibilityProblems(page)).toEqual([]);
      expect(await writeAs(page, 'POST', `/v1/connections/${connectionId}/flatten`, { reason: 'viewer tries' })).toBe(403);
      expect(await writeAs(page, 'POST', '/v1/flatten', { reason: 'viewer tries' })).toBe(403);
      viewer.assertClean();
    } finally {
      await viewer.close();
    }
    expect((await http(api.url, 'GET', `/v1/audit?action=flatten.request`, { token })).body.items).toHaveLength(1);
  });

  it('P&L: realized per symbol from the fills, per connection and per route, with the session P&L and what the broker reports unrealized; read-only for everyone', async () => {
    const { ws, token, connectionId, source } = await tradingWorkspace('pnl', '3');
    const viewerEmail = await addMember(ws, 'viewer');
    const limits = await http(api.url, 'PUT', `/v1/connections/${connectionId}/loss-limits`, {
      token,
      body: { dailyLossLimit: '1000', maxDrawdown: null, action: 'block', sessionStart: '00:00', sessionTimezone: 'UTC', reason: 'desk rules' },
    });
    expect(limits.status).toBe(200);
    await trade(token, source, { ticker: 'AAPL', action: 'buy', price: '100' });
    // Two of the three closed at 110 (a second route on the same connection sizes 2): realised 2 × 10 = 20, one still held at 100.
    const closer = await createHmacSource(api, token, { name: 'Closer' });
    const closeRoute = await http(api.url, 'POST', '/v1/routes', { token, body: { sourceId: closer.id, connectionId, sizing: { mode: 'fixed', value: '2' } } });
    expect(closeRoute.status).toBe(201);
    await trade(token, closer, { ticker: 'AAPL', action: 'sell', price: '110' });
    await trade(token, source, { ticker: 'MSFT', action: 'buy', price: '40' });
    const session = await until(
      async () => (await http(api.url, 'GET', `/v1/connections/${connectionId}`, { token })).body.lossLimits?.session,
      (s) => !!s,
    );

    const viewer = await signedIn(viewerEmail, '/pnl');
    try {
      const page = viewer.page;
      const table = page.getByRole('region', { name: 'P&L of Desk per symbol' });
      const cells = (row: ReturnType<Page['getByRole']>) => row.getByRole('cell').allTextContents();
      const aapl = table.getByRole('row', { name: /AAPL/ });
      await aapl.getByText('not reported by the broker').waitFor();
      // Symbol, position from fills, average cost, realized, fees, fills, unrealized (the paper broker reports none).
      expect(await cells(aapl)).toEqual(['AAPL', 'long 1', '100', '20', '0', '2', 'not reported by the broker']);
      expect(await cells(table.getByRole('row', { name: /MSFT/ }))).toEqual(['MSFT', 'long 3', '40', '0', '0', '1', 'not reported by the broker']);
      expect(await page.getByTestId('session-pnl-Desk').textContent()).toContain(`P&L ${session.pnl}`);
      await screenshot(page, 'pnl');
      expect(await accessibilityProblems(page)).toEqual([]);

      await page.getByRole('combobox', { name: 'Route' }).selectOption({ label: 'Closer → Desk' });
      const byRoute = page.getByRole('region', { name: 'P&L of the route Closer → Desk per symbol' });
      // That route only sold: it holds a short of 2 on its own books and realised nothing.
      await byRoute.getByRole('row', { name: /AAPL/ }).waitFor();
      expect(await cells(byRoute.getByRole('row', { name: /AAPL/ }))).toEqual(['AAPL', 'short 2', '110', '0', '0', '1']);
      expect(await page.getByRole('button').allTextContents()).toEqual(['Sign out']);
      expect(await page.locator('form').count()).toBe(0);
      viewer.assertClean();
    } finally {
      await viewer.close();
    }
    const phone = await signedIn(viewerEmail, '/pnl', PHONE);
    try {
      await phone.page.getByRole('region', { name: 'P&L of Desk per symbol' }).waitFor();
      expect(await phone.page.evaluate('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
      phone.assertClean();
    } finally {
      await phone.close();
    }
  });
});
