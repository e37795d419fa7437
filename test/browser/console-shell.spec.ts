import { generateKeyPairSync, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import type { Browser } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, TestDatabase } from '../support/database';
import { RunningWorker, startWorker } from '../support/worker-app';
import { AuditWriter } from '../../src/audit/audit-writer';
import { TenantDb } from '../../src/database/tenant-db';
import { Pager } from '../../src/audit/pager/pager';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { AlpacaStub, startAlpacaStub } from '../support/brokers/alpaca-stub';
import { BinanceStub, startBinanceStub } from '../support/brokers/binance-stub';
import { CoinbaseStub, startCoinbaseStub } from '../support/brokers/coinbase-stub';
import { OandaStub, startOandaStub } from '../support/brokers/oanda-stub';
import { accessibilityProblems, builtConsole, launchBrowser, screenshot, watchedPage } from '../support/browser';

const password = 'correct horse battery staple';
// The navigation in its order: link text, address, the screen's heading.
const SCREENS = [
  { link: 'Start', path: '/', heading: 'Start' },
  { link: 'Connections', path: '/connections', heading: 'Connections' },
  { link: 'Sources', path: '/sources', heading: 'Sources' },
  { link: 'Routes', path: '/routes', heading: 'Routes' },
  { link: 'Activity', path: '/activity', heading: 'Activity' },
  { link: 'Approvals', path: '/approvals', heading: 'Approvals' },
  { link: 'Positions', path: '/positions', heading: 'Positions' },
  { link: 'P&L', path: '/pnl', heading: 'P&L' },
  { link: 'Risk', path: '/risk', heading: 'Risk' },
  { link: 'Webhooks', path: '/webhooks', heading: 'Webhooks' },
  { link: 'Audit', path: '/audit', heading: 'Audit' },
  { link: 'Alerts', path: '/alerts', heading: 'Alerts' },
  { link: 'Members', path: '/members', heading: 'Members' },
  { link: 'Notifications', path: '/notifications', heading: 'Notifications' },
];

