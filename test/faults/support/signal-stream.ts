import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export interface StreamTarget {
  label: string;
  workspaceId: string;
  sourceId: string;
  secret: string;
  ticker: string;
}

/** One signal as its sender saw it: every attempt, every answer. */
export interface SentSignal {
  webhookId: string;
  target: StreamTarget;
  phase: string;
  attempts: number;
  /** HTTP status of each attempt; 0 = no answer (refused, reset, timed out). */
  statuses: number[];
  /** Every signalId the api answered for this webhook-id: exactly one, or the signal was doubled. */
  signalIds: string[];
  accepted: boolean;
  /** A 4xx other than 429: the sender stops (never expected for a well-formed signed signal). */
  refused: boolean;
  gaveUp: boolean;
}

export interface StreamOptions {
  ratePerSecond: number;
  maxInFlight: number;
  /** How long a sender keeps retrying a delivery that got no 2xx (TradingView-like: retries 5xx). */
  retryForMs: number;
  requestTimeoutMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A steady stream of HMAC-signed signals over several sources (and so routes and workspaces), sent
 * like a real provider does: a unique webhook-id per signal, retried with the same id on 5xx, 429,
 * timeouts and refused connections (the api may be down), never on another 4xx.
 */
export class SignalStream {
  readonly sent: SentSignal[] = [];
  /** Every response body the api sent (for the leak scan). */
  readonly responses: string[] = [];
  phase = 'warm-up';
  private timer?: NodeJS.Timeout;
  private inFlight = new Set<Promise<void>>();
  private counter = 0;
  private credit = 0;
  private lastTick = 0;
  private requestWaiters: Array<() => void> = [];

  constructor(
    private readonly apiUrl: () => string,
    private readonly targets: StreamTarget[],
    private readonly options: StreamOptions,
  ) {}

  start(): void {
    this.lastTick = Date.now();
    this.timer = setInterval(() => this.tick(), 20);
  }

  /** Stops sending new signals and waits until every started delivery was accepted or given up. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  setRate(ratePerSecond: number): void {
    this.options.ratePerSecond = ratePerSecond;
  }

  private tick(): void {
    const now = Date.now();
    this.credit = Math.min(this.credit + ((now - this.lastTick) / 1000) * this.options.ratePerSecond, this.options.ratePerSecond);
    this.lastTick = now;
    while (this.credit >= 1 && this.inFlight.size < this.options.maxInFlight) {
      this.credit -= 1;
      const target = this.targets[this.counter % this.targets.length];
      const side = Math.floor(this.counter / this.targets.length) % 2 === 0 ? 'buy' : 'sell';
      this.counter += 1;
      const signal: SentSignal = {
        webhookId: `msg_${randomBytes(12).toString('hex')}`,
        target,
        phase: this.phase,
        attempts: 0,
        statuses: [],
        signalIds: [],
        accepted: false,
        refused: false,
        gaveUp: false,
      };
      this.sent.push(signal);
      const delivery = this.deliver(signal, JSON.stringify({ ticker: target.ticker, action: side, price: '100', comment: `stream ${this.counter}` }));
      this.inFlight.add(delivery);
      void delivery.finally(() => this.inFlight.delete(delivery));
    }
  }

  private async deliver(signal: SentSignal, body: string): Promise<void> {
    const giveUpAt = Date.now() + this.options.retryForMs;
    for (let attempt = 0; ; attempt++) {
      signal.attempts += 1;
      const status = await this.post(signal, body);
      signal.statuses.push(status);
      if (status === 202) return;
      if (status >= 400 && status < 500 && status !== 429) {
        signal.refused = true;
        return;
      }
      if (Date.now() > giveUpAt) {
        signal.gaveUp = true;
        return;
      }
      await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2));
    }
  }

  /** Resolves when the next delivery request is sent. */
  nextRequest(): Promise<void> {
    return new Promise((resolve) => this.requestWaiters.push(resolve));
  }

  private async post(signal: SentSignal, body: string): Promise<number> {
    const at = new Date();
    const headers = {
      'content-type': 'application/json',
      'webhook-id': signal.webhookId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(signal.target.secret).sign(signal.webhookId, at, body),
    };
    try {
      const sending = fetch(`${this.apiUrl()}/hooks/${signal.target.sourceId}`, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      for (const wake of this.requestWaiters.splice(0)) wake();
      const res = await sending;
      const text = await res.text();
      this.responses.push(text);
      if (res.status === 202) {
        const id = (JSON.parse(text) as { signalId: string }).signalId;
        if (!signal.signalIds.includes(id)) signal.signalIds.push(id);
        signal.accepted = true;
      }
      return res.status;
    } catch {
      return 0;
    }
  }
}

/**
 * Ten deliveries with a wrong signature to one source (the SignatureFailureMonitor's threshold): the
 * api must raise a `source.signature_failures` alert. Counts only if all ten were refused with 401 by
 * one api process (a restart in between resets its in-memory window).
 */
export async function signatureFailureBurst(apiUrl: string, sourceId: string, apiGeneration: () => number, responses: string[], count = 10): Promise<boolean> {
  const generation = apiGeneration();
  const wrong = `whsec_${randomBytes(24).toString('base64')}`;
  let refused = 0;
  for (let i = 0; i < count; i++) {
    const body = JSON.stringify({ ticker: 'BTCUSD', action: 'buy', comment: `forged ${i}` });
    const id = `msg_forged_${randomBytes(8).toString('hex')}`;
    const at = new Date();
    try {
      const res = await fetch(`${apiUrl}/hooks/${sourceId}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': new Webhook(wrong).sign(id, at, body),
        },
        body,
        signal: AbortSignal.timeout(5000),
      });
      responses.push(await res.text());
      if (res.status === 401) refused += 1;
    } catch {
      /* the api is down: this burst will not count */
    }
  }
  return refused === count && apiGeneration() === generation;
}
