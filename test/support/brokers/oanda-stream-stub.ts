import type { ServerResponse } from 'node:http';
import { EventStreamStub } from './event-stream-stub';

/**
 * OANDA v20's transaction stream (`GET /v3/accounts/{id}/transactions/stream`,
 * https://developer.oanda.com/rest-live-v20/transaction-ep/) for the OANDA stub: a chunked body of JSON lines,
 * every transaction of the account as it happens and a HEARTBEAT line (`lastTransactionID`, `time`) in between.
 * Faults: refuse the stream (503), drop every stream, hold lines and deliver them reversed, replay on connect.
 */
export class OandaTransactionStream extends EventStreamStub<ServerResponse, Record<string, unknown>> {
  /** Accounts whose stream was opened, in order. */
  readonly connects: string[] = [];

  constructor(private readonly heartbeatMs = 5_000) {
    super();
  }

  /** Serves one stream of `accountId` on `res` (already authorised) until the client or a fault ends it. */
  attach(accountId: string, res: ServerResponse, lastTransactionId: () => string): void {
    if (this.refusing) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errorMessage: 'Service unavailable' }));
      return;
    }
    this.connects.push(accountId);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
    const heartbeat = () => line(res, { type: 'HEARTBEAT', lastTransactionID: lastTransactionId(), time: new Date().toISOString() });
    const beating = setInterval(heartbeat, this.heartbeatMs);
    heartbeat();
    const unsubscribe = this.subscribe(accountId, res);
    res.on('close', () => {
      clearInterval(beating);
      unsubscribe();
    });
  }

  protected deliver(res: ServerResponse, transaction: Record<string, unknown>): void {
    line(res, transaction);
  }

  protected terminate(res: ServerResponse): void {
    res.destroy();
  }
}

function line(res: ServerResponse, value: unknown): void {
  if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(value)}\n`);
}
