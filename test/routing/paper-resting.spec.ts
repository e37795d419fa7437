import { crossingFill, Quote } from '../../src/brokers/paper/paper-crossing';
import { http } from '../support/api-app';
import { eventually } from '../signals/support/signals-harness';
import { RoutingWorld } from './routing-harness';

const quotes = (...prices: string[]): Quote[] => prices.map((price, i) => ({ price, at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) }));

describe('paper crossing rules', () => {
  it('fills a limit at the first price at or through it', () => {
    expect(crossingFill({ side: 'buy', orderType: 'limit', limitPrice: '95', stopPrice: null }, quotes('96', '95.01', '95', '90'))?.price).toBe('95');
    expect(crossingFill({ side: 'buy', orderType: 'limit', limitPrice: '95', stopPrice: null }, quotes('96', '95.01'))).toBeUndefined();
    expect(crossingFill({ side: 'sell', orderType: 'limit', limitPrice: '105', stopPrice: null }, quotes('104.99', '106'))?.price).toBe('106');
  });

  it('triggers a stop when a price reaches it and fills there', () => {
    expect(crossingFill({ side: 'sell', orderType: 'stop', limitPrice: null, stopPrice: '90' }, quotes('91', '90.01', '89.5', '96'))?.price).toBe('89.5');
    expect(crossingFill({ side: 'sell', orderType: 'stop', limitPrice: null, stopPrice: '90' }, quotes('90.01'))).toBeUndefined();
    expect(crossingFill({ side: 'buy', orderType: 'stop', limitPrice: null, stopPrice: '110' }, quotes('110'))?.price).toBe('110');
  });

  it('fills a stop-limit only within its limit, from its trigger on', () => {
    const order = { side: 'buy' as const, orderType: 'stop_limit', limitPrice: '111', stopPrice: '110' };
    expect(crossingFill(order, quotes('109', '112', '110.5'))?.price).toBe('110.5');
    expect(crossingFill(order, quotes('100', '109', '112'))).toBeUndefined(); // 100 is within the limit but before the trigger
    expect(crossingFill(order, quotes('110', '115'))?.price).toBe('110');
  });

  it('never fills a market or unknown type from quotes', () => {
    expect(crossingFill({ side: 'buy', orderType: 'market', limitPrice: null, stopPrice: null }, quotes('1'))).toBeUndefined();
  });
});

/** Resting paper orders filled by later prices, seen through the order lifecycle (OrderSync polls the paper broker like any other). */
describe('paper broker fills resting orders when a later price crosses them', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres', { ORDER_SYNC_INTERVAL_MS: '100', ORDER_SYNC_MAX_BACKOFF_MS: '200' });
  });
  afterAll(async () => {
    await world?.stop();
  });

  async function setup() {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '2' } });
    const send = async (body: Record<string, unknown>) => world.settled(ws.token, await world.send(source, { ticker: 'AAPL', ...body }));
    const order = (id: string) => http(world.api.url, 'GET', `/v1/orders/${id}`, { token: ws.token }).then((r) => r.body);
    const filled = (id: string) => eventually(async () => ((await order(id)).status === 'filled' ? order(id) : undefined), 15_000);
    const position = async () =>
      (await world.sql<{ q: string }>('SELECT quantity::text AS q FROM paper_positions WHERE connection_id = $1 AND symbol = $2', [connection, 'AAPL']))[0]
        ?.q ?? '0';
    return { ws, connection, send, order, filled, position };
  }

  it('a limit buy rests, then fills at the price of a later signal that crosses it, reported by the lifecycle', async () => {
    const { send, order, filled, position } = await setup();
    const resting = await send({ action: 'buy', orderType: 'limit', limitPrice: '95', price: '100' });
    expect(resting.orders).toEqual([expect.objectContaining({ status: 'accepted' })]);
    const restingId = resting.orders[0].id;

    const notYet = await send({ action: 'buy', orderType: 'limit', limitPrice: '90', price: '95.01' });
    expect(notYet.orders[0].status).toBe('accepted');
    expect((await order(restingId)).status).toBe('accepted');
    expect(await position()).toBe('0');

    await send({ action: 'buy', orderType: 'limit', limitPrice: '80', price: '94' });
    const done = await filled(restingId);
    expect(done).toMatchObject({ status: 'filled', filledQuantity: '2', averagePrice: '94' });
    expect(done.fills).toEqual([expect.objectContaining({ quantity: '2', price: '94' })]);
    expect(done.transitions.map((t: { from: string | null; to: string }) => t.to)).toEqual(expect.arrayContaining(['accepted', 'filled']));
    expect(await position()).toBe('2');
    // The 90 limit was placed before 94 was seen and 94 does not reach it: it still rests.
    expect((await order(notYet.orders[0].id)).status).toBe('accepted');
  });

  it('POST /v1/connections/:id/paper/quotes: a sell stop fills at the first posted price through it, even when a later one is back above', async () => {
    const { ws, connection, send, filled, position } = await setup();
    expect((await send({ action: 'buy', price: '100' })).status).toBe('routed');
    const stop = await send({ action: 'sell', orderType: 'stop', stopPrice: '90', price: '95' });
    expect(stop.orders[0].status).toBe('accepted');
    const posted = await http(world.api.url, 'POST', `/v1/connections/${connection}/paper/quotes`, {
      token: ws.token,
      body: {
        quotes: [
          { symbol: 'AAPL', price: '91' },
          { symbol: 'AAPL', price: 89.5 },
          { symbol: 'AAPL', price: '96' },
        ],
      },
    });
    expect([posted.status, posted.body]).toEqual([202, { connectionId: connection, quotes: 3 }]);
    const done = await filled(stop.orders[0].id);
    expect(done.fills).toEqual([expect.objectContaining({ quantity: '2', price: '89.5' })]);
    expect(await position()).toBe('0');
    // The P&L of the recorded fills sees the stop's fill like a real broker's.
    const pnl = await http(world.api.url, 'GET', `/v1/connections/${connection}/pnl`, { token: ws.token });
    expect(pnl.body.symbols).toEqual([expect.objectContaining({ symbol: 'AAPL', position: '0', realizedPnl: '-21' })]);
  });

  it('refuses quotes for another broker, bad prices, viewers and unknown connections', async () => {
    const ws = await world.workspace();
    const alpaca = await world.connect(ws.token, 'alpaca');
    const paper = await world.connect(ws.token, 'paper');
    const post = (id: string, body: unknown, token = ws.token) => http(world.api.url, 'POST', `/v1/connections/${id}/paper/quotes`, { token, body });
    const notPaper = await post(alpaca, { quotes: [{ symbol: 'AAPL', price: '1' }] });
    expect([notPaper.status, notPaper.body.code]).toEqual([422, 'not_paper_connection']);
    const bad = await post(paper, {
      quotes: [
        { symbol: 'AAPL', price: '0' },
        { symbol: 'A A', price: '-1' },
      ],
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(['quotes.0.price', 'quotes.1.symbol', 'quotes.1.price']);
    expect((await post(paper, { quotes: [] })).status).toBe(422);
    expect((await post('00000000-0000-4000-8000-000000000000', { quotes: [{ symbol: 'AAPL', price: '1' }] })).status).toBe(404);
    const viewer = await http(world.api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'v', role: 'viewer' } });
    expect((await post(paper, { quotes: [{ symbol: 'AAPL', price: '1' }] }, viewer.body.token)).status).toBe(403);
  });
});
