import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapDatabase } from '../../../src/database/bootstrap';
import { AlpacaStub, startAlpacaStub } from '../../support/brokers/alpaca-stub';
import { BinanceStub, startBinanceStub } from '../../support/brokers/binance-stub';
import { KmsStub, startKmsStub } from '../../support/kms-stub';
import { PagerReceiver, startPagerDutyReceiver } from '../../support/pager-receivers';
import { freePort } from '../../../src/common/free-port';
import { PrivatePostgres } from './private-postgres';
import { PrivateRedis } from './private-redis';
import { apiReady, prepareBuild, ServiceProcess, workerReady } from './services';
import type { StreamTarget } from './signal-stream';

export type QueueBackend = 'redis' | 'postgres';

export interface WorldOptions {
  backend: QueueBackend;
  /** Workspaces, each with an Alpaca, a Binance and a paper connection, two sources and four routes. */
  workspaces: number;
  /** Spare sources per workspace for signature-failure bursts (one alert each). */
  alarmSources: number;
}

export interface WorkspaceFixture {
  id: string;
  name: string;
  token: string;
  connections: Array<{ id: string; broker: 'alpaca' | 'binance' | 'paper'; apiKey?: string }>;
  alarmSources: string[];
}

export const PD_ROUTING_KEY = 'FAULTSUITE0123456789ABCDEFGHIJKL';

interface HttpAnswer {
  status: number;
  text: string;
  body: any;
}

/**
 * Everything the fault suite runs against, as separate processes where a crash matters: a private
 * PostgreSQL and Redis, the api and the worker spawned from the build, and in this process the KMS
 * wire stub (aws provider, one principal per process), the Alpaca and Binance stubs and a PagerDuty
 * receiver. Setup goes through the public API only; a canary secret is onboarded first.
 */
