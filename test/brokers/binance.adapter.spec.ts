import { createHmac, randomBytes } from 'node:crypto';
import type { BrokerAdapter, OrderRequest } from '../../src/brokers/broker-adapter';
import { BrokerError } from '../../src/brokers/broker-error';
import { BrokerHttp } from '../../src/brokers/broker-http';
import { BinanceAdapter } from '../../src/brokers/binance/binance.adapter';
import { BinanceKeyOptions, BinanceStub, startBinanceStub } from '../support/brokers/binance-stub';

const TIMEOUT_MS = 300;

let stub: BinanceStub;
let http: BrokerHttp;
let adapter: BrokerAdapter;
let seq = 0;

beforeAll(async () => {
  stub = await startBinanceStub();
  http = new BrokerHttp('binance', stub.url, TIMEOUT_MS);
  adapter = binance(http);
});

afterAll(async () => {
  await http.close();
  await stub.stop();
});

/** Typed as the contract: the tests call what routing and onboarding call. */
function binance(client: BrokerHttp, clock?: () => number): BrokerAdapter {
  return new BinanceAdapter({ paper: client, live: client }, clock);
}

/** A fresh account at the stub, so tests never share balances or orders. */
function account(options: Partial<BinanceKeyOptions> = {}): { apiKey: string; apiSecret: string } {
  const creds = { apiKey: `key${++seq}${randomBytes(12).toString('hex')}`, apiSecret: `SECRET-${randomBytes(24).toString('hex')}` };
  stub.addKey({ ...creds, balances: { USDT: '10000', BTC: '1' }, ...options });
  return creds;
}

function order(overrides: Partial<OrderRequest> = {}): OrderRequest {
  return {
    clientOrderId: `sy-${++seq}-${randomBytes(4).toString('hex')}`,
    symbol: 'BTCUSDT',
    side: 'buy',
    type: 'market',
    quantity: '0.01',
    environment: 'live',
    connectionId: 'conn-1',
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<BrokerError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BrokerError);
  return err as BrokerError;
}

describe('paper connections trade on the Spot Testnet, never on the exchange', () => {
  let testnet: BinanceStub;
  let testnetHttp: BrokerHttp;
  let split: BrokerAdapter;

  beforeAll(async () => {
    testnet = await startBinanceStub({ testnet: true });
    testnetHttp = new BrokerHttp('binance', testnet.url, TIMEOUT_MS);
    split = new BinanceAdapter({ paper: testnetHttp, live: http });
  });

  afterAll(async () => {
    await testnetHttp.close();
    await testnet.stop();
  });

  it('checks a testnet key by its account (the testnet has no /sapi) and says it holds test funds only', async () => {
    const creds = { apiKey: `tn${randomBytes(12).toString('hex')}`, apiSecret: `SECRET-${randomBytes(24).toString('hex')}` };
    testnet.addKey({ ...creds, balances: { USDT: '10000' } });
    const report = await split.inspect(creds, 'paper');
    expect(report).toMatchObject({ inspection: 'trading_only', canTrade: true, canWithdraw: false, canTransfer: false, details: { testnet: true } });
    expect(report.note).toMatch(/Spot Testnet.*test funds only/);
    expect(testnet.received('GET', '/api/v3/account')).toHaveLength(1);
    expect(stub.received('GET', '/api/v3/account').some((r) => r.headers['x-mbx-apikey'] === creds.apiKey)).toBe(false);
    // The same key is unknown to the exchange: a live inspection of it goes there and is refused.
    expect((await failure(split.inspect(creds, 'live'))).kind).toBe('credentials_invalid');
  });

  it('a paper order reaches the testnet; a live one the exchange', async () => {
    const creds = { apiKey: `tn${randomBytes(12).toString('hex')}`, apiSecret: `SECRET-${randomBytes(24).toString('hex')}` };
    testnet.addKey({ ...creds, balances: { USDT: '10000' } });
    stub.addKey({ ...creds, balances: { USDT: '10000' } });
    const paper = order({ environment: 'paper' });
    expect(await split.placeOrder(creds, paper)).toMatchObject({ clientOrderId: paper.clientOrderId, status: 'filled' });
    expect(testnet.orders(creds.apiKey).map((o) => o.clientOrderId)).toEqual([paper.clientOrderId]);
    expect(stub.orders(creds.apiKey)).toEqual([]);
    const live = order({ environment: 'live' });
    await split.placeOrder(creds, live);
    expect(stub.orders(creds.apiKey).map((o) => o.clientOrderId)).toEqual([live.clientOrderId]);
    expect(await split.findOrder(creds, { ...paper, environment: 'paper' })).toMatchObject({ clientOrderId: paper.clientOrderId });
    expect(await split.findOrder(creds, { ...paper, environment: 'live' })).toBeNull();
  });
});

