import type { BrokerCredentials, BrokerEnvironment, BrokerOrderState } from './broker-adapter';
import { BrokerError } from './broker-error';

/** One order update from a broker's event stream, read as a lifecycle state (what a poll of the order would say). */
export interface BrokerStreamEvent {
  clientOrderId: string;
  state: BrokerOrderState;
}

export interface BrokerStreamHandlers {
  onEvent(event: BrokerStreamEvent): void;
  /** The stream ended without close() being called (network, broker, refused auth); `reason` holds no secrets. */
  onClose(reason: string): void;
}

/** A live, authenticated stream of one connection's order updates. */
export interface BrokerStream {
  close(): void;
}

/**
 * A broker's order event stream. open() uses the credentials only to authenticate the stream and keeps
 * none of them; it resolves once the broker confirmed the subscription and rejects (BrokerError) when refused.
 */
export interface BrokerStreamClient {
  open(credentials: BrokerCredentials, environment: BrokerEnvironment, handlers: BrokerStreamHandlers): Promise<BrokerStream>;
  /** Releases the client's connections (shutdown). */
  close?(): Promise<void>;
}

/** A broker's REST base URL as the websocket URL of `path` on the same host (https → wss), so a stub stands in for both. */
export function websocketUrl(baseUrl: string, path: string): string {
  const url = new URL(path, baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** A websocket message (text, or binary as Alpaca's paper stream sends) as JSON; undefined when it is neither. */
function parseFrame(data: unknown): unknown {
  try {
    return JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data as ArrayBuffer));
  } catch {
    return undefined;
  }
}

/** What a websocket stream client's callbacks may do with the session. */
export interface SocketSession {
  send(message: string): void;
  /** The broker confirmed the subscription: open() resolves, events flow. */
  confirm(): void;
  /** Ends the session: open() rejects with `err`, or (once ready) onClose is told its message. */
  fail(err: BrokerError): void;
  /** True between confirm() and the end. */
  readonly live: boolean;
}

/**
 * A websocket order stream's life, the same for every broker: connect, let `onOpen` subscribe, wait (at most
 * `timeoutMs`) for `onMessage` to call confirm(), then hand events on until the socket ends or close() is called.
 */
export function openSocketStream(
  options: { url: string; broker: string; label: string; timeoutMs: number },
  handlers: BrokerStreamHandlers,
  onOpen: (session: SocketSession) => void,
  onMessage: (json: unknown, session: SocketSession) => void,
): Promise<BrokerStream> {
  const { url, broker, label, timeoutMs } = options;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    let phase: 'opening' | 'ready' | 'closed' = 'opening';
    const timer = setTimeout(() => session.fail(new BrokerError('transient', broker, `${label} did not confirm within ${timeoutMs} ms`)), timeoutMs);
    const session: SocketSession = {
      send: (message) => socket.send(message),
      confirm: () => {
        if (phase !== 'opening') return;
        phase = 'ready';
        clearTimeout(timer);
        resolve({
          close: () => {
            phase = 'closed'; // closed by us: no onClose
            socket.close();
          },
        });
      },
      fail: (err) => {
        if (phase === 'closed') return;
        const wasReady = phase === 'ready';
        phase = 'closed';
        clearTimeout(timer);
        socket.close();
        if (wasReady) handlers.onClose(err.message);
        else reject(err);
      },
      get live() {
        return phase === 'ready';
      },
    };
    socket.onopen = () => onOpen(session);
    socket.onmessage = (message: MessageEvent) => {
      if (phase !== 'closed') onMessage(parseFrame(message.data), session);
    };
    socket.onerror = () => session.fail(new BrokerError('transient', broker, `${label}: the connection failed`));
    socket.onclose = (event) => session.fail(new BrokerError('transient', broker, `${label} closed (code ${event.code})`));
  });
}
