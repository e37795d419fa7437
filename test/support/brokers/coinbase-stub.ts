import { createPublicKey, KeyObject, randomUUID, verify } from 'node:crypto';
// The fixed-point helpers are the Binance stub's: both stubs keep amounts as integers of 1e-8.
import { fixed8, toUnits } from './binance-stub';
import { BrokerStubServer, RecordedRequest, StubReply } from './broker-stub';
import { CoinbaseUserChannel } from './coinbase-stream-stub';

/**
 * A Coinbase Advanced Trade stub for the endpoints Switchyard uses. Every request must carry a CDP API JWT
 * that verifies as Coinbase verifies it: ES256 with the key's registered public key, `kid`/`sub` naming the key,
 * `iss` cdp, inside its `nbf`/`exp` window, and a `uri` claim equal to this request's method + host + path.
 */

export interface CoinbaseKeyOptions {
  apiKeyName: string;
  publicKeyPem: string;
  canView?: boolean;
  canTrade?: boolean;
  canTransfer?: boolean;
  portfolioType?: string;
  /** Available balances by currency, decimal strings (e.g. `{ USD: '10000' }`). */
  balances?: Record<string, string>;
}

export interface CoinbaseStubOrder {
  order_id: string;
  client_order_id: string;
  product_id: string;
  side: 'BUY' | 'SELL';
  order_type: string;
  order_configuration: Record<string, Record<string, unknown>>;
  attached_order_configuration?: unknown;
  status: 'OPEN' | 'FILLED' | 'CANCELLED' | 'EXPIRED';
  size: bigint;
  /** What the order holds while open: currency and amount. */
  hold: { currency: string; amount: bigint };
  filled_size: bigint;
  average_filled_price: bigint;
  number_of_fills: number;
  last_fill_time?: string;
  created_time: string;
}

export type CoinbaseOrderFault = 'acceptThenHang';

interface Account {
  key: { publicKey: KeyObject; canView: boolean; canTrade: boolean; canTransfer: boolean; portfolioType: string };
  portfolio: string;
  balances: Map<string, { available: bigint; hold: bigint }>;
  orders: CoinbaseStubOrder[];
}

/** Clock tolerance for `nbf`, as JWT verifiers usually allow. */
const LEEWAY_S = 5;
/** Order configurations this stub fills or rests, and how. */
const CONFIGURATIONS: Record<string, { type: string; needs: string[]; rests: boolean }> = {
  market_market_ioc: { type: 'MARKET', needs: ['base_size'], rests: false },
  sor_limit_ioc: { type: 'LIMIT', needs: ['base_size', 'limit_price'], rests: false },
  limit_limit_fok: { type: 'LIMIT', needs: ['base_size', 'limit_price'], rests: false },
  limit_limit_gtc: { type: 'LIMIT', needs: ['base_size', 'limit_price'], rests: true },
  stop_limit_stop_limit_gtc: { type: 'STOP_LIMIT', needs: ['base_size', 'limit_price', 'stop_price', 'stop_direction'], rests: true },
  trigger_bracket_gtc: { type: 'BRACKET', needs: ['base_size', 'limit_price', 'stop_trigger_price'], rests: true },
};
const STOP_DIRECTIONS = new Set(['STOP_DIRECTION_STOP_UP', 'STOP_DIRECTION_STOP_DOWN']);
const SCALE = 100_000_000n;

function failed(error: string, message: string, previewReason = 'UNKNOWN_PREVIEW_FAILURE_REASON'): StubReply {
  return {
    status: 200,
    body: {
      success: false,
      failure_reason: 'UNKNOWN_FAILURE_REASON',
      order_id: '',
      error_response: { error, message, error_details: '', preview_failure_reason: previewReason, new_order_failure_reason: error },
    },
  };
}

export class CoinbaseStub {
  private readonly accounts = new Map<string, Account>();
  private readonly prices = new Map<string, bigint>();
  private orderFault?: CoinbaseOrderFault;
  /** The user websocket channel: the key's open orders on subscribe, an update per order change. */
  readonly stream = new CoinbaseUserChannel(
    (jwt) => {
      const verified = this.verifyJwt(jwt, undefined);
      return 'why' in verified ? verified : { apiKeyName: this.keyNameOf(verified.account) };
    },
    (apiKeyName) => (this.accounts.get(apiKeyName)?.orders ?? []).filter((o) => o.status === 'OPEN').map(userChannelOrder),
  );