describe('inspect', () => {
  it('reports a trading-only key with the flags Binance returned', async () => {
    const creds = account({ ipRestrict: true });
    const report = await adapter.inspect(creds, 'live');
    expect(report).toMatchObject({ inspection: 'inspected', canTrade: true, canWithdraw: false, canTransfer: false, keyHint: `…${creds.apiKey.slice(-4)}` });
    expect(report.details).toMatchObject({
      ipRestrict: true,
      enableWithdrawals: false,
      enableInternalTransfer: false,
      permitsUniversalTransfer: false,
      enableSpotAndMarginTrading: true,
      enableReading: true,
    });
  });

  it('reports a key without spot trading as unable to trade', async () => {
    const report = await adapter.inspect(account({ enableSpotAndMarginTrading: false }), 'live');
    expect(report.canTrade).toBe(false);
    expect(report.note).toMatch(/cannot trade/);
  });

  it.each(['enableWithdrawals', 'enableInternalTransfer', 'permitsUniversalTransfer'] as const)('refuses a key with %s', async (flag) => {
    const creds = account({ [flag]: true });
    const err = await failure(adapter.inspect(creds, 'live'));
    expect(err.kind).toBe('withdrawal_scope_rejected');
    expect(err.message).toContain(flag);
    expect(err.message).not.toContain(creds.apiKey);
  });

  it('refuses a wrong secret and an unknown key as credentials_invalid', async () => {
    const creds = account();
    const wrongSecret = await failure(adapter.inspect({ ...creds, apiSecret: 'not-the-secret' }, 'live'));
    expect(wrongSecret).toMatchObject({ kind: 'credentials_invalid', retryable: false });
    expect(wrongSecret.message).toContain('-1022');
    const unknownKey = await failure(adapter.inspect({ apiKey: 'nobody', apiSecret: 'x' }, 'live'));
    expect(unknownKey.kind).toBe('credentials_invalid');
    expect(unknownKey.message).toContain('-2015');
  });

  it('refuses malformed credentials before any request', async () => {
    const before = stub.server.requests.length;
    const err = await failure(adapter.inspect({ apiKey: 'has space', apiSecret: '' }, 'live'));
    expect(err.kind).toBe('credentials_invalid');
    expect(stub.server.requests.length).toBe(before);
  });
});

describe('the stub verifies SIGNED requests like Binance', () => {
  async function call(
    creds: { apiKey: string; apiSecret: string },
    tamper: (qs: string, sig: string) => string,
  ): Promise<{ status: number; body: { code?: number } }> {
    const qs = `recvWindow=5000&timestamp=${Date.now()}`;
    const sig = createHmac('sha256', creds.apiSecret).update(qs).digest('hex');
    const res = await fetch(`${stub.url}/sapi/v1/account/apiRestrictions?${tamper(qs, sig)}`, { headers: { 'X-MBX-APIKEY': creds.apiKey } });
    return { status: res.status, body: (await res.json()) as { code?: number } };
  }

  it('accepts the genuine signature (also upper-cased) and refuses a tampered one', async () => {
    const creds = account();
    expect((await call(creds, (qs, sig) => `${qs}&signature=${sig}`)).status).toBe(200);
    expect((await call(creds, (qs, sig) => `${qs}&signature=${sig.toUpperCase()}`)).status).toBe(200);
    const flipped = await call(creds, (qs, sig) => `${qs}&signature=${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`);
    expect(flipped.body.code).toBe(-1022);
    const replayedParams = await call(creds, (qs, sig) => `${qs.replace('recvWindow=5000', 'recvWindow=60000')}&signature=${sig}`);
    expect(replayedParams.body.code).toBe(-1022);
  });

  it('signs query string and body together for POST', async () => {
    const creds = account();
    const query = 'symbol=BTCUSDT&side=BUY&type=MARKET';
    const body = `quantity=0.001&newClientOrderId=mixed-1&recvWindow=5000&timestamp=${Date.now()}`;
    const sig = createHmac('sha256', creds.apiSecret)
      .update(query + body)
      .digest('hex');
    const res = await fetch(`${stub.url}/api/v3/order?${query}`, {
      method: 'POST',
      headers: { 'X-MBX-APIKEY': creds.apiKey, 'content-type': 'application/x-www-form-urlencoded' },
      body: `${body}&signature=${sig}`,
    });
    expect(res.status).toBe(200);
    expect(stub.orders(creds.apiKey)).toHaveLength(1);
  });

  it('refuses a timestamp outside recvWindow (-1021), which the adapter treats as transient', async () => {
    const skewed = binance(http, () => Date.now() - 10_000);
    const err = await failure(skewed.inspect(account(), 'live'));
    expect(err).toMatchObject({ kind: 'transient', retryable: true });
    expect(err.message).toContain('-1021');
  });
});

