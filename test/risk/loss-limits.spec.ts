import { parseDecimal } from '../../src/common/decimal';
import { realizedPnl } from '../../src/orders/realized-pnl';
import { LossInputs, lossBreach, LossSettings, sessionPnl } from '../../src/routing/risk/loss-limits';

const boundary = new Date('2026-12-07T00:00:00.000Z');
const at = (iso: string) => new Date(iso);
const fill = (side: 'buy' | 'sell', quantity: string, price: string, when: string, symbol = 'AAPL') => ({
  symbol,
  side,
  quantity,
  price,
  fee: null,
  at: at(when),
});
const settings = (over: Partial<LossSettings> = {}): LossSettings => ({
  dailyLossLimit: null,
  maxDrawdown: null,
  action: 'block',
  sessionStart: '00:00',
  sessionTimezone: 'UTC',
  ...over,
});
const session = { start: boundary, end: new Date('2026-12-08T00:00:00.000Z') };
const inputs = (over: Partial<LossInputs>): LossInputs => ({ fills: [], snapshot: null, quotes: {}, ...over });

describe('realised P&L since a session boundary', () => {
  it('counts closes filled at or after the boundary, with the cost basis from the whole history', () => {
    const fills = [
      fill('buy', '10', '100', '2026-12-06T15:00:00Z'),
      fill('sell', '4', '90', '2026-12-06T23:59:59.999Z'),
      fill('sell', '6', '95', '2026-12-07T00:00:00.000Z'),
    ];
    expect(realizedPnl(fills).symbols[0].realizedPnl).toBe('-70');
    // The close a millisecond before the boundary is yesterday's; the one at the boundary is today's (-30).
    expect(realizedPnl(fills, boundary).symbols[0]).toEqual(expect.objectContaining({ realizedPnl: '-30', position: '0', fills: 3 }));
  });
});

describe('session P&L', () => {
  it("marks the fills' open positions at the newest known price (a quote newer than the last fill)", () => {
    const pnl = sessionPnl(
      inputs({ fills: [fill('buy', '10', '100', '2026-12-07T10:00:00Z')], quotes: { AAPL: { price: '90.01', at: at('2026-12-07T10:05:00Z') } } }),
      boundary,
    );
    expect({ ...pnl, total: pnl.total.toString() }).toEqual(expect.objectContaining({ unrealizedFrom: 'marks', total: parseDecimal('-99.9').toString() }));
    // A quote older than the last fill loses to the fill's price.
    const older = sessionPnl(
      inputs({ fills: [fill('buy', '10', '100', '2026-12-07T10:00:00Z')], quotes: { AAPL: { price: '50', at: at('2026-12-07T09:00:00Z') } } }),
      boundary,
    );
    expect(older.total).toBe(0n);
  });

  it("takes the broker's unrealised P&L from a fresh snapshot that states it for every position", () => {
    const fills = [fill('buy', '1', '100', '2026-12-07T10:00:00Z'), fill('sell', '1', '80', '2026-12-07T11:00:00Z')];
    const pnl = sessionPnl(inputs({ fills, snapshot: [{ symbol: 'MSFT', quantity: '5', unrealizedPnl: '-12.5' }] }), boundary);
    expect(pnl.unrealizedFrom).toBe('snapshot');
    expect(pnl.total).toBe(parseDecimal('-32.5'));
    expect(sessionPnl(inputs({ fills, snapshot: [{ symbol: 'MSFT', quantity: '5' }] }), boundary).unrealizedFrom).toBe('marks');
  });
});

describe('loss breach', () => {
  const pnl = (total: string) => ({ realized: parseDecimal(total), unrealized: 0n, total: parseDecimal(total), unrealizedFrom: 'marks' as const });

  it('passes a loss just inside the daily limit and blocks one that reaches it, saying the numbers', () => {
    expect(lossBreach(settings({ dailyLossLimit: '100' }), pnl('-99.99'), 0n, session)).toBeUndefined();
    expect(lossBreach(settings({ dailyLossLimit: '100' }), pnl('-100'), 0n, session)).toEqual({
      limit: 'dailyLossLimit',
      reason:
        "daily_loss_limit: this connection's session P&L is -100 (since 2026-12-07T00:00:00.000Z: realised -100, unrealised 0 at the latest prices Switchyard saw); its daily loss limit is 100, so new entries are blocked until the session ends at 2026-12-08T00:00:00.000Z (exits still go)",
    });
  });

  it('measures the drawdown from the session high, and says a flatten follows', () => {
    const limits = settings({ maxDrawdown: '50', action: 'flatten' });
    expect(lossBreach(limits, pnl('150.01'), parseDecimal('200'), session)).toBeUndefined();
    const breach = lossBreach(limits, pnl('150'), parseDecimal('200'), session);
    expect(breach?.limit).toBe('maxDrawdown');
    expect(breach?.reason).toMatch(
      /^max_drawdown: this connection's session P&L fell 50 from its high of 200 to 150 .*its maximum drawdown is 50, so the connection is flattened and its kill switch engaged$/,
    );
  });
});
