import { http } from '../support/api-app';
import { wallClock } from '../../src/common/trading-windows';
import { RoutingWorld } from '../routing/routing-harness';

/** An approved order's time-dependent limits are looked at again when it is approved; its signal's age is not. */
describe('risk limits re-checked at approval', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres');
  });
  afterAll(async () => {
    await world?.stop();
  });

  const days = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
  const hhmm = (offsetMin: number) => {
    const { minute } = wallClock(Date.now() + offsetMin * 60_000, 'America/New_York');
    return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
  };
  const windowFrom = (from: number, to: number) => [{ days, start: hhmm(from), end: hhmm(to), timezone: 'America/New_York' }];

  async function setup(limits: Record<string, unknown> = {}) {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    const routeId = await world.route(ws.token, {
      sourceId: source.id,
      connectionId: connection,
      sizing: { mode: 'fixed', value: '2' },
      approval: 'manual',
      limits,
    });
    const awaiting = async (body: Record<string, unknown> = {}) => {
      const signalId = await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100', ...body });
      for (const deadline = Date.now() + 20_000; ;) {
        const res = await http(world.api.url, 'GET', `/v1/orders?signalId=${signalId}`, { token: ws.token });
        if (res.body.items.length > 0 && res.body.items.every((o: { status: string }) => o.status === 'awaiting_approval'))
          return { signalId, order: res.body.items[0] };
        if (Date.now() > deadline) throw new Error(`never awaiting: ${res.text}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const approve = async (id: string) =>
      expect((await http(world.api.url, 'POST', `/v1/orders/${id}/approve`, { token: ws.token, body: { reason: 'ok' } })).status).toBe(200);
    const blockedAudit = () =>
      world.sql<{ reason: string; metadata: Record<string, string> }>(
        `SELECT reason, metadata FROM audit_events WHERE workspace_id = $1 AND action = 'order.blocked' ORDER BY id`,
        [ws.id],
      );
    return { ws, connection, source, routeId, awaiting, approve, blockedAudit };
  }

  it('blocks an approval that comes after the trading window closed, with the reason, audited', async () => {
    const { ws, routeId, awaiting, approve, blockedAudit } = await setup({ tradingWindows: windowFrom(-60, 60) });
    const { signalId, order } = await awaiting();
    // The window moves out from under the waiting order (as the clock passing its end would).
    const patched = await http(world.api.url, 'PATCH', `/v1/routes/${routeId}`, {
      token: ws.token,
      body: { limits: { tradingWindows: windowFrom(120, 180) } },
    });
    expect(patched.status).toBe(200);
    await approve(order.id);
    const settled = await world.settled(ws.token, signalId);
    expect(settled.status).toBe('blocked');
    expect(settled.orders[0]).toMatchObject({
      status: 'blocked',
      reason: expect.stringMatching(/^outside_trading_window: .*; entries are blocked outside them \(checked again at approval\)$/),
    });
    expect(await blockedAudit()).toEqual([
      { reason: settled.orders[0].reason, metadata: expect.objectContaining({ limit: 'tradingWindows', at: 'approval', routeId }) },
    ]);
  });

  it('blocks an approval when the position grew past maxPosition while the order waited; one inside the limit fills', async () => {
    const { ws, connection, awaiting, approve, blockedAudit } = await setup({ maxPosition: '3' });
    const other = await world.source(ws.token);
    await world.route(ws.token, { sourceId: other.id, connectionId: connection, sizing: { mode: 'fixed', value: '2' } });
    const first = await awaiting();
    // Another route of the connection buys 2 while the order waits: 2 + 2 would be 4, over 3.
    expect((await world.settled(ws.token, await world.send(other, { ticker: 'AAPL', action: 'buy', price: '100' }))).orders[0].status).toBe('filled');
    await approve(first.order.id);
    const settled = await world.settled(ws.token, first.signalId);
    expect(settled.orders[0]).toMatchObject({
      status: 'blocked',
      reason: expect.stringMatching(
        /^max_position_exceeded: buying 2 AAPL would take the position to 4 \(held 2 .*past the route's limit of 3 either way \(checked again at approval\)$/,
      ),
    });
    expect((await blockedAudit()).map((e) => e.metadata.limit)).toEqual(['maxPosition']);
    // Back at 0, an approved order of 2 is inside the limit (its own quantity is not counted twice).
    expect((await world.settled(ws.token, await world.send(other, { ticker: 'AAPL', action: 'exit', price: '100' }))).status).toBe('routed');
    const second = await awaiting();
    await approve(second.order.id);
    expect((await world.settled(ws.token, second.signalId)).orders[0].status).toBe('filled');
  });

  it('blocks an approved entry once the connection breached its daily loss limit while the order waited', async () => {
    const { ws, connection, awaiting, approve, blockedAudit } = await setup();
    const other = await world.source(ws.token);
    await world.route(ws.token, { sourceId: other.id, connectionId: connection, sizing: { mode: 'fixed', value: '10' } });
    const put = await http(world.api.url, 'PUT', `/v1/connections/${connection}/loss-limits`, {
      token: ws.token,
      body: { dailyLossLimit: '50', maxDrawdown: null, reason: 'desk' },
    });
    expect(put.status).toBe(200);
    const first = await awaiting({ ticker: 'MSFT', price: '50' });
    // Another route buys 10 AAPL at 100 and the price falls to 94 while the MSFT order waits: -60, past the limit of 50.
    expect((await world.settled(ws.token, await world.send(other, { ticker: 'AAPL', action: 'buy', price: '100' }))).orders[0].status).toBe('filled');
    const quote = await http(world.api.url, 'POST', `/v1/connections/${connection}/paper/quotes`, {
      token: ws.token,
      body: { quotes: [{ symbol: 'AAPL', price: '94' }] },
    });
    expect(quote.status).toBe(202);
    await approve(first.order.id);
    const settled = await world.settled(ws.token, first.signalId);
    expect(settled.orders[0]).toMatchObject({
      status: 'blocked',
      reason: expect.stringMatching(/^daily_loss_limit: this connection's session P&L is -60 .* \(checked again at approval\)$/),
    });
    expect((await blockedAudit()).map((e) => [e.metadata.limit, e.metadata.at])).toEqual([['dailyLossLimit', 'approval']]);
  });

  it("does not apply the signal's age again: an order approved long after its signal's time still goes", async () => {
    const { ws, awaiting, approve } = await setup({ maxSignalAgeSeconds: 30 });
    const { signalId, order } = await awaiting({ time: new Date(Date.now() - 10_000).toISOString() });
    // As if the reviewer took ten minutes: the signal's time is now far older than 30 s.
    await world.sql(`UPDATE signals SET payload = jsonb_set(payload, '{time}', to_jsonb($2::text)) WHERE id = $1`, [
      signalId,
      new Date(Date.now() - 600_000).toISOString(),
    ]);
    await approve(order.id);
    expect((await world.settled(ws.token, signalId)).orders[0].status).toBe('filled');
  });

  it("blocks an approval while the connection's kill switch is engaged", async () => {
    const { ws, connection, awaiting, approve } = await setup();
    const { signalId, order } = await awaiting();
    const put = await http(world.api.url, 'PUT', `/v1/connections/${connection}/kill-switch`, {
      token: ws.token,
      body: { engaged: true, reason: 'desk stop' },
    });
    expect(put.status).toBe(200);
    await approve(order.id);
    const settled = await world.settled(ws.token, signalId);
    expect(settled.orders[0]).toMatchObject({ status: 'blocked', reason: expect.stringMatching(/^connection_kill_switch: .*\(desk stop\)/) });
  });
});
