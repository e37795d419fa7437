import { Problem } from '../../src/common/problem';
import { parseSignalPayload } from '../../src/signals/signal-payload';

function problemOf(body: unknown): Problem {
  try {
    parseSignalPayload(body);
  } catch (err) {
    return err as Problem;
  }
  throw new Error('expected a problem');
}

describe('parseSignalPayload', () => {
  it('normalises a TradingView body with placeholder strings and lists unknown fields as ignored', () => {
    const payload = parseSignalPayload({
      ticker: ' NASDAQ:AAPL ',
      action: 'BUY',
      quantity: '10',
      orderType: 'Limit',
      limitPrice: '187.250',
      stopLoss: 180,
      takeProfit: 0.00001,
      id: 12345,
      time: '2026-01-02T15:04:05Z',
      comment: 'not trusted',
    });
    expect(payload).toEqual({
      ticker: 'NASDAQ:AAPL',
      action: 'buy',
      quantity: '10',
      orderType: 'limit',
      limitPrice: '187.25',
      stopLoss: { type: 'stop', stopPrice: '180' },
      takeProfit: { limitPrice: '0.00001' },
      id: '12345',
      time: '2026-01-02T15:04:05.000Z',
      ignoredFields: ['comment'],
    });
  });

  it.each([
    [
      { action: 'sell', sentiment: 'flat' },
      { action: 'sell', sentiment: 'flat' },
    ],
    [
      { action: 'SELL', marketPosition: 'Flat' },
      { action: 'sell', sentiment: 'flat' },
    ],
    [
      { action: 'buy', sentiment: 'bullish' },
      { action: 'buy', sentiment: 'long' },
    ],
    [
      { action: 'sell', sentiment: 'bearish' },
      { action: 'sell', sentiment: 'short' },
    ],
    [{ action: 'close' }, { action: 'exit' }],
    [{ action: 'long' }, { action: 'buy', sentiment: 'long' }],
    [{ action: 'short' }, { action: 'sell', sentiment: 'short' }],
    [{ action: 'add' }, { action: 'add' }],
    [
      { action: 'buy', signalPrice: '101.50' },
      { action: 'buy', price: '101.5' },
    ],
    [
      { action: 'buy', sentiment: 'long', marketPosition: 'bullish' },
      { action: 'buy', sentiment: 'long' },
    ],
  ])('reads the aliases other routers document: %p', (fields, expected) => {
    expect(parseSignalPayload({ ticker: 'AAPL', ...fields })).toEqual({ ticker: 'AAPL', orderType: 'market', ...expected });
  });

  it.each([
    [{ action: 'cancel', sentiment: 'flat' }, 'sentiment'],
    [{ action: 'exit', sentiment: 'long' }, 'sentiment'],
    [{ action: 'add', marketPosition: 'flat' }, 'marketPosition'],
    [{ action: 'long', sentiment: 'short' }, 'sentiment'],
    [{ action: 'buy', sentiment: 'long', marketPosition: 'short' }, 'marketPosition'],
    [{ action: 'buy', price: '1', signalPrice: '2' }, 'signalPrice'],
    [{ action: 'buy', sentiment: 'sideways' }, 'sentiment'],
  ])('refuses a sentiment that cannot mean anything with the action: %p', (fields, path) => {
    const p = problemOf({ ticker: 'AAPL', ...fields });
    expect(p.status).toBe(422);
    expect((p.extensions.errors as { path: string }[]).map((e) => e.path)).toEqual([path]);
  });

  it('bounds the ignored-field list and makes the names printable', () => {
    const body: Record<string, unknown> = { ticker: 'AAPL', action: 'buy', ['x'.repeat(100)]: 1, 'a\u0007b': 2 };
    for (let i = 0; i < 60; i++) body[`f${i}`] = i;
    const { ignoredFields } = parseSignalPayload(body);
    expect(ignoredFields).toHaveLength(51);
    expect(ignoredFields![0]).toBe(`${'x'.repeat(64)}…`);
    expect(ignoredFields![1]).toBe('a?b');
    expect(ignoredFields![50]).toBe('… and 12 more');
  });

  it('parses text/plain bodies holding JSON and defaults to a market order', () => {
    expect(parseSignalPayload('{"ticker":"ES1!","action":"exit"}')).toEqual({ ticker: 'ES1!', action: 'exit', orderType: 'market' });
  });

  it('answers 400 for text that is not JSON', () => {
    const p = problemOf('buy AAPL now');
    expect([p.status, p.code]).toEqual([400, 'malformed_json']);
  });

  it('lists every bad field in a 422 without echoing values', () => {
    const p = problemOf({ ticker: 'AA PL', action: 'hold', quantity: '-3', orderType: 'stop_limit', price: 'abc', time: 'yesterday' });
    expect(p.status).toBe(422);
    const errors = p.extensions.errors as { path: string; message: string }[];
    expect(errors.map((e) => e.path).sort()).toEqual(['action', 'limitPrice', 'price', 'quantity', 'stopPrice', 'ticker', 'time'].sort());
    expect(JSON.stringify(errors)).not.toMatch(/AA PL|hold|abc|yesterday/);
  });

  it.each([
    ['an array', []],
    ['a number', 5],
    ['null', null],
    ['nothing', undefined],
  ])('refuses %s as the body', (_, body) => {
    const p = problemOf(body);
    expect(p.status).toBe(422);
    expect(p.extensions.errors).toEqual([{ path: '(body)', message: expect.any(String) }]);
  });

  it.each([['1e400'], [1e300], ['1e3'], [Number.NaN], [0], ['0.0'], [true], [{}], ['123456789012345678901'], ['1.1234567890123456789']])(
    'refuses quantity %p',
    (quantity) => {
      expect(problemOf({ ticker: 'AAPL', action: 'buy', quantity }).status).toBe(422);
    },
  );

  it('refuses control characters in the id and out-of-range times', () => {
    expect(problemOf({ ticker: 'AAPL', action: 'buy', id: 'a\u0000b' }).status).toBe(422);
    expect(problemOf({ ticker: 'AAPL', action: 'buy', time: 1e20 }).status).toBe(422);
  });

  it('reads take-profit and stop-loss objects: distances, stop-limit and trailing stops', () => {
    const body = { ticker: 'AAPL', action: 'buy', price: '100' };
    expect(parseSignalPayload({ ...body, takeProfit: { percent: 2 }, stopLoss: { amount: '1.5' } })).toMatchObject({
      takeProfit: { percent: '2' },
      stopLoss: { type: 'stop', amount: '1.5' },
    });
    expect(parseSignalPayload({ ...body, stopLoss: { type: 'STOP_LIMIT', stopPrice: 95, limitPrice: 94.5 } }).stopLoss).toEqual({
      type: 'stop_limit',
      stopPrice: '95',
      limitPrice: '94.5',
    });
    expect(parseSignalPayload({ ...body, stopLoss: { type: 'trailing_stop', trailPercent: '1' } }).stopLoss).toEqual({
      type: 'trailing_stop',
      trailPercent: '1',
    });
  });

  it.each([
    [{ takeProfit: { percent: 2, amount: 1 } }, 'takeProfit', /exactly one of limitPrice, percent, amount/],
    [{ takeProfit: {} }, 'takeProfit', /exactly one/],
    [{ takeProfit: { pct: 2 } }, 'takeProfit', /pct/],
    [{ takeProfit: 'soon' }, 'takeProfit', /a price \(a positive decimal\) or an object/],
    [{ takeProfit: { percent: -1 } }, 'takeProfit.percent', /positive decimal/],
    [{ stopLoss: { percent: 150 } }, 'stopLoss.percent', /below 100/],
    [{ stopLoss: { type: 'stop_limit', stopPrice: 95 } }, 'stopLoss', /needs limitPrice/],
    [{ stopLoss: { stopPrice: 95, limitPrice: 94 } }, 'stopLoss', /limitPrice needs type stop_limit/],
    [{ stopLoss: { type: 'trailing_stop', trailPercent: 1, trailAmount: 2 } }, 'stopLoss', /exactly one of trailPercent, trailAmount/],
    [{ stopLoss: { type: 'trailing_stop', stopPrice: 95 } }, 'stopLoss', /trailPercent or trailAmount only/],
    [{ stopLoss: { trailPercent: 1 } }, 'stopLoss', /need type trailing_stop/],
    [{ stopLoss: { type: 'guaranteed', stopPrice: 95 } }, 'stopLoss.type', /stop, stop_limit, trailing_stop/],
  ])('refuses a bracket leg that cannot be read one way: %p', (fields, path, message) => {
    const p = problemOf({ ticker: 'AAPL', action: 'buy', ...fields });
    expect(p.status).toBe(422);
    const errors = p.extensions.errors as { path: string; message: string }[];
    expect(errors).toContainEqual({ path, message: expect.stringMatching(message) });
    expect(errors.every((e) => e.path === path)).toBe(true);
  });
});
