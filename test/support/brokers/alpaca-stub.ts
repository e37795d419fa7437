import { randomUUID } from 'node:crypto';
import { AlpacaTradeStream, AlpacaTradeUpdate } from './alpaca-stream-stub';
import { BrokerStubServer, RecordedRequest, StubReply } from './broker-stub';

/**
 * Alpaca trading API stub (https://docs.alpaca.markets/reference): header-key auth, one account per key,
 * an order book with Alpaca's client_order_id uniqueness and field validation, immediate market fills
 * that move cash and positions, resting limit/stop orders, bracket/oto legs (found by their own client order id;
 * OCO: a filled exit cancels its partner), positions and cancels, and the trading websocket (`/stream`,
 * trade_updates) with an event for each of those order changes. Options: the contract listing
 * (`GET /v2/options/contracts`, filtered and paged as Alpaca does), the account's options levels in `/v2/account`,
 * and Alpaca's option order rules (whole contracts, day only, simple orders, the level needed to buy).
 */

export interface AlpacaStubKey {
  apiKey: string;
  apiSecret: string;
  /** Alpaca account status; only ACTIVE accounts trade. */
  status?: string;
  tradingBlocked?: boolean;
  accountBlocked?: boolean;
  /** Starting cash (and equity), USD. */
  equity?: number;
  /** Alpaca's options trading level (0 disabled, 1 covered calls and cash-secured puts, 2 also long calls and puts, 3 spreads); paper starts at 3. */
  optionsLevel?: number;
}

/** A listed option contract as `GET /v2/options/contracts` returns it. */
export interface AlpacaStubContract {
  id: string;
  symbol: string;
  name: string;
  status: 'active' | 'inactive';
  tradable: boolean;
  expiration_date: string;
  root_symbol: string;
  underlying_symbol: string;
  underlying_asset_id: string;
  type: 'call' | 'put';
  style: 'american';
  strike_price: string;
  multiplier: string;
  size: string;
  open_interest: string | null;
  open_interest_date: string | null;
  close_price: string | null;
  close_price_date: string | null;
}

export interface AlpacaStubOrder {
  id: string;
  client_order_id: string;
  symbol: string;
  asset_class: 'us_equity' | 'crypto' | 'us_option';
  qty: string;
  filled_qty: string;
  filled_avg_price: string | null;
  side: 'buy' | 'sell';
  type: string;
  order_type: string;
  time_in_force: string;
  limit_price: string | null;
  stop_price: string | null;
  order_class: string;
  status: string;
  extended_hours: boolean;
  created_at: string;
  updated_at: string;
  submitted_at: string;
  filled_at: string | null;
  canceled_at: string | null;
  legs: AlpacaStubOrder[] | null;
}

/** A top-level order as the stub keeps it: Alpaca's fields plus when its request arrived and whose it is. */
export interface AlpacaStubOrderRecord extends AlpacaStubOrder {
  arrivedAtMs: number;
  apiKey: string;
}

interface Account {
  id: string;
  key: Required<AlpacaStubKey>;
  cash: number;
  positions: Map<string, number>;
  /** Average entry price per position, from the fills that built it. */
  entryPrices: Map<string, number>;
  orders: Map<string, AlpacaStubOrderRecord>;
}

const OPEN_STATUSES = new Set([
  'new',
  'accepted',
  'pending_new',
  'partially_filled',
  'held',
  'accepted_for_bidding',
  'pending_cancel',
  'pending_replace',
  'done_for_day',
]);
const ORDER_TYPES = new Set(['market', 'limit', 'stop', 'stop_limit', 'trailing_stop']);
const TIMES_IN_FORCE = new Set(['day', 'gtc', 'opg', 'cls', 'ioc', 'fok']);
const ORDER_CLASSES = new Set(['', 'simple', 'bracket', 'oco', 'oto']);
const SYMBOL = /^[A-Z][A-Z.]{0,9}$|^[A-Z]{2,6}\/[A-Z]{3,4}$/;
const OCC_SYMBOL = /^([A-Z][A-Z0-9]{0,5})(\d{6})([CP])(\d{8})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Shares per contract: option prices are per share, a contract costs 100 times that. */
const MULTIPLIER = 100;
const UNAUTHORIZED: StubReply = { status: 401, body: { code: 40110000, message: 'request is not authorized' } };

