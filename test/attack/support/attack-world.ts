import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Webhook } from 'standardwebhooks';
import { createWorkspace, RunningApi, startApi } from '../../support/api-app';
import { AlpacaStub, startAlpacaStub } from '../../support/brokers/alpaca-stub';
import { IbkrStub, startIbkrStub } from '../../support/brokers/ibkr-stub';
import { quarterlyExpiries, startTradovateStub, TradovateStub } from '../../support/brokers/tradovate-stub';
import { createTestDatabase, TestDatabase } from '../../support/database';
import { selfSignedCertificate } from '../../support/https-receiver';
import { PagerReceiver, startPagerDutyReceiver } from '../../support/pager-receivers';
import { RunningWorker, startWorker } from '../../support/worker-app';

/** One request as sent and answered, kept for the header, 5xx and leak checks. */
export interface Exchange {
  attack: string;
  method: string;
  url: string;
  /** Who sent it: 'A' (the victim's own credentials), 'B' (another workspace), 'platform', 'anonymous', 'forged'. */
  actor: string;
  requestText: string;
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

export interface Tenant {
  name: string;
  id: string;
  ownerId: string;
  ownerToken: string;
  ownerEmail: string;
  ownerPassword: string;
  /** Resource ids by collection: members, tokens, connections, sources, routes, signals, orders, alerts, webhooks. */
  ids: Record<string, string>;
  /** Spare resources that mutations may change (rotate, disable) without breaking the fixtures. */
  spare: Record<string, string>;
  hmacSecret: string;
  sourceToken: string;
  tokenSourceId: string;
  /** Values that identify this tenant's data in a response: ids, names, emails. */
  markers: string[];
}

const PD_KEY = 'ATTACKSUITE0123456789ABCDEFGHIJK';

/**
 * The attack suite's world: the real api (and a worker, so orders and alert deliveries exist) on a
 * fresh database, two tenants with one of everything, and tokens of every kind for tenant A.
 */
export class AttackWorld {
  db!: TestDatabase;
  api!: RunningApi;
  worker!: RunningWorker;
  alpaca!: AlpacaStub;
  tradovate!: TradovateStub;
  ibkr!: IbkrStub;
  /** The ES contract the canary Tradovate route trades (a plain symbol, as route symbol maps take). */
  tradovateContract = '';
  pagerDuty!: PagerReceiver;
  env: Record<string, string> = {};
  a!: Tenant;
  b!: Tenant;
  tokens: Record<'viewer' | 'jwt' | 'revoked' | 'expired' | 'algNone' | 'tamperedJwt' | 'tamperedToken', string> = {} as never;
  readonly exchanges: Exchange[] = [];
  readonly canary = { apiKey: `PKCANARY${randomBytes(8).toString('hex').toUpperCase()}`, apiSecret: `CANARY${randomBytes(16).toString('hex')}` };
  /** A canary in every Tradovate credential field. */
  readonly tradovateCanary = {
    name: `canary${randomBytes(6).toString('hex')}`,
    password: `CANARYPW${randomBytes(12).toString('hex')}`,
    appId: `CanaryApp${randomBytes(4).toString('hex')}`,
    cid: String(100_000 + (randomBytes(3).readUIntBE(0, 3) % 900_000)),
    sec: `CANARYSEC${randomBytes(16).toString('hex')}`,
  };
  /** IBKR gateway mode: the gateway URL (its path a canary) and the account id, both sealed; set once the stub listens. */
  ibkrCanary = { gatewayUrl: '', accountId: `DU${100_000_000 + (randomBytes(4).readUInt32BE(0) % 900_000_000)}` };

  /** Every form of every credential canary this world onboards. */
  canaryValues(): string[] {
    const gatewayPath = new URL(this.ibkrCanary.gatewayUrl).pathname.slice(1);
    return [
      this.canary.apiSecret,
      this.canary.apiKey,
      ...Object.values(this.tradovateCanary),
      gatewayPath,
      this.ibkrCanary.accountId,
      // The gateway's host and port are the user's too: they name where her gateway runs.
      new URL(this.ibkrCanary.gatewayUrl).host,
    ];
  }

