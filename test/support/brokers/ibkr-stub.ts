import { randomUUID } from 'node:crypto';
import { BrokerStubServer, RecordedRequest, StubReply } from './broker-stub';
import type { TestCertificate } from '../https-receiver';

/**
 * IBKR Client Portal Gateway stub (Web API, https://www.interactivebrokers.com/campus/ibkr-api-page/cpapi-v1/), served
 * over https under `/v1/api`. As the gateway does, it answers 401 to `/iserver` and `/portfolio` calls while its
 * brokerage session is not authenticated (auth status and tickle still answer); orders are placed with `cOID`, may be
 * held by confirmation questions (`[{ id, message, messageIds }]`) until `POST /iserver/reply/{id}`, and are listed by
 * `/iserver/account/orders` with the cOID as `order_ref`. Market orders fill at the contract's price; others rest.
 */

export interface IbkrStubOrder {
  orderId: number;
  acct: string;
  conid: number;
  ticker: string;
  cOID: string;
  parentId?: string;
  side: 'BUY' | 'SELL';
  orderType: string;
  quantity: number;
  price?: number;
  auxPrice?: number;
  tif: string;
  status: 'PreSubmitted' | 'Submitted' | 'Filled' | 'Cancelled' | 'Inactive';
  filledQuantity: number;
  avgPrice?: number;
}

interface Contract {
  conid: number;
  symbol: string;
  price: number;
}

/** Not anchored: a gateway behind a reverse proxy may sit below a path prefix. */
const API = '/v1/api';
const ORDER_TYPES = new Set(['MKT', 'LMT', 'STP', 'STP_LIMIT']);
/** How order lists name the order types (`origOrderType`). */
const LISTED_TYPES: Record<string, string> = { MKT: 'MARKET', LMT: 'LIMIT', STP: 'STOP', STP_LIMIT: 'STOP_LIMIT' };
const TIFS = new Set(['DAY', 'GTC', 'IOC', 'FOK', 'OPG']);
const UNAUTHENTICATED: StubReply = { status: 401, body: { error: 'not authenticated', statusCode: 401 } };

export class IbkrStub extends BrokerStubServer {
  /** Every order placed, in arrival order (bracket children included). */
  readonly orders: IbkrStubOrder[] = [];
  /** The brokerage session: off means logged out at the gateway. */
  session = { authenticated: true, connected: true, competing: false };
  tickles = 0;
  /** Questions asked of the next order submissions, one submission per entry (each entry may ask several in turn). */
  private readonly questions: Array<Array<{ messageId: string; message: string }>> = [];
  private readonly pending = new Map<string, { account: string; orders: IbkrStubOrder[]; rest: Array<{ messageId: string; message: string }> }>();
  private readonly accounts = new Set<string>();
  private readonly contracts = new Map<string, Contract>();
  private readonly futures = new Map<string, Array<{ conid: number; expirationDate: number }>>();
  private nextOrderId = 1_000_000_000;
  private emptyLists = 0;
  private refusal?: string;

  constructor() {
    super();
    this.route('GET', new RegExp(`${API}/iserver/auth/status$`), () => ({ status: 200, body: { ...this.session, message: '', MAC: '00:00:00:00:00:00' } }));
    this.route('POST', new RegExp(`${API}/tickle$`), () => {
      this.tickles++;
      return {
        status: 200,
        body: { session: randomUUID().replace(/-/g, ''), ssoExpires: 0, collission: false, userId: 1, iserver: { authStatus: this.session } },
      };
    });
    this.authed('GET', '/iserver/accounts$', () => ({ status: 200, body: { accounts: [...this.accounts], selectedAccount: [...this.accounts][0] } }));
    this.authed('GET', '/iserver/secdef/search$', (req) => this.search(req));
    this.authed('GET', '/trsrv/futures$', (req) => this.futuresList(req));
    this.authed('POST', '/iserver/account/([^/]+)/orders$', (req, [acct]) => this.place(req, acct));
    this.authed('POST', '/iserver/reply/([^/]+)$', (req, [id]) => this.answerQuestion(req, id));
    this.authed('GET', '/iserver/account/orders$', () => this.listOrders());
    this.authed('DELETE', '/iserver/account/([^/]+)/order/([^/]+)$', (_req, [acct, id]) => this.cancel(acct, id));
    this.authed('GET', '/portfolio/([^/]+)/positions/0$', (_req, [acct]) => this.positions(acct));
    this.authed('GET', '/portfolio/([^/]+)/summary$', (_req, [acct]) => this.summary(acct));
  }