export class AlpacaStub extends BrokerStubServer {
  /** Top-level orders of every account, in arrival order (legs are inside `legs`). */
  readonly orders: AlpacaStubOrderRecord[] = [];
  private readonly accounts = new Map<string, Account>();
  private readonly prices = new Map<string, number>();
  private scriptedOrderReply?: StubReply;
  /** Listed option contracts, in listing order (expiration, then type, then strike). */
  readonly contracts: AlpacaStubContract[] = [];
  /** The trade_updates websocket: authenticates with the account keys, sends an event per order change. */
  readonly stream = new AlpacaTradeStream((key, secret) => (this.accounts.get(key)?.key.apiSecret === secret ? key : undefined));

  constructor() {
    super();
    this.upgrade(/^\/stream$/, (req, socket, head) => this.stream.handleUpgrade(req, socket, head));
    this.route('GET', /^\/v2\/account$/, (req) => this.authed(req, (a) => ({ status: 200, body: this.accountJson(a) })));
    this.route('POST', /^\/v2\/orders$/, (req) => this.authed(req, (a) => this.createOrder(a, req)));
    this.route('GET', /^\/v2\/orders:by_client_order_id$/, (req) => this.authed(req, (a) => this.orderByClientId(a, req)));
    this.route('GET', /^\/v2\/orders$/, (req) => this.authed(req, (a) => this.listOrders(a, req)));
    this.route('DELETE', /^\/v2\/orders\/([^/]+)$/, (req, [id]) => this.authed(req, (a) => this.cancelOrder(a, decodeURIComponent(id))));
    this.route('GET', /^\/v2\/positions$/, (req) =>
      this.authed(req, (a) => ({ status: 200, body: [...a.positions.keys()].map((symbol) => this.positionJson(a, symbol)) })),
    );
    this.route('GET', /^\/v2\/options\/contracts$/, (req) => this.authed(req, () => this.listContracts(req)));
    this.route('GET', /^\/v2\/positions\/([^/]+)$/, (req, [symbol]) => this.authed(req, (a) => this.position(a, decodeURIComponent(symbol))));
  }

  /** Registers a key pair with its own account. */
  addKey(key: AlpacaStubKey): void {
    const full: Required<AlpacaStubKey> = { status: 'ACTIVE', tradingBlocked: false, accountBlocked: false, equity: 100_000, optionsLevel: 3, ...key };
    this.accounts.set(key.apiKey, { id: randomUUID(), key: full, cash: full.equity, positions: new Map(), entryPrices: new Map(), orders: new Map() });
  }

  /** Changes an account's options trading level (as its owner or Alpaca would). */
  setOptionsLevel(apiKey: string, level: number): void {
    this.accounts.get(apiKey)!.key.optionsLevel = level;
  }

  /** Lists a call and a put at each strike for each expiration (YYYY-MM-DD) of an underlying; returns their OCC symbols. */
  listOptions(underlying: string, expirations: string[], strikes: number[], over: Partial<AlpacaStubContract> = {}): string[] {
    const symbols: string[] = [];
    for (const expiration of expirations)
      for (const type of ['call', 'put'] as const)
        for (const strike of strikes) {
          const symbol = `${underlying}${expiration.slice(2).replace(/-/g, '')}${type === 'call' ? 'C' : 'P'}${String(Math.round(strike * 1000)).padStart(8, '0')}`;
          this.contracts.push({
            id: randomUUID(),
            symbol,
            name: `${underlying} ${expiration} ${type} ${strike}`,
            status: 'active',
            tradable: true,
            expiration_date: expiration,
            root_symbol: underlying,
            underlying_symbol: underlying,
            underlying_asset_id: randomUUID(),
            type,
            style: 'american',
            strike_price: num(strike),
            multiplier: String(MULTIPLIER),
            size: String(MULTIPLIER),
            open_interest: '1200',
            open_interest_date: expiration,
            close_price: '2.5',
            close_price_date: expiration,
            ...over,
          });
          symbols.push(symbol);
        }
    return symbols;
  }