  static async start(): Promise<AttackWorld> {
    const w = new AttackWorld();
    w.db = await createTestDatabase();
    const cert = selfSignedCertificate(['localhost']);
    [w.alpaca, w.pagerDuty, w.tradovate, w.ibkr] = await Promise.all([startAlpacaStub(), startPagerDutyReceiver(), startTradovateStub(), startIbkrStub(cert)]);
    [w.tradovateContract] = w.tradovate.addProduct('ES', quarterlyExpiries(30));
    w.tradovate.setPrice(w.tradovateContract, 6010);
    w.ibkr.addStock('AAPL', 265598, 100);
    w.ibkr.addAccount(w.ibkrCanary.accountId);
    w.ibkrCanary.gatewayUrl = `${w.ibkr.url}/gw${randomBytes(12).toString('hex')}`;
    w.env = {
      LOG_LEVEL: 'debug',
      RATE_LIMIT_PER_MINUTE: '1000000',
      WEBHOOK_RATE_LIMIT_PER_MINUTE: '1000000',
      WEBHOOK_IP_RATE_LIMIT_PER_MINUTE: '1000000',
      AUDIT_VERIFY_PER_MINUTE: '1000', // the attack run calls every route many times in one workspace
      // One client sends every attack: lockouts would answer 429 for the 401s under test (brute-force.spec.ts proves them).
      LOGIN_MAX_FAILURES: '1000',
      LOGIN_IP_MAX_FAILURES: '100000',
      TOKEN_IP_MAX_FAILURES: '100000',
      BROKER_ALPACA_BASE_URL: w.alpaca.url,
      BROKER_ALPACA_LIVE_BASE_URL: w.alpaca.url,
      BROKER_TRADOVATE_BASE_URL: `${w.tradovate.url}/v1`,
      BROKER_TRADOVATE_LIVE_BASE_URL: `${w.tradovate.url}/v1`,
      BROKER_TIMEOUT_MS: '1000',
      OUTBOUND_CA_FILE: cert.caFile,
      PAGER_PAGERDUTY_ROUTING_KEY: PD_KEY,
      PAGER_PAGERDUTY_URL: w.pagerDuty.url,
      // Order-webhook endpoints on 127.0.0.1 (nothing listens there: deliveries just fail and retry), and the IBKR gateway stub.
      OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
    };
    w.api = await startApi(w.db, w.env);
    w.env.DATA_DIR = w.api.config.dataDir;
    w.worker = await startWorker(w.db, w.env);
    w.a = await w.tenant('A', true);
    w.b = await w.tenant('B', false);
    await w.mintTokens();
    return w;
  }

  async stop(): Promise<void> {
    await this.worker?.close().catch(() => undefined);
    await this.api?.close().catch(() => undefined);
    await this.alpaca?.stop().catch(() => undefined);
    await this.tradovate?.stop().catch(() => undefined);
    await this.ibkr?.stop().catch(() => undefined);
    await this.pagerDuty?.close().catch(() => undefined);
    await this.db?.drop().catch(() => undefined);
  }

  /** Sends one request; never throws on 4xx/5xx; records the exchange. */
  async send(
    attack: string,
    actor: string,
    method: string,
    path: string,
    options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
  ): Promise<Exchange> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.api.url + path, { method, headers, body, signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* keep text */
    }
    const exchange: Exchange = {
      attack,
      method,
      url: path,
      actor,
      requestText: `${path}\n${body ?? ''}\n${JSON.stringify(options.headers ?? {})}`,
      status: res.status,
      headers: res.headers,
      text,
      body: parsed,
    };
    this.exchanges.push(exchange);
    return exchange;
  }

  /** Standard Webhooks signature headers for a body, with the tenant's source secret. */
  signed(tenant: Tenant, rawBody: string, id = `msg_${randomBytes(8).toString('hex')}`): Record<string, string> {
    const at = new Date();
    return {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(tenant.hmacSecret).sign(id, at, rawBody),
    };
  }

  async sql<R extends object = any>(text: string, values: unknown[] = []): Promise<R[]> {
    const c = new Client({ connectionString: this.db.adminUrl });
    await c.connect();
    try {
      return (await c.query<R>(text, values)).rows;
    } finally {
      await c.end();
    }
  }

  /** A snapshot of everything a tenant owns (every tenant table but the audit trail and the delivery loops' state, which move on their own), to prove attacks changed nothing. */
  async fingerprint(tenant: Tenant): Promise<string> {
    const tables = await this.sql<{ t: string }>(
      `SELECT c.table_name AS t FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = 'public' AND c.column_name = 'workspace_id' AND t.table_type = 'BASE TABLE'
          AND c.table_name NOT IN ('audit_events', 'audit_checkpoints', 'alert_deliveries', 'alerts', 'webhook_deliveries') ORDER BY 1`,
    );
    const parts: string[] = [];
    for (const { t } of tables) {
      const rows = await this.sql<{ r: string }>(`SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) AS r FROM "${t}" x WHERE workspace_id = $1`, [
        tenant.id,
      ]);
      parts.push(`${t}:${rows[0].r}`);
    }
    return parts.join('\n');
  }

