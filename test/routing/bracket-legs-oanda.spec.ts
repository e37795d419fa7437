import { randomBytes } from 'node:crypto';
import { http } from '../support/api-app';
import { OandaStub, startOandaStub } from '../support/brokers/oanda-stub';
import { eventually } from '../signals/support/signals-harness';
import { RoutingWorld } from './routing-harness';

/**
 * OANDA's take-profit and stop-loss are orders v20 creates for the trade an entry's fill opens (takeProfitOnFill /
 * stopLossOnFill, with the client ids we give them): they are legs, recorded once whichever answer shows them first
 * (the submit answer, a poll, the transaction stream), and their fills count in positions, realised P&L and the loss guard.
 */
async function oandaWorld(oanda: OandaStub, env: Record<string, string>) {
  const world = await RoutingWorld.start('postgres', {
    BROKER_OANDA_BASE_URL: oanda.url,
    BROKER_OANDA_STREAM_URL: oanda.url,
    ORDER_STREAM_REFRESH_MS: '200',
    ORDER_STREAM_RECONNECT_MAX_MS: '1000',
    ...env,
  });
  const setup = async () => {
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
    const send = async (body: Record<string, unknown>) => world.settled(ws.token, await world.send(source, body));
    const get = (path: string) => http(world.api.url, 'GET', path, { token: ws.token });
    const order = async (id: string) => (await get(`/v1/orders/${id}`)).body;
    const legsReach = (id: string, statuses: string[]) =>
      eventually(async () => {
        const detail = await order(id);
        return JSON.stringify(detail.legs.map((l: { status: string }) => l.status)) === JSON.stringify(statuses) ? detail : undefined;
      }, 15_000);
    const pnl = async () => (await get(`/v1/connections/${connection}/pnl`)).body;
    const legRows = (entryId: string) =>
      world.sql<{ role: string; n: number; fills: number; ackBeforeEntry: boolean }>(
        `SELECT l.bracket_role AS role, count(*)::int AS n, (SELECT count(*)::int FROM order_fills f WHERE f.order_id = ANY(array_agg(l.id))) AS fills,
                bool_and(l.acknowledged_at < p.acknowledged_at) AS "ackBeforeEntry"
           FROM orders l JOIN orders p ON p.id = l.parent_order_id WHERE l.parent_order_id = $1 GROUP BY l.bracket_role ORDER BY l.bracket_role DESC`,
        [entryId],
      );
    return { ws, account, connection, send, get, order, legsReach, pnl, legRows };
  };
  return { world, setup };
}

describe('OANDA bracket legs (polling and stream)', () => {
  let oanda: OandaStub;
  let world: RoutingWorld;
  let setup: Awaited<ReturnType<typeof oandaWorld>>['setup'];
  beforeAll(async () => {
    oanda = await startOandaStub();
    // A slow submit answer (below) must stay within the broker timeout.
    ({ world, setup } = await oandaWorld(oanda, { ORDER_SYNC_INTERVAL_MS: '100', ORDER_SYNC_MAX_BACKOFF_MS: '200', BROKER_TIMEOUT_MS: '3000' }));
  });
  afterAll(async () => {
    await world?.stop();
    await oanda?.stop();
  });

  it('a market bracket filled at once has its legs from the submit answer; the take-profit fill closes the trade, v20 cancels the stop-loss, the P&L counts it once', async () => {
    const { send, get, order, legsReach, pnl, legRows } = await setup();
    const entry = await send({ ticker: 'OANDA:EURUSD', action: 'buy', price: '1.1', takeProfit: '1.12', stopLoss: '1.09' });
    expect(entry.orders[0]).toMatchObject({ status: 'filled', bracketLeg: null });
    const entryId = entry.orders[0].id;
    const opened = await order(entryId);
    expect(opened.legs.map((l: { role: string; status: string }) => [l.role, l.status])).toEqual([
      ['take_profit', 'accepted'],
      ['stop_loss', 'accepted'],
    ]);
    const [tpId, slId] = opened.legs.map((l: { id: string }) => l.id);
    const tp = await order(tpId);
    const tpAtOanda = oanda.ordersByClientId.get(`${entry.orders[0].clientOrderId}-tp`)!;
    expect(tp).toMatchObject({
      clientOrderId: `${entry.orders[0].clientOrderId}-tp`,
      brokerOrderId: tpAtOanda.id,
      bracketLeg: { parentOrderId: entryId, role: 'take_profit' },
      intent: 'exit',
      side: 'sell',
      type: 'limit',
      limitPrice: '1.12',
      quantity: '1000',
    });
    expect(await order(slId)).toMatchObject({ bracketLeg: { role: 'stop_loss' }, side: 'sell', type: 'stop', stopPrice: '1.09' });
    expect((await get(`/v1/orders?parentOrderId=${entryId}`)).body.items).toHaveLength(2);

    oanda.fillPending(`${entry.orders[0].clientOrderId}-tp`, 1.12);
    const done = await legsReach(entryId, ['filled', 'canceled']);
    expect(done.legs[0]).toMatchObject({ filledQuantity: '1000', averagePrice: '1.12' });
    expect((await order(slId)).reason).toBe('order cancelled at OANDA (LINKED_TRADE_CLOSED)');
    expect(oanda.positionOf(oanda.orders.find((o) => o.id === tpAtOanda.id)!.accountId, 'EUR_USD')).toBe(0);
    const symbols = (await pnl()).symbols;
    expect(symbols).toEqual([expect.objectContaining({ position: '0', realizedPnl: '20', fills: 2 })]);
    // Seen by the submit answer, by polls and by the transaction stream: one row per leg, one fill.
    expect((await legRows(entryId)).map(({ role, n, fills }) => ({ role, n, fills }))).toEqual([
      { role: 'take_profit', n: 1, fills: 1 },
      { role: 'stop_loss', n: 1, fills: 0 },
    ]);
  });

  it('the stream reports the entry fill and its legs before the submit answer is recorded: the legs are recorded once, the stream first', async () => {
    const { account, send, order, legRows } = await setup();
    // A resting order brings the connection's stream up.
    const resting = await send({ ticker: 'OANDA:GBPUSD', action: 'buy', orderType: 'limit', limitPrice: '1.05', price: '1.1' });
    expect(resting.orders[0].status).toBe('accepted');
    await eventually(async () => oanda.stream.listening(account.accountId) === 1);

    oanda.delayNextOrderReply(1_000);
    const entry = await send({ ticker: 'OANDA:EURUSD', action: 'sell', price: '1.1', takeProfit: '1.08', stopLoss: '1.11' });
    const entryId = entry.orders[0].id;
    expect(entry.orders[0]).toMatchObject({ status: 'filled' });
    expect((await order(entryId)).fills).toHaveLength(1);
    // The legs' rows predate the entry's answer: the stream recorded them while the entry was still `submitted`.
    expect(await legRows(entryId)).toEqual([
      { role: 'take_profit', n: 1, fills: 0, ackBeforeEntry: true },
      { role: 'stop_loss', n: 1, fills: 0, ackBeforeEntry: true },
    ]);
    const view = await order(entryId);
    expect(view.legs.map((l: { status: string }) => l.status)).toEqual(['accepted', 'accepted']);
    expect((await order(view.legs[1].id)).side).toBe('buy');
  });
});

