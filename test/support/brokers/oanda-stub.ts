import { BrokerStubServer, RecordedRequest, StubReply } from './broker-stub';
import { OandaTransactionStream } from './oanda-stream-stub';

/**
 * OANDA v20 REST stub (https://developer.oanda.com/rest-live-v20/introduction/): Bearer tokens that reach
 * registered accounts, transactions with increasing ids and `lastTransactionID`, market orders filled at once
 * (or cancelled for INSUFFICIENT_MARGIN), resting LIMIT/STOP/MIT orders, take-profit/stop-loss orders on fill,
 * netted positions, account summary with balance and NAV. As in v20, a client order id is refused
 * (CLIENT_ORDER_ID_ALREADY_EXISTS) only while another *pending* order holds it. The transaction stream
 * (`…/transactions/stream`, served here too, as the stream host) carries each fill and cancel as it happens.
 * Fills open, reduce and close trades FIFO; a fill that opens a trade creates its take-profit/stop-loss orders (with
 * the client extensions of the on-fill details, streamed after the fill, reason ON_FILL); a closed trade's other
 * dependent orders are cancelled (LINKED_TRADE_CLOSED).
 */

export interface OandaStubAccountOptions {
  accountId: string;
  token: string;
  /** Starting balance in the account currency (default 100 000). */
  balance?: number;
  currency?: string;
  /** Margin per unit of notional (default 0.02, i.e. 50:1). */
  marginRate?: number;
}

export interface OandaStubOrder {
  id: string;
  createTime: string;
  type: string;
  state: 'PENDING' | 'FILLED' | 'TRIGGERED' | 'CANCELLED';
  instrument?: string;
  units?: string;
  price?: string;
  timeInForce: string;
  positionFill?: string;
  clientExtensions?: { id?: string; tag?: string; comment?: string };
  takeProfitOnFill?: OnFillDetails & { price: string };
  stopLossOnFill?: OnFillDetails & { price: string };
  trailingStopLossOnFill?: OnFillDetails & { distance: string };
  /** A trailing stop-loss order's distance from the best price. */
  distance?: string;
  tradeID?: string;
  fillingTransactionID?: string;
  filledTime?: string;
  tradeOpenedID?: string;
  cancellingTransactionID?: string;
  cancelledTime?: string;
}

/** v20's TakeProfitDetails / StopLossDetails / TrailingStopLossDetails: the dependent order's client extensions come from here. */
interface OnFillDetails {
  clientExtensions?: { id?: string };
}

/** A v20 trade: opened by a fill, reduced or closed FIFO by opposite fills; its take-profit/stop-loss orders depend on it. */
interface Trade {
  id: string;
  instrument: string;
  units: number;
  price: number;
  dependents: string[];
}

/** An order as the stub keeps it: v20's fields plus bookkeeping that is never sent. */
export interface OandaStubOrderRecord extends OandaStubOrder {
  arrivedAtMs: number;
  accountId: string;
  /** Instrument of the order, or of the trade a take-profit/stop-loss order protects. */
  forInstrument: string;
}

interface Account {
  options: Required<OandaStubAccountOptions>;
  balance: number;
  lastTransactionId: number;
  positions: Map<string, { units: number; averagePrice: number }>;
  /** Fill and cancel transactions by id, for `GET …/transactions/{id}`. */
  transactions: Map<string, Record<string, unknown>>;
  /** Open trades, oldest first. */
  trades: Trade[];
}

const ORDER_TYPES = new Set(['MARKET', 'LIMIT', 'STOP', 'MARKET_IF_TOUCHED']);
const RESTING_TIF = new Set(['GTC', 'GFD', 'GTD', 'FOK', 'IOC']);
const POSITION_FILLS = new Set(['DEFAULT', 'OPEN_ONLY', 'REDUCE_FIRST', 'REDUCE_ONLY']);
const INSTRUMENT = /^[A-Z0-9]{2,12}_[A-Z0-9]{2,12}$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const UNAUTHORIZED: StubReply = { status: 401, body: { errorMessage: 'Insufficient authorization to perform request.' } };
const FORBIDDEN: StubReply = { status: 403, body: { errorMessage: 'The provided request was forbidden.' } };
const NO_ORDER = { errorCode: 'ORDER_DOESNT_EXIST', errorMessage: 'The Order specified does not exist' };