// One api and one browser for the whole suite; each test gets its own browser context.
describe('console in a real browser (chromium)', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let browser: Browser;
  let alpaca: AlpacaStub;
  let binance: BinanceStub;
  let coinbase: CoinbaseStub;
  let oanda: OandaStub;
  let worker: RunningWorker;

  beforeAll(async () => {
    const dist = builtConsole();
    [db, alpaca, binance, coinbase, oanda] = await Promise.all([
      createTestDatabase(),
      startAlpacaStub(),
      startBinanceStub(),
      startCoinbaseStub(),
      startOandaStub(),
    ]);
    // The worker shares the api's data dir (the local KMS root key) and really routes what the console sends.
    const env = {
      CONSOLE_DIR: dist,
      BROKER_ALPACA_BASE_URL: alpaca.url,
      BROKER_BINANCE_BASE_URL: binance.url,
      BROKER_BINANCE_TESTNET_BASE_URL: binance.url,
      BROKER_COINBASE_BASE_URL: coinbase.url,
      BROKER_OANDA_BASE_URL: oanda.url,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'switchyard-console-')),
      // One client (this suite) makes every request: the per-minute limits are not under test here.
      WEBHOOK_RATE_LIMIT_PER_MINUTE: '100000',
      RATE_LIMIT_PER_MINUTE: '100000',
    };
    [api, worker, browser] = await Promise.all([startApi(db, env), startWorker(db, env), launchBrowser()]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await worker?.close();
    await api?.close();
    await Promise.all([alpaca?.stop(), binance?.server.stop(), coinbase?.stop(), oanda?.stop()]);
    await db?.drop();
  });

  it('loads the built console under its CSP without a violation or a page error, and reaches the api', async () => {
    const w = await watchedPage(browser, api.url);
    try {
      const res = await w.page.goto('/');
      expect(res?.headers()['content-security-policy']).toMatch(/default-src 'self'/);
      await w.page.getByTestId('health').getByText('API ok').waitFor();
      expect(await w.page.getByRole('heading', { level: 1 }).textContent()).toBe('Switchyard Console');
      // A client-side route is served the same app.
      await w.page.goto('/activity');
      await w.page.getByTestId('health').getByText('API ok').waitFor();
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  it('signs in through the form into an httpOnly SameSite=Strict cookie, refuses a write without CSRF proof, and signs out server-side', async () => {
    const ws = await createWorkspace(api, 'browser', password);
    const w = await watchedPage(browser, api.url);
    try {
      await w.page.goto('/');
      await screenshot(w.page, 'sign-in');
      expect(await accessibilityProblems(w.page)).toEqual([]);
      await w.page.getByLabel('Email').fill(ws.ownerEmail);
      await w.page.getByLabel('Password').fill(password);
      await w.page.getByRole('button', { name: 'Sign in' }).click();
      await w.page.getByTestId('who').getByText(`Signed in as owner in workspace ${ws.id}`).waitFor();

      const [cookie] = await w.context.cookies();
      expect(cookie).toMatchObject({ name: 'switchyard_session', httpOnly: true, sameSite: 'Strict', secure: false, path: '/' });
      expect(await w.page.evaluate('document.cookie')).toBe('');
      const stored = await w.page.evaluate('JSON.stringify([localStorage, sessionStorage])');
      expect(stored).not.toContain(password);

      // The cookie rides along, but without the custom header the write is refused.
      const forged = await w.page
        .evaluate(`fetch('/v1/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', role: 'viewer' }) })
        .then(async (r) => ({ status: r.status, code: (await r.json()).code }))`);
      expect(forged).toEqual({ status: 403, code: 'csrf_failed' });

      await w.page.getByRole('button', { name: 'Sign out' }).click();
      await w.page.getByRole('heading', { name: 'Sign in' }).waitFor();
      // Revoked on the server: replaying the old cookie does not authenticate.
      const replay = await fetch(`${api.url}/v1/auth/session`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
      expect(replay.status).toBe(401);
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  it('sources: an owner creates a token source, sees its URL once with a ready TradingView message; a viewer sees no mutating control', async () => {
    const ws = await createWorkspace(api, 'sources', password);
    const viewerEmail = await addMember(ws, 'viewer');
    const owner = await signedIn(ws.ownerEmail, password, '/sources');
    try {
      // A bad allowlist entry is explained beside its field.
      await owner.page.getByLabel('Name').fill('Mistyped');
      await owner.page.getByLabel(/Also allow these addresses/).fill('10.0.0.0/99');
      await owner.page.getByRole('button', { name: 'Create source' }).click();
      await owner.page
        .getByLabel(/Also allow these addresses/)
        .and(owner.page.locator('[aria-invalid="true"]'))
        .waitFor();
      await owner.page.getByLabel(/Also allow these addresses/).fill('');
      await owner.page.getByLabel('Name').fill('TradingView strategy');
      await owner.page.getByRole('button', { name: 'Create source' }).click();
      const url = await owner.page.getByTestId('webhook-url').textContent();
      expect(url).toMatch(new RegExp(`/hooks/[0-9a-f-]{36}/[^/{}]{20,}$`));
      expect(await owner.page.getByLabel('TradingView alert message').inputValue()).toContain('{{strategy.order.action}}');
      await screenshot(owner.page, 'source-created');
      expect(await accessibilityProblems(owner.page)).toEqual([]);
      await owner.page.getByRole('button', { name: 'Done' }).click();
      // After dismissal the list shows the placeholder, never the token again.
      await owner.page.getByRole('cell', { name: /\{token\}/ }).waitFor();
      expect(await owner.page.content()).not.toContain(url!.split('/').pop());
      expect(await owner.page.getByRole('cell', { name: 'any address' }).count()).toBe(0);
      expect(await owner.page.getByRole('button', { name: 'Rotate secret of TradingView strategy' }).count()).toBe(1);
      owner.assertClean();
    } finally {
      await owner.close();
    }
    const viewer = await signedIn(viewerEmail, password, '/sources');
    try {
      await viewer.page.getByRole('cell', { name: 'TradingView strategy' }).waitFor();
      await screenshot(viewer.page, 'viewer');
      expect(await accessibilityProblems(viewer.page)).toEqual([]);
      expect(await viewer.page.getByRole('button').allTextContents()).toEqual(['Sign out']);
      expect(await viewer.page.locator('form').count()).toBe(0);
      viewer.assertClean();
    } finally {
      await viewer.close();
    }
  });

  it('connections: a credential canary typed into the form (and a second one at rotation) never reappears in a page, response, console message, storage or cookie; revoke is one click and one confirm and reports what stopped', async () => {
    const ws = await createWorkspace(api, 'canary', password);
    const canary = `canary-${randomBytes(16).toString('hex')}`;
    const rotated = `canary-${randomBytes(16).toString('hex')}`;
    const keyId = `PK${randomBytes(8).toString('hex').toUpperCase()}`;
    const keyId2 = `PK${randomBytes(8).toString('hex').toUpperCase()}`;
    alpaca.addKey({ apiKey: keyId, apiSecret: canary });
    alpaca.addKey({ apiKey: keyId2, apiSecret: rotated });
    const w = await signedIn(ws.ownerEmail, password, '/connections');
    const seen = recordEverything(w);
    try {
      await w.page.getByLabel('Broker to connect').selectOption('alpaca');
      const form = w.page.getByRole('form', { name: 'Connect alpaca' });
      await form.getByLabel('Label').fill('Alpaca paper');
      await form.getByLabel('API key ID').fill(keyId);
      await form.getByLabel('API secret key').fill(canary);
      await form.getByRole('button', { name: 'Connect alpaca' }).click();
      await w.page.getByRole('cell', { name: 'Alpaca paper', exact: true }).waitFor();
      expect(await form.getByLabel('API secret key').inputValue()).toBe('');
      expect(await w.page.getByRole('row', { name: /Alpaca paper/ }).textContent()).toMatch(/Can place orders/);
      await screenshot(w.page, 'connections');
      expect(await accessibilityProblems(w.page)).toEqual([]);

      await w.page.getByRole('button', { name: 'Rotate credentials of Alpaca paper' }).click();
      const rotation = w.page.getByRole('form', { name: 'Rotate credentials of Alpaca paper' });
      await rotation.getByLabel('API key ID').fill(keyId2);
      await rotation.getByLabel('API secret key').fill(rotated);
      await rotation.getByRole('button', { name: 'Rotate credentials' }).click();
      await w.page.getByText('Alpaca paper now uses credential version 2; the previous one was destroyed.').waitFor();
      await w.page
        .getByRole('row', { name: /Alpaca paper/ })
        .getByText(/\(version 2\)/)
        .waitFor();

      // A route to it, so the revoke report has something to stop (made by the page's own session, CSRF header included).
      const routed = await w.page.evaluate(`(async () => {
        const post = (path, body) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-switchyard-csrf': '1' }, body: JSON.stringify(body) }).then((r) => r.json());
        const source = await post('/v1/sources', { name: 'S', auth: 'hmac' });
        const [connection] = (await fetch('/v1/connections').then((r) => r.json())).items;
        return (await post('/v1/routes', { sourceId: source.id, connectionId: connection.id, sizing: { mode: 'fixed', value: '1' } })).enabled;
      })()`);
      expect(routed).toBe(true);
      await w.page.reload();
      w.page.once('dialog', (d) => void d.accept());
      await w.page.getByRole('button', { name: 'Revoke Alpaca paper' }).click();
      await w.page
        .getByRole('row', { name: /Alpaca paper/ })
        .getByRole('cell', { name: 'revoked' })
        .waitFor();
      expect(await w.page.getByTestId('revoke-report').textContent()).toMatch(
        /^Revoked Alpaca paper at .*\. Routing to it stopped at once: its route sends no more orders\. Its stored credentials \(every version\) were destroyed\. Broker side: the broker's API cannot revoke keys/,
      );
      await screenshot(w.page, 'connection-revoked');

      await w.page.reload();
      await w.page.getByRole('cell', { name: 'Alpaca paper', exact: true }).waitFor();
      await seen.assertNoLeak([canary, rotated]);
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  // One real private key for the Coinbase form: the stub verifies the JWTs the adapter signs with it.
  const coinbaseKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const BROKER_FORMS = [
    {
      broker: 'binance',
      words: /Can place orders — withdrawals and transfers disabled\. .*Binance Spot Testnet key: test funds only/,
      fields: (secret: string) => ({ 'API key': `bnk${randomBytes(8).toString('hex')}`, 'Secret key': secret }),
      secret: () => `canary-${randomBytes(16).toString('hex')}`,
      register: (f: Record<string, string>) => binance.addKey({ apiKey: f['API key'], apiSecret: f['Secret key'] }),
    },
    {
      broker: 'coinbase',
      fields: (secret: string) => ({ 'API key name': `organizations/${randomUUID()}/apiKeys/${randomUUID()}`, 'Private key (PEM)': secret }),
      secret: () => coinbaseKey.privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
      register: (f: Record<string, string>) =>
        coinbase.addKey({ apiKeyName: f['API key name'], publicKeyPem: coinbaseKey.publicKey.export({ type: 'spki', format: 'pem' }).toString() }),
      words: /Can place orders/,
    },
    {
      broker: 'oanda',
      fields: (secret: string) => ({ 'Account ID': `101-004-${randomInt(1_000_000, 9_999_999)}-001`, 'Personal access token': secret }),
      secret: () => `canary${randomBytes(16).toString('hex')}-${randomBytes(16).toString('hex')}`,
      register: (f: Record<string, string>) => oanda.addAccount({ accountId: f['Account ID'], token: f['Personal access token'] }),
      words: /This broker has a single permission tier/,
    },
  ];

  it.each(BROKER_FORMS)(
    'connections: the $broker form connects an account (paper where the broker has one) and its secret never reappears anywhere in the browser',
    async ({ broker, fields, secret, register, words }) => {
      const ws = await createWorkspace(api, `canary-${broker}`, password);
      const canary = secret();
      const values = fields(canary);
      register(values);
      const w = await signedIn(ws.ownerEmail, password, '/connections');
      const seen = recordEverything(w);
      try {
        await w.page.getByLabel('Broker to connect').selectOption(broker);
        const form = w.page.getByRole('form', { name: `Connect ${broker}` });
        await form.getByLabel('Label').fill(`${broker} desk`);
        for (const [label, value] of Object.entries(values)) await form.getByLabel(label).fill(value);
        await form.getByRole('button', { name: `Connect ${broker}` }).click();
        const row = w.page.getByRole('row', { name: new RegExp(`${broker} desk`) });
        await Promise.race([
          row.waitFor(),
          form
            .getByRole('alert')
            .waitFor()
            .then(async () => Promise.reject(new Error(`${broker}: ${await form.getByRole('alert').textContent()}`))),
        ]);
        expect(await row.textContent()).toMatch(words);
        for (const [label, value] of Object.entries(values)) if (value === canary) expect(await form.getByLabel(label).inputValue()).toBe('');
        await screenshot(w.page, `connections-${broker}`);
        expect(await accessibilityProblems(w.page)).toEqual([]);
        await w.page.reload();
        await row.waitFor();
        // A PEM is checked by its key material, whatever line breaks it was shown with.
        await seen.assertNoLeak([canary.includes('BEGIN') ? canary.split('\n')[2] : canary]);
        w.assertClean();
      } finally {
        await w.close();
      }
    },
  );

  it('connections: a key that can withdraw is refused with the reason in words, and a malformed credential is explained beside its field', async () => {
    const ws = await createWorkspace(api, 'withdraw', password);
    const key = { apiKey: `bnk${randomBytes(8).toString('hex')}`, apiSecret: `canary-${randomBytes(16).toString('hex')}` };
    binance.addKey({ ...key, enableWithdrawals: true });
    const w = await signedIn(ws.ownerEmail, password, '/connections');
    try {
      await w.page.getByLabel('Broker to connect').selectOption('binance');
      const form = w.page.getByRole('form', { name: 'Connect binance' });
      await form.getByLabel('Label').fill('Risky key');
      await form.getByLabel('Account').selectOption('live'); // the exchange's key restrictions are read on live keys
      await form.getByLabel('API key').fill(key.apiKey);
      await form.getByLabel('Secret key').fill(key.apiSecret);
      await form.getByRole('button', { name: 'Connect binance' }).click();
      expect(await form.getByRole('alert').textContent()).toMatch(/withdraw/i);
      expect(await w.page.getByRole('row', { name: /Risky key/ }).count()).toBe(0);

      await w.page.getByLabel('Broker to connect').selectOption('oanda');
      const oandaForm = w.page.getByRole('form', { name: 'Connect oanda' });
      await oandaForm.getByLabel('Label').fill('Typo');
      await oandaForm.getByLabel('Account ID').fill('not-an-account');
      await oandaForm.getByLabel('Personal access token').fill(`tok${randomBytes(16).toString('hex')}`);
      expect(await oandaForm.getByRole('alert').count()).toBe(0);
      await oandaForm.getByRole('button', { name: 'Connect oanda' }).click();
      await oandaForm.locator('.field-error').waitFor();
      const described = await oandaForm
        .getByLabel('Account ID')
        .getAttribute('aria-describedby')
        .then(async (id) => (id ? w.page.locator(`[id="${id}"]`).textContent() : null));
      expect(described).toMatch(/101-004-1234567-001/);
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  it('risk: the kill switch engaged and released with a reason; live trading is refused to an admin and allowed to the owner after the typed confirmation', async () => {
    const ws = await createWorkspace(api, 'risk', password);
    const adminEmail = await addMember(ws, 'admin');
    const admin = await signedIn(adminEmail, password, '/risk');
    try {
      await admin.page.getByTestId('live-state').getByText('Live trading: disabled').waitFor();
      expect(await admin.page.getByRole('button', { name: /live trading/i }).count()).toBe(0);
      // Even with the console's own CSRF proof, the api refuses the admin.
      const forced = await admin.page
        .evaluate(`fetch('/v1/workspace/live-trading', { method: 'PUT', headers: { 'content-type': 'application/json', 'x-switchyard-csrf': '1' },
        body: JSON.stringify({ enabled: true, reason: 'admin tries' }) }).then((r) => r.status)`);
      expect(forced).toBe(403);
      admin.assertClean();
    } finally {
      await admin.close();
    }
    const owner = await signedIn(ws.ownerEmail, password, '/risk');
    try {
      await owner.page.getByLabel('Why engage it').fill('desk closed for the holiday');
      await owner.page.getByRole('button', { name: 'Engage kill switch' }).click();
      await owner.page.getByTestId('kill-state').getByText('Kill switch: engaged (desk closed for the holiday)').waitFor();
      await owner.page.getByLabel('Why release it').fill('desk open again');
      await owner.page.getByRole('button', { name: 'Release kill switch' }).click();
      await owner.page.getByTestId('kill-state').getByText('Kill switch: off').waitFor();
      const enable = owner.page.getByRole('button', { name: 'Enable live trading' });
      expect(await enable.isDisabled()).toBe(true);
      await owner.page.getByLabel(/to confirm/).fill('enable live trading');
      await enable.click();
      await owner.page.getByTestId('live-state').getByText('Live trading: enabled').waitFor();
      await screenshot(owner.page, 'risk-live-enabled');
      expect(
        (await http(api.url, 'GET', '/v1/workspace', { headers: { cookie: (await owner.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ') } }))
          .body.liveTradingEnabled,
      ).toBe(true);
      owner.assertClean();
    } finally {
      await owner.close();
    }
  });

  it('navigation: every screen has its own address, reachable by keyboard, with back and forward; an unknown address says so; a phone width does not scroll sideways', async () => {
    const ws = await createWorkspace(api, 'nav', password);
    const w = await signedIn(ws.ownerEmail, password, '/');
    try {
      const nav = w.page.getByRole('navigation', { name: 'Console' });
      expect(await nav.getByRole('link').allTextContents()).toEqual(SCREENS.map((s) => s.link));
      expect(await nav.getByRole('link', { name: 'Start' }).getAttribute('aria-current')).toBe('page');
      for (const s of SCREENS.slice(1)) {
        await nav.getByRole('link', { name: s.link }).focus();
        await w.page.keyboard.press('Enter');
        await w.page.getByRole('heading', { level: 2, name: s.heading }).waitFor();
        expect(new URL(w.page.url()).pathname).toBe(s.path);
        expect(await nav.getByRole('link', { name: s.link }).getAttribute('aria-current')).toBe('page');
        // Focus moved to the screen, not left on the link.
        expect(await w.page.evaluate('document.activeElement.id')).toBe('content');
      }
      await w.page.goBack();
      await w.page.getByRole('heading', { level: 2, name: SCREENS.at(-2)!.heading }).waitFor();
      await w.page.goForward();
      await w.page.getByRole('heading', { level: 2, name: SCREENS.at(-1)!.heading }).waitFor();
      await w.page.goto('/no-such-screen');
      await w.page.getByRole('heading', { level: 2, name: 'Not found' }).waitFor();
      w.assertClean();
    } finally {
      await w.close();
    }
    const phone = await signedIn(ws.ownerEmail, password, '/sources', { width: 375, height: 740 });
    try {
      for (const s of SCREENS) {
        await phone.page.goto(s.path);
        await phone.page.getByRole('heading', { level: 2, name: s.heading }).waitFor();
        expect({ path: s.path, sideways: await phone.page.evaluate('document.documentElement.scrollWidth > window.innerWidth') }).toEqual({
          path: s.path,
          sideways: false,
        });
      }
      await screenshot(phone.page, 'phone');
      expect(await accessibilityProblems(phone.page)).toEqual([]);
      phone.assertClean();
    } finally {
      await phone.close();
    }
  });

  it('first run: an empty workspace reaches a paper fill through the checklist (paper preselected, source shown once, route, a real test signal)', async () => {
    const ws = await createWorkspace(api, 'first-run', password);
    const w = await signedIn(ws.ownerEmail, password, '/');
    try {
      const step = (title: string) => w.page.getByRole('heading', { level: 3, name: new RegExp(`^${title}`) });
      for (const title of ['Connect a broker', 'Create a source', 'Add a route', 'Send a test signal', 'See the paper fill'])
        expect(await step(title).textContent()).toMatch(/\(to do\)$/);
      await screenshot(w.page, 'first-run-empty');
      expect(await accessibilityProblems(w.page)).toEqual([]);

      expect(await w.page.getByLabel(/Paper broker/).isChecked()).toBe(true);
      await w.page.getByRole('button', { name: 'Connect the paper broker' }).click();
      await step('Connect a broker').getByText('(done)').waitFor();

      await w.page.getByRole('button', { name: 'Create source' }).click();
      const url = await w.page.getByTestId('webhook-url').textContent();
      expect(url).toMatch(/\/hooks\/[0-9a-f-]{36}\/[A-Za-z0-9_-]{20,}$/);
      expect(await w.page.getByRole('button', { name: 'Copy webhook URL' }).count()).toBe(1);
      expect(await w.page.getByLabel('TradingView alert message').inputValue()).toContain('{{strategy.order.contracts}}');
      await w.page.getByRole('button', { name: 'Done' }).click();
      expect(await w.page.content()).not.toContain(url!.split('/').pop());

      await w.page.getByRole('button', { name: 'Add route' }).click();
      await step('Add a route').getByText('(done)').waitFor();

      await w.page.getByRole('button', { name: 'Send test signal' }).click();
      await w.page.getByTestId('test-outcome').getByText('buy 1 AAPL: filled 1 at 100 on paper.').waitFor({ timeout: 15_000 });
      await step('See the paper fill').getByText('(done)').waitFor();
      await screenshot(w.page, 'first-run-filled');
      expect(await accessibilityProblems(w.page)).toEqual([]);

      // The fill is the worker's, at the paper broker, for the order the console's signal made.
      const orders = await http(api.url, 'GET', '/v1/orders?status=filled', { headers: { cookie: await cookieOf(w) } });
      expect(orders.body.items).toEqual([expect.objectContaining({ broker: 'paper', symbol: 'AAPL', side: 'buy', filledQuantity: '1', averagePrice: '100' })]);
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  it('routes: source → connection with sizing, symbol map and limits; a bad value is explained beside its field; edit; disable and enable; a viewer only reads', async () => {
    const ws = await createWorkspace(api, 'routes', password);
    const viewerEmail = await addMember(ws, 'viewer');
    const source = await http(api.url, 'POST', '/v1/sources', { token: ws.token, body: { name: 'Strategy A', auth: 'hmac' } });
    await http(api.url, 'POST', '/v1/connections', { token: ws.token, body: { broker: 'paper', label: 'Paper desk', environment: 'paper', credentials: {} } });
    const w = await signedIn(ws.ownerEmail, password, '/routes');
    try {
      const form = w.page.getByRole('form', { name: 'New route' });
      await form.getByLabel('Sizing mode').selectOption('notional');
      await form.getByLabel('Sizing value').fill('-5');
      await form.getByRole('button', { name: 'Add route' }).click();
      await form.getByRole('alert').waitFor();
      const beside = await form.getByLabel('Sizing value').getAttribute('aria-describedby');
      expect(beside).toBeTruthy();
      expect(await w.page.locator(`[id="${beside}"]`).textContent()).toMatch(/\w/);

      await form.getByLabel('Sizing value').fill('2500');
      await form.getByLabel(/Symbol map/).fill('NASDAQ:AAPL=AAPL');
      await form.getByLabel('Max quantity per order').fill('10');
      await form.getByLabel('Max orders per minute').fill('5');
      await form.getByRole('button', { name: 'Add route' }).click();
      const row = w.page.getByRole('row', { name: /Strategy A/ });
      await row.getByRole('cell', { name: 'enabled', exact: true }).waitFor();
      expect(await row.textContent()).toMatch(/Paper desk.*Notional.*2500.*NASDAQ:AAPL → AAPL.*at most 10 per order, 5 orders a minute/);
      await screenshot(w.page, 'routes');
      expect(await accessibilityProblems(w.page)).toEqual([]);

      await row.getByRole('button', { name: /^Edit route/ }).click();
      const edit = w.page.getByRole('form', { name: 'Edit route' });
      expect(await edit.getByLabel('Sizing value').inputValue()).toBe('2500');
      expect(await edit.getByLabel(/Symbol map/).inputValue()).toBe('NASDAQ:AAPL=AAPL');
      await edit.getByLabel('Sizing value').fill('3000');
      await edit.getByLabel('Max quantity per order').fill('20');
      await edit.getByRole('button', { name: 'Save route' }).click();
      await w.page.getByRole('form', { name: 'New route' }).waitFor();
      await waitUntil(async () => /Notional.*3000.*at most 20 per order, 5 orders a minute/.test((await row.textContent()) ?? ''));

      await row.getByRole('button', { name: /^Disable route/ }).click();
      await row.getByRole('cell', { name: 'disabled', exact: true }).waitFor();
      const routes = await http(api.url, 'GET', '/v1/routes', { headers: { cookie: await cookieOf(w) } });
      expect(routes.body.items).toEqual([expect.objectContaining({ sourceId: source.body.id, enabled: false, sizing: { mode: 'notional', value: '3000' } })]);
      await row.getByRole('button', { name: /^Enable route/ }).click();
      await row.getByRole('cell', { name: 'enabled', exact: true }).waitFor();
      w.assertClean();
    } finally {
      await w.close();
    }
    const viewer = await signedIn(viewerEmail, password, '/routes');
    try {
      await viewer.page.getByRole('row', { name: /Strategy A/ }).waitFor();
      expect(await viewer.page.getByRole('button').allTextContents()).toEqual(['Sign out']);
      expect(await viewer.page.locator('form').count()).toBe(0);
      // No mutating control on any screen a viewer can open (Activity's paging and filters only read), and no admin-only screen in the nav.
      const nav = viewer.page.getByRole('navigation', { name: 'Console' });
      expect(await nav.getByRole('link').allTextContents()).toEqual(SCREENS.filter((s) => !['Audit', 'Alerts'].includes(s.link)).map((s) => s.link));
      for (const path of ['/', '/connections', '/sources', '/activity', '/positions', '/pnl', '/risk', '/webhooks', '/members']) {
        await viewer.page.goto(path);
        await viewer.page.getByRole('heading', { level: 2 }).first().waitFor();
        await viewer.page.getByTestId('health').getByText('API ok').waitFor();
        expect({ path, buttons: await viewer.page.getByRole('button').allTextContents(), forms: await viewer.page.locator('form').count() }).toEqual({
          path,
          ...(path === '/activity' ? { buttons: ['Sign out', 'Newer signals', 'Older signals'], forms: 1 } : { buttons: ['Sign out'], forms: 0 }),
        });
      }
      viewer.assertClean();
    } finally {
      await viewer.close();
    }
  });

  it('activity: signals a page at a time, the newest page updating by itself, filters by source, connection and status, and a timeline with reasons in words', async () => {
    const ws = await createWorkspace(api, 'activity', password);
    const token = { token: ws.token };
    const connection = await http(api.url, 'POST', '/v1/connections', {
      ...token,
      body: { broker: 'paper', label: 'Paper desk', environment: 'paper', credentials: {} },
    });
    const [main, other] = await Promise.all(
      ['Main strategy', 'Other strategy'].map((name) => http(api.url, 'POST', '/v1/sources', { ...token, body: { name, auth: 'hmac' } })),
    );
    await http(api.url, 'POST', '/v1/routes', {
      ...token,
      body: { sourceId: main.body.id, connectionId: connection.body.id, sizing: { mode: 'fixed', value: '1' } },
    });
    const send = (sourceId: string, ticker: string) =>
      http(api.url, 'POST', `/v1/sources/${sourceId}/test-signal`, { ...token, body: { ticker, action: 'buy', price: '10' } });
    for (let i = 0; i < 27; i++) expect((await send(main.body.id, `T${i}`)).status).toBe(202);
    await send(other.body.id, 'OTHER');
    await http(api.url, 'PUT', '/v1/workspace/kill-switch', { ...token, body: { engaged: true, reason: 'desk closed' } });
    const blocked = await send(main.body.id, 'HALTED');
    await waitUntil(async () => (await http(api.url, 'GET', `/v1/signals/${blocked.body.signalId}`, token)).body.status === 'blocked');

    const w = await signedIn(ws.ownerEmail, password, '/activity');
    try {
      const rows = w.page.getByRole('region', { name: 'Signals' }).locator('tbody tr');
      await rows.first().waitFor();
      expect(await rows.count()).toBe(25);
      expect(await rows.first().textContent()).toMatch(/Main strategy.*buy HALTED @ 10.*blocked/);
      await screenshot(w.page, 'activity');
      expect(await accessibilityProblems(w.page)).toEqual([]);

      await w.page.getByRole('button', { name: 'Older signals' }).click();
      await w.page.getByText('Older signals (not updating).').waitFor();
      await waitUntil(async () => (await rows.count()) === 4);
      expect(await w.page.getByRole('button', { name: 'Older signals' }).isDisabled()).toBe(true);
      await w.page.getByRole('button', { name: 'Newer signals' }).click();
      await waitUntil(async () => (await rows.count()) === 25);

      // A new signal shows on the newest page without a reload.
      await w.page
        .evaluate(`fetch('/v1/workspace/kill-switch', { method: 'PUT', headers: { 'content-type': 'application/json', 'x-switchyard-csrf': '1' }, body: JSON.stringify({ engaged: false, reason: 'open again' }) })
        .then(() => fetch('/v1/sources/${other.body.id}/test-signal', { method: 'POST', headers: { 'content-type': 'application/json', 'x-switchyard-csrf': '1' }, body: JSON.stringify({ ticker: 'LIVE', action: 'sell', price: '5' }) }))`);
      await w.page.getByRole('cell', { name: 'sell LIVE @ 5' }).waitFor({ timeout: 10_000 });

      await w.page.getByLabel('Source').selectOption({ label: 'Other strategy' });
      await waitUntil(async () => (await rows.count()) === 2);
      // Only Main strategy routes to Paper desk.
      await w.page.getByLabel('Source').selectOption({ label: 'all sources' });
      await w.page.getByLabel('Connection').selectOption({ label: 'Paper desk (paper)' });
      await waitUntil(async () => (await rows.count()) === 25 && !(await rows.allTextContents()).some((t) => t.includes('Other strategy')));
      await w.page.getByLabel('Connection').selectOption({ label: 'all connections' });
      await w.page.getByLabel('Source').selectOption({ label: 'Other strategy' });
      // Other strategy has no route: both its signals were blocked for that.
      await w.page.getByLabel('Status').selectOption('blocked');
      await waitUntil(async () => (await rows.count()) === 2);
      await w.page.getByLabel('Source').selectOption({ label: 'Main strategy' });
      await waitUntil(async () => (await rows.count()) === 1);
      await rows
        .first()
        .getByRole('button', { name: /Show timeline/ })
        .click();
      const timeline = w.page.getByTestId('timeline');
      await timeline.getByText(/received and stored/).waitFor();
      expect(await timeline.textContent()).toMatch(/planned buy 1 HALTED for Paper desk\. The risk gate blocked it\. Reason: .*kill switch/i);
      await screenshot(w.page, 'activity-timeline');
      expect(await accessibilityProblems(w.page)).toEqual([]);
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  /** The signed-in page's session as a Cookie header, to check through the api what the screen did. */
  async function cookieOf(w: { context: { cookies(): Promise<Array<{ name: string; value: string }>> } }): Promise<string> {
    return (await w.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  }

  it('audit: the timeline filtered by action, actor, resource and time, a CSV export of the filtered events, and verify chain (ok, then the first broken event)', async () => {
    const ws = await createWorkspace(api, 'audit', password);
    const sources = [];
    for (const name of ['Alpha', 'Beta']) sources.push((await http(api.url, 'POST', '/v1/sources', { token: ws.token, body: { name, auth: 'hmac' } })).body);
    const w = await signedIn(ws.ownerEmail, password, '/audit');
    try {
      const rows = w.page.getByRole('region', { name: 'Audit events, newest first' }).locator('tbody tr');
      await rows.first().waitFor();
      expect(await rows.last().textContent()).toMatch(/^1.*platform.*workspace\.create/);
      await screenshot(w.page, 'audit');
      expect(await accessibilityProblems(w.page)).toEqual([]);

      const form = w.page.getByRole('form', { name: 'Filter audit events' });
      await form.getByLabel('Action').fill('source.create');
      await form.getByLabel('Actor type').selectOption('token');
      await form.getByRole('button', { name: 'Apply filters' }).click();
      await waitUntil(async () => (await rows.count()) === 2);
      await form.getByLabel('Resource id').fill(sources[1].id);
      await form.getByRole('button', { name: 'Apply filters' }).click();
      await waitUntil(async () => (await rows.count()) === 1);
      expect(await rows.first().textContent()).toContain(`source ${sources[1].id}`);
      await form.getByLabel('Resource id').fill('');
      await form.getByLabel('Before').fill('2001-01-01T00:00');
      await form.getByRole('button', { name: 'Apply filters' }).click();
      await w.page.getByText('No event matches.').waitFor();
      await form.getByLabel('Before').fill('');
      await form.getByRole('button', { name: 'Apply filters' }).click();
      await waitUntil(async () => (await rows.count()) === 2);

      await w.page.getByRole('button', { name: 'Export CSV' }).click();
      const [download] = await Promise.all([
        w.page.waitForEvent('download'),
        w.page.getByRole('link', { name: /^Download audit-.*\.csv \(2 events\)$/ }).click(),
      ]);
      const csv = readFileSync((await download.path())!, 'utf8').split('\r\n');
      expect(csv[0]).toBe('seq,occurredAt,actorType,actorId,ip,action,resourceType,resourceId,reason,requestId,metadata,hash');
      expect(csv.slice(1).map((line) => line.split(',')[5])).toEqual(['"source.create"', '"source.create"']);

      await w.page.getByRole('button', { name: 'Verify chain' }).click();
      await w.page
        .getByTestId('verify-result')
        .getByText(/^Chain intact: \d+ events/)
        .waitFor();
      w.assertClean();
    } finally {
      await w.close();
    }

    // Another workspace whose newest event is rewritten behind the api's back: verify names it.
    const other = await createWorkspace(api, 'audit-broken', password);
    await http(api.url, 'POST', '/v1/sources', { token: other.token, body: { name: 'Gamma', auth: 'hmac' } });
    const owner = await signedIn(other.ownerEmail, password, '/audit');
    try {
      await owner.page.getByRole('region', { name: 'Audit events, newest first' }).locator('tbody tr').first().waitFor();
      let rewritten = 0;
      const admin = new Client({ connectionString: db.adminUrl });
      await admin.connect();
      try {
        await admin.query('BEGIN');
        await admin.query('SET LOCAL session_replication_role = replica');
        const { rows } = await admin.query(
          `UPDATE audit_events SET reason = 'rewritten' WHERE workspace_id = $1 AND seq = (SELECT max(seq) FROM audit_events WHERE workspace_id = $1) RETURNING seq`,
          [other.id],
        );
        await admin.query('COMMIT');
        rewritten = Number(rows[0].seq);
      } finally {
        await admin.end();
      }
      await owner.page.getByRole('button', { name: 'Verify chain' }).click();
      await owner.page
        .getByTestId('verify-result')
        .getByText(new RegExp(`^Chain broken at event ${rewritten} \\(hash mismatch\\)`))
        .waitFor();
      await screenshot(owner.page, 'audit-broken');
      owner.assertClean();
    } finally {
      await owner.close();
    }
  });

  it('alerts: what was read, by whom, from where and when; a security alert is read-only ("handled by the platform operator"); the page link opens the workspace alert on-call acknowledges', async () => {
    const ws = await createWorkspace(api, 'alerts', password);
    const connection = await http(api.url, 'POST', '/v1/connections', {
      token: ws.token,
      body: { broker: 'paper', label: 'Paper desk', environment: 'paper', credentials: {} },
    });
    // The worker's own audit path: the refused read is audited and opens its (platform-owned) alert in the same transaction.
    await worker.app.get(TenantDb).runRaw(ws.id, (c) =>
      worker.app.get(AuditWriter).recordRaw(c, {
        action: 'credential.read.out_of_context',
        actor: { type: 'worker', id: 'worker-7' },
        resource: { type: 'connection', id: connection.body.id },
        ip: '203.0.113.7',
        reason: 'no active order job',
        metadata: { purpose: 'order' },
      }),
    );
    // What the order executor raises for a dead-lettered order: the workspace's own to handle.
    const dead = await worker.app.get(Pager).raise({
      workspaceId: ws.id,
      rule: 'order.dead_lettered',
      resourceType: 'connection',
      resourceId: connection.body.id,
      summary: 'Order sy-1 (paper AAPL) failed: broker unavailable',
      details: { broker: 'paper', symbol: 'AAPL' },
    });
    const w = await signedIn(ws.ownerEmail, password, '/alerts');
    try {
      const security = w.page.getByRole('row', { name: /Credential read outside a routing context/ });
      await security.waitFor();
      const cells = await security.getByRole('cell').allTextContents();
      expect(cells[0]).toBe('error');
      expect(cells[1]).toContain(`connection ${connection.body.id}`);
      expect(cells[1]).toMatch(/reason: no active order job/);
      expect(cells[1]).toMatch(/purpose: order/);
      expect(cells.slice(2, 4)).toEqual(['worker worker-7', '203.0.113.7']);
      expect(cells[4]).toMatch(/\d/);
      expect(cells[5]).toBe('open');
      expect(cells[6]).toBe('Handled by the platform operator.');
      expect(await security.getByRole('button').count()).toBe(0);
      await screenshot(w.page, 'alerts');
      expect(await accessibilityProblems(w.page)).toEqual([]);
      // The api refuses the tenant anyway.
      const alerts = await http(api.url, 'GET', '/v1/alerts?owner=platform', { headers: { cookie: await cookieOf(w) } });
      const forced = await w.page.evaluate(
        `fetch('/v1/alerts/${alerts.body.items[0].id}/ack', { method: 'POST', headers: { 'x-switchyard-csrf': '1' } }).then(async (r) => ({ status: r.status, code: (await r.json()).code }))`,
      );
      expect(forced).toEqual({ status: 403, code: 'alert_platform_owned' });

      // The pager's link for the workspace alert.
      await w.page.goto(`/alerts/${dead.id}`);
      const linked = w.page.locator('tr[aria-current="true"]');
      await linked.getByText('(the alert you were paged about)').waitFor();
      expect(await linked.textContent()).toContain('Order sy-1 (paper AAPL) failed');
      await linked.getByRole('button', { name: /^Acknowledge/ }).click();
      await linked.getByRole('cell', { name: /^acknowledged by user:/ }).waitFor();
      expect(await linked.getByRole('button', { name: /^Acknowledge/ }).count()).toBe(0);
      const audit = await http(api.url, 'GET', '/v1/audit?action=alert.ack', { headers: { cookie: await cookieOf(w) } });
      expect(audit.body.items).toHaveLength(1);
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  it('members and tokens: add a member who can then sign in, remove them; a token shown once that works until revoked; a bad value beside its field', async () => {
    const ws = await createWorkspace(api, 'members', password);
    const w = await signedIn(ws.ownerEmail, password, '/members');
    const email = `trader-${ws.id.slice(0, 8)}@example.com`;
    try {
      const add = w.page.getByRole('form', { name: 'Add a member' });
      await add.getByLabel('Email').fill(email);
      await add.getByLabel('Role').selectOption('trader');
      await add.getByLabel(/First password/).fill(password);
      await add.getByRole('button', { name: 'Add member' }).click();
      await w.page
        .getByRole('row', { name: new RegExp(email) })
        .getByRole('cell', { name: 'trader', exact: true })
        .waitFor();
      expect(await add.getByLabel(/First password/).inputValue()).toBe('');
      const signIn = await http(api.url, 'POST', '/v1/auth/login', { body: { email, password } });
      expect(signIn.status).toBe(200);

      const tokens = w.page.getByRole('form', { name: 'Create an API token' });
      await tokens.getByLabel('Token name').fill('ci-bot');
      await tokens.getByLabel('Token role').selectOption('viewer');
      await tokens.getByLabel(/Expires in days/).fill('99999');
      await tokens.getByRole('button', { name: 'Create token' }).click();
      await tokens.locator('.field-error').waitFor();
      expect(await tokens.getByLabel(/Expires in days/).getAttribute('aria-invalid')).toBe('true');
      await tokens.getByLabel(/Expires in days/).fill('30');
      await tokens.getByRole('button', { name: 'Create token' }).click();
      const value = (await w.page.getByTestId('new-token').textContent())!;
      expect((await http(api.url, 'GET', '/v1/workspace', { token: value })).status).toBe(200);
      await screenshot(w.page, 'members');
      expect(await accessibilityProblems(w.page)).toEqual([]);
      await w.page.getByRole('button', { name: 'Done' }).click();
      expect(await w.page.content()).not.toContain(value);

      w.page.on('dialog', (d) => void d.accept());
      await w.page.getByRole('button', { name: 'Revoke token ci-bot' }).click();
      await w.page
        .getByRole('row', { name: /ci-bot/ })
        .getByRole('cell', { name: /^revoked/ })
        .waitFor();
      expect((await http(api.url, 'GET', '/v1/workspace', { token: value })).status).toBe(401);

      await w.page.getByRole('button', { name: `Remove ${email}` }).click();
      await waitUntil(async () => (await w.page.getByRole('row', { name: new RegExp(email) }).count()) === 0);
      expect((await http(api.url, 'POST', '/v1/auth/login', { body: { email, password } })).status).toBe(401);
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  /** Every response body and console line of the page, to prove afterwards that a secret appears in none of them nor in storage or cookies. */
  function recordEverything(w: Awaited<ReturnType<typeof watchedPage>>) {
    const bodies: string[] = [];
    const consoleLines: string[] = [];
    w.page.on('console', (m) => consoleLines.push(m.text()));
    w.page.on(
      'response',
      (r) =>
        void r.text().then(
          (t) => bodies.push(t),
          () => undefined,
        ),
    );
    return {
      async assertNoLeak(secrets: string[]) {
        const storage = String(await w.page.evaluate('JSON.stringify([localStorage, sessionStorage])'));
        const cookies = JSON.stringify(await w.context.cookies());
        const places = { page: await w.page.content(), responses: bodies.join('\n'), console: consoleLines.join('\n'), storage, cookies };
        expect(bodies.length).toBeGreaterThan(3);
        for (const secret of secrets) {
          expect(secret.length).toBeGreaterThan(20);
          for (const [place, text] of Object.entries(places)) expect({ place, leaked: text.includes(secret) }).toEqual({ place, leaked: false });
        }
      },
    };
  }

  /** Polls `done` (never a blind sleep) until it holds, bounded. */
  async function waitUntil(done: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error('condition never held');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A member with the suite's password; the workspace's bootstrap token still works until its owner first signs in. */
  async function addMember(ws: { id: string; token: string }, role: 'viewer' | 'admin'): Promise<string> {
    const email = `${role}-${ws.id.slice(0, 8)}@example.com`;
    const res = await http(api.url, 'POST', '/v1/members', { token: ws.token, body: { email, password, role } });
    if (res.status !== 201) throw new Error(`member create failed: ${res.status} ${res.text}`);
    return email;
  }

  /** Signs in on the screen at `path` (the console shows the sign-in form wherever it is opened). */
  async function signedIn(email: string, password: string, path = '/', viewport?: { width: number; height: number }) {
    const w = await watchedPage(browser, api.url, viewport);
    await w.page.goto(path);
    await w.page.getByLabel('Email').fill(email);
    await w.page.getByLabel('Password').fill(password);
    await w.page.getByRole('button', { name: 'Sign in' }).click();
    await w.page.getByTestId('who').waitFor();
    return w;
  }

  it('axe-core reports a serious or critical finding when a screen has one', async () => {
    const w = await watchedPage(browser, api.url);
    try {
      await w.page.goto('/');
      await w.page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await w.page.evaluate(`document.querySelector('form').append(Object.assign(document.createElement('input'), { type: 'text' }))`);
      expect((await accessibilityProblems(w.page)).join()).toMatch(/^label \(critical/);
    } finally {
      await w.close();
    }
  });

  it('records an inline script the CSP blocks, and an uncaught page error, as faults', async () => {
    const w = await watchedPage(browser, api.url);
    try {
      await w.page.goto('/');
      // Strings, not functions: the page's DOM types are not in the test's compilation.
      await w.page.evaluate(`{
        const s = document.createElement('script');
        s.textContent = 'window.injected = true';
        document.body.append(s);
        setTimeout(() => { throw new Error('boom from the page'); });
      }`);
      // Both reports cross from the browser asynchronously: wait for them, bounded.
      for (let i = 0; i < 100 && !(w.faults.csp.length && w.faults.errors.length); i++) await w.page.waitForTimeout(20);
      expect(await w.page.evaluate('window.injected')).toBeUndefined();
      expect(w.faults.csp.join('\n')).toMatch(/script-src/);
      expect(w.faults.errors).toEqual(['boom from the page']);
      expect(() => w.assertClean()).toThrow(/page faults/);
    } finally {
      await w.close();
    }
  });
});
