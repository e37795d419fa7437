import { createHmac, timingSafeEqual } from 'node:crypto';
import { BinanceUserDataStream } from './binance-stream-stub';
import { BrokerStubServer, RecordedRequest, StubReply } from './broker-stub';

/**
 * A Binance spot REST stub that behaves like https://api.binance.com for the endpoints Switchyard uses:
 * SIGNED requests are verified exactly as Binance does (HMAC-SHA256 over query string + body, timestamp
 * against recvWindow), orders live in a per-account book with Binance's duplicate-id rule, and MARKET
 * orders fill at a configurable price and move balances.
 */

export interface BinanceKeyOptions {
  apiKey: string;
  apiSecret: string;
  enableWithdrawals?: boolean;
  enableInternalTransfer?: boolean;
  permitsUniversalTransfer?: boolean;
  enableSpotAndMarginTrading?: boolean;
  ipRestrict?: boolean;
  /** Free balances by asset, decimal strings (e.g. `{ USDT: '10000' }`). */
  balances?: Record<string, string>;
}

export interface BinanceStubOrder {
  symbol: string;
  orderId: number;
  clientOrderId: string;
  side: 'BUY' | 'SELL';
  type: string;
  timeInForce: string;
  origQty: bigint;
  price: bigint;
  stopPrice: bigint;
  executedQty: bigint;
  cummulativeQuoteQty: bigint;
  status: 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED';
  time: number;
  updateTime: number;
}

export type BinanceOrderFault = 'acceptThenHang' | 'hang';

interface Account {
  key: Required<Omit<BinanceKeyOptions, 'balances'>>;
  balances: Map<string, { free: bigint; locked: bigint }>;
  orders: BinanceStubOrder[];
}

interface Market {
  base: string;
  quote: string;
  price: bigint;
}

/** Binance quotes amounts with 8 decimals; the stub keeps them as integers of 1e-8. */
const SCALE = 100_000_000n;
const DECIMAL_8 = /^\d+(\.\d{1,8})?$/;
const CLIENT_ORDER_ID = /^[.A-Z:/a-z0-9_-]{1,36}$/;
const OPEN_TYPES = new Set(['LIMIT', 'STOP_LOSS_LIMIT']);
/** Orders that still work on the book (Binance's open orders). */
const WORKING = new Set(['NEW', 'PARTIALLY_FILLED']);

/** Parses a decimal string with at most 8 decimals into units of 1e-8; undefined when Binance would refuse it. */
export function toUnits(value: string): bigint | undefined {
  if (!DECIMAL_8.test(value)) return undefined;
  const [int, frac = ''] = value.split('.');
  return BigInt(int) * SCALE + BigInt(frac.padEnd(8, '0'));
}

/** Formats units of 1e-8 the way Binance prints amounts (`"0.00100000"`). */
export function fixed8(units: bigint): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  return `${negative ? '-' : ''}${abs / SCALE}.${(abs % SCALE).toString().padStart(8, '0')}`;
}

function error(status: number, code: number, msg: string): StubReply {
  return { status, body: { code, msg } };
}

export class BinanceStub {
  private readonly accounts = new Map<string, Account>();
  private readonly markets = new Map<string, Market>();
  private nextOrderId = 1000;
  private nextTradeId = 1;
  private orderFault?: BinanceOrderFault;
  /** The WebSocket API's user data stream: an executionReport per order change. */
  readonly stream = new BinanceUserDataStream((apiKey) => this.accounts.get(apiKey)?.key.apiSecret);

  /** `testnet`: as the Spot Testnet, which serves `/api` but no `/sapi` (wallet and key-restriction endpoints). */
  constructor(
    readonly server: BrokerStubServer,
    private readonly testnet = false,
  ) {
    server.upgrade(/^\/ws-api\/v3$/, (req, socket, head) => this.stream.handleUpgrade(req, socket, head));
    this.addMarket('BTCUSDT', 'BTC', 'USDT', '50000');
    this.addMarket('ETHUSDT', 'ETH', 'USDT', '3000');
    this.addMarket('ETHBTC', 'ETH', 'BTC', '0.06');
  }

  get url(): string {
    return this.server.url;
  }

