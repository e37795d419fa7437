import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { EventStreamStub } from './event-stream-stub';

/**
 * Coinbase Advanced Trade's user websocket (https://docs.cdp.coinbase.com/advanced-trade/docs/ws-channels) for the
 * Coinbase stub: `{"type":"subscribe","channel":"user","jwt"}` with a CDP JWT (no `uri` claim), answered on the
 * `subscriptions` channel, then a `snapshot` of the key's open orders and an `update` per order change.
 * Faults: refuse the upgrade, drop every stream, hold updates and deliver them reversed, replay on subscribe.
 */
export class CoinbaseUserChannel extends EventStreamStub<WebSocket, Record<string, unknown>> {
  readonly subscriptions: Array<{ apiKeyName: string; accepted: boolean }> = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private sequence = 0;

  constructor(
    /** The key a JWT verifies for, or why it does not. */
    private readonly verify: (jwt: string) => { apiKeyName: string } | { why: string },
    private readonly openOrders: (apiKeyName: string) => Record<string, unknown>[],
  ) {
    super();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.refusing) return void socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws));
  }

  /** An `update` event with the order as it stands now (emit's event is the order). */
  protected deliver(ws: WebSocket, order: Record<string, unknown>): void {
    this.send(ws, 'user', [{ type: 'update', orders: [order] }]);
  }

  protected terminate(ws: WebSocket): void {
    ws.terminate();
  }

  private serve(ws: WebSocket): void {
    ws.on('message', (raw) => {
      let msg: { type?: unknown; channel?: unknown; jwt?: unknown };
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        return void ws.send(JSON.stringify({ type: 'error', message: 'failure to parse message' }));
      }
      if (msg.type !== 'subscribe' || msg.channel !== 'user')
        return void ws.send(JSON.stringify({ type: 'error', message: 'channel not supported by this stub' }));
      const verified = this.verify(typeof msg.jwt === 'string' ? msg.jwt : '');
      if ('why' in verified) {
        this.subscriptions.push({ apiKeyName: '', accepted: false });
        ws.send(JSON.stringify({ type: 'error', message: 'authentication failure' }));
        return void ws.close();
      }
      const { apiKeyName } = verified;
      this.subscriptions.push({ apiKeyName, accepted: true });
      this.send(ws, 'subscriptions', [{ subscriptions: { user: [apiKeyName] } }]);
      this.send(ws, 'user', [{ type: 'snapshot', orders: this.openOrders(apiKeyName) }]);
      ws.on('close', this.subscribe(apiKeyName, ws));
    });
  }

  private send(ws: WebSocket, channel: string, events: unknown[]): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ channel, client_id: '', timestamp: new Date().toISOString(), sequence_num: this.sequence++, events }));
  }
}
