import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { BrokerAdapter, OrderRequest } from '../../src/brokers/broker-adapter';
import { BrokerError } from '../../src/brokers/broker-error';
import { BrokerHttp } from '../../src/brokers/broker-http';
import { CoinbaseAdapter } from '../../src/brokers/coinbase/coinbase.adapter';
import { CoinbaseKeyOptions, CoinbaseStub, startCoinbaseStub } from '../support/brokers/coinbase-stub';

const TIMEOUT_MS = 300;
const ORDERS = '/api/v3/brokerage/orders';

let stub: CoinbaseStub;
let http: BrokerHttp;
let adapter: BrokerAdapter;
let seq = 0;

beforeAll(async () => {
  stub = await startCoinbaseStub();
  http = new BrokerHttp('coinbase', stub.url, TIMEOUT_MS);
  adapter = coinbase(http);
});

afterAll(async () => {
  await http.close();
  await stub.stop();
});

/** Typed as the contract: the tests call what routing and onboarding call. */
function coinbase(client: BrokerHttp, clock?: () => number): BrokerAdapter {
  return new CoinbaseAdapter(client, clock);
}

function p256(): { privateKey: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey: privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** A fresh CDP key and account at the stub, so tests never share balances or orders. */
function account(options: Partial<Omit<CoinbaseKeyOptions, 'publicKeyPem'>> = {}): { apiKeyName: string; privateKey: string } {
  const { privateKey, publicKeyPem } = p256();
  const apiKeyName = `organizations/org-${randomBytes(4).toString('hex')}/apiKeys/key-${++seq}-${randomBytes(4).toString('hex')}`;
  stub.addKey({ apiKeyName, publicKeyPem, balances: { USD: '10000', BTC: '1' }, ...options });
  return { apiKeyName: options.apiKeyName ?? apiKeyName, privateKey };
}

function order(overrides: Partial<OrderRequest> = {}): OrderRequest {
  return {
    clientOrderId: `sy-${++seq}-${randomBytes(4).toString('hex')}`,
    symbol: 'BTC-USD',
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

function lastOrderBody(): Record<string, unknown> {
  return JSON.parse(stub.received('POST', ORDERS).at(-1)!.body) as Record<string, unknown>;
}

describe('inspect', () => {
  it('reports a view-and-trade key with the permissions Coinbase returned', async () => {
    const creds = account();
    const report = await adapter.inspect(creds, 'live');
    expect(report).toMatchObject({
      inspection: 'inspected',
      canTrade: true,
      canWithdraw: false,
      canTransfer: false,
      keyHint: `…${creds.apiKeyName.slice(-4)}`,
    });
    expect(report.details).toEqual({ can_view: true, can_trade: true, can_transfer: false, portfolio_type: 'DEFAULT' });
  });

  it('reports a view-only key as unable to trade', async () => {
    const report = await adapter.inspect(account({ canTrade: false }), 'live');
    expect(report.canTrade).toBe(false);
    expect(report.note).toMatch(/cannot trade/);
  });

  it('refuses a key with the transfer permission', async () => {
    const creds = account({ canTransfer: true });
    const err = await failure(adapter.inspect(creds, 'live'));
    expect(err.kind).toBe('withdrawal_scope_rejected');
    expect(err.message).toContain('can_transfer');
    expect(err.message).not.toContain(creds.apiKeyName);
  });

  it('refuses a JWT signed with another private key as credentials_invalid', async () => {
    const creds = account();
    const err = await failure(adapter.inspect({ ...creds, privateKey: p256().privateKey }, 'live'));
    expect(err).toMatchObject({ kind: 'credentials_invalid', httpStatus: 401, retryable: false });
  });

  it('refuses an unreadable or non-P-256 private key before any request, without echoing it', async () => {
    const creds = account();
    const before = stub.server.requests.length;
    const garbage = '-----BEGIN EC PRIVATE KEY-----\nTm90QUtleUF0QWxsX3NlY3JldC1tYXRlcmlhbA==\n-----END EC PRIVATE KEY-----';
    const unreadable = await failure(adapter.inspect({ ...creds, privateKey: garbage }, 'live'));
    expect(unreadable.kind).toBe('credentials_invalid');
    expect(unreadable.message).not.toContain('Tm90QUtleU');
    const ed25519 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const wrongCurve = await failure(adapter.inspect({ ...creds, privateKey: ed25519 }, 'live'));
    expect(wrongCurve.message).toMatch(/ECDSA/);
    expect(stub.server.requests.length).toBe(before);
  });

  it('accepts a private key pasted with literal \\n sequences', async () => {
    const creds = account();
    const report = await adapter.inspect({ ...creds, privateKey: creds.privateKey.trim().replace(/\n/g, '\\n') }, 'live');
    expect(report.canTrade).toBe(true);
  });
});

describe('the stub verifies CDP JWTs like Coinbase', () => {
  /** The Authorization header the adapter sent last to `path`. */
  function lastToken(path: string): string {
    return stub.received('GET', path).at(-1)!.headers.authorization as string;
  }

  async function replay(path: string, authorization: string): Promise<{ status: number; message?: string }> {
    const res = await fetch(`${stub.url}${path}`, { headers: { authorization } });
    return { status: res.status, message: ((await res.json()) as { message?: string }).message };
  }

  it('takes a token only for the method and path it was signed for', async () => {
    await adapter.inspect(account(), 'live');
    const token = lastToken('/api/v3/brokerage/key_permissions');
    expect((await replay('/api/v3/brokerage/key_permissions', token)).status).toBe(200);
    const elsewhere = await replay('/api/v3/brokerage/accounts', token);
    expect(elsewhere).toEqual({ status: 401, message: 'Unauthorized: uri claim does not match the request' });
  });

  it('refuses a token whose signature or claims were tampered with', async () => {
    await adapter.inspect(account(), 'live');
    const token = lastToken('/api/v3/brokerage/key_permissions');
    const [h, p, s] = token.slice('Bearer '.length).split('.');
    const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    expect(await replay('/api/v3/brokerage/key_permissions', `Bearer ${h}.${p}.${flipped}`)).toMatchObject({
      status: 401,
      message: 'Unauthorized: bad signature',
    });
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const widened = Buffer.from(JSON.stringify({ ...claims, uri: 'GET 127.0.0.1/api/v3/brokerage/accounts' })).toString('base64url');
    expect(await replay('/api/v3/brokerage/accounts', `Bearer ${h}.${widened}.${s}`)).toMatchObject({ status: 401, message: 'Unauthorized: bad signature' });
  });

  it('refuses an expired token (clock off by minutes) as credentials_invalid', async () => {
    const late = coinbase(http, () => Date.now() - 5 * 60_000);
    const err = await failure(late.inspect(account(), 'live'));
    expect(err.kind).toBe('credentials_invalid');
    expect(stub.server.requests.at(-1)!.path).toBe('/api/v3/brokerage/key_permissions');
  });
});

describe('placeOrder', () => {
  it('sends a market order for a plain symbol as market_market_ioc on BTC-USD', async () => {
    const creds = account();
    const o = order({ symbol: 'BTCUSD', quantity: '0.01' });
    const ack = await adapter.placeOrder(creds, o);
    expect(ack).toMatchObject({ clientOrderId: o.clientOrderId, status: 'accepted' });
    expect(lastOrderBody()).toEqual({
      client_order_id: o.clientOrderId,
      product_id: 'BTC-USD',
      side: 'BUY',
      order_configuration: { market_market_ioc: { base_size: '0.01' } },
    });
    expect(stub.orders(creds.apiKeyName)[0]).toMatchObject({ order_id: ack.brokerOrderId, status: 'FILLED' });
    expect(stub.balance(creds.apiKeyName, 'BTC').available).toBe('1.01000000');
  });

  it('sends a limit order as limit_limit_gtc and an ioc limit as sor_limit_ioc', async () => {
    const creds = account();
    await adapter.placeOrder(creds, order({ type: 'limit', side: 'sell', limitPrice: '60000', quantity: '0.5' }));
    expect(lastOrderBody().order_configuration).toEqual({ limit_limit_gtc: { base_size: '0.5', limit_price: '60000', post_only: false } });
    expect(stub.balance(creds.apiKeyName, 'BTC')).toEqual({ available: '0.50000000', hold: '0.50000000' });
    await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '51000', timeInForce: 'ioc' }));
    expect(lastOrderBody().order_configuration).toEqual({ sor_limit_ioc: { base_size: '0.01', limit_price: '51000' } });
  });

  it('sends stop_limit as stop_limit_stop_limit_gtc with the direction of the side', async () => {
    const creds = account();
    await adapter.placeOrder(creds, order({ type: 'stop_limit', side: 'buy', stopPrice: '55000', limitPrice: '55100' }));
    expect(lastOrderBody().order_configuration).toEqual({
      stop_limit_stop_limit_gtc: { base_size: '0.01', limit_price: '55100', stop_price: '55000', stop_direction: 'STOP_DIRECTION_STOP_UP' },
    });
    await adapter.placeOrder(creds, order({ type: 'stop_limit', side: 'sell', stopPrice: '45000', limitPrice: '44900' }));
    expect((lastOrderBody().order_configuration as Record<string, { stop_direction: string }>).stop_limit_stop_limit_gtc.stop_direction).toBe(
      'STOP_DIRECTION_STOP_DOWN',
    );
    expect(stub.orders(creds.apiKeyName).map((o) => o.status)).toEqual(['OPEN', 'OPEN']);
  });

  it('attaches take-profit and stop-loss as a trigger_bracket_gtc without a size', async () => {
    const creds = account();
    await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '50000', takeProfit: '60000', stopLoss: '45000' }));
    expect(lastOrderBody().attached_order_configuration).toEqual({ trigger_bracket_gtc: { limit_price: '60000', stop_trigger_price: '45000' } });
    expect(stub.orders(creds.apiKeyName)).toHaveLength(1);
  });

  it.each([
    ['a plain stop', { type: 'stop' as const, stopPrice: '40000' }],
    ['a take-profit alone', { takeProfit: '60000' }],
    ['a day limit order', { type: 'limit' as const, limitPrice: '40000', timeInForce: 'day' as const }],
    ['an ioc stop-limit', { type: 'stop_limit' as const, limitPrice: '40000', stopPrice: '40100', timeInForce: 'ioc' as const }],
  ])('refuses %s as unsupported_order_type without sending it', async (_name, overrides) => {
    const before = stub.server.requests.length;
    const err = await failure(adapter.placeOrder(account(), order(overrides)));
    expect(err).toMatchObject({ kind: 'unsupported_order_type', retryable: false });
    expect(stub.server.requests.length).toBe(before);
  });

  it('reports insufficient funds and an unknown product as rejected, not retryable', async () => {
    const creds = account({ balances: { USD: '10' } });
    const poor = await failure(adapter.placeOrder(creds, order({ quantity: '1' })));
    expect(poor).toMatchObject({ kind: 'rejected', retryable: false });
    expect(poor.message).toContain('INSUFFICIENT_FUND');
    const unknown = await failure(adapter.placeOrder(creds, order({ symbol: 'DOGE-USD' })));
    expect(unknown.message).toContain('INVALID_PRODUCT_ID');
    expect(stub.orders(creds.apiKeyName)).toHaveLength(0);
  });

  it('reports a key without the trade permission as credentials_invalid', async () => {
    const err = await failure(adapter.placeOrder(account({ canTrade: false }), order()));
    expect(err).toMatchObject({ kind: 'credentials_invalid', httpStatus: 403 });
  });
});