export class OandaStub extends BrokerStubServer {
  /** Every order of every account in creation order, including take-profit/stop-loss orders. */
  readonly orders: OandaStubOrderRecord[] = [];
  private readonly accounts = new Map<string, Account>();
  private readonly tokens = new Map<string, Set<string>>();
  private readonly prices = new Map<string, number>();
  private scriptedOrderReply?: StubReply;
  private dropOrderReplies = 0;
  private delayOrderReplyMs = 0;
  /** The transaction stream: the account's fills and cancels as lines, heartbeats between. */
  readonly stream = new OandaTransactionStream();

  constructor() {
    super();
    const account = '^/v3/accounts/([^/]+)';
    this.streamRoute('GET', new RegExp(`${account}/transactions/stream$`), (req, res, [id]) => {
      const denied = this.authed(req, id, (a) => {
        this.stream.attach(a.options.accountId, res, () => String(a.lastTransactionId));
        return { status: 200 };
      }) as StubReply;
      if (denied.status !== 200) res.writeHead(denied.status, { 'content-type': 'application/json' }).end(JSON.stringify(denied.body));
    });
    this.route('GET', new RegExp(`${account}/summary$`), (req, [id]) => this.authed(req, id, (a) => this.summary(a)));
    this.route('POST', new RegExp(`${account}/orders$`), (req, [id]) => this.authed(req, id, (a) => this.createOrder(a, req)));
    this.route('GET', new RegExp(`${account}/orders$`), (req, [id]) => this.authed(req, id, (a) => this.listOrders(a, req)));
    this.route('GET', new RegExp(`${account}/orders/([^/]+)$`), (req, [id, spec]) => this.authed(req, id, (a) => this.getOrder(a, spec)));
    this.route('PUT', new RegExp(`${account}/orders/([^/]+)/cancel$`), (req, [id, spec]) => this.authed(req, id, (a) => this.cancelOrder(a, spec)));
    this.route('GET', new RegExp(`${account}/openPositions$`), (req, [id]) => this.authed(req, id, (a) => this.openPositions(a)));
    this.route('GET', new RegExp(`${account}/positions/([^/]+)$`), (req, [id, inst]) => this.authed(req, id, (a) => this.position(a, inst)));
    this.route('GET', new RegExp(`${account}/transactions/([^/]+)$`), (req, [id, tx]) => this.authed(req, id, (a) => this.transaction(a, tx)));
  }

  /** The market reaches a pending order: v20 fills it whole, at `price`, in one ORDER_FILL transaction. */
  fillPending(clientOrderId: string, price: number): void {
    const order = this.pendingByClientId(clientOrderId);
    this.fill(this.accounts.get(order.accountId)!, order, price, new Date().toISOString());
  }

  /** A pending order's time in force runs out (GTD, GFD): cancelled with reason TIME_IN_FORCE_EXPIRED. */
  expirePending(clientOrderId: string): void {
    const order = this.pendingByClientId(clientOrderId);
    this.cancelTransaction(this.accounts.get(order.accountId)!, order, 'TIME_IN_FORCE_EXPIRED', new Date().toISOString());
  }

  private pendingByClientId(clientOrderId: string): OandaStubOrderRecord {
    const order = this.orders.find((o) => o.clientExtensions?.id === clientOrderId && o.state === 'PENDING');
    if (!order) throw new Error(`no pending order ${clientOrderId} at the OANDA stub`);
    return order;
  }

  /** Registers an account reachable with `token` (a token may reach several accounts, as in v20). */
  addAccount(options: OandaStubAccountOptions): void {
    const full: Required<OandaStubAccountOptions> = { balance: 100_000, currency: 'USD', marginRate: 0.02, ...options };
    this.accounts.set(options.accountId, {
      options: full,
      balance: full.balance,
      lastTransactionId: 1,
      positions: new Map(),
      transactions: new Map(),
      trades: [],
    });
    const reach = this.tokens.get(options.token) ?? new Set<string>();
    reach.add(options.accountId);
    this.tokens.set(options.token, reach);
  }

  /** Market fill price of an instrument (default 1.1). */
  setPrice(instrument: string, price: number): void {
    this.prices.set(instrument, price);
  }

