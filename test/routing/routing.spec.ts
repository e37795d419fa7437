import { RoutingWorld } from './routing-harness';

describe.each(['postgres', 'redis'] as const)('routing on the %s queue backend', (backend) => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start(backend);
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('routes one signal to three routes (paper, alpaca, binance) with the right sizes and mapped symbols', async () => {
    const ws = await world.workspace();
    const [paper, alpaca, binance] = [
      await world.connect(ws.token, 'paper'),
      await world.connect(ws.token, 'alpaca'),
      await world.connect(ws.token, 'binance'),
    ];
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: paper, sizing: { mode: 'fixed', value: '3' } });
    await world.route(ws.token, { sourceId: source.id, connectionId: alpaca, sizing: { mode: 'multiplier', value: '2' }, symbolMap: { BTCUSD: 'BTC/USD' } });
    await world.route(ws.token, { sourceId: source.id, connectionId: binance, sizing: { mode: 'notional', value: '1000' }, symbolMap: { BTCUSD: 'BTCUSDT' } });

    const signalId = await world.send(source, { ticker: 'BTCUSD', action: 'buy', quantity: '0.5', price: '50000' });
    const result = await world.settled(ws.token, signalId);
    expect({ status: result.status, error: result.error }).toEqual({ status: 'routed', error: null });
    expect(result.orders).toHaveLength(3);

    const byBroker = Object.fromEntries(result.orders.map((o: any) => [o.broker, o]));
    expect(byBroker.paper).toMatchObject({ symbol: 'BTCUSD', quantity: '3', status: 'filled', averagePrice: '50000' });
    expect(byBroker.alpaca).toMatchObject({ symbol: 'BTC/USD', quantity: '1', side: 'buy' });
    expect(byBroker.binance).toMatchObject({ symbol: 'BTCUSDT', quantity: '0.02', side: 'buy' });

    const atAlpaca = world.alpaca.ordersByClientId.get(byBroker.alpaca.clientOrderId);
    expect(atAlpaca).toMatchObject({ symbol: 'BTC/USD', qty: '1', side: 'buy' });
    const atBinance = world.binance.orders(world.keys.get(binance)!.apiKey);
    expect(atBinance).toHaveLength(1);
    expect(atBinance[0]).toMatchObject({ symbol: 'BTCUSDT', side: 'BUY', clientOrderId: byBroker.binance.clientOrderId });
    for (const o of result.orders) expect(o.timings.sentAt).not.toBeNull();
  });
});