  constructor(readonly server: BrokerStubServer) {
    server.upgrade(/^\/ws-user$/, (req, socket, head) => this.stream.handleUpgrade(req, socket, head));
    this.setPrice('BTC-USD', '50000');
    this.setPrice('ETH-USD', '3000');
    this.setPrice('BTC-USDC', '50000');
  }

  get url(): string {
    return this.server.url;
  }

  addKey(options: CoinbaseKeyOptions): void {
    this.accounts.set(options.apiKeyName, {
      key: {
        publicKey: createPublicKey(options.publicKeyPem),
        canView: options.canView ?? true,
        canTrade: options.canTrade ?? true,
        canTransfer: options.canTransfer ?? false,
        portfolioType: options.portfolioType ?? 'DEFAULT',
      },
      portfolio: randomUUID(),
      balances: new Map(Object.entries(options.balances ?? {}).map(([cur, v]) => [cur, { available: toUnits(v)!, hold: 0n }])),
      orders: [],
    });
  }

  /** Adds a product or changes the price market orders fill at. */
  setPrice(product: string, price: string): void {
    this.prices.set(product, toUnits(price)!);
  }

  /** The next create-order request is acted on but never answered. */
  failNextOrder(fault: CoinbaseOrderFault): void {
    this.orderFault = fault;
  }

  orders(apiKeyName: string): CoinbaseStubOrder[] {
    return this.accounts.get(apiKeyName)?.orders ?? [];
  }

  balance(apiKeyName: string, currency: string): { available: string; hold: string } {
    const b = this.accounts.get(apiKeyName)?.balances.get(currency) ?? { available: 0n, hold: 0n };
    return { available: fixed8(b.available), hold: fixed8(b.hold) };
  }

  received(method: string, path: string): RecordedRequest[] {
    return this.server.requests.filter((r) => r.method === method && r.path === path);
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  async start(): Promise<void> {
    await this.server.start();
  }

  install(): this {
    const authed = (scope: 'view' | 'trade', handler: (account: Account, req: RecordedRequest) => StubReply | Promise<StubReply>) => {
      return (req: RecordedRequest) => {
        const auth = this.authenticate(req);
        if ('reply' in auth) return auth.reply;
        const allowed = scope === 'view' ? auth.account.key.canView : auth.account.key.canTrade;
        if (!allowed) return { status: 403, body: { error: 'PERMISSION_DENIED', message: `Missing required scopes: ${scope}` } };
        return handler(auth.account, req);
      };
    };
    this.server
      .route(
        'GET',
        /^\/api\/v3\/brokerage\/key_permissions$/,
        authed('view', (a) => this.keyPermissions(a)),
      )
      .route(
        'GET',
        /^\/api\/v3\/brokerage\/accounts$/,
        authed('view', (a, r) => this.listAccounts(a, r.query)),
      )
      .route(
        'POST',
        /^\/api\/v3\/brokerage\/orders$/,
        authed('trade', (a, r) => this.createOrder(a, r.body)),
      )
      .route(
        'GET',
        /^\/api\/v3\/brokerage\/orders\/historical\/batch$/,
        authed('view', (a, r) => this.listOrders(a, r.query)),
      )
      .route(
        'GET',
        /^\/api\/v3\/brokerage\/orders\/historical\/([^/]+)$/,
        authed('view', (a, r) => this.getOrder(a, r.path)),
      )
      .route(
        'POST',
        /^\/api\/v3\/brokerage\/orders\/batch_cancel$/,
        authed('trade', (a, r) => this.batchCancel(a, r.body)),
      );
    return this;
  }

  private keyNameOf(account: Account): string {
    return [...this.accounts].find(([, a]) => a === account)![0];
  }

  /** An update on the user channel for one of the account's orders. */
  private update(account: Account, order: CoinbaseStubOrder): void {
    this.stream.emit(this.keyNameOf(account), userChannelOrder(order));
  }

  /** Verifies the Bearer JWT; the 401 bodies name the failed check to make test failures readable. */
  private authenticate(req: RecordedRequest): { reply: StubReply } | { account: Account } {
    const header = req.headers.authorization;
    const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    const verified = this.verifyJwt(token, `${req.method} ${req.headers.host}${req.path}`);
    return 'why' in verified ? { reply: { status: 401, body: { error: 'UNAUTHENTICATED', message: `Unauthorized: ${verified.why}` } } } : verified;
  }

  /** A CDP JWT as Coinbase checks it; `uri` is the request's claim, or undefined for a websocket message (no `uri` claim). */
  private verifyJwt(token: string, uri: string | undefined): { why: string } | { account: Account } {
    const parts = token.split('.');
    if (parts.length !== 3) return { why: 'no bearer JWT' };
    const [h, p, s] = parts;
    const jose = decode(h);
    const claims = decode(p);
    if (!jose || !claims) return { why: 'malformed JWT' };
    if (jose.alg !== 'ES256' || typeof jose.nonce !== 'string' || jose.nonce === '') return { why: 'header must be ES256 with a nonce' };
    const account = typeof jose.kid === 'string' ? this.accounts.get(jose.kid) : undefined;
    if (!account) return { why: 'unknown key' };
    const signature = Buffer.from(s, 'base64url');
    if (!verify('sha256', Buffer.from(`${h}.${p}`), { key: account.key.publicKey, dsaEncoding: 'ieee-p1363' }, signature)) {
      return { why: 'bad signature' };
    }
    if (claims.sub !== jose.kid || claims.iss !== 'cdp') return { why: 'sub/iss mismatch' };
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.nbf !== 'number' || typeof claims.exp !== 'number') return { why: 'nbf/exp missing' };
    if (claims.nbf > now + LEEWAY_S || claims.exp <= now) return { why: 'token outside its validity window' };
    if (claims.uri !== uri) return { why: 'uri claim does not match the request' };
    return { account };
  }

