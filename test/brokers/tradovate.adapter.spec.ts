import { randomBytes } from 'node:crypto';
import type { OrderRequest } from '../../src/brokers/broker-adapter';
import { BrokerError } from '../../src/brokers/broker-error';
import { BrokerHttp } from '../../src/brokers/broker-http';
import { chooseMaturity } from '../../src/brokers/futures-roll';
import { TradovateAdapter } from '../../src/brokers/tradovate/tradovate.adapter';
import { quarterlyExpiries, startTradovateStub, TradovateStub } from '../support/brokers/tradovate-stub';

const CANARY = 'CANARYtradovate';

describe('TradovateAdapter against the Tradovate stub', () => {
  let stub: TradovateStub;
  let http: BrokerHttp;
  let adapter: TradovateAdapter;
  /** ES: front month 40 days out; NQ: front month 5 days out, inside the 8-day roll. */
  let es: string[];
  let nq: string[];
  const seen: BrokerError[] = [];

  beforeAll(async () => {
    stub = await startTradovateStub();
    es = stub.addProduct('ES', quarterlyExpiries(40));
    nq = stub.addProduct('NQ', quarterlyExpiries(5));
    http = new BrokerHttp('tradovate', `${stub.url}/v1/`, 400);
    adapter = new TradovateAdapter({ paper: http, live: http }, 8);
  });

  afterAll(async () => {
    await stub.stop();
    await http.close();
  });

  afterEach(() => {
    stub.clearFaults();
    stub.tokenLifetimeMs = 90 * 60_000;
  });

  function newUser() {
    const creds = {
      name: `trader${randomBytes(4).toString('hex')}`,
      password: `${CANARY}pw${randomBytes(8).toString('hex')}`,
      appId: 'Switchyard',
      appVersion: '1.0',
      cid: String(1000 + Math.floor(Math.random() * 9000)),
      sec: `${CANARY}sec${randomBytes(16).toString('hex')}`,
    };
    const account = stub.addUser(creds);
    return { creds, account };
  }

  function order(overrides: Partial<OrderRequest> = {}): OrderRequest {
    return {
      clientOrderId: `sy-${randomBytes(6).toString('hex')}`,
      symbol: 'ES1!',
      side: 'buy',
      type: 'market',
      quantity: '2',
      environment: 'paper',
      connectionId: 'c1',
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

  const logins = (name: string) => stub.requests.filter((r) => r.path === '/v1/auth/accesstokenrequest' && JSON.parse(r.body).name === name);
  const body = (clientOrderId: string) => stub.orderByClientId(clientOrderId)!.body;

  it('inspects a login: token request with the API key, the first active account, a single tier that cannot withdraw', async () => {
    const { creds, account } = newUser();
    const report = await adapter.inspect(creds, 'paper');
    expect(report).toMatchObject({ inspection: 'single_tier', canTrade: true, canWithdraw: false, canTransfer: false, keyHint: `…${account.name.slice(-4)}` });
    expect(report.details).toMatchObject({ account: account.name });
    const [login] = logins(creds.name);
    expect(JSON.parse(login.body)).toMatchObject({
      name: creds.name,
      password: creds.password,
      appId: 'Switchyard',
      appVersion: '1.0',
      cid: Number(creds.cid),
      sec: creds.sec,
    });
    expect(JSON.parse(login.body).deviceId).toMatch(/^[0-9a-f-]{36}$/);
    const list = stub.requests.filter((r) => r.path === '/v1/account/list').at(-1)!;
    expect(list.headers.authorization).toMatch(/^Bearer [\w-]+$/);
    expect(JSON.stringify(report)).not.toContain(CANARY);
    // Inspection keeps no token: the first order logs in anew.
    await adapter.getEquity(creds, 'paper', 'c1');
    expect(logins(creds.name)).toHaveLength(2);
  });

  it("a wrong password is credentials_invalid with Tradovate's errorText; an unregistered app too", async () => {
    const { creds } = newUser();
    const wrong = await failure(adapter.inspect({ ...creds, password: `${CANARY}wrong` }, 'paper'));
    expect(wrong.kind).toBe('credentials_invalid');
    expect(wrong.message).toContain('Incorrect username or password');
    const app = await failure(adapter.inspect({ ...creds, sec: `${CANARY}othersecret` }, 'paper'));
    expect(app).toMatchObject({ kind: 'credentials_invalid', message: expect.stringContaining('The app is not registered') });
    // cid travels as a JSON number: one that would lose digits is refused, naming the field only.
    const cid = await failure(adapter.inspect({ ...creds, cid: '12345678901234567' }, 'paper'));
    expect(cid).toMatchObject({ kind: 'credentials_invalid', message: 'tradovate credentials are malformed (check: cid)' });
  });

  it('a CAPTCHA answer is a clear connection error saying to log in on the web once', async () => {
    const { creds } = newUser();
    stub.penalizeNextLogin(10, true);
    const err = await failure(adapter.inspect(creds, 'paper'));
    expect(err.kind).toBe('credentials_invalid');
    expect(err.message).toMatch(/CAPTCHA.*log in once on the Tradovate web site/);
  });

  it('a short penalty is waited out and the login resent with its p-ticket', async () => {
    const { creds } = newUser();
    stub.penalizeNextLogin(1);
    const report = await adapter.inspect(creds, 'paper');
    expect(report.canTrade).toBe(true);
    const [first, second] = logins(creds.name);
    expect(JSON.parse(first.body)['p-ticket']).toBeUndefined();
    expect(JSON.parse(second.body)['p-ticket']).toEqual(expect.any(String));
    expect(second.arrivedAtMs - first.arrivedAtMs).toBeGreaterThanOrEqual(1000);
  });

  it('a long penalty fails the call as transient (retry later) without asking Tradovate again before p-time', async () => {
    const { creds } = newUser();
    stub.penalizeNextLogin(60);
    const err = await failure(adapter.inspect(creds, 'paper'));
    expect(err).toMatchObject({ kind: 'transient', message: expect.stringMatching(/retry in \d+ s/) });
    const again = await failure(adapter.inspect(creds, 'paper'));
    expect(again.kind).toBe('transient');
    expect(logins(creds.name)).toHaveLength(1);
  });

  it('keeps the token in memory, renews it before expiry, and logs in again when Tradovate refuses it', async () => {
    const { creds } = newUser();
    await adapter.getEquity(creds, 'paper', 'c1');
    await adapter.getEquity(creds, 'paper', 'c1');
    expect(logins(creds.name)).toHaveLength(1);

    stub.tokenLifetimeMs = 10 * 60_000;
    const { creds: short } = newUser();
    await adapter.getEquity(short, 'paper', 'c1');
    const renewsBefore = stub.requests.filter((r) => r.path === '/v1/auth/renewaccesstoken').length;
    await adapter.getEquity(short, 'paper', 'c1');
    // A 10-minute token is inside the 15-minute renewal window: renewed, not replaced by a new login.
    expect(stub.requests.filter((r) => r.path === '/v1/auth/renewaccesstoken').length).toBeGreaterThan(renewsBefore);
    expect(logins(short.name)).toHaveLength(1);

    stub.tokenLifetimeMs = 90 * 60_000;
    stub.expireTokens();
    expect(await adapter.getEquity(creds, 'paper', 'c1')).toBe('50000');
    expect(logins(creds.name)).toHaveLength(2);
  });

  it('places ES1! as the front-month contract with our clOrdId, and follows it to filled with its fills', async () => {
    const { creds, account } = newUser();
    stub.setPrice(es[0], 5012.25);
    const o = order();
    const ack = await adapter.placeOrder(creds, o);
    expect(ack).toMatchObject({ clientOrderId: o.clientOrderId, status: 'accepted' });
    expect(body(o.clientOrderId)).toEqual({
      accountSpec: account.name,
      accountId: account.id,
      clOrdId: o.clientOrderId,
      action: 'Buy',
      symbol: es[0],
      orderQty: 2,
      orderType: 'Market',
      timeInForce: 'Day',
      isAutomated: true,
    });
    const state = await adapter.getOrder(creds, o);
    expect(state).toMatchObject({ brokerOrderId: ack.brokerOrderId, status: 'filled', filledQuantity: '2', averagePrice: '5012.25' });
    expect(state!.fills).toEqual([expect.objectContaining({ quantity: '2', price: '5012.25' })]);
  });

  it('rolls a continuous symbol to the next contract inside BROKER_FUTURES_ROLL_DAYS; ES2! is the second; ESZ6-style names pass through', async () => {
    const { creds } = newUser();
    const nq1 = order({ symbol: 'NQ1!' });
    await adapter.placeOrder(creds, nq1);
    expect(body(nq1.clientOrderId).symbol).toBe(nq[1]);
    const es2 = order({ symbol: 'ES2!' });
    await adapter.placeOrder(creds, es2);
    expect(body(es2.clientOrderId).symbol).toBe(es[1]);
    const explicit = order({ symbol: es[2] });
    await adapter.placeOrder(creds, explicit);
    expect(body(explicit.clientOrderId).symbol).toBe(es[2]);
    expect((await failure(adapter.placeOrder(creds, order({ symbol: 'ZZ1!' })))).message).toContain('no futures product ZZ');
  });

  it('chooses the maturity by expiry and roll days, skipping archived ones', () => {
    const now = Date.parse('2026-12-07T00:00:00Z');
    const m = [
      { id: 3, expirationDate: '2027-06-18T00:00:00Z' },
      { id: 1, expirationDate: '2026-12-18T00:00:00Z' },
      { id: 2, expirationDate: '2027-03-19T00:00:00Z' },
      { id: 0, expirationDate: '2027-01-01T00:00:00Z', archived: true },
    ];
    expect(chooseMaturity(m, 1, 8, now)?.id).toBe(1);
    expect(chooseMaturity(m, 1, 11, now)?.id).toBe(2);
    expect(chooseMaturity(m, 2, 8, now)?.id).toBe(2);
    expect(chooseMaturity(m, 4, 8, now)).toBeUndefined();
  });

  it('sends take-profit and stop-loss as placeOSO bracket1/bracket2; the brackets work once the entry fills', async () => {
    const { creds } = newUser();
    const o = order({ type: 'limit', limitPrice: '5000.5', takeProfit: '5050', stopLoss: '4980', stopLossLimit: '4979.75', quantity: '1' });
    const ack = await adapter.placeOrder(creds, o);
    const placed = stub.requests.filter((r) => r.path === '/v1/order/placeOSO').at(-1)!;
    const sent = JSON.parse(placed.body);
    expect(sent).toMatchObject({ orderType: 'Limit', price: 5000.5, timeInForce: 'GTC', clOrdId: o.clientOrderId });
    expect(sent.bracket1).toEqual({ action: 'Sell', clOrdId: `${o.clientOrderId}-tp`, orderType: 'Limit', price: 5050, timeInForce: 'GTC' });
    expect(sent.bracket2).toEqual({
      action: 'Sell',
      clOrdId: `${o.clientOrderId}-sl`,
      orderType: 'StopLimit',
      stopPrice: 4980,
      price: 4979.75,
      timeInForce: 'GTC',
    });
    const entry = stub.orderByClientId(o.clientOrderId)!;
    expect(stub.bracketsOf(entry.id).map((b) => b.ordStatus)).toEqual(['Suspended', 'Suspended']);
    // The answer's oso1Id/oso2Id are the legs.
    const [tp, sl] = stub.bracketsOf(entry.id);
    expect(ack.legs).toEqual([
      {
        role: 'take_profit',
        clientOrderId: `${o.clientOrderId}-tp`,
        side: 'sell',
        type: 'limit',
        quantity: '1',
        limitPrice: '5050',
        state: { brokerOrderId: String(tp.id), status: 'accepted', filledQuantity: '0' },
      },
      {
        role: 'stop_loss',
        clientOrderId: `${o.clientOrderId}-sl`,
        side: 'sell',
        type: 'stop_limit',
        quantity: '1',
        stopPrice: '4980',
        limitPrice: '4979.75',
        state: { brokerOrderId: String(sl.id), status: 'accepted', filledQuantity: '0' },
      },
    ]);
    expect(await adapter.getOrder(creds, o)).toMatchObject({ status: 'accepted', filledQuantity: '0' });
    stub.fillWorking(o.clientOrderId, 5000.5);
    expect(await adapter.getOrder(creds, o)).toMatchObject({ status: 'filled', filledQuantity: '1', averagePrice: '5000.5' });
    expect(stub.bracketsOf(entry.id).map((b) => b.ordStatus)).toEqual(['Working', 'Working']);
    // A leg is followed by its order id; the stop-loss fills and Tradovate cancels its OCO partner.
    const leg = (l: (typeof ack.legs & object)[number]) =>
      adapter.getOrder(creds, { ...o, clientOrderId: l.clientOrderId, brokerOrderId: l.state.brokerOrderId });
    expect(await leg(ack.legs![1])).toMatchObject({ status: 'accepted', filledQuantity: '0' });
    stub.fillBracket(`${o.clientOrderId}-sl`, 4979.75);
    const stopped = await leg(ack.legs![1]);
    expect(stopped).toMatchObject({ brokerOrderId: String(sl.id), status: 'filled', filledQuantity: '1', averagePrice: '4979.75' });
    expect(stopped!.fills).toEqual([expect.objectContaining({ quantity: '1', price: '4979.75' })]);
    expect(await leg(ack.legs![0])).toMatchObject({ status: 'canceled', reason: 'order canceled at Tradovate' });

    const short = order({ side: 'sell', stopLoss: '5100' });
    await adapter.placeOrder(creds, short);
    expect(JSON.parse(stub.requests.filter((r) => r.path === '/v1/order/placeOSO').at(-1)!.body).bracket1).toEqual({
      action: 'Buy',
      clOrdId: `${short.clientOrderId}-sl`,
      orderType: 'Stop',
      stopPrice: 5100,
      timeInForce: 'GTC',
    });
  });

  it("an order Tradovate took and then rejected reads as rejected with the execution report's reason", async () => {
    const { creds } = newUser();
    const o = order({ type: 'limit', limitPrice: '4800' });
    await adapter.placeOrder(creds, o);
    stub.rejectWorking(o.clientOrderId);
    expect(await adapter.getOrder(creds, o)).toMatchObject({
      status: 'rejected',
      filledQuantity: '0',
      reason: 'order rejected at Tradovate (RiskCheckTimeout: Risk check timed out)',
    });
    const replay = await failure(adapter.placeOrder(creds, o));
    expect(replay).toMatchObject({ kind: 'rejected', message: expect.stringContaining('RiskCheckTimeout') });
  });

  it('finds an order again by our client order id after the answer was lost, and never places it twice', async () => {
    const { creds } = newUser();
    const o = order({ type: 'limit', limitPrice: '4900' });
    stub.injectFaults('acceptThenHang', 1, { method: 'POST', path: /placeorder$/ });
    const err = await failure(adapter.placeOrder(creds, o));
    expect(err.kind).toBe('ambiguous');
    const found = await adapter.findOrder(creds, o);
    expect(found).toMatchObject({ clientOrderId: o.clientOrderId, brokerOrderId: String(stub.orderByClientId(o.clientOrderId)!.id), status: 'accepted' });
    const before = stub.orders.length;
    expect(await adapter.placeOrder(creds, o)).toMatchObject({ brokerOrderId: found!.brokerOrderId });
    expect(stub.orders.length).toBe(before);
    expect(await adapter.findOrder(creds, order())).toBeNull();
    expect(await adapter.getOrder(creds, order())).toBeNull();
  });

  it("refuses trailing stops and fractional contracts before sending; Tradovate's failure text is a rejection", async () => {
    const { creds } = newUser();
    expect((await failure(adapter.placeOrder(creds, order({ trailAmount: '5' })))).kind).toBe('unsupported_order_type');
    expect((await failure(adapter.placeOrder(creds, order({ quantity: '1.5' })))).message).toContain('whole contracts');
    stub.failNextOrder('MaxPosLimitReached', 'Max position limit reached');
    const err = await failure(adapter.placeOrder(creds, order()));
    expect(err).toMatchObject({ kind: 'rejected', message: expect.stringContaining('MaxPosLimitReached: Max position limit reached') });
  });

  it('reports positions by contract name, the position of ES1!, cancels working orders of the contract, and the account', async () => {
    const { creds } = newUser();
    stub.setPrice(es[0], 5000);
    await adapter.placeOrder(creds, order({ quantity: '3' }));
    await adapter.placeOrder(creds, order({ symbol: 'NQ1!', side: 'sell', quantity: '1' }));
    const resting = order({ type: 'stop', stopPrice: '5100', quantity: '1' });
    await adapter.placeOrder(creds, resting);
    const positions = await adapter.getPositions(creds, 'paper', 'c1');
    expect(positions).toEqual(
      expect.arrayContaining([
        { symbol: es[0], quantity: '3', averagePrice: '5000' },
        { symbol: nq[1], quantity: '-1', averagePrice: '5000' },
      ]),
    );
    expect(positions).toHaveLength(2);
    expect(await adapter.getPosition(creds, 'ES1!', 'paper', 'c1')).toEqual({ symbol: 'ES1!', quantity: '3' });
    expect(await adapter.cancelOpenOrders(creds, 'ES1!', 'paper', 'c1')).toBe(1);
    expect(stub.orderByClientId(resting.clientOrderId)!.ordStatus).toBe('Canceled');
    expect(await adapter.getOrder(creds, resting)).toMatchObject({ status: 'canceled', reason: 'order canceled at Tradovate' });
    expect(await adapter.getAccount(creds, 'paper', 'c1')).toEqual({ currency: 'USD', equity: '50000', cash: '50000' });
  });

  it('never puts a credential into an error', () => {
    expect(seen.length).toBeGreaterThan(5);
    for (const err of seen) expect(err.message).not.toContain(CANARY);
  });
});
