import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import { canaryForms, scanDatabase, scanDirectory, scanRedis, scanTexts } from '../faults/support/leak-scan';
import { http } from '../support/api-app';
import { IbkrStub, newIbkrOAuthConsumer, startIbkrOAuthStub } from '../support/brokers/ibkr-stub';
import { REDIS_URL, RoutingWorld } from './routing-harness';

/**
 * IBKR in OAuth mode end to end (Redis queue): onboarding through the API (field errors and refusals as problem+json),
 * a signal to the api.ibkr.com stub, a lost order answer found again by cOID, and no credential or live session token
 * anywhere outside the sealed columns and the worker's memory.
 */
describe('routing to IBKR (OAuth mode)', () => {
  let world: RoutingWorld;
  let ibkr: IbkrStub;
  const texts: string[] = [];

  beforeAll(async () => {
    ibkr = await startIbkrOAuthStub();
    ibkr.addStock('AAPL', 265598, 190.5);
    world = await RoutingWorld.start('redis', {
      BROKER_IBKR_OAUTH_BASE_URL: `${ibkr.url}/v1/api`,
      BROKER_TIMEOUT_MS: '1000',
      ORDER_SYNC_INTERVAL_MS: '100',
      LOG_LEVEL: 'trace',
    });
  });

  afterAll(async () => {
    await world?.stop();
    await ibkr?.stop();
  });

  afterEach(() => ibkr.clearFaults());

  async function connect(token: string, credentials: Record<string, string>) {
    const res = await http(world.api.url, 'POST', '/v1/connections', {
      token,
      body: { broker: 'ibkr', label: 'ibkr-oauth', environment: 'paper', credentials },
    });
    texts.push(res.text);
    return res;
  }

  async function orderUntil(token: string, id: string, done: (o: any) => boolean, timeoutMs = 15_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await http(world.api.url, 'GET', `/v1/orders/${id}`, { token });
      expect(res.status).toBe(200);
      texts.push(res.text);
      if (done(res.body)) return res.body;
      if (Date.now() > deadline) throw new Error(`order ${id} never got there: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const tag = randomBytes(5).toString('hex');
  const accountId = `DU${randomInt(1_000_000, 9_999_999)}`;
  let credentials: Record<string, string>;

  it('refuses malformed OAuth credentials with the field named (422 validation_failed) and a refused signature as broker_credentials_invalid', async () => {
    credentials = newIbkrOAuthConsumer(ibkr, accountId, { consumerKey: `CANARYck${tag}`, accessToken: `CANARYat${tag}` });
    const ws = await world.workspace();
    const badPem = await connect(ws.token, { ...credentials, signaturePrivateKey: '-----BEGIN PRIVATE KEY-----\nCANARYpem\n-----END PRIVATE KEY-----' });
    expect(badPem.status).toBe(422);
    expect(badPem.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(badPem.body).toMatchObject({ code: 'validation_failed', errors: [{ path: 'credentials.signaturePrivateKey' }] });
    const { accessTokenSecret: _dropped, ...missing } = credentials;
    const noSecret = await connect(ws.token, missing);
    expect(noSecret.status).toBe(422);
    expect(noSecret.body).toMatchObject({ code: 'validation_failed', errors: [{ path: 'credentials.accessTokenSecret' }] });
    const noPrime = await connect(ws.token, { ...credentials, dhPrime: 'not-hex' });
    expect(noPrime.body).toMatchObject({ code: 'validation_failed', errors: [{ path: 'credentials.dhPrime' }] });

    const other = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const refused = await connect(ws.token, { ...credentials, signaturePrivateKey: other.privateKey });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ code: 'broker_credentials_invalid' });
    expect(refused.body.detail).toMatch(/refused the OAuth live session token request/);
    expect(ibkr.oauthRefusals).toContain('invalid signature');
  });

  it('a signal reaches IBKR with our cOID, a lost answer is found again by cOID (placed once), and its status follows to filled', async () => {
    const ws = await world.workspace();
    const res = await connect(ws.token, credentials);
    expect(res.status).toBe(201);
    expect(res.body.permissions).toMatchObject({ inspection: 'single_tier', canWithdraw: false, details: { mode: 'oauth' } });
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: res.body.id, sizing: { mode: 'fixed', value: '10' } });

    ibkr.injectFaults('acceptThenHang', 1, { method: 'POST', path: /\/orders$/ });
    const signalId = await world.send(source, { ticker: 'NASDAQ:AAPL', action: 'buy', orderType: 'limit', limitPrice: '189', price: '190' });
    const settled = await world.settled(ws.token, signalId, 30_000);
    texts.push(JSON.stringify(settled));
    expect(settled.status).toBe('routed');
    const [order] = settled.orders;
    const placed = ibkr.orders.filter((o) => o.cOID === order.clientOrderId);
    expect(placed).toHaveLength(1);
    expect(placed[0]).toMatchObject({ acct: accountId, conid: 265598, side: 'BUY', orderType: 'LMT', price: 189, quantity: 10 });

    // IBKR's nightly reset: the worker takes a new live session token and keeps following the order.
    ibkr.expireLiveSessionTokens();
    ibkr.fill(order.clientOrderId, 10, 188.75);
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled');
    expect(filled).toMatchObject({ filledQuantity: '10', averagePrice: '188.75' });
    expect(ibkr.oauthRefusals).toContain('live session token expired');
    for (const path of [`/v1/connections/${res.body.id}`, '/v1/connections', '/v1/orders?limit=50'])
      texts.push((await http(world.api.url, 'GET', path, { token: ws.token })).text);
  }, 60_000);

  it('no credential value or live session token in responses, logs, any database row, Redis or DATA_DIR', async () => {
    const tokens = ibkr.liveSessionTokens.map((t) => t.token);
    expect(tokens.length).toBeGreaterThan(1);
    const pemLines = [credentials.signaturePrivateKey, credentials.encryptionPrivateKey].flatMap((pem) => pem.split('\n').slice(1, 4));
    const forms = [...canaryForms(credentials.consumerKey, credentials.accessToken, credentials.accessTokenSecret, ...tokens), ...pemLines, 'CANARYpem'];
    const scans = [
      scanTexts('HTTP response bodies', texts, forms),
      scanTexts('log lines', [...world.api.logs.lines, ...world.worker.logs.lines], forms),
      await scanDatabase(world.db.adminUrl, forms),
      await scanRedis(REDIS_URL, forms),
      scanDirectory('files under DATA_DIR', world.env.DATA_DIR, forms),
    ];
    expect(scans.flatMap((s) => s.hits)).toEqual([]);
    expect(scans.every((s) => s.searched > 0)).toBe(true);
  });
});
