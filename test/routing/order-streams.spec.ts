import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { http } from '../support/api-app';
import { CoinbaseStub, startCoinbaseStub } from '../support/brokers/coinbase-stub';
import { OandaStub, startOandaStub } from '../support/brokers/oanda-stub';
import { startWorker } from '../support/worker-app';
import { RoutingWorld } from './routing-harness';

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Polls the order's view (never sleeping blindly) until `done` holds. */
async function orderIn(apiUrl: string, token: string, id: string, done: (o: any) => boolean, timeoutMs = 10_000): Promise<any> {
  let last: unknown;
  return until(
    `order ${id} (last seen ${JSON.stringify(last)})`,
    async () => {
      const res = await http(apiUrl, 'GET', `/v1/orders/${id}`, { token });
      expect(res.status).toBe(200);
      last = res.body;
      return done(res.body) ? res.body : undefined;
    },
    timeoutMs,
  );
}

/** Orders followed through the broker's event stream (Alpaca trade_updates), with polling as the fallback. */
describe('order lifecycle by broker event streams (Alpaca trade_updates)', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    // Polling effectively off: after the start-up sweep the poller's next pass is an hour away.
    world = await RoutingWorld.start('postgres', { ORDER_SYNC_INTERVAL_MS: '3600000', ORDER_STREAM_REFRESH_MS: '200', ORDER_STREAM_RECONNECT_MAX_MS: '1000' });
  });
  afterAll(async () => {
    await world?.stop();
  });

  const orderUntil = (token: string, id: string, done: (o: any) => boolean, timeoutMs?: number) => orderIn(world.api.url, token, id, done, timeoutMs);

  /** An accepted resting limit order on a fresh Alpaca connection, once that connection's stream listens. */
  async function streamedLimit(ticker: string, opts: { waitForStream?: boolean } = {}) {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'alpaca');
    const apiKey = world.keys.get(connection)!.apiKey;
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '10' } });
    const settled = await world.settled(ws.token, await world.send(source, { ticker, action: 'buy', orderType: 'limit', limitPrice: '101', price: '105' }));
    const [order] = settled.orders;
    expect(order).toMatchObject({ status: 'accepted' });
    if (opts.waitForStream !== false) await until('the stream to listen', () => world.alpaca.stream.listening(apiKey) === 1);
    return { ws, connection, apiKey, order };
  }

  const lookups = (clientOrderId: string) =>
    world.alpaca.requests.filter((r) => r.path === '/v2/orders:by_client_order_id' && r.query.get('client_order_id') === clientOrderId).length;

  const streamUses = (connectionId: string) =>
    world
      .sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM audit_events WHERE action = 'credential.use' AND resource_id = $1 AND metadata->>'purpose' = 'sync' AND actor_id LIKE 'stream-%'`,
        [connectionId],
      )
      .then((rows) => rows[0].n);

  it('an accepted limit order filled in two partial fills shows filled with both fills and the average price, through the stream alone', async () => {
    const { ws, connection, apiKey, order } = await streamedLimit('AAPL');
    // Each open of the stream was a credential use with purpose sync (a slow first try may have been retried).
    expect(await streamUses(connection)).toBeGreaterThanOrEqual(world.alpaca.stream.authentications.filter((a) => a.apiKey === apiKey).length);
    expect(await streamUses(connection)).toBeGreaterThanOrEqual(1);

    world.alpaca.fillPart(order.clientOrderId, 4, 100);
    const partial = await orderUntil(ws.token, order.id, (o) => o.status === 'partially_filled', 5_000);
    expect(partial).toMatchObject({ filledQuantity: '4', averagePrice: '100' });

    world.alpaca.fillPart(order.clientOrderId, 6, 101);
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled', 5_000);
    expect(filled).toMatchObject({ filledQuantity: '10', averagePrice: '100.6' });
    expect(filled.fills.map((f: any) => [f.quantity, f.price])).toEqual([
      ['4', '100'],
      ['6', '101'],
    ]);
    expect(filled.transitions.map((t: any) => t.to)).toEqual(['accepted', 'partially_filled', 'filled']);
    // Never polled: the stream carried it all.
    expect(lookups(order.clientOrderId)).toBe(0);
    // No working order left on the connection: its stream is closed.
    await until('the stream to close', () => world.alpaca.stream.listening(apiKey) === 0);
    expect(world.worker.logs.lines.some((l) => l.includes('order stream closed') && l.includes(connection))).toBe(true);
  });

  it('events delivered out of order are recorded once: the late partial fill adds nothing', async () => {
    const { ws, order } = await streamedLimit('MSFT');
    world.alpaca.stream.hold();
    world.alpaca.fillPart(order.clientOrderId, 4, 100);
    world.alpaca.fillPart(order.clientOrderId, 6, 101);
    world.alpaca.stream.release(true); // the fill (cumulative 10) first, then the partial fill (cumulative 4)
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled', 5_000);
    expect(filled).toMatchObject({ filledQuantity: '10', averagePrice: '100.6' });
    await new Promise((r) => setTimeout(r, 300)); // the late partial's turn has passed
    const rows = await world.sql('SELECT quantity::text AS quantity FROM order_fills WHERE order_id = $1', [order.id]);
    expect(rows).toEqual([{ quantity: '10' }]);
    expect(lookups(order.clientOrderId)).toBe(0);
  });

  it('a stream reconnect that replays a fill does not count it twice; each reopen is an audited credential use', async () => {
    const { ws, connection, apiKey, order } = await streamedLimit('NVDA');
    world.alpaca.fillPart(order.clientOrderId, 4, 100);
    await orderUntil(ws.token, order.id, (o) => o.status === 'partially_filled', 5_000);

    world.alpaca.stream.replayLastOnSubscribe(2); // the new and partial_fill events again
    world.alpaca.stream.dropAll();
    await until('the stream to come back', () => world.alpaca.stream.listening(apiKey) === 1);
    expect(await streamUses(connection)).toBeGreaterThanOrEqual(2);
    expect(world.worker.logs.lines.some((l) => l.includes('order stream down') && l.includes(connection))).toBe(true);

    world.alpaca.fillPart(order.clientOrderId, 6, 101);
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled', 5_000);
    expect(filled).toMatchObject({ filledQuantity: '10', averagePrice: '100.6' });
    expect(filled.fills.map((f: any) => [f.quantity, f.price])).toEqual([
      ['4', '100'],
      ['6', '101'],
    ]);
  });

  it('two workers streaming the same connection record each fill once', async () => {
    const other = await startWorker(world.db, world.env);
    try {
      const { ws, apiKey, order } = await streamedLimit('ORCL', { waitForStream: false });
      await until('both workers to stream', () => world.alpaca.stream.listening(apiKey) === 2);
      world.alpaca.fillPart(order.clientOrderId, 4, 100);
      world.alpaca.fillPart(order.clientOrderId, 6, 101);
      const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled', 5_000);
      expect(filled).toMatchObject({ filledQuantity: '10', averagePrice: '100.6' });
      expect(filled.fills.map((f: any) => [f.quantity, f.price])).toEqual([
        ['4', '100'],
        ['6', '101'],
      ]);
      expect(filled.transitions.map((t: any) => t.to)).toEqual(['accepted', 'partially_filled', 'filled']);
    } finally {
      await other.close();
    }
  });

  it('revoking the connection closes its stream at once', async () => {
    const { ws, connection, apiKey } = await streamedLimit('AMD');
    const res = await http(world.api.url, 'DELETE', `/v1/connections/${connection}`, { token: ws.token });
    expect(res.status).toBe(200);
    const revokedAt = Date.now();
    await until('the stream to close', () => world.alpaca.stream.listening(apiKey) === 0, 2_000);
    expect(Date.now() - revokedAt).toBeLessThan(300); // the NOTIFY at commit (the refresh would say so below)
    const closed = world.worker.logs.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'order stream closed' && l.connectionId === connection);
    expect(closed?.why).toBe('connection revoked');
    // Not opened again: the refresh no longer lists a revoked connection.
    await new Promise((r) => setTimeout(r, 500));
    expect(world.alpaca.stream.listening(apiKey)).toBe(0);
    expect(world.alpaca.stream.authentications.filter((a) => a.apiKey === apiKey)).toHaveLength(1);
  });

  it('one stream per connection whatever the number of its orders, at most ORDER_STREAMS_MAX per worker; the rest is polled', async () => {
    await world.worker.close();
    world.worker = await startWorker(world.db, { ...world.env, ORDER_SYNC_INTERVAL_MS: '100', ORDER_STREAMS_MAX: '1' });
    const a = await streamedLimit('AAPL', { waitForStream: false });
    const source = await world.source(a.ws.token);
    await world.route(a.ws.token, { sourceId: source.id, connectionId: a.connection, sizing: { mode: 'fixed', value: '10' } });
    const second = (
      await world.settled(a.ws.token, await world.send(source, { ticker: 'MSFT', action: 'buy', orderType: 'limit', limitPrice: '101', price: '105' }))
    ).orders[0];
    const b = await streamedLimit('AMZN', { waitForStream: false });
    await until('a stream to open', () => world.alpaca.stream.listening(a.apiKey) + world.alpaca.stream.listening(b.apiKey) === 1);
    await new Promise((r) => setTimeout(r, 600)); // three refreshes: still one
    expect(world.alpaca.stream.listening(a.apiKey) + world.alpaca.stream.listening(b.apiKey)).toBe(1);
    const streamed = new Set(world.alpaca.stream.authentications.filter((x) => x.apiKey === a.apiKey || x.apiKey === b.apiKey).map((x) => x.apiKey));
    expect(streamed.size).toBe(1); // never traded for the other connection's

    for (const order of [a.order, second, b.order]) world.alpaca.fillPart(order.clientOrderId, 10, 100);
    for (const [token, order] of [
      [a.ws.token, a.order],
      [a.ws.token, second],
      [b.ws.token, b.order],
    ] as const) {
      expect(await orderUntil(token, order.id, (o) => o.status === 'filled')).toMatchObject({ filledQuantity: '10', averagePrice: '100' });
    }
    // Secrets never reach the worker's log, on any of these paths.
    const secrets = [a, b].map((x) => world.keys.get(x.connection)!.apiSecret);
    expect(world.worker.logs.lines.filter((l) => secrets.some((secret) => l.includes(secret)))).toEqual([]);
  });

  it('the poller leaves a streamed order alone while its stream is up, and asks again once the stream is down', async () => {
    await world.worker.close();
    world.worker = await startWorker(world.db, { ...world.env, ORDER_SYNC_INTERVAL_MS: '100' });
    const { ws, apiKey, order } = await streamedLimit('META');
    // The stream's (re)open makes the order due once (what it missed while down); then the stream has it.
    await until('the catch-up poll', () => lookups(order.clientOrderId) >= 1);
    await new Promise((r) => setTimeout(r, 300));
    const quiet = lookups(order.clientOrderId);
    await new Promise((r) => setTimeout(r, 700)); // seven poll intervals
    expect(lookups(order.clientOrderId)).toBe(quiet);

    world.alpaca.stream.refuse(true);
    try {
      world.alpaca.stream.dropAll();
      await until('polling to resume', () => lookups(order.clientOrderId) >= quiet + 3);
      world.alpaca.fillPart(order.clientOrderId, 10, 100);
      expect(await orderUntil(ws.token, order.id, (o) => o.status === 'filled')).toMatchObject({
        filledQuantity: '10',
        fills: [expect.objectContaining({ quantity: '10' })],
      });
      expect(world.alpaca.stream.listening(apiKey)).toBe(0);
    } finally {
      world.alpaca.stream.refuse(false);
    }
  });

  it('with the stream refused, the order is followed by polling', async () => {
    await world.worker.close();
    world.worker = await startWorker(world.db, { ...world.env, ORDER_SYNC_INTERVAL_MS: '100' });
    world.alpaca.stream.refuse(true);
    try {
      const { ws, connection, apiKey, order } = await streamedLimit('TSLA', { waitForStream: false });
      const down = () => world.worker.logs.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'order stream down' && l.connectionId === connection);
      await until('the stream to be refused', () => down().length >= 1);
      world.alpaca.fillPart(order.clientOrderId, 4, 100);
      const partial = await orderUntil(ws.token, order.id, (o) => o.status === 'partially_filled');
      expect(partial).toMatchObject({ filledQuantity: '4', averagePrice: '100' });
      world.alpaca.fillPart(order.clientOrderId, 6, 101);
      const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled');
      expect(filled).toMatchObject({ filledQuantity: '10', averagePrice: '100.6' });
      expect(filled.fills.map((f: any) => [f.quantity, f.price])).toEqual([
        ['4', '100'],
        ['6', '101'],
      ]);
      expect(lookups(order.clientOrderId)).toBeGreaterThanOrEqual(2);
      expect(world.alpaca.stream.authentications.filter((a) => a.apiKey === apiKey)).toHaveLength(0);
      // Refused again and again meanwhile, each time after a longer wait.
      expect(down().map((l) => l.failures)).toEqual(down().map((_, i) => i + 1));
    } finally {
      world.alpaca.stream.refuse(false);
    }
  });
});

/** OANDA's transaction stream: chunked JSON lines with heartbeats; v20 fills a pending order whole, in one ORDER_FILL. */
describe('order lifecycle by broker event streams (OANDA transaction stream)', () => {
  let world: RoutingWorld;
  let oanda: OandaStub;
  beforeAll(async () => {
    oanda = await startOandaStub();
    world = await RoutingWorld.start('postgres', {
      BROKER_OANDA_BASE_URL: oanda.url,
      BROKER_OANDA_STREAM_URL: oanda.url,
      ORDER_SYNC_INTERVAL_MS: '3600000',
      ORDER_STREAM_REFRESH_MS: '200',
      ORDER_STREAM_RECONNECT_MAX_MS: '1000',
    });
  });
  afterAll(async () => {
    await world?.stop();
    await oanda?.stop();
  });

  const orderUntil = (token: string, id: string, done: (o: any) => boolean, timeoutMs?: number) => orderIn(world.api.url, token, id, done, timeoutMs);
  const lookups = (clientOrderId: string) => oanda.requests.filter((r) => r.path.endsWith(`/orders/@${clientOrderId}`)).length;

  /** Resting limit orders (one per ticker) on a fresh OANDA connection, once its stream is open. */
  async function streamedLimits(tickers: string[], opts: { waitForStream?: boolean } = {}) {
    const ws = await world.workspace();
    const account = { accountId: `101-004-${randomBytes(3).readUIntBE(0, 3) % 10_000_000}-001`, token: `oanda-token-${randomBytes(12).toString('hex')}` };
    oanda.addAccount(account);
    const res = await http(world.api.url, 'POST', '/v1/connections', {
      token: ws.token,
      body: { broker: 'oanda', label: 'fx', environment: 'paper', credentials: account },
    });
    expect(res.status).toBe(201);
    const connection: string = res.body.id;
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '1000' } });
    const orders = [];
    for (const ticker of tickers) {
      const settled = await world.settled(ws.token, await world.send(source, { ticker, action: 'buy', orderType: 'limit', limitPrice: '1.05', price: '1.1' }));
      expect(settled.orders[0]).toMatchObject({ status: 'accepted' });
      orders.push(settled.orders[0]);
    }
    if (opts.waitForStream !== false) await until('the stream to open', () => oanda.stream.listening(account.accountId) === 1);
    return { ws, connection, account, orders };
  }

  it('an accepted limit order that OANDA later fills shows filled with its fill and price through the stream alone; a cancel there too', async () => {
    const {
      ws,
      account,
      orders: [order, other],
    } = await streamedLimits(['OANDA:EURUSD', 'OANDA:GBPUSD']);
    // Placing an order looks its client id up first; from acceptance on, nothing is asked.
    const placed = lookups(order.clientOrderId) + lookups(other.clientOrderId);
    oanda.fillPending(order.clientOrderId, 1.0412);
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled', 5_000);
    const fillTx = oanda.stream.sent.get(account.accountId)!.find((t) => t.type === 'ORDER_FILL')!;
    expect(filled).toMatchObject({ filledQuantity: '1000', averagePrice: '1.0412' });
    expect(filled.fills).toEqual([expect.objectContaining({ quantity: '1000', price: '1.0412', brokerFillId: fillTx.id })]);

    oanda.expirePending(other.clientOrderId);
    const expired = await orderUntil(ws.token, other.id, (o) => o.status === 'expired', 5_000);
    expect(expired.transitions.map((t: any) => t.to)).toEqual(['accepted', 'expired']);
    expect(lookups(order.clientOrderId) + lookups(other.clientOrderId)).toBe(placed);
    await until('the stream to close', () => oanda.stream.listening(account.accountId) === 0);
  });

  it('a reconnect that replays the fill does not count it twice', async () => {
    const {
      ws,
      account,
      orders: [order, other],
    } = await streamedLimits(['OANDA:EURUSD', 'OANDA:USDJPY']);
    oanda.fillPending(order.clientOrderId, 1.0412);
    await orderUntil(ws.token, order.id, (o) => o.status === 'filled', 5_000);
    oanda.stream.replayLastOnSubscribe(5);
    oanda.stream.dropAll();
    await until('the stream to come back', () => oanda.stream.listening(account.accountId) === 1);
    oanda.fillPending(other.clientOrderId, 1.0399);
    await orderUntil(ws.token, other.id, (o) => o.status === 'filled', 5_000);
    await new Promise((r) => setTimeout(r, 200));
    const rows = await world.sql('SELECT order_id::text AS "orderId" FROM order_fills WHERE order_id = ANY($1::uuid[])', [[order.id, other.id]]);
    expect(rows.map((r: any) => r.orderId).sort()).toEqual([order.id, other.id].sort());
  });

  it('revoking the connection closes its stream at once', async () => {
    const { ws, connection, account } = await streamedLimits(['OANDA:EURUSD']);
    expect((await http(world.api.url, 'DELETE', `/v1/connections/${connection}`, { token: ws.token })).status).toBe(200);
    const revokedAt = Date.now();
    await until('the stream to close', () => oanda.stream.listening(account.accountId) === 0, 2_000);
    expect(Date.now() - revokedAt).toBeLessThan(300);
    const closed = world.worker.logs.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'order stream closed' && l.connectionId === connection);
    expect(closed?.why).toBe('connection revoked');
    await new Promise((r) => setTimeout(r, 500));
    expect(oanda.stream.connects.filter((a) => a === account.accountId)).toHaveLength(1);
  });

  it('with the stream host refusing, the order is followed by polling', async () => {
    await world.worker.close();
    world.worker = await startWorker(world.db, { ...world.env, ORDER_SYNC_INTERVAL_MS: '100' });
    oanda.stream.refuse(true);
    try {
      const {
        ws,
        account,
        orders: [order],
      } = await streamedLimits(['OANDA:EURUSD'], { waitForStream: false });
      const placed = lookups(order.clientOrderId);
      oanda.fillPending(order.clientOrderId, 1.0412);
      const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled');
      expect(filled).toMatchObject({ filledQuantity: '1000', averagePrice: '1.0412', fills: [expect.objectContaining({ quantity: '1000' })] });
      expect(lookups(order.clientOrderId)).toBeGreaterThan(placed);
      expect(oanda.stream.connects.filter((a) => a === account.accountId)).toHaveLength(0);
    } finally {
      oanda.stream.refuse(false);
    }
  });
});

/** Binance's user data stream through the WebSocket API: executionReports with the cumulative fill. */
describe('order lifecycle by broker event streams (Binance user data stream)', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres', { ORDER_SYNC_INTERVAL_MS: '3600000', ORDER_STREAM_REFRESH_MS: '200', ORDER_STREAM_RECONNECT_MAX_MS: '1000' });
  });
  afterAll(async () => {
    await world?.stop();
  });

  const orderUntil = (token: string, id: string, done: (o: any) => boolean, timeoutMs?: number) => orderIn(world.api.url, token, id, done, timeoutMs);
  const lookups = (clientOrderId: string) =>
    world.binance.received('GET', '/api/v3/order').filter((r) => r.query.get('origClientOrderId') === clientOrderId).length;

  async function streamedLimit(opts: { waitForStream?: boolean } = {}) {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'binance');
    const apiKey = world.keys.get(connection)!.apiKey;
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '2' } });
    const settled = await world.settled(
      ws.token,
      await world.send(source, { ticker: 'BINANCE:ETHUSDT', action: 'buy', orderType: 'limit', limitPrice: '101', price: '105' }),
    );
    const [order] = settled.orders;
    expect(order).toMatchObject({ status: 'accepted' });
    if (opts.waitForStream !== false) await until('the stream to subscribe', () => world.binance.stream.listening(apiKey) === 1);
    return { ws, connection, source, apiKey, order, placed: lookups(order.clientOrderId) };
  }

  it('a resting limit order filled in two partial fills shows filled with both fills and the average price through the stream alone', async () => {
    const { ws, apiKey, order, placed } = await streamedLimit();
    world.binance.fillPart(order.clientOrderId, '0.5', '100');
    const partial = await orderUntil(ws.token, order.id, (o) => o.status === 'partially_filled', 5_000);
    expect(partial).toMatchObject({ filledQuantity: '0.5', averagePrice: '100' });
    world.binance.fillPart(order.clientOrderId, '1.5', '101');
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled', 5_000);
    expect(filled).toMatchObject({ filledQuantity: '2', averagePrice: '100.75' });
    expect(filled.fills.map((f: any) => [f.quantity, f.price])).toEqual([
      ['0.5', '100'],
      ['1.5', '101'],
    ]);
    expect(lookups(order.clientOrderId)).toBe(placed);
    expect(world.binance.stream.subscriptions.filter((s) => s.apiKey === apiKey)).toEqual([{ apiKey, accepted: true }]);
    await until('the stream to close', () => world.binance.stream.listening(apiKey) === 0);
  });

  it('a resubscribe that replays the partial fill does not count it twice; a cancel arrives by its original client order id', async () => {
    const { ws, source, apiKey, order } = await streamedLimit();
    world.binance.fillPart(order.clientOrderId, '0.5', '100');
    await orderUntil(ws.token, order.id, (o) => o.status === 'partially_filled', 5_000);
    world.binance.stream.replayLastOnSubscribe(2);
    world.binance.stream.dropAll();
    await until('the stream to come back', () => world.binance.stream.listening(apiKey) === 1);
    await new Promise((r) => setTimeout(r, 200));
    const res = await http(world.api.url, 'GET', `/v1/orders/${order.id}`, { token: ws.token });
    expect(res.body).toMatchObject({ status: 'partially_filled', filledQuantity: '0.5' });
    expect(res.body.fills).toHaveLength(1);

    const cancelId = await world.send(source, { ticker: 'BINANCE:ETHUSDT', action: 'cancel' });
    expect((await world.settled(ws.token, cancelId)).status).toBe('routed');
    const canceled = await orderUntil(ws.token, order.id, (o) => o.status === 'canceled', 5_000);
    expect(canceled).toMatchObject({ filledQuantity: '0.5', fills: [expect.objectContaining({ quantity: '0.5' })] });
  });

  it('with the stream refused, the order is followed by polling', async () => {
    await world.worker.close();
    world.worker = await startWorker(world.db, { ...world.env, ORDER_SYNC_INTERVAL_MS: '100' });
    world.binance.stream.refuse(true);
    try {
      const { ws, apiKey, order, placed } = await streamedLimit({ waitForStream: false });
      world.binance.fillPart(order.clientOrderId, '0.5', '100');
      await orderUntil(ws.token, order.id, (o) => o.status === 'partially_filled');
      world.binance.fillPart(order.clientOrderId, '1.5', '101');
      const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled');
      expect(filled).toMatchObject({ filledQuantity: '2', averagePrice: '100.75' });
      expect(filled.fills.map((f: any) => [f.quantity, f.price])).toEqual([
        ['0.5', '100'],
        ['1.5', '101'],
      ]);
      expect(lookups(order.clientOrderId)).toBeGreaterThan(placed);
      expect(world.binance.stream.subscriptions.filter((s) => s.apiKey === apiKey)).toHaveLength(0);
    } finally {
      world.binance.stream.refuse(false);
    }
  });
});

/** Coinbase Advanced Trade's user channel: snapshot and update events with the cumulative fill. */
describe('order lifecycle by broker event streams (Coinbase user channel)', () => {
  let world: RoutingWorld;
  let coinbase: CoinbaseStub;
  beforeAll(async () => {
    coinbase = await startCoinbaseStub();
    world = await RoutingWorld.start('postgres', {
      BROKER_COINBASE_BASE_URL: coinbase.url,
      BROKER_COINBASE_WS_USER_URL: `${coinbase.url.replace(/^http/, 'ws')}/ws-user`,
      ORDER_SYNC_INTERVAL_MS: '3600000',
      ORDER_STREAM_REFRESH_MS: '200',
      ORDER_STREAM_RECONNECT_MAX_MS: '1000',
    });
  });
  afterAll(async () => {
    await world?.stop();
    await coinbase?.server.stop();
  });

  const orderUntil = (token: string, id: string, done: (o: any) => boolean, timeoutMs?: number) => orderIn(world.api.url, token, id, done, timeoutMs);
  const lookups = () =>
    coinbase.server.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/api/v3/brokerage/orders/historical/') && !r.path.endsWith('/batch'))
      .length;

  async function streamedLimit(opts: { waitForStream?: boolean } = {}) {
    const ws = await world.workspace();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const apiKeyName = `organizations/org-${randomBytes(4).toString('hex')}/apiKeys/key-${randomBytes(6).toString('hex')}`;
    coinbase.addKey({ apiKeyName, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), balances: { USD: '1000000' } });
    const credentials = { apiKeyName, privateKey: privateKey.export({ type: 'sec1', format: 'pem' }).toString() };
    // Coinbase has no paper trading: a live connection, routed once the owner enables live trading.
    const res = await http(world.api.url, 'POST', '/v1/connections', {
      token: ws.token,
      body: { broker: 'coinbase', label: 'cb', environment: 'live', credentials },
    });
    expect(res.status).toBe(201);
    expect((await http(world.api.url, 'PUT', '/v1/workspace/live-trading', { token: ws.token, body: { enabled: true, reason: 'stream test' } })).status).toBe(
      200,
    );
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: res.body.id, sizing: { mode: 'fixed', value: '2' } });
    const settled = await world.settled(
      ws.token,
      await world.send(source, { ticker: 'COINBASE:BTCUSD', action: 'buy', orderType: 'limit', limitPrice: '49000', price: '50000' }),
    );
    const [order] = settled.orders;
    expect(order).toMatchObject({ status: 'accepted' });
    if (opts.waitForStream !== false) await until('the user channel to subscribe', () => coinbase.stream.listening(apiKeyName) === 1);
    return { ws, apiKeyName, order };
  }

  it('a resting limit order filled in two partial fills shows filled with both fills and the average price through the user channel alone', async () => {
    const { ws, apiKeyName, order } = await streamedLimit();
    const before = lookups();
    coinbase.fillPart(order.clientOrderId, '0.5', '49000');
    const partial = await orderUntil(ws.token, order.id, (o) => o.status === 'partially_filled', 5_000);
    expect(partial).toMatchObject({ filledQuantity: '0.5', averagePrice: '49000' });
    coinbase.fillPart(order.clientOrderId, '1.5', '49100');
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled', 5_000);
    expect(filled).toMatchObject({ filledQuantity: '2', averagePrice: '49075' });
    expect(filled.fills.map((f: any) => [f.quantity, f.price])).toEqual([
      ['0.5', '49000'],
      ['1.5', '49100'],
    ]);
    expect(lookups()).toBe(before);
    expect(coinbase.stream.subscriptions.filter((s) => s.apiKeyName === apiKeyName)).toEqual([{ apiKeyName, accepted: true }]);
    await until('the channel to close', () => coinbase.stream.listening(apiKeyName) === 0);
  });

  it('out-of-order updates and a resubscribe that replays them count each fill once', async () => {
    const { ws, apiKeyName, order } = await streamedLimit();
    coinbase.stream.hold();
    coinbase.fillPart(order.clientOrderId, '0.5', '49000');
    coinbase.fillPart(order.clientOrderId, '0.5', '49200');
    coinbase.stream.release(true); // cumulative 1 first, then the late cumulative 0.5
    const partial = await orderUntil(ws.token, order.id, (o) => o.status === 'partially_filled' && o.filledQuantity === '1', 5_000);
    expect(partial.averagePrice).toBe('49100');
    coinbase.stream.replayLastOnSubscribe(3);
    coinbase.stream.dropAll();
    await until('the channel to come back', () => coinbase.stream.listening(apiKeyName) === 1);
    coinbase.fillPart(order.clientOrderId, '1', '49100');
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled', 5_000);
    expect(filled).toMatchObject({ filledQuantity: '2', averagePrice: '49100' });
    expect(filled.fills.map((f: any) => f.quantity)).toEqual(['1', '1']);
  });

  it('with the user channel refused, the order is followed by polling', async () => {
    await world.worker.close();
    world.worker = await startWorker(world.db, { ...world.env, ORDER_SYNC_INTERVAL_MS: '100' });
    coinbase.stream.refuse(true);
    try {
      const { ws, apiKeyName, order } = await streamedLimit({ waitForStream: false });
      const before = lookups();
      coinbase.fillPart(order.clientOrderId, '0.5', '49000');
      await orderUntil(ws.token, order.id, (o) => o.status === 'partially_filled');
      coinbase.fillPart(order.clientOrderId, '1.5', '49100');
      const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled');
      expect(filled).toMatchObject({ filledQuantity: '2', averagePrice: '49075' });
      expect(lookups()).toBeGreaterThan(before);
      expect(coinbase.stream.subscriptions.filter((s) => s.apiKeyName === apiKeyName)).toHaveLength(0);
    } finally {
      coinbase.stream.refuse(false);
    }
  });
});
