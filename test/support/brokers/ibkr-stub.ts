import {
  constants,
  createDiffieHellman,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  getDiffieHellman,
  KeyObject,
  publicEncrypt,
  randomBytes,
  randomInt,
  randomUUID,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { BrokerStubServer, RecordedRequest, StubReply } from './broker-stub';
import type { TestCertificate } from '../https-receiver';

/**
 * IBKR Client Portal Gateway stub (Web API, https://www.interactivebrokers.com/campus/ibkr-api-page/cpapi-v1/), served
 * over https under `/v1/api`. As the gateway does, it answers 401 to `/iserver` and `/portfolio` calls while its
 * brokerage session is not authenticated (auth status and tickle still answer); orders are placed with `cOID`, may be
 * held by confirmation questions (`[{ id, message, messageIds }]`) until `POST /iserver/reply/{id}`, and are listed by
 * `/iserver/account/orders` with the cOID as `order_ref`. Market orders fill at the contract's price; others rest.
 *
 * In OAuth mode (startIbkrOAuthStub) it is api.ibkr.com instead: `POST /oauth/live_session_token` checks the consumer's
 * RSA-SHA256 signature over the prepend (the access token secret it encrypted for the consumer) and the base string,
 * runs its half of the Diffie-Hellman exchange and answers IBKR's fields; every other call must carry an HMAC-SHA256
 * OAuth signature made with the consumer's newest unexpired live session token, or it is answered 401. A new LST has
 * no brokerage session until `POST /iserver/auth/ssodh/init`.
 */

/** What IBKR holds of an OAuth consumer (registered in its self-service portal). */
interface OAuthConsumer {
  consumerKey: string;
  accessToken: string;
  realm: string;
  signatureKey: KeyObject;
  prime: Buffer;
  /** The access token secret in plain (IBKR hands it out encrypted with the consumer's encryption key). */
  secret: Buffer;
}

interface IssuedToken {
  consumerKey: string;
  /** The live session token's bytes (the HMAC key), base64 as IBKR derives it. */
  token: string;
  expiresAt: number;
  /** `ssodh/init` opened the brokerage session for this token. */
  brokerage: boolean;
}

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
const LST_PATH = `${API}/oauth/live_session_token`;
/** IBKR refuses timestamps this far from its clock. */
const CLOCK_SKEW_S = 300;

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
  /** OAuth mode: every live session token issued (the canary specs look for them), and how long a new one lasts. */
  readonly liveSessionTokens: IssuedToken[] = [];
  lstLifetimeMs = 24 * 60 * 60_000;
  /** OAuth calls refused for their signature or token, and why (the first words of the 401 body). */
  readonly oauthRefusals: string[] = [];
  private nextOrderId = 1_000_000_000;
  private emptyLists = 0;
  private refusal?: string;
  private readonly consumers = new Map<string, OAuthConsumer>();
  private readonly nonces = new Set<string>();
  private readonly tokenOf = new WeakMap<RecordedRequest, IssuedToken>();
  private forgeNextLst = false;

  constructor(private readonly oauth = false) {
    super();
    super.route('POST', new RegExp(`${LST_PATH}$`), (req) => this.liveSessionToken(req));
    this.route('POST', new RegExp(`${API}/iserver/auth/ssodh/init$`), (req) => this.openBrokerage(req));
    this.route('GET', new RegExp(`${API}/iserver/auth/status$`), (req) => ({
      status: 200,
      body: { ...this.session, authenticated: this.session.authenticated && this.brokerageOpen(req), message: '', MAC: '00:00:00:00:00:00' },
    }));
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

  /** In OAuth mode every route but the LST request answers only calls signed with a live session token. */
  override route(method: string, pattern: RegExp, handler: (req: RecordedRequest, params: string[]) => StubReply | Promise<StubReply>): this {
    return super.route(method, pattern, (req, params) => (this.oauth ? (this.refuseSignature(req) ?? handler(req, params)) : handler(req, params)));
  }

  /**
   * Registers an OAuth consumer as IBKR's self-service portal does: it keeps the public signature key and the
   * Diffie-Hellman prime, and answers the access token secret encrypted with the public encryption key (base64).
   */
  registerConsumer(consumer: {
    consumerKey: string;
    accessToken: string;
    signaturePublicKey: string;
    encryptionPublicKey: string;
    dhPrime: string;
    realm?: string;
  }): string {
    const secret = randomBytes(32);
    this.consumers.set(consumer.consumerKey, {
      consumerKey: consumer.consumerKey,
      accessToken: consumer.accessToken,
      realm: consumer.realm ?? 'limited_poa',
      signatureKey: createPublicKey(consumer.signaturePublicKey),
      prime: Buffer.from(consumer.dhPrime, 'hex'),
      secret,
    });
    return publicEncrypt({ key: consumer.encryptionPublicKey, padding: constants.RSA_PKCS1_PADDING }, secret).toString('base64');
  }

  /** Every live session token issued so far expires now (as at IBKR's nightly reset). */
  expireLiveSessionTokens(): void {
    for (const t of this.liveSessionTokens) t.expiresAt = Date.now() - 1;
  }

  /** The next LST answer carries a signature that does not match the token (a forged or garbled answer). */
  forgeNextLiveSessionToken(): void {
    this.forgeNextLst = true;
  }

  private liveSessionToken(req: RecordedRequest): StubReply {
    const header = oauthHeader(req);
    const consumer = header && this.consumers.get(header.params.oauth_consumer_key ?? '');
    if (!header || !consumer) return this.oauthRefused('invalid consumer');
    const problem = this.headerProblem(header, consumer, 'RSA-SHA256');
    if (problem) return this.oauthRefused(problem);
    const challenge = header.params.diffie_hellman_challenge;
    if (!challenge || !/^[0-9a-f]+$/.test(challenge)) return this.oauthRefused('invalid diffie_hellman_challenge');
    const base = signatureBase('POST', `${this.url}${req.path}`, header.params);
    const prepend = consumer.secret.toString('hex');
    const signature = Buffer.from(decodeURIComponent(header.signature), 'base64');
    if (!verify('sha256', Buffer.from(prepend + base, 'utf8'), consumer.signatureKey, signature)) return this.oauthRefused('invalid signature');
    const dh = createDiffieHellman(consumer.prime, 2);
    const ours = dh.generateKeys();
    const shared = dh.computeSecret(Buffer.from(challenge.length % 2 ? `0${challenge}` : challenge, 'hex'));
    const token = createHmac('sha1', javaBytes(shared)).update(consumer.secret).digest('base64');
    const issued: IssuedToken = { consumerKey: consumer.consumerKey, token, expiresAt: Date.now() + this.lstLifetimeMs, brokerage: false };
    // IBKR keeps one live session token per consumer: a new one ends the previous.
    for (const t of this.liveSessionTokens) if (t.consumerKey === consumer.consumerKey) t.expiresAt = Math.min(t.expiresAt, Date.now() - 1);
    this.liveSessionTokens.push(issued);
    let proof = createHmac('sha1', Buffer.from(token, 'base64')).update(consumer.consumerKey).digest('hex');
    if (this.forgeNextLst) {
      this.forgeNextLst = false;
      proof = createHmac('sha1', randomBytes(20)).update(consumer.consumerKey).digest('hex');
    }
    return {
      status: 200,
      body: {
        diffie_hellman_response: BigInt(`0x${ours.toString('hex')}`).toString(16),
        live_session_token_signature: proof,
        live_session_token_expiration: issued.expiresAt,
      },
    };
  }

  /** A 401 unless the call is signed HMAC-SHA256 with the consumer's current live session token. */
  private refuseSignature(req: RecordedRequest): StubReply | undefined {
    const header = oauthHeader(req);
    const consumer = header && this.consumers.get(header.params.oauth_consumer_key ?? '');
    if (!header || !consumer) return this.oauthRefused('invalid consumer');
    const problem = this.headerProblem(header, consumer, 'HMAC-SHA256');
    if (problem) return this.oauthRefused(problem);
    const current = this.liveSessionTokens.filter((t) => t.consumerKey === consumer.consumerKey && t.expiresAt > Date.now());
    const params: Record<string, string> = { ...header.params };
    for (const [name, value] of req.query) params[name] = value;
    const base = signatureBase(req.method, `${this.url}${req.path}`, params);
    const given = Buffer.from(decodeURIComponent(header.signature), 'base64');
    const match = current.find((t) => {
      const expected = createHmac('sha256', Buffer.from(t.token, 'base64')).update(base, 'utf8').digest();
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
    if (!match) return this.oauthRefused(current.length === 0 ? 'live session token expired' : 'invalid signature');
    this.tokenOf.set(req, match);
    return undefined;
  }

  private headerProblem(header: { realm?: string; params: Record<string, string> }, consumer: OAuthConsumer, method: string): string | undefined {
    const p = header.params;
    if (header.realm !== consumer.realm) return 'invalid realm';
    if (p.oauth_token !== consumer.accessToken) return 'invalid token';
    if (p.oauth_signature_method !== method) return 'invalid signature method';
    const timestamp = Number(p.oauth_timestamp);
    if (!Number.isInteger(timestamp) || Math.abs(timestamp - Date.now() / 1000) > CLOCK_SKEW_S) return 'invalid timestamp';
    if (!p.oauth_nonce || this.nonces.has(p.oauth_nonce)) return 'nonce reused';
    this.nonces.add(p.oauth_nonce);
    return undefined;
  }

  private oauthRefused(reason: string): StubReply {
    this.oauthRefusals.push(reason);
    return { status: 401, body: { error: `id: ${randomInt(100_000, 999_999)}, errorCode: 401, errorMessage: ${reason}` } };
  }

  private openBrokerage(req: RecordedRequest): StubReply {
    const token = this.tokenOf.get(req);
    if (!token) return { status: 400, body: { error: 'ssodh/init is for OAuth sessions' } };
    if (req.query.get('compete') !== 'true') return { status: 200, body: { authenticated: false, competing: true, connected: true, message: '' } };
    token.brokerage = true;
    return { status: 200, body: { authenticated: true, competing: false, connected: true, message: '', MAC: '00:00:00:00:00:00' } };
  }

  /** Gateway mode has one session at the gateway; OAuth mode one per live session token, once ssodh/init opened it. */
  private brokerageOpen(req: RecordedRequest): boolean {
    return !this.oauth || this.tokenOf.get(req)?.brokerage === true;
  }

  private authed(method: string, path: string, handler: (req: RecordedRequest, params: string[]) => StubReply): void {
    this.route(method, new RegExp(`${API}${path}`), (req, params) =>
      this.session.authenticated && this.brokerageOpen(req) ? handler(req, params) : UNAUTHENTICATED,
    );
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

/** The stub as api.ibkr.com for OAuth connections (BROKER_IBKR_OAUTH_BASE_URL = `${stub.url}/v1/api`). */
export async function startIbkrOAuthStub(): Promise<IbkrStub> {
  return new IbkrStub(true).start();
}

/**
 * A consumer registered at the stub as IBKR's self-service portal makes one: fresh signature and encryption key pairs,
 * the 2048-bit MODP prime, and the credentials a user pastes into Switchyard (`overrides` replace any of them).
 */
export function newIbkrOAuthConsumer(stub: IbkrStub, accountId: string, overrides: Record<string, string> = {}): Record<string, string> {
  const pair = () =>
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
  const signature = pair();
  const encryption = pair();
  const dhPrime = getDiffieHellman('modp14').getPrime('hex');
  // A consumer key or access token given is registered as such (canary values); any other override is a mismatch.
  const consumerKey = overrides.consumerKey ?? `TESTCONS${randomBytes(4).toString('hex').toUpperCase()}`;
  const accessToken = overrides.accessToken ?? randomBytes(12).toString('hex');
  const accessTokenSecret = stub.registerConsumer({
    consumerKey,
    accessToken,
    signaturePublicKey: signature.publicKey,
    encryptionPublicKey: encryption.publicKey,
    dhPrime,
  });
  stub.addAccount(accountId);
  return {
    mode: 'oauth',
    consumerKey,
    accessToken,
    accessTokenSecret,
    signaturePrivateKey: signature.privateKey,
    encryptionPrivateKey: encryption.privateKey,
    dhPrime,
    accountId,
    ...overrides,
  };
}

/** `Authorization: OAuth realm="…", k="v", …` as IBKR reads it: the realm, the signature as sent, the other parameters. */
function oauthHeader(req: RecordedRequest): { realm?: string; signature: string; params: Record<string, string> } | undefined {
  const value = req.headers.authorization;
  if (typeof value !== 'string' || !value.startsWith('OAuth ')) return undefined;
  const params: Record<string, string> = {};
  for (const m of value.slice(6).matchAll(/([a-z_]+)="([^"]*)"/g)) params[m[1]] = m[2];
  const { realm, oauth_signature: signature, ...rest } = params;
  return signature ? { realm, signature, params: rest } : undefined;
}

/** The OAuth 1.0a base string as IBKR's reference code builds it (quote_plus of the URL and of the sorted `k=v&…`). */
function signatureBase(method: string, url: string, params: Record<string, string>): string {
  const quotePlus = (text: string) =>
    encodeURIComponent(text)
      .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%20/g, '+');
  const pairs = Object.entries(params)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return `${method}&${quotePlus(url)}&${quotePlus(pairs)}`;
}

/** Java's BigInteger.toByteArray of a positive number: minimal big-endian, a 0x00 first when the top bit is set. */
function javaBytes(magnitude: Buffer): Buffer {
  const hex = BigInt(`0x${magnitude.toString('hex')}`).toString(16);
  const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  return bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}