  private keyPermissions(account: Account): StubReply {
    const k = account.key;
    return {
      status: 200,
      body: { can_view: k.canView, can_trade: k.canTrade, can_transfer: k.canTransfer, portfolio_uuid: account.portfolio, portfolio_type: k.portfolioType },
    };
  }

  private listAccounts(account: Account, query: URLSearchParams): StubReply {
    const all = [...account.balances].map(([currency, b]) => ({
      uuid: `${account.portfolio}-${currency}`,
      name: `${currency} Wallet`,
      currency,
      available_balance: { value: fixed8(b.available), currency },
      default: true,
      active: true,
      type: ['USD', 'EUR', 'GBP'].includes(currency) ? 'ACCOUNT_TYPE_FIAT' : 'ACCOUNT_TYPE_CRYPTO',
      ready: true,
      hold: { value: fixed8(b.hold), currency },
      retail_portfolio_id: account.portfolio,
      platform: 'ACCOUNT_PLATFORM_CONSUMER',
    }));
    return { status: 200, body: paginate(all, query, 49, 'accounts') };
  }

  private createOrder(account: Account, raw: string): StubReply | Promise<StubReply> {
    const fault = this.orderFault;
    this.orderFault = undefined;
    const reply = this.newOrder(account, raw);
    return fault === 'acceptThenHang' ? new Promise<StubReply>(() => undefined) : reply;
  }

  private newOrder(account: Account, raw: string): StubReply {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return { status: 400, body: { error: 'INVALID_ARGUMENT', message: 'request body is not JSON' } };
    }
    const { client_order_id: clientOrderId, product_id: product, side } = body;
    if (typeof clientOrderId !== 'string' || clientOrderId === '')
      return { status: 400, body: { error: 'INVALID_ARGUMENT', message: 'client_order_id is required' } };

    // Coinbase: a repeated client_order_id creates nothing and answers with the order that has it.
    const existing = account.orders.find((o) => o.client_order_id === clientOrderId);
    if (existing) return { status: 200, body: created(existing) };

    const price = typeof product === 'string' ? this.prices.get(product) : undefined;
    if (price === undefined) return failed('INVALID_PRODUCT_ID', 'Invalid product_id', 'PREVIEW_INVALID_PRODUCT_ID');
    if (side !== 'BUY' && side !== 'SELL') return failed('INVALID_SIDE', 'Invalid side');
    const configs = Object.entries((body.order_configuration ?? {}) as Record<string, Record<string, unknown>>);
    const [name, config] = configs.length === 1 ? configs[0] : ['', {}];
    const shape = CONFIGURATIONS[name];
    if (!shape || !shape.needs.every((field) => typeof config[field] === 'string')) {
      return failed('UNSUPPORTED_ORDER_CONFIGURATION', 'Unsupported order configuration');
    }
    if (name === 'stop_limit_stop_limit_gtc' && !STOP_DIRECTIONS.has(config.stop_direction as string)) {
      return failed('INVALID_REQUEST', 'Invalid stop_direction');
    }
    if (!validAttachment(body.attached_order_configuration)) return failed('INVALID_REQUEST', 'Invalid attached order configuration');
    const size = toUnits(config.base_size as string);
    const limit = shape.type === 'MARKET' ? price : toUnits(config.limit_price as string);
    if (!size || !limit) return failed('INVALID_SIZE_PRECISION', 'Invalid size or price', 'PREVIEW_INVALID_SIZE_PRECISION');