  addKey(options: BinanceKeyOptions): void {
    const { balances = {}, ...flags } = options;
    this.accounts.set(options.apiKey, {
      key: {
        enableWithdrawals: false,
        enableInternalTransfer: false,
        permitsUniversalTransfer: false,
        enableSpotAndMarginTrading: true,
        ipRestrict: false,
        ...flags,
      },
      balances: new Map(Object.entries(balances).map(([asset, free]) => [asset, { free: toUnits(free)!, locked: 0n }])),
      orders: [],
    });
  }

  /** Adds a symbol or changes the price MARKET orders fill at. */
  addMarket(symbol: string, base: string, quote: string, price: string): void {
    this.markets.set(symbol, { base, quote, price: toUnits(price)! });
  }

  /** The next POST /api/v3/order misbehaves (the base server's faults would hit the adapter's lookup first). */
  failNextOrder(fault: BinanceOrderFault): void {
    this.orderFault = fault;
  }

  /**
   * The market reaches a resting order: `qty` of it trades at `price` now, as Binance reports it afterwards —
   * status PARTIALLY_FILLED (FILLED once all of it did), executedQty and cummulativeQuoteQty cumulative.
   */
  fillPart(clientOrderId: string, qty: string, price: string): void {
    const found = [...this.accounts.values()]
      .flatMap((a) => a.orders.map((o) => ({ a, o })))
      .find(({ o }) => o.clientOrderId === clientOrderId && WORKING.has(o.status));
    if (!found) throw new Error(`no open order ${clientOrderId} at the Binance stub`);
    const { a, o } = found;
    const market = this.markets.get(o.symbol)!;
    const units = toUnits(qty)!;
    if (o.executedQty + units > o.origQty) throw new Error('fillPart: more than the order quantity');
    const cost = (units * toUnits(price)!) / SCALE;
    // The order's hold was taken at its limit price: release that share, pay the trade price.
    const [payAsset, held, paid] = o.side === 'BUY' ? [market.quote, (units * o.price) / SCALE, cost] : [market.base, units, units];
    const pay = this.wallet(a, payAsset);
    pay.locked -= held;
    pay.free += held - paid;
    this.wallet(a, o.side === 'BUY' ? market.base : market.quote).free += o.side === 'BUY' ? units : cost;
    o.executedQty += units;
    o.cummulativeQuoteQty += cost;
    o.status = o.executedQty === o.origQty ? 'FILLED' : 'PARTIALLY_FILLED';
    o.updateTime = Date.now();
    this.report(o, a.key.apiKey, 'TRADE', { l: qty, L: price, t: this.nextTradeId++ });
  }

  /** An executionReport of the order as it stands now (https://developers.binance.com/docs/binance-spot-api-docs/user-data-stream). */
  private report(o: BinanceStubOrder, apiKey: string, execution: string, extra: Record<string, unknown> = {}): void {
    const now = Date.now();
    this.stream.emit(apiKey, {
      e: 'executionReport',
      E: now,
      s: o.symbol,
      c: o.clientOrderId,
      S: o.side,
      o: o.type,
      f: o.timeInForce,
      q: fixed8(o.origQty),
      p: fixed8(o.price),
      P: fixed8(o.stopPrice),
      C: '',
      x: execution,
      X: o.status,
      r: 'NONE',
      i: o.orderId,
      l: '0.00000000',
      z: fixed8(o.executedQty),
      L: '0.00000000',
      n: '0',
      N: null,
      T: o.updateTime,
      t: -1,
      w: o.status === 'NEW' || o.status === 'PARTIALLY_FILLED',
      m: false,
      O: o.time,
      Z: fixed8(o.cummulativeQuoteQty),
      ...extra,
    });
  }

  orders(apiKey: string): BinanceStubOrder[] {
    return this.accounts.get(apiKey)?.orders ?? [];
  }

  balance(apiKey: string, asset: string): { free: string; locked: string } {
    const b = this.accounts.get(apiKey)?.balances.get(asset) ?? { free: 0n, locked: 0n };
    return { free: fixed8(b.free), locked: fixed8(b.locked) };
  }

