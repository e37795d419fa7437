import { randomBytes } from 'node:crypto';
import { http } from '../support/api-app';
import { quarterlyExpiries, startTradovateStub, TradovateStub } from '../support/brokers/tradovate-stub';
import { eventually } from '../signals/support/signals-harness';
import { RoutingWorld } from './routing-harness';

/**
 * Tradovate's placeOSO answers the bracket orders' ids (oso1Id, oso2Id): they are legs from the submit answer on, polled
 * by their order ids, and their fills count in positions, realised P&L and the loss guard; Tradovate cancels the OCO partner.
 */
describe('Tradovate bracket legs', () => {
  let world: RoutingWorld;
  let tradovate: TradovateStub;

  beforeAll(async () => {
    tradovate = await startTradovateStub();
    const es = tradovate.addProduct('ES', quarterlyExpiries(40));
    tradovate.setPrice(es[0], 6000);
    world = await RoutingWorld.start('postgres', {
      BROKER_TRADOVATE_BASE_URL: `${tradovate.url}/v1`,
      BROKER_TRADOVATE_LIVE_BASE_URL: `${tradovate.url}/v1`,
      ORDER_SYNC_INTERVAL_MS: '100',
      ORDER_SYNC_MAX_BACKOFF_MS: '200',
    });
  });

  afterAll(async () => {
    await world?.stop();
    await tradovate?.stop();
  });

  async function setup() {
    const ws = await world.workspace();
    const credentials = {
      name: `trader${randomBytes(4).toString('hex')}`,
      password: `pw-${randomBytes(8).toString('hex')}`,
      appId: 'Switchyard',
      cid: '4242',
      sec: `sec-${randomBytes(12).toString('hex')}`,
    };
    tradovate.addUser(credentials);
    const res = await http(world.api.url, 'POST', '/v1/connections', {
      token: ws.token,
      body: { broker: 'tradovate', label: 'futures', environment: 'paper', credentials },
    });
    expect(res.status).toBe(201);
    const connection: string = res.body.id;
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '2' } });
    const send = async (body: Record<string, unknown>) => world.settled(ws.token, await world.send(source, body));
    const get = (path: string) => http(world.api.url, 'GET', path, { token: ws.token });
    const order = async (id: string) => (await get(`/v1/orders/${id}`)).body;
    const legsReach = (id: string, statuses: string[]) =>
      eventually(async () => {
        const detail = await order(id);
        return JSON.stringify(detail.legs.map((l: { status: string }) => l.status)) === JSON.stringify(statuses) ? detail : undefined;
      }, 15_000);
    const pnl = async () => (await get(`/v1/connections/${connection}/pnl`)).body;
    return { ws, connection, send, get, order, legsReach, pnl };
  }

  it('the legs come from the placeOSO answer; the take-profit fill, polled until it ends, counts once in the P&L and the stop-loss is seen canceled', async () => {
    const { send, get, order, legsReach, pnl } = await setup();
    const entry = await send({ ticker: 'ES1!', action: 'buy', price: '6000', takeProfit: '6020', stopLoss: '5990' });
    const entryId = entry.orders[0].id;
    const cid = entry.orders[0].clientOrderId;
    const placed = tradovate.orderByClientId(cid)!;
    const [tpAt, slAt] = tradovate.bracketsOf(placed.id);
    const opened = await order(entryId);
    expect(opened.legs.map((l: { role: string; status: string }) => [l.role, l.status])).toEqual([
      ['take_profit', 'accepted'],
      ['stop_loss', 'accepted'],
    ]);
    const [tpId, slId] = opened.legs.map((l: { id: string }) => l.id);
    expect(await order(tpId)).toMatchObject({
      clientOrderId: `${cid}-tp`,
      brokerOrderId: String(tpAt.id),
      bracketLeg: { parentOrderId: entryId, role: 'take_profit' },
      intent: 'exit',
      side: 'sell',
      type: 'limit',
      limitPrice: '6020',
      quantity: '2',
    });
    expect(await order(slId)).toMatchObject({ brokerOrderId: String(slAt.id), side: 'sell', type: 'stop', stopPrice: '5990' });
    expect((await get(`/v1/orders?parentOrderId=${entryId}`)).body.items).toHaveLength(2);
    await eventually(async () => (await order(entryId)).status === 'filled');

    tradovate.fillBracket(`${cid}-tp`, 6020);
    const done = await legsReach(entryId, ['filled', 'canceled']);
    expect(done.legs[0]).toMatchObject({ filledQuantity: '2', averagePrice: '6020' });
    // Polled again and again until it ended: one fill row, the P&L counts it once.
    const fills = await world.sql<{ n: number }>('SELECT count(*)::int AS n FROM order_fills WHERE order_id = ANY($1::uuid[])', [[tpId, slId]]);
    expect(fills).toEqual([{ n: 1 }]);
    const legPolls = tradovate.requests.filter((r) => r.path === '/v1/order/item' && r.query.get('id') === String(tpAt.id));
    expect(legPolls.length).toBeGreaterThan(1);
    expect((await pnl()).symbols).toEqual([expect.objectContaining({ position: '0', realizedPnl: '40', fills: 2 })]);
  });

  it('a stop-loss fill counts in the loss guard', async () => {
    const { ws, connection, send, get, order, legsReach, pnl } = await setup();
    const limits = await http(world.api.url, 'PUT', `/v1/connections/${connection}/loss-limits`, {
      token: ws.token,
      body: { dailyLossLimit: '10', maxDrawdown: null, reason: 'legs' },
    });
    expect(limits.status).toBe(200);
    const entry = await send({ ticker: 'ES1!', action: 'sell', orderType: 'limit', limitPrice: '6001', price: '6000', takeProfit: '5980', stopLoss: '6010' });
    const entryId = entry.orders[0].id;
    const cid = entry.orders[0].clientOrderId;
    tradovate.fillWorking(cid, 6001);
    await eventually(async () => (await order(entryId)).status === 'filled');
    tradovate.fillBracket(`${cid}-sl`, 6010);
    const done = await legsReach(entryId, ['canceled', 'filled']);
    expect(done.legs[1]).toMatchObject({ role: 'stop_loss', filledQuantity: '2', averagePrice: '6010' });
    expect((await order(done.legs[1].id)).side).toBe('buy');
    expect((await pnl()).symbols).toEqual([expect.objectContaining({ position: '0', realizedPnl: '-18' })]);
    const session = await eventually(async () => {
      const s = (await get(`/v1/connections/${connection}`)).body.lossLimits.session;
      return s?.breachedAt ? s : undefined;
    });
    expect(session).toMatchObject({ pnl: '-18' });
  });
});
