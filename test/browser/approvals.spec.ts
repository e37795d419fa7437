import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { accessibilityProblems, builtConsole, launchBrowser, screenshot, watchedPage } from '../support/browser';
import { createTestDatabase, TestDatabase } from '../support/database';
import { RunningWorker, startWorker } from '../support/worker-app';
import { createHmacSource, postSigned } from '../signals/support/signals-harness';

const password = 'correct horse battery staple';

/** The approvals screen in a real browser, against the real api and worker with the paper broker. */
describe('console: approvals queue (chromium)', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let worker: RunningWorker;
  let browser: Browser;

  beforeAll(async () => {
    const dist = builtConsole();
    db = await createTestDatabase();
    const env = {
      CONSOLE_DIR: dist,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'switchyard-approvals-')),
      WEBHOOK_RATE_LIMIT_PER_MINUTE: '100000',
      RATE_LIMIT_PER_MINUTE: '100000',
    };
    [api, worker, browser] = await Promise.all([startApi(db, env), startWorker(db, env), launchBrowser()]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await worker?.close();
    await api?.close();
    await db?.drop();
  });

  async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await read();
      if (done(v)) return v;
      if (Date.now() > deadline) throw new Error(`never got there: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('shows the waiting orders with a count in the nav; approve sends one, reject (with its reason) ends the other', async () => {
    const ws = await createWorkspace(api, 'approvals', password);
    // The bootstrap token stops working once the owner signs in: keep one of her own for the checks.
    const token = (await http(api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'checks', role: 'trader' } })).body.token as string;
    const connectionId = (
      await http(api.url, 'POST', '/v1/connections', { token: ws.token, body: { broker: 'paper', label: 'paper', environment: 'paper', credentials: {} } })
    ).body.id;
    const source = await createHmacSource(api, ws.token);
    const route = await http(api.url, 'POST', '/v1/routes', {
      token: ws.token,
      body: { sourceId: source.id, connectionId, sizing: { mode: 'fixed', value: '1' }, approval: 'manual' },
    });
    expect(route.status).toBe(201);
    for (const ticker of ['AAPL', 'MSFT']) expect((await postSigned(api, source, { ticker, action: 'buy', price: '100' })).status).toBe(202);
    const waiting = async () => (await http(api.url, 'GET', '/v1/orders?status=awaiting_approval', { token })).body.items as any[];
    await until(waiting, (items) => items.length === 2);

    const w = await watchedPage(browser, api.url);
    try {
      await w.page.goto('/');
      await w.page.getByLabel('Email').fill(ws.ownerEmail);
      await w.page.getByLabel('Password').fill(password);
      await w.page.getByRole('button', { name: 'Sign in' }).click();
      const nav = w.page.getByRole('navigation', { name: 'Console' });
      await nav.getByRole('link', { name: 'Approvals 2 waiting' }).click();
      await w.page.getByRole('heading', { level: 2, name: 'Approvals' }).waitFor();
      expect(await w.page.getByRole('button', { name: 'Reject buy MSFT' }).isDisabled()).toBe(true);
      expect(await accessibilityProblems(w.page)).toEqual([]);
      await screenshot(w.page, 'approvals');

      await w.page.getByRole('button', { name: 'Approve buy AAPL' }).click();
      await nav.getByRole('link', { name: 'Approvals 1 waiting' }).waitFor();
      await w.page.getByLabel('Reason for buy MSFT').fill('not today');
      await w.page.getByRole('button', { name: 'Reject buy MSFT' }).click();
      await w.page.getByText('Nothing is waiting for approval.').waitFor();
      expect(await nav.getByRole('link', { name: 'Approvals', exact: true }).count()).toBe(1);
      w.assertClean();
    } finally {
      await w.close();
    }
    const orders = async () => (await http(api.url, 'GET', '/v1/orders?limit=10', { token })).body.items as any[];
    const done = await until(orders, (items) => items.some((o) => o.symbol === 'AAPL' && o.status === 'filled'));
    expect(done.find((o) => o.symbol === 'MSFT')).toMatchObject({ status: 'rejected', reason: 'approval_rejected: not today' });
  });
});
