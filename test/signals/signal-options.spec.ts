import Ajv2020 from 'ajv/dist/2020';
import { Problem } from '../../src/common/problem';
import { SIGNAL_JSON_SCHEMA } from '../../src/signals/signal-json-schema';
import { parseSignalPayload } from '../../src/signals/signal-payload';

const validate = new Ajv2020({ strict: false, allErrors: true }).compile(SIGNAL_JSON_SCHEMA);

function errorsOf(body: unknown): { path: string; message: string }[] {
  try {
    parseSignalPayload(body);
  } catch (err) {
    const problem = err as Problem;
    expect(problem.status).toBe(422);
    expect(problem.code).toBe('validation_failed');
    return problem.extensions.errors as { path: string; message: string }[];
  }
  throw new Error('expected a 422');
}

describe('option fields of a signal (src/signals/signal-options.ts)', () => {
  it('reads a selection rule as other routers write it, normalised, nothing listed as ignored', () => {
    const payload = parseSignalPayload({
      ticker: 'NASDAQ:SPY',
      action: 'buy',
      optionType: 'Call',
      expiration: '+6 months',
      intrinsicValue: 'ITM',
      strikesAway: '2',
      price: 587.1,
      quantity: 1,
    });
    expect(payload).toEqual({
      ticker: 'NASDAQ:SPY',
      action: 'buy',
      orderType: 'market',
      optionType: 'call',
      expiration: '+6m',
      intrinsicValue: 'itm',
      strikesAway: 2,
      price: '587.1',
      quantity: '1',
    });
  });

  it('takes an exact strike on a date, and an OCC symbol as the ticker with no rule', () => {
    expect(parseSignalPayload({ ticker: 'AAPL', action: 'sell', optionType: 'put', expiration: '2099-01-16', strikePrice: '150.5' })).toMatchObject({
      optionType: 'put',
      expiration: '2099-01-16',
      strikePrice: '150.5',
    });
    expect(parseSignalPayload({ ticker: 'AAPL261218C00150000', action: 'exit' })).toMatchObject({ ticker: 'AAPL261218C00150000', action: 'exit' });
  });

  it.each([
    [{ optionType: 'call', strikesAway: 0, price: 10 }, ['expiration']],
    [{ expiration: '+30 days', strikesAway: 0, price: 10 }, ['optionType']],
    [{ optionType: 'both', expiration: '+30 days', strikesAway: 0, price: 10 }, ['optionType']],
    [{ optionType: 'call', expiration: 'next friday', strikesAway: 0, price: 10 }, ['expiration']],
    [{ optionType: 'call', expiration: '2020-01-17', strikesAway: 0, price: 10 }, ['expiration']],
    [{ optionType: 'call', expiration: '+30 days' }, ['strikesAway']],
    [{ optionType: 'call', expiration: '+30 days', strikesAway: 2, price: 10 }, ['intrinsicValue']],
    [{ optionType: 'call', expiration: '+30 days', strikesAway: 0, intrinsicValue: 'otm', price: 10 }, ['intrinsicValue']],
    [{ optionType: 'call', expiration: '+30 days', strikesAway: 1, intrinsicValue: 'otm' }, ['price']],
    [{ optionType: 'call', expiration: '+30 days', strikesAway: 1.5, intrinsicValue: 'otm', price: 10 }, ['strikesAway']],
    [{ optionType: 'call', expiration: '+30 days', strikesAway: 51, intrinsicValue: 'otm', price: 10 }, ['strikesAway']],
    [{ optionType: 'call', expiration: '+30 days', strikePrice: '150', strikesAway: 1, intrinsicValue: 'otm', price: 10 }, ['strikePrice']],
    [{ optionType: 'call', expiration: '+30 days', strikePrice: '150.0001' }, ['strikePrice']],
    [{ optionType: 'call', expiration: '+30 days', intrinsicValue: 'deep', strikesAway: 1, price: 10 }, ['intrinsicValue']],
    [{ optionType: 'call', expiration: '+30 days', strikePrice: '150', delta: 0.3 }, ['delta']],
  ])('refuses %p with a 422 naming %p', (fields, paths) => {
    const body = { ticker: 'AAPL', action: 'buy', ...fields };
    expect(errorsOf(body).map((e) => e.path)).toEqual(paths);
  });

  it('refuses a rule that cannot mean one contract to open', () => {
    const rule = { optionType: 'call', expiration: '+30 days', strikePrice: '150' };
    expect(errorsOf({ ticker: 'AAPL', action: 'exit', ...rule }).map((e) => e.path)).toEqual(['action']);
    expect(errorsOf({ ticker: 'AAPL', action: 'buy', sentiment: 'long', ...rule }).map((e) => e.path)).toEqual(['sentiment']);
    expect(errorsOf({ ticker: 'AAPL261218C00150000', action: 'buy', ...rule }).map((e) => e.path)).toEqual(['ticker']);
    expect(errorsOf({ ticker: 'OPRA:AAPL261218C150.0', action: 'buy', ...rule })[0].message).toMatch(/^names an option contract already/);
    expect(errorsOf({ ticker: 'BTC/USD', action: 'buy', ...rule }).map((e) => e.path)).toEqual(['ticker']);
  });

  it('the JSON Schema agrees on the field shapes', () => {
    const ok = { ticker: 'SPY', action: 'buy', optionType: 'call', expiration: '+30 Days', strikesAway: 1, intrinsicValue: 'otm', price: '500' };
    expect(validate(ok)).toBe(true);
    expect(validate({ ...ok, strikePrice: '500' })).toBe(false);
    expect(validate({ ...ok, price: undefined })).toBe(false);
    expect(validate({ ...ok, delta: 0.3 })).toBe(false);
    expect(validate({ ticker: 'SPY', action: 'buy', optionType: 'call' })).toBe(false);
  });
});
