import { parseDecimal } from '../../src/common/decimal';
import { planOrders, RoutableSignal, sizeFromEquity } from '../../src/routing/order-plan';
import { routeRateLimit } from '../../src/routing/risk-gate';
import { positionLimitRefusal } from '../../src/routing/risk/position-limits';
import { windowsRefusal, withWorkspaceLimits, WorkspaceLimits } from '../../src/routing/risk/workspace-limits';
import type { RouteRow } from '../../src/routing/routing.repository';
import { planRoute } from '../unit/support/plan-fixtures';

/** Block reasons say where the limit came from: the route itself, its workspace's default, or its workspace's ceiling. */
describe('where a limit came from, in the block reason', () => {
  const noWorkspaceLimits: WorkspaceLimits = {
    maxQuantity: null,
    maxNotional: null,
    maxOrdersPerMinute: null,
    tradingWindows: null,
    blockExitsOutsideWindows: false,
    maxPosition: null,
    maxOpenPositions: null,
  };
  const row = (own: Partial<RouteRow>, workspace: Partial<WorkspaceLimits>): RouteRow =>
    withWorkspaceLimits({
      ...planRoute({ sizingValue: '4' }),
      broker: 'paper',
      environment: 'paper',
      connectionStatus: 'active',
      credentialVersion: 1,
      ordersLastMinute: 0,
      maxSignalAgeSeconds: null,
      workspaceMaxSignalAgeSeconds: null,
      tradingWindows: null,
      blockExitsOutsideWindows: false,
      duplicateWindowSeconds: null,
      maxPosition: null,
      maxOpenPositions: null,
      lossLimited: false,
      duplicateOf: null,
      workspaceLimits: { ...noWorkspaceLimits, ...workspace },
      approval: { mode: null, expirySeconds: null },
      workspaceApproval: { mode: null, expirySeconds: null },
      ...own,
    });
  const signal: RoutableSignal = { id: 's1', seq: '1', ticker: 'AAPL', action: 'buy', orderType: 'market', price: '100' };
  /** The plan's one leg: its quantity, or the reason and limit it was blocked with. */
  const plan = (route: RouteRow) => {
    const [leg] = planOrders(signal, route, 'paper');
    return leg.ok ? leg.plan.quantity : { reason: leg.reason, limit: leg.limit };
  };

  describe('maxQuantity (sizing 4)', () => {
    it("the route's own limit: 4 passes, 3.99 blocks", () => {
      expect(plan(row({ maxQuantity: '4' }, {}))).toBe('4');
      expect(plan(row({ maxQuantity: '3.99' }, {}))).toEqual({
        reason: "max_quantity_exceeded: 4 is above the route's limit of 3.99",
        limit: 'maxQuantity',
      });
    });

    it("the workspace's default (the route sets none): 4 passes, 3.99 blocks", () => {
      expect(plan(row({}, { maxQuantity: '4' }))).toBe('4');
      expect(plan(row({}, { maxQuantity: '3.99' }))).toEqual({
        reason: "max_quantity_exceeded: 4 is above the workspace's default limit of 3.99 (the route sets none)",
        limit: 'maxQuantity',
      });
    });

    it("the workspace's ceiling under a looser route limit: 4 passes, 3.99 blocks; an equal route limit is the route's", () => {
      expect(plan(row({ maxQuantity: '10' }, { maxQuantity: '4' }))).toBe('4');
      expect(plan(row({ maxQuantity: '10' }, { maxQuantity: '3.99' }))).toEqual({
        reason: "max_quantity_exceeded: 4 is above the workspace's ceiling of 3.99 (the route's own 10 is looser)",
        limit: 'maxQuantity',
      });
      expect(plan(row({ maxQuantity: '3' }, { maxQuantity: '3' }))).toMatchObject({ reason: "max_quantity_exceeded: 4 is above the route's limit of 3" });
    });

    it('percent_equity sizing (sized at send time) says the same', () => {
      const route = row({ sizingMode: 'percent_equity', sizingValue: '1', maxQuantity: '50' }, { maxQuantity: '9.99' });
      // 1 % of 100 000 at 100 is 10.
      expect(sizeFromEquity({ intent: 'entry', symbol: 'AAPL', side: 'buy', type: 'market', referencePrice: '100' }, route, '100000')).toEqual({
        reason: "max_quantity_exceeded: 10 is above the workspace's ceiling of 9.99 (the route's own 50 is looser)",
        limit: 'maxQuantity',
      });
    });
  });

  describe('maxNotional (4 at 100 = 400)', () => {
    it.each([
      ['route', { maxNotional: '400' }, {}, { maxNotional: '399.99' }, {}, "the route's limit of 399.99"],
      ['workspace default', {}, { maxNotional: '400' }, {}, { maxNotional: '399.99' }, "the workspace's default limit of 399.99 (the route sets none)"],
      [
        'workspace ceiling',
        { maxNotional: '1000' },
        { maxNotional: '400' },
        { maxNotional: '1000' },
        { maxNotional: '399.99' },
        "the workspace's ceiling of 399.99 (the route's own 1000 is looser)",
      ],
    ])('%s: at the limit passes, just above blocks', (_from, ownIn, wsIn, ownOut, wsOut, words) => {
      expect(plan(row(ownIn, wsIn))).toBe('4');
      expect(plan(row(ownOut, wsOut))).toEqual({ reason: `max_notional_exceeded: 400 is above ${words}`, limit: 'maxNotional' });
    });

    it('a notional limit without a price names its source too', () => {
      const [leg] = planOrders({ ...signal, price: undefined }, row({}, { maxNotional: '400' }), 'paper');
      expect(leg).toMatchObject({
        ok: false,
        reason: "price_required: the signal has no price and the workspace's default limit of 400 (the route sets none) on notional needs one",
        limit: 'maxNotional',
      });
    });
  });

  describe('maxOrdersPerMinute (2 sent in the last minute)', () => {
    it.each([
      ['route', { maxOrdersPerMinute: 3 }, {}, { maxOrdersPerMinute: 2 }, {}, "the route's limit of 2 orders per minute"],
      [
        'workspace default',
        {},
        { maxOrdersPerMinute: 3 },
        {},
        { maxOrdersPerMinute: 2 },
        "the workspace's default limit of 2 orders per minute (the route sets none)",
      ],
      [
        'workspace ceiling',
        { maxOrdersPerMinute: 10 },
        { maxOrdersPerMinute: 3 },
        { maxOrdersPerMinute: 10 },
        { maxOrdersPerMinute: 2 },
        "the workspace's ceiling of 2 orders per minute (the route's own 10 orders per minute is looser)",
      ],
    ])('%s: one below the limit passes, at the limit blocks', (_from, ownIn, wsIn, ownOut, wsOut, words) => {
      expect(routeRateLimit(row({ ...ownIn, ordersLastMinute: 2 }, wsIn))).toBeUndefined();
      expect(routeRateLimit(row({ ...ownOut, ordersLastMinute: 2 }, wsOut))).toBe(
        `max_orders_per_minute: 2 orders of the route were sent in the last minute, which reaches ${words}`,
      );
    });
  });

  describe('maxPosition and maxOpenPositions', () => {
    const book = { source: 'fills' as const, positions: new Map([['MSFT', parseDecimal('3')]]), working: [] };
    const buy = (quantity: string, symbol = 'MSFT') => ({ intent: 'entry' as const, symbol, side: 'buy' as const, type: 'market' as const, quantity });

    it("maxPosition from the workspace's default and ceiling: reaching it passes, passing it blocks", () => {
      expect(positionLimitRefusal(buy('2'), row({}, { maxPosition: '5' }), book, false)).toBeUndefined();
      expect(positionLimitRefusal(buy('2'), row({}, { maxPosition: '4.5' }), book, false)?.reason).toBe(
        "max_position_exceeded: buying 2 MSFT would take the position to 5 (held 3 by Switchyard's recorded fills, working 0), past the workspace's default limit of 4.5 (the route sets none) either way",
      );
      expect(positionLimitRefusal(buy('2'), row({ maxPosition: '8' }, { maxPosition: '4.5' }), book, false)?.reason).toMatch(
        /, past the workspace's ceiling of 4\.5 \(the route's own 8 is looser\) either way$/,
      );
    });

    it("maxOpenPositions from the workspace's default and ceiling: one below passes, at the limit blocks", () => {
      expect(positionLimitRefusal(buy('1', 'AAPL'), row({}, { maxOpenPositions: 2 }), book, false)).toBeUndefined();
      expect(positionLimitRefusal(buy('1', 'AAPL'), row({}, { maxOpenPositions: 1 }), book, false)?.reason).toBe(
        "max_open_positions: 1 positions are open or being opened on this connection (MSFT, by Switchyard's recorded fills); that reaches the workspace's default limit of 1 (the route sets none), so AAPL is not opened",
      );
      expect(positionLimitRefusal(buy('1', 'AAPL'), row({ maxOpenPositions: 4 }, { maxOpenPositions: 1 }), book, false)?.reason).toMatch(
        /that reaches the workspace's ceiling of 1 \(the route's own 4 is looser\), so AAPL is not opened$/,
      );
    });
  });

  describe('blockExitsOutsideWindows', () => {
    const window = { days: ['mon' as const], start: '09:30', end: '16:00', timezone: 'America/New_York' };
    // Monday 2026-03-09 16:00 EDT (20:00Z): just outside; 15:59 just inside.
    const outside = Date.parse('2026-03-09T20:00:00Z');

    it("says when exits are blocked by the workspace's setting rather than the route's", () => {
      const byWorkspace = row({ tradingWindows: [window] }, { blockExitsOutsideWindows: true });
      expect(windowsRefusal(byWorkspace, 'exit', outside - 60_000)).toBeUndefined();
      expect(windowsRefusal(byWorkspace, 'exit', outside)).toBe(
        "outside_trading_window: 2026-03-09T20:00:00.000Z is outside this route's trading windows (mon 09:30-16:00 America/New_York); exits are blocked outside them (the workspace's blockExitsOutsideWindows; the route's own allows exits)",
      );
      expect(windowsRefusal(byWorkspace, 'entry', outside)).toMatch(/; entries are blocked outside them$/);
      expect(windowsRefusal(row({ tradingWindows: [window], blockExitsOutsideWindows: true }, { blockExitsOutsideWindows: true }), 'exit', outside)).toMatch(
        /; exits are blocked outside them$/,
      );
      expect(windowsRefusal(row({ tradingWindows: [window] }, {}), 'exit', outside)).toBeUndefined();
    });
  });
});
