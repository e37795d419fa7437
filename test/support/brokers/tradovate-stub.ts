import { randomBytes } from 'node:crypto';
import { BrokerStubServer, RecordedRequest, StubReply } from './broker-stub';

/**
 * Tradovate REST stub (https://api.tradovate.com/), served under /v1 like demo.tradovateapi.com/v1:
 * - `POST /auth/accesstokenrequest` answers 200 in every case, as Tradovate does: a token with its `expirationTime`,
 *   `{ errorText }` for a wrong login, or a penalty `{ p-ticket, p-time, p-captcha }` (scripted) that the next login
 *   must resend with `p-ticket`, no sooner than `p-time` seconds later; `GET /auth/renewaccesstoken` renews a live token.
 * - every other endpoint wants `Authorization: Bearer <token>` of a token not yet expired (else 401).
 * - products, maturities and contracts (`ESZ6`, …), accounts, orders placed by `placeorder`/`placeOSO` with their
 *   `New` command carrying `clOrdId`, market orders filled at once (fills, positions), resting Limit/Stop orders,
 *   OSO brackets suspended until their entry fills (`oso1Id`/`oso2Id` in the answer; bracket1 and bracket2 one-cancels-other;
 *   no `New` command for a bracket), `cancelorder`, cash balance snapshots.
 */

export interface TradovateStubUser {
  name: string;
  password: string;
  appId: string;
  cid: string;
  sec: string;
  /** Starting cash (default 50 000). */
  cash?: number;
}

interface User extends Required<TradovateStubUser> {
  account: { id: number; name: string; userId: number; accountType: string; active: boolean; archived: boolean };
}

export interface TradovateStubOrder {
  id: number;
  accountId: number;
  contractId: number;
  timestamp: string;
  action: 'Buy' | 'Sell';
  ordStatus: string;
  admin: boolean;
  parentId?: number;
  /** Stub bookkeeping, never sent. */
  body: Record<string, unknown>;
}

const ORDER_TYPES = new Set(['Market', 'Limit', 'Stop', 'StopLimit', 'MIT', 'TrailingStop', 'TrailingStopLimit', 'QTS']);
const TIMES_IN_FORCE = new Set(['Day', 'FOK', 'GTC', 'GTD', 'IOC']);
const MONTH_CODES = 'FGHJKMNQUVXZ';
const DAY_MS = 86_400_000;

export class TradovateStub extends BrokerStubServer {
  readonly orders: TradovateStubOrder[] = [];
  readonly commands: Array<{
    id: number;
    orderId: number;
    timestamp: string;
    clOrdId?: string;
    commandType: string;
    commandStatus: string;
    isAutomated?: boolean;
  }> = [];
  readonly fills: Array<{
    id: number;
    orderId: number;
    contractId: number;
    timestamp: string;
    tradeDate: unknown;
    action: string;
    qty: number;
    price: number;
    active: boolean;
  }> = [];
  /** Tokens issued, live or not: the canary specs look for credentials here too. */
  readonly tokens = new Map<string, { user: User; expiresAt: number }>();
  /** How long issued tokens live (Tradovate: 90 minutes). */
  tokenLifetimeMs = 90 * 60_000;
  private readonly users = new Map<string, User>();
  private readonly products: Array<{ id: number; name: string }> = [];
  private readonly maturities: Array<{ id: number; productId: number; expirationMonth: number; expirationDate: string; archived: boolean; isFront: boolean }> =
    [];
  private readonly contracts: Array<{ id: number; name: string; contractMaturityId: number; status: string; providerTickSize: number }> = [];
  private readonly positions = new Map<string, { id: number; accountId: number; contractId: number; netPos: number; netPrice: number }>();
  private readonly prices = new Map<number, number>();
  private readonly penalties: Array<{ seconds: number; captcha: boolean }> = [];
  private readonly tickets = new Map<string, number>();
  private nextId = 1000;
  private failNext?: { failureReason: string; failureText: string };

