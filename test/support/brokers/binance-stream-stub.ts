import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

/**
 * Binance's spot WebSocket API (`/ws-api/v3`) for the Binance stub, as far as user data streams go:
 * `userDataStream.subscribe.signature` with `apiKey`, `timestamp` and the HMAC-SHA256 `signature` of the other
 * parameters sorted by name (https://developers.binance.com/docs/binance-spot-api-docs/web-socket-api), answered
 * `{id, status: 200, result: {subscriptionId}}`; then `{subscriptionId, event}` frames (executionReport, …).
 * Faults: refuse the upgrade, drop every stream, hold events and deliver them reversed, replay on subscribe.
 */
export class BinanceUserDataStream {
  readonly sent = new Map<string, Record<string, unknown>[]>();
  readonly subscriptions: Array<{ apiKey: string; accepted: boolean }> = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly subscribers = new Map<string, Map<WebSocket, number>>();
  private refusing = false;
  private held?: Array<{ apiKey: string; event: Record<string, unknown> }>;
  private replayOnSubscribe = 0;
  private nextSubscriptionId = 0;

  constructor(private readonly secretOf: (apiKey: string) => string | undefined) {}

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.refusing) return void socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws));
  }

  refuse(on: boolean): void {
    this.refusing = on;
  }

  dropAll(): void {
    for (const sockets of this.subscribers.values()) for (const ws of sockets.keys()) ws.terminate();
    this.subscribers.clear();
  }

  replayLastOnSubscribe(count: number): void {
    this.replayOnSubscribe = count;
  }

  hold(): void {
    this.held ??= [];
  }

  release(reverse = false): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const { apiKey, event } of reverse ? held.reverse() : held) this.emit(apiKey, event);
  }

  listening(apiKey: string): number {
    return this.subscribers.get(apiKey)?.size ?? 0;
  }

  emit(apiKey: string, event: Record<string, unknown>): void {
    if (this.held) return void this.held.push({ apiKey, event });
    const log = this.sent.get(apiKey) ?? [];
    log.push(event);
    this.sent.set(apiKey, log);
    for (const [ws, subscriptionId] of this.subscribers.get(apiKey) ?? []) send(ws, { subscriptionId, event });
  }

  private serve(ws: WebSocket): void {
    ws.on('message', (raw) => {
      let req: { id?: unknown; method?: unknown; params?: Record<string, unknown> };
      try {
        req = JSON.parse(raw.toString());
      } catch {
        return send(ws, { id: null, status: 400, error: { code: -1013, msg: 'Malformed request.' } });
      }
      if (req.method !== 'userDataStream.subscribe.signature') return send(ws, { id: req.id, status: 400, error: { code: -1020, msg: 'Unsupported operation.' } });
      const params = Object.fromEntries(Object.entries(req.params ?? {}).map(([k, v]) => [k, String(v)]));
      const { signature, ...signed } = params;
      const secret = this.secretOf(params.apiKey ?? '');
      if (!secret) {
        this.subscriptions.push({ apiKey: params.apiKey ?? '', accepted: false });
        return send(ws, { id: req.id, status: 401, error: { code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' } });
      }
      const payload = Object.keys(signed).sort().map((k) => `${k}=${signed[k]}`).join('&');
      const expected = Buffer.from(createHmac('sha256', secret).update(payload).digest('hex'));
      const given = Buffer.from((signature ?? '').toLowerCase());
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        this.subscriptions.push({ apiKey: params.apiKey, accepted: false });
        return send(ws, { id: req.id, status: 400, error: { code: -1022, msg: 'Signature for this request is not valid.' } });
      }
      this.subscriptions.push({ apiKey: params.apiKey, accepted: true });
      const subscriptionId = this.nextSubscriptionId++;
      const sockets = this.subscribers.get(params.apiKey) ?? new Map<WebSocket, number>();
      sockets.set(ws, subscriptionId);
      this.subscribers.set(params.apiKey, sockets);
      ws.on('close', () => sockets.delete(ws));
      send(ws, { id: req.id, status: 200, result: { subscriptionId }, rateLimits: [] });
      if (this.replayOnSubscribe > 0) {
        for (const event of (this.sent.get(params.apiKey) ?? []).slice(-this.replayOnSubscribe)) send(ws, { subscriptionId, event });
        this.replayOnSubscribe = 0;
      }
    });
  }
}

function send(ws: WebSocket, frame: unknown): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
}