describe('idempotency', () => {
  it('places one order for the same client order id sent twice', async () => {
    const creds = account();
    const o = order();
    const first = await adapter.placeOrder(creds, o);
    const second = await adapter.placeOrder(creds, o);
    expect(second.brokerOrderId).toBe(first.brokerOrderId);
    expect(stub.orders(creds.apiKeyName)).toHaveLength(1);
  });

  it('reports a lost answer as ambiguous; findOrder then finds exactly that order', async () => {
    const creds = account();
    const o = order();
    stub.failNextOrder('acceptThenHang');
    const err = await failure(adapter.placeOrder(creds, o));
    expect(err).toMatchObject({ kind: 'ambiguous', retryable: true });
    const [placed] = stub.orders(creds.apiKeyName);
    const found = await adapter.findOrder(creds, o);
    expect(found).toEqual({ brokerOrderId: placed.order_id, clientOrderId: o.clientOrderId, status: 'filled', filledQuantity: '0.01', averagePrice: '50000' });
    expect((await adapter.placeOrder(creds, o)).brokerOrderId).toBe(placed.order_id);
    expect(stub.orders(creds.apiKeyName)).toHaveLength(1);
  });

  it('findOrder pages through the product history and returns null for an id never seen', async () => {
    const creds = account({ balances: { USD: '1000000' } });
    const target = order({ type: 'limit', limitPrice: '1000' });
    await adapter.placeOrder(creds, target);
    for (let i = 0; i < 100; i++) await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '1000' }));
    const before = stub.received('GET', `${ORDERS}/historical/batch`).length;
    expect(await adapter.findOrder(creds, target)).toMatchObject({ clientOrderId: target.clientOrderId, status: 'accepted' });
    expect(stub.received('GET', `${ORDERS}/historical/batch`).length - before).toBe(2);
    expect(await adapter.findOrder(creds, order())).toBeNull();
  });
});

