import type { z } from 'zod';
import type {
  AccountSummary,
  BrokerAdapter,
  BrokerCredentials,
  BrokerOrderState,
  HeldPosition,
  OrderAck,
  OrderLookup,
  OrderRequest,
  PermissionReport,
  Position,
} from '../broker-adapter';
import { BrokerError } from '../broker-error';
import type { BrokerHttp, BrokerHttpResponse } from '../broker-http';
import { assertOrderValues, keyHint, parseBrokerBody, parseCredentials, safeBrokerText } from '../broker-values';
import { addDecimals } from '../../common/decimal';
import { coinbaseJwt, coinbaseSigningKey } from './coinbase-jwt';
import { baseCurrency, coinbaseOrderAck, coinbaseOrderBody, coinbaseOrderState, productId, unsupportedReason } from './coinbase-orders';
import {
  coinbaseAccountPageSchema,
  coinbaseCancelSchema,
  coinbaseCreateOrderSchema,
  coinbaseCredentialsSchema,
  coinbaseErrorSchema,
  coinbaseGetOrderSchema,
  coinbaseOrderPageSchema,
  coinbasePermissionsSchema,
  type CoinbaseCredentials,
  type CoinbaseOrder,
} from './coinbase-schemas';

const BROKER = 'coinbase';
const API = '/api/v3/brokerage';
/** Cash currencies getEquity counts (see getEquity). */
const EQUITY_CURRENCIES = new Set(['USD', 'USDC']);
/** List pages read before giving up: an order looked up by client id is among the most recent ones. */
const MAX_PAGES = 5;
const ORDERS_PER_PAGE = '100';
const ACCOUNTS_PER_PAGE = '250';
const CANCEL_BATCH = 100;

type Method = 'GET' | 'POST';
/** One authenticated call: every request carries its own JWT, bound to its method and path. */
type Call = (method: Method, path: string, options?: { query?: URLSearchParams; body?: unknown }) => Promise<BrokerHttpResponse>;

/** Coinbase Advanced Trade with CDP API keys: https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api */
export class CoinbaseAdapter implements BrokerAdapter {
  readonly broker = 'coinbase' as const;
  readonly credentialsSchema = coinbaseCredentialsSchema;
  private readonly host: string;

  constructor(
    private readonly http: BrokerHttp,
    private readonly clock: () => number = Date.now,
  ) {
    this.host = new URL(http.baseUrl).host;
  }

  async inspect(credentials: BrokerCredentials): Promise<PermissionReport> {
    const { creds, call } = this.session(credentials);
    const res = await call('GET', `${API}/key_permissions`);
    const perms = this.expect(res, creds, coinbasePermissionsSchema, 'the key inspection');
    if (perms.can_transfer) {
      const message = 'this Coinbase API key has the transfer permission (can_transfer); create a key with only view and trade permissions';
      throw new BrokerError('withdrawal_scope_rejected', BROKER, message);
    }
    const details: PermissionReport['details'] = { can_view: perms.can_view, can_trade: perms.can_trade, can_transfer: perms.can_transfer };
    if (perms.portfolio_type) details.portfolio_type = perms.portfolio_type;
    const note = perms.can_trade
      ? 'Coinbase key can trade; it cannot transfer funds.'
      : 'Coinbase key cannot trade: give it the "trade" permission before routing orders to it.';
    return {
      inspection: 'inspected',
      canTrade: perms.can_trade,
      canWithdraw: false,
      canTransfer: false,
      note,
      details,
      keyHint: keyHint(creds.apiKeyName.slice(creds.apiKeyName.lastIndexOf('/') + 1)),
    };
  }

  /** Coinbase returns the existing order for a repeated client_order_id, so a retry can simply re-send. */
  async placeOrder(credentials: BrokerCredentials, order: OrderRequest): Promise<OrderAck> {
    const { creds, call } = this.session(credentials);
    const unsupported = unsupportedReason(order);
    if (unsupported) throw new BrokerError('unsupported_order_type', BROKER, unsupported);
    assertOrderValues(BROKER, order);
    const res = await call('POST', `${API}/orders`, { body: coinbaseOrderBody(order, requireProduct(order.symbol)) });
    const created = this.expect(res, creds, coinbaseCreateOrderSchema, 'the order');
    if (created.success && created.success_response) {
      return { brokerOrderId: created.success_response.order_id, clientOrderId: order.clientOrderId, status: 'accepted' };
    }
    if (created.success) throw new BrokerError('ambiguous', BROKER, 'Coinbase accepted the order but did not name it');
    const e = created.error_response ?? {};
    // `error` is often UNKNOWN_FAILURE_REASON while a more specific reason code sits next to it.
    const code = [e.error, e.new_order_failure_reason, e.preview_failure_reason].find((c) => c && !c.startsWith('UNKNOWN_'));
    const reason = [code, e.message]
      .map((text) => safeBrokerText(text, creds))
      .filter(Boolean)
      .join(': ');
    throw new BrokerError('rejected', BROKER, `Coinbase rejected the order: ${reason || 'no reason given'}`);
  }

