import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { DB_ROLES } from '../../src/database/database-roles';
import { clientOrderId } from '../../src/routing/client-order-id';
import { AlpacaStub, startAlpacaStub } from '../support/brokers/alpaca-stub';
import { BinanceStub, startBinanceStub } from '../support/brokers/binance-stub';
import { ApiProcess, ClusterEnv, DistSnapshot, snapshotDist, startApiProcess, startWorkerProcess, SwitchyardProcess } from './support/cluster';
import { LatencyProxy } from './support/latency-proxy';
import { RunningPgbouncer, startPgbouncer } from './support/pgbouncer';
import { pgbouncerSuite } from './support/require-pgbouncer';
import { http, type HttpResult } from '../support/http-client';
import { deliver, expectOk, HmacSource, newWebhookId } from './support/scale-client';
import { adminSql, createScaleDatabase, runtimeLogins, ScaleDatabase } from './support/scale-db';

const { bin, describe: suite } = pgbouncerSuite();

/**
 * Signals in the main stream: `npm run test:scale` sends 300; CI runs SCALE_SIGNALS=120. SCALE_SIGNALS=600
 * is the stress setting (a deep per-connection backlog after the SIGKILL; see docs/operations.md, Sizing).
 */
const SIGNALS = Number(process.env.SCALE_SIGNALS ?? 300);
const REDIS_URL = process.env.SCALE_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TERMINAL = ['routed', 'partially_routed', 'blocked', 'failed'];
/** Every DUP_EVERY-th signal of a source is delivered to all three api processes at once with one webhook-id. */
const DUP_EVERY = 8;
/** PgBouncer server connections per role (api, worker), shared by all processes of that role. */
const SERVER_POOL = Number(process.env.SCALE_SERVER_POOL ?? 20);

interface Workspace {
  id: string;
  token: string;
}
interface Connection {
  id: string;
  broker: 'alpaca' | 'binance';
  apiKey: string;
}
interface StreamSource {
  name: string;
  ws: Workspace;
  source: HmacSource;
  ticker: string;
  routes: Array<{ id: string; connection: Connection }>;
}
interface Sent {
  signalId: string;
  src: StreamSource;
  ackAt: number;
  api: number;
  /** For a duplicate delivery: what each api process answered. */
  deliveries?: HttpResult[];
}