  addAccount(accountId: string): void {
    this.accounts.add(accountId);
  }

  addStock(symbol: string, conid: number, price = 100): void {
    this.contracts.set(symbol, { conid, symbol, price });
  }

  /** A futures root's listed contracts (`expirationDate` as YYYYMMDD). */
  addFutures(root: string, contracts: Array<{ conid: number; expirationDate: number; price?: number }>): void {
    this.futures.set(
      root,
      contracts.map(({ conid, expirationDate }) => ({ conid, expirationDate })),
    );
    for (const c of contracts) this.contracts.set(`${root}:${c.expirationDate}`, { conid: c.conid, symbol: root, price: c.price ?? 5000 });
  }

  /** The next order submission is held by these questions, asked one after another. */
  askOnNextOrder(...questions: Array<{ messageId: string; message: string }>): void {
    this.questions.push(questions);
  }

  /** The next order submission is refused with this text (IBKR's own refusals, which the stub cannot produce). */
  refuseNextOrder(error: string): void {
    this.refusal = error;
  }

  /** The next order list comes back empty, as a gateway's first one of a session does while it subscribes. */
  emptyNextOrderList(): void {
    this.emptyLists++;
  }

  /** The market reaches a resting order: `quantity` more fills at `price`. */
  fill(cOID: string, quantity: number, price: number): void {
    const order = this.orders.find((o) => o.cOID === cOID);
    if (!order) throw new Error(`no order ${cOID} at the IBKR stub`);
    const total = order.filledQuantity + quantity;
    order.avgPrice = ((order.avgPrice ?? 0) * order.filledQuantity + price * quantity) / total;
    order.filledQuantity = total;
    order.status = total >= order.quantity ? 'Filled' : 'Submitted';
  }

  setStatus(cOID: string, status: IbkrStubOrder['status']): void {
    const order = this.orders.find((o) => o.cOID === cOID);
    if (!order) throw new Error(`no order ${cOID} at the IBKR stub`);
    order.status = status;
  }

  private authed(method: string, path: string, handler: (req: RecordedRequest, params: string[]) => StubReply): void {
    this.route(method, new RegExp(`${API}${path}`), (req, params) => (this.session.authenticated ? handler(req, params) : UNAUTHENTICATED));
  }

  private listOrders(): StubReply {
    if (this.emptyLists > 0) {
      this.emptyLists--;
      return { status: 200, body: { orders: [], snapshot: false } };
    }
    return { status: 200, body: { orders: this.orders.map(liveOrder), snapshot: true } };
  }

  private search(req: RecordedRequest): StubReply {
    const symbol = req.query.get('symbol') ?? '';
    if (!symbol) return { status: 400, body: { error: 'Bad Request: symbol required' } };
    const contract = this.contracts.get(symbol);
    if (!contract) return { status: 200, body: [] };
    return {
      status: 200,
      body: [
        {
          conid: String(contract.conid),
          companyHeader: `${symbol} INC - NASDAQ`,
          companyName: `${symbol} INC`,
          symbol,
          description: 'NASDAQ',
          sections: [{ secType: 'STK' }, { secType: 'OPT', months: 'JAN27' }],
        },
      ],
    };
  }

  private futuresList(req: RecordedRequest): StubReply {
    const roots = (req.query.get('symbols') ?? '').split(',');
    const body: Record<string, unknown> = {};
    for (const root of roots) {
      body[root] = (this.futures.get(root) ?? []).map((f) => ({
        symbol: root,
        conid: f.conid,
        underlyingConid: 11004968,
        expirationDate: f.expirationDate,
        ltd: f.expirationDate,
      }));
    }
    return { status: 200, body };
  }

