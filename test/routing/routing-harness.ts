import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { AlpacaStub, startAlpacaStub } from '../support/brokers/alpaca-stub';
import { BinanceStub, startBinanceStub } from '../support/brokers/binance-stub';
import { createTestDatabase, TestDatabase } from '../support/database';
import { RunningWorker, startWorker } from '../support/worker-app';
import { createHmacSource, HmacSource, postSigned } from '../signals/support/signals-harness';

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** api + worker on one test database with the Alpaca and Binance stubs, on the chosen queue backend. */
export class RoutingWorld {
  db!: TestDatabase;
  api!: RunningApi;
  worker!: RunningWorker;
  alpaca!: AlpacaStub;
  binance!: BinanceStub;
  env: Record<string, string> = {};
  /** The credentials behind each connection, to look orders up at the stubs. */
  readonly keys = new Map<string, Record<string, string>>();

  static async start(backend: 'postgres' | 'redis', extraEnv: Record<string, string> = {}): Promise<RoutingWorld> {
    const world = new RoutingWorld();
    world.db = await createTestDatabase();
    [world.alpaca, world.binance] = await Promise.all([startAlpacaStub(), startBinanceStub()]);
    world.env = {
      DATA_DIR: mkdtempSync(join(tmpdir(), 'switchyard-routing-')),
      BROKER_ALPACA_BASE_URL: world.alpaca.url,
      BROKER_ALPACA_LIVE_BASE_URL: world.alpaca.url,
      BROKER_BINANCE_BASE_URL: world.binance.server.url,
      BROKER_BINANCE_TESTNET_BASE_URL: world.binance.server.url,
      BROKER_BINANCE_WS_API_URL: `${world.binance.server.url.replace(/^http/, 'ws')}/ws-api/v3`,
      BROKER_BINANCE_TESTNET_WS_API_URL: `${world.binance.server.url.replace(/^http/, 'ws')}/ws-api/v3`,
      BROKER_TIMEOUT_MS: '500',
      WEBHOOK_RATE_LIMIT_PER_MINUTE: '100000',
      RATE_LIMIT_PER_MINUTE: '100000',
      ...(backend === 'redis' ? { REDIS_URL, QUEUE_PREFIX: `{sytest-${randomBytes(6).toString('hex')}}` } : {}),
      ...extraEnv,
    };
    world.api = await startApi(world.db, world.env);
    world.worker = await startWorker(world.db, world.env);
    return world;
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    await this.api?.close();
    await Promise.all([this.alpaca?.stop(), this.binance?.server.stop()]);
    await this.db?.drop();
  }

  async workspace() {
    return createWorkspace(this.api, `ws-${randomBytes(3).toString('hex')}`);
  }

  async connect(token: string, broker: 'paper' | 'alpaca' | 'binance', environment: 'paper' | 'live' = 'paper'): Promise<string> {
    let credentials: Record<string, string> = {};
    if (broker === 'alpaca') {
      credentials = { apiKey: `PK${randomBytes(8).toString('hex').toUpperCase()}`, apiSecret: `alpaca-secret-${randomBytes(12).toString('hex')}` };
      this.alpaca.addKey({ ...credentials, equity: 100_000 } as never);
    }
    if (broker === 'binance') {
      credentials = { apiKey: `bnk${randomBytes(8).toString('hex')}`, apiSecret: `binance-secret-${randomBytes(12).toString('hex')}` };
      this.binance.addKey({ apiKey: credentials.apiKey, apiSecret: credentials.apiSecret, balances: { USDT: '1000000' } });
    }
    const res = await http(this.api.url, 'POST', '/v1/connections', { token, body: { broker, label: broker, environment, credentials } });
    if (res.status !== 201) throw new Error(`connection failed: ${res.status} ${res.text}`);
    this.keys.set(res.body.id, credentials);
    return res.body.id;
  }

  async source(token: string): Promise<HmacSource> {
    return createHmacSource(this.api, token);
  }

  async route(token: string, body: Record<string, unknown>): Promise<string> {
    const res = await http(this.api.url, 'POST', '/v1/routes', { token, body });
    if (res.status !== 201) throw new Error(`route failed: ${res.status} ${res.text}`);
    return res.body.id;
  }

  async send(source: HmacSource, body: Record<string, unknown>): Promise<string> {
    const res = await postSigned(this.api, source, body);
    if (res.status !== 202) throw new Error(`webhook failed: ${res.status} ${res.text}`);
    return res.body.signalId;
  }

  /** Waits (polling the read API, never sleeping blindly) until the signal reaches a terminal state. */
  async settled(token: string, signalId: string, timeoutMs = 20_000): Promise<{ status: string; orders: any[]; error?: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await http(this.api.url, 'GET', `/v1/signals/${signalId}`, { token });
      if (['routed', 'partially_routed', 'blocked', 'failed'].includes(res.body?.status)) {
        const orders = await http(this.api.url, 'GET', `/v1/orders?signalId=${signalId}&limit=500`, { token });
        return { status: res.body.status, error: res.body.error, orders: orders.body.items };
      }
      if (Date.now() > deadline) throw new Error(`signal ${signalId} did not settle: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async sql<R extends object = any>(text: string, params: unknown[] = []): Promise<R[]> {
    const c = new Client({ connectionString: this.db.adminUrl });
    await c.connect();
    try {
      return (await c.query<R>(text, params)).rows;
    } finally {
      await c.end();
    }
  }
}