    const [base, quote] = (product as string).split('-');
    const [payCurrency, payAmount] = side === 'BUY' ? [quote, (size * limit) / SCALE] : [base, size];
    const pay = this.wallet(account, payCurrency);
    if (pay.available < payAmount) return failed('INSUFFICIENT_FUND', 'Insufficient balance in source account', 'PREVIEW_INSUFFICIENT_FUND');

    const order: CoinbaseStubOrder = {
      order_id: randomUUID(),
      client_order_id: clientOrderId,
      product_id: product as string,
      side,
      order_type: shape.type,
      order_configuration: { [name]: config },
      attached_order_configuration: body.attached_order_configuration,
      status: 'OPEN',
      size,
      hold: { currency: payCurrency, amount: payAmount },
      filled_size: 0n,
      average_filled_price: 0n,
      number_of_fills: 0,
      created_time: new Date(Date.now()).toISOString(),
    };
    account.orders.push(order);
    const marketable = shape.type === 'MARKET' || (side === 'BUY' ? limit >= price : limit <= price);
    if (shape.rests) {
      pay.available -= payAmount;
      pay.hold += payAmount;
    } else if (marketable) {
      const proceeds = side === 'BUY' ? size : (size * price) / SCALE;
      pay.available -= side === 'BUY' ? (size * price) / SCALE : size;
      this.wallet(account, side === 'BUY' ? base : quote).available += proceeds;
      Object.assign(order, { status: 'FILLED', filled_size: size, average_filled_price: price, number_of_fills: 1, last_fill_time: order.created_time });
    } else {
      order.status = 'EXPIRED'; // immediate-or-cancel / fill-or-kill with nothing to trade against
    }
    this.update(account, order);
    return { status: 200, body: created(order) };
  }

  private listOrders(account: Account, query: URLSearchParams): StubReply {
    const products = query.getAll('product_ids');
    const statuses = query.getAll('order_status');
    const ids = query.getAll('order_ids');
    const matching = account.orders
      .filter(
        (o) =>
          (!products.length || products.includes(o.product_id)) &&
          (!statuses.length || statuses.includes(o.status)) &&
          (!ids.length || ids.includes(o.order_id)),
      )
      .reverse() // newest first, as Coinbase sorts by creation time
      .map(orderJson);
    return { status: 200, body: { ...paginate(matching, query, 100, 'orders'), sequence: '0' } };
  }

  /** Get Order: one order by Coinbase's id, as `{ order }`. */
  private getOrder(account: Account, path: string): StubReply {
    const id = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
    const order = account.orders.find((o) => o.order_id === id);
    if (!order) return { status: 404, body: { error: 'NOT_FOUND', message: 'order with this orderID was not found' } };
    return { status: 200, body: { order: orderJson(order) } };
  }

  /**
   * The market reaches a resting order: `qty` of it trades at `price` now. Coinbase keeps it OPEN with the
   * cumulative filled_size and average_filled_price until all of it filled; the hold shrinks with each fill.
   */
  fillPart(clientOrderId: string, qty: string, price: string): void {
    const found = [...this.accounts.values()]
      .flatMap((a) => a.orders.map((o) => ({ a, o })))
      .find(({ o }) => o.client_order_id === clientOrderId && o.status === 'OPEN');
    if (!found) throw new Error(`no open order ${clientOrderId} at the Coinbase stub`);
    const { a, o } = found;
    const units = toUnits(qty)!;
    const px = toUnits(price)!;
    const remaining = o.size - o.filled_size;
    if (units > remaining) throw new Error('fillPart: more than the order quantity');
    const [base, quote] = o.product_id.split('-');
    const release = (o.hold.amount * units) / remaining;
    const pay = this.wallet(a, o.hold.currency);
    pay.hold -= release;
    o.hold.amount -= release;
    const cost = (units * px) / SCALE;
    pay.available += release - (o.side === 'BUY' ? cost : units);
    this.wallet(a, o.side === 'BUY' ? base : quote).available += o.side === 'BUY' ? units : cost;
    o.average_filled_price = (o.filled_size * o.average_filled_price + units * px) / (o.filled_size + units);
    o.filled_size += units;
    o.number_of_fills += 1;
    o.last_fill_time = new Date().toISOString();
    if (o.filled_size === o.size) o.status = 'FILLED';
    this.update(a, o);
  }

  private batchCancel(account: Account, raw: string): StubReply {
    const ids = (JSON.parse(raw) as { order_ids?: unknown }).order_ids;
    if (!Array.isArray(ids)) return { status: 400, body: { error: 'INVALID_ARGUMENT', message: 'order_ids is required' } };
    const results = ids.map((id) => {
      const order = account.orders.find((o) => o.order_id === id && o.status === 'OPEN');
      if (!order) return { success: false, failure_reason: 'UNKNOWN_CANCEL_ORDER', order_id: id };
      const w = this.wallet(account, order.hold.currency);
      w.hold -= order.hold.amount;
      w.available += order.hold.amount;
      order.status = 'CANCELLED';
      this.update(account, order);
      return { success: true, failure_reason: 'UNKNOWN_CANCEL_FAILURE_REASON', order_id: id };
    });
    return { status: 200, body: { results } };
  }

  private wallet(account: Account, currency: string): { available: bigint; hold: bigint } {
    let w = account.balances.get(currency);
    if (!w) account.balances.set(currency, (w = { available: 0n, hold: 0n }));
    return w;
  }
}

