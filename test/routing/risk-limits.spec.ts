import { http } from '../support/api-app';
import { wallClock } from '../../src/common/trading-windows';
import { startWorker } from '../support/worker-app';
import { RoutingWorld } from './routing-harness';

/** Route risk limits end to end: api validation, the worker's plan-time blocks, their reasons on the signal and order views and in the audit log. */
describe('route risk limits', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres');
  });
  afterAll(async () => {
    await world?.stop();
  });

  const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();

  async function setup(broker: 'paper' | 'alpaca', limits: Record<string, unknown> = {}, environment: 'paper' | 'live' = 'paper') {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, broker, environment);
    const source = await world.source(ws.token);
    const routeId = await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '2' }, limits });
    const send = async (body: Record<string, unknown>) => {
      const signalId = await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100', ...body });
      return { signalId, ...(await world.settled(ws.token, signalId)) };
    };
    return { ws, connection, source, routeId, send };
  }

  /** The workspace's `order.blocked` audit events (GET /v1/audit seals pending events first). */
  async function blockedEvents(token: string) {
    const res = await http(world.api.url, 'GET', '/v1/audit?action=order.blocked&limit=500', { token });
    expect(res.status).toBe(200);
    return res.body.items as { resource: { id: string }; reason: string; metadata: Record<string, string> }[];
  }

  describe('validation', () => {
    async function routeProblem(limits: unknown) {
      const ws = await world.workspace();
      const connection = await world.connect(ws.token, 'paper');
      const source = await world.source(ws.token);
      const res = await http(world.api.url, 'POST', '/v1/routes', {
        token: ws.token,
        body: { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '1' }, limits },
      });
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.code).toBe('validation_failed');
      return res.body.errors as { path: string; message: string }[];
    }
    const window = (over: Record<string, unknown>) => ({ days: ['mon'], start: '09:30', end: '16:00', timezone: 'America/New_York', ...over });

    it.each([
      [
        'an unknown time zone',
        { tradingWindows: [window({ timezone: 'America/Gotham' })] },
        'limits.tradingWindows.0.timezone',
        'must be an IANA time zone such as America/New_York',
      ],
      [
        'an unknown day',
        { tradingWindows: [window({ days: ['mon', 'funday'] })] },
        'limits.tradingWindows.0.days.1',
        'must be one of sun, mon, tue, wed, thu, fri, sat',
      ],
      ['a repeated day', { tradingWindows: [window({ days: ['mon', 'mon'] })] }, 'limits.tradingWindows.0.days', 'must not repeat a day'],
      [
        'start equal to end',
        { tradingWindows: [window({ start: '09:30', end: '09:30' })] },
        'limits.tradingWindows.0.end',
        'must differ from start (a window cannot be empty or the whole day)',
      ],
      [
        'a time that is not HH:MM',
        { tradingWindows: [window({ start: '9:30' })] },
        'limits.tradingWindows.0.start',
        'must be a wall-clock time HH:MM (00:00-23:59)',
      ],
      ['hour 24', { tradingWindows: [window({ end: '24:00' })] }, 'limits.tradingWindows.0.end', 'must be a wall-clock time HH:MM (00:00-23:59)'],
      ['an empty window list', { tradingWindows: [] }, 'limits.tradingWindows', expect.any(String)],
      ['a zero signal age', { maxSignalAgeSeconds: 0 }, 'limits.maxSignalAgeSeconds', expect.any(String)],
      ['a fractional duplicate window', { duplicateWindowSeconds: 1.5 }, 'limits.duplicateWindowSeconds', expect.any(String)],
      ['a negative maxPosition', { maxPosition: '-1' }, 'limits.maxPosition', expect.any(String)],
      ['a zero maxPosition', { maxPosition: '0.000' }, 'limits.maxPosition', 'must be above 0'],
      ['a zero maxOpenPositions', { maxOpenPositions: 0 }, 'limits.maxOpenPositions', expect.any(String)],
      ['an unknown window field', { tradingWindows: [window({ flattenAtClose: true })] }, 'limits.tradingWindows.0', expect.any(String)],
    ])('refuses %s with a 422 naming the field', async (_what, limits, path, message) => {
      expect(await routeProblem(limits)).toEqual([{ path, message }]);
    });

    it('refuses bad workspace risk limits, and needs admin', async () => {
      const ws = await world.workspace();
      const bad = await http(world.api.url, 'PUT', '/v1/workspace/risk-limits', {
        token: ws.token,
        body: { maxSignalAgeSeconds: 0, duplicateWindowSeconds: null, reason: 'x' },
      });
      expect(bad.status).toBe(422);
      expect(bad.body.errors).toEqual([expect.objectContaining({ path: 'maxSignalAgeSeconds' })]);
      const trader = await http(world.api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 't', role: 'trader' } });
      const refused = await http(world.api.url, 'PUT', '/v1/workspace/risk-limits', {
        token: trader.body.token,
        body: { maxSignalAgeSeconds: 30, duplicateWindowSeconds: null, reason: 'x' },
      });
      expect(refused.status).toBe(403);
    });

    it('shows the limits on the route view and clears them with a new limits object', async () => {
      const windows = [window({ days: ['mon', 'fri'], start: '18:00', end: '02:00', timezone: 'Europe/London' })];
      const { ws, routeId } = await setup('paper', {
        maxSignalAgeSeconds: 30,
        duplicateWindowSeconds: 5,
        tradingWindows: windows,
        blockExitsOutsideWindows: true,
        maxPosition: '10.5',
        maxOpenPositions: 3,
      });
      const shown = windows.map((w) => ({ ...w, flattenAtEnd: false }));
      const list = await http(world.api.url, 'GET', '/v1/routes', { token: ws.token });
      expect(list.body.items[0].limits).toEqual({
        maxQuantity: null,
        maxNotional: null,
        maxOrdersPerMinute: null,
        maxSignalAgeSeconds: 30,
        duplicateWindowSeconds: 5,
        tradingWindows: shown,
        blockExitsOutsideWindows: true,
        maxPosition: '10.5',
        maxOpenPositions: 3,
      });
      const patched = await http(world.api.url, 'PATCH', `/v1/routes/${routeId}`, { token: ws.token, body: { limits: { maxQuantity: '3' } } });
      expect(patched.body.limits).toMatchObject({
        maxQuantity: '3',
        maxSignalAgeSeconds: null,
        duplicateWindowSeconds: null,
        tradingWindows: null,
        blockExitsOutsideWindows: false,
        maxPosition: null,
        maxOpenPositions: null,
      });
    });
  });

  describe('maxSignalAgeSeconds', () => {
    it('passes a signal just inside the age, blocks one just outside (past or future) as stale, with the reason audited', async () => {
      const { ws, send } = await setup('paper', { maxSignalAgeSeconds: 30 });
      expect((await send({ time: ago(20) })).status).toBe('routed');
      const old = await send({ time: ago(40) });
      expect(old.status).toBe('blocked');
      expect(old.error).toMatch(/^stale: the signal is 4\d\.\d s old \(its time .+\); it is past the route's limit of 30 s on a signal's age, old or ahead$/);
      expect(old.orders).toEqual([expect.objectContaining({ status: 'blocked', symbol: 'AAPL', reason: old.error })]);
      const ahead = await send({ time: ago(-40) });
      expect([ahead.status, ahead.error]).toEqual(['blocked', expect.stringMatching(/^stale: the signal is \d+\.\d s in the future/)]);
      expect((await send({ time: ago(-20) })).status).toBe('routed');

      const view = await http(world.api.url, 'GET', `/v1/signals/${old.signalId}`, { token: ws.token });
      expect(view.body).toMatchObject({ status: 'blocked', error: old.error });
      const events = await blockedEvents(ws.token);
      expect(events).toHaveLength(2);
      expect(events.find((e) => e.resource.id === old.orders[0].id)).toMatchObject({
        reason: old.error,
        metadata: { limit: 'maxSignalAgeSeconds', signalId: old.signalId, symbol: 'AAPL' },
      });
    });

    it('is off on paper routes unless set; counts the receive time when the signal has no time', async () => {
      const unset = await setup('paper');
      expect((await unset.send({ time: ago(3600) })).status).toBe('routed');
      const set = await setup('paper', { maxSignalAgeSeconds: 10 });
      // With the worker stopped, one signal is made to have been received 12 s ago (outside), another 6 s ago (inside, with room for the worker's start).
      await world.worker.close();
      const late = await world.send(set.source, { ticker: 'AAPL', action: 'buy', price: '100' });
      const fresh = await world.send(set.source, { ticker: 'MSFT', action: 'buy', price: '100' });
      await world.sql("UPDATE signals SET received_at = now() - interval '12 seconds' WHERE id = $1", [late]);
      await world.sql("UPDATE signals SET received_at = now() - interval '6 seconds' WHERE id = $1", [fresh]);
      world.worker = await startWorker(world.db, world.env);
      const blocked = await world.settled(set.ws.token, late);
      expect([blocked.status, blocked.error]).toEqual([
        'blocked',
        expect.stringMatching(
          /^stale: the signal is 1\d\.\d s old \(it was received at .+ \(it has no time\)\); it is past the route's limit of 10 s on a signal's age, old or ahead$/,
        ),
      ]);
      expect((await world.settled(set.ws.token, fresh)).status).toBe('routed');
    });

    it('is on by default (60 s) on a live route', async () => {
      const { ws, send } = await setup('alpaca', {}, 'live');
      await http(world.api.url, 'PUT', '/v1/workspace/live-trading', { token: ws.token, body: { enabled: true, reason: 'risk test' } });
      const old = await send({ time: ago(70) });
      expect([old.status, old.error]).toEqual([
        'blocked',
        expect.stringMatching(
          /^stale: .*; it is past the default of 60 s for live routes \(neither the route nor the workspace sets one\) on a signal's age, old or ahead$/,
        ),
      ]);
      expect((await send({ time: ago(50) })).status).toBe('routed');
    });

    it('takes the workspace value as the default and the ceiling', async () => {
      const { ws, send } = await setup('paper', { maxSignalAgeSeconds: 300 });
      const set = await http(world.api.url, 'PUT', '/v1/workspace/risk-limits', {
        token: ws.token,
        body: { maxSignalAgeSeconds: 30, duplicateWindowSeconds: null, reason: 'tighten' },
      });
      expect(set.status).toBe(200);
      expect(set.body.riskLimits).toMatchObject({ maxSignalAgeSeconds: 30, duplicateWindowSeconds: null, maxQuantity: null });
      expect((await send({ time: ago(20) })).status).toBe('routed');
      const old = await send({ time: ago(40) });
      expect([old.status, old.error]).toEqual([
        'blocked',
        expect.stringMatching(/; it is past the workspace's ceiling of 30 s \(the route's own 300 s is looser\) on a signal's age, old or ahead$/),
      ]);
      const audit = await http(world.api.url, 'GET', '/v1/audit?action=workspace.risk_limits', { token: ws.token });
      expect(audit.body.items).toEqual([expect.objectContaining({ reason: 'tighten', metadata: { maxSignalAgeSeconds: 30, duplicateWindowSeconds: null } })]);
    });
  });

  describe('duplicateWindowSeconds', () => {
    /** Moves a signal's receipt into the past, as if it had arrived `seconds` earlier. */
    const receivedEarlier = (signalId: string, seconds: number) =>
      world.sql(`UPDATE signals SET received_at = received_at - make_interval(secs => $2) WHERE id = $1`, [signalId, seconds]);

    it('drops the same ticker, action and sentiment inside the window even with a new id; outside it, or different, it goes', async () => {
      const { ws, send } = await setup('paper', { duplicateWindowSeconds: 5 });
      const first = await send({});
      expect(first.status).toBe('routed');
      await receivedEarlier(first.signalId, 6);
      // Just outside the window (6 s > 5 s): not a duplicate.
      const second = await send({});
      expect(second.status).toBe('routed');
      await receivedEarlier(second.signalId, 4);
      // Just inside (4 s): TradingView's second alert on the bar close.
      const repeat = await send({});
      expect(repeat.status).toBe('blocked');
      expect(repeat.error).toBe(`duplicate_signal: AAPL buy repeats signal ${second.signalId} from this source within 5 s; dropped as a duplicate`);
      expect(repeat.orders).toEqual([expect.objectContaining({ status: 'blocked', reason: repeat.error })]);
      // A third repeat is a duplicate of the one that went, not of the dropped one.
      const third = await send({});
      expect(third.error).toContain(`repeats signal ${second.signalId}`);

      expect((await send({ action: 'sell' })).status).toBe('routed');
      expect((await send({ ticker: 'MSFT' })).status).toBe('routed');
      expect((await send({ sentiment: 'long' })).orders.map((o) => o.reason)).not.toContainEqual(expect.stringMatching(/^duplicate_signal/));

      const events = await blockedEvents(ws.token);
      expect(events.map((e) => e.metadata.limit)).toEqual(['duplicateWindowSeconds', 'duplicateWindowSeconds']);
    });

    it('takes the workspace default when the route sets none', async () => {
      const { ws, send } = await setup('paper');
      await http(world.api.url, 'PUT', '/v1/workspace/risk-limits', {
        token: ws.token,
        body: { maxSignalAgeSeconds: null, duplicateWindowSeconds: 10, reason: 'tv fires twice' },
      });
      expect((await send({})).status).toBe('routed');
      expect((await send({})).error).toMatch(/^duplicate_signal: AAPL buy repeats signal .+ within 10 s/);
    });
  });

  describe('tradingWindows', () => {
    /** A window on every day from `fromMin` to `toMin` minutes after now, in New York wall time. */
    function windowAround(fromMin: number, toMin: number) {
      const hhmm = (offsetMin: number) => {
        const { minute } = wallClock(Date.now() + offsetMin * 60_000, 'America/New_York');
        return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
      };
      return [{ days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start: hhmm(fromMin), end: hhmm(toMin), timezone: 'America/New_York' }];
    }

    it('lets entries through inside a window; outside, blocks entries and lets exits go unless the route blocks them', async () => {
      const { ws, routeId, send } = await setup('paper', { tradingWindows: windowAround(-60, 60) });
      expect((await send({})).status).toBe('routed');

      const outside = windowAround(120, 180);
      await http(world.api.url, 'PATCH', `/v1/routes/${routeId}`, { token: ws.token, body: { limits: { tradingWindows: outside } } });
      const entry = await send({ ticker: 'AAPL' });
      expect(entry.status).toBe('blocked');
      expect(entry.error).toMatch(
        /^outside_trading_window: .+ is outside this route's trading windows \(sun,mon,tue,wed,thu,fri,sat \d\d:\d\d-\d\d:\d\d America\/New_York\); entries are blocked outside them$/,
      );
      const exit = await send({ action: 'exit' });
      expect(exit.status).toBe('routed');
      expect(exit.orders).toEqual([expect.objectContaining({ intent: 'exit', status: 'filled', quantity: '2' })]);

      await http(world.api.url, 'PATCH', `/v1/routes/${routeId}`, {
        token: ws.token,
        body: { limits: { tradingWindows: outside, blockExitsOutsideWindows: true } },
      });
      const blockedExit = await send({ action: 'exit' });
      expect([blockedExit.status, blockedExit.error]).toEqual([
        'blocked',
        expect.stringMatching(/^outside_trading_window: .+; exits are blocked outside them$/),
      ]);
      expect((await blockedEvents(ws.token)).map((e) => e.metadata.limit)).toEqual(['tradingWindows', 'tradingWindows']);
    });

    it('blocks only the opening leg of a reversal outside the window: the close still goes', async () => {
      const { ws, routeId, send } = await setup('paper');
      expect((await send({})).status).toBe('routed');
      await http(world.api.url, 'PATCH', `/v1/routes/${routeId}`, { token: ws.token, body: { limits: { tradingWindows: windowAround(120, 180) } } });
      const reversal = await send({ action: 'sell', sentiment: 'short' });
      expect(reversal.status).toBe('partially_routed');
      expect([...reversal.orders].sort((a, b) => a.leg - b.leg).map((o) => [o.intent, o.status])).toEqual([
        ['exit', 'filled'],
        ['entry', 'blocked'],
      ]);
    });
  });

  describe('position limits', () => {
    it('maxPosition: an entry reaching the limit goes, the next one past it is blocked; exits and reducing orders go', async () => {
      const { ws, send } = await setup('paper', { maxPosition: '4' });
      expect((await send({})).status).toBe('routed');
      expect((await send({})).status).toBe('routed');
      const over = await send({});
      expect([over.status, over.error]).toEqual([
        'blocked',
        "max_position_exceeded: buying 2 AAPL would take the position to 6 (held 4 by Switchyard's recorded fills, working 0), past the route's limit of 4 either way",
      ]);
      expect((await send({ action: 'sell' })).status).toBe('routed');
      expect((await send({ action: 'exit' })).orders).toEqual([expect.objectContaining({ status: 'filled', quantity: '2' })]);
      expect((await blockedEvents(ws.token)).map((e) => e.metadata.limit)).toEqual(['maxPosition']);
    });

    it('maxPosition holds percent_equity entries, sized only at execution, to the position read from the broker then', async () => {
      const ws = await world.workspace();
      const connection = await world.connect(ws.token, 'paper');
      const source = await world.source(ws.token);
      // 1 % of the paper account's 100 000 at 100 is 10 shares.
      await world.route(ws.token, {
        sourceId: source.id,
        connectionId: connection,
        sizing: { mode: 'percent_equity', value: '1' },
        limits: { maxPosition: '15' },
      });
      const send = async () => world.settled(ws.token, await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100' }));
      expect((await send()).orders).toEqual([expect.objectContaining({ status: 'filled', quantity: '10' })]);
      const over = await send();
      expect([over.status, over.error]).toEqual([
        'blocked',
        "max_position_exceeded: buying 10 AAPL would take the position to 20 (held 10 by the broker, just now, working 0), past the route's limit of 15 either way",
      ]);
      expect(await blockedEvents(ws.token)).toEqual([
        expect.objectContaining({
          resource: expect.objectContaining({ id: over.orders[0].id }),
          reason: over.error,
          metadata: expect.objectContaining({ limit: 'maxPosition' }),
        }),
      ]);
    });

    it('maxPosition counts orders of the same burst that are not filled yet', async () => {
      const { ws, source } = await setup('paper', { maxPosition: '4' });
      const ids = await Promise.all([1, 2, 3].map((n) => world.send(source, { ticker: 'AAPL', action: 'buy', price: '100', id: `burst-${n}` })));
      const results = await Promise.all(ids.map((id) => world.settled(ws.token, id)));
      expect(results.map((r) => r.status).sort()).toEqual(['blocked', 'routed', 'routed']);
      expect(results.find((r) => r.status === 'blocked')!.error).toMatch(/^max_position_exceeded: buying 2 AAPL would take the position to 6 /);
    });

    it("takes the broker's snapshot over the recorded fills while it is fresh and newer than every order sent", async () => {
      const { ws, connection, send } = await setup('alpaca', { maxPosition: '5' });
      expect((await send({})).status).toBe('routed');
      // A trade made outside Switchyard: the account holds 4, Switchyard's fills say 2.
      const apiKey = world.keys.get(connection)!.apiKey;
      (world.alpaca as unknown as { accounts: Map<string, { positions: Map<string, number> }> }).accounts.get(apiKey)!.positions.set('AAPL', 4);
      const positions = await http(world.api.url, 'GET', `/v1/connections/${connection}/positions`, { token: ws.token });
      expect(positions.body.positions).toEqual([expect.objectContaining({ symbol: 'AAPL', quantity: '4' })]);
      const over = await send({});
      expect([over.status, over.error]).toEqual([
        'blocked',
        "max_position_exceeded: buying 2 AAPL would take the position to 6 (held 4 by the broker's snapshot, working 0), past the route's limit of 5 either way",
      ]);
      // An order sent after the snapshot makes it old news: the fills decide again (2 - 2 + 2 = 2).
      expect((await send({ action: 'sell' })).status).toBe('routed');
      expect((await send({})).status).toBe('routed');
    });

    it('maxOpenPositions: a new symbol is blocked once that many are open; adding to an open one still goes', async () => {
      const { ws, send } = await setup('paper', { maxOpenPositions: 2 });
      expect((await send({ ticker: 'AAPL' })).status).toBe('routed');
      expect((await send({ ticker: 'MSFT', action: 'sell' })).status).toBe('routed');
      const third = await send({ ticker: 'TSLA' });
      expect([third.status, third.error]).toEqual([
        'blocked',
        "max_open_positions: 2 positions are open or being opened on this connection (AAPL, MSFT, by Switchyard's recorded fills); that reaches the route's limit of 2, so TSLA is not opened",
      ]);
      expect((await send({ ticker: 'AAPL' })).status).toBe('routed');
      expect((await send({ ticker: 'MSFT', action: 'exit' })).status).toBe('routed');
      expect((await send({ ticker: 'TSLA' })).status).toBe('routed');
      expect((await blockedEvents(ws.token)).map((e) => e.metadata.limit)).toEqual(['maxOpenPositions']);
    });
  });
});