export class FaultWorld {
  build!: ReturnType<typeof prepareBuild>;
  pg!: PrivatePostgres;
  redis?: PrivateRedis;
  kms!: KmsStub;
  alpaca!: AlpacaStub;
  binance!: BinanceStub;
  pagerDuty!: PagerReceiver;
  api!: ServiceProcess;
  worker!: ServiceProcess;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'sy-faults-data-'));
  readonly logDir = mkdtempSync(join(tmpdir(), 'sy-faults-logs-'));
  readonly platformToken = `platform-${randomBytes(24).toString('hex')}`;
  readonly canary = {
    alpacaKey: `PKCANARY${randomBytes(8).toString('hex').toUpperCase()}`,
    alpacaSecret: `CANARY${randomBytes(16).toString('hex')}`,
    binanceKey: `bncanary${randomBytes(8).toString('hex')}`,
    binanceSecret: `CANARYBN${randomBytes(16).toString('hex')}`,
  };
  readonly workspaces: WorkspaceFixture[] = [];
  readonly targets: StreamTarget[] = [];
  /** Every management response body (for the leak scan). */
  readonly responses: string[] = [];
  apiUrl = '';
  private nextAlarm = 0;

  constructor(readonly options: WorldOptions) {}

  static async start(options: WorldOptions): Promise<FaultWorld> {
    const world = new FaultWorld(options);
    try {
      await world.boot();
    } catch (err) {
      await world.stop();
      throw err;
    }
    return world;
  }

  private async boot(): Promise<void> {
    this.build = prepareBuild();
    [this.pg, this.kms, this.alpaca, this.binance, this.pagerDuty] = await Promise.all([
      PrivatePostgres.start(),
      startKmsStub(),
      startAlpacaStub(),
      startBinanceStub(),
      startPagerDutyReceiver(),
    ]);
    if (this.options.backend === 'redis') this.redis = await PrivateRedis.start('always');
    await this.pg.query('postgres', 'CREATE DATABASE switchyard');
    const urls = await bootstrapDatabase(this.pg.url('switchyard'), this.dataDir);
    const port = await freePort();
    this.apiUrl = `http://127.0.0.1:${port}`;
    const common: Record<string, string> = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_BASE_URL: this.apiUrl,
      DATA_DIR: this.dataDir,
      LOG_LEVEL: 'debug',
      DATABASE_POOL_SIZE: '10',
      KMS_PROVIDER: 'aws',
      KMS_KEY_ID: this.kms.keyId,
      KMS_ENDPOINT: this.kms.url,
      AWS_REGION: this.kms.region,
      // Short enough that the worker keeps asking the KMS during the run (a long cache would hide an outage).
      DATA_KEY_CACHE_TTL_MS: '1000',
      PLATFORM_ADMIN_TOKEN: this.platformToken,
      JWT_SECRET: randomBytes(32).toString('hex'),
      PAGER_PAGERDUTY_ROUTING_KEY: PD_ROUTING_KEY,
      PAGER_PAGERDUTY_URL: this.pagerDuty.url,
      RATE_LIMIT_PER_MINUTE: '1000000',
      WEBHOOK_RATE_LIMIT_PER_MINUTE: '1000000',
      WEBHOOK_IP_RATE_LIMIT_PER_MINUTE: '1000000',
      BROKER_ALPACA_BASE_URL: this.alpaca.url,
      BROKER_ALPACA_LIVE_BASE_URL: this.alpaca.url,
      BROKER_BINANCE_BASE_URL: this.binance.url,
      BROKER_BINANCE_TESTNET_BASE_URL: this.binance.url,
      BROKER_TIMEOUT_MS: '1000',
      ...(this.redis ? { REDIS_URL: this.redis.url, QUEUE_PREFIX: `{sytest-${randomBytes(6).toString('hex')}}` } : {}),
    };
    const principal = (p: 'api' | 'worker') => ({
      AWS_ACCESS_KEY_ID: this.kms.principals[p].accessKeyId,
      AWS_SECRET_ACCESS_KEY: this.kms.principals[p].secretAccessKey,
    });
    this.api = new ServiceProcess(
      'api',
      this.build.root,
      { ...common, ...principal('api'), DATABASE_API_URL: urls.apiUrl },
      this.logDir,
      apiReady(this.apiUrl),
    );
    this.worker = new ServiceProcess(
      'worker',
      this.build.root,
      { ...common, ...principal('worker'), DATABASE_WORKER_URL: urls.workerUrl },
      this.logDir,
      workerReady(),
    );
    await Promise.all([this.api.start(), this.worker.start()]);
    for (let i = 0; i < this.options.workspaces; i++) await this.onboardWorkspace(i);
  }

  /** One workspace: Alpaca, Binance and paper connections; source A routes to Alpaca + paper, source B to Binance + Alpaca. */
  private async onboardWorkspace(index: number): Promise<void> {
    const name = `faults-ws-${index}-${randomBytes(3).toString('hex')}`;
    const created = await this.call(
      'POST',
      '/v1/workspaces',
      this.platformToken,
      { name, ownerEmail: `owner-${index}-${randomBytes(3).toString('hex')}@example.com` },
      201,
    );
    const ws: WorkspaceFixture = { id: created.body.workspace.id, name, token: created.body.token, connections: [], alarmSources: [] };
    // The canary secrets are onboarded first, in workspace 0, and routed all run long: the worker opens them constantly.
    const alpacaKey =
      index === 0
        ? { apiKey: this.canary.alpacaKey, apiSecret: this.canary.alpacaSecret }
        : { apiKey: `PK${randomBytes(8).toString('hex').toUpperCase()}`, apiSecret: `alpaca-${randomBytes(12).toString('hex')}` };
    const binanceKey =
      index === 0
        ? { apiKey: this.canary.binanceKey, apiSecret: this.canary.binanceSecret }
        : { apiKey: `bnk${randomBytes(8).toString('hex')}`, apiSecret: `binance-${randomBytes(12).toString('hex')}` };
    this.alpaca.addKey({ ...alpacaKey, equity: 1_000_000_000 });
    this.binance.addKey({ ...binanceKey, balances: { USDT: '1000000000', BTC: '100000' } });
    const alpaca = await this.call(
      'POST',
      '/v1/connections',
      ws.token,
      { broker: 'alpaca', label: 'alpaca', environment: 'paper', credentials: alpacaKey },
      201,
    );
    const binance = await this.call(
      'POST',
      '/v1/connections',
      ws.token,
      { broker: 'binance', label: 'binance', environment: 'paper', credentials: binanceKey },
      201,
    );
    const paper = await this.call('POST', '/v1/connections', ws.token, { broker: 'paper', label: 'paper', environment: 'paper', credentials: {} }, 201);
    ws.connections.push(
      { id: alpaca.body.id, broker: 'alpaca', apiKey: alpacaKey.apiKey },
      { id: binance.body.id, broker: 'binance', apiKey: binanceKey.apiKey },
      { id: paper.body.id, broker: 'paper' },
    );
    for (const [label, routes] of [
      [
        'A',
        [
          [alpaca.body.id, { BTCUSD: 'BTC/USD' }, '1'],
          [paper.body.id, {}, '2'],
        ],
      ],
      [
        'B',
        [
          [binance.body.id, { BTCUSD: 'BTCUSDT' }, '0.001'],
          [alpaca.body.id, { BTCUSD: 'BTC/USD' }, '3'],
        ],
      ],
    ] as const) {
      const source = await this.call('POST', '/v1/sources', ws.token, { name: `stream-${label}`, auth: 'hmac' }, 201);
      for (const [connectionId, symbolMap, quantity] of routes) {
        await this.call('POST', '/v1/routes', ws.token, { sourceId: source.body.id, connectionId, sizing: { mode: 'fixed', value: quantity }, symbolMap }, 201);
      }
      this.targets.push({ label: `${name}/${label}`, workspaceId: ws.id, sourceId: source.body.id, secret: source.body.secret, ticker: 'BTCUSD' });
    }
    for (let i = 0; i < this.options.alarmSources; i++) {
      ws.alarmSources.push((await this.call('POST', '/v1/sources', ws.token, { name: `alarm-${i}`, auth: 'hmac' }, 201)).body.id);
    }
    this.workspaces.push(ws);
  }

  /** A source nobody has sent a bad signature to yet (round-robin over workspaces). */
  takeAlarmSource(): string {
    const ws = this.workspaces[this.nextAlarm % this.workspaces.length];
    const source = ws.alarmSources[Math.floor(this.nextAlarm / this.workspaces.length)];
    this.nextAlarm += 1;
    if (!source) throw new Error('out of alarm sources; raise alarmSources');
    return source;
  }

  async call(method: string, path: string, token: string, body?: unknown, expect?: number): Promise<HttpAnswer> {
    const res = await fetch(this.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    this.responses.push(text);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (expect !== undefined && res.status !== expect) throw new Error(`${method} ${path}: expected ${expect}, got ${res.status} ${text.slice(0, 300)}`);
    return { status: res.status, text, body: parsed };
  }

  sql<R extends object = any>(text: string, values: unknown[] = []): Promise<R[]> {
    return this.pg.query<R>('switchyard', text, values);
  }

  async stop(): Promise<void> {
    const steps: Array<() => Promise<unknown> | unknown> = [
      () => this.worker?.stop(),
      () => this.api?.stop(),
      () => this.redis?.stop(),
      () => this.pg?.stop(),
      () => this.kms?.close(),
      () => this.alpaca?.stop(),
      () => this.binance?.stop(),
      () => this.pagerDuty?.close(),
      () => this.build?.cleanup(),
      () => rmSync(this.dataDir, { recursive: true, force: true }),
      () => rmSync(this.logDir, { recursive: true, force: true }),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch {
        /* keep cleaning up */
      }
    }
  }
}
