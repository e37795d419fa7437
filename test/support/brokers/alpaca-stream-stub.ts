import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { EventStreamStub } from './event-stream-stub';

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
export class AlpacaTradeStream extends EventStreamStub<WebSocket, AlpacaTradeUpdate> {
  /** Every stream that asked to authenticate, with its outcome. */
  readonly authentications: Array<{ apiKey: string; authorized: boolean }> = [];
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor(private readonly authenticate: (key: string, secret: string) => string | undefined) {
    super();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.refusing) return void socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws));
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  protected deliver(ws: WebSocket, update: AlpacaTradeUpdate): void {
    send(ws, { stream: 'trade_updates', data: update });
  }

  protected terminate(ws: WebSocket): void {
    ws.terminate();
  }

  protected override stamp(update: AlpacaTradeUpdate): AlpacaTradeUpdate {
    return { timestamp: new Date().toISOString(), ...update };
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
        ws.on('close', this.subscribe(apiKey, ws));
      }
    });
  }
}

function send(ws: WebSocket, frame: unknown): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.from(JSON.stringify(frame)), { binary: true });
}
