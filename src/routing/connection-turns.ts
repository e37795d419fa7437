interface Held {
  seq: bigint;
  /** Runs of jobs holding this order here (a job can run twice at once after stalled-lock recovery). */
  holds: number;
}

interface Waiter<C> {
  seq: bigint;
  /** Ends the wait: with the claim a hand-off made for it, or with nothing (ask the database again). */
  settle: (claim: C | undefined) => void;
  /** The waiter's claim, to run inside the transaction of whoever finishes the order it waits for. */
  handoff?: Handoff<C>;
}

/** A claim one order's executor runs for the order waiting behind it, inside its own transaction. */
export type Handoff<C> = (tx: unknown) => Promise<C>;

/** A waiter taken for a hand-off: run its claim, then deliver the result once the transaction committed. */
export interface TakenTurn<C> {
  claimIn: Handoff<C>;
  /** The committed claim; `undefined` if the transaction failed (the waiter claims for itself). */
  deliver(claim: C | undefined): void;
}

interface ConnectionState<C> {
  held: Map<string, Held>;
  waiters: Waiter<C>[];
  /** Bumped whenever an order here is let go: a waiter that read an older version asks the database again at once. */
  version: number;
}

/**
 * This worker process's view of whose turn it is on each broker connection (the orders it holds, who waits
 * behind them). It decides only when to claim and in which transaction; the claim stays the authority on order.
 */
export class ConnectionTurns<C = unknown> {
  private readonly connections = new Map<string, ConnectionState<C>>();

  /** This process now holds `orderId` (of signal `seq`) on `connectionId`. */
  hold(connectionId: string, orderId: string, seq: string): void {
    const state = this.state(connectionId);
    const held = state.held.get(orderId);
    if (held) held.holds += 1;
    else state.held.set(orderId, { seq: BigInt(seq), holds: 1 });
  }

  /**
   * Lets `orderId` go (finished, or handed back to the queue) and wakes the earliest waiter of its
   * connection, unless an order this process holds still comes before that waiter (its release will).
   */
  release(connectionId: string, orderId: string): void {
    const state = this.connections.get(connectionId);
    const held = state?.held.get(orderId);
    if (!state || !held) return;
    held.holds -= 1;
    if (held.holds > 0) return;
    state.held.delete(orderId);
    state.version += 1;
    const first = state.waiters[0];
    if (first && !this.holdsEarlier(connectionId, first.seq.toString())) {
      state.waiters.shift();
      first.settle(undefined);
    }
    this.forgetIfIdle(connectionId, state);
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
   * Waits (registered at once, synchronously) until an order of the connection is let go with this
   * waiter first in line, or `timeoutMs` at the latest; resolves with the claim a hand-off committed for
   * this waiter, if `handoff` was offered and taken, else with undefined.
   */
  waitForTurn(connectionId: string, seq: string, timeoutMs: number, handoff?: Handoff<C>): Promise<C | undefined> {
    const state = this.state(connectionId);
    return new Promise((resolve) => {
      const waiter: Waiter<C> = {
        seq: BigInt(seq),
        handoff,
        settle: (claim) => {
          clearTimeout(timer);
          resolve(claim);
        },
      };
      const timer = setTimeout(() => {
        const at = state.waiters.indexOf(waiter);
        if (at < 0) return; // taken for a hand-off: the taker delivers
        state.waiters.splice(at, 1);
        resolve(undefined);
      }, timeoutMs);
      const at = state.waiters.findIndex((w) => w.seq > waiter.seq);
      if (at < 0) state.waiters.push(waiter);
      else state.waiters.splice(at, 0, waiter);
    });
  }

  /** Takes the connection's earliest waiter, if it offered a hand-off, out of the queue. */
  takeHandoff(connectionId: string): TakenTurn<C> | undefined {
    const state = this.connections.get(connectionId);
    const first = state?.waiters[0];
    if (!state || !first?.handoff) return undefined;
    state.waiters.shift();
    return { claimIn: first.handoff, deliver: (claim) => first.settle(claim) };
  }

  private forgetIfIdle(connectionId: string, state: ConnectionState<C>): void {
    if (state.held.size === 0 && state.waiters.length === 0) this.connections.delete(connectionId);
  }

  private state(connectionId: string): ConnectionState<C> {
    let state = this.connections.get(connectionId);
    if (!state) {
      state = { held: new Map(), waiters: [], version: 0 };
      this.connections.set(connectionId, state);
    }
    return state;
  }
}
