import {
  contractOfTicker,
  expirationTarget,
  formatOccSymbol,
  formatOptionSelection,
  ListedContract,
  normalizeExpiration,
  OptionSelection,
  parseOccSymbol,
  parseOptionSelection,
  pickStrike,
} from '../../src/brokers/option-symbols';

describe('OCC option symbols (src/brokers/option-symbols.ts)', () => {
  it('parses root, expiration, right and strike', () => {
    expect(parseOccSymbol('AAPL261218C00150000')).toEqual({ root: 'AAPL', expiration: '2026-12-18', right: 'call', strike: '150' });
    expect(parseOccSymbol('spy250520p00582500')).toEqual({ root: 'SPY', expiration: '2025-05-20', right: 'put', strike: '582.5' });
    // The OCC's own 21-character form pads the root with spaces.
    expect(parseOccSymbol('F     270115C00012500')).toEqual({ root: 'F', expiration: '2027-01-15', right: 'call', strike: '12.5' });
  });

  it('refuses what is not an OCC symbol', () => {
    for (const bad of [
      'AAPL',
      'AAPL261218X00150000',
      'AAPL261318C00150000',
      'AAPL260230C00150000',
      'AAPL261218C00000000',
      'AAPL261218C0015000',
      '1AAPL261218C00150000',
    ]) {
      expect(parseOccSymbol(bad)).toBeUndefined();
    }
  });

  it('formats back to the same symbol, and refuses strikes OCC cannot spell', () => {
    for (const symbol of ['AAPL261218C00150000', 'SPY250520P00582500', 'BRKB270115C00000500']) expect(formatOccSymbol(parseOccSymbol(symbol)!)).toBe(symbol);
    expect(() => formatOccSymbol({ root: 'AAPL', expiration: '2026-12-18', right: 'call', strike: '150.0005' })).toThrow(RangeError);
    expect(() => formatOccSymbol({ root: 'AAPL', expiration: '2026-12-18', right: 'call', strike: '100000' })).toThrow(RangeError);
  });
});

describe('contracts named by a ticker', () => {
  it("reads OCC symbols behind any exchange prefix and TradingView's OPRA spelling", () => {
    const aapl = { root: 'AAPL', expiration: '2026-12-18', right: 'call', strike: '150' };
    expect(contractOfTicker('OPRA:AAPL261218C00150000')).toEqual(aapl);
    expect(contractOfTicker('OPRA:AAPL261218C150.0')).toEqual(aapl);
    expect(contractOfTicker('spy250520p582.5')).toEqual({ root: 'SPY', expiration: '2025-05-20', right: 'put', strike: '582.5' });
    for (const bad of ['NASDAQ:AAPL', 'AAPL261218C0', 'AAPL261318C150', 'OPRA:AAPL261218C150.0001', 'BTC/USD']) expect(contractOfTicker(bad)).toBeUndefined();
  });
});

describe('option expirations', () => {
  it('reads dates and offsets as routers write them', () => {
    expect(normalizeExpiration('2026-12-18')).toBe('2026-12-18');
    expect(normalizeExpiration('+30 days')).toBe('+30d');
    expect(normalizeExpiration(' +1 Week ')).toBe('+1w');
    expect(normalizeExpiration('+6 months')).toBe('+6m');
    expect(normalizeExpiration('+0d')).toBe('+0d');
    for (const bad of ['2026-02-30', '30 days', '+30 years', '+5000 days', 'next friday', '+36 months']) expect(normalizeExpiration(bad)).toBeUndefined();
  });

  it('counts offsets from the market date, months by the calendar', () => {
    expect(expirationTarget('+30d', '2026-12-08')).toBe('2027-01-07');
    expect(expirationTarget('+2w', '2026-12-08')).toBe('2026-12-22');
    expect(expirationTarget('+1m', '2027-01-31')).toBe('2027-02-28');
    expect(expirationTarget('+6m', '2026-12-08')).toBe('2027-06-08');
    expect(expirationTarget('2027-03-19', '2026-12-08')).toBe('2027-03-19');
  });
});

describe('option selection rules', () => {
  const rule = (strike: OptionSelection['strike'], optionType: 'call' | 'put' = 'call'): OptionSelection => ({
    underlying: 'AAPL',
    optionType,
    expiration: '+30d',
    strike,
    ...('strikesAway' in strike && { underlyingPrice: '187.4' }),
  });

  it('round-trips through the plan symbol', () => {
    for (const selection of [
      rule({ strikesAway: 2, intrinsicValue: 'otm' }),
      rule({ strikesAway: 0 }, 'put'),
      { underlying: 'SPY', optionType: 'put', expiration: '2027-01-15', strike: { price: '582.5' } } as OptionSelection,
    ]) {
      expect(parseOptionSelection(formatOptionSelection(selection))).toEqual(selection);
    }
    expect(formatOptionSelection(rule({ strikesAway: 2, intrinsicValue: 'otm' }))).toBe('option:AAPL:call:+30d:otm2@187.4');
    expect(parseOptionSelection('option:AAPL:call:+30d:otm2')).toBeUndefined(); // counted from a price it does not have
    expect(parseOptionSelection('AAPL261218C00150000')).toBeUndefined();
  });

  const listed: ListedContract[] = ['180', '185', '187.5', '190', '195', '200'].map((strike) => ({ symbol: `S${strike}`, expiration: '2027-01-08', strike }));

  it('counts strikes out of and into the money from the underlying price, per right', () => {
    expect(pickStrike(listed, rule({ strikesAway: 1, intrinsicValue: 'otm' }))!.strike).toBe('187.5');
    expect(pickStrike(listed, rule({ strikesAway: 2, intrinsicValue: 'otm' }))!.strike).toBe('190');
    expect(pickStrike(listed, rule({ strikesAway: 1, intrinsicValue: 'itm' }))!.strike).toBe('185');
    expect(pickStrike(listed, rule({ strikesAway: 1, intrinsicValue: 'otm' }, 'put'))!.strike).toBe('185');
    expect(pickStrike(listed, rule({ strikesAway: 2, intrinsicValue: 'itm' }, 'put'))!.strike).toBe('190');
    expect(pickStrike(listed, rule({ strikesAway: 0 }))!.strike).toBe('187.5');
    expect(pickStrike(listed, rule({ strikesAway: 4, intrinsicValue: 'itm' }))).toBeUndefined();
  });

  it('takes an exact strike only when it is listed, and breaks an at-the-money tie to the lower strike', () => {
    expect(pickStrike(listed, rule({ price: '195' }))!.symbol).toBe('S195');
    expect(pickStrike(listed, rule({ price: '196' }))).toBeUndefined();
    expect(pickStrike(listed, { ...rule({ strikesAway: 0 }), underlyingPrice: '192.5' })!.strike).toBe('190');
  });
});
