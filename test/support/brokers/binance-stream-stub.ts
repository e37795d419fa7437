import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { EventStreamStub } from './event-stream-stub';

interface Subscription {
  ws: WebSocket;
  subscriptionId: number;
}

/**
 * Binance's spot WebSocket API (`/ws-api/v3`) for the Binance stub, as far as user data streams go:
 * `userDataStream.subscribe.signature` with `apiKey`, `timestamp` and the HMAC-SHA256 `signature` of the other
 * parameters sorted by name (https://developers.binance.com/docs/binance-spot-api-docs/web-socket-api), answered
 * `{id, status: 200, result: {subscriptionId}}`; then `{subscriptionId, event}` frames (executionReport, …).
 * Faults: refuse the upgrade, drop every stream, hold events and deliver them reversed, replay on subscribe.
 */
export class BinanceUserDataStream extends EventStreamStub<Subscription, Record<string, unknown>> {
  readonly subscriptions: Array<{ apiKey: string; accepted: boolean }> = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private nextSubscriptionId = 0;

  constructor(private readonly secretOf: (apiKey: string) => string | undefined) {
    super();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.refusing) return void socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws));
  }

  protected deliver({ ws, subscriptionId }: Subscription, event: Record<string, unknown>): void {
    send(ws, { subscriptionId, event });
  }

  protected terminate({ ws }: Subscription): void {
    ws.terminate();
  }

  private serve(ws: WebSocket): void {
    ws.on('message', (raw) => {
      let req: { id?: unknown; method?: unknown; params?: Record<string, unknown> };
      try {
        req = JSON.parse(raw.toString());
      } catch {
        return send(ws, { id: null, status: 400, error: { code: -1013, msg: 'Malformed request.' } });
      }
      if (req.method !== 'userDataStream.subscribe.signature')
        return send(ws, { id: req.id, status: 400, error: { code: -1020, msg: 'Unsupported operation.' } });
      const params = Object.fromEntries(Object.entries(req.params ?? {}).map(([k, v]) => [k, String(v)]));
      const { signature, ...signed } = params;
      const secret = this.secretOf(params.apiKey ?? '');
      if (!secret) {
        this.subscriptions.push({ apiKey: params.apiKey ?? '', accepted: false });
        return send(ws, { id: req.id, status: 401, error: { code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' } });
      }
      const payload = Object.keys(signed)
        .sort()
        .map((k) => `${k}=${signed[k]}`)
        .join('&');
      const expected = Buffer.from(createHmac('sha256', secret).update(payload).digest('hex'));
      const given = Buffer.from((signature ?? '').toLowerCase());
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        this.subscriptions.push({ apiKey: params.apiKey, accepted: false });
        return send(ws, { id: req.id, status: 400, error: { code: -1022, msg: 'Signature for this request is not valid.' } });
      }
      this.subscriptions.push({ apiKey: params.apiKey, accepted: true });
      const subscriptionId = this.nextSubscriptionId++;
      send(ws, { id: req.id, status: 200, result: { subscriptionId }, rateLimits: [] });
      ws.on('close', this.subscribe(params.apiKey, { ws, subscriptionId }));
    });
  }
}

function send(ws: WebSocket, frame: unknown): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
}