  constructor() {
    super();
    this.route('POST', /^\/v1\/auth\/accesstokenrequest$/i, (req) => this.login(req));
    this.route('GET', /^\/v1\/auth\/renewaccesstoken$/i, (req) => this.authed(req, (user) => this.issue(user)));
    this.route('GET', /^\/v1\/account\/list$/, (req) => this.authed(req, (user) => ok([user.account])));
    this.route('GET', /^\/v1\/product\/find$/, (req) => this.authed(req, () => this.found(this.products.find((p) => p.name === req.query.get('name')))));
    this.route('GET', /^\/v1\/contractMaturity\/deps$/, (req) =>
      this.authed(req, () => ok(this.maturities.filter((m) => m.productId === Number(req.query.get('masterid'))))),
    );
    this.route('GET', /^\/v1\/contract\/deps$/, (req) =>
      this.authed(req, () => ok(this.contracts.filter((c) => c.contractMaturityId === Number(req.query.get('masterid'))))),
    );
    this.route('GET', /^\/v1\/contract\/find$/, (req) => this.authed(req, () => this.found(this.contracts.find((c) => c.name === req.query.get('name')))));
    this.route('GET', /^\/v1\/contract\/items$/, (req) =>
      this.authed(req, () => {
        const ids = (req.query.get('ids') ?? '').split(',').map(Number);
        return ok(this.contracts.filter((c) => ids.includes(c.id)));
      }),
    );
    this.route('POST', /^\/v1\/order\/placeorder$/i, (req) => this.authed(req, (user) => this.place(user, req, false)));
    this.route('POST', /^\/v1\/order\/placeOSO$/i, (req) => this.authed(req, (user) => this.place(user, req, true)));
    this.route('POST', /^\/v1\/order\/cancelorder$/i, (req) => this.authed(req, (user) => this.cancel(user, req)));
    this.route('GET', /^\/v1\/order\/list$/, (req) =>
      this.authed(req, (user) => ok(this.orders.filter((o) => o.accountId === user.account.id).map(publicOrder))),
    );
    this.route('GET', /^\/v1\/order\/item$/, (req) =>
      this.authed(req, (user) => {
        const order = this.orders.find((o) => o.id === Number(req.query.get('id')) && o.accountId === user.account.id);
        return this.found(order && publicOrder(order));
      }),
    );
    this.route('GET', /^\/v1\/command\/list$/, (req) => this.authed(req, (user) => ok(this.commands.filter((c) => this.ownOrder(user, c.orderId)))));
    this.route('GET', /^\/v1\/fill\/deps$/, (req) =>
      this.authed(req, (user) => {
        const orderId = Number(req.query.get('masterid'));
        return ok(this.ownOrder(user, orderId) ? this.fills.filter((f) => f.orderId === orderId) : []);
      }),
    );
    this.route('GET', /^\/v1\/executionReport\/deps$/, (req) =>
      this.authed(req, (user) => {
        const order = this.orders.find((o) => o.id === Number(req.query.get('masterid')) && o.accountId === user.account.id);
        if (!order) return ok([]);
        const rejected = order.ordStatus === 'Rejected' ? { rejectReason: 'RiskCheckTimeout', text: 'Risk check timed out' } : {};
        return ok([
          {
            id: order.id + 1,
            orderId: order.id,
            accountId: order.accountId,
            contractId: order.contractId,
            ordStatus: order.ordStatus,
            execType: order.ordStatus,
            ...rejected,
          },
        ]);
      }),
    );
    this.route('GET', /^\/v1\/position\/list$/, (req) =>
      this.authed(req, (user) =>
        ok([...this.positions.values()].filter((p) => p.accountId === user.account.id).map((p) => ({ ...p, timestamp: new Date().toISOString() }))),
      ),
    );
    this.route('POST', /^\/v1\/cashBalance\/getcashbalancesnapshot$/i, (req) =>
      this.authed(req, (user) => {
        const body = parseBody(req);
        if (body?.accountId !== user.account.id) return { status: 200, body: { errorCode: 'AccountNotFound' } };
        return ok({
          id: user.account.id,
          accountId: user.account.id,
          totalCashValue: user.cash,
          netLiq: user.cash + this.openPnl(user),
          openPnL: this.openPnl(user),
          realizedPnL: 0,
        });
      }),
    );
  }

  /** A user with one active account; returns the account. */
  addUser(user: TradovateStubUser): User['account'] {
    const account = { id: this.id(), name: `DEMO${this.id()}`, userId: this.id(), accountType: 'Customer', active: true, archived: false };
    this.users.set(user.name, { cash: 50_000, ...user, account });
    return account;
  }

