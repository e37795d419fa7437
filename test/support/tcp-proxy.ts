import { AddressInfo, createServer, Server, Socket } from 'node:net';

/**
 * A TCP pass-through to a real server that a test can cut (every open connection reset, new ones
 * refused) and restore on the same port: a database outage as the process behind it sees one.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      const upstream = new Socket();
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      upstream.connect(this.targetPort, this.targetHost);
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Resets every proxied connection and stops listening (connects are refused until restore). */
  async cut(): Promise<void> {
    for (const s of this.sockets) s.resetAndDestroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  async restore(): Promise<void> {
    await this.start();
  }

  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server?.listening) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
