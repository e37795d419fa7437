import { ConnectionTurns } from '../../src/routing/connection-turns';

/** Resolves once every pending microtask ran, so a settled waiter's promise is observable. */
const settled = async <T>(p: Promise<T>): Promise<{ done: boolean; value?: T }> => {
  let state: { done: boolean; value?: T } = { done: false };
  void p.then((value) => (state = { done: true, value }));
  await new Promise((r) => setImmediate(r));
  return state;
};

describe('ConnectionTurns: whose turn it is on a connection, in this process', () => {
  it('knows which held orders come earlier, per connection', () => {
    const turns = new ConnectionTurns();
    turns.hold('c1', 'o5', '5');
    expect(turns.holdsEarlier('c1', '6')).toBe(true);
    expect(turns.holdsEarlier('c1', '5')).toBe(false);
    expect(turns.holdsEarlier('c2', '6')).toBe(false);
    turns.release('c1', 'o5');
    expect(turns.holdsEarlier('c1', '6')).toBe(false);
  });

  it('wakes the earliest waiter when the order before it is let go, and bumps the version', async () => {
    const turns = new ConnectionTurns();
    turns.hold('c1', 'o1', '1');
    const later = turns.waitForTurn('c1', '3', 60_000);
    const earlier = turns.waitForTurn('c1', '2', 60_000);
    const before = turns.version('c1');
    turns.release('c1', 'o1');
    expect(turns.version('c1')).toBe(before + 1);
    expect(await settled(earlier)).toEqual({ done: true, value: undefined });
    expect((await settled(later)).done).toBe(false);
  });

  it('does not wake a waiter while this process still holds an order before it', async () => {
    const turns = new ConnectionTurns();
    turns.hold('c1', 'o1', '1');
    turns.hold('c1', 'o2', '2');
    const waiter = turns.waitForTurn('c1', '3', 60_000);
    turns.release('c1', 'o1');
    expect((await settled(waiter)).done).toBe(false);
    turns.release('c1', 'o2');
    expect((await settled(waiter)).done).toBe(true);
  });

  it('keeps an order held until every run holding it let go (a job running twice)', async () => {
    const turns = new ConnectionTurns();
    turns.hold('c1', 'o1', '1');
    turns.hold('c1', 'o1', '1');
    const waiter = turns.waitForTurn('c1', '2', 60_000);
    turns.release('c1', 'o1');
    expect((await settled(waiter)).done).toBe(false);
    turns.release('c1', 'o1');
    expect((await settled(waiter)).done).toBe(true);
  });

  it('gives up waiting after the timeout with nothing, so the caller asks the database', async () => {
    jest.useFakeTimers();
    try {
      const turns = new ConnectionTurns();
      turns.hold('c1', 'o1', '1');
      const waiter = turns.waitForTurn('c1', '2', 500);
      jest.advanceTimersByTime(499);
      let result: unknown = 'pending';
      void waiter.then((v) => (result = v));
      await Promise.resolve();
      expect(result).toBe('pending');
      jest.advanceTimersByTime(1);
      await Promise.resolve();
      await Promise.resolve();
      expect(result).toBeUndefined();
    } finally {
      jest.useRealTimers();
    }
  });

  it("hands the earliest waiter's claim to the executor before it, and delivers the committed claim", async () => {
    const turns = new ConnectionTurns<string>();
    turns.hold('c1', 'o1', '1');
    const claimIn = jest.fn(async (tx: unknown) => `claimed in ${String(tx)}`);
    const waiter = turns.waitForTurn('c1', '2', 60_000, claimIn);
    const taken = turns.takeHandoff('c1');
    expect(taken).toBeDefined();
    const claim = await taken!.claimIn('tx-1');
    expect(claimIn).toHaveBeenCalledWith('tx-1');
    // Taken out of line: letting o1 go wakes no one, only the taker's delivery settles the waiter.
    turns.release('c1', 'o1');
    expect((await settled(waiter)).done).toBe(false);
    taken!.deliver(claim);
    expect(await settled(waiter)).toEqual({ done: true, value: 'claimed in tx-1' });
  });

  it('offers no hand-off when the earliest waiter did not ask for one', () => {
    const turns = new ConnectionTurns<string>();
    void turns.waitForTurn('c1', '2', 10);
    expect(turns.takeHandoff('c1')).toBeUndefined();
  });
});
