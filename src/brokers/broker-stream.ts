import type { BrokerCredentials, BrokerEnvironment, BrokerOrderState } from './broker-adapter';

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
