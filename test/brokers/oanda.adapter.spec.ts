import { randomBytes, randomInt } from 'node:crypto';
import type { OrderRequest } from '../../src/brokers/broker-adapter';
import { BrokerError } from '../../src/brokers/broker-error';
import { BrokerHttp } from '../../src/brokers/broker-http';
import { OandaAdapter } from '../../src/brokers/oanda/oanda.adapter';
import { OandaStub, OandaStubAccountOptions, startOandaStub } from '../support/brokers/oanda-stub';

const CANARY = 'CANARYoandaTOKEN';

describe('OandaAdapter against the OANDA v20 stub', () => {
  let stub: OandaStub;
  let liveStub: OandaStub;
  let paperHttp: BrokerHttp;
  let liveHttp: BrokerHttp;
  let adapter: OandaAdapter;
  /** Every BrokerError seen in this file, checked for the token canary at the end. */
  const seen: BrokerError[] = [];

  beforeAll(async () => {
    [stub, liveStub] = await Promise.all([startOandaStub(), startOandaStub()]);
    paperHttp = new BrokerHttp('oanda', stub.url, 300);
    liveHttp = new BrokerHttp('oanda', liveStub.url, 300);
    adapter = new OandaAdapter({ paper: paperHttp, live: liveHttp });
  });

  afterAll(async () => {
    await Promise.all([stub.stop(), liveStub.stop()]);
    await Promise.all([paperHttp.close(), liveHttp.close()]);
  });

  afterEach(() => stub.clearFaults());

  /** A fresh account per test: positions and orders never leak between tests. */
  function newAccount(options: Partial<OandaStubAccountOptions> = {}, target = stub): { accountId: string; token: string } {
    const creds = {
      accountId: `101-004-${randomInt(1_000_000, 9_999_999)}-${String(randomInt(1, 999)).padStart(3, '0')}`,
      token: `${CANARY}${randomBytes(8).toString('hex')}-${randomBytes(16).toString('hex')}`,
    };
    target.addAccount({ ...creds, ...options });
    return creds;
  }

  function order(overrides: Partial<OrderRequest> = {}): OrderRequest {
    return {
      clientOrderId: `sy-${randomBytes(6).toString('hex')}`,
      symbol: 'EURUSD',
      side: 'buy',
      type: 'market',
      quantity: '1000',
      environment: 'paper',
      connectionId: 'conn-1',
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

  function lastOrderBody(): { order: Record<string, unknown> } {
    const posts = stub.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/orders'));
    return JSON.parse(posts[posts.length - 1].body) as { order: Record<string, unknown> };
  }

  function ordersWithClientId(clientOrderId: string) {
    return stub.orders.filter((o) => o.clientExtensions?.id === clientOrderId);
  }

  describe('inspect', () => {
    it('reports a single-tier token and hints at the account id only', async () => {
      const creds = newAccount({ currency: 'EUR' });
      const report = await adapter.inspect(creds, 'paper');
      expect(report).toMatchObject({ inspection: 'single_tier', canTrade: true, canWithdraw: false, canTransfer: false });
      expect(report.keyHint).toBe(`…${creds.accountId.slice(-4)}`);
      expect(report.note).toMatch(/no scopes/);
      expect(report.details).toMatchObject({ currency: 'EUR', hedgingEnabled: false });
      expect(JSON.stringify(report)).not.toContain(CANARY);
      const sent = stub.requests[stub.requests.length - 1];
      expect(sent.path).toBe(`/v3/accounts/${creds.accountId}/summary`);
      expect(sent.headers.authorization).toBe(`Bearer ${creds.token}`);
    });

    it('refuses a wrong token as credentials_invalid', async () => {
      const creds = newAccount();
      const err = await failure(adapter.inspect({ ...creds, token: `${CANARY}-wrong` }, 'paper'));
      expect(err).toMatchObject({ kind: 'credentials_invalid', httpStatus: 401, retryable: false });
    });

    it('refuses a token that cannot reach the account, saying so', async () => {
      const mine = newAccount();
      const other = newAccount();
      const err = await failure(adapter.inspect({ accountId: other.accountId, token: mine.token }, 'paper'));
      expect(err).toMatchObject({ kind: 'credentials_invalid', httpStatus: 403 });
      expect(err.message).toContain('cannot reach account');
    });

    it('rejects a malformed account id before any request', async () => {
      const before = stub.requests.length;
      const err = await failure(adapter.inspect({ accountId: '../../v3/x', token: `${CANARY}abc` }, 'paper'));
      expect(err.kind).toBe('credentials_invalid');
      expect(err.message).toContain('accountId');
      expect(stub.requests.length).toBe(before);
    });

    it('uses the live client for the live environment', async () => {
      const creds = newAccount({}, liveStub);
      await expect(adapter.inspect(creds, 'live')).resolves.toMatchObject({ inspection: 'single_tier' });
      expect((await failure(adapter.inspect(creds, 'paper'))).kind).toBe('credentials_invalid');
    });
  });

  describe('placeOrder', () => {
    it('fills a market order on the mapped instrument and nets the position', async () => {
      const creds = newAccount();
      stub.setPrice('EUR_USD', 1.0842);
      const req = order();
      const ack = await adapter.placeOrder(creds, req);
      expect(ack).toMatchObject({ clientOrderId: req.clientOrderId, status: 'filled', filledQuantity: '1000', averagePrice: '1.0842' });
      expect(ack.brokerOrderId).toBe(stub.ordersByClientId.get(req.clientOrderId)?.id);
      expect(lastOrderBody()).toEqual({
        order: {
          type: 'MARKET',
          instrument: 'EUR_USD',
          units: '1000',
          timeInForce: 'FOK',
          positionFill: 'DEFAULT',
          clientExtensions: { id: req.clientOrderId },
        },
      });
      expect(await adapter.getPosition(creds, 'EURUSD', 'paper', 'conn-1')).toEqual({ symbol: 'EURUSD', quantity: '1000' });

      const sell = await adapter.placeOrder(creds, order({ side: 'sell', quantity: '2500.5', symbol: 'EUR_USD' }));
      expect(sell.filledQuantity).toBe('2500.5');
      expect(lastOrderBody().order.units).toBe('-2500.5');
      expect(await adapter.getPosition(creds, 'EUR/USD', 'paper', 'conn-1')).toEqual({ symbol: 'EUR/USD', quantity: '-1500.5' });
    });

    it('reports no position as zero', async () => {
      expect(await adapter.getPosition(newAccount(), 'GBPJPY', 'paper', 'conn-1')).toEqual({ symbol: 'GBPJPY', quantity: '0' });
    });

    it('places resting limit and stop orders with the mapped time in force', async () => {
      const creds = newAccount();
      const limit = await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '1.05', timeInForce: 'day' }));
      expect(limit.status).toBe('accepted');
      expect(lastOrderBody().order).toMatchObject({ type: 'LIMIT', price: '1.05', timeInForce: 'GFD' });
      await adapter.placeOrder(creds, order({ type: 'stop', stopPrice: '1.2', side: 'sell' }));
      expect(lastOrderBody().order).toMatchObject({ type: 'STOP', price: '1.2', timeInForce: 'GTC', units: '-1000' });
    });

    it('attaches take profit and stop loss on fill', async () => {
      const creds = newAccount();
      const ack = await adapter.placeOrder(creds, order({ takeProfit: '1.2', stopLoss: '1.0' }));
      expect(lastOrderBody().order).toMatchObject({ takeProfitOnFill: { price: '1.2' }, stopLossOnFill: { price: '1.0' } });
      const exits = stub.orders.filter((o) => o.accountId === creds.accountId && o.tradeID !== undefined);
      expect(exits.map((o) => [o.type, o.price, o.state])).toEqual([
        ['TAKE_PROFIT', '1.2', 'PENDING'],
        ['STOP_LOSS', '1.0', 'PENDING'],
      ]);
      expect(ack.status).toBe('filled');
    });

    it("answers a bracket filled at once with its legs: v20's take-profit and stop-loss orders, by the client ids their on-fill details gave them", async () => {
      const creds = newAccount();
      const o = order({ side: 'sell', takeProfit: '1.05', stopLoss: '1.15' });
      const ack = await adapter.placeOrder(creds, o);
      expect(lastOrderBody().order).toMatchObject({
        takeProfitOnFill: { price: '1.05', clientExtensions: { id: `${o.clientOrderId}-tp` } },
        stopLossOnFill: { price: '1.15', clientExtensions: { id: `${o.clientOrderId}-sl` } },
      });
      const [tp, sl] = stub.orders.filter((x) => x.accountId === creds.accountId && x.tradeID !== undefined);
      expect(ack.legs).toEqual([
        {
          role: 'take_profit',
          clientOrderId: `${o.clientOrderId}-tp`,
          side: 'buy',
          type: 'limit',
          quantity: '1000',
          limitPrice: '1.05',
          state: { brokerOrderId: tp.id, status: 'accepted', filledQuantity: '0' },
        },
        {
          role: 'stop_loss',
          clientOrderId: `${o.clientOrderId}-sl`,
          side: 'buy',
          type: 'stop',
          quantity: '1000',
          stopPrice: '1.15',
          state: { brokerOrderId: sl.id, status: 'accepted', filledQuantity: '0' },
        },
      ]);
      // A retry finds the filled entry and answers the same legs.
      expect((await adapter.placeOrder(creds, o)).legs?.map((l) => l.state.brokerOrderId)).toEqual([tp.id, sl.id]);
    });

    it('follows a leg by its client id: the take-profit fills, closing the trade, and v20 cancels the stop-loss (LINKED_TRADE_CLOSED)', async () => {
      const creds = newAccount();
      const o = order({ type: 'limit', limitPrice: '1.09', takeProfit: '1.2', stopLoss: '1.0' });
      expect((await adapter.placeOrder(creds, o)).legs).toBeUndefined();
      expect((await adapter.getOrder!(creds, o))?.legs).toBeUndefined(); // pending: no trade, no legs yet
      stub.fillPending(o.clientOrderId, 1.09);
      const entry = await adapter.getOrder!(creds, o);
      expect(entry).toMatchObject({ status: 'filled', filledQuantity: '1000' });
      expect(entry!.legs!.map((l) => [l.role, l.side, l.quantity, l.state.status])).toEqual([
        ['take_profit', 'sell', '1000', 'accepted'],
        ['stop_loss', 'sell', '1000', 'accepted'],
      ]);
      stub.fillPending(`${o.clientOrderId}-tp`, 1.2);
      const tp = await adapter.getOrder!(creds, { ...o, clientOrderId: `${o.clientOrderId}-tp` });
      const tpRecord = ordersWithClientId(`${o.clientOrderId}-tp`)[0];
      expect(tp).toMatchObject({ brokerOrderId: tpRecord.id, status: 'filled', filledQuantity: '1000', averagePrice: '1.2' });
      expect(tp!.fills).toEqual([expect.objectContaining({ brokerFillId: tpRecord.fillingTransactionID, quantity: '1000', price: '1.2' })]);
      expect(await adapter.getOrder!(creds, { ...o, clientOrderId: `${o.clientOrderId}-sl` })).toMatchObject({
        status: 'canceled',
        reason: 'order cancelled at OANDA (LINKED_TRADE_CLOSED)',
      });
      expect(stub.positionOf(creds.accountId, 'EUR_USD')).toBe(0);
    });

    it('has no legs for a fill that only reduced a trade (v20 creates dependent orders for an opened trade alone)', async () => {
      const creds = newAccount();
      await adapter.placeOrder(creds, order({ quantity: '2000' }));
      const ack = await adapter.placeOrder(creds, order({ side: 'sell', quantity: '1000', takeProfit: '1.0', stopLoss: '1.2' }));
      expect(ack.status).toBe('filled');
      expect(ack.legs).toBeUndefined();
      expect(stub.orders.filter((x) => x.accountId === creds.accountId && x.tradeID !== undefined)).toHaveLength(0);
    });

    it('attaches a trailing stop-loss by its price distance, and refuses a percent trail or a stop-loss limit unsent', async () => {
      const creds = newAccount();
      await adapter.placeOrder(creds, order({ takeProfit: '1.2', trailAmount: '0.005' }));
      expect(lastOrderBody().order).toMatchObject({ takeProfitOnFill: { price: '1.2' }, trailingStopLossOnFill: { distance: '0.005' } });
      const exits = stub.orders.filter((o) => o.accountId === creds.accountId && o.tradeID !== undefined);
      expect(exits.map((o) => [o.type, o.price ?? o.distance])).toEqual([
        ['TAKE_PROFIT', '1.2'],
        ['TRAILING_STOP_LOSS', '0.005'],
      ]);
      const before = stub.requests.length;
      expect(await failure(adapter.placeOrder(creds, order({ trailPercent: '1' })))).toMatchObject({
        kind: 'unsupported_order_type',
        message: expect.stringContaining('trailAmount'),
      });
      expect(await failure(adapter.placeOrder(creds, order({ stopLoss: '1.0', stopLossLimit: '0.99' })))).toMatchObject({ kind: 'unsupported_order_type' });
      expect(stub.requests.length).toBe(before);
    });

    it('refuses stop-limit orders as unsupported without sending them', async () => {
      const before = stub.requests.length;
      const err = await failure(adapter.placeOrder(newAccount(), order({ type: 'stop_limit', limitPrice: '1.1', stopPrice: '1.09' })));
      expect(err).toMatchObject({ kind: 'unsupported_order_type', retryable: false });
      expect(stub.requests.length).toBe(before);
    });

    it('maps an order cancelled for insufficient margin to a non-retryable rejection', async () => {
      const creds = newAccount({ balance: 10 });
      const req = order({ quantity: '1000000' });
      const err = await failure(adapter.placeOrder(creds, req));
      expect(err).toMatchObject({ kind: 'rejected', retryable: false });
      expect(err.message).toContain('INSUFFICIENT_MARGIN');
      expect(stub.positionOf(creds.accountId, 'EUR_USD')).toBe(0);
      expect(await adapter.findOrder(creds, req)).toMatchObject({ status: 'rejected' });
      // A replay finds the cancelled order instead of placing another.
      expect((await failure(adapter.placeOrder(creds, req))).kind).toBe('rejected');
      expect(ordersWithClientId(req.clientOrderId)).toHaveLength(1);
    });

    it('maps a reject transaction to rejected with its reason', async () => {
      stub.replyToNextOrder({
        status: 400,
        body: {
          orderRejectTransaction: { id: '9', type: 'MARKET_ORDER_REJECT', rejectReason: 'MARKET_HALTED' },
          errorCode: 'MARKET_HALTED',
          errorMessage: 'The market is halted',
        },
      });
      const err = await failure(adapter.placeOrder(newAccount(), order()));
      expect(err).toMatchObject({ kind: 'rejected', httpStatus: 400 });
      expect(err.message).toContain('MARKET_HALTED');
    });

    it('refuses a symbol that is not an OANDA instrument before sending it', async () => {
      const before = stub.requests.length;
      const err = await failure(adapter.placeOrder(newAccount(), order({ symbol: 'EUR-USD-X' })));
      expect(err.kind).toBe('rejected');
      expect(stub.requests.length).toBe(before);
    });
  });

  describe('idempotency', () => {
    it('places one order for a client order id sent twice, even after it filled', async () => {
      const creds = newAccount();
      const req = order();
      const first = await adapter.placeOrder(creds, req);
      const second = await adapter.placeOrder(creds, req);
      expect(second).toMatchObject({ brokerOrderId: first.brokerOrderId, status: 'filled', filledQuantity: '1000' });
      expect(ordersWithClientId(req.clientOrderId)).toHaveLength(1);
      expect(stub.positionOf(creds.accountId, 'EUR_USD')).toBe(1000);
    });

    it('resolves two concurrent submissions of a pending order to the same order', async () => {
      const creds = newAccount();
      const req = order({ type: 'limit', limitPrice: '1.01' });
      const [a, b] = await Promise.all([adapter.placeOrder(creds, req), adapter.placeOrder(creds, req)]);
      expect(a).toEqual(b);
      expect(ordersWithClientId(req.clientOrderId)).toHaveLength(1);
      // Both passed the lookup; the second submission was refused as a duplicate and resolved to the first.
      expect(stub.requests.filter((r) => r.method === 'POST' && r.body.includes(req.clientOrderId))).toHaveLength(2);
    });

    it('reports a lost answer as ambiguous; findOrder and a retry then see the one accepted order', async () => {
      const creds = newAccount();
      const req = order();
      stub.dropNextOrderReply();
      const err = await failure(adapter.placeOrder(creds, req));
      expect(err).toMatchObject({ kind: 'ambiguous', retryable: true });
      expect(ordersWithClientId(req.clientOrderId)).toHaveLength(1);

      const found = await adapter.findOrder(creds, req);
      expect(found).toMatchObject({ clientOrderId: req.clientOrderId, status: 'filled', filledQuantity: '1000' });
      expect(found?.brokerOrderId).toBe(stub.ordersByClientId.get(req.clientOrderId)?.id);
      expect(await adapter.placeOrder(creds, req)).toEqual(found);
      expect(ordersWithClientId(req.clientOrderId)).toHaveLength(1);
    });

    it('reports a lost lookup answer (acceptThenHang) as ambiguous and places nothing', async () => {
      const creds = newAccount();
      const req = order();
      stub.injectFaults('acceptThenHang');
      expect((await failure(adapter.placeOrder(creds, req))).kind).toBe('ambiguous');
      expect(ordersWithClientId(req.clientOrderId)).toHaveLength(0);
      expect(await adapter.findOrder(creds, req)).toBeNull();
    });
  });

  describe('getOrder (the order lifecycle)', () => {
    it('follows a pending limit order to its fill: units, price, commission and time from the ORDER_FILL transaction', async () => {
      const creds = newAccount();
      const o = order({ type: 'limit', limitPrice: '1.05', quantity: '2000' });
      await adapter.placeOrder(creds, o);
      expect(await adapter.getOrder!(creds, o)).toMatchObject({ status: 'accepted', filledQuantity: '0' });
      expect(await adapter.getOrder!(creds, o)).not.toHaveProperty('fills');

      stub.fillPending(o.clientOrderId, 1.0498);
      const [record] = ordersWithClientId(o.clientOrderId);
      const state = await adapter.getOrder!(creds, o);
      expect(state).toMatchObject({ brokerOrderId: record.id, status: 'filled', filledQuantity: '2000', averagePrice: '1.0498' });
      expect(state!.fills).toEqual([{ brokerFillId: record.fillingTransactionID, quantity: '2000', price: '1.0498', fee: '0.0000', time: record.filledTime }]);
      expect(stub.requests.some((r) => r.path.endsWith(`/transactions/${record.fillingTransactionID}`))).toBe(true);
      expect(stub.positionOf(creds.accountId, 'EUR_USD')).toBe(2000);
    });

    it('tells an expired order from a canceled one by the cancel transaction, and null for an order OANDA never saw', async () => {
      const creds = newAccount();
      const expiring = order({ type: 'limit', limitPrice: '1.01', timeInForce: 'day' });
      const canceled = order({ type: 'limit', limitPrice: '1.02' });
      await adapter.placeOrder(creds, expiring);
      await adapter.placeOrder(creds, canceled);
      stub.expirePending(expiring.clientOrderId);
      expect(await adapter.cancelOpenOrders(creds, 'EURUSD', 'paper', 'conn-1')).toBe(1);
      expect(await adapter.getOrder!(creds, expiring)).toMatchObject({
        status: 'expired',
        filledQuantity: '0',
        reason: 'order cancelled at OANDA (TIME_IN_FORCE_EXPIRED)',
      });
      expect(await adapter.getOrder!(creds, canceled)).toMatchObject({ status: 'canceled', reason: 'order cancelled at OANDA (CLIENT_REQUEST)' });
      expect(await adapter.getOrder!(creds, order())).toBeNull();
    });
  });

  describe('transport failures', () => {
    it('maps 500 and 429 to transient', async () => {
      const creds = newAccount();
      stub.injectFaults('error500');
      expect(await failure(adapter.placeOrder(creds, order()))).toMatchObject({ kind: 'transient', httpStatus: 500 });
      stub.injectFaults('error429');
      expect(await failure(adapter.getEquity(creds, 'paper', 'conn-1'))).toMatchObject({ kind: 'transient', httpStatus: 429 });
      expect(stub.orders.filter((o) => o.accountId === creds.accountId)).toHaveLength(0);
    });

    it('maps a hung request to ambiguous within the client timeout', async () => {
      stub.injectFaults('hang');
      const started = Date.now();
      expect((await failure(adapter.getEquity(newAccount(), 'paper', 'conn-1'))).kind).toBe('ambiguous');
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('maps a stopped broker to transient and recovers when it is back', async () => {
      const creds = newAccount();
      await stub.stop();
      try {
        expect((await failure(adapter.placeOrder(creds, order()))).kind).toBe('transient');
      } finally {
        await stub.start();
      }
      await expect(adapter.getEquity(creds, 'paper', 'conn-1')).resolves.toBe('100000');
    });
  });

  describe('account', () => {
    it('reads NAV, which follows the price of an open position', async () => {
      const creds = newAccount({ balance: 5000 });
      expect(await adapter.getEquity(creds, 'paper', 'conn-1')).toBe('5000');
      stub.setPrice('AUD_USD', 0.65);
      await adapter.placeOrder(creds, order({ symbol: 'AUDUSD', quantity: '10000' }));
      stub.setPrice('AUD_USD', 0.66);
      expect(await adapter.getEquity(creds, 'paper', 'conn-1')).toBe('5100');
    });

    it('cancels the pending entry orders of one instrument and leaves trade exits alone', async () => {
      const creds = newAccount();
      await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '1.0' }));
      await adapter.placeOrder(creds, order({ type: 'stop', stopPrice: '1.3' }));
      const other = await adapter.placeOrder(creds, order({ symbol: 'GBPUSD', type: 'limit', limitPrice: '1.1' }));
      await adapter.placeOrder(creds, order({ takeProfit: '1.3', stopLoss: '0.9' }));

      expect(await adapter.cancelOpenOrders(creds, 'EURUSD', 'paper', 'conn-1')).toBe(2);
      const mine = stub.orders.filter((o) => o.accountId === creds.accountId);
      expect(mine.filter((o) => o.type === 'LIMIT' || o.type === 'STOP').map((o) => [o.instrument, o.state])).toEqual([
        ['EUR_USD', 'CANCELLED'],
        ['EUR_USD', 'CANCELLED'],
        ['GBP_USD', 'PENDING'],
      ]);
      expect(mine.find((o) => o.id === other.brokerOrderId)?.state).toBe('PENDING');
      expect(mine.filter((o) => o.tradeID !== undefined).every((o) => o.state === 'PENDING')).toBe(true);
      expect(await adapter.cancelOpenOrders(creds, 'EURUSD', 'paper', 'conn-1')).toBe(0);
    });

    it('cannot revoke tokens', async () => {
      expect(await adapter.revokeKey(newAccount(), 'paper')).toBe(false);
    });
  });

  describe('token canary', () => {
    it('redacts a token the broker echoes back', async () => {
      const creds = newAccount();
      stub.replyToNextOrder({ status: 400, body: { errorMessage: `token ${creds.token} is not allowed here` } });
      const err = await failure(adapter.placeOrder(creds, order()));
      expect(err.kind).toBe('rejected');
      expect(err.message).toContain('[redacted]');
    });

    it('never puts the token in any BrokerError message or stack', () => {
      expect(seen.length).toBeGreaterThan(10);
      for (const err of seen) {
        expect(err.message).not.toContain(CANARY);
        expect(String(err.stack)).not.toContain(CANARY);
      }
    });
  });
});