  /** The next authenticated order submission gets this reply and creates nothing (for broker texts the stub cannot produce). */
  replyToNextOrder(reply: StubReply): void {
    this.scriptedOrderReply = reply;
  }

  /**
   * The next order submission is carried out but never answered. Unlike `injectFaults('acceptThenHang')`,
   * which hits whatever request comes next, this aims at the order itself (clients look the id up first).
   */
  dropNextOrderReply(): void {
    this.dropOrderReplies++;
  }

  /** The next order submission is carried out (its transactions streamed at once) but answered only after `ms`. */
  delayNextOrderReply(ms: number): void {
    this.delayOrderReplyMs = ms;
  }

  get ordersByClientId(): Map<string, OandaStubOrderRecord> {
    return new Map(this.orders.filter((o) => o.clientExtensions?.id).map((o) => [o.clientExtensions!.id!, o]));
  }

  /** Net units of an account's position (negative = short). */
  positionOf(accountId: string, instrument: string): number {
    return this.accounts.get(accountId)?.positions.get(instrument)?.units ?? 0;
  }

  private authed(req: RecordedRequest, accountId: string, handler: (a: Account) => StubReply | Promise<StubReply>): StubReply | Promise<StubReply> {
    const match = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''));
    const reach = match ? this.tokens.get(match[1]) : undefined;
    if (!reach) return UNAUTHORIZED;
    const account = this.accounts.get(decodeURIComponent(accountId));
    if (!account || !reach.has(account.options.accountId)) return FORBIDDEN;
    return handler(account);
  }

  private priceOf(instrument: string): number {
    return this.prices.get(instrument) ?? 1.1;
  }

  private nextId(a: Account): string {
    a.lastTransactionId++;
    return String(a.lastTransactionId);
  }

  private valuation(a: Account): { nav: number; unrealized: number; marginUsed: number } {
    let unrealized = 0;
    let marginUsed = 0;
    for (const [instrument, p] of a.positions) {
      const price = this.priceOf(instrument);
      unrealized += p.units * (price - p.averagePrice);
      marginUsed += Math.abs(p.units) * price * a.options.marginRate;
    }
    return { nav: a.balance + unrealized, unrealized, marginUsed };
  }

  private summary(a: Account): StubReply {
    const { nav, unrealized, marginUsed } = this.valuation(a);
    const mine = this.orders.filter((o) => o.accountId === a.options.accountId);
    return {
      status: 200,
      body: {
        account: {
          id: a.options.accountId,
          alias: 'Primary',
          currency: a.options.currency,
          balance: num(a.balance),
          NAV: num(nav),
          unrealizedPL: num(unrealized),
          marginRate: num(a.options.marginRate),
          marginUsed: num(marginUsed),
          marginAvailable: num(nav - marginUsed),
          openPositionCount: [...a.positions.values()].filter((p) => p.units !== 0).length,
          pendingOrderCount: mine.filter((o) => o.state === 'PENDING').length,
          hedgingEnabled: false,
          createdTime: '2024-01-02T15:04:05.000000000Z',
          lastTransactionID: String(a.lastTransactionId),
        },
        lastTransactionID: String(a.lastTransactionId),
      },
    };
  }

  private createOrder(a: Account, req: RecordedRequest): StubReply | Promise<StubReply> {
    if (this.scriptedOrderReply) {
      const reply = this.scriptedOrderReply;
      this.scriptedOrderReply = undefined;
      return reply;
    }
    const reply = this.placeOrder(a, req);
    if (this.dropOrderReplies > 0 && reply.status === 201) {
      this.dropOrderReplies--;
      return new Promise<StubReply>(() => undefined);
    }
    const delay = this.delayOrderReplyMs;
    this.delayOrderReplyMs = 0;
    if (delay > 0) return new Promise<StubReply>((resolve) => setTimeout(() => resolve(reply), delay));
    return reply;
  }

  private placeOrder(a: Account, req: RecordedRequest): StubReply {
    let spec: Record<string, unknown>;
    try {
      spec = (JSON.parse(req.body) as { order: Record<string, unknown> }).order;
      if (typeof spec !== 'object' || spec === null) throw new Error('no order');
    } catch {
      return { status: 400, body: { errorMessage: 'The request was missing required data' } };
    }
    const type = String(spec.type);
    if (!ORDER_TYPES.has(type)) return { status: 400, body: { errorMessage: "Invalid value specified for 'order.type'" } };
    const instrument = String(spec.instrument);
    if (!INSTRUMENT.test(instrument)) return { status: 400, body: { errorMessage: "Invalid value specified for 'instrument'" } };
    const timeInForce = String(spec.timeInForce ?? (type === 'MARKET' ? 'FOK' : 'GTC'));
    const clientId = (spec.clientExtensions as { id?: string } | undefined)?.id;
    const reject = (reason: string): StubReply => this.reject(a, type, reason);

    if (typeof spec.units !== 'string' || !DECIMAL.test(spec.units) || Number(spec.units) === 0) return reject('UNITS_INVALID');
    if (type !== 'MARKET' && !positive(spec.price)) return reject('PRICE_MISSING');
    if (type === 'MARKET' ? timeInForce !== 'FOK' && timeInForce !== 'IOC' : !RESTING_TIF.has(timeInForce)) return reject('TIME_IN_FORCE_INVALID');
    if (!POSITION_FILLS.has(String(spec.positionFill ?? 'DEFAULT'))) return reject('POSITION_FILL_INVALID');
    const takeProfit = spec.takeProfitOnFill as { price?: unknown } | undefined;
    const stopLoss = spec.stopLossOnFill as { price?: unknown } | undefined;
    const trailing = spec.trailingStopLossOnFill as { distance?: unknown } | undefined;
    if (takeProfit && !positive(takeProfit.price)) return reject('TAKE_PROFIT_ON_FILL_PRICE_MISSING');
    if (stopLoss && !positive(stopLoss.price)) return reject('STOP_LOSS_ON_FILL_PRICE_MISSING');
    if (trailing && !positive(trailing.distance)) return reject('TRAILING_STOP_LOSS_ON_FILL_PRICE_DISTANCE_MISSING');
    if (
      clientId !== undefined &&
      this.orders.some((o) => o.accountId === a.options.accountId && o.state === 'PENDING' && o.clientExtensions?.id === clientId)
    ) {
      return reject('CLIENT_ORDER_ID_ALREADY_EXISTS');
    }

    const now = new Date().toISOString();
    const order: OandaStubOrderRecord = {
      id: this.nextId(a),
      createTime: now,
      type,
      state: 'PENDING',
      instrument,
      units: spec.units,
      timeInForce,
      positionFill: String(spec.positionFill ?? 'DEFAULT'),
      arrivedAtMs: req.arrivedAtMs,
      accountId: a.options.accountId,
      forInstrument: instrument,
    };
    if (type !== 'MARKET') order.price = String(spec.price);
    if (clientId !== undefined) order.clientExtensions = { id: clientId };
    if (takeProfit) order.takeProfitOnFill = { price: String(takeProfit.price), ...extensions(takeProfit) };
    if (stopLoss) order.stopLossOnFill = { price: String(stopLoss.price), ...extensions(stopLoss) };
    if (trailing) order.trailingStopLossOnFill = { distance: String(trailing.distance), ...extensions(trailing) };
    this.orders.push(order);
    const created = createTransaction(order, a, now);
    this.stream.emit(a.options.accountId, created);
    // Limit, stop and MIT orders rest: the stub moves no prices.
    if (type !== 'MARKET') return this.created(a, { orderCreateTransaction: created });
    const price = this.priceOf(instrument);
    if (this.marginShortfall(a, instrument, Number(spec.units), price)) {
      return this.created(a, { orderCreateTransaction: created, orderCancelTransaction: this.cancelTransaction(a, order, 'INSUFFICIENT_MARGIN', now) });
    }
    return this.created(a, { orderCreateTransaction: created, orderFillTransaction: this.fill(a, order, price, now) });
  }

  private created(a: Account, transactions: Record<string, { id: string }>): StubReply {
    const related = Object.values(transactions).map((t) => t.id);
    return { status: 201, body: { ...transactions, relatedTransactionIDs: related, lastTransactionID: String(a.lastTransactionId) } };
  }

  private reject(a: Account, type: string, reason: string): StubReply {
    const id = this.nextId(a);
    const message =
      reason === 'CLIENT_ORDER_ID_ALREADY_EXISTS'
        ? 'The client Order ID specified is already assigned to another pending Order'
        : `The order was rejected: ${reason}`;
    return {
      status: 400,
      body: {
        orderRejectTransaction: { id, accountID: a.options.accountId, time: new Date().toISOString(), type: `${type}_ORDER_REJECT`, rejectReason: reason },
        relatedTransactionIDs: [id],
        lastTransactionID: id,
        errorCode: reason,
        errorMessage: message,
      },
    };
  }

  /** Would the fill raise exposure beyond the margin available? */
  private marginShortfall(a: Account, instrument: string, units: number, price: number): boolean {
    const current = a.positions.get(instrument)?.units ?? 0;
    const added = Math.max(0, Math.abs(current + units) - Math.abs(current));
    const { nav, marginUsed } = this.valuation(a);
    return added * price * a.options.marginRate > nav - marginUsed;
  }

  private fill(a: Account, order: OandaStubOrderRecord, price: number, now: string): Record<string, unknown> & { id: string } {
    const id = this.nextId(a);
    // A take-profit/stop-loss order closes its whole trade; any other order fills its units.
    const closing = order.tradeID !== undefined ? a.trades.find((t) => t.id === order.tradeID) : undefined;
    const units = closing ? -closing.units : Number(order.units);
    const pl = this.applyToPosition(a, order.forInstrument, units, price);
    a.balance += pl;
    const trades = this.applyToTrades(a, order.forInstrument, units, price, id, closing);
    Object.assign(order, { state: 'FILLED', fillingTransactionID: id, filledTime: now });
    if (trades.opened) order.tradeOpenedID = id;
    const transaction: Record<string, unknown> & { id: string } = {
      id,
      accountID: a.options.accountId,
      time: now,
      batchID: order.id,
      type: 'ORDER_FILL',
      orderID: order.id,
      clientOrderID: order.clientExtensions?.id,
      instrument: order.forInstrument,
      units: num(units),
      price: num(price),
      fullVWAP: num(price),
      reason: `${order.type}_ORDER`,
      pl: num(pl),
      financing: '0.0000',
      commission: '0.0000',
      accountBalance: num(a.balance),
      ...(trades.opened ? { tradeOpened: { tradeID: id, units: num(trades.opened.units), price: num(price) } } : {}),
      ...(trades.closed.length ? { tradesClosed: trades.closed.map((t) => ({ tradeID: t.id, units: num(-t.units), price: num(price) })) } : {}),
      ...(trades.reduced ? { tradeReduced: { tradeID: trades.reduced.id, units: num(trades.reduced.by), price: num(price) } } : {}),
    };
    a.transactions.set(id, transaction);
    this.stream.emit(a.options.accountId, transaction);
    // v20 creates the dependent orders only for a trade the fill opened, in the fill's batch, after the fill.
    if (trades.opened) this.createDependents(a, order, trades.opened, transaction, now);
    // A closed trade's other dependent orders are cancelled by v20 itself.
    for (const t of trades.closed) {
      for (const dependent of this.orders.filter((o) => t.dependents.includes(o.id) && o.state === 'PENDING')) {
        this.cancelTransaction(a, dependent, 'LINKED_TRADE_CLOSED', now, order.id);
      }
    }
    return transaction;
  }

  private createDependents(a: Account, order: OandaStubOrderRecord, trade: Trade, fill: { id: string }, now: string): void {
    const exits = [
      ['TAKE_PROFIT', order.takeProfitOnFill],
      ['STOP_LOSS', order.stopLossOnFill],
      ['TRAILING_STOP_LOSS', order.trailingStopLossOnFill],
    ] as const;
    for (const [type, exit] of exits) {
      if (!exit) continue;
      const dependent: OandaStubOrderRecord = {
        id: this.nextId(a),
        createTime: now,
        type,
        state: 'PENDING',
        tradeID: trade.id,
        ...('distance' in exit ? { distance: exit.distance } : { price: exit.price }),
        timeInForce: 'GTC',
        ...(exit.clientExtensions?.id ? { clientExtensions: { id: exit.clientExtensions.id } } : {}),
        arrivedAtMs: order.arrivedAtMs,
        accountId: a.options.accountId,
        forInstrument: order.forInstrument,
      };
      this.orders.push(dependent);
      trade.dependents.push(dependent.id);
      const { id, tradeID, price, distance, timeInForce, clientExtensions } = dependent;
      const created = {
        id,
        accountID: a.options.accountId,
        time: now,
        batchID: order.id,
        type: `${type}_ORDER`,
        tradeID,
        ...(price !== undefined ? { price } : { distance }),
        timeInForce,
        triggerCondition: 'DEFAULT',
        reason: 'ON_FILL',
        orderFillTransactionID: fill.id,
        ...(clientExtensions ? { clientExtensions } : {}),
      };
      a.transactions.set(id, created);
      this.stream.emit(a.options.accountId, created);
    }
  }

  /** FIFO against the instrument's open trades of the other side (or `closing` alone); what is left opens a trade. */
  private applyToTrades(
    a: Account,
    instrument: string,
    units: number,
    price: number,
    fillId: string,
    closing?: Trade,
  ): { opened?: Trade; closed: Trade[]; reduced?: { id: string; by: number } } {
    const closed: Trade[] = [];
    let reduced: { id: string; by: number } | undefined;
    let left = units;
    const against = closing ? [closing] : a.trades.filter((t) => t.instrument === instrument && Math.sign(t.units) === -Math.sign(units));
    for (const t of against) {
      if (left === 0) break;
      if (Math.abs(left) >= Math.abs(t.units)) {
        left += t.units;
        closed.push(t);
      } else {
        t.units += left;
        reduced = { id: t.id, by: left };
        left = 0;
      }
    }
    a.trades = a.trades.filter((t) => !closed.includes(t));
    if (left === 0) return { closed, reduced };
    const opened: Trade = { id: fillId, instrument, units: left, price, dependents: [] };
    a.trades.push(opened);
    return { opened, closed, reduced };
  }

  /** Nets a fill into the position; returns the realized profit/loss. */
  private applyToPosition(a: Account, instrument: string, units: number, price: number): number {
    const p = a.positions.get(instrument) ?? { units: 0, averagePrice: 0 };
    const next = p.units + units;
    let pl = 0;
    if (p.units === 0 || Math.sign(p.units) === Math.sign(units)) {
      p.averagePrice = (p.units * p.averagePrice + units * price) / next;
    } else {
      pl = Math.min(Math.abs(units), Math.abs(p.units)) * (price - p.averagePrice) * Math.sign(p.units);
      if (next !== 0 && Math.sign(next) !== Math.sign(p.units)) p.averagePrice = price;
    }
    p.units = next;
    a.positions.set(instrument, p);
    return pl;
  }

  private cancelTransaction(a: Account, order: OandaStubOrderRecord, reason: string, now: string, batchID?: string): Record<string, unknown> & { id: string } {
    const id = this.nextId(a);
    Object.assign(order, { state: 'CANCELLED', cancellingTransactionID: id, cancelledTime: now });
    const transaction = {
      id,
      accountID: a.options.accountId,
      time: now,
      batchID: batchID ?? id,
      type: 'ORDER_CANCEL',
      orderID: order.id,
      clientOrderID: order.clientExtensions?.id,
      reason,
    };
    a.transactions.set(id, transaction);
    this.stream.emit(a.options.accountId, transaction);
    return transaction;
  }

  private transaction(a: Account, id: string): StubReply {
    const transaction = a.transactions.get(decodeURIComponent(id));
    if (!transaction) return { status: 404, body: { errorCode: 'NO_SUCH_TRANSACTION', errorMessage: 'The Transaction specified does not exist' } };
    return { status: 200, body: { transaction, lastTransactionID: String(a.lastTransactionId) } };
  }

  private find(a: Account, specifier: string): OandaStubOrderRecord | undefined {
    const spec = decodeURIComponent(specifier);
    const mine = this.orders.filter((o) => o.accountId === a.options.accountId);
    // `@id` names the newest order with that client id.
    if (spec.startsWith('@')) return mine.filter((o) => o.clientExtensions?.id === spec.slice(1)).pop();
    return mine.find((o) => o.id === spec);
  }

  private getOrder(a: Account, specifier: string): StubReply {
    const order = this.find(a, specifier);
    if (!order) return { status: 404, body: NO_ORDER };
    return { status: 200, body: { order: publicOrder(order), lastTransactionID: String(a.lastTransactionId) } };
  }

  private listOrders(a: Account, req: RecordedRequest): StubReply {
    const state = req.query.get('state') ?? 'PENDING';
    const instrument = req.query.get('instrument');
    const count = Number(req.query.get('count') ?? 50);
    const orders = this.orders
      .filter((o) => o.accountId === a.options.accountId && (state === 'ALL' || o.state === state) && (!instrument || o.forInstrument === instrument))
      .reverse()
      .slice(0, count);
    return { status: 200, body: { orders: orders.map(publicOrder), lastTransactionID: String(a.lastTransactionId) } };
  }

  private cancelOrder(a: Account, specifier: string): StubReply {
    const order = this.find(a, specifier);
    if (!order || order.state !== 'PENDING') {
      const id = this.nextId(a);
      const reject = { id, type: 'ORDER_CANCEL_REJECT', orderID: order?.id, rejectReason: 'ORDER_DOESNT_EXIST' };
      return { status: 404, body: { orderCancelRejectTransaction: reject, relatedTransactionIDs: [id], lastTransactionID: id, ...NO_ORDER } };
    }
    const cancel = this.cancelTransaction(a, order, 'CLIENT_REQUEST', new Date().toISOString());
    return { status: 200, body: { orderCancelTransaction: cancel, relatedTransactionIDs: [cancel.id], lastTransactionID: cancel.id } };
  }

  private position(a: Account, instrumentParam: string): StubReply {
    const instrument = decodeURIComponent(instrumentParam);
    if (!INSTRUMENT.test(instrument)) return { status: 400, body: { errorMessage: "Invalid value specified for 'instrument'" } };
    return { status: 200, body: { position: this.positionJson(a, instrument), lastTransactionID: String(a.lastTransactionId) } };
  }

  /** As v20: only the positions with units on either side. */
  private openPositions(a: Account): StubReply {
    const open = [...a.positions].filter(([, p]) => p.units !== 0).map(([instrument]) => this.positionJson(a, instrument));
    return { status: 200, body: { positions: open, lastTransactionID: String(a.lastTransactionId) } };
  }

  private positionJson(a: Account, instrument: string): Record<string, unknown> {
    const p = a.positions.get(instrument) ?? { units: 0, averagePrice: 0 };
    const unrealized = p.units * (this.priceOf(instrument) - p.averagePrice);
    const side = (units: number) => ({
      units: num(units),
      ...(units !== 0 ? { averagePrice: num(p.averagePrice) } : {}),
      pl: '0.0000',
      unrealizedPL: num(units !== 0 ? unrealized : 0),
    });
    return { instrument, long: side(Math.max(p.units, 0)), short: side(Math.min(p.units, 0)), pl: '0.0000', unrealizedPL: num(unrealized) };
  }
}