function decode(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Only a trigger bracket may be attached, and without a size of its own. */
function validAttachment(attached: unknown): boolean {
  if (attached === undefined) return true;
  const bracket = (attached as { trigger_bracket_gtc?: Record<string, unknown> }).trigger_bracket_gtc;
  return (
    Object.keys(attached as object).length === 1 &&
    !!bracket &&
    typeof bracket.limit_price === 'string' &&
    typeof bracket.stop_trigger_price === 'string' &&
    bracket.base_size === undefined
  );
}

function paginate<T>(items: T[], query: URLSearchParams, defaultLimit: number, key: string): Record<string, unknown> {
  const limit = Number(query.get('limit') ?? defaultLimit);
  const start = Number(query.get('cursor') ?? 0);
  const page = items.slice(start, start + limit);
  const hasNext = start + limit < items.length;
  return { [key]: page, has_next: hasNext, cursor: hasNext ? String(start + limit) : '', size: page.length };
}

function created(o: CoinbaseStubOrder): Record<string, unknown> {
  return {
    success: true,
    success_response: { order_id: o.order_id, product_id: o.product_id, side: o.side, client_order_id: o.client_order_id },
    order_configuration: o.order_configuration,
  };
}

/** An order as the user channel shows it: cumulative_quantity, leaves_quantity and avg_price of what filled. */
function userChannelOrder(o: CoinbaseStubOrder): Record<string, unknown> {
  return {
    order_id: o.order_id,
    client_order_id: o.client_order_id,
    cumulative_quantity: fixed8(o.filled_size),
    leaves_quantity: fixed8(o.size - o.filled_size),
    avg_price: fixed8(o.average_filled_price),
    total_fees: '0',
    status: o.status,
    product_id: o.product_id,
    creation_time: o.created_time,
    order_side: o.side,
    order_type: o.order_type,
  };
}

function orderJson(o: CoinbaseStubOrder): Record<string, unknown> {
  return {
    order_id: o.order_id,
    product_id: o.product_id,
    user_id: 'stub-user',
    order_configuration: o.order_configuration,
    side: o.side,
    client_order_id: o.client_order_id,
    status: o.status,
    time_in_force: o.order_type === 'MARKET' ? 'IMMEDIATE_OR_CANCEL' : 'GOOD_UNTIL_CANCELLED',
    created_time: o.created_time,
    completion_percentage: String(Number((o.filled_size * 10_000n) / o.size) / 100),
    filled_size: fixed8(o.filled_size),
    average_filled_price: fixed8(o.average_filled_price),
    number_of_fills: String(o.number_of_fills),
    last_fill_time: o.last_fill_time ?? null,
    pending_cancel: false,
    size_in_quote: false,
    order_type: o.order_type,
    reject_reason: '',
    settled: o.status === 'FILLED',
    product_type: 'SPOT',
    reject_message: '',
    cancel_message: o.status === 'CANCELLED' ? 'User requested cancel' : '',
    order_placement_source: 'RETAIL_ADVANCED',
    outstanding_hold_amount: o.status === 'OPEN' ? fixed8(o.hold.amount) : '0',
  };
}

export async function startCoinbaseStub(): Promise<CoinbaseStub> {
  const server = await new BrokerStubServer().start();
  return new CoinbaseStub(server).install();
}
