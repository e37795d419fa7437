import { http } from '../support/api-app';
import { eventually } from '../signals/support/signals-harness';
import { RoutingWorld } from '../routing/routing-harness';

/** A fresh quote alone (unrealised loss, no fill, no signal) can breach a connection's loss limit; the worker acts on it. */
describe('quote-triggered loss checks', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres');
  });
  afterAll(async () => {
    await world?.stop();
  });

  async function setup(limits: Record<string, unknown>) {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '10' } });
    const put = await http(world.api.url, 'PUT', `/v1/connections/${connection}/loss-limits`, { token: ws.token, body: { reason: 'desk rule', ...limits } });
    expect(put.status).toBe(200);
    expect((await world.settled(ws.token, await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100' }))).orders[0].status).toBe('filled'); // 10 at 100
    const quote = async (price: string) =>
      expect(
        (await http(world.api.url, 'POST', `/v1/connections/${connection}/paper/quotes`, { token: ws.token, body: { quotes: [{ symbol: 'AAPL', price }] } }))
          .status,
      ).toBe(202);
    const view = async () => (await http(world.api.url, 'GET', `/v1/connections/${connection}`, { token: ws.token })).body;
    const audit = (actions: string[]) =>
      world.sql<{ action: string; reason: string; metadata: any; actor_id: string }>(
        'SELECT action, reason, metadata, actor_id FROM audit_events WHERE workspace_id = $1 AND action = ANY($2) ORDER BY id',
        [ws.id, actions],
      );
    /** Waits until the worker has looked at every quote of the connection. */
    const looked = () =>
      eventually(async () => {
        const [r] = await world.sql<{ done: boolean }>(
          `SELECT k.quotes_checked_at >= (SELECT max(quoted_at) FROM paper_quotes q WHERE q.connection_id = k.connection_id) AS done FROM connection_risk k WHERE k.connection_id = $1`,
          [connection],
        );
        return r?.done ? true : undefined;
      }, 20_000);
    return { ws, connection, source, quote, view, audit, looked };
  }

  it('a quote just inside the limit records the P&L; one reaching it flattens and engages the switch in one audited step, with no signal', async () => {
    const { ws, quote, view, audit, looked } = await setup({ dailyLossLimit: '50', maxDrawdown: null, action: 'flatten' });
    await quote('95.01'); // -49.9
    await looked();
    expect((await view()).lossLimits.session).toEqual(expect.objectContaining({ pnl: '-49.9', breachedAt: null }));
    expect(await audit(['connection.loss_limit_breached'])).toEqual([]);

    await quote('95'); // -50: reached
    const flattened = await eventually(async () => {
      const rows = await world.sql<{ id: string; status: string }>(
        `SELECT f.id, c.status FROM flattens f JOIN flatten_connections c ON c.flatten_id = f.id WHERE f.workspace_id = $1`,
        [ws.id],
      );
      return rows.length > 0 && rows.every((r) => r.status === 'done') ? rows : undefined;
    }, 20_000);
    expect(flattened).toHaveLength(1);
    const v = await view();
    expect(v.killSwitch.engaged).toBe(true);
    expect(v.lossLimits.session).toEqual(expect.objectContaining({ breachLimit: 'dailyLossLimit', flattenId: flattened[0].id }));
    const events = await audit(['connection.loss_limit_breached', 'flatten.request', 'connection.kill_switch']);
    expect(events.map((e) => [e.action, e.actor_id])).toEqual([
      ['connection.loss_limit_breached', 'quote-watch'],
      ['flatten.request', 'quote-watch'],
      ['connection.kill_switch', 'quote-watch'],
    ]);
    expect(events[0].reason).toMatch(/^daily_loss_limit: this connection's session P&L is -50 .*unrealised -50 at the latest prices Switchyard saw\);/);
    const orders = await http(world.api.url, 'GET', '/v1/orders?limit=500', { token: ws.token });
    expect(orders.body.items).toHaveLength(1); // the entry only: no signal made the breach
  });

  it('a quote that takes the P&L down from its high by maxDrawdown blocks new entries (action block)', async () => {
    const { ws, source, quote, view, looked } = await setup({ dailyLossLimit: null, maxDrawdown: '30', action: 'block' });
    await quote('104'); // +40: the session's high
    await looked();
    await quote('101.01'); // +10.1: 29.9 down from the high
    await looked();
    expect((await view()).lossLimits.session).toEqual(expect.objectContaining({ breachedAt: null }));
    await quote('101'); // +10: 30 down
    await looked();
    expect((await view()).lossLimits.session).toEqual(expect.objectContaining({ breachLimit: 'maxDrawdown', breachedAt: expect.any(String) }));
    const blocked = await world.settled(ws.token, await world.send(source, { ticker: 'MSFT', action: 'buy', price: '50' }));
    expect(blocked.orders[0].reason).toMatch(/^max_drawdown: this connection's session P&L fell 30 from its high of 40 to 10 /);
  });
});
