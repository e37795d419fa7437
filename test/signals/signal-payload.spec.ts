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
      stopLoss: '180',
      takeProfit: '0.00001',
      id: '12345',
      time: '2026-01-02T15:04:05.000Z',
      ignoredFields: ['comment'],
    });
  });

  it.each([
    [{ action: 'sell', sentiment: 'flat' }, { action: 'sell', sentiment: 'flat' }],
    [{ action: 'SELL', marketPosition: 'Flat' }, { action: 'sell', sentiment: 'flat' }],
    [{ action: 'buy', sentiment: 'bullish' }, { action: 'buy', sentiment: 'long' }],
    [{ action: 'sell', sentiment: 'bearish' }, { action: 'sell', sentiment: 'short' }],
    [{ action: 'close' }, { action: 'exit' }],
    [{ action: 'long' }, { action: 'buy', sentiment: 'long' }],
    [{ action: 'short' }, { action: 'sell', sentiment: 'short' }],
    [{ action: 'add' }, { action: 'add' }],
    [{ action: 'buy', signalPrice: '101.50' }, { action: 'buy', price: '101.5' }],
    [{ action: 'buy', sentiment: 'long', marketPosition: 'bullish' }, { action: 'buy', sentiment: 'long' }],
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

  it.each([['1e400'], [1e300], ['1e3'], [Number.NaN], [0], ['0.0'], [true], [{}], ['123456789012345678901'], ['1.1234567890123456789']])('refuses quantity %p', (quantity) => {
    expect(problemOf({ ticker: 'AAPL', action: 'buy', quantity }).status).toBe(422);
  });

  it('refuses control characters in the id and out-of-range times', () => {
    expect(problemOf({ ticker: 'AAPL', action: 'buy', id: 'a\u0000b' }).status).toBe(422);
    expect(problemOf({ ticker: 'AAPL', action: 'buy', time: 1e20 }).status).toBe(422);
  });
});
