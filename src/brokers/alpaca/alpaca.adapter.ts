import type { z } from 'zod';
import type {
  BrokerAdapter,
  BrokerCredentials,
  BrokerEnvironment,
  AccountSummary,
  BrokerOrderState,
  HeldPosition,
  OrderAck,
  OrderLookup,
  OrderRequest,
  PermissionReport,
  Position,
} from '../broker-adapter';
import { BrokerError } from '../broker-error';
import type { BrokerHttp, BrokerHttpRequest, BrokerHttpResponse } from '../broker-http';
import { acceptedOrThrow, assertOrderValues, keyHint, parseBrokerBody, parseCredentials, replayedOrder, safeBrokerText } from '../broker-values';
import { absDecimal, negateDecimal } from '../../common/decimal';
import { formatOccSymbol, marketDate, type OptionSelection, parseOccSymbol, parseOptionSelection } from '../option-symbols';
import {
  alpacaOptionOrderBody,
  contractsQuery,
  MAX_CONTRACT_PAGES,
  noContractReason,
  optionContractsPageSchema,
  optionsLevelRefusal,
  selectContract,
} from './alpaca-options';
import { alpacaOrderAck, alpacaOrderBody, alpacaOrderState } from './alpaca-orders';
import {
  alpacaAccountSchema,
  alpacaCredentialsSchema,
  alpacaErrorSchema,
  alpacaOrderListSchema,
  alpacaOrderSchema,
  alpacaPositionListSchema,
  alpacaPositionSchema,
  type AlpacaCredentials,
  type AlpacaOrder,
} from './alpaca-schemas';

const BROKER = 'alpaca';
const LABEL = 'Alpaca';
/** Alpaca's answer when a client_order_id was already used on the account (wording varies across API revisions). */
const DUPLICATE_CLIENT_ORDER_ID = /client[ _]?order[ _]?id must be unique/i;

type Request = Omit<BrokerHttpRequest, 'headers'>;

/** Alpaca trading API (stocks, crypto and US equity options), paper and live: https://docs.alpaca.markets/reference */
export class AlpacaAdapter implements BrokerAdapter {
  readonly broker = 'alpaca' as const;
  readonly credentialsSchema = alpacaCredentialsSchema;

  constructor(private readonly http: { paper: BrokerHttp; live: BrokerHttp }) {}

  async inspect(credentials: BrokerCredentials, environment: BrokerEnvironment): Promise<PermissionReport> {
    const creds = parseCredentials(BROKER, alpacaCredentialsSchema, credentials);
    const res = await this.send(creds, environment, { method: 'GET', path: '/v2/account' });
    if (res.status === 401 || res.status === 403) throw keyRefused(res.status);
    const account = this.expect(res, creds, alpacaAccountSchema, 'the account request');
    if (account.status !== 'ACTIVE') {
      const status = safeBrokerText(account.status, creds) ?? 'unknown';
      throw new BrokerError('credentials_invalid', BROKER, `the Alpaca account behind this key is ${status}, not ACTIVE: it cannot be connected`);
    }
    const details: PermissionReport['details'] = {
      status: account.status,
      trading_blocked: account.trading_blocked,
      account_blocked: account.account_blocked,
    };
    if (account.transfers_blocked !== undefined) details.transfers_blocked = account.transfers_blocked;
    if (account.currency) details.currency = account.currency;
    return {
      inspection: 'trading_only',
      canTrade: !account.trading_blocked && !account.account_blocked,
      canWithdraw: false,
      canTransfer: false,
      note: 'Alpaca trading API keys can trade but cannot withdraw or transfer funds; Alpaca exposes no finer key scopes.',
      details,
      keyHint: keyHint(creds.apiKey),
    };
  }

