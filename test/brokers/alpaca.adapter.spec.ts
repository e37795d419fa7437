import { randomBytes } from 'node:crypto';
import type { OrderRequest } from '../../src/brokers/broker-adapter';
import { BrokerError } from '../../src/brokers/broker-error';
import { BrokerHttp } from '../../src/brokers/broker-http';
import { AlpacaAdapter } from '../../src/brokers/alpaca/alpaca.adapter';
import { AlpacaStub, AlpacaStubKey, startAlpacaStub } from '../support/brokers/alpaca-stub';

const CANARY = 'CANARYalpacaSECRET';

describe('AlpacaAdapter against the Alpaca API stub', () => {
  let stub: AlpacaStub;
  let liveStub: AlpacaStub;
  let paperHttp: BrokerHttp;
  let liveHttp: BrokerHttp;
  let adapter: AlpacaAdapter;
  /** Every BrokerError seen in this file, checked for the secret canary at the end. */
  const seen: BrokerError[] = [];

  beforeAll(async () => {
    [stub, liveStub] = await Promise.all([startAlpacaStub(), startAlpacaStub()]);
    paperHttp = new BrokerHttp('alpaca', stub.url, 300);
    liveHttp = new BrokerHttp('alpaca', liveStub.url, 300);
    adapter = new AlpacaAdapter({ paper: paperHttp, live: liveHttp });
  });

  afterAll(async () => {
    await Promise.all([stub.stop(), liveStub.stop()]);
    await Promise.all([paperHttp.close(), liveHttp.close()]);
  });

  afterEach(() => stub.clearFaults());

  /** A fresh account per test: positions and order books never leak between tests. */
  function newKey(options: Partial<AlpacaStubKey> = {}, target = stub): { apiKey: string; apiSecret: string } {
    const creds = { apiKey: `PK${randomBytes(8).toString('hex').toUpperCase()}7QX2`, apiSecret: `${CANARY}${randomBytes(16).toString('hex')}` };
    target.addKey({ ...creds, ...options });
    return creds;
  }

  function order(overrides: Partial<OrderRequest> = {}): OrderRequest {
    return {
      clientOrderId: `sy-${randomBytes(6).toString('hex')}`,
      symbol: 'AAPL',
      side: 'buy',
      type: 'market',
      quantity: '3',
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

  function lastOrderBody(): Record<string, unknown> {
    const posts = stub.requests.filter((r) => r.method === 'POST' && r.path === '/v2/orders');
    return JSON.parse(posts[posts.length - 1].body) as Record<string, unknown>;
  }

  describe('inspect', () => {
    it('reports a trading-only key with a hint from the key id only', async () => {
      const creds = newKey();
      const report = await adapter.inspect(creds, 'paper');
      expect(report).toMatchObject({ inspection: 'trading_only', canTrade: true, canWithdraw: false, canTransfer: false, keyHint: '…7QX2' });
      expect(report.details).toMatchObject({ status: 'ACTIVE', trading_blocked: false, account_blocked: false });
      expect(JSON.stringify(report)).not.toContain(CANARY);
      const sent = stub.requests[stub.requests.length - 1];
      expect(sent.path).toBe('/v2/account');
      expect(sent.headers['apca-api-key-id']).toBe(creds.apiKey);
    });

    it('reports canTrade false for a trading-blocked account', async () => {
      const report = await adapter.inspect(newKey({ tradingBlocked: true }), 'paper');
      expect(report.canTrade).toBe(false);
      expect(report.details.trading_blocked).toBe(true);
    });

    it('refuses a wrong secret and an unknown key as credentials_invalid', async () => {
      const creds = newKey();
      const wrongSecret = await failure(adapter.inspect({ ...creds, apiSecret: `${CANARY}wrong` }, 'paper'));
      expect(wrongSecret).toMatchObject({ kind: 'credentials_invalid', httpStatus: 401, retryable: false });
      const unknown = await failure(adapter.inspect({ apiKey: 'PKUNKNOWN', apiSecret: creds.apiSecret }, 'paper'));
      expect(unknown.kind).toBe('credentials_invalid');
    });

    it('refuses a key whose account is not ACTIVE, saying why', async () => {
      const err = await failure(adapter.inspect(newKey({ status: 'ACCOUNT_CLOSED' }), 'paper'));
      expect(err.kind).toBe('credentials_invalid');
      expect(err.message).toContain('ACCOUNT_CLOSED');
    });

    it('rejects malformed credentials before any request, naming fields only', async () => {
      const before = stub.requests.length;
      const err = await failure(adapter.inspect({ apiKey: '  ', apiSecret: `${CANARY} with spaces` }, 'paper'));
      expect(err.kind).toBe('credentials_invalid');
      expect(err.message).toMatch(/apiKey.*apiSecret/);
      expect(stub.requests.length).toBe(before);
    });

    it('uses the live client for the live environment', async () => {
      const creds = newKey({}, liveStub);
      await expect(adapter.inspect(creds, 'live')).resolves.toMatchObject({ inspection: 'trading_only' });
      expect((await failure(adapter.inspect(creds, 'paper'))).kind).toBe('credentials_invalid');
    });
  });

  describe('placeOrder', () => {
    it('fills a market order and moves the position', async () => {
      const creds = newKey();
      stub.setPrice('AAPL', 187.5);
      const req = order();
      const ack = await adapter.placeOrder(creds, req);
      expect(ack).toMatchObject({ clientOrderId: req.clientOrderId, status: 'filled', filledQuantity: '3', averagePrice: '187.5' });
      expect(ack.brokerOrderId).toBe(stub.ordersByClientId.get(req.clientOrderId)?.id);
      expect(lastOrderBody()).toEqual({ symbol: 'AAPL', qty: '3', side: 'buy', type: 'market', time_in_force: 'day', client_order_id: req.clientOrderId });
      expect(await adapter.getPosition(creds, 'AAPL', 'paper', 'conn-1')).toEqual({ symbol: 'AAPL', quantity: '3' });

      await adapter.placeOrder(creds, order({ side: 'sell', quantity: '5' }));
      expect(await adapter.getPosition(creds, 'AAPL', 'paper', 'conn-1')).toEqual({ symbol: 'AAPL', quantity: '-2' });
    });

    it('reports no position as zero', async () => {
      expect(await adapter.getPosition(newKey(), 'MSFT', 'paper', 'conn-1')).toEqual({ symbol: 'MSFT', quantity: '0' });
    });

    it('places a resting limit order with the given time in force', async () => {
      const creds = newKey();
      const req = order({ type: 'limit', limitPrice: '150.25', timeInForce: 'gtc', stopPrice: '1' });
      const ack = await adapter.placeOrder(creds, req);
      expect(ack).toMatchObject({ status: 'accepted', clientOrderId: req.clientOrderId });
      expect(ack.filledQuantity).toBeUndefined();
      expect(lastOrderBody()).toMatchObject({ type: 'limit', limit_price: '150.25', time_in_force: 'gtc' });
      expect(lastOrderBody()).not.toHaveProperty('stop_price');
    });

    it('sends both exits as a bracket and a single exit as oto', async () => {
      const creds = newKey();
      const bracket = await adapter.placeOrder(creds, order({ takeProfit: '120', stopLoss: '90' }));
      expect(bracket.status).toBe('filled');
      expect(lastOrderBody()).toMatchObject({ order_class: 'bracket', take_profit: { limit_price: '120' }, stop_loss: { stop_price: '90' } });
      const stubOrder = stub.orders.find((o) => o.id === bracket.brokerOrderId)!;
      expect(stubOrder.legs?.map((l) => [l.type, l.status])).toEqual([
        ['limit', 'new'],
        ['stop', 'held'],
      ]);

      await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '99', stopLoss: '80' }));
      expect(lastOrderBody()).toMatchObject({ order_class: 'oto', stop_loss: { stop_price: '80' } });
      expect(lastOrderBody()).not.toHaveProperty('take_profit');
    });

    it("reads a bracket's legs from the answer and the lookup: role, its own client order id, side, type, prices and state", async () => {
      const creds = newKey();
      const placed = await adapter.placeOrder(creds, order({ takeProfit: '120', stopLoss: '90', stopLossLimit: '89.5' }));
      const stubOrder = stub.orders.find((o) => o.id === placed.brokerOrderId)!;
      const [tp, sl] = stubOrder.legs!;
      expect(placed.legs).toEqual([
        {
          role: 'take_profit',
          clientOrderId: tp.client_order_id,
          side: 'sell',
          type: 'limit',
          quantity: '3',
          limitPrice: '120',
          stopPrice: undefined,
          state: expect.objectContaining({ brokerOrderId: tp.id, status: 'accepted', filledQuantity: '0' }),
        },
        {
          role: 'stop_loss',
          clientOrderId: sl.client_order_id,
          side: 'sell',
          type: 'stop_limit',
          quantity: '3',
          limitPrice: '89.5',
          stopPrice: '90',
          state: expect.objectContaining({ brokerOrderId: sl.id, status: 'accepted' }),
        },
      ]);
      stub.fillPart(tp.client_order_id, 3, 121);
      const looked = await adapter.getOrder(creds, order({ clientOrderId: stubOrder.client_order_id }));
      expect(looked?.legs?.map((l) => [l.role, l.state.status, l.state.filledQuantity, l.state.averagePrice])).toEqual([
        ['take_profit', 'filled', '3', '121'],
        ['stop_loss', 'canceled', '0', undefined],
      ]);
      // A leg is an order of its own at Alpaca: looked up by its client order id, it has no legs.
      const leg = await adapter.getOrder(creds, order({ clientOrderId: tp.client_order_id }));
      expect(leg).toMatchObject({ brokerOrderId: tp.id, status: 'filled', filledQuantity: '3' });
      expect(leg?.legs).toBeUndefined();
    });

    it('maps insufficient buying power to a non-retryable rejection with the broker message', async () => {
      const creds = newKey({ equity: 1000 });
      const err = await failure(adapter.placeOrder(creds, order({ quantity: '100' })));
      expect(err).toMatchObject({ kind: 'rejected', httpStatus: 403, retryable: false });
      expect(err.message).toContain('insufficient buying power');
      expect(stub.positionOf(creds.apiKey, 'AAPL')).toBe(0);
    });

    it('maps a validation refusal (unknown symbol) to rejected', async () => {
      const err = await failure(adapter.placeOrder(newKey(), order({ symbol: 'NOT_A_SYMBOL' })));
      expect(err).toMatchObject({ kind: 'rejected', httpStatus: 422 });
      expect(err.message).toContain('not found');
    });

    it('refuses an order it cannot express before sending it', async () => {
      const before = stub.requests.length;
      const err = await failure(adapter.placeOrder(newKey(), order({ type: 'limit' })));
      expect(err.kind).toBe('rejected');
      expect(err.message).toContain('limit price');
      expect(stub.requests.length).toBe(before);
    });
  });

  describe('idempotency', () => {
    it('places one order for a client order id sent twice and returns the same broker id', async () => {
      const creds = newKey();
      const req = order();
      const first = await adapter.placeOrder(creds, req);
      const second = await adapter.placeOrder(creds, req);
      expect(second).toEqual(first);
      expect(stub.orders.filter((o) => o.client_order_id === req.clientOrderId)).toHaveLength(1);
      expect(stub.positionOf(creds.apiKey, 'AAPL')).toBe(3);
    });

    it('reports a lost answer as ambiguous; findOrder and a retry then see the one accepted order', async () => {
      const creds = newKey();
      const req = order();
      stub.injectFaults('acceptThenHang');
      const err = await failure(adapter.placeOrder(creds, req));
      expect(err.kind).toBe('ambiguous');
      expect(err.retryable).toBe(true);

      const found = await adapter.findOrder(creds, req);
      expect(found).toMatchObject({ clientOrderId: req.clientOrderId, status: 'filled', filledQuantity: '3' });
      expect(found?.brokerOrderId).toBe(stub.ordersByClientId.get(req.clientOrderId)?.id);
      expect(await adapter.placeOrder(creds, req)).toEqual(found);
      expect(stub.orders.filter((o) => o.client_order_id === req.clientOrderId)).toHaveLength(1);
    });

    it('findOrder returns null for an id the broker never saw', async () => {
      expect(await adapter.findOrder(newKey(), order())).toBeNull();
    });

    it('a replay of an order that was since cancelled is a rejection, not a new order', async () => {
      const creds = newKey();
      const req = order({ type: 'limit', limitPrice: '50' });
      await adapter.placeOrder(creds, req);
      await adapter.cancelOpenOrders(creds, 'AAPL', 'paper', 'conn-1');
      expect(await adapter.findOrder(creds, req)).toMatchObject({ status: 'rejected' });
      expect((await failure(adapter.placeOrder(creds, req))).kind).toBe('rejected');
      expect(stub.orders.filter((o) => o.client_order_id === req.clientOrderId)).toHaveLength(1);
    });
  });

  describe('transport failures', () => {
    it('maps 500 and 429 to transient', async () => {
      const creds = newKey();
      stub.injectFaults('error500');
      expect(await failure(adapter.placeOrder(creds, order()))).toMatchObject({ kind: 'transient', httpStatus: 500 });
      stub.injectFaults('error429');
      expect(await failure(adapter.getEquity(creds, 'paper', 'conn-1'))).toMatchObject({ kind: 'transient', httpStatus: 429 });
      expect(stub.orders.filter((o) => o.apiKey === creds.apiKey)).toHaveLength(0);
    });

    it('maps a hung request to ambiguous within the client timeout', async () => {
      stub.injectFaults('hang');
      const started = Date.now();
      expect((await failure(adapter.getEquity(newKey(), 'paper', 'conn-1'))).kind).toBe('ambiguous');
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('maps a stopped broker to transient and recovers when it is back', async () => {
      const creds = newKey();
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
    it('reads equity, which a fill at market does not change', async () => {
      const creds = newKey({ equity: 25_000 });
      expect(await adapter.getEquity(creds, 'paper', 'conn-1')).toBe('25000');
      await adapter.placeOrder(creds, order({ quantity: '10' }));
      expect(await adapter.getEquity(creds, 'paper', 'conn-1')).toBe('25000');
    });

    it('cancels the open orders of one symbol only and counts them', async () => {
      const creds = newKey();
      await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '90' }));
      await adapter.placeOrder(creds, order({ type: 'stop', stopPrice: '110', side: 'sell' }));
      const msft = await adapter.placeOrder(creds, order({ symbol: 'MSFT', type: 'limit', limitPrice: '300' }));
      await adapter.placeOrder(creds, order({ quantity: '1' })); // filled: nothing to cancel

      expect(await adapter.cancelOpenOrders(creds, 'AAPL', 'paper', 'conn-1')).toBe(2);
      const mine = stub.orders.filter((o) => o.apiKey === creds.apiKey);
      expect(mine.filter((o) => o.symbol === 'AAPL').map((o) => o.status)).toEqual(['canceled', 'canceled', 'filled']);
      expect(mine.find((o) => o.id === msft.brokerOrderId)?.status).toBe('accepted');
      expect(await adapter.cancelOpenOrders(creds, 'AAPL', 'paper', 'conn-1')).toBe(0);
    });

    it('cancels the exit legs of a filled bracket', async () => {
      const creds = newKey();
      const ack = await adapter.placeOrder(creds, order({ takeProfit: '120', stopLoss: '90' }));
      expect(await adapter.cancelOpenOrders(creds, 'AAPL', 'paper', 'conn-1')).toBeGreaterThanOrEqual(1);
      const legs = stub.orders.find((o) => o.id === ack.brokerOrderId)?.legs ?? [];
      expect(legs.map((l) => l.status)).toEqual(['canceled', 'canceled']);
    });

    it('cannot revoke keys', async () => {
      expect(await adapter.revokeKey(newKey(), 'paper')).toBe(false);
    });
  });

  describe('secret canary', () => {
    it('redacts a secret the broker echoes back', async () => {
      const creds = newKey();
      stub.replyToNextOrder({ status: 403, body: { code: 40310000, message: `key ${creds.apiKey} with secret ${creds.apiSecret} may not trade` } });
      const err = await failure(adapter.placeOrder(creds, order()));
      expect(err.kind).toBe('rejected');
      expect(err.message).toContain('[redacted]');
    });

    it('never puts the secret in any BrokerError message or stack', () => {
      expect(seen.length).toBeGreaterThan(10);
      for (const err of seen) {
        expect(err.message).not.toContain(CANARY);
        expect(String(err.stack)).not.toContain(CANARY);
      }
    });
  });
});