describe('getOrder (the order lifecycle)', () => {
  it('follows a resting limit order through two partial fills by Get Order with the id from the first answer', async () => {
    const creds = account();
    const o = order({ type: 'limit', limitPrice: '50000', quantity: '0.1' });
    const ack = await adapter.placeOrder(creds, o);
    const lookup = { ...o, brokerOrderId: ack.brokerOrderId };
    expect(await adapter.getOrder!(creds, lookup)).toMatchObject({ brokerOrderId: ack.brokerOrderId, status: 'accepted', filledQuantity: '0' });

    stub.fillPart(o.clientOrderId, '0.04', '49000');
    const partial = await adapter.getOrder!(creds, lookup);
    expect(partial).toMatchObject({ status: 'partially_filled', filledQuantity: '0.04', averagePrice: '49000' });
    expect(Date.parse(partial!.updatedAt!)).toBeGreaterThan(Date.now() - 60_000);
    stub.fillPart(o.clientOrderId, '0.06', '50000');
    expect(await adapter.getOrder!(creds, lookup)).toMatchObject({ status: 'filled', filledQuantity: '0.1', averagePrice: '49600' });
    expect(stub.balance(creds.apiKeyName, 'USD')).toEqual({ available: '5040.00000000', hold: '0.00000000' });
    // One Get Order per ask, never the list scan.
    const asks = stub.server.requests.filter((r) => r.path === `/api/v3/brokerage/orders/historical/${ack.brokerOrderId}`);
    expect(asks).toHaveLength(3);
  });

  it('without the broker id it scans for the client id; a canceled order keeps what filled; null when Coinbase never saw it', async () => {
    const creds = account();
    const o = order({ type: 'limit', limitPrice: '40000', quantity: '0.1' });
    await adapter.placeOrder(creds, o);
    stub.fillPart(o.clientOrderId, '0.02', '40000');
    expect(await adapter.cancelOpenOrders(creds, 'BTC-USD', 'live', 'conn-1')).toBe(1);
    expect(await adapter.getOrder!(creds, o)).toMatchObject({
      status: 'canceled',
      filledQuantity: '0.02',
      averagePrice: '40000',
      reason: 'User requested cancel',
    });
    expect(stub.balance(creds.apiKeyName, 'USD')).toEqual({ available: '9200.00000000', hold: '0.00000000' });
    expect(await adapter.getOrder!(creds, order())).toBeNull();
    expect(await adapter.getOrder!(creds, { ...order(), brokerOrderId: '7d9a5b8e-0000-4000-8000-000000000000' })).toBeNull();
  });
});

