import { http } from '../support/api-app';
import { eventually } from '../signals/support/signals-harness';
import { RoutingWorld } from './routing-harness';

/**
 * A bracket's take-profit and stop-loss are orders of their own: recorded from the broker's answers, followed at the
 * broker like any order, and their fills count in positions and realised P&L; the sibling of a filled leg ends canceled.
 */
describe('bracket legs as their own orders', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres', { ORDER_SYNC_INTERVAL_MS: '100', ORDER_SYNC_MAX_BACKOFF_MS: '200' });
  });
  afterAll(async () => {
    await world?.stop();
  });

  async function setup(broker: 'alpaca' | 'paper', quantity: string) {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, broker);
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: quantity } });
    const send = async (body: Record<string, unknown>) => world.settled(ws.token, await world.send(source, body));
    const get = (path: string) => http(world.api.url, 'GET', path, { token: ws.token });
    const order = async (id: string) => (await get(`/v1/orders/${id}`)).body;
    /** The entry's detail once its legs show `statuses` (take-profit first). */
    const legsReach = (id: string, statuses: string[]) =>
      eventually(async () => {
        const detail = await order(id);
        return JSON.stringify(detail.legs.map((l: { status: string }) => l.status)) === JSON.stringify(statuses) ? detail : undefined;
      }, 15_000);
    const pnl = async () => (await get(`/v1/connections/${connection}/pnl`)).body;
    return { ws, connection, send, get, order, legsReach, pnl };
  }

  describe('Alpaca (stub)', () => {
    it("records the legs from the submit answer; a take-profit fill closes the position, realises the P&L, and Alpaca's OCO cancel of the stop-loss is seen", async () => {
      const { connection, send, get, order, legsReach, pnl } = await setup('alpaca', '10');
      const entry = await send({ ticker: 'MSFT', action: 'buy', price: '100', takeProfit: '110', stopLoss: '95' });
      expect(entry.status).toBe('routed');
      expect(entry.orders).toHaveLength(1); // the signal's orders are what routing planned; legs hang under the entry
      const entryId = entry.orders[0].id;
      expect(entry.orders[0]).toMatchObject({ status: 'filled', bracketLeg: null });

      // Alpaca answered the bracket with both legs: each is an order row, working at the broker.
      const opened = await order(entryId);
      expect(opened.legs).toEqual([
        { id: expect.any(String), role: 'take_profit', status: 'accepted', filledQuantity: null, averagePrice: null },
        { id: expect.any(String), role: 'stop_loss', status: 'accepted', filledQuantity: null, averagePrice: null },
      ]);
      const [tp, sl] = opened.legs.map((l: { id: string }) => l.id);
      const tpView = await order(tp);
      expect(tpView).toMatchObject({ bracketLeg: { parentOrderId: entryId, role: 'take_profit' }, intent: 'exit', side: 'sell', type: 'limit', limitPrice: '110', quantity: '10' });
      expect(await order(sl)).toMatchObject({ bracketLeg: { parentOrderId: entryId, role: 'stop_loss' }, side: 'sell', type: 'stop', stopPrice: '95' });
      const listed = await get(`/v1/orders?parentOrderId=${entryId}`);
      expect(listed.body.items.map((o: { id: string }) => o.id).sort()).toEqual([tp, sl].sort());

      // The market reaches the take-profit: Alpaca fills it and cancels its OCO partner itself.
      const parent = world.alpaca.ordersByClientId.get(entry.orders[0].clientOrderId)!;
      world.alpaca.fillPart(parent.legs![0].client_order_id, 10, 110);
      const done = await legsReach(entryId, ['filled', 'canceled']);
      expect(done.legs[0]).toMatchObject({ filledQuantity: '10', averagePrice: '110' });
      expect((await order(tp)).fills).toEqual([expect.objectContaining({ quantity: '10', price: '110' })]);
      expect(world.alpaca.positionOf(world.keys.get(connection)!.apiKey, 'MSFT')).toBe(0);
      expect((await pnl()).symbols).toEqual([expect.objectContaining({ symbol: 'MSFT', position: '0', realizedPnl: '100', fills: 2 })]);

      // Seen again (a re-poll of the entry, the sweep) the legs count once.
      expect((await pnl()).symbols[0].fills).toBe(2);
    });
  });

  describe('paper broker', () => {
    it('legs rest once the entry fills; the first price through the take-profit fills it and cancels the stop-loss', async () => {
      const { ws, connection, send, order, legsReach, pnl } = await setup('paper', '2');
      const entry = await send({ ticker: 'AAPL', action: 'buy', price: '100', takeProfit: '110', stopLoss: '95' });
      expect(entry.orders[0].status).toBe('filled');
      const entryId = entry.orders[0].id;
      const opened = await order(entryId);
      expect(opened.legs.map((l: { role: string; status: string }) => [l.role, l.status])).toEqual([['take_profit', 'accepted'], ['stop_loss', 'accepted']]);
      expect((await order(opened.legs[0].id)).clientOrderId).toBe(`${entry.orders[0].clientOrderId}-tp`);

      // 105 crosses neither; 111 crosses the take-profit first; 94 would have reached the stop, but it is canceled by then.
      const posted = await http(world.api.url, 'POST', `/v1/connections/${connection}/paper/quotes`, {
        token: ws.token,
        body: { quotes: [{ symbol: 'AAPL', price: '105' }, { symbol: 'AAPL', price: '111' }, { symbol: 'AAPL', price: '94' }] },
      });
      expect(posted.status).toBe(202);
      const done = await legsReach(entryId, ['filled', 'canceled']);
      expect(done.legs[0]).toMatchObject({ filledQuantity: '2', averagePrice: '111' });
      const book = await world.sql<{ status: string; bracket_role: string }>(
        'SELECT status, bracket_role FROM paper_orders WHERE connection_id = $1 AND parent_id IS NOT NULL ORDER BY bracket_role DESC',
        [connection],
      );
      expect(book).toEqual([{ status: 'filled', bracket_role: 'take_profit' }, { status: 'canceled', bracket_role: 'stop_loss' }]);
      expect((await world.sql('SELECT quantity::text AS q FROM paper_positions WHERE connection_id = $1', [connection]))[0]).toEqual({ q: '0' });
      expect((await pnl()).symbols).toEqual([expect.objectContaining({ symbol: 'AAPL', position: '0', realizedPnl: '22' })]);
    });

    it("a resting entry's legs are first seen by the lifecycle poll of the entry; a stop-loss fill counts in P&L and the loss guard", async () => {
      const { ws, connection, send, order, legsReach, pnl, get } = await setup('paper', '10');
      const limits = await http(world.api.url, 'PUT', `/v1/connections/${connection}/loss-limits`, { token: ws.token, body: { dailyLossLimit: '20', maxDrawdown: null, reason: 'legs' } });
      expect(limits.status).toBe(200);
      const entry = await send({ ticker: 'AAPL', action: 'buy', orderType: 'limit', limitPrice: '95', price: '100', takeProfit: '105', stopLoss: '92' });
      expect(entry.orders[0].status).toBe('accepted');
      const entryId = entry.orders[0].id;
      expect((await order(entryId)).legs).toEqual([]);

      // 94 fills the entry (the same price touches no leg: they rest from just after it); 91 then triggers the stop.
      await send({ ticker: 'AAPL', action: 'buy', orderType: 'limit', limitPrice: '80', price: '94' });
      await legsReach(entryId, ['accepted', 'accepted']);
      await send({ ticker: 'AAPL', action: 'buy', orderType: 'limit', limitPrice: '80', price: '91' });
      const done = await legsReach(entryId, ['canceled', 'filled']);
      expect(done.legs[1]).toMatchObject({ role: 'stop_loss', filledQuantity: '10', averagePrice: '91' });
      expect((await pnl()).symbols).toEqual([expect.objectContaining({ symbol: 'AAPL', position: '0', realizedPnl: '-30' })]);
      // The loss guard saw the leg's fill: the session's loss of 30 breaches the limit of 20, and the next entry is blocked.
      const session = await eventually(async () => {
        const s = (await get(`/v1/connections/${connection}`)).body.lossLimits.session;
        return s?.breachedAt ? s : undefined;
      });
      expect(session).toMatchObject({ pnl: '-30' });
      const blocked = await send({ ticker: 'MSFT', action: 'buy', price: '50' });
      expect(blocked.orders[0].reason).toMatch(/^daily_loss_limit: /);
    });
  });
});

