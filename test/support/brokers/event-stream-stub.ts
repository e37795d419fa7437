/**
 * What every broker event-stream stub shares: subscribers per key (API key or account), the log of sent events a
 * replay resends, and the faults the stream tests drive — refuse new streams, drop every open one, hold events and
 * deliver them reversed (out-of-order delivery), replay the last events to the next subscriber (a reconnect's replay).
 * Each broker's stub speaks its own handshake and frames through `deliver` and `terminate`.
 */
export abstract class EventStreamStub<Subscriber, Event> {
  /** Events sent per key, in order (what a replay resends). */
  readonly sent = new Map<string, Event[]>();
  /** While true, new streams are refused (the stream host is down; REST still answers). */
  protected refusing = false;
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private held?: Array<{ key: string; event: Event }>;
  private replayOnSubscribe = 0;

  /** Writes one event to one subscriber in the broker's framing. */
  protected abstract deliver(subscriber: Subscriber, event: Event): void;
  /** Ends one subscriber's stream abruptly. */
  protected abstract terminate(subscriber: Subscriber): void;
  /** The event as logged and sent (e.g. with the broker's timestamp added). */
  protected stamp(event: Event): Event {
    return event;
  }

  refuse(on: boolean): void {
    this.refusing = on;
  }

  /** Closes every open stream abruptly (a network drop); clients must reconnect. */
  dropAll(): void {
    for (const subscribers of this.subscribers.values()) for (const subscriber of subscribers) this.terminate(subscriber);
    this.subscribers.clear();
  }

  /** The next subscriber of each key is sent its last `count` events again (a replay after reconnect). */
  replayLastOnSubscribe(count: number): void {
    this.replayOnSubscribe = count;
  }

  /** Events are queued instead of sent until release(). */
  hold(): void {
    this.held ??= [];
  }

  /** Sends the held events, in reverse order when asked (out-of-order delivery). */
  release(reverse = false): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const { key, event } of reverse ? held.reverse() : held) this.emit(key, event);
  }

  /** Streams of this key open now. */
  listening(key: string): number {
    return this.subscribers.get(key)?.size ?? 0;
  }

  emit(key: string, event: Event): void {
    if (this.held) return void this.held.push({ key, event });
    const stamped = this.stamp(event);
    const log = this.sent.get(key) ?? [];
    log.push(stamped);
    this.sent.set(key, log);
    for (const subscriber of this.subscribers.get(key) ?? []) this.deliver(subscriber, stamped);
  }

  /** Adds a subscriber after its handshake, replays when asked, and returns what removes it when its stream closes. */
  protected subscribe(key: string, subscriber: Subscriber): () => void {
    const subscribers = this.subscribers.get(key) ?? new Set<Subscriber>();
    subscribers.add(subscriber);
    this.subscribers.set(key, subscribers);
    if (this.replayOnSubscribe > 0) {
      for (const event of (this.sent.get(key) ?? []).slice(-this.replayOnSubscribe)) this.deliver(subscriber, event);
      this.replayOnSubscribe = 0;
    }
    return () => subscribers.delete(subscriber);
  }
}
