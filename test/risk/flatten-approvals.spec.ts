import { http } from '../support/api-app';
import { RoutingWorld } from '../routing/routing-harness';

/** A flatten ends its connections' orders awaiting approval, so nothing approved later opens the position again. */
describe('flatten ends orders awaiting approval', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres');
  });
  afterAll(async () => {
    await world?.stop();
  });

  async function setup() {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'paper');
    const other = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '2' }, approval: 'manual' });
    await world.route(ws.token, { sourceId: source.id, connectionId: other, sizing: { mode: 'fixed', value: '2' }, approval: 'manual' });
    const signalId = await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100' });
    const orders = async () => (await http(world.api.url, 'GET', `/v1/orders?signalId=${signalId}`, { token: ws.token })).body.items as any[];
    for (const deadline = Date.now() + 20_000; ;) {
      const items = await orders();
      if (items.length === 2 && items.every((o) => o.status === 'awaiting_approval')) break;
      if (Date.now() > deadline) throw new Error('never awaiting');
      await new Promise((r) => setTimeout(r, 25));
    }
    const byConnection = async (id: string) => (await orders()).find((o) => o.connectionId === id);
    return { ws, connection, other, signalId, orders, byConnection };
  }

  it("a connection's flatten rejects its awaiting orders (reason flattened, audited, a transition), not other connections'; a later approve is 409", async () => {
    const { ws, connection, other, signalId, byConnection } = await setup();
    const flatten = await http(world.api.url, 'POST', `/v1/connections/${connection}/flatten`, { token: ws.token, body: { reason: 'stop everything' } });
    expect(flatten.status).toBe(202);
    const ended = await byConnection(connection);
    expect(ended).toMatchObject({
      status: 'rejected',
      reason: `flattened: the connection was flattened (flatten ${flatten.body.id}) while the order awaited approval; it was not sent`,
    });
    expect((await byConnection(other)).status).toBe('awaiting_approval');
    const late = await http(world.api.url, 'POST', `/v1/orders/${ended.id}/approve`, { token: ws.token, body: {} });
    expect([late.status, late.body.code, late.body.orderStatus]).toEqual([409, 'order_not_awaiting_approval', 'rejected']);
    const detail = await http(world.api.url, 'GET', `/v1/orders/${ended.id}`, { token: ws.token });
    expect(detail.body.transitions.map((t: any) => [t.from, t.to])).toEqual([
      [null, 'awaiting_approval'],
      ['awaiting_approval', 'rejected'],
    ]);
    const audit = await world.sql<{ reason: string; metadata: any; actor_type: string }>(
      `SELECT reason, metadata, actor_type FROM audit_events WHERE workspace_id = $1 AND action = 'order.reject' ORDER BY id`,
      [ws.id],
    );
    expect(audit).toEqual([{ reason: ended.reason, metadata: expect.objectContaining({ flattenId: flatten.body.id, signalId }), actor_type: 'token' }]);
    // The other connection's order is still a person's to decide: approving it sends it, and the signal settles.
    const kept = await byConnection(other);
    expect((await http(world.api.url, 'POST', `/v1/orders/${kept.id}/approve`, { token: ws.token, body: {} })).status).toBe(200);
    const settled = await world.settled(ws.token, signalId, 30_000);
    expect(settled.status).toBe('partially_routed');
  });

  it("the workspace's flatten rejects every connection's awaiting orders", async () => {
    const { ws, signalId, orders } = await setup();
    const flatten = await http(world.api.url, 'POST', '/v1/flatten', { token: ws.token, body: { reason: 'end of day' } });
    expect(flatten.status).toBe(202);
    expect((await orders()).map((o) => [o.status, o.reason.split(':')[0]])).toEqual([
      ['rejected', 'flattened'],
      ['rejected', 'flattened'],
    ]);
    // Its decisions' jobs settle the signal at once (not only the approval sweep, 10 s later).
    const settled = await world.settled(ws.token, signalId, 5_000);
    expect([settled.status, settled.error]).toEqual(['blocked', expect.stringMatching(/^flattened: /)]);
  });
});
