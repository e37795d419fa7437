import { directionOf, entryRefusal, exitSize, PositionOrder } from '../../src/routing/position-rules';

const order = (over: Partial<PositionOrder> = {}): PositionOrder => ({ symbol: 'AAPL', side: null, positionRule: null, ...over });
const position = (quantity: string) => ({ symbol: 'AAPL', quantity });

describe('exit sizing from the position at the broker (exitSize)', () => {
  it('closes the whole position, on the opposite side', () => {
    expect(exitSize(order(), position('3.5'))).toEqual({ side: 'sell', quantity: '3.5' });
    expect(exitSize(order(), position('-2'))).toEqual({ side: 'buy', quantity: '2' });
    expect(exitSize(order({ side: 'sell' }), position('4'))).toEqual({ side: 'sell', quantity: '4' });
  });

  it('skips with the reason when nothing (or the other side) is open', () => {
    expect(exitSize(order(), position('0'))).toEqual({ skip: 'no_position: there is no AAPL position to close' });
    expect(exitSize(order({ side: 'buy' }), position('0'))).toEqual({ skip: 'no_position: there is no short AAPL position to close' });
    expect(exitSize(order({ side: 'sell' }), position('-5'))).toEqual({
      skip: 'no_position: there is no long AAPL position to close (the position is short 5); nothing was sent',
    });
  });
});

describe('entries against the position (entryRefusal, directionOf)', () => {
  it('reads the direction of a signed quantity', () => {
    expect([directionOf(position('1')), directionOf(position('-0.1')), directionOf(position('0'))]).toEqual(['buy', 'sell', undefined]);
  });

  it('add (if_open) needs an open position in its direction', () => {
    expect(entryRefusal(order({ positionRule: 'if_open' }), position('2'), 'buy')).toBeUndefined();
    expect(entryRefusal(order({ positionRule: 'if_open' }), position('-2'), 'buy')).toBe(
      'no_position: add needs an open long AAPL position to add to; there is none',
    );
    expect(entryRefusal(order({ positionRule: 'if_open' }), position('0'), undefined)).toBe(
      'no_position: add needs an open AAPL position to add to; there is none',
    );
  });

  it('unless_open refuses an entry in a direction already open, and lets the other go', () => {
    expect(entryRefusal(order({ positionRule: 'unless_open' }), position('-3'), 'sell')).toBe(
      'position_open: a short AAPL position of 3 is already open and this route ignores entries in an open direction',
    );
    expect(entryRefusal(order({ positionRule: 'unless_open' }), position('3'), 'sell')).toBeUndefined();
    expect(entryRefusal(order(), position('3'), 'buy')).toBeUndefined();
  });
});
