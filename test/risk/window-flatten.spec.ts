import { http } from '../support/api-app';
import { lastWindowEnd, TradingWindow, wallClock } from '../../src/common/trading-windows';
import { flattenableEnd, WindowFlattener } from '../../src/routing/window-flattener';
import { RoutingWorld } from '../routing/routing-harness';

describe('the end of a flattenAtEnd window', () => {
  describe('lastWindowEnd (DST-correct)', () => {
    const nyse: TradingWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', end: '16:00', timezone: 'America/New_York', flattenAtEnd: true };
    const at = (iso: string) => Date.parse(iso);
    const tenMin = 10 * 60_000;

    it('finds the end in UTC on both sides of the spring switch (EST Friday, EDT Monday), and nothing before it or long after', () => {
      expect(lastWindowEnd([nyse], at('2026-03-06T21:00:30Z'), tenMin)?.endMs).toBe(at('2026-03-06T21:00:00Z'));
      expect(lastWindowEnd([nyse], at('2026-03-09T20:04:00Z'), tenMin)?.endMs).toBe(at('2026-03-09T20:00:00Z'));
      expect(lastWindowEnd([nyse], at('2026-03-09T19:59:59Z'), tenMin)).toBeUndefined();
      expect(lastWindowEnd([nyse], at('2026-03-09T20:11:00Z'), tenMin)).toBeUndefined();
      // Saturday: no window opened, none ends.
      expect(lastWindowEnd([nyse], at('2026-03-07T21:00:30Z'), tenMin)).toBeUndefined();
    });

    it('ends a window whose end time the spring switch skips at the first wall time after it', () => {
      const night: TradingWindow = { days: ['sun'], start: '01:00', end: '02:30', timezone: 'America/New_York', flattenAtEnd: true };
      // 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z); 02:30 never happens.
      expect(lastWindowEnd([night], at('2026-03-08T07:01:00Z'), tenMin)?.endMs).toBe(at('2026-03-08T07:00:00Z'));
    });

    it('ends an overnight window the morning after its opening day; a window without flattenAtEnd or followed by another one does not', () => {
      const overnight: TradingWindow = { days: ['fri'], start: '18:00', end: '02:00', timezone: 'Europe/London', flattenAtEnd: true };
      expect(lastWindowEnd([overnight], at('2026-07-11T01:00:30Z'), tenMin)?.endMs).toBe(at('2026-07-11T01:00:00Z'));
      expect(lastWindowEnd([{ ...nyse, flattenAtEnd: false }], at('2026-03-09T20:01:00Z'), tenMin)).toBeUndefined();
      const after: TradingWindow = { ...nyse, start: '16:00', end: '18:00', flattenAtEnd: false };
      expect(lastWindowEnd([nyse, after], at('2026-03-09T20:01:00Z'), tenMin)).toBeUndefined();
    });
  });

  describe('flattenableEnd: once per end across DST switch days', () => {
    const at = (iso: string) => Date.parse(iso);
    const sunday = (start: string, end: string): TradingWindow => ({ days: ['sun'], start, end, timezone: 'America/New_York', flattenAtEnd: true });

    it('autumn (2026-11-01, 02:00 EDT goes back to 01:00 EST): an end time that happens twice counts at its second, later occurrence', () => {
      const night = sunday('00:00', '01:30');
      // 01:30 EDT (05:30Z) ends the window, the repeated hour reopens it at 01:00 EST (06:00Z), 01:30 EST (06:30Z) ends it again.
      expect(lastWindowEnd([night], at('2026-11-01T05:30:30Z'), 10 * 60_000)?.endMs).toBe(at('2026-11-01T05:30:00Z'));
      expect(lastWindowEnd([night], at('2026-11-01T06:30:30Z'), 10 * 60_000)?.endMs).toBe(at('2026-11-01T06:30:00Z'));
      expect(flattenableEnd([night], at('2026-11-01T05:30:30Z'))).toBeUndefined();
      expect(flattenableEnd([night], at('2026-11-01T05:39:00Z'))).toBeUndefined();
      expect(flattenableEnd([night], at('2026-11-01T06:29:59Z'))).toBeUndefined();
      expect(flattenableEnd([night], at('2026-11-01T06:30:30Z'))?.endMs).toBe(at('2026-11-01T06:30:00Z'));
      // The week after, without a switch: the one 01:30 EST end.
      expect(flattenableEnd([night], at('2026-11-08T06:30:30Z'))?.endMs).toBe(at('2026-11-08T06:30:00Z'));
    });

    it('autumn: ends whose wall time repeats without the window reopening (end 01:00, end 02:00) count once, where they happen', () => {
      // 00:00-01:00 ends at 01:00 EDT (05:00Z); 01:00 EST (06:00Z) comes round again but the window stays shut.
      expect(flattenableEnd([sunday('00:00', '01:00')], at('2026-11-01T05:00:30Z'))?.endMs).toBe(at('2026-11-01T05:00:00Z'));
      expect(flattenableEnd([sunday('00:00', '01:00')], at('2026-11-01T06:00:30Z'))).toBeUndefined();
      // 00:00-02:00 runs through both 01:xx hours and ends once, at 02:00 EST (07:00Z).
      expect(flattenableEnd([sunday('00:00', '02:00')], at('2026-11-01T06:00:30Z'))).toBeUndefined();
      expect(flattenableEnd([sunday('00:00', '02:00')], at('2026-11-01T07:00:30Z'))?.endMs).toBe(at('2026-11-01T07:00:00Z'));
    });

    it('spring (2026-03-08, 02:00 EST jumps to 03:00 EDT): an end time that does not exist ends the window once, at 03:00 EDT', () => {
      const night = sunday('01:00', '02:30');
      expect(flattenableEnd([night], at('2026-03-08T06:59:59Z'))).toBeUndefined();
      expect(flattenableEnd([night], at('2026-03-08T07:00:30Z'))?.endMs).toBe(at('2026-03-08T07:00:00Z'));
      expect(flattenableEnd([night], at('2026-03-08T07:09:30Z'))?.endMs).toBe(at('2026-03-08T07:00:00Z'));
      // 02:30 EDT never comes: nothing ends at 07:30Z (03:30 EDT).
      expect(flattenableEnd([night], at('2026-03-08T07:30:30Z'))?.endMs).toBeUndefined();
    });
  });

  describe('worker', () => {
    let world: RoutingWorld;
    beforeAll(async () => {
      world = await RoutingWorld.start('postgres');
    });
    afterAll(async () => {
      await world?.stop();
    });

    const days = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
    const hhmm = (ms: number) => {
      const { minute } = wallClock(ms, 'America/New_York');
      return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
    };

    it("flattens the route's own symbols on its connection at the window's end, once, audited; another route's position stays", async () => {
      const ws = await world.workspace();
      const connection = await world.connect(ws.token, 'paper');
      const [source, other] = [await world.source(ws.token), await world.source(ws.token)];
      const endMs = Math.floor((Date.now() + 60 * 60_000) / 60_000) * 60_000;
      const window = { days, start: hhmm(Date.now() - 60 * 60_000), end: hhmm(endMs), timezone: 'America/New_York', flattenAtEnd: true };
      const routeId = await world.route(ws.token, {
        sourceId: source.id,
        connectionId: connection,
        sizing: { mode: 'fixed', value: '2' },
        limits: { tradingWindows: [window] },
      });
      await world.route(ws.token, { sourceId: other.id, connectionId: connection, sizing: { mode: 'fixed', value: '3' } });
      expect((await world.settled(ws.token, await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100' }))).orders[0].status).toBe('filled');
      expect((await world.settled(ws.token, await world.send(other, { ticker: 'MSFT', action: 'buy', price: '50' }))).orders[0].status).toBe('filled');
      const position = async (symbol: string) =>
        (await world.sql<{ q: string }>('SELECT quantity::text AS q FROM paper_positions WHERE connection_id = $1 AND symbol = $2', [connection, symbol]))[0]
          ?.q ?? '0';

      const flattener = world.worker.app.get(WindowFlattener);
      // Just before the end: nothing happens.
      expect(await flattener.sweep(endMs - 1_000)).toBe(0);
      expect(await flattener.sweep(endMs + 20_000)).toBe(1);
      // A second look (this worker or another) at the same end does nothing.
      expect(await flattener.sweep(endMs + 35_000)).toBe(0);
      const flattens = await world.sql<{ id: string; scope: string; reason: string }>('SELECT id, scope, reason FROM flattens WHERE workspace_id = $1', [
        ws.id,
      ]);
      expect(flattens).toEqual([
        {
          id: expect.any(String),
          scope: 'route',
          reason: expect.stringMatching(/^window_end: the route's trading window .* ended at .*; the route's positions are flattened$/),
        },
      ]);
      for (const deadline = Date.now() + 20_000; (await position('AAPL')) !== '0';) {
        if (Date.now() > deadline) throw new Error('AAPL was never flattened');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await position('MSFT')).toBe('3');
      const view = await http(world.api.url, 'GET', `/v1/flattens/${flattens[0].id}`, { token: ws.token });
      expect(view.body).toMatchObject({
        scope: 'route',
        connections: [{ connectionId: connection, orders: [expect.objectContaining({ symbol: 'AAPL', side: 'sell', quantity: '2' })] }],
      });
      const audit = await world.sql<{ metadata: any; resource_id: string }>(
        `SELECT metadata, resource_id FROM audit_events WHERE workspace_id = $1 AND action = 'flatten.request'`,
        [ws.id],
      );
      expect(audit).toEqual([
        {
          resource_id: routeId,
          metadata: expect.objectContaining({
            flattenId: flattens[0].id,
            scope: 'route',
            windowEnd: new Date(endMs).toISOString(),
            windows: 'route',
            symbols: 'AAPL',
          }),
        },
      ]);
    });

    /** A workspace with one paper connection and a route on it that bought 2 AAPL (filled), with no windows of its own yet. */
    async function holding() {
      const ws = await world.workspace();
      const connection = await world.connect(ws.token, 'paper');
      const source = await world.source(ws.token);
      const routeId = await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '2' } });
      expect((await world.settled(ws.token, await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100' }))).orders[0].status).toBe('filled');
      return { ws, connection, routeId };
    }
    const position = async (connection: string) =>
      (await world.sql<{ q: string }>("SELECT quantity::text AS q FROM paper_positions WHERE connection_id = $1 AND symbol = 'AAPL'", [connection]))[0]?.q ??
      '0';
    const flattened = async (connection: string) => {
      for (const deadline = Date.now() + 20_000; (await position(connection)) !== '0';) {
        if (Date.now() > deadline) throw new Error('AAPL was never flattened');
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    /** The workspace's window flattens and their flatten.request audit events (sweeps look at every workspace's routes: count this one's). */
    const made = async (workspaceId: string) => ({
      flattens: await world.sql<{ id: string; reason: string }>('SELECT id, reason FROM flattens WHERE workspace_id = $1', [workspaceId]),
      audit: await world.sql<{ resource_id: string; reason: string; metadata: any }>(
        `SELECT resource_id, reason, metadata FROM audit_events WHERE workspace_id = $1 AND action = 'flatten.request'`,
        [workspaceId],
      ),
    });

    it("flattens at the end of the workspace's flattenAtEnd window (the route sets none), once, audited", async () => {
      const { ws, connection, routeId } = await holding();
      const window = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', end: '16:00', timezone: 'America/New_York', flattenAtEnd: true };
      const set = await http(world.api.url, 'PUT', '/v1/workspace/risk-limits', {
        token: ws.token,
        body: { maxSignalAgeSeconds: null, duplicateWindowSeconds: null, tradingWindows: [window], reason: 'flat by the close' },
      });
      expect(set.status).toBe(200);
      const flattener = world.worker.app.get(WindowFlattener);
      // Wednesday 2026-06-10, 16:00 EDT is 20:00Z.
      const endMs = Date.parse('2026-06-10T20:00:00Z');
      await flattener.sweep(endMs - 1_000);
      expect((await made(ws.id)).flattens).toEqual([]);
      for (const t of [endMs + 20_000, endMs + 35_000, endMs + 5 * 60_000]) await flattener.sweep(t);
      const { flattens, audit } = await made(ws.id);
      expect(flattens).toEqual([
        {
          id: expect.any(String),
          reason:
            "window_end: the workspace's trading window mon,tue,wed,thu,fri 09:30-16:00 America/New_York ended at 2026-06-10T20:00:00.000Z; the route's positions are flattened",
        },
      ]);
      await flattened(connection);
      const view = await http(world.api.url, 'GET', `/v1/flattens/${flattens[0].id}`, { token: ws.token });
      expect(view.body).toMatchObject({
        scope: 'route',
        connections: [{ connectionId: connection, orders: [expect.objectContaining({ symbol: 'AAPL', side: 'sell', quantity: '2' })] }],
      });
      expect(audit).toEqual([
        {
          resource_id: routeId,
          reason: flattens[0].reason,
          metadata: expect.objectContaining({ flattenId: flattens[0].id, windowEnd: '2026-06-10T20:00:00.000Z', windows: 'workspace', symbols: 'AAPL' }),
        },
      ]);
      // Looked at again after the close: still one flatten, and the position stays flat.
      await flattener.sweep(endMs + 6 * 60_000);
      expect((await made(ws.id)).flattens).toHaveLength(1);
      expect(await position(connection)).toBe('0');
    });

    it('autumn switch day: a window ending at 01:30, which happens twice, flattens once, at the second 01:30 (EST)', async () => {
      const { ws, connection, routeId } = await holding();
      const night = { days: ['sun'], start: '00:00', end: '01:30', timezone: 'America/New_York', flattenAtEnd: true };
      const patched = await http(world.api.url, 'PATCH', `/v1/routes/${routeId}`, { token: ws.token, body: { limits: { tradingWindows: [night] } } });
      expect(patched.status).toBe(200);
      const flattener = world.worker.app.get(WindowFlattener);
      // 2026-11-01: 01:30 EDT is 05:30Z, 01:30 EST is 06:30Z.
      for (const iso of ['2026-11-01T05:30:20Z', '2026-11-01T05:35:00Z', '2026-11-01T06:15:00Z']) await flattener.sweep(Date.parse(iso));
      expect((await made(ws.id)).flattens).toEqual([]);
      expect(await position(connection)).toBe('2');
      for (const iso of ['2026-11-01T06:30:20Z', '2026-11-01T06:30:35Z', '2026-11-01T06:39:00Z']) await flattener.sweep(Date.parse(iso));
      const { flattens, audit } = await made(ws.id);
      expect(flattens).toHaveLength(1);
      expect(audit).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ windowEnd: '2026-11-01T06:30:00.000Z', windows: 'route' }) })]);
      await flattened(connection);
    });

    it('spring switch day: a window ending at 02:30, which never happens, flattens once, at 03:00 EDT', async () => {
      const { ws, connection, routeId } = await holding();
      const night = { days: ['sun'], start: '01:00', end: '02:30', timezone: 'America/New_York', flattenAtEnd: true };
      expect((await http(world.api.url, 'PATCH', `/v1/routes/${routeId}`, { token: ws.token, body: { limits: { tradingWindows: [night] } } })).status).toBe(
        200,
      );
      const flattener = world.worker.app.get(WindowFlattener);
      // 2026-03-08: 02:00 EST (07:00Z) jumps to 03:00 EDT.
      await flattener.sweep(Date.parse('2026-03-08T06:59:30Z'));
      expect((await made(ws.id)).flattens).toEqual([]);
      for (const iso of ['2026-03-08T07:00:20Z', '2026-03-08T07:05:00Z', '2026-03-08T07:30:20Z', '2026-03-08T07:40:00Z'])
        await flattener.sweep(Date.parse(iso));
      const { flattens, audit } = await made(ws.id);
      expect(flattens).toHaveLength(1);
      expect(audit).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ windowEnd: '2026-03-08T07:00:00.000Z' }) })]);
      await flattened(connection);
    });
  });
});
