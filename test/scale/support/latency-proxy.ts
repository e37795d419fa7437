import { Agent, createServer, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';

/**
 * An HTTP proxy in front of a broker stub that adds a broker-like round trip (uniform between
 * minMs and maxMs, before forwarding). It keeps jobs in flight long enough that a worker killed
 * mid-stream is really killed with orders on the wire.
 */
export class LatencyProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    private readonly target: string,
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {}

  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.forward(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    await new Promise((r) => setTimeout(r, this.minMs + Math.random() * (this.maxMs - this.minMs)));
    const target = new URL(req.url ?? '/', this.target);
    const upstream = request(target, { method: req.method, headers: { ...req.headers, host: target.host }, agent: this.agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    upstream.end(Buffer.concat(chunks));
  }
}
