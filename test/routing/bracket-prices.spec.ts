import { resolveBrackets } from '../../src/routing/bracket-prices';

describe('resolveBrackets: take-profit and stop-loss distances to prices', () => {
  it("puts a buy's take-profit above and its stop-loss below the reference, a sell's the other way", () => {
    const legs = { takeProfit: { percent: '2' }, stopLoss: { type: 'stop' as const, amount: '1.5' } };
    expect(resolveBrackets({ side: 'buy', price: '190.5', ...legs })).toEqual({ takeProfit: '194.31', stopLoss: '189' });
    expect(resolveBrackets({ side: 'sell', price: '190.5', ...legs })).toEqual({ takeProfit: '186.69', stopLoss: '192' });
  });

  it('measures from the limit price, else the stop price, else the signal price', () => {
    const takeProfit = { amount: '10' };
    expect(resolveBrackets({ side: 'buy', limitPrice: '100', stopPrice: '90', price: '95', takeProfit })).toEqual({ takeProfit: '110' });
    expect(resolveBrackets({ side: 'buy', stopPrice: '90', price: '95', takeProfit })).toEqual({ takeProfit: '100' });
    expect(resolveBrackets({ side: 'buy', price: '95', takeProfit })).toEqual({ takeProfit: '105' });
  });

  it("keeps the reference price's decimals (at least cents), rounding half away from zero", () => {
    expect(resolveBrackets({ side: 'buy', price: '1.08505', takeProfit: { percent: '0.5' } })).toEqual({ takeProfit: '1.09048' });
    expect(resolveBrackets({ side: 'buy', price: '100', takeProfit: { percent: '0.125' } })).toEqual({ takeProfit: '100.13' });
  });

  it('passes absolute prices, stop-limit limits and trails through untouched', () => {
    expect(resolveBrackets({ side: 'buy', takeProfit: { limitPrice: '120' }, stopLoss: { type: 'stop_limit', stopPrice: '95', limitPrice: '94.5' } })).toEqual({
      takeProfit: '120',
      stopLoss: '95',
      stopLossLimit: '94.5',
    });
    expect(resolveBrackets({ side: 'sell', stopLoss: { type: 'trailing_stop', trailAmount: '0.002' } })).toEqual({ trailAmount: '0.002' });
  });

  it('says why when a distance cannot be resolved', () => {
    expect(resolveBrackets({ side: 'buy', takeProfit: { percent: '2' } })).toEqual({ reason: expect.stringMatching(/^price_required: /) });
    expect(resolveBrackets({ side: undefined, price: '10', stopLoss: { type: 'stop', percent: '2' } })).toEqual({
      reason: expect.stringMatching(/^bracket_side_unknown: /),
    });
    expect(resolveBrackets({ side: 'sell', price: '10', takeProfit: { amount: '10' } })).toEqual({ reason: expect.stringMatching(/^take_profit_invalid: /) });
    expect(resolveBrackets({ side: 'buy', price: '10', stopLoss: { type: 'stop', amount: '12' } })).toEqual({
      reason: expect.stringMatching(/^stop_loss_invalid: /),
    });
  });
});
