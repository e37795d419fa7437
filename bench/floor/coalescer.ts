/**
 * Natural batching (group commit): items submitted under one key while that key's flush is in flight
 * wait for it and go together in the next flush; an item arriving when nothing is in flight goes at
 * once, so light load pays no delay. `flush` answers each item, in order; if it throws, every item of
 * that batch fails with it.
 */
export class Coalescer<T, R> {
  private readonly waiting = new Map<string, { item: T; resolve(r: R): void; reject(e: unknown): void }[]>();
  private readonly busy = new Set<string>();

  constructor(
    private readonly flush: (key: string, items: T[]) => Promise<R[]>,
    private readonly maxBatch = 64,
  ) {}

  submit(key: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queue = this.waiting.get(key) ?? [];
      queue.push({ item, resolve, reject });
      this.waiting.set(key, queue);
      if (!this.busy.has(key)) void this.drain(key);
    });
  }

  private async drain(key: string): Promise<void> {
    this.busy.add(key);
    try {
      for (;;) {
        const queue = this.waiting.get(key);
        if (!queue?.length) break;
        const batch = queue.splice(0, this.maxBatch);
        try {
          const results = await this.flush(
            key,
            batch.map((b) => b.item),
          );
          batch.forEach((b, i) => b.resolve(results[i]));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.busy.delete(key);
      this.waiting.delete(key);
    }
  }
}
