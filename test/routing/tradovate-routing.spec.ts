import { randomBytes } from 'node:crypto';
import { canaryForms, scanDatabase, scanDirectory, scanRedis, scanTexts } from '../faults/support/leak-scan';
import { http } from '../support/api-app';
import { quarterlyExpiries, startTradovateStub, TradovateStub } from '../support/brokers/tradovate-stub';
import { REDIS_URL, RoutingWorld } from './routing-harness';

/** Polls the order's view (never sleeping blindly) until `done` holds. */
async function orderIn(apiUrl: string, token: string, id: string, done: (o: any) => boolean, timeoutMs = 10_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await http(apiUrl, 'GET', `/v1/orders/${id}`, { token });
    expect(res.status).toBe(200);
    if (done(res.body)) return res.body;
    if (Date.now() > deadline) throw new Error(`order ${id} stuck: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A TradingView signal to a Tradovate connection: the continuous symbol reaches Tradovate as the front month. */
describe('routing to Tradovate (futures)', () => {
  let world: RoutingWorld;
  let tradovate: TradovateStub;
  let es: string[];

  beforeAll(async () => {
    tradovate = await startTradovateStub();
    // The first listed ES expiry is 3 days out, inside the default 8-day roll: ES1! is the second one.
    es = tradovate.addProduct('ES', quarterlyExpiries(3));
    tradovate.setPrice(es[1], 6012.5);
    world = await RoutingWorld.start('postgres', {
      BROKER_TRADOVATE_BASE_URL: `${tradovate.url}/v1`,
      BROKER_TRADOVATE_LIVE_BASE_URL: `${tradovate.url}/v1`,
      ORDER_SYNC_INTERVAL_MS: '100',
    });
  });

  afterAll(async () => {
    await world?.stop();
    await tradovate?.stop();
  });

  async function tradovateRoute() {
    const ws = await world.workspace();
    const credentials = {
      name: `trader${randomBytes(4).toString('hex')}`,
      password: `pw-${randomBytes(8).toString('hex')}`,
      appId: 'Switchyard',
      cid: '4242',
      sec: `sec-${randomBytes(12).toString('hex')}`,
    };
    const account = tradovate.addUser(credentials);
    const res = await http(world.api.url, 'POST', '/v1/connections', {
      token: ws.token,
      body: { broker: 'tradovate', label: 'futures', environment: 'paper', credentials },
    });
    expect(res.status).toBe(201);
    expect(res.body.permissions).toMatchObject({ inspection: 'single_tier', canWithdraw: false });
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: res.body.id, sizing: { mode: 'fixed', value: '2' } });
    return { ws, source, account };
  }

  it('CME_MINI:ES1! reaches Tradovate as the front-month contract and the order ends filled with its fill', async () => {
    const { ws, source, account } = await tradovateRoute();
    const settled = await world.settled(ws.token, await world.send(source, { ticker: 'CME_MINI:ES1!', action: 'buy', price: '6010' }));
    expect(settled.status).toBe('routed');
    const [order] = settled.orders;
    const placed = tradovate.orderByClientId(order.clientOrderId)!;
    expect(placed.body).toMatchObject({
      accountId: account.id,
      accountSpec: account.name,
      symbol: es[1],
      action: 'Buy',
      orderQty: 2,
      orderType: 'Market',
      isAutomated: true,
    });
    const filled = await orderIn(world.api.url, ws.token, order.id, (o) => o.status === 'filled');
    expect(filled).toMatchObject({ filledQuantity: '2', averagePrice: '6012.5' });
    expect(filled.fills).toEqual([expect.objectContaining({ quantity: '2', price: '6012.5' })]);
  });

  it('an order whose answer was lost is found again by its clOrdId on the retry, placed once, and ends filled', async () => {
    const { ws, source } = await tradovateRoute();
    const before = tradovate.orders.length;
    tradovate.injectFaults('acceptThenHang', 1, { method: 'POST', path: /placeorder$/ });
    const settled = await world.settled(ws.token, await world.send(source, { ticker: 'ES1!', action: 'buy', price: '6010' }));
    const [order] = settled.orders;
    expect(tradovate.orders.length).toBe(before + 1);
    expect(tradovate.orderByClientId(order.clientOrderId)!.body).toMatchObject({ symbol: es[1], clOrdId: order.clientOrderId });
    expect(tradovate.requests.filter((r) => r.path === '/v1/order/placeorder' && JSON.parse(r.body).clOrdId === order.clientOrderId)).toHaveLength(1);
    const filled = await orderIn(world.api.url, ws.token, order.id, (o) => o.status === 'filled');
    expect(filled).toMatchObject({ filledQuantity: '2', brokerOrderId: String(tradovate.orderByClientId(order.clientOrderId)!.id) });
  });

  it('a limit order rests, is followed by polling, and fills when the market reaches it', async () => {
    const { ws, source } = await tradovateRoute();
    const settled = await world.settled(
      ws.token,
      await world.send(source, { ticker: 'ES1!', action: 'sell', orderType: 'limit', limitPrice: '6100', price: '6010' }),
    );
    const [order] = settled.orders;
    expect(order.status).toBe('accepted');
    expect(tradovate.orderByClientId(order.clientOrderId)!.body).toMatchObject({
      symbol: es[1],
      action: 'Sell',
      orderType: 'Limit',
      price: 6100,
      timeInForce: 'GTC',
    });
    tradovate.fillWorking(order.clientOrderId, 6100);
    const filled = await orderIn(world.api.url, ws.token, order.id, (o) => o.status === 'filled');
    expect(filled).toMatchObject({ filledQuantity: '2', averagePrice: '6100' });
  });
});

/** A canary in each Tradovate credential field, and every token the stub issued, never leave the sealed columns and the worker's memory. */
describe('Tradovate credentials and tokens never leak (Redis queue)', () => {
  let world: RoutingWorld;
  let tradovate: TradovateStub;

  beforeAll(async () => {
    tradovate = await startTradovateStub();
    tradovate.addProduct('ES', quarterlyExpiries(30));
    world = await RoutingWorld.start('redis', { BROKER_TRADOVATE_BASE_URL: `${tradovate.url}/v1`, ORDER_SYNC_INTERVAL_MS: '100' });
  });

  afterAll(async () => {
    await world?.stop();
    await tradovate?.stop();
  });

  it('no canary in responses, logs, any database row, Redis or DATA_DIR after onboarding, routing, polling and a refused login', async () => {
    const tag = randomBytes(6).toString('hex');
    const credentials = {
      name: `CANARYname${tag}`,
      password: `CANARYpassword${tag}`,
      appId: `CANARYapp${tag}`,
      appVersion: `CANARYver${tag}`,
      cid: `9${(BigInt(`0x${tag}`) % 10n ** 13n).toString().padStart(13, '7')}`,
      sec: `CANARYsec${tag}`,
    };
    tradovate.addUser(credentials);
    const ws = await world.workspace();
    const texts: string[] = [];
    const res = await http(world.api.url, 'POST', '/v1/connections', {
      token: ws.token,
      body: { broker: 'tradovate', label: 'canary', environment: 'paper', credentials },
    });
    expect(res.status).toBe(201);
    texts.push(res.text);
    const wrong = await http(world.api.url, 'POST', '/v1/connections', {
      token: ws.token,
      body: { broker: 'tradovate', label: 'x', environment: 'paper', credentials: { ...credentials, sec: `${credentials.sec}x` } },
    });
    expect(wrong.status).toBeGreaterThanOrEqual(400);
    texts.push(wrong.text);
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: res.body.id, sizing: { mode: 'fixed', value: '1' } });
    const settled = await world.settled(ws.token, await world.send(source, { ticker: 'ES1!', action: 'buy', price: '6000' }));
    const filled = await orderIn(world.api.url, ws.token, settled.orders[0].id, (o) => o.status === 'filled');
    texts.push(JSON.stringify(settled), JSON.stringify(filled));
    for (const path of [`/v1/connections/${res.body.id}`, '/v1/connections', `/v1/orders?limit=50`])
      texts.push((await http(world.api.url, 'GET', path, { token: ws.token })).text);

    const tokens = [...tradovate.tokens.keys()];
    expect(tokens.length).toBeGreaterThan(0);
    const forms = [
      ...canaryForms(credentials.name, credentials.password, credentials.appId, credentials.appVersion, credentials.sec, ...tokens),
      credentials.cid,
    ];
    const scans = [
      scanTexts('HTTP response bodies', texts, forms),
      scanTexts('log lines', [...world.api.logs.lines, ...world.worker.logs.lines], forms),
      await scanDatabase(world.db.adminUrl, forms),
      await scanRedis(REDIS_URL, forms),
      scanDirectory('files under DATA_DIR', world.env.DATA_DIR, forms),
    ];
    expect(scans.flatMap((s) => s.hits)).toEqual([]);
    expect(scans.every((s) => s.searched > 0)).toBe(true);
  }, 60_000);
});