export async function startOandaStub(): Promise<OandaStub> {
  return new OandaStub().start();
}

function createTransaction(order: OandaStubOrderRecord, a: Account, now: string): Record<string, unknown> & { id: string } {
  const { id, type, instrument, units, price, timeInForce, positionFill, clientExtensions, takeProfitOnFill, stopLossOnFill, trailingStopLossOnFill } = order;
  const fields = { instrument, units, price, timeInForce, positionFill, clientExtensions, takeProfitOnFill, stopLossOnFill, trailingStopLossOnFill };
  return { id, accountID: a.options.accountId, time: now, batchID: id, type: `${type}_ORDER`, reason: 'CLIENT_ORDER', ...fields };
}

/** What v20 returns: the order without the stub's bookkeeping. */
function publicOrder(order: OandaStubOrderRecord): OandaStubOrder {
  const { arrivedAtMs: _arrived, accountId: _account, forInstrument: _for, ...rest } = order;
  return rest;
}

function extensions(details: object): OnFillDetails {
  const id = (details as { clientExtensions?: { id?: unknown } }).clientExtensions?.id;
  return typeof id === 'string' ? { clientExtensions: { id } } : {};
}

function positive(value: unknown): boolean {
  return typeof value === 'string' && DECIMAL.test(value) && Number(value) > 0;
}

function num(value: number): string {
  return String(Number(value.toFixed(6)));
}