  /** Requests the stub received at `path` with `method`. */
  received(method: string, path: string): RecordedRequest[] {
    return this.server.requests.filter((r) => r.method === method && r.path === path);
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  async start(): Promise<void> {
    await this.server.start();
  }

  /** Registers the routes; each handler runs only after the SIGNED checks pass. */
  install(): this {
    const signed = (trade: boolean, handler: (account: Account, params: URLSearchParams) => StubReply | Promise<StubReply>) => {
      return (req: RecordedRequest) => {
        const auth = this.authenticate(req, trade);
        return 'reply' in auth ? auth.reply : handler(auth.account, auth.params);
      };
    };
    if (!this.testnet)
      this.server.route(
        'GET',
        /^\/sapi\/v1\/account\/apiRestrictions$/,
        signed(false, (a) => this.apiRestrictions(a)),
      );
    this.server
      .route(
        'GET',
        /^\/api\/v3\/account$/,
        signed(false, (a, p) => this.account(a, p)),
      )
      .route(
        'POST',
        /^\/api\/v3\/order$/,
        signed(true, (a, p) => this.newOrder(a, p)),
      )
      .route(
        'GET',
        /^\/api\/v3\/order$/,
        signed(false, (a, p) => this.queryOrder(a, p)),
      )
      .route(
        'DELETE',
        /^\/api\/v3\/openOrders$/,
        signed(true, (a, p) => this.cancelOpenOrders(a, p)),
      );
    return this;
  }

  /**
   * SIGNED endpoint security as Binance documents it: the signature is the HMAC-SHA256 (hex, case-insensitive)
   * of totalParams = query string + request body exactly as sent, minus the `signature` parameter itself.
   */
  private authenticate(req: RecordedRequest, trade: boolean): { reply: StubReply } | { account: Account; params: URLSearchParams } {
    const apiKey = req.headers['x-mbx-apikey'];
    if (typeof apiKey !== 'string' || apiKey === '') return { reply: error(401, -2014, 'API-key format invalid.') };
    const account = this.accounts.get(apiKey);
    if (!account) return { reply: error(401, -2015, 'Invalid API-key, IP, or permissions for action.') };

    const rawQuery = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    const { rest: query, signature: querySig } = withoutSignature(rawQuery);
    const { rest: body, signature: bodySig } = withoutSignature(req.body);
    const signature = querySig ?? bodySig;
    if (!signature) return { reply: error(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.") };
    const expected = createHmac('sha256', account.key.apiSecret)
      .update(query + body)
      .digest('hex');
    const given = Buffer.from(signature.toLowerCase());
    if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected))) {
      return { reply: error(400, -1022, 'Signature for this request is not valid.') };
    }

    const params = new URLSearchParams(query);
    for (const [k, v] of new URLSearchParams(body)) params.append(k, v);
    const timestamp = Number(params.get('timestamp'));
    const recvWindow = Number(params.get('recvWindow') ?? 5000);
    if (!Number.isInteger(timestamp)) return { reply: error(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.") };
    if (!(recvWindow > 0 && recvWindow <= 60_000)) return { reply: error(400, -1131, 'recvWindow must be less than 60000') };
    const serverTime = Date.now();
    if (timestamp >= serverTime + 1000) return { reply: error(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.") };
    if (serverTime - timestamp > recvWindow) return { reply: error(400, -1021, 'Timestamp for this request is outside of the recvWindow.') };

    if (trade && !account.key.enableSpotAndMarginTrading) return { reply: error(401, -2015, 'Invalid API-key, IP, or permissions for action.') };
    return { account, params };
  }

  private apiRestrictions(account: Account): StubReply {
    const k = account.key;
    return {
      status: 200,
      body: {
        ipRestrict: k.ipRestrict,
        createTime: 1_700_000_000_000,
        enableReading: true,
        enableWithdrawals: k.enableWithdrawals,
        enableInternalTransfer: k.enableInternalTransfer,
        enableMargin: false,
        enableFutures: false,
        permitsUniversalTransfer: k.permitsUniversalTransfer,
        enableVanillaOptions: false,
        enableFixApiTrade: false,
        enableFixReadOnly: false,
        enableSpotAndMarginTrading: k.enableSpotAndMarginTrading,
        enablePortfolioMarginTrading: false,
      },
    };
  }

  private account(account: Account, params: URLSearchParams): StubReply {
    const omitZero = params.get('omitZeroBalances') === 'true';
    const balances = [...account.balances]
      .filter(([, b]) => !omitZero || b.free + b.locked > 0n)
      .map(([asset, b]) => ({ asset, free: fixed8(b.free), locked: fixed8(b.locked) }));
    return {
      status: 200,
      body: {
        makerCommission: 10,
        takerCommission: 10,
        buyerCommission: 0,
        sellerCommission: 0,
        canTrade: account.key.enableSpotAndMarginTrading,
        canWithdraw: true,
        canDeposit: true,
        brokered: false,
        requireSelfTradePrevention: false,
        preventSor: false,
        updateTime: Date.now(),
        accountType: 'SPOT',
        balances,
        permissions: ['SPOT'],
        uid: 354937868,
      },
    };
  }

  private async newOrder(account: Account, p: URLSearchParams): Promise<StubReply> {
    const fault = this.orderFault;
    this.orderFault = undefined;
    if (fault === 'hang') return never();
    const reply = this.placeOrder(account, p);
    return fault === 'acceptThenHang' ? never() : reply;
  }

  private placeOrder(account: Account, p: URLSearchParams): StubReply {
    const symbol = p.get('symbol') ?? '';
    const market = this.markets.get(symbol);
    if (!market) return error(400, -1121, 'Invalid symbol.');
    const side = p.get('side');
    if (side !== 'BUY' && side !== 'SELL') return error(400, -1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed.");
    const type = p.get('type') ?? '';
    if (type === 'STOP_LOSS' || type === 'TAKE_PROFIT') return error(400, -2010, 'Order type not supported for this symbol.');
    if (type !== 'MARKET' && !OPEN_TYPES.has(type)) return error(400, -1116, 'Invalid orderType.');
    const clientOrderId = p.get('newClientOrderId') ?? `stub-${this.nextOrderId}`;
    if (!CLIENT_ORDER_ID.test(clientOrderId)) {
      return error(400, -1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.");
    }
    const required =
      type === 'MARKET' ? ['quantity'] : type === 'LIMIT' ? ['quantity', 'price', 'timeInForce'] : ['quantity', 'price', 'stopPrice', 'timeInForce'];
    for (const name of required) {
      if (!p.get(name)) return error(400, -1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);
    }
    const timeInForce = p.get('timeInForce') ?? '';
    if (type !== 'MARKET' && !['GTC', 'IOC', 'FOK'].includes(timeInForce)) return error(400, -1115, 'Invalid timeInForce.');
    const qty = toUnits(p.get('quantity')!);
    const price = type === 'MARKET' ? market.price : toUnits(p.get('price')!);
    const stopPrice = type === 'STOP_LOSS_LIMIT' ? toUnits(p.get('stopPrice')!) : 0n;
    if (qty === undefined || price === undefined || stopPrice === undefined) return error(400, -1111, 'Precision is over the maximum defined for this asset.');
    if (qty === 0n || price === 0n) return error(400, -1013, 'Filter failure: LOT_SIZE');

    // Binance: a client order id must be unique among OPEN orders; once the earlier order is done the id may be reused.
    if (account.orders.some((o) => o.symbol === symbol && o.clientOrderId === clientOrderId && WORKING.has(o.status))) {
      return error(400, -2010, 'Duplicate order sent.');
    }
    const cost = (qty * price) / SCALE;
    const [payAsset, payAmount] = side === 'BUY' ? [market.quote, cost] : [market.base, qty];
    const pay = this.wallet(account, payAsset);
    if (pay.free < payAmount) return error(400, -2010, 'Account has insufficient balance for requested action.');

    const order: BinanceStubOrder = {
      symbol,
      orderId: this.nextOrderId++,
      clientOrderId,
      side,
      type,
      timeInForce: type === 'MARKET' ? 'GTC' : timeInForce,
      origQty: qty,
      price: type === 'MARKET' ? 0n : price,
      stopPrice,
      executedQty: 0n,
      cummulativeQuoteQty: 0n,
      status: 'NEW',
      time: Date.now(),
      updateTime: Date.now(),
    };
    pay.free -= payAmount;
    if (type === 'MARKET') {
      const receive = this.wallet(account, side === 'BUY' ? market.base : market.quote);
      receive.free += side === 'BUY' ? qty : cost;
      Object.assign(order, { executedQty: qty, cummulativeQuoteQty: cost, status: 'FILLED' });
    } else {
      pay.locked += payAmount; // resting orders hold their funds until filled or cancelled
    }
    account.orders.push(order);
    this.report(order, account.key.apiKey, type === 'MARKET' ? 'TRADE' : 'NEW');
    const fills =
      type === 'MARKET'
        ? [{ price: fixed8(market.price), qty: fixed8(qty), commission: '0.00000000', commissionAsset: market.base, tradeId: order.orderId }]
        : [];
    return { status: 200, body: { ...orderJson(order), transactTime: order.time, fills } };
  }

  private queryOrder(account: Account, p: URLSearchParams): StubReply {
    const symbol = p.get('symbol');
    if (!symbol) return error(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    const byId = p.get('orderId');
    const byClient = p.get('origClientOrderId');
    if (!byId && !byClient) return error(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!");
    // The most recent order with that client id, as Binance answers when an id was reused.
    const order = account.orders.filter((o) => o.symbol === symbol && (byId ? String(o.orderId) === byId : o.clientOrderId === byClient)).at(-1);
    if (!order) return error(400, -2013, 'Order does not exist.');
    return { status: 200, body: orderJson(order) };
  }

  private cancelOpenOrders(account: Account, p: URLSearchParams): StubReply {
    const symbol = p.get('symbol');
    if (!symbol) return error(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    const market = this.markets.get(symbol);
    if (!market) return error(400, -1121, 'Invalid symbol.');
    const open = account.orders.filter((o) => o.symbol === symbol && WORKING.has(o.status));
    if (open.length === 0) return error(400, -2011, 'Unknown order sent.');
    for (const o of open) {
      const rest = o.origQty - o.executedQty;
      const [asset, amount] = o.side === 'BUY' ? [market.quote, (rest * o.price) / SCALE] : [market.base, rest];
      const wallet = this.wallet(account, asset);
      wallet.locked -= amount;
      wallet.free += amount;
      o.status = 'CANCELED';
      o.updateTime = Date.now();
      // As Binance: `c` names the cancel request, `C` the order it cancelled.
      this.report(o, account.key.apiKey, 'CANCELED', { c: `cancel-${o.orderId}`, C: o.clientOrderId });
    }
    return { status: 200, body: open.map((o) => ({ ...orderJson(o), origClientOrderId: o.clientOrderId })) };
  }

  private wallet(account: Account, asset: string): { free: bigint; locked: bigint } {
    let w = account.balances.get(asset);
    if (!w) account.balances.set(asset, (w = { free: 0n, locked: 0n }));
    return w;
  }
}

/** Splits the `signature` parameter off a raw parameter string, keeping the rest byte for byte. */
function withoutSignature(raw: string): { rest: string; signature?: string } {
  let signature: string | undefined;
  const rest = raw
    .split('&')
    .filter((part) => {
      if (!part.startsWith('signature=')) return true;
      signature = part.slice('signature='.length);
      return false;
    })
    .join('&');
  return { rest, signature };
}

function orderJson(o: BinanceStubOrder): Record<string, unknown> {
  return {
    symbol: o.symbol,
    orderId: o.orderId,
    orderListId: -1,
    clientOrderId: o.clientOrderId,
    price: fixed8(o.price),
    origQty: fixed8(o.origQty),
    executedQty: fixed8(o.executedQty),
    cummulativeQuoteQty: fixed8(o.cummulativeQuoteQty),
    status: o.status,
    timeInForce: o.timeInForce,
    type: o.type,
    side: o.side,
    stopPrice: fixed8(o.stopPrice),
    time: o.time,
    updateTime: o.updateTime,
    isWorking: WORKING.has(o.status),
    workingTime: o.time,
    origQuoteOrderQty: '0.00000000',
    selfTradePreventionMode: 'EXPIRE_MAKER',
  };
}

/** A reply that never comes: the connection stays open until the client gives up. */
function never(): Promise<StubReply> {
  return new Promise(() => undefined);
}

export async function startBinanceStub(options: { testnet?: boolean } = {}): Promise<BinanceStub> {
  const server = await new BrokerStubServer().start();
  return new BinanceStub(server, options.testnet).install();
}
