import { http } from '../support/api-app';
import { eventually } from '../signals/support/signals-harness';
import { LossGuard } from '../../src/routing/loss-guard';
import { RoutingWorld } from '../routing/routing-harness';

/** The connection's own kill switch and its daily loss / drawdown limits, end to end on the paper broker. */
describe('per-connection kill switch and loss limits', () => {
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
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '10' } });
    const send = async (body: Record<string, unknown>) => world.settled(ws.token, await world.send(source, body));
    const put = (path: string, body: unknown, token = ws.token) => http(world.api.url, 'PUT', `/v1/connections/${connection}/${path}`, { token, body });
    const quote = async (symbol: string, price: string) => {
      const res = await http(world.api.url, 'POST', `/v1/connections/${connection}/paper/quotes`, { token: ws.token, body: { quotes: [{ symbol, price }] } });
      expect(res.status).toBe(202);
    };
    const view = async () => (await http(world.api.url, 'GET', `/v1/connections/${connection}`, { token: ws.token })).body;
    const position = async (symbol = 'AAPL') =>
      (await world.sql<{ q: string }>('SELECT quantity::text AS q FROM paper_positions WHERE connection_id = $1 AND symbol = $2', [connection, symbol]))[0]
        ?.q ?? '0';
    const audit = (actions: string[]) =>
      world.sql<{ action: string; reason: string; metadata: any; actor_type: string; request_id: string }>(
        'SELECT action, reason, metadata, actor_type, request_id FROM audit_events WHERE workspace_id = $1 AND action = ANY($2) ORDER BY id',
        [ws.id, actions],
      );
    return { ws, connection, source, send, put, quote, view, position, audit };
  }

  describe('kill switch', () => {
    it('refuses entries on an engaged connection with the reason, lets exits go, shows it on the view, and audits each change', async () => {
      const { connection, send, put, view, position, audit } = await setup();
      expect((await view()).killSwitch).toEqual({ engaged: false, reason: null, changedAt: null, changedBy: null });
      expect((await send({ ticker: 'AAPL', action: 'buy', price: '100' })).status).toBe('routed');

      const engaged = await put('kill-switch', { engaged: true, reason: 'strategy misbehaving' });
      expect(engaged.status).toBe(200);
      expect(engaged.body.killSwitch).toEqual({
        engaged: true,
        reason: 'strategy misbehaving',
        changedAt: expect.any(String),
        changedBy: expect.stringMatching(/^token:/),
      });
      expect((await view()).killSwitch.engaged).toBe(true);

      const refused = await send({ ticker: 'AAPL', action: 'buy', price: '101' });
      expect(refused.status).toBe('blocked');
      expect(refused.orders[0]).toEqual(
        expect.objectContaining({
          status: 'blocked',
          reason: "connection_kill_switch: this connection's kill switch is engaged (strategy misbehaving); entries are refused, exits still go",
        }),
      );
      // An exit takes risk off: it goes while the switch is engaged.
      const exit = await send({ ticker: 'AAPL', action: 'exit', price: '99' });
      expect(exit.orders[0].status).toBe('filled');
      expect(await position()).toBe('0');

      expect((await put('kill-switch', { engaged: false, reason: 'fixed' })).body.killSwitch.engaged).toBe(false);
      expect((await send({ ticker: 'AAPL', action: 'buy', price: '100' })).orders[0].status).toBe('filled');
      expect((await audit(['connection.kill_switch'])).map((e) => [e.reason, e.metadata, e.actor_type])).toEqual([
        ['strategy misbehaving', { engaged: true }, 'token'],
        ['fixed', { engaged: false }, 'token'],
      ]);
      const other = await world.workspace();
      expect((await put('kill-switch', { engaged: true, reason: 'x' }, other.token)).status).toBe(404);
      expect(connection).toBeDefined();
    });

    it('needs admin, refuses bad bodies with a 422 naming the field, and a revoked connection with 409', async () => {
      const { ws, connection, put } = await setup();
      const trader = await http(world.api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 't', role: 'trader' } });
      expect((await put('kill-switch', { engaged: true, reason: 'x' }, trader.body.token)).status).toBe(403);
      const bad = await put('kill-switch', { engaged: 'yes', reason: '' });
      expect(bad.status).toBe(422);
      expect(bad.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['engaged', 'reason']);
      const limits = await put('loss-limits', {
        dailyLossLimit: '0',
        maxDrawdown: -5,
        sessionStart: '24:00',
        sessionTimezone: 'Mars/Olympus',
        action: 'sell',
        reason: 'x',
      });
      expect(limits.status).toBe(422);
      expect(limits.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
        'action',
        'dailyLossLimit',
        'maxDrawdown',
        'sessionStart',
        'sessionTimezone',
      ]);
      await http(world.api.url, 'DELETE', `/v1/connections/${connection}`, { token: ws.token });
      const revoked = await put('kill-switch', { engaged: true, reason: 'x' });
      expect([revoked.status, revoked.body.code]).toEqual([409, 'connection_revoked']);
    });
  });

  describe('daily loss limit, action block', () => {
    it('passes a loss just inside the limit, blocks entries once it is reached (exits go), audits the breach once, and resets with the session', async () => {
      const { ws, connection, send, put, quote, view, audit } = await setup();
      const set = await put('loss-limits', { dailyLossLimit: '100', maxDrawdown: null, reason: 'desk rule' });
      expect(set.status).toBe(200);
      expect(set.body.lossLimits).toEqual({
        dailyLossLimit: '100',
        maxDrawdown: null,
        action: 'block',
        sessionStart: '00:00',
        sessionTimezone: 'UTC',
        session: null,
      });

      expect((await send({ ticker: 'AAPL', action: 'buy', price: '100' })).orders[0].status).toBe('filled'); // 10 AAPL at 100
      // AAPL at 90.01: unrealised -99.9, just inside the limit. (An MSFT entry, so only AAPL's mark moves the P&L.)
      await quote('AAPL', '90.01');
      expect((await send({ ticker: 'MSFT', action: 'buy', price: '50' })).orders[0].status).toBe('filled');
      expect((await view()).lossLimits.session).toEqual(expect.objectContaining({ pnl: '-99.9', breachedAt: null }));

      // AAPL at 90: -100, the limit reached.
      await quote('AAPL', '90');
      const blocked = await send({ ticker: 'MSFT', action: 'buy', price: '50' });
      expect(blocked.status).toBe('blocked');
      expect(blocked.orders[0].reason).toMatch(
        /^daily_loss_limit: this connection's session P&L is -100 \(since \d{4}-\d\d-\d\dT00:00:00\.000Z: realised 0, unrealised -100 at the latest prices Switchyard saw\); its daily loss limit is 100, so new entries are blocked until the session ends at .*\(exits still go\)$/,
      );
      const exit = await send({ ticker: 'AAPL', action: 'exit', price: '90' });
      expect(exit.orders[0].status).toBe('filled');
      // Flat again (realised -100 now): still blocked for the rest of the session.
      expect((await send({ ticker: 'MSFT', action: 'buy', price: '50' })).orders[0].reason).toBe(blocked.orders[0].reason);

      const breaches = await audit(['connection.loss_limit_breached']);
      expect(breaches).toHaveLength(1);
      expect(breaches[0]).toEqual(
        expect.objectContaining({
          actor_type: 'worker',
          reason: blocked.orders[0].reason,
          metadata: expect.objectContaining({
            limit: 'dailyLossLimit',
            action: 'block',
            sessionPnl: '-100',
            realizedPnl: '0',
            unrealizedPnl: '-100',
            dailyLossLimit: '100',
            maxDrawdown: null,
          }),
        }),
      );
      expect((await audit(['order.blocked'])).filter((e) => e.metadata.limit === 'dailyLossLimit')).toHaveLength(2);
      expect((await audit(['connection.loss_limits']))[0]).toEqual(
        expect.objectContaining({ reason: 'desk rule', metadata: expect.objectContaining({ dailyLossLimit: '100', action: 'block' }) }),
      );
      expect((await view()).killSwitch.engaged).toBe(false); // `block` does not engage the switch

      // A day passes: everything recorded moves one day back, so today's session starts clean at its boundary.
      for (const [table, columns] of [
        ['order_fills', ['filled_at']],
        ['paper_quotes', ['quoted_at']],
        ['connection_loss_sessions', ['session_start', 'session_end']],
      ] as const) {
        await world.sql(`UPDATE ${table} SET ${columns.map((c) => `${c} = ${c} - interval '1 day'`).join(', ')} WHERE workspace_id = $1`, [ws.id]);
      }
      expect((await send({ ticker: 'MSFT', action: 'buy', price: '50' })).orders[0].status).toBe('filled');
      expect((await view()).lossLimits.session).toEqual(expect.objectContaining({ breachedAt: null }));
      expect(connection).toBeDefined();
    });
  });

  describe('action flatten', () => {
    it('a fill that breaches (a resting limit a quote fills) flattens the connection and engages its kill switch in one audited step, once', async () => {
      const { ws, connection, send, put, quote, view, position, audit } = await setup();
      await put('loss-limits', { dailyLossLimit: '50', maxDrawdown: null, action: 'flatten', reason: 'auto-flatten at 50' });
      expect((await send({ ticker: 'AAPL', action: 'buy', price: '100' })).orders[0].status).toBe('filled'); // 10 at 100
      // Two resting buys at 94 and 94.5: one quote at 94 fills both (the lifecycle poll), 30 AAPL at 96.17 avg marked at 94: -65.
      for (const limitPrice of ['94', '94.5']) {
        expect((await send({ ticker: 'AAPL', action: 'buy', orderType: 'limit', limitPrice, price: '100' })).orders[0].status).toBe('accepted');
      }
      await quote('AAPL', '94');

      const flattened = await eventually(async () => {
        const rows = await world.sql<{ id: string; status: string; requested_by_type: string; reason: string }>(
          `SELECT f.id, c.status, f.requested_by_type, f.reason FROM flattens f JOIN flatten_connections c ON c.flatten_id = f.id WHERE f.workspace_id = $1`,
          [ws.id],
        );
        return rows.length > 0 && rows.every((r) => r.status === 'done') ? rows : undefined;
      }, 20_000);
      expect(flattened).toHaveLength(1);
      expect(flattened[0].requested_by_type).toBe('worker');
      expect(flattened[0].reason).toMatch(/^dailyLossLimit breached: daily_loss_limit: this connection's session P&L is -/);
      expect(await position()).toBe('0');

      const v = await view();
      expect(v.killSwitch).toEqual(expect.objectContaining({ engaged: true, reason: flattened[0].reason, changedBy: expect.stringMatching(/^worker:/) }));
      expect(v.lossLimits.session).toEqual(
        expect.objectContaining({ breachLimit: 'dailyLossLimit', flattenId: flattened[0].id, breachedAt: expect.any(String) }),
      );

      // The breach, the flatten's request and the switch: one step (one request id, the flatten's id in each).
      const events = await audit(['connection.loss_limit_breached', 'flatten.request', 'connection.kill_switch']);
      expect(events.map((e) => e.action)).toEqual(['connection.loss_limit_breached', 'flatten.request', 'connection.kill_switch']);
      expect(new Set(events.map((e) => e.request_id)).size).toBe(1);
      expect(events.map((e) => e.metadata.flattenId)).toEqual([flattened[0].id, flattened[0].id, flattened[0].id]);
      expect(events[0].metadata).toEqual(
        expect.objectContaining({ limit: 'dailyLossLimit', action: 'flatten', dailyLossLimit: '50', unrealizedFrom: 'marks' }),
      );
      expect(JSON.stringify(events)).not.toMatch(/secret|apiKey/i);

      // New entries are refused: the session's breach says why (and the engaged switch would refuse them at sending too).
      const refused = await send({ ticker: 'AAPL', action: 'buy', price: '94' });
      expect(refused.orders[0]).toEqual(
        expect.objectContaining({
          status: 'blocked',
          reason: expect.stringMatching(/^daily_loss_limit: .*so the connection is flattened and its kill switch engaged$/),
        }),
      );

      // More looks (concurrent, as after simultaneous fills) find the breach recorded and flatten nothing more.
      const guard = world.worker.app.get(LossGuard);
      await Promise.all([1, 2, 3, 4].map((i) => guard.afterFill(ws.id, connection, `test-${i}`)));
      expect(await world.sql('SELECT id FROM flattens WHERE workspace_id = $1', [ws.id])).toHaveLength(1);
      expect(await audit(['connection.loss_limit_breached'])).toHaveLength(1);
    });

    it('concurrent looks at a fresh breach flatten exactly once', async () => {
      const { ws, connection, send, put, quote } = await setup();
      await put('loss-limits', { dailyLossLimit: null, maxDrawdown: '20', action: 'flatten', reason: 'dd' });
      expect((await send({ ticker: 'AAPL', action: 'buy', price: '100' })).orders[0].status).toBe('filled');
      await quote('AAPL', '97.9'); // -21 from a high of 0: a drawdown past 20, seen by no look yet
      const guard = world.worker.app.get(LossGuard);
      await Promise.all([1, 2, 3, 4, 5, 6].map((i) => guard.afterFill(ws.id, connection, `race-${i}`)));
      expect(await world.sql('SELECT id FROM flattens WHERE workspace_id = $1', [ws.id])).toHaveLength(1);
      const breaches = await world.sql<{ metadata: any }>(
        `SELECT metadata FROM audit_events WHERE workspace_id = $1 AND action = 'connection.loss_limit_breached'`,
        [ws.id],
      );
      expect(breaches.map((b) => b.metadata.limit)).toEqual(['maxDrawdown']);
    });
  });
});
