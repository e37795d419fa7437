import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { http } from '../support/api-app';
import { TenantDb } from '../../src/database/tenant-db';
import { CredentialOpener, OutOfContextError } from '../../src/routing/credential-opener';
import { FlattenRecovery } from '../../src/routing/flatten-recovery';
import { ConnectionFlattener, flattenClientOrderId } from '../../src/routing/connection-flattener';
import { PositionsWorld } from './positions-world';

/** Flatten: cancel the open orders, close the positions at the broker, audited with the reason; exactly once. */
describe('flatten', () => {
  let world: PositionsWorld;
  beforeAll(async () => {
    world = await PositionsWorld.start('redis');
  });
  afterAll(async () => {
    await world?.stop();
  });

  /** An Alpaca connection holding 10 AAPL (a market fill) and a resting MSFT limit buy. */
  async function alpacaWithOrderAndPosition(token: string) {
    const { routing } = world;
    const connection = await routing.connect(token, 'alpaca');
    routing.alpaca.setPrice('AAPL', 100);
    const source = await routing.source(token);
    await routing.route(token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '10' } });
    expect((await routing.settled(token, await routing.send(source, { ticker: 'AAPL', action: 'buy' }))).status).toBe('routed');
    const resting = await routing.settled(token, await routing.send(source, { ticker: 'MSFT', action: 'buy', orderType: 'limit', limitPrice: '50' }));
    expect(resting.orders[0].status).toBe('accepted');
    const key = routing.keys.get(connection)!.apiKey;
    expect(routing.alpaca.positionOf(key, 'AAPL')).toBe(10);
    return { connection, key, restingOrder: resting.orders[0] };
  }

  async function flattenDone(token: string, id: string, timeoutMs = 20_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await http(world.routing.api.url, 'GET', `/v1/flattens/${id}`, { token });
      expect(res.status).toBe(200);
      if (res.body.status === 'done' || res.body.status === 'failed') return res.body;
      if (Date.now() > deadline) throw new Error(`flatten ${id} never finished: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('cancels the open order and closes the position with a market order, through an engaged kill switch, audited with the reason', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const { connection, key, restingOrder } = await alpacaWithOrderAndPosition(ws.token);
    const kill = await http(routing.api.url, 'PUT', '/v1/workspace/kill-switch', { token: ws.token, body: { engaged: true, reason: 'stop everything' } });
    expect(kill.status).toBe(200);

    const res = await http(routing.api.url, 'POST', `/v1/connections/${connection}/flatten`, { token: ws.token, body: { reason: 'strategy misbehaving' } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      id: expect.any(String),
      scope: 'connection',
      status: 'pending',
      connections: [{ connectionId: connection, status: 'pending' }],
    });

    const done = await flattenDone(ws.token, res.body.id);
    expect(done).toMatchObject({ status: 'done', reason: 'strategy misbehaving', scope: 'connection' });
    const clientOrderId = flattenClientOrderId(res.body.id, connection, 'AAPL');
    expect(done.connections).toEqual([
      expect.objectContaining({
        connectionId: connection,
        status: 'done',
        canceledOrders: 1,
        error: null,
        orders: [
          expect.objectContaining({ symbol: 'AAPL', side: 'sell', quantity: '10', clientOrderId, status: 'filled', filledQuantity: '10', averagePrice: '100' }),
        ],
      }),
    ]);
    // At the broker: the resting order canceled, the position gone, one closing market order.
    expect(routing.alpaca.ordersByClientId.get(restingOrder.clientOrderId)?.status).toBe('canceled');
    expect(routing.alpaca.positionOf(key, 'AAPL')).toBe(0);
    expect(routing.alpaca.orders.filter((o) => o.client_order_id === clientOrderId)).toEqual([
      expect.objectContaining({ side: 'sell', type: 'market', qty: '10' }),
    ]);

    // Our record of the resting order follows the broker (the lifecycle poller sees it canceled).
    const deadline = Date.now() + 10_000;
    for (;;) {
      const order = await http(routing.api.url, 'GET', `/v1/orders/${restingOrder.id}`, { token: ws.token });
      if (order.body.status === 'canceled') break;
      if (Date.now() > deadline) throw new Error(`order never seen canceled: ${order.body.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const events = await routing.sql<{ action: string; reason: string | null; metadata: any; actor_type: string }>(
      `SELECT action, reason, metadata, actor_type FROM audit_events WHERE workspace_id = $1 AND action IN ('flatten.request', 'flatten.connection') ORDER BY id`,
      [ws.id],
    );
    expect(events).toEqual([
      {
        action: 'flatten.request',
        reason: 'strategy misbehaving',
        actor_type: 'token',
        metadata: { flattenId: res.body.id, scope: 'connection', connections: 1 },
      },
      {
        action: 'flatten.connection',
        reason: null,
        actor_type: 'worker',
        metadata: { flattenId: res.body.id, status: 'done', canceledOrders: 1, closedPositions: 1 },
      },
    ]);
    const uses = await world.credentialUses(connection, 'flatten');
    expect(uses.map((u) => u.metadata)).toEqual([{ purpose: 'flatten', flattenId: res.body.id, credentialVersion: 1 }]);

    // The job carried ids only; no secret reached a log line of either process.
    const redis = new IORedis(routing.env.REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue('flatten-connection', { connection: redis, prefix: routing.env.QUEUE_PREFIX });
    try {
      const job = await queue.getJob(`flatten-${res.body.id}-${connection}`);
      expect(job?.data).toEqual({ workspaceId: ws.id, flattenId: res.body.id, connectionId: connection });
    } finally {
      await queue.close();
      await redis.quit();
    }
    const secret = routing.keys.get(connection)!.apiSecret;
    expect([...routing.api.logs.lines, ...routing.worker.logs.lines].some((l) => l.includes(secret))).toBe(false);
    expect((await http(routing.api.url, 'GET', `/v1/connections/${connection}/positions`, { token: ws.token })).body.positions).toEqual([]);
    for (const table of ['connection_snapshots', 'flattens', 'flatten_connections', 'flatten_orders']) {
      const rows = await routing.sql<{ row: string }>(`SELECT t::text AS row FROM ${table} t`);
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.some((r) => r.row.includes(secret) || r.row.includes(key))).toBe(false);
    }
  });

  it('a close whose answer was lost is not sent twice when the job is retried: the retry reads it back by its client order id', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const { connection, key } = await alpacaWithOrderAndPosition(ws.token);
    // The closing order reaches the broker and fills, but its answer never comes back (timeout: the job is retried).
    routing.alpaca.injectFaults('acceptThenHang', 1, { method: 'POST', path: /^\/v2\/orders$/ });

    const res = await http(routing.api.url, 'POST', `/v1/connections/${connection}/flatten`, { token: ws.token, body: { reason: 'retry test' } });
    expect(res.status).toBe(202);
    const done = await flattenDone(ws.token, res.body.id);
    const clientOrderId = flattenClientOrderId(res.body.id, connection, 'AAPL');
    expect(done.connections[0]).toMatchObject({
      status: 'done',
      attempts: 2,
      canceledOrders: 1,
      orders: [expect.objectContaining({ clientOrderId, status: 'filled', filledQuantity: '10' })],
    });
    expect(routing.alpaca.orders.filter((o) => o.client_order_id === clientOrderId)).toHaveLength(1);
    expect(routing.alpaca.positionOf(key, 'AAPL')).toBe(0);

    // Redelivered once more after it finished (a stalled job run again): nothing is sent, nothing is opened.
    const uses = (await world.credentialUses(connection, 'flatten')).length;
    const handler = routing.worker.app.get(ConnectionFlattener);
    const again = await handler.handle({
      id: `flatten-${res.body.id}-${connection}`,
      data: { workspaceId: ws.id, flattenId: res.body.id, connectionId: connection },
      attemptsMade: 2,
      opts: { attempts: 6 },
    } as never);
    expect(again).toEqual({ skipped: true });
    expect(routing.alpaca.orders.filter((o) => o.client_order_id === clientOrderId)).toHaveLength(1);
    expect(await world.credentialUses(connection, 'flatten')).toHaveLength(uses);
  });

  it('two flattens of one connection at once close its position once (the second finds it flat), never past flat', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const { connection, key } = await alpacaWithOrderAndPosition(ws.token);
    const ask = (reason: string) => http(routing.api.url, 'POST', `/v1/connections/${connection}/flatten`, { token: ws.token, body: { reason } });
    const [a, b] = await Promise.all([ask('loss limit'), ask('window end')]);
    expect([a.status, b.status]).toEqual([202, 202]);
    const done = await Promise.all([flattenDone(ws.token, a.body.id), flattenDone(ws.token, b.body.id)]);
    expect(done.map((d) => d.status)).toEqual(['done', 'done']);
    expect(routing.alpaca.positionOf(key, 'AAPL')).toBe(0);
    const closes = routing.alpaca.orders.filter((o) => [a.body.id, b.body.id].some((id) => o.client_order_id === flattenClientOrderId(id, connection, 'AAPL')));
    expect(closes).toHaveLength(1);
    expect(done.flatMap((d) => d.connections[0].orders)).toEqual([expect.objectContaining({ symbol: 'AAPL', quantity: '10', status: 'filled' })]);
  });

  it('a worker that died after sending the close but before recording it: the redelivered job records the close, sends none', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const { connection } = await alpacaWithOrderAndPosition(ws.token);
    const res = await http(routing.api.url, 'POST', `/v1/connections/${connection}/flatten`, { token: ws.token, body: { reason: 'restart test' } });
    await flattenDone(ws.token, res.body.id);
    const clientOrderId = flattenClientOrderId(res.body.id, connection, 'AAPL');
    // Rewind our rows to the moment before the answer was recorded (the broker already has the order).
    await routing.sql(`UPDATE flatten_connections SET status = 'running' WHERE flatten_id = $1`, [res.body.id]);
    await routing.sql(
      `UPDATE flatten_orders SET status = 'pending', broker_order_id = NULL, filled_quantity = NULL, average_price = NULL WHERE flatten_id = $1`,
      [res.body.id],
    );

    const handler = routing.worker.app.get(ConnectionFlattener);
    await handler.handle({
      id: `flatten-${res.body.id}-${connection}`,
      data: { workspaceId: ws.id, flattenId: res.body.id, connectionId: connection },
      attemptsMade: 0,
      opts: { attempts: 6 },
    } as never);
    const view = await http(routing.api.url, 'GET', `/v1/flattens/${res.body.id}`, { token: ws.token });
    expect(view.body.connections[0]).toMatchObject({
      status: 'done',
      orders: [expect.objectContaining({ clientOrderId, status: 'filled', brokerOrderId: expect.any(String) })],
    });
    expect(routing.alpaca.orders.filter((o) => o.client_order_id === clientOrderId)).toHaveLength(1);
  });

  it('a workspace flatten closes the positions of every active connection (Alpaca long, paper short)', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const { connection: alpaca, key } = await alpacaWithOrderAndPosition(ws.token);
    const paper = await routing.connect(ws.token, 'paper');
    const short = await world.trade(ws.token, paper, { ticker: 'TSLA', action: 'sell', price: '200' }, '5');
    expect(short.orders[0].status).toBe('filled');
    const revoked = await routing.connect(ws.token, 'paper');
    await http(routing.api.url, 'DELETE', `/v1/connections/${revoked}`, { token: ws.token });

    const res = await http(routing.api.url, 'POST', '/v1/flatten', { token: ws.token, body: { reason: 'end of day' } });
    expect(res.status).toBe(202);
    expect(res.body.scope).toBe('workspace');
    expect(res.body.connections.map((c: any) => c.connectionId).sort()).toEqual([alpaca, paper].sort());
    const done = await flattenDone(ws.token, res.body.id);
    expect(done.status).toBe('done');
    const byConnection = new Map(done.connections.map((c: any) => [c.connectionId, c]));
    expect((byConnection.get(alpaca) as any).orders).toEqual([expect.objectContaining({ symbol: 'AAPL', side: 'sell', quantity: '10', status: 'filled' })]);
    expect((byConnection.get(paper) as any).orders).toEqual([
      expect.objectContaining({ symbol: 'TSLA', side: 'buy', quantity: '5', status: 'filled', averagePrice: '200' }),
    ]);
    expect(routing.alpaca.positionOf(key, 'AAPL')).toBe(0);
    const [paperPosition] = await routing.sql<{ quantity: string }>('SELECT quantity::text FROM paper_positions WHERE connection_id = $1 AND symbol = $2', [
      paper,
      'TSLA',
    ]);
    expect(Number(paperPosition.quantity)).toBe(0);
  });

  it('refuses: a revoked connection is 409, a viewer 403, no reason 422, another workspace 404', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const other = await routing.workspace();
    const connection = await routing.connect(ws.token, 'paper');
    const viewer = await http(routing.api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'viewer', role: 'viewer' } });
    const trader = await http(routing.api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'trader', role: 'trader' } });

    const asViewer = await http(routing.api.url, 'POST', '/v1/flatten', { token: viewer.body.token, body: { reason: 'x' } });
    expect(asViewer.status).toBe(403);
    const noReason = await http(routing.api.url, 'POST', `/v1/connections/${connection}/flatten`, { token: trader.body.token, body: {} });
    expect(noReason.status).toBe(422);
    expect(noReason.body.code).toBe('validation_failed');
    expect((await http(routing.api.url, 'POST', `/v1/connections/${connection}/flatten`, { token: other.token, body: { reason: 'x' } })).status).toBe(404);
    const asTrader = await http(routing.api.url, 'POST', `/v1/connections/${connection}/flatten`, { token: trader.body.token, body: { reason: 'trader may' } });
    expect(asTrader.status).toBe(202);
    expect((await http(routing.api.url, 'GET', `/v1/flattens/${asTrader.body.id}`, { token: other.token })).status).toBe(404);

    await http(routing.api.url, 'DELETE', `/v1/connections/${connection}`, { token: ws.token });
    const gone = await http(routing.api.url, 'POST', `/v1/connections/${connection}/flatten`, { token: ws.token, body: { reason: 'too late' } });
    expect(gone.status).toBe(409);
    expect(gone.body.code).toBe('connection_revoked');
  });

  it('a flatten or snapshot context naming nothing unfinished is refused, audited and paged, never decrypted', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const connection = await routing.connect(ws.token, 'paper');
    const opener = routing.worker.app.get(CredentialOpener);
    const db = routing.worker.app.get(TenantDb);
    const forged = (purpose: 'flatten' | 'snapshot') =>
      db.runRaw(ws.id, (client) =>
        opener.authorizeTask(client, { workspaceId: ws.id, jobId: `forged-${purpose}`, connectionId: connection, purpose, taskId: randomUUID() }),
      );
    await expect(forged('flatten')).rejects.toBeInstanceOf(OutOfContextError);
    await expect(forged('snapshot')).rejects.toBeInstanceOf(OutOfContextError);
    const refusals = await routing.sql<{ metadata: any }>(
      `SELECT metadata FROM audit_events WHERE workspace_id = $1 AND action = 'credential.read.out_of_context' ORDER BY id`,
      [ws.id],
    );
    expect(refusals.map((r) => Object.keys(r.metadata))).toEqual([['flattenId'], ['snapshotRequestId']]);
    expect(await routing.sql(`SELECT 1 FROM audit_events WHERE workspace_id = $1 AND action = 'credential.use'`, [ws.id])).toEqual([]);
    expect((await routing.sql(`SELECT rule FROM alerts WHERE workspace_id = $1`, [ws.id])).map((a: any) => a.rule)).toContain('credential.read.out_of_context');
  });

  it('a flatten job the queue gave up ends that connection failed, saying so', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const connection = await routing.connect(ws.token, 'paper');
    const res = await http(routing.api.url, 'POST', `/v1/connections/${connection}/flatten`, { token: ws.token, body: { reason: 'given up' } });
    await flattenDone(ws.token, res.body.id);
    await routing.sql(`UPDATE flatten_connections SET status = 'running' WHERE flatten_id = $1`, [res.body.id]);
    await routing.worker.app
      .get(ConnectionFlattener)
      .deadLetter({ id: 'x', data: { workspaceId: ws.id, flattenId: res.body.id, connectionId: connection }, attemptsMade: 6 }, '6 attempt(s) failed');
    const view = await http(routing.api.url, 'GET', `/v1/flattens/${res.body.id}`, { token: ws.token });
    expect(view.body).toMatchObject({
      status: 'failed',
      connections: [{ status: 'failed', error: expect.stringContaining('given up (6 attempt(s) failed)') }],
    });
  });

  it("a flatten recorded but never queued (the api died in between) is queued again by the worker's recovery sweep", async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const { connection, key } = await alpacaWithOrderAndPosition(ws.token);
    const id = randomUUID();
    // What the api's transaction wrote before it could add the job.
    await routing.sql(`INSERT INTO flattens (id, workspace_id, scope, reason, requested_by_type) VALUES ($1, $2, 'connection', 'lost job', 'token')`, [
      id,
      ws.id,
    ]);
    await routing.sql(
      `INSERT INTO flatten_connections (workspace_id, flatten_id, connection_id, updated_at) VALUES ($1, $2, $3, now() - interval '1 minute')`,
      [ws.id, id, connection],
    );

    expect(await routing.worker.app.get(FlattenRecovery).sweep()).toBeGreaterThanOrEqual(1);
    const done = await flattenDone(ws.token, id);
    expect(done.connections[0]).toMatchObject({ status: 'done', orders: [expect.objectContaining({ symbol: 'AAPL', status: 'filled' })] });
    expect(routing.alpaca.positionOf(key, 'AAPL')).toBe(0);
  });

  it('a workspace flatten closes Binance, Coinbase and OANDA positions too', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const binance = await routing.connect(ws.token, 'binance');
    const coinbase = await world.connectOther(ws.token, 'coinbase', { USD: '100000' });
    const oanda = await world.connectOther(ws.token, 'oanda');
    expect((await world.trade(ws.token, binance, { ticker: 'BINANCE:ETHUSDT', action: 'buy' }, '2')).status).toBe('routed');
    expect((await world.trade(ws.token, coinbase.id, { ticker: 'BTC-USD', action: 'buy' }, '0.1')).status).toBe('routed');
    expect((await world.trade(ws.token, oanda.id, { ticker: 'OANDA:EURUSD', action: 'sell' }, '1000')).status).toBe('routed');

    const res = await http(routing.api.url, 'POST', '/v1/flatten', { token: ws.token, body: { reason: 'all out' } });
    expect(res.status).toBe(202);
    const done = await flattenDone(ws.token, res.body.id);
    expect(done.status).toBe('done');
    const orders = Object.fromEntries(done.connections.map((c: any) => [c.connectionId, c.orders.map((o: any) => [o.symbol, o.side, o.quantity, o.status])]));
    expect(orders[binance]).toEqual([['ETHUSDT', 'sell', '2', 'filled']]);
    // Coinbase answers an order before it fills: the worker asks again, so the record shows the fill.
    expect(orders[coinbase.id]).toEqual([['BTC-USD', 'sell', '0.1', 'filled']]);
    expect(orders[oanda.id]).toEqual([['EUR_USD', 'buy', '1000', 'filled']]);
    expect(Number(routing.binance.balance(routing.keys.get(binance)!.apiKey, 'ETH').free)).toBe(0);
    expect(Number(world.coinbase.balance(coinbase.credentials.apiKeyName, 'BTC').available)).toBe(0);
    expect(world.oanda.positionOf(oanda.credentials.accountId, 'EUR_USD')).toBe(0);
  });
});