describe('transport failures', () => {
  it.each(['error500', 'error429'] as const)('maps %s to transient', async (fault) => {
    const creds = account();
    stub.server.injectFaults(fault);
    const err = await failure(adapter.placeOrder(creds, order()));
    expect(err).toMatchObject({ kind: 'transient', retryable: true });
    expect(stub.orders(creds.apiKeyName)).toHaveLength(0);
  });

  it('maps a stopped broker to transient', async () => {
    const creds = account();
    // A fresh client: a pooled socket the stub cut mid-flight is (rightly) ambiguous, a refused connect is transient.
    const fresh = new BrokerHttp('coinbase', stub.url, TIMEOUT_MS);
    await stub.stop();
    try {
      const err = await failure(coinbase(fresh).getEquity(creds, 'live', 'conn-1'));
      expect(err).toMatchObject({ kind: 'transient', retryable: true });
    } finally {
      await stub.start();
      await fresh.close();
    }
    expect(await adapter.getEquity(creds, 'live', 'conn-1')).toBe('10000');
  });
});

describe('account', () => {
  it('reads the position as the base currency, available + on hold, after a fill', async () => {
    const creds = account({ balances: { USD: '10000' } });
    expect(await adapter.getPosition(creds, 'BTC-USD', 'live', 'conn-1')).toEqual({ symbol: 'BTC-USD', quantity: '0' });
    await adapter.placeOrder(creds, order({ quantity: '0.03' }));
    await adapter.placeOrder(creds, order({ type: 'limit', side: 'sell', limitPrice: '70000', quantity: '0.01' }));
    expect(await adapter.getPosition(creds, 'BTCUSD', 'live', 'conn-1')).toEqual({ symbol: 'BTCUSD', quantity: '0.03' });
  });

  it('cancels the open orders of one product and counts them', async () => {
    const creds = account();
    await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '40000' }));
    await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '41000' }));
    await adapter.placeOrder(creds, order({ symbol: 'ETH-USD', type: 'limit', limitPrice: '2000', quantity: '1' }));
    await adapter.placeOrder(creds, order());
    expect(await adapter.cancelOpenOrders(creds, 'BTC-USD', 'live', 'conn-1')).toBe(2);
    expect(await adapter.cancelOpenOrders(creds, 'BTC-USD', 'live', 'conn-1')).toBe(0);
    expect(stub.orders(creds.apiKeyName).map((o) => `${o.product_id} ${o.status}`)).toEqual([
      'BTC-USD CANCELLED',
      'BTC-USD CANCELLED',
      'ETH-USD OPEN',
      'BTC-USD FILLED',
    ]);
  });

  it('reports equity as USD + USDC cash, available + on hold', async () => {
    const creds = account({ balances: { USD: '1000.25', USDC: '500', BTC: '3', EUR: '99' } });
    await adapter.placeOrder(creds, order({ type: 'limit', limitPrice: '20000', quantity: '0.01' }));
    expect(await adapter.getEquity(creds, 'live', 'conn-1')).toBe('1500.25');
  });

  it('cannot revoke keys', async () => {
    expect(await adapter.revokeKey(account(), 'live')).toBe(false);
  });
});

