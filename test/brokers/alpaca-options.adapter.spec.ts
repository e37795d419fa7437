import { randomBytes } from 'node:crypto';
import type { OrderRequest } from '../../src/brokers/broker-adapter';
import { BrokerError } from '../../src/brokers/broker-error';
import { BrokerHttp } from '../../src/brokers/broker-http';
import { AlpacaAdapter } from '../../src/brokers/alpaca/alpaca.adapter';
import { marketDate } from '../../src/brokers/option-symbols';
import { AlpacaStub, AlpacaStubKey, startAlpacaStub } from '../support/brokers/alpaca-stub';

/** The market date `days` from today (listings are built around it, as rules count from it). */
function inDays(days: number): string {
  const d = new Date(`${marketDate()}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
const occ = (root: string, date: string, right: 'C' | 'P', strike: number) =>
  `${root}${date.slice(2).replace(/-/g, '')}${right}${String(strike * 1000).padStart(8, '0')}`;

describe('AlpacaAdapter: options against the Alpaca API stub', () => {
  let stub: AlpacaStub;
  let http: BrokerHttp;
  let adapter: AlpacaAdapter;
  const strikes = [180, 185, 187.5, 190, 195, 200];
  const expirations = [inDays(20), inDays(33), inDays(40)];

  beforeAll(async () => {
    stub = await startAlpacaStub();
    http = new BrokerHttp('alpaca', stub.url, 500);
    adapter = new AlpacaAdapter({ paper: http, live: http });
    stub.listOptions('AAPL', expirations, strikes);
  });

  afterAll(async () => {
    await stub.stop();
    await http.close();
  });

  function newKey(options: Partial<AlpacaStubKey> = {}): { apiKey: string; apiSecret: string } {
    const creds = { apiKey: `PK${randomBytes(8).toString('hex').toUpperCase()}`, apiSecret: `secret-${randomBytes(16).toString('hex')}` };
    stub.addKey({ ...creds, ...options });
    return creds;
  }

  function order(overrides: Partial<OrderRequest> = {}): OrderRequest {
    return {
      clientOrderId: `sy-${randomBytes(6).toString('hex')}`,
      symbol: occ('AAPL', expirations[1], 'C', 190),
      side: 'buy',
      type: 'market',
      quantity: '2',
      environment: 'paper',
      connectionId: 'conn-1',
      ...overrides,
    };
  }

  const submissions = (clientOrderId: string) => stub.requests.filter((r) => r.method === 'POST' && r.path === '/v2/orders' && r.body.includes(clientOrderId));

  async function failure(promise: Promise<unknown>): Promise<BrokerError> {
    const err = await promise.then(
      () => {
        throw new Error('expected a BrokerError');
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BrokerError);
    return err as BrokerError;
  }

  it('sends an OCC contract as a whole-contract day order without an order class, and holds the position in contracts', async () => {
    const creds = newKey();
    const contract = occ('AAPL', expirations[1], 'C', 190);
    stub.setPrice(contract, 3.2);
    const o = order({ type: 'limit', limitPrice: '3.4' });
    const ack = await adapter.placeOrder(creds, o);
    expect(ack.status).toBe('accepted');
    expect(JSON.parse(submissions(o.clientOrderId)[0].body)).toEqual({
      symbol: contract,
      qty: '2',
      side: 'buy',
      type: 'limit',
      time_in_force: 'day',
      limit_price: '3.4',
      client_order_id: o.clientOrderId,
    });
    const filled = await adapter.placeOrder(creds, order());
    expect(filled).toMatchObject({ status: 'filled', filledQuantity: '2', averagePrice: '3.2' });
    await expect(adapter.getPosition(creds, contract, 'paper', 'conn-1')).resolves.toEqual({ symbol: contract, quantity: '2' });
    // 2 contracts at 3.20 a share cost 640.
    await expect(adapter.getAccount(creds, 'paper', 'conn-1')).resolves.toMatchObject({ cash: '99360' });
  });

  it('resolves a selection rule against GET /v2/options/contracts: the first expiration on or after the target, then the strike', async () => {
    const creds = newKey();
    const o = order({ symbol: 'option:AAPL:call:+30d:otm2@187.4' });
    await adapter.placeOrder(creds, o);
    expect(JSON.parse(submissions(o.clientOrderId)[0].body).symbol).toBe(occ('AAPL', expirations[1], 'C', 190));
    const listing = stub.requests.filter((r) => r.path === '/v2/options/contracts').at(-1)!;
    expect(Object.fromEntries(listing.query)).toEqual({
      underlying_symbols: 'AAPL',
      type: 'call',
      status: 'active',
      limit: '1000',
      expiration_date_gte: inDays(30),
      expiration_date_lte: inDays(75),
    });

    const put = order({ symbol: 'option:AAPL:put:+10d:itm1@187.4', side: 'sell' });
    await adapter.placeOrder(creds, put);
    expect(JSON.parse(submissions(put.clientOrderId)[0].body)).toMatchObject({ symbol: occ('AAPL', expirations[0], 'P', 187.5), side: 'sell' });

    const exact = order({ symbol: `option:AAPL:call:${expirations[2]}:187.5` });
    await adapter.placeOrder(creds, exact);
    expect(JSON.parse(submissions(exact.clientOrderId)[0].body).symbol).toBe(occ('AAPL', expirations[2], 'C', 187.5));
  });

  it('reads every page of a long listing before choosing', async () => {
    const creds = newKey();
    const many = Array.from({ length: 130 }, (_, i) => 300 + i);
    // Ten expirations of 130 strikes each are 1300 calls in the window: two pages of 1000.
    const dates = Array.from({ length: 10 }, (_, i) => inDays(60 - i * 2));
    stub.listOptions('MSFT', dates, many);
    const before = stub.requests.length;
    const o = order({ symbol: 'option:MSFT:call:+40d:atm@350.2' });
    await adapter.placeOrder(creds, o);
    const pages = stub.requests.slice(before).filter((r) => r.path === '/v2/options/contracts');
    expect(pages).toHaveLength(2);
    expect(pages[1].query.get('page_token')).toBeTruthy();
    expect(JSON.parse(submissions(o.clientOrderId)[0].body).symbol).toBe(occ('MSFT', inDays(42), 'C', 350));
  });

  it('refuses a rule no listed contract meets, and sends nothing', async () => {
    const creds = newKey();
    for (const symbol of [`option:AAPL:call:${expirations[0]}:186`, 'option:AAPL:call:+200d:atm@187', 'option:AAPL:call:+1d:otm9@187.4']) {
      const o = order({ symbol });
      const err = await failure(adapter.placeOrder(creds, o));
      expect(err.kind).toBe('rejected');
      expect(err.message).toMatch(/^option_not_found: Alpaca lists no tradable AAPL call /);
      expect(submissions(o.clientOrderId)).toHaveLength(0);
    }
  });

  it("checks the account's options trading level before sending: level 1 sells cash-secured puts and buys back what it sold, never buys to open", async () => {
    const level1 = newKey({ optionsLevel: 1 });
    const buy = order();
    const refused = await failure(adapter.placeOrder(level1, buy));
    expect([refused.kind, refused.message]).toEqual([
      'rejected',
      'options_level: buying a call or put needs options trading level 2 at Alpaca; this account has level 1 (covered calls and cash-secured puts)',
    ]);
    expect(submissions(buy.clientOrderId)).toHaveLength(0);

    const put = occ('AAPL', expirations[1], 'P', 185);
    await expect(adapter.placeOrder(level1, order({ symbol: put, side: 'sell', quantity: '1' }))).resolves.toMatchObject({ status: 'filled' });
    await expect(adapter.placeOrder(level1, order({ symbol: put, side: 'buy', quantity: '1' }))).resolves.toMatchObject({ status: 'filled' });

    const disabled = newKey({ optionsLevel: 0 });
    const sell = order({ side: 'sell' });
    expect((await failure(adapter.placeOrder(disabled, sell))).message).toMatch(/^options_level: the Alpaca account has options trading level 0/);
    expect(submissions(sell.clientOrderId)).toHaveLength(0);
  });

  it('refuses option orders Alpaca cannot take (gtc, legs, fractions) before sending, and the stub refuses them as Alpaca does', async () => {
    const creds = newKey();
    for (const [over, why] of [
      [{ timeInForce: 'gtc' }, /day orders only/],
      [{ takeProfit: '5', stopLoss: '1' }, /no take-profit or stop-loss legs/],
      [{ quantity: '1.5' }, /whole contracts/],
    ] as const) {
      const o = order(over);
      const err = await failure(adapter.placeOrder(creds, o));
      expect([err.kind, why.test(err.message)]).toEqual(['unsupported_order_type', true]);
      expect(submissions(o.clientOrderId)).toHaveLength(0);
    }
    const raw = async (body: Record<string, unknown>) => {
      const res = await fetch(`${stub.url}/v2/orders`, {
        method: 'POST',
        headers: { 'APCA-API-KEY-ID': creds.apiKey, 'APCA-API-SECRET-KEY': creds.apiSecret, 'content-type': 'application/json' },
        body: JSON.stringify({ symbol: order().symbol, qty: '1', side: 'buy', type: 'market', time_in_force: 'day', ...body }),
      });
      return [res.status, ((await res.json()) as { message: string }).message];
    };
    await expect(raw({ time_in_force: 'gtc' })).resolves.toEqual([422, 'only day orders are allowed for options']);
    await expect(raw({ qty: '0.5' })).resolves.toEqual([422, 'qty must be integer']);
    await expect(raw({ order_class: 'bracket' })).resolves.toEqual([422, 'complex orders are not supported for options']);
    await expect(raw({ symbol: 'AAPL991218C00150000' })).resolves.toEqual([422, 'asset "AAPL991218C00150000" not found']);
    // The stub holds the levels itself too, so a missing check in the adapter would not pass unseen.
    stub.setOptionsLevel(creds.apiKey, 1);
    await expect(raw({})).resolves.toEqual([403, 'account not eligible to trade long options']);
    stub.setOptionsLevel(creds.apiKey, 0);
    await expect(raw({ side: 'sell' })).resolves.toEqual([403, 'account not eligible to trade options']);
  });

  it('reports the options level in /v2/account as Alpaca does, and refuses a naked call at the stub with its 403', async () => {
    const creds = newKey({ optionsLevel: 2 });
    const res = await fetch(`${stub.url}/v2/account`, { headers: { 'APCA-API-KEY-ID': creds.apiKey, 'APCA-API-SECRET-KEY': creds.apiSecret } });
    expect(await res.json()).toMatchObject({ options_approved_level: 2, options_trading_level: 2 });
    const err = await failure(adapter.placeOrder(creds, order({ side: 'sell' })));
    expect([err.kind, err.message, err.httpStatus]).toEqual([
      'rejected',
      'Alpaca rejected the order: account not eligible to trade uncovered option contracts',
      403,
    ]);
  });
});
