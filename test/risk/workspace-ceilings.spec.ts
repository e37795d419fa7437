import { http } from '../support/api-app';
import { wallClock } from '../../src/common/trading-windows';
import { RoutingWorld } from '../routing/routing-harness';

/** Workspace limits as the routes' defaults and ceilings: the api refuses a looser route, planning uses the stricter value. */
describe('workspace limit defaults and ceilings', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres');
  });
  afterAll(async () => {
    await world?.stop();
  });

  async function setup() {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    const limits = (body: Record<string, unknown>) =>
      http(world.api.url, 'PUT', '/v1/workspace/risk-limits', {
        token: ws.token,
        body: { maxSignalAgeSeconds: null, duplicateWindowSeconds: null, reason: 'desk rules', ...body },
      });
    const route = (limits?: Record<string, unknown>, size = '2') =>
      http(world.api.url, 'POST', '/v1/routes', {
        token: ws.token,
        body: { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: size }, limits },
      });
    const send = async (body: Record<string, unknown>) =>
      world.settled(ws.token, await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100', ...body }));
    return { ws, connection, source, limits, route, send };
  }

  it('shows the workspace limits, audits the change, and keeps omitted fields', async () => {
    const { ws, limits } = await setup();
    const window = { days: ['mon'], start: '09:30', end: '16:00', timezone: 'America/New_York' };
    const set = await limits({
      maxQuantity: '5',
      maxPosition: 20,
      maxOpenPositions: 3,
      maxOrdersPerMinute: 10,
      tradingWindows: [window],
      blockExitsOutsideWindows: true,
    });
    expect(set.status).toBe(200);
    expect(set.body.riskLimits).toEqual({
      maxQuantity: '5',
      maxNotional: null,
      maxOrdersPerMinute: 10,
      maxSignalAgeSeconds: null,
      duplicateWindowSeconds: null,
      tradingWindows: [{ ...window, flattenAtEnd: false }],
      blockExitsOutsideWindows: true,
      maxPosition: '20',
      maxOpenPositions: 3,
    });
    const again = await limits({ maxNotional: '1000' });
    expect(again.body.riskLimits).toMatchObject({ maxQuantity: '5', maxNotional: '1000', maxOpenPositions: 3, blockExitsOutsideWindows: true });
    const cleared = await limits({ tradingWindows: null, maxQuantity: null });
    expect(cleared.body.riskLimits).toMatchObject({ maxQuantity: null, tradingWindows: null, maxNotional: '1000' });
    expect((await http(world.api.url, 'GET', '/v1/workspace', { token: ws.token })).body.riskLimits.maxNotional).toBe('1000');
    const audit = await http(world.api.url, 'GET', '/v1/audit?action=workspace.risk_limits', { token: ws.token });
    expect(audit.body.items.map((e: { metadata: Record<string, unknown> }) => e.metadata)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ maxQuantity: '5', tradingWindows: 1 }),
        expect.objectContaining({ maxQuantity: null, tradingWindows: null }),
      ]),
    );
  });

  it('refuses bad workspace values with a 422 naming the field', async () => {
    const { limits } = await setup();
    const bad = await limits({ maxPosition: '0' });
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual([{ path: 'maxPosition', message: 'must be above 0' }]);
  });

  it.each([
    ['maxQuantity', { maxQuantity: '5' }, { maxQuantity: '5.1' }, { maxQuantity: '5' }, '5'],
    ['maxNotional', { maxNotional: '1000' }, { maxNotional: '1000.01' }, { maxNotional: '999' }, '1000'],
    ['maxOrdersPerMinute', { maxOrdersPerMinute: 10 }, { maxOrdersPerMinute: 11 }, { maxOrdersPerMinute: 10 }, '10'],
    ['maxSignalAgeSeconds', { maxSignalAgeSeconds: 30 }, { maxSignalAgeSeconds: 31 }, { maxSignalAgeSeconds: 30 }, '30'],
    ['maxPosition', { maxPosition: '10' }, { maxPosition: '11' }, { maxPosition: '10' }, '10'],
    ['maxOpenPositions', { maxOpenPositions: 2 }, { maxOpenPositions: 3 }, { maxOpenPositions: 1 }, '2'],
    ['duplicateWindowSeconds', { duplicateWindowSeconds: 10 }, { duplicateWindowSeconds: 9 }, { duplicateWindowSeconds: 10 }, '10'],
  ])(
    'refuses a route %s looser than the workspace (422 limit_exceeds_workspace_ceiling), takes an equal or stricter one',
    async (field, workspace, looser, ok, ceiling) => {
      const { ws, limits, route } = await setup();
      expect((await limits(workspace)).status).toBe(200);
      const refused = await route(looser);
      expect(refused.status).toBe(422);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.body).toMatchObject({ code: 'limit_exceeds_workspace_ceiling', limit: field, ceiling });
      expect(refused.body.detail).toMatch(new RegExp(`^limits\\.${field}: .*a route may only be stricter than its workspace\\.$`));
      const created = await route(ok);
      expect(created.status).toBe(201);
      // PATCH is held to the same ceiling.
      const patched = await http(world.api.url, 'PATCH', `/v1/routes/${created.body.id}`, { token: ws.token, body: { limits: looser } });
      expect([patched.status, patched.body.code]).toEqual([422, 'limit_exceeds_workspace_ceiling']);
    },
  );

  it('fills in a limit the route leaves unset, and the stricter value wins when the workspace tightens later; the reason and audit say whose', async () => {
    const { ws, limits, route, send } = await setup();
    expect((await route({ maxQuantity: '10' }, '4')).status).toBe(201);
    expect((await send({})).status).toBe('routed');
    // The workspace tightens below the route's own 10 after the route was made: 4 is now over the ceiling of 3.99.
    await limits({ maxQuantity: '3.99', maxNotional: '399.99' });
    const capped = await send({});
    expect([capped.status, capped.orders[0].reason]).toEqual([
      'blocked',
      "max_quantity_exceeded: 4 is above the workspace's ceiling of 3.99 (the route's own 10 is looser)",
    ]);
    await limits({ maxQuantity: '4' });
    // The route sets no notional limit: 4 at 100 is over the workspace's default of 399.99.
    const notional = await send({});
    expect([notional.status, notional.orders[0].reason]).toEqual([
      'blocked',
      "max_notional_exceeded: 400 is above the workspace's default limit of 399.99 (the route sets none)",
    ]);
    await limits({ maxNotional: '400' });
    expect((await send({})).status).toBe('routed');
    const audit = await http(world.api.url, 'GET', '/v1/audit?action=order.blocked', { token: ws.token });
    expect(audit.body.items.map((e: { reason: string; metadata: { limit: string } }) => [e.metadata.limit, e.reason]).sort()).toEqual([
      ['maxNotional', notional.orders[0].reason],
      ['maxQuantity', capped.orders[0].reason],
    ]);
  });

  it('holds percent_equity entries (sized only when sent) to the workspace ceiling, saying so, audited', async () => {
    const { ws, limits, send, connection, source } = await setup();
    // 1 % of the paper account's 100 000 at 100 is 10 shares.
    const created = await http(world.api.url, 'POST', '/v1/routes', {
      token: ws.token,
      body: { sourceId: source.id, connectionId: connection, sizing: { mode: 'percent_equity', value: '1' }, limits: { maxQuantity: '50' } },
    });
    expect(created.status).toBe(201);
    await limits({ maxQuantity: '10' });
    expect((await send({})).orders[0]).toMatchObject({ status: 'filled', quantity: '10' });
    await limits({ maxQuantity: '9.99' });
    const over = await send({});
    expect([over.status, over.orders[0].reason]).toEqual([
      'blocked',
      "max_quantity_exceeded: 10 is above the workspace's ceiling of 9.99 (the route's own 50 is looser)",
    ]);
    const audit = await http(world.api.url, 'GET', '/v1/audit?action=order.blocked', { token: ws.token });
    expect(audit.body.items).toEqual([
      expect.objectContaining({
        resource: expect.objectContaining({ id: over.orders[0].id }),
        reason: over.orders[0].reason,
        metadata: expect.objectContaining({ limit: 'maxQuantity' }),
      }),
    ]);
  });

  it('names the workspace as the source of a rate limit the route leaves unset', async () => {
    const { limits, route, send } = await setup();
    expect((await route(undefined, '1')).status).toBe(201);
    await limits({ maxOrdersPerMinute: 2 });
    expect((await send({})).status).toBe('routed');
    expect((await send({})).status).toBe('routed');
    const third = await send({});
    expect([third.status, third.orders[0].reason]).toEqual([
      'blocked',
      "max_orders_per_minute: 2 orders of the route were sent in the last minute, which reaches the workspace's default limit of 2 orders per minute (the route sets none)",
    ]);
  });

  it('applies the workspace default to a route with no limits: position and open-position limits', async () => {
    const { limits, route, send } = await setup();
    expect((await route(undefined, '2')).status).toBe(201);
    await limits({ maxPosition: '3', maxOpenPositions: 1 });
    expect((await send({})).orders[0].status).toBe('filled');
    const over = await send({});
    expect(over.orders[0]).toMatchObject({
      status: 'blocked',
      reason: expect.stringMatching(
        /^max_position_exceeded: buying 2 AAPL would take the position to 4 .*, past the workspace's default limit of 3 \(the route sets none\) either way$/,
      ),
    });
    const second = await send({ ticker: 'MSFT' });
    expect(second.orders[0]).toMatchObject({
      status: 'blocked',
      reason: expect.stringMatching(
        /^max_open_positions: 1 positions are open .*that reaches the workspace's default limit of 1 \(the route sets none\), so MSFT is not opened$/,
      ),
    });
  });

  it("blocks entries outside the workspace's trading windows even when the route's own window is open", async () => {
    const { limits, route, send } = await setup();
    const hhmm = (offsetMin: number) => {
      const { minute } = wallClock(Date.now() + offsetMin * 60_000, 'America/New_York');
      return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
    };
    const days = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
    const open = [{ days, start: hhmm(-60), end: hhmm(60), timezone: 'America/New_York' }];
    const closed = [{ days, start: hhmm(120), end: hhmm(180), timezone: 'America/New_York' }];
    expect((await route({ tradingWindows: open })).status).toBe(201);
    expect((await send({})).status).toBe('routed');
    await limits({ tradingWindows: closed });
    const outside = await send({});
    expect(outside.orders[0]).toMatchObject({
      status: 'blocked',
      reason: expect.stringMatching(/^outside_trading_window: .* is outside the workspace's trading windows .*entries are blocked outside them$/),
    });
    expect((await send({ action: 'exit' })).status).toBe('routed');
  });
});