  /** Advanced Trade cannot filter orders by client_order_id (Get Order's parameter is deprecated): scan recent ones. */
  async findOrder(credentials: BrokerCredentials, order: Pick<OrderRequest, 'clientOrderId' | 'symbol'>): Promise<OrderAck | null> {
    const { creds, call } = this.session(credentials);
    const found = await this.scanForClientId(call, creds, order.symbol, order.clientOrderId);
    return found ? coinbaseOrderAck(found) : null;
  }

  /** Get Order by Coinbase's id when the first answer gave it (one request); else the scan findOrder does. */
  async getOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<BrokerOrderState | null> {
    const { creds, call } = this.session(credentials);
    if (order.brokerOrderId === undefined) {
      const found = await this.scanForClientId(call, creds, order.symbol, order.clientOrderId);
      return found ? coinbaseOrderState(found) : null;
    }
    const res = await call('GET', `${API}/orders/historical/${encodeURIComponent(order.brokerOrderId)}`);
    if (res.status === 404) return null;
    const found = this.expect(res, creds, coinbaseGetOrderSchema, 'the order lookup').order;
    // Coinbase's id came from our own record; an order of another client id there would be someone else's story.
    if (found.client_order_id !== order.clientOrderId) throw new BrokerError('rejected', BROKER, 'Coinbase answered the order lookup with another order');
    return coinbaseOrderState(found);
  }

  /** The position is the base currency's balance, available + on hold (held coins are still owned). */
  async getPosition(credentials: BrokerCredentials, symbol: string): Promise<Position> {
    const { creds, call } = this.session(credentials);
    const base = baseCurrency(requireProduct(symbol));
    return { symbol, quantity: await this.balance(call, creds, (currency) => currency === base) };
  }

  async cancelOpenOrders(credentials: BrokerCredentials, symbol: string): Promise<number> {
    const { creds, call } = this.session(credentials);
    const query = new URLSearchParams({ product_ids: requireProduct(symbol), order_status: 'OPEN', limit: ORDERS_PER_PAGE });
    const ids: string[] = [];
    for await (const orders of this.orderPages(call, creds, query, 'the open orders request')) {
      ids.push(...orders.map((o) => o.order_id));
    }
    let cancelled = 0;
    for (let i = 0; i < ids.length; i += CANCEL_BATCH) {
      const res = await call('POST', `${API}/orders/batch_cancel`, { body: { order_ids: ids.slice(i, i + CANCEL_BATCH) } });
      // An order that filled or was cancelled meanwhile reports success: false; it is no longer open either way.
      cancelled += this.expect(res, creds, coinbaseCancelSchema, 'the cancel request').results.filter((r) => r.success).length;
    }
    return cancelled;
  }

  /** Positions are the non-zero balances of other currencies than the USD/USDC cash, each named as its USD product (BTC → BTC-USD). */
  async getPositions(credentials: BrokerCredentials): Promise<HeldPosition[]> {
    const { creds, call } = this.session(credentials);
    const held = new Map<string, string>();
    for await (const accounts of this.accountPages(call, creds)) {
      for (const a of accounts) {
        if (EQUITY_CURRENCIES.has(a.currency)) continue;
        held.set(a.currency, addDecimals(held.get(a.currency) ?? '0', addDecimals(a.available_balance.value, a.hold?.value ?? '0')));
      }
    }
    return [...held].filter(([, quantity]) => quantity !== '0').map(([currency, quantity]) => ({ symbol: `${currency}-USD`, quantity }));
  }

  /** As getEquity: USD + USDC cash is the equity; what is available of it (not on hold) is the buying power. */
  async getAccount(credentials: BrokerCredentials): Promise<AccountSummary> {
    const { creds, call } = this.session(credentials);
    let total = '0';
    let available = '0';
    for await (const accounts of this.accountPages(call, creds)) {
      for (const a of accounts.filter((x) => EQUITY_CURRENCIES.has(x.currency))) {
        available = addDecimals(available, a.available_balance.value);
        total = addDecimals(total, addDecimals(a.available_balance.value, a.hold?.value ?? '0'));
      }
    }
    return { currency: 'USD', equity: total, cash: total, buyingPower: available };
  }

  /** Simplification: equity is USD + USDC cash (available + on hold); crypto is not valued (that needs prices). */
  async getEquity(credentials: BrokerCredentials): Promise<string> {
    const { creds, call } = this.session(credentials);
    return this.balance(call, creds, (currency) => EQUITY_CURRENCIES.has(currency));
  }

