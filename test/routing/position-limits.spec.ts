import { parseDecimal } from '../../src/common/decimal';
import type { OrderPlan } from '../../src/routing/order-plan';
import { ConnectionBook, positionLimitRefusal } from '../../src/routing/risk/position-limits';

const book = (positions: Record<string, string>, working: ConnectionBook['working'] = [], source: ConnectionBook['source'] = 'fills'): ConnectionBook => ({
  source,
  positions: new Map(Object.entries(positions).map(([s, q]) => [s, parseDecimal(q)])),
  working,
});
const buy = (quantity: string, symbol = 'AAPL', over: Partial<OrderPlan> = {}): OrderPlan => ({
  intent: 'entry',
  symbol,
  side: 'buy',
  type: 'market',
  quantity,
  ...over,
});
const reason = (plan: OrderPlan, limits: { maxPosition?: string; maxOpenPositions?: number }, b: ConnectionBook, afterClose = false) =>
  positionLimitRefusal(plan, { maxPosition: limits.maxPosition ?? null, maxOpenPositions: limits.maxOpenPositions ?? null }, b, afterClose)?.reason;

describe('maxPosition', () => {
  it('lets an entry reach the limit exactly and blocks one that passes it', () => {
    expect(reason(buy('2'), { maxPosition: '5' }, book({ AAPL: '3' }))).toBeUndefined();
    expect(reason(buy('2.0001'), { maxPosition: '5' }, book({ AAPL: '3' }))).toBe(
      "max_position_exceeded: buying 2.0001 AAPL would take the position to 5.0001 (held 3 by Switchyard's recorded fills, working 0), past the route's limit of 5 either way",
    );
  });

  it('counts entry orders still working on the same side, and names the snapshot when it is the source', () => {
    const working = [
      { symbol: 'AAPL', side: 'buy' as const, remaining: '2' },
      { symbol: 'AAPL', side: 'sell' as const, remaining: '9' },
      { symbol: 'MSFT', side: 'buy' as const, remaining: '9' },
    ];
    expect(reason(buy('1'), { maxPosition: '5' }, book({ AAPL: '2' }, working, 'snapshot'))).toBeUndefined();
    expect(reason(buy('2'), { maxPosition: '5' }, book({ AAPL: '2' }, working, 'snapshot'))).toBe(
      "max_position_exceeded: buying 2 AAPL would take the position to 6 (held 2 by the broker's snapshot, working 2), past the route's limit of 5 either way",
    );
  });

  it('holds for shorts, lets orders that reduce the position go, and blocks going through flat past the limit', () => {
    expect(reason(buy('4', 'AAPL', { side: 'sell' }), { maxPosition: '5' }, book({ AAPL: '-2' }))).toMatch(
      /^max_position_exceeded: selling 4 AAPL would take the position to -6/,
    );
    expect(reason(buy('2', 'AAPL', { side: 'sell' }), { maxPosition: '5' }, book({ AAPL: '8' }))).toBeUndefined(); // 8 -> 6: over the limit still, but less
    expect(reason(buy('12', 'AAPL', { side: 'sell' }), { maxPosition: '5' }, book({ AAPL: '4' }))).toMatch(/to -8 /);
  });

  it("reads a reversal's open leg from flat (its close leg goes first), and an add on the open side", () => {
    expect(reason(buy('5', 'AAPL', { side: 'sell' }), { maxPosition: '5' }, book({ AAPL: '3' }), true)).toBeUndefined();
    expect(reason(buy('6', 'AAPL', { side: 'sell' }), { maxPosition: '5' }, book({ AAPL: '3' }), true)).toMatch(/to -6 \(held 0 /);
    expect(reason(buy('2', 'AAPL', { side: undefined }), { maxPosition: '5' }, book({ AAPL: '-4' }))).toMatch(
      /^max_position_exceeded: selling 2 AAPL would take the position to -6/,
    );
  });

  it('never blocks exits, and leaves an add with nothing open to the executor', () => {
    expect(
      reason({ intent: 'exit', symbol: 'AAPL', type: 'market' }, { maxPosition: '1', maxOpenPositions: 1 }, book({ AAPL: '9', MSFT: '1' })),
    ).toBeUndefined();
    expect(reason(buy('9', 'AAPL', { side: undefined }), { maxPosition: '1' }, book({}))).toBeUndefined();
  });
});

describe('maxOpenPositions', () => {
  it('opens a symbol while fewer are open, and blocks it once the limit is reached; adds to open ones still go', () => {
    expect(reason(buy('1', 'TSLA'), { maxOpenPositions: 3 }, book({ AAPL: '1', MSFT: '-1' }))).toBeUndefined();
    expect(reason(buy('1', 'TSLA'), { maxOpenPositions: 2 }, book({ AAPL: '1', MSFT: '-1' }))).toBe(
      "max_open_positions: 2 positions are open or being opened on this connection (AAPL, MSFT, by Switchyard's recorded fills); that reaches the route's limit of 2, so TSLA is not opened",
    );
    expect(reason(buy('1', 'AAPL'), { maxOpenPositions: 2 }, book({ AAPL: '1', MSFT: '-1' }))).toBeUndefined();
  });

  it('counts symbols with entries working as open, and flat symbols as closed', () => {
    expect(reason(buy('1', 'TSLA'), { maxOpenPositions: 2 }, book({ AAPL: '1', MSFT: '0' }, [{ symbol: 'NVDA', side: 'buy', remaining: '1' }]))).toMatch(
      /^max_open_positions: 2 positions .*\(AAPL, NVDA,/,
    );
    expect(
      reason(buy('1', 'NVDA'), { maxOpenPositions: 2 }, book({ AAPL: '1', MSFT: '0' }, [{ symbol: 'NVDA', side: 'buy', remaining: '1' }])),
    ).toBeUndefined();
  });
});
