import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { Agent, request } from 'undici';
import { nowMs } from './paths';

/** Where webhooks go. Both pipelines get the same bodies, signed the same way (the bare one ignores the headers). */
export interface LoadTarget {
  baseUrl: string;
  path: string;
  /** Standard Webhooks secret (`whsec_…`). */
  secret: string;
  /** Orders each signal produces (routes of the source). */
  fanout: number;
}

export interface SendRecord {
  /** Index of the target (source) it went to. */
  target: number;
  msgId: string;
  sentAt: number;
  doneAt: number;
  /** HTTP status; 0 for a network error. */
  status: number;
  signalId?: string;
  error?: string;
}

export interface LoadResult {
  startedAt: number;
  /** When the load stopped sending (the closed loop's window end). */
  endedAt: number;
  sends: SendRecord[];
}

export type LoadSpec = { mode: 'open'; rate: number; durationMs: number } | { mode: 'closed'; window: number; durationMs: number };

/** Counts order arrivals at the broker (for the closed loop); fed in-process or from the stub's TCP feed. */
export class ArrivalCounter {
  count = 0;
  private readonly listeners = new Set<() => void>();

  arrived(n = 1): void {
    this.count += n;
    for (const l of this.listeners) l();
  }

  reset(): void {
    this.count = 0;
  }

  on(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to a RecordingAlpaca arrival feed (startArrivalFeed) over TCP. */
  static async fromFeed(port: number): Promise<{ counter: ArrivalCounter; close(): void }> {
    const counter = new ArrivalCounter();
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    socket.on('data', (chunk: Buffer) => {
      let n = 0;
      for (const byte of chunk) if (byte === 10) n++;
      if (n) counter.arrived(n);
    });
    return { counter, close: () => socket.destroy() };
  }
}

const BODY_ACTIONS = ['buy', 'sell'] as const;

/** The HTTP client side of the bench: keep-alive connections, Standard Webhooks signing, one record per webhook. */
export class LoadGenerator {
  private readonly agent = new Agent({ connections: 512, keepAliveTimeout: 60_000, pipelining: 1 });
  private readonly tag = randomBytes(4).toString('hex');
  private seq = 0;

  /** Several targets (sources) take turns, round robin; their fan-out must be the same. */
  async run(targets: LoadTarget[], spec: LoadSpec, arrivals?: ArrivalCounter): Promise<LoadResult> {
    return spec.mode === 'open' ? this.openLoop(targets, spec.rate, spec.durationMs) : this.closedLoop(targets, spec.window, spec.durationMs, arrivals!);
  }

  /** A fixed rate, whatever the answers: the latency at a light load. */
  async openLoop(targets: LoadTarget[], rate: number, durationMs: number): Promise<LoadResult> {
    const next = this.roundRobin(targets);
    const total = Math.max(1, Math.round((rate * durationMs) / 1000));
    const interval = 1000 / rate;
    const startedAt = nowMs() + 2;
    const pending: Promise<SendRecord>[] = [];
    await new Promise<void>((resolve) => {
      let i = 0;
      const tick = () => {
        const now = nowMs();
        while (i < total && startedAt + i * interval <= now) {
          pending.push(this.send(...next()));
          i++;
        }
        if (i >= total) return resolve();
        setTimeout(tick, Math.max(0, startedAt + i * interval - nowMs()));
      };
      setTimeout(tick, 2);
    });
    const endedAt = nowMs();
    return { startedAt, endedAt, sends: await Promise.all(pending) };
  }

  /**
   * Closed loop end to end: at most `window` signals between webhook sent and order arrived at the
   * broker. The arrival rate it settles at is the pipeline's sustained throughput.
   */
  async closedLoop(targets: LoadTarget[], window: number, durationMs: number, arrivals: ArrivalCounter): Promise<LoadResult> {
    const next = this.roundRobin(targets);
    const fanout = targets[0].fanout;
    arrivals.reset();
    const startedAt = nowMs();
    const endsAt = startedAt + durationMs;
    const pending: Promise<SendRecord>[] = [];
    let sent = 0;
    let refused = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (nowMs() < endsAt && sent - refused - arrivals.count / fanout < window) {
          sent++;
          pending.push(
            this.send(...next()).then((r) => {
              if (r.status !== 202) {
                refused++;
                pump();
              }
              return r;
            }),
          );
        }
      };
      const off = arrivals.on(pump);
      setTimeout(() => {
        off();
        resolve();
      }, durationMs);
      pump();
    });
    const endedAt = nowMs();
    return { startedAt, endedAt, sends: await Promise.all(pending) };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private roundRobin(targets: LoadTarget[]): () => [LoadTarget, Webhook, number] {
    const signers = targets.map((t, i) => [t, new Webhook(t.secret), i] as [LoadTarget, Webhook, number]);
    let i = 0;
    return () => signers[i++ % signers.length];
  }

  private async send(target: LoadTarget, webhook: Webhook, index: number): Promise<SendRecord> {
    const n = this.seq++;
    const msgId = `msg_${this.tag}_${n}`;
    const body = JSON.stringify({ ticker: 'AAPL', action: BODY_ACTIONS[n % 2], quantity: '1', price: '100' });
    const at = new Date();
    const headers = {
      'content-type': 'application/json',
      'webhook-id': msgId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': webhook.sign(msgId, at, body),
    };
    const sentAt = nowMs();
    try {
      const res = await request(target.baseUrl + target.path, { method: 'POST', headers, body, dispatcher: this.agent });
      const text = await res.body.text();
      const doneAt = nowMs();
      let signalId: string | undefined;
      try {
        signalId = (JSON.parse(text) as { signalId?: string }).signalId;
      } catch {
        /* not JSON */
      }
      return { target: index, msgId, sentAt, doneAt, status: res.statusCode, signalId, error: res.statusCode === 202 ? undefined : text.slice(0, 200) };
    } catch (err) {
      return { target: index, msgId, sentAt, doneAt: nowMs(), status: 0, error: (err as Error).message };
    }
  }
}