  private place(req: RecordedRequest, acct: string): StubReply {
    if (!this.accounts.has(acct)) return { status: 400, body: { error: `Account ${acct} is not valid` } };
    if (this.refusal !== undefined) {
      const error = this.refusal;
      this.refusal = undefined;
      return { status: 400, body: { error } };
    }
    let parsed: { orders?: unknown };
    try {
      parsed = JSON.parse(req.body);
    } catch {
      return { status: 400, body: { error: 'Bad Request: invalid JSON' } };
    }
    if (!Array.isArray(parsed.orders) || parsed.orders.length === 0) return { status: 400, body: { error: 'Bad Request: orders required' } };
    const orders: IbkrStubOrder[] = [];
    for (const raw of parsed.orders as Record<string, unknown>[]) {
      const problem = orderProblem(raw, orders, this.orders);
      if (problem) return { status: 400, body: { error: problem } };
      const contract = [...this.contracts.values()].find((c) => c.conid === raw.conid)!;
      orders.push({
        orderId: this.nextOrderId++,
        acct,
        conid: contract.conid,
        ticker: contract.symbol,
        cOID: raw.cOID as string,
        parentId: raw.parentId as string | undefined,
        side: raw.side as 'BUY' | 'SELL',
        orderType: raw.orderType as string,
        quantity: raw.quantity as number,
        price: raw.price as number | undefined,
        auxPrice: raw.auxPrice as number | undefined,
        tif: raw.tif as string,
        status: 'PreSubmitted',
        filledQuantity: 0,
      });
    }
    const questions = this.questions.shift() ?? [];
    return questions.length > 0 ? this.ask(acct, orders, questions) : this.submit(orders);
  }

  private ask(account: string, orders: IbkrStubOrder[], [question, ...rest]: Array<{ messageId: string; message: string }>): StubReply {
    const id = randomUUID();
    this.pending.set(id, { account, orders, rest });
    return { status: 200, body: [{ id, message: [question.message], isSuppressed: false, messageIds: [question.messageId] }] };
  }

  private answerQuestion(req: RecordedRequest, id: string): StubReply {
    const held = this.pending.get(id);
    if (!held) return { status: 400, body: { error: `Reply id ${id} is not valid or has expired` } };
    this.pending.delete(id);
    const confirmed = (JSON.parse(req.body || '{}') as { confirmed?: unknown }).confirmed;
    if (confirmed !== true) return { status: 200, body: { error: 'Order was not confirmed' } };
    return held.rest.length > 0 ? this.ask(held.account, held.orders, held.rest) : this.submit(held.orders);
  }

  private submit(orders: IbkrStubOrder[]): StubReply {
    for (const order of orders) {
      this.orders.push(order);
      if (order.parentId) continue; // children wait for their parent's fill
      const contract = [...this.contracts.values()].find((c) => c.conid === order.conid)!;
      if (order.orderType === 'MKT') {
        order.status = 'Filled';
        order.filledQuantity = order.quantity;
        order.avgPrice = contract.price;
      } else {
        order.status = 'Submitted';
      }
    }
    return { status: 200, body: orders.map((o) => ({ order_id: String(o.orderId), order_status: o.status, encrypt_message: '1' })) };
  }

  private cancel(acct: string, id: string): StubReply {
    const order = this.orders.find((o) => String(o.orderId) === id && o.acct === acct);
    if (!order) return { status: 200, body: { error: `OrderID ${id} doesn't exist` } };
    if (order.status === 'Filled' || order.status === 'Cancelled')
      return { status: 200, body: { error: `OrderID ${id} is already ${order.status.toLowerCase()}` } };
    order.status = 'Cancelled';
    return { status: 200, body: { msg: 'Request was submitted', order_id: order.orderId, conid: order.conid, account: acct } };
  }

  private positions(acct: string): StubReply {
    const held = new Map<number, { ticker: string; position: number; cost: number }>();
    for (const o of this.orders.filter((x) => x.acct === acct && x.filledQuantity > 0)) {
      const p = held.get(o.conid) ?? { ticker: o.ticker, position: 0, cost: 0 };
      const signed = o.side === 'BUY' ? o.filledQuantity : -o.filledQuantity;
      p.position += signed;
      p.cost += signed * (o.avgPrice ?? 0);
      held.set(o.conid, p);
    }
    return {
      status: 200,
      body: [...held].map(([conid, p]) => ({
        acctId: acct,
        conid,
        contractDesc: p.ticker,
        ticker: p.ticker,
        position: p.position,
        avgPrice: p.position === 0 ? 0 : p.cost / p.position,
        mktValue: p.position * ([...this.contracts.values()].find((c) => c.conid === conid)?.price ?? 0),
        unrealizedPnl: 0,
        currency: 'USD',
        assetClass: 'STK',
      })),
    };
  }