suite(`scale-out: 3 api + 3 worker processes through PgBouncer (transaction mode) on one Redis, ${SIGNALS} signals`, () => {
  let snapshot: DistSnapshot;
  let db: ScaleDatabase;
  let bouncer: RunningPgbouncer;
  let alpaca: AlpacaStub;
  let binance: BinanceStub;
  let proxies: LatencyProxy[] = [];
  let env: ClusterEnv;
  let queue: Queue | undefined;
  let redis: IORedis | undefined;
  const prefix = `{sytest-${randomBytes(6).toString('hex')}}`;
  const apis: ApiProcess[] = [];
  const workers: SwitchyardProcess[] = [];
  const platformToken = `syp_${randomBytes(32).toString('base64url')}`;
  let rr = 0;
  const nextApi = () => rr++ % apis.length;

  // Filled by the stream test, read by the others.
  const stream: StreamSource[] = [];
  const sent: Sent[] = [];
  let killed: SwitchyardProcess | undefined;
  const report: Record<string, unknown> = {};

  beforeAll(async () => {
    snapshot = snapshotDist();
    db = await createScaleDatabase('scale');
    [alpaca, binance] = await Promise.all([startAlpacaStub(), startBinanceStub()]);
    // A broker-like round trip keeps orders on the wire when a worker is killed.
    proxies = await Promise.all([new LatencyProxy(alpaca.url, 5, 40).start(), new LatencyProxy(binance.server.url, 5, 40).start()]);
    bouncer = await startPgbouncer(bin, {
      databases: [{ alias: db.name, host: db.host, port: db.port, dbname: db.name }],
      users: runtimeLogins(db),
      defaultPoolSize: SERVER_POOL,
      maxClientConn: 400,
    });
    env = {
      dataDir: db.dataDir,
      apiDatabaseUrl: bouncer.url(db.name, DB_ROLES.api, db.passwords.api),
      workerDatabaseUrl: bouncer.url(db.name, DB_ROLES.worker, db.passwords.worker),
      redisUrl: REDIS_URL,
      queuePrefix: prefix,
      platformToken,
      jwtSecret: randomBytes(32).toString('hex'),
      alpacaUrl: proxies[0].url,
      binanceUrl: proxies[1].url,
      extra: { DATABASE_PREPARED_STATEMENTS: String(bouncer.preparedStatements) },
    };
    apis.push(...(await Promise.all([0, 1, 2].map((i) => startApiProcess(snapshot, `api-${i}`, env)))));
    workers.push(...(await Promise.all([0, 1, 2].map((i) => startWorkerProcess(snapshot, `worker-${i}`, env)))));
    redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue('route-signal', { connection: redis, prefix });
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled([...apis, ...workers].map((p) => p.stop(10_000)));
    await queue?.close().catch(() => undefined);
    if (redis) {
      await deleteKeys(redis, `${prefix}*`).catch(() => undefined);
      await redis.quit().catch(() => undefined);
    }
    await Promise.allSettled(proxies.map((p) => p.stop()));
    await Promise.allSettled([alpaca?.stop(), binance?.server.stop()]);
    await bouncer?.stop();
    await db?.drop();
    snapshot?.remove();
    process.stdout.write(`\nscale-out report: ${JSON.stringify(report, null, 2)}\n`);
  }, 120_000);

  // ---------------------------------------------------------------- topology through the api processes

  async function workspace(name: string): Promise<Workspace> {
    const api = apis[nextApi()];
    const body = await expectOk(
      http(api.url, 'POST', '/v1/workspaces', { token: platformToken, body: { name, ownerEmail: `${name}-${randomBytes(3).toString('hex')}@example.com` } }),
      201,
      'workspace',
    );
    return { id: body.workspace.id, token: body.token };
  }

  async function connection(ws: Workspace, broker: 'alpaca' | 'binance'): Promise<Connection> {
    const apiKey = broker === 'alpaca' ? `PK${randomBytes(8).toString('hex').toUpperCase()}` : `bnk${randomBytes(8).toString('hex')}`;
    const apiSecret = `${broker}-secret-${randomBytes(12).toString('hex')}`;
    if (broker === 'alpaca') alpaca.addKey({ apiKey, apiSecret, equity: 100_000_000 });
    else binance.addKey({ apiKey, apiSecret, balances: { USDT: '100000000', BTC: '100000' } });
    const body = await expectOk(
      http(apis[nextApi()].url, 'POST', '/v1/connections', {
        token: ws.token,
        body: { broker, label: broker, environment: 'paper', credentials: { apiKey, apiSecret } },
      }),
      201,
      'connection',
    );
    return { id: body.id, broker, apiKey };
  }

  async function source(ws: Workspace): Promise<HmacSource> {
    return expectOk(http(apis[nextApi()].url, 'POST', '/v1/sources', { token: ws.token, body: { name: 'bot', auth: 'hmac' } }), 201, 'source');
  }

  async function route(ws: Workspace, src: HmacSource, conn: Connection, value: string, symbolMap?: Record<string, string>) {
    const body = await expectOk(
      http(apis[nextApi()].url, 'POST', '/v1/routes', {
        token: ws.token,
        body: { sourceId: src.id, connectionId: conn.id, sizing: { mode: 'fixed', value }, symbolMap, enabled: true },
      }),
      201,
      'route',
    );
    return { id: body.id as string, connection: conn };
  }

  /** One workspace with one source routed to one Alpaca connection (for the kill-switch and revoke proofs). */
  async function single(name: string): Promise<StreamSource> {
    const ws = await workspace(name);
    const conn = await connection(ws, 'alpaca');
    const src = await source(ws);
    return { name, ws, source: src, ticker: 'MSFT', routes: [await route(ws, src, conn, '1')] };
  }

  // ---------------------------------------------------------------- sending and observing

  async function send(src: StreamSource, action: 'buy' | 'sell', opts: { duplicate?: boolean } = {}): Promise<Sent> {
    const body = { ticker: src.ticker, action, price: '100' };
    const id = newWebhookId();
    if (opts.duplicate) {
      // The same webhook-id delivered to every api process at once (a sender retrying through a load balancer).
      const deliveries = await Promise.all(apis.map((a) => deliver(a.url, src.source, body, id)));
      const first = deliveries.find((d) => d.status === 202 && d.body.duplicate === false) ?? deliveries[0];
      if (first.status !== 202) throw new Error(`duplicate delivery failed: ${first.status} ${first.text}`);
      return { signalId: first.body.signalId, src, ackAt: Date.now(), api: -1, deliveries };
    }
    const api = nextApi();
    const res = await deliver(apis[api].url, src.source, body, id);
    if (res.status !== 202) throw new Error(`webhook failed on api-${api}: ${res.status} ${res.text}`);
    return { signalId: res.body.signalId, src, ackAt: Date.now(), api };
  }

  /** Which worker settled which signal, from their own logs ('signal routed'). */
  function settlements(): Map<string, Array<{ worker: string; status: string }>> {
    const out = new Map<string, Array<{ worker: string; status: string }>>();
    for (const w of workers) {
      for (const line of w.json()) {
        if (line.msg !== 'signal routed') continue;
        const id = line.signalId as string;
        out.set(id, [...(out.get(id) ?? []), { worker: w.name, status: line.status as string }]);
      }
    }
    return out;
  }

  async function waitSettled(ids: string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [{ open }] = await adminSql<{ open: number }>(
        db,
        `SELECT count(*)::int AS open FROM signals WHERE id = ANY($1::uuid[]) AND status <> ALL($2::text[])`,
        [ids, TERMINAL],
      );
      if (open === 0) return;
      if (Date.now() > deadline) {
        const stuck = await adminSql(db, `SELECT id, status, error FROM signals WHERE id = ANY($1::uuid[]) AND status <> ALL($2::text[]) LIMIT 5`, [
          ids,
          TERMINAL,
        ]);
        throw new Error(`${open} signals did not settle in ${timeoutMs} ms, e.g. ${JSON.stringify(stuck)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Sends one signal at a time (round-robin over the api processes) until `done()` holds. */
  async function sendUntil(src: StreamSource, done: (sentSoFar: Sent[]) => boolean, what: string, max = 150): Promise<Sent[]> {
    const out: Sent[] = [];
    for (let i = 0; !done(out); i++) {
      if (i >= max)
        throw new Error(
          `${what}: not reached after ${max} signals; settlements: ${JSON.stringify([...settlements()].filter(([id]) => out.some((s) => s.signalId === id)))}`,
        );
      out.push(await send(src, i % 2 === 0 ? 'buy' : 'sell'));
      await waitSettled([out[out.length - 1].signalId], 30_000);
    }
    return out;
  }

  function liveWorkers(): SwitchyardProcess[] {
    return workers.filter((w) => w.running);
  }

  function workersThatSettled(ids: Set<string>, status: string): Set<string> {
    const names = new Set<string>();
    for (const [id, list] of settlements()) if (ids.has(id)) for (const s of list) if (s.status === status) names.add(s.worker);
    return names;
  }

  // ---------------------------------------------------------------- the stream

  it('takes a round-robin stream over three api processes, with concurrent duplicate deliveries, while a worker is SIGKILLed and replaced', async () => {
    for (let w = 0; w < 3; w++) {
      const ws = await workspace(`stream-${w}`);
      const [a, b] = [await connection(ws, 'alpaca'), await connection(ws, 'binance')];
      const [s1, s2] = [await source(ws), await source(ws)];
      // s1 fans out to Alpaca and Binance; s2 also trades on the same Alpaca connection, so that
      // connection's order spans two sources.
      stream.push({
        name: `ws${w}-s1`,
        ws,
        source: s1,
        ticker: 'BTCUSD',
        routes: [await route(ws, s1, a, '1', { BTCUSD: 'BTC/USD' }), await route(ws, s1, b, '0.001', { BTCUSD: 'BTCUSDT' })],
      });
      stream.push({ name: `ws${w}-s2`, ws, source: s2, ticker: 'AAPL', routes: [await route(ws, s2, a, '1')] });
    }

    const perSource = Math.ceil(SIGNALS / stream.length);
    const total = perSource * stream.length;
    let count = 0;
    let replacement: Promise<SwitchyardProcess> | undefined;
    const started = Date.now();
    await Promise.all(
      stream.map(async (src) => {
        for (let k = 0; k < perSource; k++) {
          sent.push(await send(src, k % 2 === 0 ? 'buy' : 'sell', { duplicate: k % DUP_EVERY === 3 }));
          count++;
          if (!killed && count >= total * 0.3) {
            killed = workers[0];
            killed.kill('SIGKILL'); // mid-stream, with jobs in hand
            report.killedAtSignal = count;
          }
          if (killed && !replacement && count >= total * 0.5) {
            replacement = startWorkerProcess(snapshot, 'worker-3', env);
            report.replacementAtSignal = count;
          }
        }
      }),
    );
    report.streamSeconds = (Date.now() - started) / 1000;
    report.signals = sent.length;
    workers.push(await replacement!);

    // PgBouncer multiplexed six processes' pools (10 each) onto a few server connections per role.
    const servers = await adminSql<{ usename: string; n: number }>(
      db,
      `SELECT usename, count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 GROUP BY 1`,
      [db.name],
    );
    report.serverConnections = Object.fromEntries(servers.map((s) => [s.usename, s.n]));
    for (const s of servers) if (s.usename === DB_ROLES.api || s.usename === DB_ROLES.worker) expect(s.n).toBeLessThanOrEqual(SERVER_POOL);

    const settleStart = Date.now();
    await waitSettled(
      sent.map((s) => s.signalId),
      180_000,
    );
    report.settleSeconds = (Date.now() - settleStart) / 1000;

    expect(await killed!.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(new Set(sent.filter((s) => s.api >= 0).map((s) => s.api))).toEqual(new Set([0, 1, 2]));
  }, 600_000);

  it('answers concurrent deliveries of one webhook-id on different api processes with one signal', () => {
    const dups = sent.filter((s) => s.deliveries);
    expect(dups.length).toBeGreaterThan(0);
    for (const d of dups) {
      expect(d.deliveries!.map((r) => r.status)).toEqual([202, 202, 202]);
      expect(new Set(d.deliveries!.map((r) => r.body.signalId))).toEqual(new Set([d.signalId]));
      expect(d.deliveries!.filter((r) => r.body.duplicate === false)).toHaveLength(1);
    }
    expect(new Set(sent.map((s) => s.signalId)).size).toBe(sent.length);
    report.duplicateGroups = dups.length;
  });

  it('places exactly one order per (signal, route) at the brokers, SIGKILLed jobs included', async () => {
    const expected = new Map<string, string>(); // client order id -> broker api key
    for (const s of sent) for (const r of s.src.routes) expected.set(clientOrderId(s.signalId, r.id), r.connection.apiKey);
    const keys = new Set([...expected.values()]);

    const atAlpaca = alpaca.orders.filter((o) => keys.has(o.apiKey)).map((o) => o.client_order_id);
    const atBinance = [...keys].flatMap((k) => binance.orders(k).map((o) => o.clientOrderId));
    const placed = [...atAlpaca, ...atBinance];
    expect(placed.length).toBe(expected.size);
    expect(new Set(placed)).toEqual(new Set(expected.keys()));
    // Not even a refused second attempt: one order submission per client order id.
    const submissions = [
      ...alpaca.requests.filter((r) => r.method === 'POST' && r.path === '/v2/orders').map((r) => JSON.parse(r.body).client_order_id as string),
      ...binance.received('POST', '/api/v3/order').map((r) => new URLSearchParams(r.body).get('newClientOrderId') ?? r.query.get('newClientOrderId')),
    ].filter((id): id is string => id !== null && expected.has(id));
    expect(submissions.length).toBe(expected.size);

    const rows = await adminSql<{ status: string; n: number }>(
      db,
      `SELECT status, count(*)::int AS n FROM orders WHERE signal_id = ANY($1::uuid[]) GROUP BY 1`,
      [sent.map((s) => s.signalId)],
    );
    expect(Object.fromEntries(rows.map((r) => [r.status, r.n]))).toEqual({ filled: expected.size });
    const signals = await adminSql<{ status: string; n: number }>(db, `SELECT status, count(*)::int AS n FROM signals WHERE id = ANY($1::uuid[]) GROUP BY 1`, [
      sent.map((s) => s.signalId),
    ]);
    expect(Object.fromEntries(signals.map((r) => [r.status, r.n]))).toEqual({ routed: sent.length });
    report.orders = expected.size;
  });

  it('lost nothing when a worker was SIGKILLed mid-stream: its in-flight jobs were recovered by the others', async () => {
    const jobs = await Promise.all(sent.map((s) => queue!.getJob(s.signalId)));
    const recovered = jobs.filter((j) => j && j.stalledCounter > 0);
    report.recoveredJobs = recovered.length;
    expect(recovered.length).toBeGreaterThan(0);
    // Every job of the stream completed (none dead-lettered), recovered ones included.
    const states = await Promise.all(jobs.map((j) => j!.getState()));
    expect(states.filter((s) => s !== 'completed')).toEqual([]);
    const recoveredSignals = await adminSql<{ status: string }>(db, 'SELECT status FROM signals WHERE id = ANY($1::uuid[])', [recovered.map((j) => j!.id)]);
    expect(recoveredSignals.every((s) => s.status === 'routed')).toBe(true);
  });

  it('keeps every connection’s orders in signal order across workers', async () => {
    const rows = await adminSql<{ client_order_id: string; signal_seq: string; connection_id: string }>(
      db,
      'SELECT client_order_id, signal_seq::text, connection_id FROM orders WHERE signal_id = ANY($1::uuid[])',
      [sent.map((s) => s.signalId)],
    );
    const seq = new Map(rows.map((r) => [r.client_order_id, BigInt(r.signal_seq)]));
    const connections = new Map<string, Connection>();
    for (const s of stream) for (const r of s.routes) connections.set(r.connection.id, r.connection);
    const violations: string[] = [];
    for (const conn of connections.values()) {
      const arrivals =
        conn.broker === 'alpaca'
          ? alpaca.orders.filter((o) => o.apiKey === conn.apiKey).map((o) => o.client_order_id)
          : binance.orders(conn.apiKey).map((o) => o.clientOrderId);
      expect(arrivals.length).toBeGreaterThan(0);
      for (let i = 1; i < arrivals.length; i++) {
        if (seq.get(arrivals[i])! < seq.get(arrivals[i - 1])!)
          violations.push(`${conn.broker} ${conn.id}: seq ${seq.get(arrivals[i - 1])} then ${seq.get(arrivals[i])}`);
      }
    }
    expect(violations).toEqual([]);
  });

  // ---------------------------------------------------------------- kill switch

  it('a kill switch engaged through one api process stops new orders on every worker within one second', async () => {
    const k = await single('kill');
    const key = k.routes[0].connection.apiKey;
    const live = liveWorkers();
    expect(live).toHaveLength(3);
    // Every worker has routed this workspace before the switch.
    await sendUntil(k, (warm) => workersThatSettled(ids(warm), 'routed').size === live.length, 'every worker routes the workspace');

    // A burst in flight, and the switch thrown through api-1 in the middle of it.
    const burst = Array.from({ length: 24 }, (_, i) => send(k, i % 2 === 0 ? 'buy' : 'sell'));
    await new Promise((r) => setTimeout(r, 40));
    await expectOk(
      http(apis[1].url, 'PUT', '/v1/workspace/kill-switch', { token: k.ws.token, body: { engaged: true, reason: 'scale test' } }),
      200,
      'kill switch',
    );
    const engagedAt = Date.now();
    const during = await Promise.all(burst);
    const after = during.filter((s) => s.ackAt > engagedAt);
    after.push(
      ...(await sendUntil(k, (more) => workersThatSettled(ids([...after, ...more]), 'blocked').size === live.length, 'every worker blocks the workspace')),
    );
    await waitSettled(
      [...during, ...after].map((s) => s.signalId),
      120_000,
    );

    const arrivals = alpaca.orders.filter((o) => o.apiKey === key).map((o) => o.arrivedAtMs);
    report.killSwitch = {
      lastOrderAfterEngageMs: Math.round(Math.max(...arrivals) - engagedAt),
      blockedAfter: after.length,
      burstPlacedBeforeSwitch: during.length - after.length,
    };
    expect(Math.max(...arrivals)).toBeLessThanOrEqual(engagedAt + 1000);
    expect(workersThatSettled(ids(after), 'blocked')).toEqual(new Set(live.map((w) => w.name)));
    const rows = await adminSql<{ status: string; reason: string; client_order_id: string }>(
      db,
      'SELECT status, reason, client_order_id FROM orders WHERE signal_id = ANY($1::uuid[])',
      [after.map((s) => s.signalId)],
    );
    expect(rows).toHaveLength(after.length);
    for (const r of rows) {
      expect(r.status).toBe('blocked');
      expect(r.reason).toMatch(/^workspace_kill_switch/);
    }
    const placedIds = new Set(alpaca.orders.map((o) => o.client_order_id));
    expect(rows.filter((r) => placedIds.has(r.client_order_id))).toEqual([]);
  }, 240_000);

  // ---------------------------------------------------------------- revoke

  it('a revoke through one api process stops every worker from using the credential at once, cached data keys included', async () => {
    const r = await single('revoke');
    const conn = r.routes[0].connection;
    const live = liveWorkers();
    // Every worker decrypts this credential (and caches its data key, TTL 60 s) before the revoke.
    await sendUntil(r, (warm) => workersThatSettled(ids(warm), 'routed').size === live.length, 'every worker opens the credential');

    const burst = Array.from({ length: 24 }, (_, i) => send(r, i % 2 === 0 ? 'buy' : 'sell'));
    await new Promise((res) => setTimeout(res, 40));
    await expectOk(http(apis[2].url, 'DELETE', `/v1/connections/${conn.id}`, { token: r.ws.token }), 200, 'revoke');
    const revokedAt = Date.now();
    const during = await Promise.all(burst);
    const after = during.filter((s) => s.ackAt > revokedAt);
    after.push(
      ...(await sendUntil(
        r,
        (more) => workersThatSettled(ids([...after, ...more]), 'blocked').size === live.length,
        'every worker meets the revoked connection',
      )),
    );
    await waitSettled(
      [...during, ...after].map((s) => s.signalId),
      120_000,
    );

    // Anything sent to the broker with this key: orders, lookups, account reads.
    const uses = alpaca.requests.filter((q) => q.headers['apca-api-key-id'] === conn.apiKey).map((q) => q.arrivedAtMs);
    report.revoke = { lastUseAfterRevokeMs: Math.round(Math.max(...uses) - revokedAt), blockedAfter: after.length };
    expect(Math.max(...uses)).toBeLessThanOrEqual(revokedAt + 1000);
    expect(workersThatSettled(ids(after), 'blocked')).toEqual(new Set(live.map((w) => w.name)));
    const rows = await adminSql<{ status: string; reason: string }>(db, 'SELECT status, reason FROM orders WHERE signal_id = ANY($1::uuid[])', [
      after.map((s) => s.signalId),
    ]);
    expect(rows).toHaveLength(after.length);
    for (const row of rows) {
      expect(row.status).toBe('blocked');
      expect(row.reason).toMatch(/^connection_revoked/);
    }
    // Crypto-shredded: nothing left that a cached or fresh data key could open.
    expect(await adminSql(db, 'SELECT 1 FROM credential_versions WHERE connection_id = $1', [conn.id])).toEqual([]);
    const outOfContext = await adminSql(db, `SELECT 1 FROM audit_events WHERE resource_id = $1 AND action = 'credential.read.out_of_context'`, [conn.id]);
    report.revoke = { ...(report.revoke as object), outOfContextRefusals: outOfContext.length };
  }, 240_000);
});

function ids(list: Sent[]): Set<string> {
  return new Set(list.map((s) => s.signalId));
}

async function deleteKeys(redis: IORedis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}