describe('placeOrder', () => {
  it('fills a market order and reports quantity and average price', async () => {
    const creds = account();
    const ack = await adapter.placeOrder(creds, order({ quantity: '0.01' }));
    expect(ack).toMatchObject({ status: 'filled', filledQuantity: '0.01', averagePrice: '50000' });
    expect(stub.balance(creds.apiKey, 'BTC').free).toBe('1.01000000');
    expect(stub.balance(creds.apiKey, 'USDT').free).toBe('9500.00000000');
    const sent = new URLSearchParams(stub.received('POST', '/api/v3/order').at(-1)!.body);
    expect(Object.fromEntries(sent)).toMatchObject({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: '0.01',
      newOrderRespType: 'FULL',
      recvWindow: '5000',
    });
  });

  it('rests a limit order with GTC by default and accepts a TradingView-style symbol', async () => {
    const creds = account();
    const ack = await adapter.placeOrder(creds, order({ symbol: 'BINANCE:BTCUSDT', type: 'limit', side: 'sell', limitPrice: '60000', quantity: '0.5' }));
    expect(ack.status).toBe('accepted');
    expect(stub.orders(creds.apiKey)[0]).toMatchObject({ type: 'LIMIT', timeInForce: 'GTC', side: 'SELL', status: 'NEW' });
    expect(stub.balance(creds.apiKey, 'BTC')).toEqual({ free: '0.50000000', locked: '0.50000000' });
  });

  it('sends stop_limit as STOP_LOSS_LIMIT with both prices', async () => {
    const creds = account();
    const ack = await adapter.placeOrder(
      creds,
      order({ type: 'stop_limit', side: 'sell', stopPrice: '45000', limitPrice: '44900', quantity: '0.1', timeInForce: 'ioc' }),
    );
    expect(ack.status).toBe('accepted');
    expect(stub.orders(creds.apiKey)[0]).toMatchObject({
      type: 'STOP_LOSS_LIMIT',
      timeInForce: 'IOC',
      stopPrice: 4_500_000_000_000n,
      price: 4_490_000_000_000n,
    });
  });

  it.each([
    ['a plain stop', { type: 'stop' as const, stopPrice: '40000' }],
    ['a take-profit bracket', { takeProfit: '60000' }],
    ['a stop-loss bracket', { stopLoss: '40000' }],
    ['a day limit order', { type: 'limit' as const, limitPrice: '40000', timeInForce: 'day' as const }],
  ])('refuses %s as unsupported_order_type without sending it', async (_name, overrides) => {
    const before = stub.server.requests.length;
    const err = await failure(adapter.placeOrder(account(), order(overrides)));
    expect(err).toMatchObject({ kind: 'unsupported_order_type', retryable: false });
    expect(stub.server.requests.length).toBe(before);
  });

  it('reports insufficient balance and an unknown symbol as rejected, not retryable', async () => {
    const creds = account({ balances: { USDT: '10' } });
    const poor = await failure(adapter.placeOrder(creds, order({ quantity: '1' })));
    expect(poor).toMatchObject({ kind: 'rejected', retryable: false });
    expect(poor.message).toMatch(/insufficient balance/);
    const unknown = await failure(adapter.placeOrder(creds, order({ symbol: 'NOPEUSDT' })));
    expect(unknown.kind).toBe('rejected');
    expect(unknown.message).toContain('-1121');
    expect(stub.orders(creds.apiKey)).toHaveLength(0);
  });
});

