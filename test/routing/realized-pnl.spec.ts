import { PnlFill, realizedPnl } from '../../src/orders/realized-pnl';

const fill = (side: PnlFill['side'], quantity: string, price: string, fee: string | null = null, symbol = 'AAPL'): PnlFill => ({
  symbol,
  side,
  quantity,
  price,
  fee,
});

describe('realizedPnl (average cost)', () => {
  it('realises closes against the average cost of what was bought, and keeps the rest open at that cost', () => {
    const report = realizedPnl([fill('buy', '10', '100'), fill('buy', '10', '110', '1.5'), fill('sell', '5', '120', '0.5')]);
    expect(report.symbols).toEqual([{ symbol: 'AAPL', position: '15', averageCost: '105', realizedPnl: '75', fees: '2', fills: 3 }]);
  });

  it('counts shorts the other way, and a reversal through flat opens the rest at the fill price', () => {
    expect(realizedPnl([fill('sell', '4', '50'), fill('buy', '4', '45')]).symbols[0]).toMatchObject({ position: '0', averageCost: null, realizedPnl: '20' });
    expect(realizedPnl([fill('buy', '2', '10'), fill('sell', '5', '12')]).symbols[0]).toMatchObject({ position: '-3', averageCost: '12', realizedPnl: '4' });
  });

  it('keeps symbols apart and says how many fills it could not attribute', () => {
    const report = realizedPnl([fill('buy', '1', '100', null, 'MSFT'), fill(null, '1', '101'), fill('sell', '1', '90', null, 'MSFT')]);
    expect(report).toEqual({ symbols: [expect.objectContaining({ symbol: 'MSFT', realizedPnl: '-10' })], unattributedFills: 1 });
  });
});
