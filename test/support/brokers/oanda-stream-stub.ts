import type { ServerResponse } from 'node:http';

/**
 * OANDA v20's transaction stream (`GET /v3/accounts/{id}/transactions/stream`,
 * https://developer.oanda.com/rest-live-v20/transaction-ep/) for the OANDA stub: a chunked body of JSON lines,
 * every transaction of the account as it happens and a HEARTBEAT line (`lastTransactionID`, `time`) in between.
 * Faults: refuse the stream (503), drop every stream, hold lines and deliver them reversed, replay on connect.
 */
export class OandaTransactionStream {
  /** Transactions sent per account, in order (what a replay resends). */
  readonly sent = new Map<string, Record<string, unknown>[]>();
  /** Accounts whose stream was opened, in order. */
  readonly connects: string[] = [];
  private readonly open = new Map<string, Set<ServerResponse>>();
  private refusing = false;
  private held?: Array<{ accountId: string; transaction: Record<string, unknown> }>;
  private replayOnConnect = 0;

  constructor(private readonly heartbeatMs = 5_000) {}

  /** Serves one stream of `accountId` on `res` (already authorised) until the client or a fault ends it. */
  attach(accountId: string, res: ServerResponse, lastTransactionId: () => string): void {
    if (this.refusing) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errorMessage: 'Service unavailable' }));
      return;
    }
    this.connects.push(accountId);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
    const sockets = this.open.get(accountId) ?? new Set();
    sockets.add(res);
    this.open.set(accountId, sockets);
    const heartbeat = setInterval(() => line(res, { type: 'HEARTBEAT', lastTransactionID: lastTransactionId(), time: new Date().toISOString() }), this.heartbeatMs);
    res.on('close', () => {
      clearInterval(heartbeat);
      sockets.delete(res);
    });
    line(res, { type: 'HEARTBEAT', lastTransactionID: lastTransactionId(), time: new Date().toISOString() });
    if (this.replayOnConnect > 0) {
      for (const transaction of (this.sent.get(accountId) ?? []).slice(-this.replayOnConnect)) line(res, transaction);
      this.replayOnConnect = 0;
    }
  }

  /** While on, a stream request is answered 503 (the stream host is down; REST still answers). */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  dropAll(): void {
    for (const sockets of this.open.values()) for (const res of sockets) res.destroy();
    this.open.clear();
  }

  /** The next stream opened is sent the account's last `count` transactions again first. */
  replayLastOnConnect(count: number): void {
    this.replayOnConnect = count;
  }

  hold(): void {
    this.held ??= [];
  }

  release(reverse = false): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const { accountId, transaction } of reverse ? held.reverse() : held) this.emit(accountId, transaction);
  }

  listening(accountId: string): number {
    return this.open.get(accountId)?.size ?? 0;
  }

  emit(accountId: string, transaction: Record<string, unknown>): void {
    if (this.held) {
      this.held.push({ accountId, transaction });
      return;
    }
    const log = this.sent.get(accountId) ?? [];
    log.push(transaction);
    this.sent.set(accountId, log);
    for (const res of this.open.get(accountId) ?? []) line(res, transaction);
  }
}

function line(res: ServerResponse, value: unknown): void {
  if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(value)}\n`);
}