  /** A futures product with contracts expiring on the given dates (names as Tradovate's: root, month code, year digit). */
  addProduct(root: string, expirations: Date[]): string[] {
    const product = { id: this.id(), name: root };
    this.products.push(product);
    return expirations.map((date, i) => {
      const maturity = {
        id: this.id(),
        productId: product.id,
        expirationMonth: date.getUTCFullYear() * 100 + date.getUTCMonth() + 1,
        expirationDate: date.toISOString(),
        archived: false,
        isFront: i === 0,
      };
      this.maturities.push(maturity);
      const name = `${root}${MONTH_CODES[date.getUTCMonth()]}${date.getUTCFullYear() % 10}`;
      this.contracts.push({ id: this.id(), name, contractMaturityId: maturity.id, status: 'Verified', providerTickSize: 0.25 });
      return name;
    });
  }

  /** Market fill price of a contract (default 5000). */
  setPrice(contract: string, price: number): void {
    this.prices.set(this.contractByName(contract)!.id, price);
  }

  /** The next login gets a penalty ticket to wait `seconds` (with `captcha`, a person must log in on the web first). */
  penalizeNextLogin(seconds: number, captcha = false): void {
    this.penalties.push({ seconds, captcha });
  }

  /** Every issued token has expired (as after 90 minutes). */
  expireTokens(): void {
    for (const t of this.tokens.values()) t.expiresAt = Date.now() - 1;
  }

  /** The next order gets Tradovate's failure answer and creates nothing. */
  failNextOrder(failureReason: string, failureText: string): void {
    this.failNext = { failureReason, failureText };
  }

  /** The market reaches a resting order: filled whole at `price`; its OSO brackets start working. */
  fillWorking(clOrdId: string, price: number): void {
    const command = this.commands.find((c) => c.clOrdId === clOrdId && c.commandType === 'New');
    const order = this.orders.find((o) => o.id === command?.orderId && o.ordStatus === 'Working');
    if (!order) throw new Error(`no working order ${clOrdId} at the Tradovate stub`);
    this.fill(order, price);
  }

  /** The market reaches a working bracket order (by the clOrdId it was placed with): filled whole; its OCO partner is canceled. */
  fillBracket(clOrdId: string, price: number): void {
    const order = this.orders.find((o) => o.parentId !== undefined && o.body.clOrdId === clOrdId && o.ordStatus === 'Working');
    if (!order) throw new Error(`no working bracket ${clOrdId} at the Tradovate stub`);
    this.fill(order, price);
  }

  /** The exchange refuses a working order after Tradovate took it (its execution report says why). */
  rejectWorking(clOrdId: string): void {
    const order = this.orderByClientId(clOrdId);
    if (order?.ordStatus !== 'Working') throw new Error(`no working order ${clOrdId} at the Tradovate stub`);
    order.ordStatus = 'Rejected';
  }

  /** An order as Tradovate files it, with the body it was placed with. */
  orderByClientId(clOrdId: string): TradovateStubOrder | undefined {
    const command = this.commands.find((c) => c.clOrdId === clOrdId && c.commandType === 'New');
    return this.orders.find((o) => o.id === command?.orderId);
  }

  bracketsOf(orderId: number): TradovateStubOrder[] {
    return this.orders.filter((o) => o.parentId === orderId);
  }

  contractName(id: number): string | undefined {
    return this.contracts.find((c) => c.id === id)?.name;
  }

  private login(req: RecordedRequest): StubReply {
    const body = parseBody(req);
    const user = typeof body?.name === 'string' ? this.users.get(body.name) : undefined;
    const ticket = typeof body?.['p-ticket'] === 'string' ? body['p-ticket'] : undefined;
    if (ticket !== undefined) {
      const notBefore = this.tickets.get(ticket);
      if (notBefore === undefined) return ok({ errorText: 'Invalid p-ticket' });
      if (Date.now() < notBefore) return ok({ 'p-ticket': ticket, 'p-time': Math.ceil((notBefore - Date.now()) / 1000) });
      this.tickets.delete(ticket);
    }
    const penalty = ticket === undefined ? this.penalties.shift() : undefined;
    if (penalty) {
      const issued = randomBytes(24).toString('base64url');
      this.tickets.set(issued, Date.now() + penalty.seconds * 1000);
      return ok({ 'p-ticket': issued, 'p-time': penalty.seconds, ...(penalty.captcha ? { 'p-captcha': true } : {}) });
    }
    if (!user || body?.password !== user.password) {
      return ok({ errorText: 'Incorrect username or password. Please try again, noting that passwords are case-sensitive.' });
    }
    if (body.appId !== user.appId || String(body.cid) !== user.cid || body.sec !== user.sec || typeof body.appVersion !== 'string') {
      return ok({ errorText: 'The app is not registered' });
    }
    return this.issue(user);
  }