  async placeOrder(credentials: BrokerCredentials, order: OrderRequest): Promise<OrderAck> {
    const creds = parseCredentials(BROKER, alpacaCredentialsSchema, credentials);
    assertOrderValues(BROKER, order);
    const contract = await this.optionContract(creds, order.environment, order.symbol);
    let body: string;
    if (contract) {
      body = JSON.stringify(alpacaOptionOrderBody(order, contract));
      await this.checkOptionsLevel(creds, order.environment, order.side, contract, order.quantity);
    } else body = JSON.stringify(alpacaOrderBody(order));
    const res = await this.send(creds, order.environment, { method: 'POST', path: '/v2/orders', body });
    if (res.status === 200 || res.status === 201) {
      const ack = alpacaOrderAck(parseBrokerBody(BROKER, alpacaOrderSchema, res.json, 'the order'));
      return acceptedOrThrow(BROKER, LABEL, withContract(ack, order.symbol, contract), creds);
    }
    const message = brokerMessage(res, creds);
    if (res.status === 422 && DUPLICATE_CLIENT_ORDER_ID.test(message)) {
      // Sent before (e.g. the answer was lost): the existing order is the result of this request.
      return replayedOrder(BROKER, LABEL, await this.lookup(creds, order.environment, order.clientOrderId, order.symbol), creds);
    }
    if (res.status === 401) throw keyRefused(res.status);
    throw new BrokerError('rejected', BROKER, `Alpaca rejected the order: ${message}`, res.status);
  }

  async findOrder(
    credentials: BrokerCredentials,
    order: Pick<OrderRequest, 'clientOrderId' | 'symbol' | 'environment' | 'connectionId'>,
  ): Promise<OrderAck | null> {
    const creds = parseCredentials(BROKER, alpacaCredentialsSchema, credentials);
    return this.lookup(creds, order.environment, order.clientOrderId, order.symbol);
  }

  async getOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<BrokerOrderState | null> {
    const creds = parseCredentials(BROKER, alpacaCredentialsSchema, credentials);
    const found = await this.lookupRaw(creds, order.environment, order.clientOrderId);
    return found ? alpacaOrderState(found) : null;
  }

  async getPosition(credentials: BrokerCredentials, symbol: string, environment: BrokerEnvironment, _connectionId: string): Promise<Position> {
    const creds = parseCredentials(BROKER, alpacaCredentialsSchema, credentials);
    const traded = (await this.optionContract(creds, environment, symbol)) ?? symbol;
    return { symbol, quantity: await this.positionOf(creds, environment, traded) };
  }

  /** The signed position in one symbol, "0" when none. */
  private async positionOf(creds: AlpacaCredentials, environment: BrokerEnvironment, symbol: string): Promise<string> {
    // Alpaca names crypto positions without the slash (BTC/USD → BTCUSD).
    const path = `/v2/positions/${encodeURIComponent(symbol.trim().toUpperCase().replace('/', ''))}`;
    const res = await this.send(creds, environment, { method: 'GET', path });
    if (res.status === 404) return '0';
    const position = this.expect(res, creds, alpacaPositionSchema, 'the position request');
    const size = absDecimal(position.qty);
    const short = position.side ? position.side === 'short' : position.qty.startsWith('-');
    return short ? negateDecimal(size) : size;
  }

  async cancelOpenOrders(credentials: BrokerCredentials, symbol: string, environment: BrokerEnvironment, _connectionId: string): Promise<number> {
    const creds = parseCredentials(BROKER, alpacaCredentialsSchema, credentials);
    const traded = (await this.optionContract(creds, environment, symbol)) ?? symbol;
    const query = new URLSearchParams({ status: 'open', symbols: traded.trim().toUpperCase(), limit: '500' });
    const res = await this.send(creds, environment, { method: 'GET', path: `/v2/orders?${query}` });
    const open = this.expect(res, creds, alpacaOrderListSchema, 'the open orders request');
    let cancelled = 0;
    for (const o of open) {
      const del = await this.send(creds, environment, { method: 'DELETE', path: `/v2/orders/${encodeURIComponent(o.id)}` });
      // 404/422: already gone or finished meanwhile (e.g. a bracket leg cancelled with its parent).
      if (del.status === 404 || del.status === 422) continue;
      if (del.status < 200 || del.status >= 300) throw this.failure(del, creds, 'the order cancel');
      cancelled++;
    }
    return cancelled;
  }

