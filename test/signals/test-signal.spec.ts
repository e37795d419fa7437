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

    const sent = await http(world.api.url, 'POST', `/v1/sources/${source.id}/test-signal`, { token: ws.token, body: { ticker: 'AAPL', action: 'buy', price: '100' } });
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ status: 'queued', duplicate: false });
    const settled = await world.settled(ws.token, sent.body.signalId);
    expect(settled.status).toBe('routed');
    expect(settled.orders).toEqual([expect.objectContaining({ connectionId, symbol: 'AAPL', side: 'buy', status: 'filled', filledQuantity: '1' })]);

    const again = await http(world.api.url, 'POST', `/v1/sources/${source.id}/test-signal`, { token: ws.token, body: { ticker: 'AAPL', action: 'buy', price: '100' } });
    expect(again.body).toMatchObject({ duplicate: false });
    expect(again.body.signalId).not.toBe(sent.body.signalId);
    const [row] = await world.sql('SELECT sender_ip, request_id FROM signals WHERE id = $1', [sent.body.signalId]);
    expect(row.sender_ip).toBe('127.0.0.1');
    expect(row.request_id).toBeTruthy();
  });

  it('refuses a malformed body with the webhook\'s 422, a viewer with 403, and another workspace\'s source with 404', async () => {
    const ws = await world.workspace();
    const source = await world.source(ws.token);
    const bad = await http(world.api.url, 'POST', `/v1/sources/${source.id}/test-signal`, { token: ws.token, body: { action: 'buy' } });
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('validation_failed');
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: 'ticker' })]);

    const viewer = await http(world.api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'ro', role: 'viewer' } });
    const refused = await http(world.api.url, 'POST', `/v1/sources/${source.id}/test-signal`, { token: viewer.body.token, body: { ticker: 'AAPL', action: 'buy' } });
    expect(refused.status).toBe(403);

    const other = await world.workspace();
    const foreign = await http(world.api.url, 'POST', `/v1/sources/${source.id}/test-signal`, { token: other.token, body: { ticker: 'AAPL', action: 'buy' } });
    expect(foreign.status).toBe(404);
    expect(await world.sql('SELECT id FROM signals WHERE source_id = $1', [source.id])).toEqual([]);
  });
});