describe('secret canary', () => {
  it('never puts the private key into a BrokerError message', async () => {
    const creds = account({ balances: { USD: '1' } });
    const body = creds.privateKey.split('\n')[1];
    const attempts: Array<Promise<unknown>> = [
      adapter.inspect({ ...creds, privateKey: p256().privateKey }, 'live'),
      adapter.inspect({ ...creds, privateKey: creds.privateKey.replace(body, body.slice(0, -4)) }, 'live'),
      adapter.inspect({ apiKeyName: creds.apiKeyName, privateKey: 'x' }, 'live'),
      adapter.placeOrder(creds, order({ quantity: '5' })),
      adapter.placeOrder(creds, order({ type: 'stop', stopPrice: '1' })),
      adapter.placeOrder(creds, order({ symbol: '???' })),
      coinbase(http, () => 0).getEquity(creds, 'live', 'conn-1'),
    ];
    const errors = await Promise.all(attempts.map(failure));
    stub.failNextOrder('acceptThenHang');
    errors.push(await failure(adapter.placeOrder(creds, order({ quantity: '0.00001' }))));
    expect(errors.map((e) => e.kind)).toEqual(expect.arrayContaining(['credentials_invalid', 'rejected', 'unsupported_order_type', 'ambiguous']));
    for (const e of errors) {
      for (const secret of [creds.privateKey, body, body.slice(0, 24)]) {
        expect(e.message).not.toContain(secret);
        expect(JSON.stringify(e)).not.toContain(secret);
      }
    }
  });
});
