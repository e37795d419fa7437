import { RoutingWorld } from './routing-harness';

/** Take-profit and stop-loss legs from signal to broker: distances resolved by routing, shapes the broker has not refused in words. */
describe('bracket legs end to end (Alpaca stub)', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres');
  });
  afterAll(async () => {
    await world?.stop();
  });

  async function routed(signal: Record<string, unknown>) {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'alpaca');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '10' } });
    return world.settled(ws.token, await world.send(source, { ticker: 'NASDAQ:AAPL', action: 'buy', price: '100', ...signal }));
  }

  function sentBody(clientOrderId: string): Record<string, any> {
    const post = world.alpaca.requests.find((r) => r.method === 'POST' && r.path === '/v2/orders' && JSON.parse(r.body).client_order_id === clientOrderId);
    return JSON.parse(post!.body);
  }

  it('a percent take-profit and a stop-limit stop-loss by percent reach Alpaca as a bracket with prices from the signal price', async () => {
    const settled = await routed({ takeProfit: { percent: 5 }, stopLoss: { type: 'stop_limit', percent: '2', limitPrice: '97.5' } });
    expect(settled.status).toBe('routed');
    const body = sentBody(settled.orders[0].clientOrderId);
    expect(body).toMatchObject({
      symbol: 'AAPL',
      order_class: 'bracket',
      take_profit: { limit_price: '105' },
      stop_loss: { stop_price: '98', limit_price: '97.5' },
    });
    const legs = world.alpaca.ordersByClientId.get(settled.orders[0].clientOrderId)!.legs!;
    expect(legs.map((l) => [l.type, l.side, l.limit_price, l.stop_price])).toEqual([
      ['limit', 'sell', '105', null],
      ['stop_limit', 'sell', '97.5', '98'],
    ]);
    // The order's view shows the legs as sent.
    expect(settled.orders[0].brackets).toEqual({ takeProfit: '105', stopLoss: '98', stopLossLimit: '97.5', trailPercent: null, trailAmount: null });
  });

  it('a trailing stop-loss, which Alpaca brackets cannot carry, is refused with the reason and nothing is sent', async () => {
    const before = world.alpaca.requests.filter((r) => r.method === 'POST' && r.path === '/v2/orders').length;
    const settled = await routed({ stopLoss: { type: 'trailing_stop', trailPercent: '1' } });
    expect(settled.status).toBe('failed');
    expect(settled.orders[0]).toMatchObject({ status: 'rejected', reason: expect.stringContaining('not a trailing stop') });
    expect(world.alpaca.requests.filter((r) => r.method === 'POST' && r.path === '/v2/orders')).toHaveLength(before);
  });

  it('a distance without a reference price blocks the order, saying so', async () => {
    const settled = await routed({ price: undefined, takeProfit: { amount: '3' } });
    expect(settled.status).toBe('blocked');
    expect(settled.orders[0]).toMatchObject({ status: 'blocked', reason: expect.stringMatching(/^price_required: /) });
  });

  it('an exit cancels the open legs that hold the position before it closes it', async () => {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'alpaca');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '10' } });
    const entry = await world.settled(ws.token, await world.send(source, { ticker: 'MSFT', action: 'buy', price: '100', takeProfit: '110', stopLoss: '95' }));
    const parent = world.alpaca.ordersByClientId.get(entry.orders[0].clientOrderId)!;
    expect(parent.status).toBe('filled');
    expect(parent.legs!.map((l) => l.status)).toEqual(['new', 'held']);

    const exit = await world.settled(ws.token, await world.send(source, { ticker: 'MSFT', action: 'sell', sentiment: 'flat', price: '101' }));
    expect(exit.status).toBe('routed');
    expect(exit.orders[0]).toMatchObject({ intent: 'exit', status: 'filled', quantity: '10' });
    expect(parent.legs!.map((l) => l.status)).toEqual(['canceled', 'canceled']);
    expect(world.alpaca.positionOf(world.keys.get(connection)!.apiKey, 'MSFT')).toBe(0);
  });
});