  private async tenant(name: string, withCanary: boolean): Promise<Tenant> {
    const password = `atk-owner-${randomBytes(8).toString('hex')}`;
    const ws = await createWorkspace(this.api, `attack-${name}-${randomBytes(3).toString('hex')}`, password);
    // The workspace's bootstrap token ends at the owner's first login: the suite works with a durable owner token.
    const durable = await this.send('setup', name, 'POST', '/v1/tokens', { token: ws.token, body: { name: `owner-${name}`, role: 'owner' } });
    if (durable.status !== 201) throw new Error(`setup owner token: ${durable.status} ${durable.text}`);
    const t: Tenant = {
      name,
      id: ws.id,
      ownerId: ws.ownerId,
      ownerToken: durable.body.token,
      ownerEmail: ws.ownerEmail,
      ownerPassword: password,
      ids: {},
      spare: {},
      hmacSecret: '',
      sourceToken: '',
      tokenSourceId: '',
      markers: [],
    };
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await this.send('setup', name, method, path, { token: t.ownerToken, body });
      if (res.status >= 300) throw new Error(`setup ${method} ${path}: ${res.status} ${res.text}`);
      return res.body;
    };
    if (withCanary) {
      // The canary is onboarded before anything else and stays connected (and routed) through every attack.
      this.alpaca.addKey({ ...this.canary, equity: 1_000_000 });
      t.ids.canaryConnection = (await call('POST', '/v1/connections', { broker: 'alpaca', label: `canary-${name}`, credentials: this.canary })).id;
      this.tradovate.addUser(this.tradovateCanary);
      t.ids.tradovateCanaryConnection = (
        await call('POST', '/v1/connections', {
          broker: 'tradovate',
          label: `canary-tradovate-${name}`,
          environment: 'paper',
          credentials: this.tradovateCanary,
        })
      ).id;
      t.ids.ibkrCanaryConnection = (
        await call('POST', '/v1/connections', { broker: 'ibkr', label: `canary-ibkr-${name}`, environment: 'paper', credentials: this.ibkrCanary })
      ).id;
    }
    const paper = await call('POST', '/v1/connections', { broker: 'paper', label: `paper-${name}-${randomBytes(3).toString('hex')}`, credentials: {} });
    const sparePaper = await call('POST', '/v1/connections', { broker: 'paper', label: `spare-${name}`, credentials: {} });
    const source = await call('POST', '/v1/sources', { name: `src-${name}-${randomBytes(3).toString('hex')}`, auth: 'hmac' });
    const spareSource = await call('POST', '/v1/sources', { name: `spare-src-${name}`, auth: 'hmac' });
    const tokenSource = await call('POST', '/v1/sources', { name: `tv-${name}`, auth: 'token' });
    const route = await call('POST', '/v1/routes', { sourceId: source.id, connectionId: paper.id, sizing: { mode: 'fixed', value: '1' } });
    if (withCanary) {
      await call('POST', '/v1/routes', {
        sourceId: source.id,
        connectionId: t.ids.canaryConnection,
        sizing: { mode: 'fixed', value: '1' },
        symbolMap: { BTCUSD: 'BTC/USD' },
      });
      await call('POST', '/v1/routes', {
        sourceId: source.id,
        connectionId: t.ids.tradovateCanaryConnection,
        sizing: { mode: 'fixed', value: '1' },
        symbolMap: { BTCUSD: this.tradovateContract },
      });
      await call('POST', '/v1/routes', {
        sourceId: source.id,
        connectionId: t.ids.ibkrCanaryConnection,
        sizing: { mode: 'fixed', value: '1' },
        symbolMap: { BTCUSD: 'AAPL' },
      });
    }
    const spareRoute = await call('POST', '/v1/routes', { sourceId: spareSource.id, connectionId: sparePaper.id, sizing: { mode: 'fixed', value: '1' } });
    const webhook = await call('POST', '/v1/webhooks', { url: `https://127.0.0.1:9/hooks-${name}`, description: `hook-${name}` });
    const spareWebhook = await call('POST', '/v1/webhooks', { url: `https://127.0.0.1:9/spare-${name}` });
    const member = await call('POST', '/v1/members', { email: `member-${name}-${randomBytes(3).toString('hex')}@example.com`, role: 'viewer' });
    const token = await call('POST', '/v1/tokens', { name: `ci-${name}`, role: 'viewer' });
    t.hmacSecret = source.secret;
    t.tokenSourceId = tokenSource.id;
    t.sourceToken = String(tokenSource.webhookUrl).split('/').pop()!;
    // A flatten (of the spare paper connection, which holds nothing), so GET /v1/flattens/{id} has one to read.
    t.ids.flattens = (await call('POST', `/v1/connections/${sparePaper.id}/flatten`, { reason: `setup ${name}` })).id;
    Object.assign(t.ids, {
      connections: paper.id,
      sources: source.id,
      routes: route.id,
      members: member.id ?? member.member?.id,
      tokens: token.id,
      workspaces: t.id,
      webhooks: webhook.id,
    });
    Object.assign(t.spare, { connections: sparePaper.id, sources: spareSource.id, routes: spareRoute.id, webhooks: spareWebhook.id });