  private issue(user: User): StubReply {
    const accessToken = randomBytes(32).toString('base64url');
    const expiresAt = Date.now() + this.tokenLifetimeMs;
    this.tokens.set(accessToken, { user, expiresAt });
    return ok({
      accessToken,
      mdAccessToken: randomBytes(32).toString('base64url'),
      expirationTime: new Date(expiresAt).toISOString(),
      userStatus: 'Active',
      userId: user.account.userId,
      name: user.name,
      hasLive: false,
    });
  }

  private authed(req: RecordedRequest, handler: (user: User) => StubReply): StubReply {
    const header = String(req.headers.authorization ?? '');
    const token = header.startsWith('Bearer ') ? this.tokens.get(header.slice(7)) : undefined;
    if (!token || token.expiresAt <= Date.now()) return { status: 401 };
    return handler(token.user);
  }

  private place(user: User, req: RecordedRequest, oso: boolean): StubReply {
    const body = parseBody(req);
    if (!body) return { status: 400, body: { errorText: 'Invalid JSON' } };
    if (this.failNext) {
      const failure = this.failNext;
      this.failNext = undefined;
      return ok(failure);
    }
    const problem = this.orderProblem(user, body) ?? (oso ? this.bracketProblem(body) : undefined);
    if (problem) return ok({ failureReason: 'UnknownReason', failureText: problem });
    const contract = this.contractByName(String(body.symbol))!;
    const order = this.newOrder(user, contract.id, body, 'Working');
    this.commands.push({
      id: this.id(),
      orderId: order.id,
      timestamp: order.timestamp,
      clOrdId: body.clOrdId as string | undefined,
      commandType: 'New',
      commandStatus: 'RiskPassed',
      isAutomated: body.isAutomated as boolean,
    });
    const legs = oso
      ? [body.bracket1, body.bracket2].filter(Boolean).map((leg) => this.newOrder(user, contract.id, leg as Record<string, unknown>, 'Suspended', order.id))
      : [];
    if (body.orderType === 'Market') this.fill(order, this.prices.get(contract.id) ?? 5000);
    return ok({ orderId: order.id, ...(legs[0] ? { oso1Id: legs[0].id } : {}), ...(legs[1] ? { oso2Id: legs[1].id } : {}) });
  }

  private orderProblem(user: User, body: Record<string, unknown>): string | undefined {
    if (body.accountId !== user.account.id || body.accountSpec !== user.account.name) return 'Account is not found';
    if (body.action !== 'Buy' && body.action !== 'Sell') return 'Invalid action';
    if (typeof body.symbol !== 'string' || !this.contractByName(body.symbol)) return `Unknown symbol ${String(body.symbol)}`;
    return this.shapeProblem(body);
  }

  private shapeProblem(body: Record<string, unknown>): string | undefined {
    if (body.orderQty !== undefined && (!Number.isInteger(body.orderQty) || (body.orderQty as number) <= 0)) return 'Invalid orderQty';
    if (typeof body.orderType !== 'string' || !ORDER_TYPES.has(body.orderType)) return 'Invalid orderType';
    if (body.timeInForce !== undefined && !TIMES_IN_FORCE.has(String(body.timeInForce))) return 'Invalid timeInForce';
    if (['Limit', 'StopLimit'].includes(body.orderType) && typeof body.price !== 'number') return 'price is required';
    if (['Stop', 'StopLimit'].includes(body.orderType) && typeof body.stopPrice !== 'number') return 'stopPrice is required';
    return undefined;
  }

  private bracketProblem(body: Record<string, unknown>): string | undefined {
    if (typeof body.bracket1 !== 'object' || body.bracket1 === null) return 'bracket1 is required';
    for (const leg of [body.bracket1, body.bracket2].filter((l) => l !== undefined) as Array<Record<string, unknown>>) {
      if (leg.action !== 'Buy' && leg.action !== 'Sell') return 'Invalid bracket action';
      const problem = this.shapeProblem(leg);
      if (problem) return `bracket: ${problem}`;
    }
    return undefined;
  }

