import { marketDate } from '../../src/brokers/option-symbols';
import { http } from '../support/api-app';
import { postSigned } from '../signals/support/signals-harness';
import { RoutingWorld } from './routing-harness';

function inDays(days: number): string {
  const d = new Date(`${marketDate()}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
const occ = (root: string, date: string, right: 'C' | 'P', strike: number) =>
  `${root}${date.slice(2).replace(/-/g, '')}${right}${String(strike * 1000).padStart(8, '0')}`;

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

/** TradingView signals to an Alpaca paper connection that trade options: by OCC symbol, or by a selection rule resolved at Alpaca. */
describe('routing options to Alpaca', () => {
  let world: RoutingWorld;
  const expirations = [inDays(20), inDays(33), inDays(40)];
  const rule = { ticker: 'NASDAQ:AAPL', action: 'buy', optionType: 'call', expiration: '+30 days', strikesAway: 2, intrinsicValue: 'otm', price: 187.4 };
  const chosen = occ('AAPL', expirations[1], 'C', 190);

  beforeAll(async () => {
    world = await RoutingWorld.start('postgres', { ORDER_SYNC_INTERVAL_MS: '100' });
    world.alpaca.listOptions('AAPL', expirations, [180, 185, 187.5, 190, 195, 200]);
    world.alpaca.setPrice(chosen, 3.1);
  });

  afterAll(async () => {
    await world?.stop();
  });

  async function alpacaRoute(sizing = { mode: 'fixed', value: '2' }) {
    const ws = await world.workspace();
    const connectionId = await world.connect(ws.token, 'alpaca');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId, sizing });
    return { ws, source, connectionId, apiKey: world.keys.get(connectionId)!.apiKey };
  }

  const submitted = (clientOrderId: string) =>
    world.alpaca.requests.filter((r) => r.method === 'POST' && r.path === '/v2/orders' && JSON.parse(r.body).client_order_id === clientOrderId);

  it('GET /v1/brokers says Alpaca takes options: whole-contract day orders without brackets', async () => {
    const ws = await world.workspace();
    const res = await http(world.api.url, 'GET', '/v1/brokers', { token: ws.token });
    const alpaca = res.body.items.find((b: any) => b.broker === 'alpaca');
    expect(alpaca).toMatchObject({ options: true, optionOrders: { timesInForce: ['day'], brackets: false } });
    expect(res.body.items.find((b: any) => b.broker === 'paper').options).toBe(false);
  });

  it('a selection rule reaches Alpaca as the contract it picks, in whole contracts, and the order ends filled; an OCC exit closes it', async () => {
    const { ws, source, connectionId, apiKey } = await alpacaRoute();
    const settled = await world.settled(ws.token, await world.send(source, rule));
    expect(settled.status).toBe('routed');
    const [order] = settled.orders;
    // The row carries the contract Alpaca holds, not the rule: positions, P&L and exits key on it.
    expect(order.symbol).toBe(chosen);
    expect(JSON.parse(submitted(order.clientOrderId)[0].body)).toEqual({
      symbol: chosen,
      qty: '2',
      side: 'buy',
      type: 'market',
      time_in_force: 'day',
      client_order_id: order.clientOrderId,
    });
    const filled = await orderIn(world.api.url, ws.token, order.id, (o) => o.status === 'filled');
    expect(filled).toMatchObject({ symbol: chosen, filledQuantity: '2', averagePrice: '3.1' });
    expect(world.alpaca.positionOf(apiKey, chosen)).toBe(2);
    const pnl = async () => (await http(world.api.url, 'GET', `/v1/connections/${connectionId}/pnl`, { token: ws.token })).body;
    expect((await pnl()).symbols).toEqual([expect.objectContaining({ symbol: chosen, position: '2', fills: 1 })]);

    const exit = await world.settled(ws.token, await world.send(source, { ticker: chosen, action: 'exit' }));
    const [close] = exit.orders;
    expect(JSON.parse(submitted(close.clientOrderId)[0].body)).toMatchObject({ symbol: chosen, qty: '2', side: 'sell', time_in_force: 'day' });
    await orderIn(world.api.url, ws.token, close.id, (o) => o.status === 'filled');
    expect(world.alpaca.positionOf(apiKey, chosen)).toBe(0);
    expect((await pnl()).symbols).toEqual([expect.objectContaining({ symbol: chosen, position: '0', realizedPnl: '0', fills: 2 })]);
  });

  it('an option order whose answer was lost is found again by its client order id, placed once', async () => {
    const { ws, source } = await alpacaRoute();
    world.alpaca.injectFaults('acceptThenHang', 1, { method: 'POST', path: /^\/v2\/orders$/ });
    const settled = await world.settled(ws.token, await world.send(source, { ...rule, optionType: 'put', intrinsicValue: 'itm', strikesAway: 1 }));
    const [order] = settled.orders;
    expect(submitted(order.clientOrderId)).toHaveLength(1);
    const put = occ('AAPL', expirations[1], 'P', 187.5);
    expect(JSON.parse(submitted(order.clientOrderId)[0].body).symbol).toBe(put);
    // Found again by client order id, the order still records the contract it was placed in.
    expect(await orderIn(world.api.url, ws.token, order.id, (o) => o.status === 'filled')).toMatchObject({ symbol: put });
  });

  it("refuses, before sending, what the account's options level cannot take, and a rule no contract meets, with the reason on the order", async () => {
    const { ws, source, apiKey } = await alpacaRoute();
    world.alpaca.setOptionsLevel(apiKey, 1);
    const low = await world.settled(ws.token, await world.send(source, rule));
    const [refused] = low.orders;
    expect(refused).toMatchObject({ status: 'rejected', reason: expect.stringContaining('options_level: buying a call or put needs options trading level 2') });
    expect(submitted(refused.clientOrderId)).toHaveLength(0);

    world.alpaca.setOptionsLevel(apiKey, 2);
    const none = await world.settled(ws.token, await world.send(source, { ...rule, strikesAway: 9 }));
    expect(none.orders[0]).toMatchObject({ status: 'rejected', reason: expect.stringContaining('option_not_found: Alpaca lists no tradable AAPL call') });
    expect(submitted(none.orders[0].clientOrderId)).toHaveLength(0);
  });

  it('blocks option sizing that is not in contracts, and answers a rule that means nothing with a precise 422', async () => {
    const { ws, source } = await alpacaRoute({ mode: 'notional', value: '1000' });
    const blocked = await world.settled(ws.token, await world.send(source, rule));
    expect(blocked.orders[0]).toMatchObject({ status: 'blocked', reason: expect.stringMatching(/^option_sizing: /) });

    const res = await postSigned(world.api, source, { ...rule, price: undefined });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ code: 'validation_failed', errors: [{ path: 'price', message: expect.stringContaining('strikesAway') }] });
  });
});