  /** Market fill price for a symbol (default 100; an option's price is per share). */
  setPrice(symbol: string, price: number): void {
    this.prices.set(positionKey(symbol), price);
  }

  /** The next authenticated order submission gets this reply and creates nothing (for broker texts the stub cannot produce). */
  replyToNextOrder(reply: StubReply): void {
    this.scriptedOrderReply = reply;
  }

  /**
   * The market reaches a resting order: `qty` of it fills at `price` now, as Alpaca reports it afterwards —
   * status partially_filled (or filled once all of it did), filled_qty cumulative, filled_avg_price the average.
   */
  fillPart(clientOrderId: string, qty: number, price: number): void {
    const found = this.findByClientId(clientOrderId);
    const order = found?.order;
    if (!found || !order || !OPEN_STATUSES.has(order.status)) throw new Error(`no open order ${clientOrderId} at the Alpaca stub`);
    const before = Number(order.filled_qty);
    const after = before + qty;
    if (after > Number(order.qty)) throw new Error('fillPart: more than the order quantity');
    const a = this.accounts.get(found.parent.apiKey)!;
    applyFill(a, order.symbol, qty * (order.side === 'buy' ? 1 : -1), price);
    const average = (before * Number(order.filled_avg_price ?? 0) + qty * price) / after;
    const now = new Date().toISOString();
    const done = after === Number(order.qty);
    Object.assign(order, {
      filled_qty: num(after),
      filled_avg_price: num(average),
      status: done ? 'filled' : 'partially_filled',
      updated_at: now,
      filled_at: done ? now : null,
    });
    const extra = {
      execution_id: randomUUID(),
      price: num(price),
      qty: num(qty),
      position_qty: num(this.positionOf(found.parent.apiKey, order.symbol)),
      timestamp: now,
    };
    this.tradeUpdate(order, done ? 'fill' : 'partial_fill', extra, found.parent.apiKey);
    if (!done) return;
    const legs = found.parent.legs ?? [];
    if (order === found.parent) {
      // The entry filled: its first exit starts working, the other waits (held) as its OCO partner.
      if (legs[0]?.status === 'held') Object.assign(legs[0], { status: 'new', updated_at: now });
      if (legs[0]) this.tradeUpdate(legs[0], 'new', {}, found.parent.apiKey);
    } else {
      // OCO: one exit filled, Alpaca cancels the other.
      for (const sibling of legs) if (sibling !== order && cancel(sibling)) this.tradeUpdate(sibling, 'canceled', {}, found.parent.apiKey);
    }
  }

  /** A top-level order or one of its legs, by client order id, with the top-level order it belongs to. */
  private findByClientId(clientOrderId: string): { parent: AlpacaStubOrderRecord; order: AlpacaStubOrder } | undefined {
    for (const parent of this.orders) {
      if (parent.client_order_id === clientOrderId) return { parent, order: parent };
      const leg = parent.legs?.find((l) => l.client_order_id === clientOrderId);
      if (leg) return { parent, order: leg };
    }
    return undefined;
  }

  /** A trade_updates event for one of a key's orders, as it stands now. */
  private tradeUpdate(order: AlpacaStubOrder, event: string, extra: Partial<AlpacaTradeUpdate> = {}, apiKey = (order as AlpacaStubOrderRecord).apiKey): void {
    this.stream.emit(apiKey, { event, order: publicOrder(order) as unknown as Record<string, unknown>, ...extra });
  }

  get ordersByClientId(): Map<string, AlpacaStubOrderRecord> {
    return new Map(this.orders.map((o) => [o.client_order_id, o]));
  }

  /** Signed position size of a key's account, as a number. */
  positionOf(apiKey: string, symbol: string): number {
    return this.accounts.get(apiKey)?.positions.get(positionKey(symbol)) ?? 0;
  }

  private authed(req: RecordedRequest, handler: (account: Account) => StubReply): StubReply {
    const keyId = req.headers['apca-api-key-id'];
    const secret = req.headers['apca-api-secret-key'];
    const account = typeof keyId === 'string' ? this.accounts.get(keyId) : undefined;
    if (!account || secret !== account.key.apiSecret) return UNAUTHORIZED;
    return handler(account);
  }

