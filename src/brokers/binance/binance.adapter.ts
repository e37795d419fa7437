import { createHmac } from 'node:crypto';
import type { z } from 'zod';
import type {
  AccountSummary,
  BrokerAdapter,
  BrokerCredentials,
  BrokerEnvironment,
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
import { acceptedOrThrow, assertOrderValues, keyHint, parseBrokerBody, parseCredentials, replayedOrder, safeBrokerText } from '../broker-values';
import { addDecimals } from '../../common/decimal';
import { baseAsset, binanceOrderAck, binanceOrderParams, binanceOrderState, binanceSymbol, unsupportedReason } from './binance-orders';
import {
  binanceAccountSchema,
  binanceCancelledSchema,
  binanceCredentialsSchema,
  binanceErrorSchema,
  binanceOrderSchema,
  binanceRestrictionsSchema,
  type BinanceCredentials,
  type BinanceOrder,
} from './binance-schemas';

const BROKER = 'binance';
const LABEL = 'Binance';
const RECV_WINDOW = '5000';
/** The quote asset getEquity counts (see getEquity). */
const EQUITY_ASSET = 'USDT';
/** Flags that let a key move funds out of the spot wallet; any of them refuses the key. */
const FUND_MOVING_FLAGS = ['enableWithdrawals', 'enableInternalTransfer', 'permitsUniversalTransfer'] as const;
/** -2014 bad key format, -2015 unknown key / IP / permission, -1022 signature (i.e. wrong secret). */
const KEY_REFUSED_CODES = new Set([-2014, -2015, -1022]);
const TIMESTAMP_OUTSIDE_RECV_WINDOW = -1021;
const NEW_ORDER_REJECTED = -2010;
const NO_SUCH_ORDER = -2013;
const UNKNOWN_ORDER_ON_CANCEL = -2011;
const DUPLICATE_ORDER = /duplicate order/i;

type Method = 'GET' | 'POST' | 'DELETE';

/**
 * Binance spot REST API with HMAC keys: https://developers.binance.com/docs/binance-spot-api-docs/rest-api.
 * Paper connections use the Spot Testnet (test funds, same API without `/sapi`), live ones the exchange.
 */
export class BinanceAdapter implements BrokerAdapter {
  readonly broker = 'binance' as const;
  readonly credentialsSchema = binanceCredentialsSchema;

  constructor(
    private readonly hosts: Record<BrokerEnvironment, BrokerHttp>,
    private readonly clock: () => number = Date.now,
  ) {}

  async inspect(credentials: BrokerCredentials, environment: BrokerEnvironment): Promise<PermissionReport> {
    const creds = parseCredentials(BROKER, binanceCredentialsSchema, credentials);
    if (environment === 'paper') return this.inspectTestnetKey(creds);
    const res = await this.signed(creds, 'live', 'GET', '/sapi/v1/account/apiRestrictions', {});
    const flags = this.expect(res, creds, binanceRestrictionsSchema, 'the key inspection');
    const fundMoving = FUND_MOVING_FLAGS.filter((f) => flags[f]);
    if (fundMoving.length > 0) {
      throw new BrokerError(
        'withdrawal_scope_rejected',
        BROKER,
        `this Binance API key has ${fundMoving.join(', ')} enabled; create a key with only spot trading enabled`,
      );
    }
    const details: PermissionReport['details'] = {};
    for (const [name, value] of Object.entries(flags)) if (typeof value === 'boolean') details[name] = value;
    const canTrade = flags.enableSpotAndMarginTrading;
    const ipAdvice = flags.ipRestrict ? '' : ' It is not IP-restricted: restricting it to this server is recommended.';
    const note = canTrade
      ? `Binance key can trade spot; withdrawals and transfers are disabled.${ipAdvice}`
      : 'Binance key cannot trade: enable "Spot & Margin Trading" on it before routing orders to it.';
    return { inspection: 'inspected', canTrade, canWithdraw: false, canTransfer: false, note, details, keyHint: keyHint(creds.apiKey) };
  }

  /** The Spot Testnet has no `/sapi` (no key restrictions to read) and nothing to withdraw: the account answer proves the key. */
  private async inspectTestnetKey(creds: BinanceCredentials): Promise<PermissionReport> {
    const res = await this.signed(creds, 'paper', 'GET', '/api/v3/account', { omitZeroBalances: 'true' });
    const { canTrade = true } = this.expect(res, creds, binanceAccountSchema, 'the key check');
    const note = canTrade
      ? 'Binance Spot Testnet key: test funds only; the testnet cannot withdraw or transfer.'
      : 'Binance Spot Testnet key cannot trade: the testnet account has trading disabled.';
    return { inspection: 'trading_only', canTrade, canWithdraw: false, canTransfer: false, note, details: { testnet: true }, keyHint: keyHint(creds.apiKey) };
  }

  /** Binance refuses a reused client order id only while the first order is OPEN, so the id is looked up first. */
  async placeOrder(credentials: BrokerCredentials, order: OrderRequest): Promise<OrderAck> {
    const creds = parseCredentials(BROKER, binanceCredentialsSchema, credentials);
    const unsupported = unsupportedReason(order);
    if (unsupported) throw new BrokerError('unsupported_order_type', BROKER, unsupported);
    assertOrderValues(BROKER, order);
    const symbol = requireSymbol(order.symbol);
    const existing = await this.lookup(creds, order.environment, symbol, order.clientOrderId);
    if (existing) return acceptedOrThrow(BROKER, LABEL, existing, creds);

    const res = await this.signed(creds, order.environment, 'POST', '/api/v3/order', binanceOrderParams(order, symbol));
    if (res.status === 200) {
      return acceptedOrThrow(BROKER, LABEL, binanceOrderAck(parseBrokerBody(BROKER, binanceOrderSchema, res.json, 'the order')), creds);
    }
    const error = binanceErrorSchema.safeParse(res.json);
    if (error.success && error.data.code === NEW_ORDER_REJECTED && DUPLICATE_ORDER.test(error.data.msg ?? '')) {
      // A concurrent attempt with the same id got there first: its order is the result of this request.
      return replayedOrder(BROKER, LABEL, await this.lookup(creds, order.environment, symbol, order.clientOrderId), creds);
    }
    throw this.failure(res, creds, 'the order');
  }

  async findOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<OrderAck | null> {
    const creds = parseCredentials(BROKER, binanceCredentialsSchema, credentials);
    return this.lookup(creds, order.environment, requireSymbol(order.symbol), order.clientOrderId);
  }

  /** Spot holds no short positions: the position is the base asset's free + locked balance. */
  async getOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<BrokerOrderState | null> {
    const creds = parseCredentials(BROKER, binanceCredentialsSchema, credentials);
    const found = await this.lookupRaw(creds, order.environment, requireSymbol(order.symbol), order.clientOrderId);
    return found ? binanceOrderState(found) : null;
  }

  async getPosition(credentials: BrokerCredentials, symbol: string, environment: BrokerEnvironment): Promise<Position> {
    const creds = parseCredentials(BROKER, binanceCredentialsSchema, credentials);
    const plain = requireSymbol(symbol);
    const base = baseAsset(plain);
    if (!base) throw new BrokerError('rejected', BROKER, `cannot tell the base asset of Binance symbol ${plain}`);
    return { symbol, quantity: await this.balance(creds, environment, base) };
  }

  async cancelOpenOrders(credentials: BrokerCredentials, symbol: string, environment: BrokerEnvironment): Promise<number> {
    const creds = parseCredentials(BROKER, binanceCredentialsSchema, credentials);
    const res = await this.signed(creds, environment, 'DELETE', '/api/v3/openOrders', { symbol: requireSymbol(symbol) });
    if (errorCode(res) === UNKNOWN_ORDER_ON_CANCEL) return 0; // nothing was open
    const cancelled = this.expect(res, creds, binanceCancelledSchema, 'the cancel request');
    return cancelled.reduce((n, entry) => n + (entry.orderReports?.length ?? 1), 0);
  }

  /** Spot positions are the non-zero balances besides the USDT cash, each named as its USDT market (BTC → BTCUSDT). */
  async getPositions(credentials: BrokerCredentials, environment: BrokerEnvironment): Promise<HeldPosition[]> {
    const creds = parseCredentials(BROKER, binanceCredentialsSchema, credentials);
    return (await this.balances(creds, environment))
      .filter((b) => b.asset !== EQUITY_ASSET)
      .map((b) => ({ symbol: `${b.asset}${EQUITY_ASSET}`, quantity: addDecimals(b.free, b.locked) }))
      .filter((p) => p.quantity !== '0');
  }

  /** As getEquity: the USDT balance is the equity; what is free of it is the buying power. */
  async getAccount(credentials: BrokerCredentials, environment: BrokerEnvironment): Promise<AccountSummary> {
    const creds = parseCredentials(BROKER, binanceCredentialsSchema, credentials);
    const usdt = (await this.balances(creds, environment)).find((b) => b.asset === EQUITY_ASSET);
    const total = usdt ? addDecimals(usdt.free, usdt.locked) : '0';
    return { currency: EQUITY_ASSET, equity: total, cash: total, buyingPower: usdt ? addDecimals(usdt.free, '0') : '0' };
  }

  /** Simplification: equity is the USDT balance (free + locked); other assets are not valued (that needs prices). */
  async getEquity(credentials: BrokerCredentials, environment: BrokerEnvironment): Promise<string> {
    const creds = parseCredentials(BROKER, binanceCredentialsSchema, credentials);
    return this.balance(creds, environment, EQUITY_ASSET);
  }

  /** Binance has no API endpoint to delete an API key; users delete it under API Management. */
  async revokeKey(): Promise<boolean> {
    return false;
  }

  private async lookup(creds: BinanceCredentials, environment: BrokerEnvironment, symbol: string, clientOrderId: string): Promise<OrderAck | null> {
    const found = await this.lookupRaw(creds, environment, symbol, clientOrderId);
    return found ? binanceOrderAck(found) : null;
  }

  private async lookupRaw(creds: BinanceCredentials, environment: BrokerEnvironment, symbol: string, clientOrderId: string): Promise<BinanceOrder | null> {
    const res = await this.signed(creds, environment, 'GET', '/api/v3/order', { symbol, origClientOrderId: clientOrderId });
    if (errorCode(res) === NO_SUCH_ORDER) return null;
    return this.expect(res, creds, binanceOrderSchema, 'the order lookup');
  }

  private async balance(creds: BinanceCredentials, environment: BrokerEnvironment, asset: string): Promise<string> {
    const held = (await this.balances(creds, environment)).find((b) => b.asset === asset);
    return held ? addDecimals(held.free, held.locked) : '0';
  }

  private async balances(creds: BinanceCredentials, environment: BrokerEnvironment) {
    const res = await this.signed(creds, environment, 'GET', '/api/v3/account', { omitZeroBalances: 'true' });
    return this.expect(res, creds, binanceAccountSchema, 'the account request').balances;
  }

  /** A SIGNED request: HMAC-SHA256 (hex) of the exact parameter string sent, in the body for POST, else in the query. */
  private signed(
    creds: BinanceCredentials,
    environment: BrokerEnvironment,
    method: Method,
    path: string,
    params: Record<string, string>,
  ): Promise<BrokerHttpResponse> {
    const http = this.hosts[environment];
    const query = new URLSearchParams(params);
    query.set('recvWindow', RECV_WINDOW);
    query.set('timestamp', String(Math.trunc(this.clock())));
    const payload = query.toString();
    const signedPayload = `${payload}&signature=${createHmac('sha256', creds.apiSecret).update(payload).digest('hex')}`;
    const headers: Record<string, string> = { 'X-MBX-APIKEY': creds.apiKey };
    if (method !== 'POST') return http.send({ method, path: `${path}?${signedPayload}`, headers });
    headers['content-type'] = 'application/x-www-form-urlencoded';
    return http.send({ method, path, headers, body: signedPayload });
  }

  /** The parsed 200 body, or the BrokerError the answer stands for. */
  private expect<T>(res: BrokerHttpResponse, creds: BinanceCredentials, schema: z.ZodType<T>, what: string): T {
    if (res.status !== 200) throw this.failure(res, creds, what);
    return parseBrokerBody(BROKER, schema, res.json, what);
  }

  private failure(res: BrokerHttpResponse, creds: BinanceCredentials, what: string): BrokerError {
    const parsed = binanceErrorSchema.safeParse(res.json);
    const code = parsed.success ? parsed.data.code : undefined;
    if (res.status === 401 || (code !== undefined && KEY_REFUSED_CODES.has(code))) {
      return new BrokerError(
        'credentials_invalid',
        BROKER,
        `Binance refused the API key (${code ?? `HTTP ${res.status}`}): check the key, its secret, its IP allowlist and that spot trading is enabled`,
        res.status,
      );
    }
    if (code === TIMESTAMP_OUTSIDE_RECV_WINDOW) {
      const message = "Binance refused the request time (-1021): this server's clock is off by more than the recvWindow";
      return new BrokerError('transient', BROKER, message, res.status);
    }
    // 403: Binance's web application firewall; 418: IP banned for ignoring 429s. Both lift with time.
    if (res.status === 403 || res.status === 418) {
      return new BrokerError('transient', BROKER, `Binance is blocking requests from this server for now (HTTP ${res.status})`, res.status);
    }
    const message = (parsed.success && safeBrokerText(parsed.data.msg, creds)) || `HTTP ${res.status}`;
    return new BrokerError('rejected', BROKER, `Binance refused ${what} (${code ?? res.status}): ${message}`, res.status);
  }
}

function requireSymbol(symbol: string): string {
  const plain = binanceSymbol(symbol);
  if (!plain) throw new BrokerError('rejected', BROKER, 'the symbol is not a Binance spot symbol (e.g. BTCUSDT)');
  return plain;
}

function errorCode(res: BrokerHttpResponse): number | undefined {
  const parsed = binanceErrorSchema.safeParse(res.json);
  return res.status !== 200 && parsed.success ? parsed.data.code : undefined;
}