  async getPositions(credentials: BrokerCredentials, environment: BrokerEnvironment, _connectionId: string): Promise<HeldPosition[]> {
    const creds = parseCredentials(BROKER, alpacaCredentialsSchema, credentials);
    const res = await this.send(creds, environment, { method: 'GET', path: '/v2/positions' });
    return this.expect(res, creds, alpacaPositionListSchema, 'the positions request').map((p) => {
      const size = absDecimal(p.qty);
      const short = p.side ? p.side === 'short' : p.qty.startsWith('-');
      return {
        symbol: p.symbol,
        quantity: short ? negateDecimal(size) : size,
        averagePrice: p.avg_entry_price ?? undefined,
        marketValue: p.market_value ?? undefined,
        unrealizedPnl: p.unrealized_pl ?? undefined,
      };
    });
  }

  async getAccount(credentials: BrokerCredentials, environment: BrokerEnvironment, _connectionId: string): Promise<AccountSummary> {
    const creds = parseCredentials(BROKER, alpacaCredentialsSchema, credentials);
    const res = await this.send(creds, environment, { method: 'GET', path: '/v2/account' });
    const account = this.expect(res, creds, alpacaAccountSchema, 'the account request');
    return { currency: account.currency ?? 'USD', equity: account.equity, cash: account.cash, buyingPower: account.buying_power };
  }

  async getEquity(credentials: BrokerCredentials, environment: BrokerEnvironment, _connectionId: string): Promise<string> {
    const creds = parseCredentials(BROKER, alpacaCredentialsSchema, credentials);
    const res = await this.send(creds, environment, { method: 'GET', path: '/v2/account' });
    return this.expect(res, creds, alpacaAccountSchema, 'the account request').equity;
  }

  /** Alpaca's trading API has no endpoint to revoke a key; users regenerate keys in the dashboard. */
  async revokeKey(_credentials: BrokerCredentials, _environment: BrokerEnvironment): Promise<boolean> {
    return false;
  }

  /** The OCC symbol an order's symbol stands for: itself, or the contract its selection rule picks; undefined when it is no option. */
  private async optionContract(creds: AlpacaCredentials, environment: BrokerEnvironment, symbol: string): Promise<string | undefined> {
    const named = parseOccSymbol(symbol);
    if (named) return formatOccSymbol(named);
    const selection = parseOptionSelection(symbol);
    return selection ? this.resolveContract(creds, environment, selection) : undefined;
  }

  /** A selection rule against Alpaca's contract listing (`GET /v2/options/contracts`, paged by next_page_token). */
  private async resolveContract(creds: AlpacaCredentials, environment: BrokerEnvironment, selection: OptionSelection): Promise<string> {
    const today = marketDate();
    const query = contractsQuery(selection, today);
    const listed: NonNullable<z.infer<typeof optionContractsPageSchema>['option_contracts']> = [];
    for (let page = 0; ; page++) {
      const res = await this.send(creds, environment, { method: 'GET', path: `/v2/options/contracts?${query}` });
      const body = this.expect(res, creds, optionContractsPageSchema, 'the option contracts request');
      listed.push(...(body.option_contracts ?? []));
      if (!body.next_page_token) break;
      if (page + 1 >= MAX_CONTRACT_PAGES) {
        // A partial listing could miss the earliest expiration: refuse rather than pick from part of it.
        throw new BrokerError(
          'rejected',
          BROKER,
          `option_listing_too_long: Alpaca lists more ${selection.underlying} contracts than one selection reads; name the contract by its OCC symbol`,
        );
      }
      query.set('page_token', body.next_page_token);
    }
    const chosen = selectContract(listed, selection);
    if (!chosen) throw new BrokerError('rejected', BROKER, noContractReason(selection, today));
    return chosen.symbol;
  }

