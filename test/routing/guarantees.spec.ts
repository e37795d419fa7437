import { Job } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { http } from '../support/api-app';
import { startPagerDutyReceiver, PagerReceiver } from '../support/pager-receivers';
import { APP_CONFIG, AppConfig } from '../../src/config/app-config';
import { TenantDb } from '../../src/database/tenant-db';
import { QueueConnection } from '../../src/queue/queue-connection';
import { CredentialOpener, OutOfContextError } from '../../src/routing/credential-opener';
import { SignalRouter } from '../../src/routing/signal-router';
import { startWorker } from '../support/worker-app';
import { RoutingWorld } from './routing-harness';

const PD_KEY = 'R0UTINGKEY0123456789ABCDEFGHIJKL';

describe('routing guarantees', () => {
  let world: RoutingWorld;
  let pagerDuty: PagerReceiver;

  beforeAll(async () => {
    pagerDuty = await startPagerDutyReceiver();
    world = await RoutingWorld.start('postgres', { PAGER_PAGERDUTY_ROUTING_KEY: PD_KEY, PAGER_PAGERDUTY_URL: pagerDuty.url });
  });
  afterAll(async () => {
    await world?.stop();
    await pagerDuty?.close();
  });

  async function alpacaSetup(sizing = { mode: 'multiplier', value: '1' }) {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'alpaca');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing });
    return { ws, connection, source, apiKey: world.keys.get(connection)!.apiKey };
  }

  const ordersAt = (apiKey: string) => world.alpaca.orders.filter((o) => o.apiKey === apiKey);

  it('places exactly one order when the broker accepts and the answer is lost (timeout), then retries', async () => {
    const { ws, source, apiKey } = await alpacaSetup();
    world.alpaca.injectFaults('acceptThenHang');
    const signalId = await world.send(source, { ticker: 'AAPL', action: 'buy', quantity: '2', price: '100' });
    const result = await world.settled(ws.token, signalId);
    expect(result.status).toBe('routed');
    expect(result.orders[0].attempts).toBeGreaterThanOrEqual(2);
    expect(ordersAt(apiKey)).toHaveLength(1);
    expect(ordersAt(apiKey)[0].client_order_id).toBe(result.orders[0].clientOrderId);
  });

  it('places exactly one order when the same job runs twice at once (stalled-lock recovery)', async () => {
    const { ws, source, apiKey } = await alpacaSetup();
    await world.worker.close(); // hold the queue so this test drives the job itself
    const driver = await startWorker(world.db, world.env, { loops: false });
    try {
      const signalId = await world.send(source, { ticker: 'MSFT', action: 'buy', quantity: '1', price: '300' });
      const router = driver.app.get(SignalRouter);
      const job = { id: signalId, data: { workspaceId: ws.id, signalId }, attemptsMade: 0, opts: { attempts: 6 } } as unknown as Job<
        any,
        unknown,
        'route-signal'
      >;
      const runs = await Promise.allSettled([router.handle(job), router.handle(job)]);
      expect(runs.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
      expect(ordersAt(apiKey)).toHaveLength(1);
      const orders = await world.sql('SELECT status FROM orders WHERE signal_id = $1', [signalId]);
      expect(orders).toEqual([{ status: 'filled' }]);
    } finally {
      await driver.close();
      world.worker = await startWorker(world.db, world.env);
    }
  });

  it('executes a close then a reverse sent 50 ms apart in that order at the broker', async () => {
    const { ws, source, apiKey } = await alpacaSetup({ mode: 'fixed', value: '1' });
    // The first order meets a 500 and waits for its retry: without per-connection ordering the second would overtake it.
    world.alpaca.injectFaults('error500');
    const close = await world.send(source, { ticker: 'TSLA', action: 'sell', price: '200' });
    await new Promise((r) => setTimeout(r, 50));
    const reverse = await world.send(source, { ticker: 'TSLA', action: 'buy', price: '200' });
    const [a, b] = [await world.settled(ws.token, close), await world.settled(ws.token, reverse)];
    expect([a.status, b.status]).toEqual(['routed', 'routed']);
    const atBroker = ordersAt(apiKey)
      .sort((x, y) => x.arrivedAtMs - y.arrivedAtMs)
      .map((o) => o.client_order_id);
    expect(atBroker).toEqual([a.orders[0].clientOrderId, b.orders[0].clientOrderId]);
  });

  it('keeps signal order even when the earlier signal has not been planned yet (its job was lost and comes back later)', async () => {
    const { ws, source, apiKey } = await alpacaSetup({ mode: 'fixed', value: '1' });
    await world.worker.close();
    const queues = world.api.app.get(QueueConnection);
    const queue = await queues.queue('route-signal');
    try {
      const first = await world.send(source, { ticker: 'AMZN', action: 'sell', price: '100' });
      const second = await world.send(source, { ticker: 'AMZN', action: 'buy', price: '100' });
      await queue.remove(first); // the earlier signal's job is gone for now; the later one runs alone
      world.worker = await startWorker(world.db, world.env);
      await new Promise((r) => setTimeout(r, 1500));
      expect(ordersAt(apiKey)).toHaveLength(0); // the later signal waits for the earlier one
      await queue.add('route-signal', { workspaceId: ws.id, signalId: first }, { jobId: first }); // as the recovery sweep does
      const [a, b] = [await world.settled(ws.token, first), await world.settled(ws.token, second)];
      expect([a.status, b.status]).toEqual(['routed', 'routed']);
      const atBroker = ordersAt(apiKey)
        .sort((x, y) => x.arrivedAtMs - y.arrivedAtMs)
        .map((o) => o.client_order_id);
      expect(atBroker).toEqual([a.orders[0].clientOrderId, b.orders[0].clientOrderId]);
    } finally {
      if (!world.worker) world.worker = await startWorker(world.db, world.env);
    }
  });

  it('blocks every order after the workspace kill switch took effect, mid-stream', async () => {
    const { ws, source, apiKey } = await alpacaSetup();
    const before = await Promise.all([1, 2, 3].map((i) => world.send(source, { ticker: 'AMD', action: 'buy', quantity: String(i), price: '10' })));
    for (const id of before) await world.settled(ws.token, id);
    const engaged = await http(world.api.url, 'PUT', '/v1/workspace/kill-switch', { token: ws.token, body: { engaged: true, reason: 'test' } });
    expect(engaged.status).toBe(200);
    const after = await Promise.all([4, 5, 6].map((i) => world.send(source, { ticker: 'AMD', action: 'buy', quantity: String(i), price: '10' })));
    for (const id of after) {
      const r = await world.settled(ws.token, id);
      expect(r.status).toBe('blocked');
      expect(r.orders[0].reason).toMatch(/^workspace_kill_switch/);
    }
    expect(ordersAt(apiKey)).toHaveLength(3);
    // The blocked claims sent their go path ahead of the decision and rolled it back: no use, no refusal.
    const events = await world.sql(`SELECT action FROM audit_events WHERE workspace_id = $1 AND action LIKE 'credential.%'`, [ws.id]);
    expect(events.filter((e) => e.action === 'credential.use')).toHaveLength(3);
    expect(events.filter((e) => e.action === 'credential.read.out_of_context')).toHaveLength(0);
  });

  it('blocks a live connection until the owner enables live trading', async () => {
    const ws = await world.workspace();
    const live = await world.connect(ws.token, 'alpaca', 'live');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: live, sizing: { mode: 'fixed', value: '1' } });
    const blocked = await world.settled(ws.token, await world.send(source, { ticker: 'IBM', action: 'buy', price: '100' }));
    expect(blocked.status).toBe('blocked');
    expect(blocked.orders[0].reason).toMatch(/^live_trading_disabled/);
    expect(ordersAt(world.keys.get(live)!.apiKey)).toHaveLength(0);

    await http(world.api.url, 'PUT', '/v1/workspace/live-trading', { token: ws.token, body: { enabled: true, reason: 'ready' } });
    const routed = await world.settled(ws.token, await world.send(source, { ticker: 'IBM', action: 'buy', price: '100' }));
    expect(routed.status).toBe('routed');
  });

  it('claims with the current credential when it was rotated between the plan and the claim', async () => {
    const { ws, connection, source, apiKey } = await alpacaSetup();
    const lock = new Client({ connectionString: world.db.adminUrl });
    await lock.connect();
    try {
      // Holding the connection's lock stops the worker after its plan read the routes (credential version 1).
      await lock.query('BEGIN');
      await lock.query('SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))', [connection]);
      const signalId = await world.send(source, { ticker: 'TSLA', action: 'buy', quantity: '2', price: '10' });
      const waiting = async () =>
        (
          await world.sql(`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                           WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted`)
        )[0].n > 0;
      const deadline = Date.now() + 10_000;
      while (!(await waiting())) {
        if (Date.now() > deadline) throw new Error('the worker never waited for the connection lock');
        await new Promise((r) => setTimeout(r, 20));
      }
      const rotatedKey = { apiKey: `PKROT${randomUUID().slice(0, 8).toUpperCase()}`, apiSecret: `rotated-${randomUUID()}` };
      world.alpaca.addKey({ ...rotatedKey, equity: 100_000 } as never);
      const rotated = await http(world.api.url, 'POST', `/v1/connections/${connection}/rotate`, { token: ws.token, body: { credentials: rotatedKey } });
      expect(rotated.status).toBe(200);
      await lock.query('COMMIT');

      const result = await world.settled(ws.token, signalId);
      expect(result.status).toBe('routed');
      expect(result.orders[0].attempts).toBe(1);
      expect(ordersAt(rotatedKey.apiKey)).toHaveLength(1);
      expect(ordersAt(apiKey)).toHaveLength(0);
      const uses = await world.sql(`SELECT metadata FROM audit_events WHERE workspace_id = $1 AND action = 'credential.use'`, [ws.id]);
      expect(uses.map((u) => u.metadata.credentialVersion)).toEqual([2]);
      // Claimed in its first run: the go path sent ahead for version 1 was rolled back, not failed and retried.
      const failedRuns = world.worker.logs.lines.map((l) => JSON.parse(l)).filter((l) => l.job === signalId && l.msg === 'job failed');
      expect(failedRuns).toEqual([]);
    } finally {
      await lock.end();
    }
  });

  it('refuses to open a credential outside an active routing context, audits it once and pages once', async () => {
    const { ws, connection } = await alpacaSetup();
    const opener = world.worker.app.get(CredentialOpener);
    const db = world.worker.app.get(TenantDb);
    const forged = { workspaceId: ws.id, jobId: 'forged-job', orderId: randomUUID(), connectionId: connection };
    await expect(db.runRaw(ws.id, (client) => opener.authorize(client, forged))).rejects.toBeInstanceOf(OutOfContextError);

    const events = await world.sql(`SELECT action, actor_type FROM audit_events WHERE workspace_id = $1 AND action LIKE 'credential.%'`, [ws.id]);
    expect(events.filter((e) => e.action === 'credential.read.out_of_context')).toEqual([{ action: 'credential.read.out_of_context', actor_type: 'worker' }]);
    expect(events.filter((e) => e.action === 'credential.use')).toHaveLength(0);
    const pages = await pagerDuty.waitForAccepted(1, 10_000);
    const trigger = pages
      .map((p) => p.json as any)
      .find((j) => j.payload?.custom_details?.auditAction === 'credential.read.out_of_context' || j.payload?.summary?.includes(connection));
    expect(trigger).toMatchObject({ routing_key: PD_KEY, event_action: 'trigger' });
    await new Promise((r) => setTimeout(r, 500));
    expect(pagerDuty.accepted().filter((p) => JSON.stringify(p.json).includes(connection))).toHaveLength(1);
  });

  // The refusal is recorded in a transaction of its own while the refused caller still holds its pooled connection.
  it('records every refusal even when refused reads hold every pooled connection at once', async () => {
    const { ws, connection } = await alpacaSetup();
    const opener = world.worker.app.get(CredentialOpener);
    const db = world.worker.app.get(TenantDb);
    const { poolSize } = world.worker.app.get<AppConfig>(APP_CONFIG).database;
    const refused = Array.from({ length: poolSize }, () =>
      db.runRaw(ws.id, (client) => opener.authorize(client, { workspaceId: ws.id, jobId: 'forged-job', orderId: randomUUID(), connectionId: connection })),
    );
    let timer: NodeJS.Timeout | undefined;
    const outcomes = await Promise.race([
      Promise.allSettled(refused),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the refusals waited on their own pool')), 15_000))),
    ]).finally(() => clearTimeout(timer));

    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason : o.value))).toEqual(Array.from({ length: poolSize }, () => expect.any(OutOfContextError)));
    const events = await world.sql(`SELECT count(*)::int AS n FROM audit_events WHERE workspace_id = $1 AND action = 'credential.read.out_of_context'`, [
      ws.id,
    ]);
    expect(events[0].n).toBe(poolSize);
  });

  it('lets no queued signal reach the broker once its connection is revoked', async () => {
    const { ws, connection, source, apiKey } = await alpacaSetup();
    await world.worker.close(); // signals queue up while nobody routes
    try {
      const queued = await Promise.all([1, 2, 3, 4].map((i) => world.send(source, { ticker: 'NVDA', action: 'buy', quantity: String(i), price: '10' })));
      const revoked = await http(world.api.url, 'DELETE', `/v1/connections/${connection}`, { token: ws.token });
      expect(revoked.status).toBe(200);
      world.worker = await startWorker(world.db, world.env);
      for (const id of queued) {
        const r = await world.settled(ws.token, id);
        expect(r.status).toBe('blocked');
        expect(r.orders[0].reason).toMatch(/^connection_revoked/);
      }
      expect(ordersAt(apiKey)).toHaveLength(0);
    } catch (err) {
      world.worker = await startWorker(world.db, world.env);
      throw err;
    }
  });

  it('fails an order whose broker keeps failing after all retries, settles the signal and pages on-call', async () => {
    const { ws, source, connection } = await alpacaSetup();
    world.alpaca.injectFaults('error500', 6);
    const signalId = await world.send(source, { ticker: 'NFLX', action: 'buy', quantity: '1', price: '10' });
    const result = await world.settled(ws.token, signalId, 30_000);
    expect(result.status).toBe('failed');
    expect(result.orders[0]).toMatchObject({ status: 'failed', attempts: 6 });
    expect(result.orders[0].reason).toMatch(/^retries exhausted/);
    const deadline = Date.now() + 10_000;
    let page: any;
    while (!page && Date.now() < deadline) {
      page = pagerDuty
        .accepted()
        .map((p) => p.json as any)
        .find((j) => j.payload?.summary?.includes(result.orders[0].clientOrderId));
      if (!page) await new Promise((r) => setTimeout(r, 100));
    }
    expect(page).toMatchObject({ event_action: 'trigger', payload: { severity: 'error' } });
    expect(JSON.stringify(page)).not.toContain(world.keys.get(connection)!.apiSecret);
  }, 60_000);

  it('writes credential.use for every decrypt, with the job and order in context', async () => {
    const { ws, source } = await alpacaSetup();
    const signalId = await world.send(source, { ticker: 'ORCL', action: 'buy', quantity: '1', price: '10' });
    const result = await world.settled(ws.token, signalId);
    const uses = await world.sql(`SELECT actor_type, request_id, metadata FROM audit_events WHERE workspace_id = $1 AND action = 'credential.use'`, [ws.id]);
    expect(uses).toHaveLength(1);
    expect(uses[0]).toMatchObject({ actor_type: 'worker', request_id: signalId });
    expect(uses[0].metadata).toMatchObject({ orderId: result.orders[0].id });
  });
});
