import { createServer, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { AlpacaStub, AlpacaStubKey } from '../../test/support/brokers/alpaca-stub';
import type { RecordedRequest } from '../../test/support/brokers/broker-stub';

/** One order request as it reached the broker stub. */
export interface Arrival {
  clientOrderId: string;
  /** Wall-clock ms (performance.timeOrigin + now) when the request arrived. */
  at: number;
  apiKey: string;
}

const CLIENT_ORDER_ID = /"client_order_id"\s*:\s*"([^"]+)"/;

/**
 * The test suite's Alpaca stub (order endpoint shape, key auth, client_order_id uniqueness, fills),
 * recording the arrival of every order request and telling subscribers at once. Other requests
 * (account, lookups) are answered but not kept, so a long run does not grow the stub.
 */
export class RecordingAlpaca {
  readonly arrivals: Arrival[] = [];
  private readonly listeners = new Set<(a: Arrival) => void>();

  private constructor(readonly stub: AlpacaStub) {
    const requests = stub.requests as RecordedRequest[];
    requests.push = (...items: RecordedRequest[]): number => {
      for (const req of items) if (req.method === 'POST' && req.path === '/v2/orders') this.record(req);
      return 0;
    };
  }

  static async start(): Promise<RecordingAlpaca> {
    return new RecordingAlpaca(await new AlpacaStub().start());
  }

  /** Records arrivals at a stub someone else started (the test harness's); it stops keeping other requests. */
  static wrap(stub: AlpacaStub): RecordingAlpaca {
    return new RecordingAlpaca(stub);
  }

  get url(): string {
    return this.stub.url;
  }

  /** Accounts trade with effectively unlimited cash so a long run never meets "insufficient buying power". */
  addKey(key: Pick<AlpacaStubKey, 'apiKey' | 'apiSecret'>): void {
    this.stub.addKey({ ...key, equity: 1e15 });
  }

  onArrival(listener: (a: Arrival) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The arrivals so far; `clear` forgets them (between phases). */
  take(clear: boolean): Arrival[] {
    const copy = [...this.arrivals];
    if (clear) this.arrivals.length = 0;
    return copy;
  }

  stop(): Promise<void> {
    return this.stub.stop();
  }

  private record(req: RecordedRequest): void {
    const key = req.headers['apca-api-key-id'];
    const arrival = { clientOrderId: CLIENT_ORDER_ID.exec(req.body)?.[1] ?? '', at: req.arrivedAtMs, apiKey: typeof key === 'string' ? key : '' };
    this.arrivals.push(arrival);
    for (const l of this.listeners) l(arrival);
  }
}

/** A TCP feed of arrivals (one client order id per line) for a load generator in another process. */
export async function startArrivalFeed(broker: RecordingAlpaca): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => sockets.delete(socket));
  });
  broker.onArrival((a) => {
    for (const s of sockets) s.write(`${a.clientOrderId}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