describe('idempotency', () => {
  it('places one order for the same client order id sent twice, even after it filled', async () => {
    const creds = account();
    const o = order();
    const first = await adapter.placeOrder(creds, o);
    const second = await adapter.placeOrder(creds, o);
    expect(second.brokerOrderId).toBe(first.brokerOrderId);
    expect(stub.orders(creds.apiKey)).toHaveLength(1);
    expect(stub.balance(creds.apiKey, 'BTC').free).toBe('1.01000000');
  });

  it('places one order when two attempts race with the same id', async () => {
    const creds = account();
    const o = order({ type: 'limit', limitPrice: '40000' });
    const acks = await Promise.all([adapter.placeOrder(creds, o), adapter.placeOrder(creds, o)]);
    expect(acks[0].brokerOrderId).toBe(acks[1].brokerOrderId);
    expect(stub.orders(creds.apiKey)).toHaveLength(1);
  });

  it('reports a lost answer as ambiguous; findOrder then finds exactly that order and a retry does not re-send', async () => {
    const creds = account();
    const o = order();
    stub.failNextOrder('acceptThenHang');
    const err = await failure(adapter.placeOrder(creds, o));
    expect(err).toMatchObject({ kind: 'ambiguous', retryable: true });
    expect(stub.orders(creds.apiKey)).toHaveLength(1);

    const found = await adapter.findOrder(creds, o);
    expect(found).toMatchObject({ brokerOrderId: String(stub.orders(creds.apiKey)[0].orderId), clientOrderId: o.clientOrderId, status: 'filled' });
    const posts = stub.received('POST', '/api/v3/order').length;
    expect((await adapter.placeOrder(creds, o)).brokerOrderId).toBe(found!.brokerOrderId);
    expect(stub.received('POST', '/api/v3/order')).toHaveLength(posts);
    expect(stub.orders(creds.apiKey)).toHaveLength(1);
  });

  it('findOrder returns null for an id Binance never saw', async () => {
    expect(await adapter.findOrder(account(), order())).toBeNull();
  });
});

describe('getOrder (the order lifecycle)', () => {
  it('follows a resting limit order through two partial fills to filled, with the average price and the time of the change', async () => {
    const creds = account();
    const o = order({ type: 'limit', limitPrice: '50000', quantity: '0.1' });
    await adapter.placeOrder(creds, o);
    expect(await adapter.getOrder!(creds, o)).toMatchObject({ status: 'accepted', filledQuantity: '0' });

    stub.fillPart(o.clientOrderId, '0.04', '49000');
    const partial = await adapter.getOrder!(creds, o);
    expect(partial).toMatchObject({
      brokerOrderId: String(stub.orders(creds.apiKey)[0].orderId),
      status: 'partially_filled',
      filledQuantity: '0.04',
      averagePrice: '49000',
    });
    expect(Date.parse(partial!.updatedAt!)).toBeGreaterThan(Date.now() - 60_000);

    stub.fillPart(o.clientOrderId, '0.06', '50000');
    expect(await adapter.getOrder!(creds, o)).toMatchObject({ status: 'filled', filledQuantity: '0.1', averagePrice: '49600' });
    // The hold at the limit price is released; the trades were paid at their own prices.
    expect(stub.balance(creds.apiKey, 'USDT')).toEqual({ free: '5040.00000000', locked: '0.00000000' });
  });

  it('reports a canceled order with what filled before, and null for an order Binance never saw', async () => {
    const creds = account();
    const o = order({ type: 'limit', limitPrice: '40000', quantity: '0.1' });
    await adapter.placeOrder(creds, o);
    stub.fillPart(o.clientOrderId, '0.02', '40000');
    expect(await adapter.cancelOpenOrders(creds, 'BTCUSDT', 'live', 'conn-1')).toBe(1);
    expect(await adapter.getOrder!(creds, o)).toMatchObject({
      status: 'canceled',
      filledQuantity: '0.02',
      averagePrice: '40000',
      reason: 'order CANCELED at Binance',
    });
    expect(stub.balance(creds.apiKey, 'USDT')).toEqual({ free: '9200.00000000', locked: '0.00000000' });
    expect(await adapter.getOrder!(creds, order())).toBeNull();
  });
});