  private priceOf(symbol: string): number {
    return this.prices.get(positionKey(symbol)) ?? 100;
  }

  private accountJson(a: Account): Record<string, unknown> {
    let equity = a.cash;
    for (const [symbol, qty] of a.positions) equity += qty * this.priceOf(symbol);
    return {
      id: a.id,
      account_number: `PA${a.id.replace(/-/g, '').slice(0, 10).toUpperCase()}`,
      status: a.key.status,
      crypto_status: 'ACTIVE',
      currency: 'USD',
      cash: num(a.cash),
      buying_power: num(a.cash),
      equity: num(equity),
      last_equity: num(equity),
      portfolio_value: num(equity),
      pattern_day_trader: false,
      trading_blocked: a.key.tradingBlocked,
      options_approved_level: a.key.optionsLevel,
      options_trading_level: a.key.optionsLevel,
      options_buying_power: num(a.cash),
      transfers_blocked: false,
      account_blocked: a.key.accountBlocked,
      shorting_enabled: true,
      multiplier: '1',
      created_at: '2024-01-02T15:04:05Z',
    };
  }

  private createOrder(a: Account, req: RecordedRequest): StubReply {
    if (this.scriptedOrderReply) {
      const reply = this.scriptedOrderReply;
      this.scriptedOrderReply = undefined;
      return reply;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(req.body) as Record<string, unknown>;
    } catch {
      return invalid('request body format is invalid');
    }
    const contract = typeof body.symbol === 'string' && OCC_SYMBOL.test(body.symbol) ? this.contracts.find((c) => c.symbol === body.symbol) : undefined;
    if (typeof body.symbol === 'string' && OCC_SYMBOL.test(body.symbol) && !contract) return invalid(`asset "${body.symbol}" not found`);
    const problem = contract ? validateOptionOrder(body) : validateOrder(body);
    if (problem) return invalid(problem);
    const clientOrderId = typeof body.client_order_id === 'string' ? body.client_order_id : randomUUID();
    if (a.orders.has(clientOrderId)) return invalid('client_order_id must be unique');
    if (a.key.status !== 'ACTIVE' || a.key.tradingBlocked || a.key.accountBlocked) {
      return { status: 403, body: { code: 40310000, message: 'account is not allowed to trade' } };
    }

    const symbol = String(body.symbol);
    const qty = Number(body.qty);
    const type = String(body.type);
    const side = body.side as 'buy' | 'sell';
    const price = type === 'market' ? this.priceOf(symbol) : Number(body.limit_price ?? body.stop_price);
    if (contract) {
      const refused = this.optionsLevelRefusal(a, contract, side, qty);
      if (refused) return { status: 403, body: { code: 40310000, message: refused } };
    }
    if (side === 'buy' && qty * price * (contract ? MULTIPLIER : 1) > a.cash) {
      return { status: 403, body: { code: 40310000, message: 'insufficient buying power' } };
    }

    const closing = this.closingShortfall(a, symbol, side, qty);
    if (closing) return { status: 403, body: { code: 40310000, message: closing } };

    const now = new Date().toISOString();
    const order: AlpacaStubOrderRecord = {
      ...baseOrder(symbol, String(body.qty), side, now),
      client_order_id: clientOrderId,
      type,
      order_type: type,
      time_in_force: String(body.time_in_force),
      limit_price: body.limit_price === undefined ? null : String(body.limit_price),
      stop_price: body.stop_price === undefined ? null : String(body.stop_price),
      order_class: typeof body.order_class === 'string' && body.order_class !== 'simple' ? body.order_class : '',
      status: 'accepted',
      arrivedAtMs: req.arrivedAtMs,
      apiKey: a.key.apiKey,
    };
    // Market orders fill at once; limit and stop orders rest until cancelled (the stub moves no prices).
    if (type === 'market') this.fill(a, order, price, now);
    order.legs = this.exitLegs(body, order, now);
    a.orders.set(clientOrderId, order);
    this.orders.push(order);
    this.tradeUpdate(order, order.status === 'filled' ? 'fill' : 'new');
    return { status: 200, body: publicOrder(order) };
  }

