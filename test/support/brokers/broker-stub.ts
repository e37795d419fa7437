import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface RecordedRequest {
  method: string;
  /** Path with query string, as received. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** performance.timeOrigin + performance.now() at arrival, for latency measurement. */
  arrivedAtMs: number;
}

export interface StubReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type StubHandler = (req: RecordedRequest) => StubReply | Promise<StubReply>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: (req: RecordedRequest, params: string[]) => StubReply | Promise<StubReply>;
}

/**
 * A tiny HTTP server that broker stubs build on: routing, request recording and fault injection.
 * Each broker stub adds its own routes, signature checks and order book on top.
 */
export class BrokerStubServer {
  readonly requests: RecordedRequest[] = [];
  private readonly routes: Route[] = [];
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private faults: Array<{ fault: 'error500' | 'error429' | 'hang' | 'acceptThenHang'; only?: { method: string; path: RegExp } }> = [];
  private port = 0;
  /** Served over https with this certificate (a broker reached through the SSRF guard, which speaks https only). */
  private tls?: { key: string; cert: string };
  private readonly streams: Array<{ method: string; pattern: RegExp; handler: (req: RecordedRequest, res: ServerResponse, params: string[]) => void }> = [];
  private readonly upgrades: Array<{ pattern: RegExp; handler: (req: IncomingMessage, socket: Duplex, head: Buffer) => void }> = [];

  route(method: string, pattern: RegExp, handler: Route['handler']): this {
    this.routes.push({ method, pattern, handler });
    return this;
  }

  /** An endpoint that answers with a long-lived streamed body (chunked lines), written by `handler` itself. */
  streamRoute(method: string, pattern: RegExp, handler: (req: RecordedRequest, res: ServerResponse, params: string[]) => void): this {
    this.streams.push({ method, pattern, handler });
    return this;
  }

  /** A websocket (HTTP upgrade) endpoint on the same port, e.g. a broker's event stream. */
  upgrade(pattern: RegExp, handler: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): this {
    this.upgrades.push({ pattern, handler });
    return this;
  }

  /** The next `count` requests (or only those matching `only`, e.g. order submissions) fail this way, in order. */
  injectFaults(fault: 'error500' | 'error429' | 'hang' | 'acceptThenHang', count = 1, only?: { method: string; path: RegExp }): void {
    for (let i = 0; i < count; i++) this.faults.push({ fault, only });
  }

  clearFaults(): void {
    this.faults = [];
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Serve https from the next `start()` on. */
  useTls(certificate: { key: string; cert: string }): this {
    this.tls = { key: certificate.key, cert: certificate.cert };
    return this;
  }

  async start(port = 0): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = this.tls ? createHttpsServer(this.tls, handler) : createServer(handler);
    this.server.on('upgrade', (req, socket, head) => {
      const path = new URL(req.url ?? '/', 'http://stub').pathname;
      const endpoint = this.upgrades.find((u) => u.pattern.test(path));
      if (endpoint) endpoint.handler(req, socket, head);
      else socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(port || this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening and drops open connections; `start()` again reuses the same port. */
  async stop(): Promise<void> {
    if (!this.server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://stub');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      arrivedAtMs: performance.timeOrigin + performance.now(),
    };
    this.requests.push(recorded);
    const streamed = this.streams.find((r) => r.method === recorded.method && r.pattern.test(recorded.path));
    if (streamed) return streamed.handler(recorded, res, streamed.pattern.exec(recorded.path)!.slice(1));
    const route = this.routes.find((r) => r.method === recorded.method && r.pattern.test(recorded.path));
    if (!route) return this.reply(res, { status: 404, body: { message: 'not found' } });

    const at = this.faults.findIndex((f) => !f.only || (f.only.method === recorded.method && f.only.path.test(recorded.path)));
    const fault = at < 0 ? undefined : this.faults.splice(at, 1)[0].fault;
    if (fault === 'hang') return; // never answer, never act
    if (fault === 'error500') return this.reply(res, { status: 500, body: { message: 'internal error' } });
    if (fault === 'error429') return this.reply(res, { status: 429, body: { message: 'rate limited' }, headers: { 'retry-after': '1' } });

    const params = route.pattern.exec(recorded.path)!.slice(1);
    let reply: StubReply;
    try {
      reply = await route.handler(recorded, params);
    } catch (err) {
      reply = { status: 500, body: { message: (err as Error).message } };
    }
    if (fault === 'acceptThenHang') return; // acted on the request, but the answer is lost
    this.reply(res, reply);
  }

  private reply(res: ServerResponse, reply: StubReply): void {
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
  }
}
