import { http } from '../support/api-app';
import { RoutingWorld } from './routing-harness';

/** Manual approval end to end with the paper broker: the order waits, a trader decides, the worker sends or ends it. */
describe('manual approval', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres');
  });
  afterAll(async () => {
    await world?.stop();
  });

  async function setup(route: Record<string, unknown> = { approval: 'manual' }) {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    const routeId = await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '2' }, ...route });
    const mint = async (role: string) =>
      (await http(world.api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: role, role } })).body.token as string;
    const [trader, viewer] = [await mint('trader'), await mint('viewer')];
    return { ws, connection, source, routeId, trader, viewer };
  }

  /** Sends a signal and waits (polling the read API) until its order awaits approval. */
  async function awaiting(token: string, source: Awaited<ReturnType<typeof setup>>['source'], body: Record<string, unknown> = {}) {
    const signalId = await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100', ...body });
    const order = await until(
      token,
      `/v1/orders?signalId=${signalId}`,
      (b) => b.items.length > 0 && b.items.every((o: any) => o.status === 'awaiting_approval'),
    );
    return { signalId, orders: order.items as any[] };
  }

  async function until(token: string, path: string, done: (body: any) => boolean, timeoutMs = 20_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await http(world.api.url, 'GET', path, { token });
      if (res.status === 200 && done(res.body)) return res.body;
      if (Date.now() > deadline) throw new Error(`${path} never got there: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const audit = async (token: string, action: string) =>
    (await http(world.api.url, 'GET', `/v1/audit?action=${action}&limit=500`, { token })).body.items as any[];

  it('a manual-approval order waits in the queue, is approved by a trader, and fills; transitions and audit record each step', async () => {
    const { ws, source, trader } = await setup();
    const { signalId, orders } = await awaiting(ws.token, source);
    const [order] = orders;
    expect(order.approval).toEqual({ expiresAt: expect.any(String), decidedAt: null });
    // Default expiry: 5 minutes after planning.
    expect(Date.parse(order.approval.expiresAt) - Date.parse(order.timings.routedAt)).toBeGreaterThan(299_000);
    expect(Date.parse(order.approval.expiresAt) - Date.parse(order.timings.routedAt)).toBeLessThanOrEqual(300_000);
    expect((await http(world.api.url, 'GET', `/v1/signals/${signalId}`, { token: ws.token })).body.status).toBe('routing');
    const queue = await http(world.api.url, 'GET', '/v1/orders?status=awaiting_approval', { token: ws.token });
    expect(queue.body).toEqual({ items: [expect.objectContaining({ id: order.id, status: 'awaiting_approval' })], nextCursor: null });
    // Nothing reached the broker while it waits.
    expect(await world.sql('SELECT 1 FROM paper_orders WHERE client_order_id = $1', [order.clientOrderId])).toHaveLength(0);

    const approved = await http(world.api.url, 'POST', `/v1/orders/${order.id}/approve`, { token: trader, body: { reason: 'looks right' } });
    expect(approved.status).toBe(200);
    // The answer is the order as it stands after the decision: the worker may already have taken it further.
    expect(approved.body).toMatchObject({
      id: order.id,
      status: expect.stringMatching(/^(pending|submitted|filled)$/),
      approval: { decidedAt: expect.any(String) },
    });

    const settled = await world.settled(ws.token, signalId);
    expect(settled.status).toBe('routed');
    expect(settled.orders).toEqual([expect.objectContaining({ id: order.id, status: 'filled', attempts: 1 })]);
    const detail = await http(world.api.url, 'GET', `/v1/orders/${order.id}`, { token: ws.token });
    expect(detail.body.transitions.map((t: any) => [t.from, t.to])).toEqual([
      [null, 'awaiting_approval'],
      ['awaiting_approval', 'pending'],
      ['submitted', 'filled'],
    ]);
    expect(await audit(ws.token, 'order.approve')).toEqual([
      expect.objectContaining({
        reason: 'looks right',
        resource: { type: 'order', id: order.id },
        actor: expect.objectContaining({ type: 'token' }),
        metadata: expect.objectContaining({ signalId, symbol: 'AAPL', orders: 1 }),
      }),
    ]);
    expect((await http(world.api.url, 'GET', '/v1/orders?status=awaiting_approval', { token: ws.token })).body.items).toEqual([]);

    const again = await http(world.api.url, 'POST', `/v1/orders/${order.id}/approve`, { token: trader, body: {} });
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(again.body).toMatchObject({ code: 'order_not_awaiting_approval', status: 409, orderStatus: 'filled' });
  });

  it('approving twice at once sends the order once: one 200, one 409', async () => {
    const { ws, source, trader } = await setup();
    const { signalId, orders } = await awaiting(ws.token, source);
    const answers = await Promise.all([1, 2, 3].map(() => http(world.api.url, 'POST', `/v1/orders/${orders[0].id}/approve`, { token: trader, body: {} })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409]);
    const settled = await world.settled(ws.token, signalId);
    expect(settled.orders).toEqual([expect.objectContaining({ status: 'filled', attempts: 1 })]);
    expect(await world.sql('SELECT 1 FROM paper_orders WHERE client_order_id = $1', [orders[0].clientOrderId])).toHaveLength(1);
    expect((await audit(ws.token, 'order.approve')).length).toBe(1);
    const uses = (await audit(ws.token, 'credential.use')).filter((e) => e.metadata?.orderId === orders[0].id);
    expect(uses).toHaveLength(1);
  });

  it('reject needs a reason; the order ends rejected, never sent, and the signal ends blocked with it', async () => {
    const { ws, source, trader, viewer } = await setup();
    const { signalId, orders } = await awaiting(ws.token, source);
    const id = orders[0].id;
    const noReason = await http(world.api.url, 'POST', `/v1/orders/${id}/reject`, { token: trader, body: {} });
    expect([noReason.status, noReason.body.code]).toEqual([422, 'validation_failed']);
    const asViewer = await http(world.api.url, 'POST', `/v1/orders/${id}/reject`, { token: viewer, body: { reason: 'no' } });
    expect(asViewer.status).toBe(403);
    expect((await http(world.api.url, 'POST', `/v1/orders/${id}/approve`, { token: viewer, body: {} })).status).toBe(403);

    // An endpoint subscribed to rejections: the outbox trigger runs as the api, which records this transition.
    await world.sql(
      `INSERT INTO webhook_endpoints (id, workspace_id, url, events) SELECT gen_random_uuid(), workspace_id, 'https://127.0.0.1:9/hook', '{order.rejected}' FROM orders WHERE id = $1`,
      [id],
    );
    const rejected = await http(world.api.url, 'POST', `/v1/orders/${id}/reject`, { token: trader, body: { reason: 'too big for today' } });
    expect(rejected.status).toBe(200);
    expect(await world.sql(`SELECT event_type, payload->'data'->>'reason' AS reason FROM webhook_deliveries WHERE order_id = $1`, [id])).toEqual([
      { event_type: 'order.rejected', reason: 'approval_rejected: too big for today' },
    ]);
    expect(rejected.body).toMatchObject({ status: 'rejected', reason: 'approval_rejected: too big for today' });
    const settled = await world.settled(ws.token, signalId);
    expect([settled.status, settled.error]).toEqual(['blocked', 'approval_rejected: too big for today']);
    expect(await world.sql('SELECT 1 FROM paper_orders WHERE client_order_id = $1', [orders[0].clientOrderId])).toHaveLength(0);
    expect(await audit(ws.token, 'order.reject')).toEqual([expect.objectContaining({ reason: 'too big for today', resource: { type: 'order', id } })]);

    const late = await http(world.api.url, 'POST', `/v1/orders/${id}/approve`, { token: trader, body: {} });
    expect(late.body).toMatchObject({ code: 'order_not_awaiting_approval', status: 409, orderStatus: 'rejected' });
    expect(late.status).toBe(409);
  });

  it('expiry: approved just inside it goes; just past it the worker ends the order expired, and a late approve is 409', async () => {
    const { ws, source, trader } = await setup();
    const inside = await awaiting(ws.token, source);
    // Time moved on: the order has 2 s left.
    await world.sql(`UPDATE orders SET approval_expires_at = clock_timestamp() + interval '2 seconds' WHERE id = $1`, [inside.orders[0].id]);
    expect((await http(world.api.url, 'POST', `/v1/orders/${inside.orders[0].id}/approve`, { token: trader, body: {} })).status).toBe(200);
    expect((await world.settled(ws.token, inside.signalId)).status).toBe('routed');

    const outside = await awaiting(ws.token, source, { ticker: 'MSFT' });
    const id = outside.orders[0].id;
    await world.sql(`UPDATE orders SET approval_expires_at = clock_timestamp() - interval '1 millisecond' WHERE id = $1`, [id]);
    // Refused whether or not the sweep has run yet.
    const late = await http(world.api.url, 'POST', `/v1/orders/${id}/approve`, { token: trader, body: {} });
    expect([late.status, late.body.code, late.body.status, late.body.orderStatus]).toEqual([409, 'order_not_awaiting_approval', 409, 'expired']);
    const settled = await world.settled(ws.token, outside.signalId);
    expect(settled.status).toBe('blocked');
    expect(settled.error).toMatch(/^approval_expired: nobody approved the order before \d{4}-.*Z; it was not sent$/);
    const detail = await http(world.api.url, 'GET', `/v1/orders/${id}`, { token: ws.token });
    expect(detail.body.transitions.map((t: any) => [t.from, t.to])).toEqual([
      [null, 'awaiting_approval'],
      ['awaiting_approval', 'expired'],
    ]);
    expect(detail.body).toMatchObject({ status: 'expired', attempts: 0, approval: { decidedAt: expect.any(String) } });
    expect(await audit(ws.token, 'order.approval_expired')).toEqual([expect.objectContaining({ resource: { type: 'order', id }, reason: settled.error })]);
    const after = await http(world.api.url, 'POST', `/v1/orders/${id}/approve`, { token: trader, body: {} });
    expect([after.status, after.body.orderStatus]).toEqual([409, 'expired']);
  });

  it("a decision whose job was never added (the api died after its commit) is picked up by the worker's approval sweep", async () => {
    const { ws, source } = await setup();
    const { signalId, orders } = await awaiting(ws.token, source);
    // What the api's decision commits, without the job it adds afterwards; decided 11 s ago.
    await world.sql(
      `WITH d AS (UPDATE orders SET status = 'pending', approval_decided_at = clock_timestamp() - interval '11 seconds' WHERE id = $1 RETURNING id, workspace_id)
       INSERT INTO order_transitions (workspace_id, order_id, from_status, to_status) SELECT workspace_id, id, 'awaiting_approval', 'pending' FROM d`,
      [orders[0].id],
    );
    const settled = await world.settled(ws.token, signalId);
    expect(settled.status).toBe('routed');
    expect(settled.orders).toEqual([expect.objectContaining({ status: 'filled', attempts: 1 })]);
  });

  it('the risk gate runs again when the approved order is sent: a kill switch engaged meanwhile blocks it', async () => {
    const { ws, source, trader } = await setup();
    const { signalId, orders } = await awaiting(ws.token, source);
    expect((await http(world.api.url, 'PUT', '/v1/workspace/kill-switch', { token: ws.token, body: { engaged: true, reason: 'stop' } })).status).toBe(200);
    expect((await http(world.api.url, 'POST', `/v1/orders/${orders[0].id}/approve`, { token: trader, body: {} })).status).toBe(200);
    const settled = await world.settled(ws.token, signalId);
    expect([settled.status, settled.orders[0].status, settled.orders[0].reason]).toEqual([
      'blocked',
      'blocked',
      'workspace_kill_switch: the workspace kill switch is engaged',
    ]);
    expect(await world.sql('SELECT 1 FROM paper_orders WHERE client_order_id = $1', [orders[0].clientOrderId])).toHaveLength(0);
  });

  it('a reversal waits as one decision: its open leg cannot be decided first; approving the close lets both go in order', async () => {
    const { ws, source, trader } = await setup({ approval: 'manual' });
    // Open a long first (approved), then reverse it.
    const first = await awaiting(ws.token, source);
    await http(world.api.url, 'POST', `/v1/orders/${first.orders[0].id}/approve`, { token: trader, body: {} });
    expect((await world.settled(ws.token, first.signalId)).status).toBe('routed');
    const reversal = await awaiting(ws.token, source, { action: 'sell', sentiment: 'short' });
    expect(reversal.orders).toHaveLength(2);
    const [close, open] = [...reversal.orders].sort((a, b) => a.leg - b.leg);
    const early = await http(world.api.url, 'POST', `/v1/orders/${open.id}/approve`, { token: trader, body: {} });
    expect([early.status, early.body.code]).toEqual([409, 'earlier_leg_awaiting_approval']);
    expect((await http(world.api.url, 'POST', `/v1/orders/${close.id}/approve`, { token: trader, body: {} })).status).toBe(200);
    const settled = await world.settled(ws.token, reversal.signalId);
    expect(settled.status).toBe('routed');
    expect(settled.orders.map((o) => [o.leg, o.status]).sort()).toEqual([
      [0, 'filled'],
      [1, 'filled'],
    ]);
    // The close went first.
    const [closed, opened] = [close, open].map((o) => settled.orders.find((x) => x.id === o.id)!);
    expect(Date.parse(closed.timings.sentAt)).toBeLessThanOrEqual(Date.parse(opened.timings.sentAt));
  });

  it('a later signal of the connection is not held up by an order awaiting approval', async () => {
    const { ws, connection, source, trader } = await setup();
    const autoSource = await world.source(ws.token);
    await world.route(ws.token, { sourceId: autoSource.id, connectionId: connection, sizing: { mode: 'fixed', value: '1' } });
    const waiting = await awaiting(ws.token, source);
    const later = await world.send(autoSource, { ticker: 'MSFT', action: 'buy', price: '10' });
    expect((await world.settled(ws.token, later)).status).toBe('routed');
    expect((await http(world.api.url, 'POST', `/v1/orders/${waiting.orders[0].id}/approve`, { token: trader, body: {} })).status).toBe(200);
    expect((await world.settled(ws.token, waiting.signalId)).status).toBe('routed');
  });

  it("workspace defaults: manual holds routes that set nothing (and those set to auto); its expiry caps a route's; another workspace's order is 404", async () => {
    const { ws, source, trader } = await setup({ approvalExpirySeconds: 600 });
    const set = await http(world.api.url, 'PUT', '/v1/workspace/risk-limits', {
      token: ws.token,
      body: { maxSignalAgeSeconds: null, duplicateWindowSeconds: null, approval: 'manual', approvalExpirySeconds: 60, reason: 'review everything' },
    });
    expect(set.status).toBe(200);
    expect(set.body.approval).toEqual({ mode: 'manual', expirySeconds: 60 });
    const { orders } = await awaiting(ws.token, source);
    const waits = Date.parse(orders[0].approval.expiresAt) - Date.parse(orders[0].timings.routedAt);
    expect(waits).toBeGreaterThan(59_000);
    expect(waits).toBeLessThanOrEqual(60_000);

    const autoSource = await world.source(ws.token);
    const connection = orders[0].connectionId;
    await world.route(ws.token, { sourceId: autoSource.id, connectionId: connection, sizing: { mode: 'fixed', value: '1' }, approval: 'auto' });
    await awaiting(ws.token, autoSource, { ticker: 'MSFT' });

    const other = await world.workspace();
    expect((await http(world.api.url, 'POST', `/v1/orders/${orders[0].id}/approve`, { token: other.token, body: {} })).status).toBe(404);
    expect((await http(world.api.url, 'POST', `/v1/orders/not-a-uuid/approve`, { token: trader, body: {} })).status).toBe(404);
  });

  it('validates the route setting', async () => {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    const bad = await http(world.api.url, 'POST', '/v1/routes', {
      token: ws.token,
      body: { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '1' }, approval: 'sometimes', approvalExpirySeconds: 5 },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: any) => e.path).sort()).toEqual(['approval', 'approvalExpirySeconds']);
  });
});