/** Alpaca trade_updates carry the legs' own events: with polling off, the stream alone records a leg's fill and its sibling's cancel. */
describe('bracket legs through the Alpaca stream', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    // Polling effectively off: after the start-up sweep the poller's next pass is an hour away.
    world = await RoutingWorld.start('postgres', { ORDER_SYNC_INTERVAL_MS: '3600000', ORDER_STREAM_REFRESH_MS: '200', ORDER_STREAM_RECONNECT_MAX_MS: '1000' });
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('a resting bracket entry fills, then its stop-loss: both seen by trade_updates, the take-profit canceled, no leg polled', async () => {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'alpaca');
    const apiKey = world.keys.get(connection)!.apiKey;
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '10' } });
    const settled = await world.settled(ws.token, await world.send(source, { ticker: 'NVDA', action: 'buy', orderType: 'limit', limitPrice: '101', price: '105', takeProfit: '110', stopLoss: '95' }));
    const entryId = settled.orders[0].id;
    const order = async (id: string) => (await http(world.api.url, 'GET', `/v1/orders/${id}`, { token: ws.token })).body;
    expect((await order(entryId)).legs.map((l: { status: string }) => l.status)).toEqual(['accepted', 'accepted']); // `held` at Alpaca: working
    await eventually(async () => world.alpaca.stream.listening(apiKey) === 1);

    const parent = world.alpaca.ordersByClientId.get(settled.orders[0].clientOrderId)!;
    world.alpaca.fillPart(parent.client_order_id, 10, 101);
    await eventually(async () => (await order(entryId)).status === 'filled');
    world.alpaca.fillPart(parent.legs![1].client_order_id, 10, 94);
    const done = await eventually(async () => {
      const detail = await order(entryId);
      return detail.legs.every((l: { status: string }) => l.status !== 'accepted') ? detail : undefined;
    });
    expect(done.legs).toEqual([
      expect.objectContaining({ role: 'take_profit', status: 'canceled' }),
      expect.objectContaining({ role: 'stop_loss', status: 'filled', filledQuantity: '10', averagePrice: '94' }),
    ]);
    const legLookups = world.alpaca.requests.filter(
      (r) => r.path === '/v2/orders:by_client_order_id' && parent.legs!.some((l) => l.client_order_id === r.query.get('client_order_id')),
    );
    expect(legLookups).toHaveLength(0);
    const pnl = await http(world.api.url, 'GET', `/v1/connections/${connection}/pnl`, { token: ws.token });
    expect(pnl.body.symbols).toEqual([expect.objectContaining({ symbol: 'NVDA', position: '0', realizedPnl: '-70' })]);
  });
});