describe('OANDA bracket legs through the transaction stream alone', () => {
  let oanda: OandaStub;
  let world: RoutingWorld;
  let setup: Awaited<ReturnType<typeof oandaWorld>>['setup'];
  beforeAll(async () => {
    oanda = await startOandaStub();
    // Polling effectively off: after the start-up sweep the poller's next pass is an hour away.
    ({ world, setup } = await oandaWorld(oanda, { ORDER_SYNC_INTERVAL_MS: '3600000' }));
  });
  afterAll(async () => {
    await world?.stop();
    await oanda?.stop();
  });

  it("a resting entry's fill streams its legs (the ON_FILL orders after the fill); the stop-loss fill counts in P&L and the loss guard, no leg is polled", async () => {
    const { ws, account, connection, send, get, order, legsReach, pnl } = await setup();
    const limits = await http(world.api.url, 'PUT', `/v1/connections/${connection}/loss-limits`, {
      token: ws.token,
      body: { dailyLossLimit: '5', maxDrawdown: null, reason: 'legs' },
    });
    expect(limits.status).toBe(200);
    const entry = await send({
      ticker: 'OANDA:EURUSD',
      action: 'buy',
      orderType: 'limit',
      limitPrice: '1.09',
      price: '1.1',
      takeProfit: '1.12',
      stopLoss: '1.08',
    });
    expect(entry.orders[0].status).toBe('accepted');
    const entryId = entry.orders[0].id;
    const cid = entry.orders[0].clientOrderId;
    await eventually(async () => oanda.stream.listening(account.accountId) === 1);
    expect((await order(entryId)).legs).toEqual([]);

    oanda.fillPending(cid, 1.09);
    await legsReach(entryId, ['accepted', 'accepted']);
    expect((await order(entryId)).status).toBe('filled');
    oanda.fillPending(`${cid}-sl`, 1.08);
    const done = await legsReach(entryId, ['canceled', 'filled']);
    expect(done.legs[1]).toMatchObject({ role: 'stop_loss', filledQuantity: '1000', averagePrice: '1.08' });
    expect((await pnl()).symbols).toEqual([expect.objectContaining({ position: '0', realizedPnl: '-10', fills: 2 })]);
    const legLookups = oanda.requests.filter((r) => r.path.endsWith(`/orders/@${cid}-tp`) || r.path.endsWith(`/orders/@${cid}-sl`));
    expect(legLookups).toHaveLength(0);
    // The loss guard saw the leg's fill: a loss of 10 breaches the limit of 5.
    const session = await eventually(async () => {
      const s = (await get(`/v1/connections/${connection}`)).body.lossLimits.session;
      return s?.breachedAt ? s : undefined;
    });
    expect(session).toMatchObject({ pnl: '-10' });
  });
});