describe('transport failures', () => {
  it.each(['error500', 'error429'] as const)('maps %s to transient', async (fault) => {
    const creds = account();
    stub.server.injectFaults(fault);
    const err = await failure(adapter.placeOrder(creds, order()));
    expect(err).toMatchObject({ kind: 'transient', retryable: true });
    expect(stub.orders(creds.apiKey)).toHaveLength(0);
  });

  it('maps a stopped broker to transient', async () => {
    const creds = account();
    // A fresh client: a pooled socket the stub cut mid-flight is (rightly) ambiguous, a refused connect is transient.
    const fresh = new BrokerHttp('binance', stub.url, TIMEOUT_MS);
    await stub.stop();
    try {
      const err = await failure(binance(fresh).getEquity(creds, 'live', 'conn-1'));
      expect(err).toMatchObject({ kind: 'transient', retryable: true });
    } finally {
      await stub.start();
      await fresh.close();
    }
    expect(await adapter.getEquity(creds, 'live', 'conn-1')).toBe('10000');
  });
});

describe('account', () => {
  it('reads the position as free + locked base asset after a fill and a resting sell', async () => {
    const creds = account({ balances: { USDT: '10000' } });
    expect(await adapter.getPosition(creds, 'BTCUSDT', 'live', 'conn-1')).toEqual({ symbol: 'BTCUSDT', quantity: '0' });
    await adapter.placeOrder(creds, order({ quantity: '0.03' }));
    await adapter.placeOrder(creds, order({ type: 'limit', side: 'sell', limitPrice: '70000', quantity: '0.01' }));
    expect(await adapter.getPosition(creds, 'BTCUSDT', 'live', 'conn-1')).toEqual({ symbol: 'BTCUSDT', quantity: '0.03' });
  });

  it('cancels the open orders of one symbol and counts them', async () => {
    const creds = account();
    await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '40000' }));
    await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '41000' }));
    await adapter.placeOrder(creds, order({ symbol: 'ETHUSDT', type: 'limit', limitPrice: '2000', quantity: '1' }));
    expect(await adapter.cancelOpenOrders(creds, 'BTCUSDT', 'live', 'conn-1')).toBe(2);
    expect(await adapter.cancelOpenOrders(creds, 'BTCUSDT', 'live', 'conn-1')).toBe(0);
    expect(
      stub
        .orders(creds.apiKey)
        .filter((o) => o.status === 'NEW')
        .map((o) => o.symbol),
    ).toEqual(['ETHUSDT']);
    expect(stub.balance(creds.apiKey, 'USDT')).toEqual({ free: '8000.00000000', locked: '2000.00000000' });
  });

  it('reports equity as the USDT balance, free + locked', async () => {
    const creds = account({ balances: { USDT: '1234.5', BTC: '2' } });
    await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '20000', quantity: '0.01' }));
    expect(await adapter.getEquity(creds, 'live', 'conn-1')).toBe('1234.5');
  });

  it('cannot revoke keys', async () => {
    expect(await adapter.revokeKey(account(), 'live')).toBe(false);
  });
});

describe('secret canary', () => {
  it('never puts the API secret into a BrokerError message', async () => {
    const creds = account({ balances: { USDT: '1' } });
    const attempts: Array<Promise<unknown>> = [
      adapter.inspect({ ...creds, apiSecret: `${creds.apiSecret}x` }, 'live'),
      adapter.inspect(account({ enableWithdrawals: true, apiSecret: creds.apiSecret }), 'live'),
      adapter.placeOrder(creds, order({ quantity: '5' })),
      adapter.placeOrder(creds, order({ type: 'stop', stopPrice: '1' })),
      adapter.placeOrder(creds, order({ symbol: 'NOPEUSDT' })),
      binance(http, () => 0).getEquity(creds, 'live', 'conn-1'),
      adapter.inspect({ apiKey: creds.apiKey, apiSecret: '' }, 'live'),
    ];
    const errors = await Promise.all(attempts.map(failure));
    stub.failNextOrder('hang');
    errors.push(await failure(adapter.placeOrder(creds, order({ quantity: '0.00001' }))));
    expect(errors.map((e) => e.kind)).toContain('ambiguous');
    for (const e of errors) {
      expect(e.message).not.toContain(creds.apiSecret);
      expect(JSON.stringify(e)).not.toContain(creds.apiSecret);
    }
  });
});