  private summary(acct: string): StubReply {
    if (!this.accounts.has(acct)) return { status: 400, body: { error: `Account ${acct} is not valid` } };
    const value = (amount: number) => ({ amount, currency: 'USD', isNull: false, timestamp: Date.now(), value: null, severity: 0 });
    return { status: 200, body: { netliquidation: value(100_000), totalcashvalue: value(80_000), buyingpower: value(400_000), availablefunds: value(80_000) } };
  }
}

function orderProblem(raw: Record<string, unknown>, batch: IbkrStubOrder[], placed: IbkrStubOrder[]): string | undefined {
  if (typeof raw.conid !== 'number') return 'Bad Request: conid must be a number';
  if (typeof raw.orderType !== 'string' || !ORDER_TYPES.has(raw.orderType)) return `Bad Request: orderType ${String(raw.orderType)} is not supported`;
  if (raw.side !== 'BUY' && raw.side !== 'SELL') return 'Bad Request: side must be BUY or SELL';
  if (typeof raw.quantity !== 'number' || raw.quantity <= 0) return 'Bad Request: quantity must be positive';
  if (typeof raw.tif !== 'string' || !TIFS.has(raw.tif)) return 'Bad Request: tif is not valid';
  if (typeof raw.cOID !== 'string' || raw.cOID === '') return 'Bad Request: cOID required';
  if (placed.some((o) => o.cOID === raw.cOID) || batch.some((o) => o.cOID === raw.cOID)) return `Local order ID=${raw.cOID} is already registered.`;
  if (raw.orderType !== 'MKT' && typeof raw.price !== 'number') return `Bad Request: price required for ${raw.orderType}`;
  if (raw.orderType === 'STP_LIMIT' && typeof raw.auxPrice !== 'number') return 'Bad Request: auxPrice required for STP_LIMIT';
  if (raw.parentId !== undefined && !batch.some((o) => o.cOID === raw.parentId)) return `Bad Request: parent order ${String(raw.parentId)} not in this request`;
  return undefined;
}

function liveOrder(o: IbkrStubOrder): Record<string, unknown> {
  return {
    acct: o.acct,
    conidex: String(o.conid),
    conid: o.conid,
    orderId: o.orderId,
    cashCcy: 'USD',
    sizeAndFills: `${o.filledQuantity}/${o.quantity}`,
    orderDesc: `${o.side === 'BUY' ? 'Bought' : 'Sold'} ${o.filledQuantity} ${o.orderType}`,
    description1: o.ticker,
    ticker: o.ticker,
    secType: 'STK',
    remainingQuantity: o.quantity - o.filledQuantity,
    filledQuantity: o.filledQuantity,
    totalSize: o.quantity,
    status: o.status,
    origOrderType: LISTED_TYPES[o.orderType],
    orderType: LISTED_TYPES[o.orderType]
      .replace('_', ' ')
      .toLowerCase()
      .replace(/(^|\s)\w/g, (c) => c.toUpperCase()),
    ...(o.price !== undefined ? { price: o.price.toFixed(2) } : {}),
    ...(o.auxPrice !== undefined ? { auxPrice: o.auxPrice.toFixed(2) } : {}),
    side: o.side,
    ...(o.avgPrice !== undefined ? { avgPrice: String(o.avgPrice) } : {}),
    order_ref: o.cOID,
    timeInForce: o.tif,
    lastExecutionTime_r: Date.now(),
  };
}

/** A stub gateway over https with the test certificate; reach it through the SSRF guard's operator allowlist (127.0.0.1). */
export async function startIbkrStub(certificate: TestCertificate): Promise<IbkrStub> {
  return new IbkrStub().useTls(certificate).start();
}
