import { http } from '../support/api-app';
import { RoutingWorld } from '../routing/routing-harness';

/** POST /v1/sources/:id/test-signal: the console's test signal takes the webhook's path and really routes. */
describe('test signal from a signed-in member', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres');
  }, 60_000);
  afterAll(async () => {
    await world?.stop();
  });

  it('is routed to a paper fill like a webhook delivery, and each send is a new signal', async () => {
    const ws = await world.workspace();
    const connectionId = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId, sizing: { mode: 'fixed', value: '1' } });

    const sent = await http(world.api.url, 'POST', `/v1/sources/${source.id}/test-signal`, {
      token: ws.token,
      body: { ticker: 'AAPL', action: 'buy', price: '100' },
    });
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ status: 'queued', duplicate: false });
    const settled = await world.settled(ws.token, sent.body.signalId);
    expect(settled.status).toBe('routed');
    expect(settled.orders).toEqual([expect.objectContaining({ connectionId, symbol: 'AAPL', side: 'buy', status: 'filled', filledQuantity: '1' })]);

    const again = await http(world.api.url, 'POST', `/v1/sources/${source.id}/test-signal`, {
      token: ws.token,
      body: { ticker: 'AAPL', action: 'buy', price: '100' },
    });
    expect(again.body).toMatchObject({ duplicate: false });
    expect(again.body.signalId).not.toBe(sent.body.signalId);
    const [row] = await world.sql('SELECT sender_ip, request_id FROM signals WHERE id = $1', [sent.body.signalId]);
    expect(row.sender_ip).toBe('127.0.0.1');
    expect(row.request_id).toBeTruthy();
    // Who sent it is on the audit trail, with the signal it made.
    const audit = await http(world.api.url, 'GET', `/v1/audit?action=source.test_signal&resourceId=${source.id}`, { token: ws.token });
    expect(audit.body.items.map((e: { metadata: { signalId: string } }) => e.metadata.signalId)).toEqual([again.body.signalId, sent.body.signalId]);
    expect(audit.body.items[1]).toMatchObject({ actor: { type: 'token' }, resource: { type: 'source', id: source.id }, requestId: row.request_id });
  });

  it("refuses a malformed body with the webhook's 422, a viewer with 403, and another workspace's source with 404", async () => {
    const ws = await world.workspace();
    const source = await world.source(ws.token);
    const bad = await http(world.api.url, 'POST', `/v1/sources/${source.id}/test-signal`, { token: ws.token, body: { action: 'buy' } });
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('validation_failed');
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: 'ticker' })]);

    const viewer = await http(world.api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'ro', role: 'viewer' } });
    const refused = await http(world.api.url, 'POST', `/v1/sources/${source.id}/test-signal`, {
      token: viewer.body.token,
      body: { ticker: 'AAPL', action: 'buy' },
    });
    expect(refused.status).toBe(403);

    const other = await world.workspace();
    const foreign = await http(world.api.url, 'POST', `/v1/sources/${source.id}/test-signal`, { token: other.token, body: { ticker: 'AAPL', action: 'buy' } });
    expect(foreign.status).toBe(404);
    expect(await world.sql('SELECT id FROM signals WHERE source_id = $1', [source.id])).toEqual([]);
  });

  it('GET /v1/signals?connectionId= lists the signals that made an order for that connection, paged newest first', async () => {
    const ws = await world.workspace();
    const [a, b] = [await world.connect(ws.token, 'paper'), await world.connect(ws.token, 'paper')];
    const [toA, toB] = [await world.source(ws.token), await world.source(ws.token)];
    await world.route(ws.token, { sourceId: toA.id, connectionId: a, sizing: { mode: 'fixed', value: '1' } });
    await world.route(ws.token, { sourceId: toB.id, connectionId: b, sizing: { mode: 'fixed', value: '1' } });
    const sent: Record<string, string[]> = { [a]: [], [b]: [] };
    for (const [source, connection] of [
      [toA, a],
      [toB, b],
      [toA, a],
      [toA, a],
      [toB, b],
    ] as const) {
      const res = await http(world.api.url, 'POST', `/v1/sources/${source.id}/test-signal`, {
        token: ws.token,
        body: { ticker: 'AAPL', action: 'buy', price: '100' },
      });
      await world.settled(ws.token, res.body.signalId);
      sent[connection].unshift(res.body.signalId);
    }
    const walked: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: { status: number; body: any } = await http(
        world.api.url,
        'GET',
        `/v1/signals?connectionId=${a}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: ws.token },
      );
      expect(page.status).toBe(200);
      walked.push(...page.body.items.map((s: { id: string }) => s.id));
      cursor = page.body.nextCursor;
    }
    expect(walked).toEqual(sent[a]);
    const both = await http(world.api.url, 'GET', `/v1/signals?connectionId=${b}&sourceId=${toB.id}&status=routed`, { token: ws.token });
    expect(both.body.items.map((s: { id: string }) => s.id)).toEqual(sent[b]);
    expect((await http(world.api.url, 'GET', `/v1/signals?connectionId=${b}&sourceId=${toA.id}`, { token: ws.token })).body.items).toEqual([]);
    expect((await http(world.api.url, 'GET', '/v1/signals?connectionId=nope', { token: ws.token })).status).toBe(422);
  });
});
