import { randomBytes, randomInt } from 'node:crypto';
import type { OrderRequest } from '../../src/brokers/broker-adapter';
import { BrokerError } from '../../src/brokers/broker-error';
import { IbkrAdapter } from '../../src/brokers/ibkr/ibkr.adapter';
import { BrokerHttp } from '../../src/brokers/broker-http';
import { IbkrGateway, NOT_AUTHENTICATED } from '../../src/brokers/ibkr/ibkr-gateway';
import { IbkrOAuth } from '../../src/brokers/ibkr/ibkr-oauth';
import { ibkrCredentialsSchema } from '../../src/brokers/ibkr/ibkr-schemas';
import { OutboundGuard } from '../../src/common/outbound/outbound-guard';
import type { OutboundSettings } from '../../src/config/app-config';
import { IbkrStub, startIbkrStub } from '../support/brokers/ibkr-stub';
import { HttpsReceiver, selfSignedCertificate, type TestCertificate } from '../support/https-receiver';

const CANARY = 'CANARYibkrGATEWAY';
/** Gateway connections never reach IBKR's OAuth host: an unresolvable one proves it. */
const unusedOAuth = new IbkrOAuth(new BrokerHttp('ibkr', 'https://api.ibkr.invalid/v1/api', 1_000));

describe('IbkrAdapter (gateway mode) against the Client Portal Gateway stub', () => {
  let cert: TestCertificate;
  let stub: IbkrStub;
  let adapter: IbkrAdapter;
  const seen: BrokerError[] = [];
  const settings = (over: Partial<OutboundSettings> = {}): OutboundSettings => ({
    allowHosts: ['127.0.0.1'],
    caFile: cert.caFile,
    connectTimeoutMs: 1_000,
    timeoutMs: 1_500,
    maxResponseBytes: 1_048_576,
    ...over,
  });

  beforeAll(async () => {
    cert = selfSignedCertificate(['localhost']);
    stub = await startIbkrStub(cert);
    stub.addStock('AAPL', 265598, 190.5);
    stub.addStock('MSFT', 272093, 410);
    adapter = new IbkrAdapter(new IbkrGateway(new OutboundGuard(settings()), unusedOAuth), 3);
  });

  afterAll(async () => {
    await stub.stop();
  });

  afterEach(() => {
    stub.clearFaults();
    stub.session = { authenticated: true, connected: true, competing: false };
  });

  /** A fresh account per test (the gateway path carries a canary: it is sealed like a secret). */
  function newAccount(prefix = 'DU'): { gatewayUrl: string; accountId: string } {
    const accountId = `${prefix}${randomInt(1_000_000, 9_999_999)}`;
    stub.addAccount(accountId);
    return { gatewayUrl: `${stub.url}/${CANARY}${randomBytes(4).toString('hex')}`, accountId };
  }

  function order(overrides: Partial<OrderRequest> = {}): OrderRequest {
    return {
      clientOrderId: `sy-${randomBytes(6).toString('hex')}`,
      symbol: 'AAPL',
      side: 'buy',
      type: 'market',
      quantity: '10',
      environment: 'paper',
      connectionId: `conn-${randomBytes(4).toString('hex')}`,
      ...overrides,
    };
  }

  async function failure(promise: Promise<unknown>): Promise<BrokerError> {
    const err = await promise.then(
      () => {
        throw new Error('expected a BrokerError');
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BrokerError);
    seen.push(err as BrokerError);
    return err as BrokerError;
  }

  const orderPosts = () => stub.requests.filter((r) => r.method === 'POST' && /\/iserver\/account\/[^/]+\/orders$/.test(r.path));
  const lastOrderBody = () => JSON.parse(orderPosts().at(-1)!.body) as { orders: Record<string, unknown>[] };

  describe('credentials', () => {
    it('takes an https gateway URL and drops a trailing /v1/api; refuses http and user info', () => {
      expect(ibkrCredentialsSchema.parse({ gatewayUrl: 'https://gw.example.com:5000/v1/api/', accountId: 'U1234567' })).toEqual({
        mode: 'gateway',
        gatewayUrl: 'https://gw.example.com:5000',
        accountId: 'U1234567',
      });
      expect(ibkrCredentialsSchema.safeParse({ gatewayUrl: 'http://gw.example.com:5000', accountId: 'U1234567' }).success).toBe(false);
      expect(ibkrCredentialsSchema.safeParse({ gatewayUrl: 'https://me:pw@gw.example.com', accountId: 'U1234567' }).success).toBe(false);
      expect(ibkrCredentialsSchema.safeParse({ gatewayUrl: 'https://gw.example.com', accountId: 'not an id' }).success).toBe(false);
    });
  });

  describe('inspect', () => {
    it('checks the session, tickles it and finds the account: IBKR tier, no withdrawals', async () => {
      const creds = newAccount();
      const tickles = stub.tickles;
      const report = await adapter.inspect(creds, 'paper');
      expect(report).toMatchObject({
        inspection: 'single_tier',
        canTrade: true,
        canWithdraw: false,
        canTransfer: false,
        keyHint: `…${creds.accountId.slice(-4)}`,
      });
      expect(report.note).toMatch(/cannot withdraw/);
      expect(stub.tickles).toBe(tickles + 1);
      expect(stub.requests.some((r) => r.path.endsWith('/iserver/auth/status'))).toBe(true);
    });

    it('refuses an account the gateway login does not hold', async () => {
      const creds = { ...newAccount(), accountId: 'DU0000001' };
      const err = await failure(adapter.inspect(creds, 'paper'));
      expect(err.kind).toBe('credentials_invalid');
      expect(err.message).toMatch(/the account id …0001 is not among the accounts/);
    });

    it('refuses a live account for a paper connection and a paper account for a live one', async () => {
      expect((await failure(adapter.inspect(newAccount('U'), 'paper'))).message).toMatch(/is a live account; the connection's environment is paper/);
      expect((await failure(adapter.inspect(newAccount('DU'), 'live'))).message).toMatch(/is a paper account; the connection's environment is live/);
      await expect(adapter.inspect(newAccount('U'), 'live')).resolves.toMatchObject({ details: { accountKind: 'live' } });
    });

    it('an unauthenticated gateway is a clear credentials error', async () => {
      stub.session.authenticated = false;
      const err = await failure(adapter.inspect(newAccount(), 'paper'));
      expect(err.kind).toBe('credentials_invalid');
      expect(err.message).toBe(NOT_AUTHENTICATED);
    });
  });

  describe('session upkeep before trading', () => {
    it('refuses to trade while the gateway session is logged out, and sends nothing', async () => {
      const creds = newAccount();
      stub.session.authenticated = false;
      const before = orderPosts().length;
      const err = await failure(adapter.placeOrder(creds, order()));
      expect(err.kind).toBe('credentials_invalid');
      expect(err.message).toBe(NOT_AUTHENTICATED);
      expect(orderPosts().length).toBe(before);
    });

    it('refuses while another session competes, and waits while the gateway is not connected', async () => {
      const creds = newAccount();
      stub.session.competing = true;
      expect((await failure(adapter.placeOrder(creds, order()))).message).toMatch(/competes with the gateway/);
      stub.session = { authenticated: true, connected: false, competing: false };
      expect((await failure(adapter.placeOrder(creds, order()))).kind).toBe('transient');
    });

    it('checks the auth status on every order and tickles once a minute per connection', async () => {
      const creds = newAccount();
      const connectionId = `conn-${randomBytes(4).toString('hex')}`;
      const tickles = stub.tickles;
      const statusChecks = () => stub.requests.filter((r) => r.path.endsWith('/iserver/auth/status')).length;
      const checks = statusChecks();
      await adapter.placeOrder(creds, order({ connectionId }));
      await adapter.placeOrder(creds, order({ connectionId }));
      expect(statusChecks()).toBe(checks + 2);
      expect(stub.tickles).toBe(tickles + 1);
    });

    it('a 401 on a read (session lapsed between calls) names the gateway login', async () => {
      const creds = newAccount();
      stub.session.authenticated = false;
      const err = await failure(adapter.getPositions(creds, 'paper', 'conn-1'));
      expect(err).toMatchObject({ kind: 'credentials_invalid', httpStatus: 401 });
      expect(err.message).toBe(NOT_AUTHENTICATED);
    });
  });

  describe('contracts', () => {
    it('resolves a stock to its conid through secdef search and caches it per connection', async () => {
      const creds = newAccount();
      const connectionId = `conn-${randomBytes(4).toString('hex')}`;
      const searches = () => stub.requests.filter((r) => r.path.endsWith('/iserver/secdef/search')).length;
      const before = searches();
      await adapter.placeOrder(creds, order({ symbol: 'MSFT', connectionId }));
      expect(lastOrderBody().orders[0].conid).toBe(272093);
      const search = stub.requests.filter((r) => r.path.endsWith('/iserver/secdef/search')).at(-1)!;
      expect(search.query.get('symbol')).toBe('MSFT');
      expect(search.query.get('secType')).toBe('STK');
      await adapter.placeOrder(creds, order({ symbol: 'MSFT', connectionId }));
      expect(searches()).toBe(before + 1);
      await adapter.placeOrder(creds, order({ symbol: 'MSFT' }));
      expect(searches()).toBe(before + 2);
    });

    it('resolves ES1! to the nearest listed future not within the roll days', async () => {
      const day = (offset: number) => Number(new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10).replace(/-/g, ''));
      stub.addFutures('ES', [
        { conid: 111, expirationDate: day(2) },
        { conid: 222, expirationDate: day(40) },
        { conid: 333, expirationDate: day(130) },
      ]);
      await adapter.placeOrder(newAccount(), order({ symbol: 'ES1!', quantity: '1' }));
      expect(lastOrderBody().orders[0].conid).toBe(222);
    });

    it('refuses a symbol IBKR does not list', async () => {
      const err = await failure(adapter.placeOrder(newAccount(), order({ symbol: 'ZZZZ' })));
      expect(err.kind).toBe('rejected');
      expect(err.message).toMatch(/IBKR lists no stock ZZZZ/);
    });
  });

  describe('orders', () => {
    it('sends the order in the CP API shape with our client order id as cOID', async () => {
      const creds = newAccount();
      const o = order({ type: 'limit', limitPrice: '185.25', side: 'sell', quantity: '3', timeInForce: 'day' });
      const ack = await adapter.placeOrder(creds, o);
      expect(orderPosts().at(-1)!.path).toBe(`/${new URL(creds.gatewayUrl).pathname.slice(1)}/v1/api/iserver/account/${creds.accountId}/orders`);
      expect(lastOrderBody()).toEqual({
        orders: [{ conid: 265598, cOID: o.clientOrderId, orderType: 'LMT', side: 'SELL', quantity: 3, tif: 'DAY', price: 185.25 }],
      });
      expect(ack).toMatchObject({ clientOrderId: o.clientOrderId, status: 'accepted' });
      expect(ack.brokerOrderId).toBe(String(stub.orders.find((x) => x.cOID === o.clientOrderId)!.orderId));
    });

    it('maps stop and stop-limit prices (price is the stop for STP; price the limit and auxPrice the stop for STP_LIMIT)', async () => {
      const creds = newAccount();
      await adapter.placeOrder(creds, order({ type: 'stop', stopPrice: '180' }));
      expect(lastOrderBody().orders[0]).toMatchObject({ orderType: 'STP', price: 180, tif: 'GTC' });
      await adapter.placeOrder(creds, order({ type: 'stop_limit', stopPrice: '180', limitPrice: '179.5' }));
      expect(lastOrderBody().orders[0]).toMatchObject({ orderType: 'STP_LIMIT', price: 179.5, auxPrice: 180 });
    });

    it('sends a bracket as parent and children (parentId = the entry cOID, opposite side)', async () => {
      const o = order({ type: 'limit', limitPrice: '190', takeProfit: '200', stopLoss: '185' });
      await adapter.placeOrder(newAccount(), o);
      const [entry, tp, sl] = lastOrderBody().orders;
      expect(entry).toMatchObject({ cOID: o.clientOrderId, side: 'BUY', orderType: 'LMT' });
      expect(tp).toMatchObject({ parentId: o.clientOrderId, side: 'SELL', orderType: 'LMT', price: 200, quantity: 10 });
      expect(sl).toMatchObject({ parentId: o.clientOrderId, side: 'SELL', orderType: 'STP', price: 185, quantity: 10 });
      expect(new Set([entry.cOID, tp.cOID, sl.cOID]).size).toBe(3);
    });

    it('refuses trailing stops before sending anything', async () => {
      const err = await failure(adapter.placeOrder(newAccount(), order({ trailPercent: '2' })));
      expect(err.kind).toBe('unsupported_order_type');
    });

    it('answers a benign confirmation question (o354) with confirmed:true and places the order', async () => {
      const o = order({ type: 'limit', limitPrice: '150' });
      stub.askOnNextOrder({ messageId: 'o354', message: 'You are submitting an order without market data. We strongly recommend against this...' });
      const ack = await adapter.placeOrder(newAccount(), o);
      const replies = stub.requests.filter((r) => r.path.includes('/iserver/reply/'));
      expect(JSON.parse(replies.at(-1)!.body)).toEqual({ confirmed: true });
      expect(ack.status).toBe('accepted');
      expect(stub.orders.filter((x) => x.cOID === o.clientOrderId)).toHaveLength(1);
    });

    it('refuses an order whose question the policy does not confirm, with the question as the reason, and never answers it', async () => {
      const o = order({ type: 'limit', limitPrice: '150' });
      const replies = stub.requests.filter((r) => r.path.includes('/iserver/reply/')).length;
      stub.askOnNextOrder({ messageId: 'o163', message: 'The following order exceeds the price percentage limit' });
      const err = await failure(adapter.placeOrder(newAccount(), o));
      expect(err.kind).toBe('rejected');
      expect(err.message).toMatch(/does not confirm it: The following order exceeds the price percentage limit/);
      expect(stub.requests.filter((r) => r.path.includes('/iserver/reply/')).length).toBe(replies);
      expect(stub.orders.some((x) => x.cOID === o.clientOrderId)).toBe(false);
    });

    it.each(['constructor', 'toString', '__proto__'])('refuses a question whose message id is named like an Object member (%s)', async (messageId) => {
      const o = order({ type: 'limit', limitPrice: '150' });
      stub.askOnNextOrder({ messageId, message: 'an unknown question' });
      expect((await failure(adapter.placeOrder(newAccount(), o))).kind).toBe('rejected');
      expect(stub.orders.some((x) => x.cOID === o.clientOrderId)).toBe(false);
    });

    it('refuses at the first unconfirmed question of a chain', async () => {
      const o = order({ type: 'limit', limitPrice: '150' });
      stub.askOnNextOrder(
        { messageId: 'o354', message: 'without market data' },
        { messageId: 'o383', message: 'The following order size exceeds the Size Limit' },
      );
      const err = await failure(adapter.placeOrder(newAccount(), o));
      expect(err.message).toMatch(/Size Limit/);
      expect(stub.orders.some((x) => x.cOID === o.clientOrderId)).toBe(false);
    });

    it("passes IBKR's error text on as a rejection", async () => {
      stub.refuseNextOrder(
        'Order rejected - reason: YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH LOAN VALUE MUST EXCEED',
      );
      const err = await failure(adapter.placeOrder(newAccount(), order()));
      expect(err).toMatchObject({ kind: 'rejected', httpStatus: 400 });
      expect(err.message).toMatch(/^IBKR refused the order: Order rejected - reason: YOUR ORDER IS NOT ACCEPTED/);
    });

    it('refuses an account the gateway login no longer holds before sending the order', async () => {
      const before = orderPosts().length;
      const err = await failure(adapter.placeOrder({ ...newAccount(), accountId: 'DU0000002' }, order()));
      expect(err.kind).toBe('credentials_invalid');
      expect(err.message).toMatch(/…0002 is not among the accounts/);
      expect(orderPosts().length).toBe(before);
    });
  });

  describe('lookup by cOID', () => {
    it('finds an order whose answer was lost and does not place it twice', async () => {
      const creds = newAccount();
      const o = order({ type: 'limit', limitPrice: '150' });
      stub.injectFaults('acceptThenHang', 1, { method: 'POST', path: /\/orders$/ });
      const err = await failure(adapter.placeOrder(creds, o));
      expect(err.kind).toBe('ambiguous');
      const found = await adapter.findOrder(creds, o);
      expect(found).toMatchObject({ clientOrderId: o.clientOrderId, status: 'accepted' });
      const retried = await adapter.placeOrder(creds, o);
      expect(retried.brokerOrderId).toBe(found!.brokerOrderId);
      expect(stub.orders.filter((x) => x.cOID === o.clientOrderId)).toHaveLength(1);
    });

    it('a retry whose lookup finds nothing yet (the first list of a session) is refused as a taken cOID and resolves to the order', async () => {
      const creds = newAccount();
      const o = order({ type: 'limit', limitPrice: '150' });
      const first = await adapter.placeOrder(creds, o);
      stub.emptyNextOrderList();
      const again = await adapter.placeOrder(creds, o);
      expect(again).toMatchObject({ brokerOrderId: first.brokerOrderId, status: 'accepted' });
      expect(stub.orders.filter((x) => x.cOID === o.clientOrderId)).toHaveLength(1);
    });

    it('returns null for an order the gateway never saw', async () => {
      await expect(adapter.findOrder(newAccount(), order())).resolves.toBeNull();
    });
  });

  describe('status mapping', () => {
    it('follows Submitted → partial fill → Filled with filledQuantity and avgPrice', async () => {
      const creds = newAccount();
      const o = order({ type: 'limit', limitPrice: '150', quantity: '10' });
      await adapter.placeOrder(creds, o);
      expect(await adapter.getOrder(creds, o)).toMatchObject({ status: 'accepted', filledQuantity: '0' });
      stub.fill(o.clientOrderId, 4, 149.5);
      expect(await adapter.getOrder(creds, o)).toMatchObject({ status: 'partially_filled', filledQuantity: '4', averagePrice: '149.5' });
      stub.fill(o.clientOrderId, 6, 150);
      expect(await adapter.getOrder(creds, o)).toMatchObject({ status: 'filled', filledQuantity: '10', averagePrice: '149.8' });
    });

    it('maps PreSubmitted to accepted, Cancelled to canceled and Inactive to rejected', async () => {
      const creds = newAccount();
      const o = order({ type: 'limit', limitPrice: '150' });
      await adapter.placeOrder(creds, o);
      stub.setStatus(o.clientOrderId, 'PreSubmitted');
      expect((await adapter.getOrder(creds, o))!.status).toBe('accepted');
      stub.setStatus(o.clientOrderId, 'Cancelled');
      expect(await adapter.getOrder(creds, o)).toMatchObject({ status: 'canceled', reason: 'order cancelled at IBKR' });
      stub.setStatus(o.clientOrderId, 'Inactive');
      expect(await adapter.getOrder(creds, o)).toMatchObject({ status: 'rejected', reason: 'order inactive at IBKR' });
    });

    it("lists a bracket entry's children as its legs", async () => {
      const creds = newAccount();
      const o = order({ type: 'limit', limitPrice: '190', takeProfit: '200', stopLoss: '185', stopLossLimit: '184.5' });
      await adapter.placeOrder(creds, o);
      const state = await adapter.getOrder(creds, o);
      const ids = stub.orders.filter((x) => x.parentId === o.clientOrderId);
      expect(state!.legs).toEqual([
        {
          role: 'take_profit',
          clientOrderId: ids[0].cOID,
          side: 'sell',
          type: 'limit',
          quantity: '10',
          limitPrice: '200',
          state: expect.objectContaining({ brokerOrderId: String(ids[0].orderId), status: 'accepted' }),
        },
        {
          role: 'stop_loss',
          clientOrderId: ids[1].cOID,
          side: 'sell',
          type: 'stop_limit',
          quantity: '10',
          limitPrice: '184.5',
          stopPrice: '185',
          state: expect.objectContaining({ status: 'accepted' }),
        },
      ]);
      stub.fill(ids[0].cOID, 10, 200);
      expect((await adapter.getOrder(creds, o))!.legs![0].state).toMatchObject({ status: 'filled', filledQuantity: '10', averagePrice: '200' });
    });

    it('a market order filled at once is acknowledged filled', async () => {
      const ack = await adapter.placeOrder(newAccount(), order());
      expect(ack.status).toBe('filled');
    });
  });

  describe('cancel, positions, account', () => {
    it('cancels the working orders of the symbol with DELETE …/order/{orderId}', async () => {
      const creds = newAccount();
      const resting = order({ type: 'limit', limitPrice: '150' });
      const other = order({ type: 'limit', limitPrice: '400', symbol: 'MSFT' });
      await adapter.placeOrder(creds, resting);
      await adapter.placeOrder(creds, other);
      expect(await adapter.cancelOpenOrders(creds, 'AAPL', 'paper', 'conn-1')).toBe(1);
      const id = stub.orders.find((x) => x.cOID === resting.clientOrderId)!.orderId;
      expect(stub.requests.some((r) => r.method === 'DELETE' && r.path.endsWith(`/iserver/account/${creds.accountId}/order/${id}`))).toBe(true);
      expect(stub.orders.find((x) => x.cOID === other.clientOrderId)!.status).toBe('Submitted');
    });

    it('reads positions and the account summary', async () => {
      const creds = newAccount();
      await adapter.placeOrder(creds, order({ quantity: '5' }));
      expect(await adapter.getPosition(creds, 'AAPL', 'paper', 'conn-1')).toEqual({ symbol: 'AAPL', quantity: '5' });
      expect(await adapter.getPositions(creds, 'paper', 'conn-1')).toEqual([
        { symbol: 'AAPL', quantity: '5', averagePrice: '190.5', marketValue: '952.5', unrealizedPnl: '0' },
      ]);
      expect(await adapter.getAccount(creds, 'paper', 'conn-1')).toEqual({ currency: 'USD', equity: '100000', cash: '80000', buyingPower: '400000' });
      expect(await adapter.getEquity(creds, 'paper', 'conn-1')).toBe('100000');
    });
  });

  describe('SSRF guard', () => {
    it('refuses a private gateway address without an operator allowlist entry, before any request', async () => {
      const guarded = new IbkrAdapter(new IbkrGateway(new OutboundGuard(settings({ allowHosts: [] })), unusedOAuth), 3);
      const creds = newAccount();
      const before = stub.requests.length;
      const err = await failure(guarded.inspect(creds, 'paper'));
      expect(err.kind).toBe('credentials_invalid');
      expect(err.message).toMatch(/gateway URL is refused: .*non-public address \(loopback\)/);
      expect(stub.requests.length).toBe(before);
      const metadata = await failure(guarded.placeOrder({ ...creds, gatewayUrl: 'https://169.254.169.254' }, order()));
      expect(metadata.message).toMatch(/non-public address \(linkLocal\)/);
    });

    it('refuses at use a gateway host name that now resolves to a private address (the lookup is made on every call)', async () => {
      let answer = '127.0.0.1';
      const resolving = new OutboundGuard(settings({ allowHosts: ['127.0.0.1'] }), async () => [{ address: answer, family: 4 }]);
      const guarded = new IbkrAdapter(new IbkrGateway(resolving, unusedOAuth), 3);
      const creds = { ...newAccount(), gatewayUrl: `https://localhost:${new URL(stub.url).port}/${CANARY}` };
      await guarded.inspect(creds, 'paper'); // onboarding: the name resolves to the allowlisted address
      answer = '10.0.0.5';
      const before = stub.requests.length;
      const err = await failure(guarded.placeOrder(creds, order()));
      expect(err.kind).toBe('credentials_invalid');
      expect(err.message).toMatch(/gateway URL is refused: .*resolves to a non-public address \(private\)/);
      expect(err.message).not.toContain('localhost');
      expect(stub.requests.length).toBe(before);
    });

    it('does not follow a redirect from the gateway', async () => {
      const redirecting = await HttpsReceiver.start(cert);
      redirecting.answer = () => ({ status: 302, headers: { location: 'https://169.254.169.254/' } });
      try {
        const err = await failure(adapter.inspect({ gatewayUrl: redirecting.url('127.0.0.1', ''), accountId: 'DU1000000' }, 'paper'));
        expect(err.kind).toBe('credentials_invalid');
        expect(err.message).toMatch(/redirected/);
        expect(redirecting.requests).toHaveLength(1);
      } finally {
        await redirecting.stop();
      }
    });
  });

  it('never puts the gateway URL in an error', () => {
    expect(seen.length).toBeGreaterThan(5);
    for (const err of seen) {
      expect(err.message).not.toContain(CANARY);
      expect(err.message).not.toContain(stub.url);
    }
  });
});