  /** As Alpaca's levels: 0 trades no options, 1 sells covered calls and cash-secured puts (and buys them back), 2 also buys. */
  private optionsLevelRefusal(a: Account, contract: AlpacaStubContract, side: 'buy' | 'sell', qty: number): string | undefined {
    const level = a.key.optionsLevel;
    const held = a.positions.get(contract.symbol) ?? 0;
    if (level < 1) return 'account not eligible to trade options';
    if (side === 'buy') return level >= 2 || -held >= qty ? undefined : 'account not eligible to trade long options';
    if (held >= qty) return undefined; // closing a long
    // Opening a short: covered by 100 shares a contract (call) or by cash at the strike (put).
    const covered =
      contract.type === 'call'
        ? (a.positions.get(contract.underlying_symbol) ?? 0) >= qty * MULTIPLIER
        : a.cash >= qty * MULTIPLIER * Number(contract.strike_price);
    return covered ? undefined : 'account not eligible to trade uncovered option contracts';
  }

  /** `GET /v2/options/contracts` with Alpaca's filters; without an upper expiration bound it lists up to the next weekend. */
  private listContracts(req: RecordedRequest): StubReply {
    const q = req.query;
    const limit = Number(q.get('limit') ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return { status: 422, body: { code: 42210000, message: 'limit must be between 1 and 10000' } };
    for (const name of ['expiration_date', 'expiration_date_gte', 'expiration_date_lte']) {
      const v = q.get(name);
      if (v !== null && !DATE.test(v)) return { status: 422, body: { code: 42210000, message: `invalid ${name}` } };
    }
    const type = q.get('type');
    if (type !== null && type !== 'call' && type !== 'put') return { status: 422, body: { code: 42210000, message: 'invalid type' } };
    const underlyings = q.get('underlying_symbols')?.split(',').filter(Boolean);
    const status = q.get('status') ?? 'active';
    const exact = q.get('expiration_date');
    const gte = q.get('expiration_date_gte');
    const lte = q.get('expiration_date_lte') ?? (exact ? null : nextWeekend());
    const strikeGte = q.get('strike_price_gte');
    const strikeLte = q.get('strike_price_lte');
    const matching = this.contracts.filter(
      (c) =>
        (!underlyings || underlyings.includes(c.underlying_symbol)) &&
        c.status === status &&
        (!type || c.type === type) &&
        (!exact || c.expiration_date === exact) &&
        (!gte || c.expiration_date >= gte) &&
        (!lte || c.expiration_date <= lte) &&
        (strikeGte === null || Number(c.strike_price) >= Number(strikeGte)) &&
        (strikeLte === null || Number(c.strike_price) <= Number(strikeLte)),
    );
    const start = q.get('page_token') ? Number(Buffer.from(q.get('page_token')!, 'base64').toString()) : 0;
    const page = matching.slice(start, start + limit);
    const next = start + limit < matching.length ? Buffer.from(String(start + limit)).toString('base64') : null;
    return { status: 200, body: { option_contracts: page, next_page_token: next } };
  }

  /**
   * As Alpaca: an order against the position may use only what open orders on that side do not hold already —
   * a filled bracket's working exits hold the whole position until they are cancelled.
   */
  private closingShortfall(a: Account, symbol: string, side: 'buy' | 'sell', qty: number): string | undefined {
    const position = a.positions.get(positionKey(symbol)) ?? 0;
    const against = side === 'sell' ? position : -position;
    if (against <= 0) return undefined;
    let held = 0;
    for (const parent of a.orders.values()) {
      if (positionKey(parent.symbol) !== positionKey(symbol)) continue;
      // A working OCO pair holds its quantity once; a resting simple order on that side holds its own.
      const legs = parent.status === 'filled' ? (parent.legs ?? []).filter((l) => l.side === side && OPEN_STATUSES.has(l.status)) : [];
      if (legs.length > 0) held += Number(parent.qty);
      else if (parent.side === side && !parent.legs && OPEN_STATUSES.has(parent.status)) held += Number(parent.qty);
    }
    const available = Math.max(0, against - held);
    if (held === 0 || qty <= available) return undefined;
    return `insufficient qty available for order (requested: ${num(qty)}, available: ${num(available)})`;
  }

  private fill(a: Account, order: AlpacaStubOrder, price: number, now: string): void {
    applyFill(a, order.symbol, Number(order.qty) * (order.side === 'buy' ? 1 : -1), price);
    Object.assign(order, { status: 'filled', filled_qty: order.qty, filled_avg_price: num(price), filled_at: now, updated_at: now });
  }

  /** Bracket/oto exit legs: working once the entry filled, `held` until then. */
  private exitLegs(body: Record<string, unknown>, parent: AlpacaStubOrder, now: string): AlpacaStubOrder[] | null {
    if (parent.order_class !== 'bracket' && parent.order_class !== 'oto') return null;
    const exitSide = parent.side === 'buy' ? 'sell' : 'buy';
    const legs: AlpacaStubOrder[] = [];
    const tp = (body.take_profit as { limit_price?: unknown } | undefined)?.limit_price;
    const { stop_price: sl, limit_price: slLimit } = (body.stop_loss as { stop_price?: unknown; limit_price?: unknown } | undefined) ?? {};
    if (tp !== undefined) legs.push({ ...baseOrder(parent.symbol, parent.qty, exitSide, now), type: 'limit', order_type: 'limit', limit_price: String(tp) });
    // A stop_loss with a limit_price is a stop-limit leg.
    if (sl !== undefined && slLimit !== undefined) {
      legs.push({
        ...baseOrder(parent.symbol, parent.qty, exitSide, now),
        type: 'stop_limit',
        order_type: 'stop_limit',
        stop_price: String(sl),
        limit_price: String(slLimit),
      });
    } else if (sl !== undefined)
      legs.push({ ...baseOrder(parent.symbol, parent.qty, exitSide, now), type: 'stop', order_type: 'stop', stop_price: String(sl) });
    const working = parent.status === 'filled';
    // In a bracket only the take-profit works at first; the stop loss waits (held) as its OCO partner.
    legs.forEach((leg, i) =>
      Object.assign(leg, { order_class: parent.order_class, time_in_force: parent.time_in_force, status: working && i === 0 ? 'new' : 'held' }),
    );
    return legs;
  }

  private orderByClientId(a: Account, req: RecordedRequest): StubReply {
    const found = this.findByClientId(req.query.get('client_order_id') ?? '');
    const order = found && found.parent.apiKey === a.key.apiKey ? found.order : undefined;
    return order ? { status: 200, body: publicOrder(order) } : { status: 404, body: { code: 40410000, message: 'order not found' } };
  }

  private listOrders(a: Account, req: RecordedRequest): StubReply {
    const status = req.query.get('status') ?? 'open';
    const symbols = req.query.get('symbols')?.split(',').filter(Boolean);
    const nested = req.query.get('nested') === 'true';
    const limit = Number(req.query.get('limit') ?? 50);
    const all = [...a.orders.values()].flatMap((o) => (nested ? [o] : [o, ...(o.legs ?? [])]));
    const wanted = all.filter((o) => {
      if (symbols && !symbols.includes(o.symbol)) return false;
      if (status === 'all') return true;
      return OPEN_STATUSES.has(o.status) === (status === 'open');
    });
    return { status: 200, body: wanted.slice(0, limit).map(publicOrder) };
  }

  private cancelOrder(a: Account, id: string): StubReply {
    for (const parent of a.orders.values()) {
      const legs = parent.legs ?? [];
      const target = parent.id === id ? parent : legs.find((l) => l.id === id);
      if (!target) continue;
      if (!OPEN_STATUSES.has(target.status)) return { status: 422, body: { code: 42210000, message: 'order is not cancelable' } };
      // Cancelling an entry cancels its exits; cancelling one exit cancels its OCO partner.
      for (const o of target === parent ? [parent, ...legs] : legs) if (cancel(o)) this.tradeUpdate(o, 'canceled', {}, a.key.apiKey);
      return { status: 204 };
    }
    return { status: 404, body: { code: 40410000, message: 'order not found' } };
  }

  private position(a: Account, symbol: string): StubReply {
    const key = positionKey(symbol);
    if (!a.positions.get(key)) return { status: 404, body: { code: 40410000, message: 'position does not exist' } };
    return { status: 200, body: this.positionJson(a, key) };
  }

  /** Alpaca's position object, valued at the stub's price for the symbol against the fills' average entry price. */
  private positionJson(a: Account, key: string): Record<string, unknown> {
    const qty = a.positions.get(key)!;
    const price = this.priceOf(key);
    const entry = a.entryPrices.get(key)!;
    const option = OCC_SYMBOL.test(key);
    const size = option ? MULTIPLIER : 1;
    return {
      asset_id: randomUUID(),
      symbol: key,
      exchange: option ? 'OPRA' : key.length > 5 ? 'CRYPTO' : 'NASDAQ',
      asset_class: option ? 'us_option' : key.endsWith('USD') && key.length > 5 ? 'crypto' : 'us_equity',
      qty: num(qty),
      qty_available: num(qty),
      side: qty > 0 ? 'long' : 'short',
      avg_entry_price: num(entry),
      current_price: num(price),
      market_value: num(qty * price * size),
      cost_basis: num(qty * entry * size),
      unrealized_pl: num(qty * (price - entry) * size),
      unrealized_plpc: num(((price - entry) / entry) * Math.sign(qty)),
    };
  }
}

export async function startAlpacaStub(): Promise<AlpacaStub> {
  return new AlpacaStub().start();
}

/** Nets a fill into the account: position, its average entry price (reset when it crosses zero) and cash. */
function applyFill(a: Account, symbol: string, signed: number, price: number): void {
  const key = positionKey(symbol);
  const before = a.positions.get(key) ?? 0;
  const next = before + signed;
  const entry = a.entryPrices.get(key) ?? 0;
  if (before === 0 || Math.sign(before) === Math.sign(signed)) a.entryPrices.set(key, (before * entry + signed * price) / next);
  else if (next !== 0 && Math.sign(next) !== Math.sign(before)) a.entryPrices.set(key, price);
  if (next === 0) {
    a.positions.delete(key);
    a.entryPrices.delete(key);
  } else a.positions.set(key, next);
  a.cash -= signed * price * (OCC_SYMBOL.test(key) ? MULTIPLIER : 1);
}

function validateOrder(body: Record<string, unknown>): string | undefined {
  if (typeof body.symbol !== 'string' || !SYMBOL.test(body.symbol)) return `asset "${String(body.symbol)}" not found`;
  const qty = Number(body.qty);
  if (body.qty === undefined || !Number.isFinite(qty) || qty <= 0) return 'qty must be > 0';
  if (body.side !== 'buy' && body.side !== 'sell') return 'invalid side';
  if (typeof body.type !== 'string' || !ORDER_TYPES.has(body.type)) return 'invalid order type';
  if (typeof body.time_in_force !== 'string' || !TIMES_IN_FORCE.has(body.time_in_force)) return 'invalid time_in_force';
  if ((body.type === 'limit' || body.type === 'stop_limit') && !positive(body.limit_price)) return 'limit_price is required for limit orders';
  if ((body.type === 'stop' || body.type === 'stop_limit') && !positive(body.stop_price)) return 'stop_price is required for stop orders';
  if (body.type === 'market' && (body.limit_price !== undefined || body.stop_price !== undefined)) return 'market orders take no limit_price or stop_price';
  if (typeof body.client_order_id === 'string' && body.client_order_id.length > 128) return 'client_order_id must be no more than 128 characters';
  const orderClass = body.order_class ?? '';
  if (typeof orderClass !== 'string' || !ORDER_CLASSES.has(orderClass)) return 'invalid order_class';
  return orderClass === 'bracket' || orderClass === 'oto' ? validateExits(body, orderClass) : undefined;
}

/** Alpaca's rules for an option order (the contract is listed): whole contracts, day only, simple orders, regular hours. */
function validateOptionOrder(body: Record<string, unknown>): string | undefined {
  const qty = Number(body.qty);
  if (body.qty === undefined || !Number.isFinite(qty) || qty <= 0) return 'qty must be > 0';
  if (!Number.isInteger(qty)) return 'qty must be integer';
  if (body.side !== 'buy' && body.side !== 'sell') return 'invalid side';
  if (typeof body.type !== 'string' || !['market', 'limit', 'stop', 'stop_limit'].includes(body.type)) return 'invalid order type for options';
  if (body.time_in_force !== 'day') return 'only day orders are allowed for options';
  if (body.extended_hours === true) return 'extended hours is not supported for options';
  if (body.order_class !== undefined && body.order_class !== 'simple' && body.order_class !== '') return 'complex orders are not supported for options';
  if (body.take_profit !== undefined || body.stop_loss !== undefined) return 'take_profit and stop_loss are not supported for options';
  if ((body.type === 'limit' || body.type === 'stop_limit') && !positive(body.limit_price)) return 'limit_price is required for limit orders';
  if ((body.type === 'stop' || body.type === 'stop_limit') && !positive(body.stop_price)) return 'stop_price is required for stop orders';
  return undefined;
}

/** The Sunday after today (UTC): Alpaca's default upper bound of a contract listing. */
function nextWeekend(): string {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + (7 - d.getUTCDay()));
  return d.toISOString().slice(0, 10);
}