  private newOrder(user: User, contractId: number, body: Record<string, unknown>, ordStatus: string, parentId?: number): TradovateStubOrder {
    const order: TradovateStubOrder = {
      id: this.id(),
      accountId: user.account.id,
      contractId,
      timestamp: new Date().toISOString(),
      action: body.action as 'Buy' | 'Sell',
      ordStatus,
      admin: false,
      body,
    };
    if (parentId !== undefined) order.parentId = parentId;
    this.orders.push(order);
    return order;
  }

  private fill(order: TradovateStubOrder, price: number): void {
    const parent = order.parentId === undefined ? order : this.orders.find((o) => o.id === order.parentId)!;
    const qty = (parent.body.orderQty as number | undefined) ?? 1;
    const timestamp = new Date().toISOString();
    this.fills.push({
      id: this.id(),
      orderId: order.id,
      contractId: order.contractId,
      timestamp,
      tradeDate: tradeDate(),
      action: order.action,
      qty,
      price,
      active: true,
    });
    order.ordStatus = 'Filled';
    const key = `${order.accountId}:${order.contractId}`;
    const p = this.positions.get(key) ?? { id: this.id(), accountId: order.accountId, contractId: order.contractId, netPos: 0, netPrice: 0 };
    const signed = order.action === 'Buy' ? qty : -qty;
    const next = p.netPos + signed;
    p.netPrice = next === 0 ? 0 : Math.sign(next) === Math.sign(p.netPos) || p.netPos === 0 ? (p.netPos * p.netPrice + signed * price) / next : p.netPrice;
    p.netPos = next;
    this.positions.set(key, p);
    for (const leg of this.orders.filter((o) => o.parentId === order.id && o.ordStatus === 'Suspended')) leg.ordStatus = 'Working';
    // bracket1 and bracket2 of one OSO are one-cancels-other.
    for (const other of this.orders.filter((o) => o.parentId !== undefined && o.parentId === order.parentId && o.id !== order.id && isOpen(o))) {
      other.ordStatus = 'Canceled';
    }
  }

  private cancel(user: User, req: RecordedRequest): StubReply {
    const body = parseBody(req);
    const order = this.orders.find((o) => o.id === body?.orderId && o.accountId === user.account.id);
    if (!order) return ok({ failureReason: 'UnknownReason', failureText: 'Order is not found' });
    if (!['Working', 'Suspended'].includes(order.ordStatus)) return ok({ failureReason: 'TooLate', failureText: 'Order is already finished' });
    order.ordStatus = 'Canceled';
    const commandId = this.id();
    this.commands.push({ id: commandId, orderId: order.id, timestamp: new Date().toISOString(), commandType: 'Cancel', commandStatus: 'RiskPassed' });
    return ok({ commandId });
  }

  private found(entity: unknown): StubReply {
    return entity === undefined ? { status: 404, body: { errorText: 'Not found' } } : ok(entity);
  }

  private ownOrder(user: User, orderId: number): boolean {
    return this.orders.some((o) => o.id === orderId && o.accountId === user.account.id);
  }

  private contractByName(name: string) {
    return this.contracts.find((c) => c.name === name);
  }

  private openPnl(user: User): number {
    return [...this.positions.values()]
      .filter((p) => p.accountId === user.account.id && p.netPos !== 0)
      .reduce((sum, p) => sum + p.netPos * ((this.prices.get(p.contractId) ?? 5000) - p.netPrice) * 50, 0);
  }

  private id(): number {
    return ++this.nextId;
  }
}

export async function startTradovateStub(): Promise<TradovateStub> {
  return new TradovateStub().start();
}

/** Quarterly expiries after now (the third Friday is near enough for a stub): the first `daysToFront` days out. */
export function quarterlyExpiries(daysToFront: number, count = 3): Date[] {
  return Array.from({ length: count }, (_, i) => new Date(Date.now() + (daysToFront + i * 91) * DAY_MS));
}

function publicOrder(order: TradovateStubOrder): Omit<TradovateStubOrder, 'body'> {
  const { body: _body, ...rest } = order;
  return rest;
}

function isOpen(order: TradovateStubOrder): boolean {
  return order.ordStatus === 'Working' || order.ordStatus === 'Suspended';
}

function ok(body: unknown): StubReply {
  return { status: 200, body };
}

function parseBody(req: RecordedRequest): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(req.body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function tradeDate(): { year: number; month: number; day: number } {
  const d = new Date();
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}
