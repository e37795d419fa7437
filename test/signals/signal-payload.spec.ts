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
  it('normalises a TradingView body with placeholder strings and drops unknown fields', () => {
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
    });
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
