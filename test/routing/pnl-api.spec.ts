import { http } from '../support/api-app';
import { RoutingWorld } from './routing-harness';

describe('GET /v1/connections/:id/pnl and /v1/routes/:id/pnl', () => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start('postgres');
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('realises a paper round trip from its fills, per connection and per route; exits record the side they learnt', async () => {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    const route = await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '10' } });
    expect((await world.settled(ws.token, await world.send(source, { ticker: 'SPY', action: 'buy', price: '400' }))).status).toBe('routed');
    const exit = await world.settled(ws.token, await world.send(source, { ticker: 'SPY', action: 'exit', price: '412.5' }));
    expect(exit.orders[0]).toMatchObject({ intent: 'exit', side: 'sell', status: 'filled' });

    const byConnection = await http(world.api.url, 'GET', `/v1/connections/${connection}/pnl`, { token: ws.token });
    expect(byConnection.status).toBe(200);
    expect(byConnection.body).toEqual({
      connectionId: connection,
      symbols: [{ symbol: 'SPY', position: '0', averageCost: null, realizedPnl: '125', fees: '0', fills: 2 }],
      unattributedFills: 0,
    });
    const byRoute = await http(world.api.url, 'GET', `/v1/routes/${route}/pnl`, { token: ws.token });
    expect(byRoute.body).toMatchObject({ routeId: route, symbols: [expect.objectContaining({ realizedPnl: '125' })] });
  });

  it('answers 404 problem+json for a connection of another workspace or an unknown route', async () => {
    const [mine, theirs] = [await world.workspace(), await world.workspace()];
    const connection = await world.connect(theirs.token, 'paper');
    const res = await http(world.api.url, 'GET', `/v1/connections/${connection}/pnl`, { token: mine.token });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 404, code: expect.any(String) });
    expect((await http(world.api.url, 'GET', '/v1/routes/7d9a5b8e-0000-4000-8000-000000000000/pnl', { token: mine.token })).status).toBe(404);
  });
});
