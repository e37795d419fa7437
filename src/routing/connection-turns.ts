interface Held {
  seq: bigint;
  /** Runs of jobs holding this order here (a job can run twice at once after stalled-lock recovery). */
  holds: number;
}

interface Waiter {
  seq: bigint;
  wake: () => void;
}

interface ConnectionState {
  held: Map<string, Held>;
  waiters: Waiter[];
  /** Bumped whenever an order here is let go: a waiter that read an older version asks the database again at once. */
  version: number;
}

/**
 * This worker process's view of whose turn it is on each broker connection: the orders it planned
 * and has not finished yet. An order whose claim found an earlier order of its connection still
 * unanswered waits here for that order to be let go, when the earlier one is this process's own,
 * instead of going back to the queue and polling. The claim transaction stays the only authority
 * on order: this class only decides when to ask it again. An earlier order held elsewhere (another
 * worker, a job in backoff) is not waited for here: the caller goes back to the queue as before.
 */
export class ConnectionTurns {
  private readonly connections = new Map<string, ConnectionState>();

  /** This process now holds `orderId` (of signal `seq`) on `connectionId`. */
  hold(connectionId: string, orderId: string, seq: string): void {
    const state = this.state(connectionId);
    const held = state.held.get(orderId);
    if (held) held.holds += 1;
    else state.held.set(orderId, { seq: BigInt(seq), holds: 1 });
  }

  /** Lets `orderId` go (finished, or handed back to the queue) and wakes the earliest waiter of its connection. */
  release(connectionId: string, orderId: string): void {
    const state = this.connections.get(connectionId);
    const held = state?.held.get(orderId);
    if (!state || !held) return;
    held.holds -= 1;
    if (held.holds > 0) return;
    state.held.delete(orderId);
    state.version += 1;
    state.waiters.shift()?.wake();
    if (state.held.size === 0 && state.waiters.length === 0) this.connections.delete(connectionId);
  }

  version(connectionId: string): number {
    return this.connections.get(connectionId)?.version ?? 0;
  }

  /** Does this process hold an order of an earlier signal on this connection? */
  holdsEarlier(connectionId: string, seq: string): boolean {
    const state = this.connections.get(connectionId);
    if (!state) return false;
    const mine = BigInt(seq);
    for (const held of state.held.values()) if (held.seq < mine) return true;
    return false;
  }

  /**
   * Resolves when an order of the connection is let go (the earliest waiter first), at once if one
   * was since `sinceVersion`, or after `timeoutMs` at the latest.
   */
  waitForTurn(connectionId: string, seq: string, sinceVersion: number, timeoutMs: number): Promise<void> {
    const state = this.state(connectionId);
    if (state.version !== sinceVersion) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        seq: BigInt(seq),
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const at = state.waiters.indexOf(waiter);
        if (at >= 0) state.waiters.splice(at, 1);
        resolve();
      }, timeoutMs);
      const at = state.waiters.findIndex((w) => w.seq > waiter.seq);
      if (at < 0) state.waiters.push(waiter);
      else state.waiters.splice(at, 0, waiter);
    });
  }

  private state(connectionId: string): ConnectionState {
    let state = this.connections.get(connectionId);
    if (!state) {
      state = { held: new Map(), waiters: [], version: 0 };
      this.connections.set(connectionId, state);
    }
    return state;
  }
}