  /** Advanced Trade has no endpoint to delete a CDP API key; users delete it in the CDP portal. */
  async revokeKey(): Promise<boolean> {
    return false;
  }

  private async balance(call: Call, creds: CoinbaseCredentials, counts: (currency: string) => boolean): Promise<string> {
    let total = '0';
    for await (const accounts of this.accountPages(call, creds)) {
      for (const a of accounts) {
        if (counts(a.currency)) total = addDecimals(total, addDecimals(a.available_balance.value, a.hold?.value ?? '0'));
      }
    }
    return total;
  }

  /** List Accounts: one per currency held. */
  private accountPages(call: Call, creds: CoinbaseCredentials) {
    const query = new URLSearchParams({ limit: ACCOUNTS_PER_PAGE });
    return this.pages(call, creds, `${API}/accounts`, query, coinbaseAccountPageSchema, 'accounts', 'the accounts request');
  }

  private async scanForClientId(call: Call, creds: CoinbaseCredentials, symbol: string, clientOrderId: string): Promise<CoinbaseOrder | undefined> {
    const query = new URLSearchParams({ product_ids: requireProduct(symbol), limit: ORDERS_PER_PAGE });
    for await (const orders of this.orderPages(call, creds, query, 'the order lookup')) {
      const found = orders.find((o) => o.client_order_id === clientOrderId);
      if (found) return found;
    }
    return undefined;
  }

  /** List Orders, newest first. */
  private orderPages(call: Call, creds: CoinbaseCredentials, query: URLSearchParams, what: string): AsyncGenerator<CoinbaseOrder[]> {
    return this.pages(call, creds, `${API}/orders/historical/batch`, query, coinbaseOrderPageSchema, 'orders', what);
  }

  /** Follows Coinbase's cursor pagination for at most MAX_PAGES pages. */
  private async *pages<K extends string, T>(
    call: Call,
    creds: CoinbaseCredentials,
    path: string,
    query: URLSearchParams,
    schema: z.ZodType<{ has_next?: boolean; cursor?: string } & Record<K, T[]>>,
    key: K,
    what: string,
  ): AsyncGenerator<T[]> {
    for (let page = 0; page < MAX_PAGES; page++) {
      const body = this.expect(await call('GET', path, { query }), creds, schema, what);
      yield body[key];
      if (!body.has_next || !body.cursor) return;
      query.set('cursor', body.cursor);
    }
  }

  /** Validates the credentials and reads the private key once per operation; nothing outlives the call. */
  private session(credentials: BrokerCredentials): { creds: CoinbaseCredentials; call: Call } {
    const creds = parseCredentials(BROKER, coinbaseCredentialsSchema, credentials);
    const key = coinbaseSigningKey(creds.privateKey);
    const call: Call = (method, path, options = {}) => {
      const headers: Record<string, string> = {
        authorization: `Bearer ${coinbaseJwt(creds.apiKeyName, key, method, this.host, path, this.clock())}`,
        accept: 'application/json',
      };
      const query = options.query?.size ? `?${options.query}` : '';
      if (options.body === undefined) return this.http.send({ method, path: path + query, headers });
      headers['content-type'] = 'application/json';
      return this.http.send({ method, path: path + query, headers, body: JSON.stringify(options.body) });
    };
    return { creds, call };
  }

  /** The parsed 200 body, or the BrokerError the answer stands for. */
  private expect<T>(res: BrokerHttpResponse, creds: CoinbaseCredentials, schema: z.ZodType<T>, what: string): T {
    if (res.status !== 200) throw failure(res, creds, what);
    return parseBrokerBody(BROKER, schema, res.json, what);
  }
}

function failure(res: BrokerHttpResponse, creds: CoinbaseCredentials, what: string): BrokerError {
  if (res.status === 401) {
    const message = "Coinbase refused the API key (HTTP 401): check the key name, its private key and this server's clock";
    return new BrokerError('credentials_invalid', BROKER, message, 401);
  }
  if (res.status === 403) {
    return new BrokerError('credentials_invalid', BROKER, `Coinbase refused ${what} for this key (HTTP 403): the key lacks the permission`, 403);
  }
  const parsed = coinbaseErrorSchema.safeParse(res.json);
  const message = (parsed.success && safeBrokerText(parsed.data.message ?? parsed.data.error, creds)) || `HTTP ${res.status}`;
  return new BrokerError('rejected', BROKER, `Coinbase refused ${what} (HTTP ${res.status}): ${message}`, res.status);
}

function requireProduct(symbol: string): string {
  const product = productId(symbol);
  if (!product) throw new BrokerError('rejected', BROKER, 'the symbol is not a Coinbase product (e.g. BTC-USD)');
  return product;
}