    // A signal (and, through the worker, its orders) and an alert (ten well-formed forged deliveries page on-call).
    const raw = JSON.stringify({ ticker: 'BTCUSD', action: 'buy', price: '100' });
    const hook = await this.send('setup', name, 'POST', `/hooks/${source.id}`, { rawBody: raw, headers: this.signed(t, raw) });
    if (hook.status !== 202) throw new Error(`setup signal: ${hook.status} ${hook.text}`);
    t.ids.signals = hook.body.signalId;
    for (let i = 0; i < 10; i++) {
      await this.send('setup', 'forged', 'POST', `/hooks/${spareSource.id}`, {
        rawBody: raw,
        headers: { ...this.signed(t, raw), 'webhook-signature': `v1,${randomBytes(32).toString('base64')}` },
      });
    }
    t.ids.orders = await this.eventually(
      `orders of ${name}`,
      async () => (await this.sql(`SELECT id::text FROM orders WHERE signal_id = $1 LIMIT 1`, [t.ids.signals]))[0]?.id,
    );
    // A delivery of the order's event to the spare endpoint, failed as after its last attempt, so the retry route has one.
    // (The path parameter is deliveryId, so the walker looks it up as "deliverys".)
    t.spare.deliverys = await this.eventually(
      `a webhook delivery in ${name}`,
      async () =>
        (
          await this.sql(
            `UPDATE webhook_deliveries SET status = 'failed' WHERE id = (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 LIMIT 1) RETURNING id::text`,
            [spareWebhook.id],
          )
        )[0]?.id,
    );
    t.ids.alerts = await this.eventually(
      `an alert in ${name}`,
      async () => (await this.sql(`SELECT id::text FROM alerts WHERE workspace_id = $1 LIMIT 1`, [t.id]))[0]?.id,
    );
    const names = await this.sql<{ v: string }>(
      `SELECT name AS v FROM workspaces WHERE id = $1 UNION ALL SELECT label FROM broker_connections WHERE workspace_id = $1
       UNION ALL SELECT name FROM sources WHERE workspace_id = $1 UNION ALL SELECT email FROM members WHERE workspace_id = $1`,
      [t.id],
    );
    t.markers = [...new Set([...Object.values(t.ids), ...Object.values(t.spare), t.tokenSourceId, ...names.map((n) => n.v)])].filter((m) => m && m.length >= 8);
    return t;
  }

  private async mintTokens(): Promise<void> {
    const a = this.a;
    const issue = async (role: string) =>
      (await this.send('setup', 'A', 'POST', '/v1/tokens', { token: a.ownerToken, body: { name: `atk-${role}`, role } })).body;
    const viewer = await issue('viewer');
    const revoked = await issue('admin');
    await this.send('setup', 'A', 'DELETE', `/v1/tokens/${revoked.id}`, { token: a.ownerToken });
    const expired = await issue('admin');
    await this.sql(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
    const login = await this.send('setup', 'A', 'POST', '/v1/auth/login', { body: { email: a.ownerEmail, password: a.ownerPassword } });
    if (login.status !== 200) throw new Error(`setup login: ${login.status} ${login.text}`);
    const jwt: string = login.body.accessToken;
    const [header, payload, signature] = jwt.split('.');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const flip = (s: string) => s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1);
    this.tokens = {
      viewer: viewer.token,
      jwt,
      revoked: revoked.token,
      expired: expired.token,
      algNone: `${none}.${payload}.`,
      tamperedJwt: `${header}.${payload}.${flip(signature)}`,
      tamperedToken: flip(a.ownerToken),
    };
  }

  private async eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`setup: no ${what} in time`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
