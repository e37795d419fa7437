import { http } from '../support/api-app';
import { startWorker } from '../support/worker-app';
import { RoutingWorld } from './routing-harness';

/** Orders followed at the broker after their first answer: fills as rows, the state machine with its times, by polling. */
describe('order lifecycle by polling', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres', { ORDER_SYNC_INTERVAL_MS: '100' });
  });
  afterAll(async () => {
    await world?.stop();
  });

  async function restingLimit(broker: 'alpaca' | 'binance' | 'paper', ticker = 'AAPL', quantity = '10') {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, broker);
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: quantity } });
    const signalId = await world.send(source, { ticker, action: 'buy', orderType: 'limit', limitPrice: '101', price: '105' });
    const settled = await world.settled(ws.token, signalId);
    expect(settled.status).toBe('routed');
    const [order] = settled.orders;
    expect(order).toMatchObject({ status: 'accepted', quantity, filledQuantity: null });
    return { ws, connection, source, signalId, order };
  }

  /** Polls the order's view (never sleeping blindly) until `done` holds. */
  async function orderUntil(token: string, id: string, done: (o: any) => boolean, timeoutMs = 15_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await http(world.api.url, 'GET', `/v1/orders/${id}`, { token });
      expect(res.status).toBe(200);
      if (done(res.body)) return res.body;
      if (Date.now() > deadline) throw new Error(`order ${id} never got there: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('an accepted limit order that Alpaca later fills in two partial fills shows filled with both fills and the average price', async () => {
    const { ws, signalId, order } = await restingLimit('alpaca');

    world.alpaca.fillPart(order.clientOrderId, 4, 100);
    const partial = await orderUntil(ws.token, order.id, (o) => o.status === 'partially_filled');
    expect(partial).toMatchObject({ filledQuantity: '4', averagePrice: '100' });
    expect(partial.fills).toEqual([expect.objectContaining({ quantity: '4', price: '100', brokerFillId: 'cum:4' })]);

    world.alpaca.fillPart(order.clientOrderId, 6, 101);
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled');
    expect(filled).toMatchObject({ filledQuantity: '10', averagePrice: '100.6' });
    expect(filled.fills.map((f: any) => [f.quantity, f.price])).toEqual([
      ['4', '100'],
      ['6', '101'],
    ]);
    expect(filled.transitions.map((t: any) => [t.from, t.to])).toEqual([
      ['submitted', 'accepted'],
      ['accepted', 'partially_filled'],
      ['partially_filled', 'filled'],
    ]);
    const times = filled.transitions.map((t: any) => Date.parse(t.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    // The signal's view shows the order's current state.
    const signal = await http(world.api.url, 'GET', `/v1/signals/${signalId}`, { token: ws.token });
    expect(signal.body.orders).toEqual([expect.objectContaining({ id: order.id, status: 'filled', filledQuantity: '10', averagePrice: '100.6' })]);

    // A filled order is no longer asked for, and its fills were never counted twice across the polls.
    const asked = world.alpaca.requests.filter((r) => r.path.startsWith('/v2/orders:by_client_order_id')).length;
    const fills = await world.sql('SELECT broker_fill_id FROM order_fills WHERE order_id = $1', [order.id]);
    expect(fills).toHaveLength(2);
    const uses = await world.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_events WHERE action = 'credential.use' AND metadata->>'orderId' = $1 AND metadata->>'purpose' = 'sync'`,
      [order.id],
    );
    expect(uses[0].n).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 400));
    expect(world.alpaca.requests.filter((r) => r.path.startsWith('/v2/orders:by_client_order_id')).length).toBe(asked);
  });

  it('Binance: a resting limit order filled in two partial fills shows filled with both fills and the average price', async () => {
    const { ws, order } = await restingLimit('binance', 'BINANCE:ETHUSDT', '2');
    world.binance.fillPart(order.clientOrderId, '0.5', '100');
    const partial = await orderUntil(ws.token, order.id, (o) => o.status === 'partially_filled');
    expect(partial).toMatchObject({ filledQuantity: '0.5', averagePrice: '100' });
    world.binance.fillPart(order.clientOrderId, '1.5', '101');
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled');
    expect(filled).toMatchObject({ filledQuantity: '2', averagePrice: '100.75' });
    expect(filled.fills.map((f: any) => [f.quantity, f.price])).toEqual([
      ['0.5', '100'],
      ['1.5', '101'],
    ]);
    expect(filled.transitions.map((t: any) => t.to)).toEqual(['accepted', 'partially_filled', 'filled']);
  });

  it('a cancel signal cancels the open order of that ticker, and the order ends canceled', async () => {
    const { ws, source, order } = await restingLimit('alpaca', 'MSFT');
    const cancelId = await world.send(source, { ticker: 'MSFT', action: 'cancel' });
    expect((await world.settled(ws.token, cancelId)).status).toBe('routed');
    expect(world.alpaca.ordersByClientId.get(order.clientOrderId)?.status).toBe('canceled');
    const canceled = await orderUntil(ws.token, order.id, (o) => o.status === 'canceled');
    expect(canceled).toMatchObject({ filledQuantity: null, fills: [] });
    expect(canceled.transitions.map((t: any) => t.to)).toEqual(['accepted', 'canceled']);
  });

  it('at start-up a worker settles every order still working, due or not (reconciliation)', async () => {
    const { ws, order } = await restingLimit('alpaca', 'NVDA');
    await world.worker.close();
    try {
      world.alpaca.fillPart(order.clientOrderId, 10, 99.5);
      // Not due for an hour: only the start-up sweep asks for it.
      await world.sql(`UPDATE orders SET next_sync_at = now() + interval '1 hour' WHERE id = $1`, [order.id]);
    } finally {
      world.worker = await startWorker(world.db, world.env);
    }
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled');
    expect(filled).toMatchObject({ filledQuantity: '10', averagePrice: '99.5', fills: [expect.objectContaining({ quantity: '10', price: '99.5' })] });
  });

  it('a broker that fails the ask is asked again with growing backoff, and the order is settled once it answers', async () => {
    const { ws, order } = await restingLimit('alpaca', 'AMD');
    world.alpaca.injectFaults('error500', 3, { method: 'GET', path: /^\/v2\/orders:by_client_order_id$/ });
    world.alpaca.fillPart(order.clientOrderId, 10, 100);
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled', 30_000);
    expect(filled.fills).toHaveLength(1);
    const retries = world.worker.logs.lines
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'order sync ask failed' && l.orderId === order.id)
      .map((l) => ({ failures: l.failures, retryInMs: l.retryInMs }));
    expect(retries.map((r) => r.failures)).toEqual([1, 2, 3]);
    // Equal jitter over 100 ms × 2^n: 100-200, 200-400, 400-800 ms.
    expect(retries[0].retryInMs).toBeLessThanOrEqual(200);
    expect(retries[2].retryInMs).toBeGreaterThanOrEqual(400);
    const [{ failures }] = await world.sql<{ failures: number }>('SELECT sync_failures AS failures FROM orders WHERE id = $1', [order.id]);
    expect(failures).toBe(0);
  });

  it('the paper broker: a marketable order is filled with its fill recorded at submission', async () => {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '3' } });
    const settled = await world.settled(ws.token, await world.send(source, { ticker: 'SPY', action: 'buy', price: '450.25' }));
    const view = await http(world.api.url, 'GET', `/v1/orders/${settled.orders[0].id}`, { token: ws.token });
    expect(view.body).toMatchObject({ status: 'filled', filledQuantity: '3', averagePrice: '450.25' });
    expect(view.body.fills).toEqual([expect.objectContaining({ quantity: '3', price: '450.25' })]);
    expect(view.body.transitions.map((t: any) => [t.from, t.to])).toEqual([['submitted', 'filled']]);
  });
});