  /** Refuses, before sending, an option order the account's options trading level cannot take. */
  private async checkOptionsLevel(
    creds: AlpacaCredentials,
    environment: BrokerEnvironment,
    side: 'buy' | 'sell',
    contract: string,
    quantity: string,
  ): Promise<void> {
    const res = await this.send(creds, environment, { method: 'GET', path: '/v2/account' });
    const account = this.expect(res, creds, alpacaAccountSchema, 'the account request');
    const level = account.options_trading_level ?? account.options_approved_level ?? undefined;
    // Level 1 may buy back a contract it sold; only then is the position read.
    const closesShort = side === 'buy' && level === 1 && -Number(await this.positionOf(creds, environment, contract)) >= Number(quantity);
    const refusal = optionsLevelRefusal(level, side, closesShort);
    if (refusal) throw new BrokerError('rejected', BROKER, refusal);
  }

  /** The order found by client order id; a selection rule's answer names the contract Alpaca holds it in. */
  private async lookup(creds: AlpacaCredentials, environment: BrokerEnvironment, clientOrderId: string, requested: string): Promise<OrderAck | null> {
    const found = await this.lookupRaw(creds, environment, clientOrderId);
    if (!found) return null;
    return withContract(alpacaOrderAck(found), requested, found.symbol ?? undefined);
  }

  private async lookupRaw(creds: AlpacaCredentials, environment: BrokerEnvironment, clientOrderId: string): Promise<AlpacaOrder | null> {
    const query = new URLSearchParams({ client_order_id: clientOrderId });
    const res = await this.send(creds, environment, { method: 'GET', path: `/v2/orders:by_client_order_id?${query}` });
    if (res.status === 404) return null;
    return this.expect(res, creds, alpacaOrderSchema, 'the order lookup');
  }

  private send(creds: AlpacaCredentials, environment: BrokerEnvironment, req: Request): Promise<BrokerHttpResponse> {
    const headers: Record<string, string> = {
      'APCA-API-KEY-ID': creds.apiKey,
      'APCA-API-SECRET-KEY': creds.apiSecret,
      accept: 'application/json',
    };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    return this.http[environment].send({ ...req, headers });
  }

  /** The parsed 2xx body, or the BrokerError the status stands for. */
  private expect<T>(res: BrokerHttpResponse, creds: AlpacaCredentials, schema: z.ZodType<T>, what: string): T {
    if (res.status < 200 || res.status >= 300) throw this.failure(res, creds, what);
    return parseBrokerBody(BROKER, schema, res.json, what);
  }

  private failure(res: BrokerHttpResponse, creds: AlpacaCredentials, what: string): BrokerError {
    if (res.status === 401 || res.status === 403) return keyRefused(res.status);
    return new BrokerError('rejected', BROKER, `Alpaca refused ${what} (HTTP ${res.status}): ${brokerMessage(res, creds)}`, res.status);
  }
}

function keyRefused(status: number): BrokerError {
  return new BrokerError(
    'credentials_invalid',
    BROKER,
    `Alpaca refused the API key (HTTP ${status}): check the key id and secret and the paper/live environment`,
    status,
  );
}

function brokerMessage(res: BrokerHttpResponse, creds: AlpacaCredentials): string {
  const parsed = alpacaErrorSchema.safeParse(res.json);
  return (parsed.success && safeBrokerText(parsed.data.message, creds)) || `HTTP ${res.status}`;
}

/** The ack, naming the contract sent where a selection rule resolved to it (the order's row then carries the contract). */
function withContract(ack: OrderAck, requested: string, contract: string | undefined): OrderAck {
  return contract && contract !== requested && parseOptionSelection(requested) ? { ...ack, symbol: contract } : ack;
}