function validateExits(body: Record<string, unknown>, orderClass: string): string | undefined {
  const tp = (body.take_profit as { limit_price?: unknown } | undefined)?.limit_price;
  const { stop_price: sl, limit_price: slLimit } = (body.stop_loss as { stop_price?: unknown; limit_price?: unknown } | undefined) ?? {};
  if (slLimit !== undefined && !positive(slLimit)) return 'stop_loss.limit_price must be a positive number';
  if (orderClass === 'bracket' && (!positive(tp) || !positive(sl))) return 'bracket orders require take_profit.limit_price and stop_loss.stop_price';
  if (orderClass === 'oto' && positive(tp) === positive(sl)) return 'oto orders require exactly one of take_profit or stop_loss';
  if (body.time_in_force !== 'day' && body.time_in_force !== 'gtc') return `${orderClass} orders must be day or gtc`;
  if (orderClass === 'bracket' && (body.side === 'buy' ? Number(tp) <= Number(sl) : Number(tp) >= Number(sl))) {
    return 'take_profit.limit_price must be on the profit side of stop_loss.stop_price';
  }
  return undefined;
}

function baseOrder(symbol: string, qty: string, side: 'buy' | 'sell', now: string): AlpacaStubOrder {
  return {
    id: randomUUID(),
    client_order_id: randomUUID(),
    symbol,
    asset_class: OCC_SYMBOL.test(symbol) ? 'us_option' : symbol.includes('/') ? 'crypto' : 'us_equity',
    qty,
    filled_qty: '0',
    filled_avg_price: null,
    side,
    type: 'market',
    order_type: 'market',
    time_in_force: 'day',
    limit_price: null,
    stop_price: null,
    order_class: '',
    status: 'accepted',
    extended_hours: false,
    created_at: now,
    updated_at: now,
    submitted_at: now,
    filled_at: null,
    canceled_at: null,
    legs: null,
  };
}

/** True when it was open (and is canceled now). */
function cancel(order: AlpacaStubOrder): boolean {
  if (!OPEN_STATUSES.has(order.status)) return false;
  const now = new Date().toISOString();
  Object.assign(order, { status: 'canceled', canceled_at: now, updated_at: now });
  return true;
}

/** What Alpaca returns: the order without the stub's bookkeeping. */
function publicOrder(order: AlpacaStubOrder): AlpacaStubOrder {
  const { arrivedAtMs: _arrived, apiKey: _key, ...rest } = order as AlpacaStubOrderRecord;
  return { ...rest, legs: rest.legs?.map(publicOrder) ?? null };
}

function invalid(message: string): StubReply {
  return { status: 422, body: { code: 40010001, message } };
}

function positive(value: unknown): boolean {
  return (typeof value === 'string' || typeof value === 'number') && Number(value) > 0;
}

/** Alpaca keys positions by symbol without the crypto slash. */
function positionKey(symbol: string): string {
  return symbol.toUpperCase().replace('/', '');
}

function num(value: number): string {
  return String(Number(value.toFixed(9)));
}
