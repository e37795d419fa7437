import { http } from '../support/api-app';
import { lastWindowEnd, TradingWindow, wallClock } from '../../src/common/trading-windows';
import { WindowFlattener } from '../../src/routing/window-flattener';
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
          reason: expect.stringMatching(/^window_end: the trading window .* ended at .*; the route's positions are flattened$/),
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
          metadata: expect.objectContaining({ flattenId: flattens[0].id, scope: 'route', windowEnd: new Date(endMs).toISOString(), symbols: 'AAPL' }),
        },
      ]);
    });
  });
});
