import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

/** The trade_updates event Alpaca sends for an order: its event name, the order after it, and the fill's own numbers on fills. */
export interface AlpacaTradeUpdate {
  event: string;
  order: Record<string, unknown>;
  execution_id?: string;
  price?: string;
  qty?: string;
  position_qty?: string;
  timestamp?: string;
}

/**
 * Alpaca's trading websocket (`/stream`; https://docs.alpaca.markets/docs/websocket-streaming) for the Alpaca stub:
 * `{"action":"auth","key","secret"}` (or the older `authenticate` with key_id/secret_key), then
 * `{"action":"listen","data":{"streams":["trade_updates"]}}`; every frame binary, as paper Alpaca sends them.
 * Faults: refuse the upgrade, drop every stream, hold events and deliver them reversed, replay events on listen.
 */
export class AlpacaTradeStream {
  /** Events sent per key, in order (what a replay resends). */
  readonly sent = new Map<string, AlpacaTradeUpdate[]>();
  /** Every stream that asked to authenticate, with its outcome. */
  readonly authentications: Array<{ apiKey: string; authorized: boolean }> = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly listeners = new Map<string, Set<WebSocket>>();
  private refusing = false;
  private held?: Array<{ apiKey: string; update: AlpacaTradeUpdate }>;
  private replayOnListen = 0;

  constructor(private readonly authenticate: (key: string, secret: string) => string | undefined) {}

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.refusing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws));
  }

  /** While on, the stream's upgrade is answered 503 (the stream is down; REST still answers). */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  /** Closes every open stream abruptly (a network drop); clients must reconnect. */
  dropAll(): void {
    for (const sockets of this.listeners.values()) for (const ws of sockets) ws.terminate();
    this.listeners.clear();
  }

  /** The next listen of each key is answered with its last `count` events again (a replay after reconnect). */
  replayLastOnListen(count: number): void {
    this.replayOnListen = count;
  }

  /** Events are queued instead of sent until release(). */
  hold(): void {
    this.held ??= [];
  }

  /** Sends the held events, in reverse order when asked (out-of-order delivery). */
  release(reverse = false): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const { apiKey, update } of reverse ? held.reverse() : held) this.emit(apiKey, update);
  }

  /** Streams listening to trade_updates for this key now. */
  listening(apiKey: string): number {
    return this.listeners.get(apiKey)?.size ?? 0;
  }

  emit(apiKey: string, update: AlpacaTradeUpdate): void {
    if (this.held) {
      this.held.push({ apiKey, update });
      return;
    }
    const full: AlpacaTradeUpdate = { timestamp: new Date().toISOString(), ...update };
    const log = this.sent.get(apiKey) ?? [];
    log.push(full);
    this.sent.set(apiKey, log);
    for (const ws of this.listeners.get(apiKey) ?? []) send(ws, { stream: 'trade_updates', data: full });
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private serve(ws: WebSocket): void {
    let apiKey: string | undefined;
    ws.on('message', (raw) => {
      let msg: { action?: string; key?: string; secret?: string; data?: { key_id?: string; secret_key?: string; streams?: unknown } };
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        return send(ws, { stream: 'error', data: { error: 'invalid syntax' } });
      }
      if (msg.action === 'auth' || msg.action === 'authenticate') {
        const key = msg.key ?? msg.data?.key_id ?? '';
        apiKey = this.authenticate(key, msg.secret ?? msg.data?.secret_key ?? '');
        this.authentications.push({ apiKey: key, authorized: apiKey !== undefined });
        send(ws, { stream: 'authorization', data: { action: 'authenticate', status: apiKey ? 'authorized' : 'unauthorized' } });
        if (!apiKey) ws.close(1008, 'unauthorized');
        return;
      }
      if (msg.action === 'listen') {
        if (!apiKey) {
          send(ws, { stream: 'authorization', data: { action: 'listen', status: 'unauthorized' } });
          return void ws.close(1008, 'unauthorized');
        }
        const streams = Array.isArray(msg.data?.streams) ? msg.data.streams.filter((s) => s === 'trade_updates') : [];
        send(ws, { stream: 'listening', data: { streams } });
        if (streams.length === 0) return;
        const sockets = this.listeners.get(apiKey) ?? new Set();
        sockets.add(ws);
        this.listeners.set(apiKey, sockets);
        ws.on('close', () => sockets.delete(ws));
        if (this.replayOnListen > 0) {
          for (const update of (this.sent.get(apiKey) ?? []).slice(-this.replayOnListen)) send(ws, { stream: 'trade_updates', data: update });
          this.replayOnListen = 0;
        }
      }
    });
  }
}

function send(ws: WebSocket, frame: unknown): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.from(JSON.stringify(frame)), { binary: true });
}
