import { randomBytes, randomInt } from 'node:crypto';
import { http } from '../support/api-app';
import { IbkrStub, startIbkrStub } from '../support/brokers/ibkr-stub';
import { selfSignedCertificate } from '../support/https-receiver';
import { RoutingWorld } from './routing-harness';

/** From a signal to the IBKR gateway stub (reached through the SSRF guard's operator allowlist), and its status after. */
describe('routing to IBKR (gateway mode)', () => {
  let world: RoutingWorld;
  let gateway: IbkrStub;

  beforeAll(async () => {
    const cert = selfSignedCertificate(['localhost']);
    gateway = await startIbkrStub(cert);
    gateway.addStock('AAPL', 265598, 190.5);
    world = await RoutingWorld.start('postgres', {
      ORDER_SYNC_INTERVAL_MS: '100',
      OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
      OUTBOUND_CA_FILE: cert.caFile,
      OUTBOUND_TIMEOUT_MS: '1000',
    });
  });

  afterAll(async () => {
    await world?.stop();
    await gateway?.stop();
  });

  afterEach(() => {
    gateway.clearFaults();
    gateway.session.authenticated = true;
  });

  async function setUp() {
    const ws = await world.workspace();
    const accountId = `DU${randomInt(1_000_000, 9_999_999)}`;
    gateway.addAccount(accountId);
    const credentials = { gatewayUrl: `${gateway.url}/gw${randomBytes(3).toString('hex')}`, accountId };
    const res = await http(world.api.url, 'POST', '/v1/connections', {
      token: ws.token,
      body: { broker: 'ibkr', label: 'ibkr', environment: 'paper', credentials },
    });
    expect(res.status).toBe(201);
    expect(res.body.permissions).toMatchObject({ inspection: 'single_tier', canWithdraw: false });
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: res.body.id, sizing: { mode: 'fixed', value: '10' } });
    return { ws, source, accountId };
  }

  async function orderUntil(token: string, id: string, done: (o: any) => boolean, timeoutMs = 15_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await http(world.api.url, 'GET', `/v1/orders/${id}`, { token });
      expect(res.status).toBe(200);
      if (done(res.body)) return res.body;
      if (Date.now() > deadline) throw new Error(`order ${id} never got there: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('a limit signal arrives as a CP API order with our client order id as cOID, and ends filled as the gateway fills it', async () => {
    const { ws, source, accountId } = await setUp();
    const signalId = await world.send(source, { ticker: 'NASDAQ:AAPL', action: 'buy', orderType: 'limit', limitPrice: '189', price: '190' });
    const settled = await world.settled(ws.token, signalId);
    expect(settled.status).toBe('routed');
    const [order] = settled.orders;
    const atGateway = gateway.orders.filter((o) => o.cOID === order.clientOrderId);
    expect(atGateway).toHaveLength(1);
    expect(atGateway[0]).toMatchObject({ acct: accountId, conid: 265598, side: 'BUY', orderType: 'LMT', price: 189, quantity: 10 });
    expect(order).toMatchObject({ status: 'accepted', brokerOrderId: String(atGateway[0].orderId) });

    gateway.fill(order.clientOrderId, 10, 188.75);
    const filled = await orderUntil(ws.token, order.id, (o) => o.status === 'filled');
    expect(filled).toMatchObject({ filledQuantity: '10', averagePrice: '188.75' });
  });

  it('a market bracket ends filled, its take-profit and stop-loss children recorded as its legs', async () => {
    const { ws, source } = await setUp();
    const signalId = await world.send(source, { ticker: 'AAPL', action: 'buy', price: '190', takeProfit: '200', stopLoss: '185' });
    const settled = await world.settled(ws.token, signalId);
    const [entry] = settled.orders.filter((o) => o.bracketLeg === null);
    expect(entry).toMatchObject({ status: 'filled', filledQuantity: '10', averagePrice: '190.5' });
    const children = gateway.orders.filter((o) => o.parentId === entry.clientOrderId);
    expect(children.map((c) => [c.orderType, c.side, c.price])).toEqual([
      ['LMT', 'SELL', 200],
      ['STP', 'SELL', 185],
    ]);
    const legs = await world.sql<{ bracket_role: string; broker_order_id: string }>(
      'SELECT bracket_role, broker_order_id FROM orders WHERE parent_order_id = $1 ORDER BY bracket_role DESC',
      [entry.id],
    );
    expect(legs).toEqual([
      { bracket_role: 'take_profit', broker_order_id: String(children[0].orderId) },
      { bracket_role: 'stop_loss', broker_order_id: String(children[1].orderId) },
    ]);
  });

  it('an order whose answer is lost is found again by cOID and placed once', async () => {
    const { ws, source } = await setUp();
    gateway.injectFaults('acceptThenHang', 1, { method: 'POST', path: /\/orders$/ });
    const signalId = await world.send(source, { ticker: 'AAPL', action: 'buy', orderType: 'limit', limitPrice: '189', price: '190' });
    const settled = await world.settled(ws.token, signalId, 30_000);
    expect(settled.status).toBe('routed');
    const [order] = settled.orders;
    expect(gateway.orders.filter((o) => o.cOID === order.clientOrderId)).toHaveLength(1);
    gateway.fill(order.clientOrderId, 10, 189);
    await orderUntil(ws.token, order.id, (o) => o.status === 'filled');
  });

  it('a logged-out gateway refuses the order with the login reason', async () => {
    const { ws, source } = await setUp();
    gateway.session.authenticated = false;
    const signalId = await world.send(source, { ticker: 'AAPL', action: 'buy', price: '190' });
    const settled = await world.settled(ws.token, signalId);
    expect(settled.orders[0].status).toBe('rejected');
    expect(settled.orders[0].reason).toMatch(/the IBKR gateway session is not authenticated: log in at the gateway/);
  });
});
