import { http } from '../support/api-app';
import { RoutingWorld } from './routing-harness';

/** Strategy alerts read the way traders send them: sentiment, reversals, position modes, at the paper broker and the Alpaca stub. */
describe('signal semantics against the position at the broker', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres');
  });
  afterAll(async () => {
    await world?.stop();
  });

  async function setup(broker: 'paper' | 'alpaca', route: Record<string, unknown> = {}) {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, broker);
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '2' }, ...route });
    const send = async (body: Record<string, unknown>) => world.settled(ws.token, await world.send(source, { price: '100', ...body }));
    return { ws, connection, source, send, apiKey: world.keys.get(connection)?.apiKey };
  }

  const paperPosition = async (connection: string, symbol: string) =>
    (await world.sql<{ q: string }>('SELECT quantity::text AS q FROM paper_positions WHERE connection_id = $1 AND symbol = $2', [connection, symbol]))[0]?.q ??
    '0';
  const paperOrders = async (connection: string) =>
    world.sql('SELECT side, quantity::text AS quantity FROM paper_orders WHERE connection_id = $1 ORDER BY created_at', [connection]);
  const alpacaOrders = (apiKey: string) =>
    world.alpaca.orders
      .filter((o) => o.apiKey === apiKey)
      .sort((a, b) => a.arrivedAtMs - b.arrivedAtMs)
      .map((o) => [o.side, o.qty, o.client_order_id]);

  describe('a TradingView strategy alert with sentiment flat closes the position and never opens one', () => {
    it('at the paper broker: sell + flat sells the whole long, and a second one is blocked with the reason', async () => {
      const { connection, send } = await setup('paper', { sizing: { mode: 'multiplier', value: '1' } });
      expect((await send({ ticker: 'AAPL', action: 'buy', quantity: '5' })).status).toBe('routed');
      // {{strategy.order.action}} and {{strategy.market_position}} as TradingView fills them in.
      const close = await send({ ticker: 'AAPL', action: 'sell', marketPosition: 'flat', quantity: '5' });
      expect(close.status).toBe('routed');
      expect(close.orders).toEqual([expect.objectContaining({ intent: 'exit', side: 'sell', quantity: '5', status: 'filled', leg: 0 })]);
      expect(await paperPosition(connection, 'AAPL')).toBe('0');

      const again = await send({ ticker: 'AAPL', action: 'sell', sentiment: 'flat', quantity: '5' });
      expect(again.status).toBe('blocked');
      expect(again.error).toBe('no_position: there is no long AAPL position to close');
      expect(await paperOrders(connection)).toEqual([
        { side: 'buy', quantity: '5' },
        { side: 'sell', quantity: '5' },
      ]);
      expect(await paperPosition(connection, 'AAPL')).toBe('0');
    });

    it('at Alpaca: buy + flat with no short open sends nothing, not even while long', async () => {
      const { send, apiKey } = await setup('alpaca');
      const none = await send({ ticker: 'AMD', action: 'buy', sentiment: 'flat' });
      expect(none.status).toBe('blocked');
      expect(none.error).toBe('no_position: there is no short AMD position to close');
      expect(alpacaOrders(apiKey!)).toEqual([]);

      expect((await send({ ticker: 'AMD', action: 'buy' })).status).toBe('routed');
      const whileLong = await send({ ticker: 'AMD', action: 'buy', sentiment: 'flat' });
      expect(whileLong.status).toBe('blocked');
      expect(whileLong.error).toMatch(/^no_position: there is no short AMD position to close \(the position is long 2\)/);
      expect(alpacaOrders(apiKey!).map(([side]) => side)).toEqual(['buy']);
      expect(world.alpaca.positionOf(apiKey!, 'AMD')).toBe(2);
    });

    it('at Alpaca: buy + flat covers a short of any size', async () => {
      const { send, apiKey } = await setup('alpaca');
      expect((await send({ ticker: 'AMD', action: 'sell' })).status).toBe('routed');
      expect((await send({ ticker: 'AMD', action: 'sell' })).status).toBe('routed');
      const cover = await send({ ticker: 'AMD', action: 'buy', sentiment: 'flat' });
      expect(cover.orders).toEqual([expect.objectContaining({ intent: 'exit', side: 'buy', quantity: '4', status: 'filled' })]);
      expect(world.alpaca.positionOf(apiKey!, 'AMD')).toBe(0);
    });
  });

  describe('a reversal closes then opens', () => {
    it('at Alpaca: sell + short while long 3 sells 3 to close, then 2 to open, in that order', async () => {
      const { send, apiKey } = await setup('alpaca', { sizing: { mode: 'multiplier', value: '1' } });
      expect((await send({ ticker: 'TSLA', action: 'buy', quantity: '3' })).status).toBe('routed');
      const reversal = await send({ ticker: 'TSLA', action: 'sell', sentiment: 'short', quantity: '2' });
      expect(reversal.status).toBe('routed');
      const [closeLeg, openLeg] = [...reversal.orders].sort((a, b) => a.leg - b.leg);
      expect(closeLeg).toMatchObject({ leg: 0, intent: 'exit', side: 'sell', quantity: '3', status: 'filled' });
      expect(openLeg).toMatchObject({ leg: 1, intent: 'entry', side: 'sell', quantity: '2', status: 'filled' });
      expect(closeLeg.clientOrderId).not.toBe(openLeg.clientOrderId);
      expect(alpacaOrders(apiKey!).slice(1)).toEqual([
        ['sell', '3', closeLeg.clientOrderId],
        ['sell', '2', openLeg.clientOrderId],
      ]);
      expect(world.alpaca.positionOf(apiKey!, 'TSLA')).toBe(-2);
    });

    it('at the paper broker: the action alias long while short buys to cover, then buys to open', async () => {
      const { connection, send } = await setup('paper');
      expect((await send({ ticker: 'ETHUSD', action: 'short' })).status).toBe('routed');
      expect(await paperPosition(connection, 'ETHUSD')).toBe('-2');
      const reversal = await send({ ticker: 'ETHUSD', action: 'long' });
      expect(reversal.status).toBe('routed');
      expect(await paperOrders(connection)).toEqual([
        { side: 'sell', quantity: '2' },
        { side: 'buy', quantity: '2' },
        { side: 'buy', quantity: '2' },
      ]);
      expect(await paperPosition(connection, 'ETHUSD')).toBe('2');
    });

    it('from flat, skips the close and opens', async () => {
      const { send, apiKey } = await setup('alpaca');
      const result = await send({ ticker: 'NVDA', action: 'sell', sentiment: 'bearish' });
      expect(result.status).toBe('routed');
      expect([...result.orders].sort((a, b) => a.leg - b.leg).map((o) => [o.leg, o.status, o.reason])).toEqual([
        [0, 'skipped', 'no_position: there is no long NVDA position to close'],
        [1, 'filled', null],
      ]);
      expect(alpacaOrders(apiKey!).map(([side, qty]) => [side, qty])).toEqual([['sell', '2']]);
    });

    it('exactly once under retries: both answers lost, each leg sent once, close before open', async () => {
      const { send, apiKey } = await setup('alpaca');
      expect((await send({ ticker: 'META', action: 'buy' })).status).toBe('routed');
      world.alpaca.injectFaults('acceptThenHang', 2, { method: 'POST', path: /^\/v2\/orders$/ });
      const reversal = await send({ ticker: 'META', action: 'sell', sentiment: 'short' });
      expect(reversal.status).toBe('routed');
      const legs = [...reversal.orders].sort((a, b) => a.leg - b.leg);
      expect(legs.map((o) => o.attempts)).toEqual([2, 2]);
      expect(alpacaOrders(apiKey!).slice(1)).toEqual([
        ['sell', '2', legs[0].clientOrderId],
        ['sell', '2', legs[1].clientOrderId],
      ]);
      expect(world.alpaca.positionOf(apiKey!, 'META')).toBe(-2);
    });

    it('does not open when the close is refused', async () => {
      const { send, apiKey } = await setup('alpaca');
      expect((await send({ ticker: 'IBM', action: 'buy' })).status).toBe('routed');
      world.alpaca.replyToNextOrder({ status: 403, body: { code: 40310000, message: 'insufficient qty available for order' } });
      const reversal = await send({ ticker: 'IBM', action: 'sell', sentiment: 'short' });
      const legs = [...reversal.orders].sort((a, b) => a.leg - b.leg);
      expect(legs.map((o) => o.status)).toEqual(['rejected', 'blocked']);
      expect(legs[1].reason).toMatch(
        /^close_not_done: the closing order of this reversal ended rejected \(.*insufficient qty available for order.*\); the opening order was not sent$/,
      );
      expect(reversal.status).toBe('failed');
      expect(alpacaOrders(apiKey!).map(([side]) => side)).toEqual(['buy']);
    });
  });

  describe('per-route position mode', () => {
    it('a long-only route closes the long on sell and never opens a short', async () => {
      const { send, apiKey } = await setup('alpaca', { positionMode: 'long_only' });
      const flat = await send({ ticker: 'AAPL', action: 'sell' });
      expect([flat.status, flat.error]).toEqual(['blocked', 'no_position: there is no long AAPL position to close']);
      expect((await send({ ticker: 'AAPL', action: 'buy' })).status).toBe('routed');
      const reversal = await send({ ticker: 'AAPL', action: 'sell', sentiment: 'short' });
      expect(reversal.orders).toEqual([expect.objectContaining({ intent: 'exit', side: 'sell', quantity: '2', status: 'filled' })]);
      expect(world.alpaca.positionOf(apiKey!, 'AAPL')).toBe(0);
      expect(alpacaOrders(apiKey!).map(([side]) => side)).toEqual(['buy', 'sell']);
    });

    it('entryWhenOpen ignore blocks an entry in an open direction with the reason; add still adds', async () => {
      const { ws, send, apiKey } = await setup('alpaca', { entryWhenOpen: 'ignore' });
      expect((await send({ ticker: 'MSFT', action: 'buy' })).status).toBe('routed');
      const again = await send({ ticker: 'MSFT', action: 'buy' });
      expect([again.status, again.error]).toEqual([
        'blocked',
        'position_open: a long MSFT position of 2 is already open and this route ignores entries in an open direction',
      ]);
      expect((await send({ ticker: 'MSFT', action: 'add' })).status).toBe('routed');
      expect(world.alpaca.positionOf(apiKey!, 'MSFT')).toBe(4);
      const nothing = await send({ ticker: 'GOOG', action: 'add' });
      expect([nothing.status, nothing.error]).toEqual(['blocked', 'no_position: add needs an open GOOG position to add to; there is none']);

      const routes = await http(world.api.url, 'GET', '/v1/routes', { token: ws.token });
      expect(routes.body.items[0]).toMatchObject({ positionMode: 'both', entryWhenOpen: 'ignore' });
    });

    it('refuses an unknown position mode with a 422 naming the field', async () => {
      const ws = await world.workspace();
      const connection = await world.connect(ws.token, 'paper');
      const source = await world.source(ws.token);
      const res = await http(world.api.url, 'POST', '/v1/routes', {
        token: ws.token,
        body: { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '1' }, positionMode: 'sideways' },
      });
      expect(res.status).toBe(422);
      expect(JSON.stringify(res.body.errors)).toContain('positionMode');
    });
  });

  it('sends a TradingView ticker with its exchange prefix to Alpaca by the bare symbol, and blocks unmapped continuous futures', async () => {
    const { send, apiKey } = await setup('alpaca');
    const amd = await send({ ticker: 'NASDAQ:AMD', action: 'buy' });
    expect(amd.orders).toEqual([expect.objectContaining({ symbol: 'AMD', status: 'filled' })]);
    expect(world.alpaca.orders.filter((o) => o.apiKey === apiKey).map((o) => o.symbol)).toEqual(['AMD']);
    const future = await send({ ticker: 'CME_MINI:ES1!', action: 'buy' });
    expect([future.status, future.error]).toEqual([
      'blocked',
      expect.stringMatching(/^symbol_unmapped: CME_MINI:ES1! is TradingView's continuous futures notation/),
    ]);
    expect(world.alpaca.orders.filter((o) => o.apiKey === apiKey)).toHaveLength(1);
  });

  it('lists the fields it ignored in the signal view and keeps them out of routing', async () => {
    const { ws, source } = await setup('paper');
    const signalId = await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100', comment: 'entry L1', strategyName: 'x' });
    await world.settled(ws.token, signalId);
    const view = await http(world.api.url, 'GET', `/v1/signals/${signalId}`, { token: ws.token });
    expect(view.body.ignoredFields).toEqual(['comment', 'strategyName']);
    expect(view.body.payload).not.toHaveProperty('ignoredFields');
    expect(view.body.payload).not.toHaveProperty('comment');
  });
});
