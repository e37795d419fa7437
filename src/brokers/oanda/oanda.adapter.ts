import type { z } from 'zod';
import type {
  AccountSummary,
  BrokerAdapter,
  BrokerCredentials,
  BrokerEnvironment,
  BrokerLeg,
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
import { addDecimals } from '../../common/decimal';
import { oandaCreatedAck, oandaInstrument, oandaLeg, oandaLegSpecs, oandaOrderAck, oandaOrderBody, oandaOrderState } from './oanda-orders';
import {
  oandaCredentialsSchema,
  oandaErrorSchema,
  oandaOpenPositionsSchema,
  oandaOrderCreatedSchema,
  oandaOrderListSchema,
  oandaOrderResponseSchema,
  oandaPositionSchema,
  oandaSummarySchema,
  oandaTransactionSchema,
  type OandaCredentials,
  type OandaOrder,
  type OandaTransaction,
} from './oanda-schemas';

const BROKER = 'oanda';
const LABEL = 'OANDA';

type Request = Omit<BrokerHttpRequest, 'headers'>;

/** OANDA v20 REST API (forex and CFDs), practice and live: https://developer.oanda.com/rest-live-v20/introduction/ */
export class OandaAdapter implements BrokerAdapter {
  readonly broker = 'oanda' as const;
  readonly credentialsSchema = oandaCredentialsSchema;

  constructor(private readonly http: { paper: BrokerHttp; live: BrokerHttp }) {}

  async inspect(credentials: BrokerCredentials, environment: BrokerEnvironment): Promise<PermissionReport> {
    const creds = parseCredentials(BROKER, oandaCredentialsSchema, credentials);
    const account = await this.summary(creds, environment);
    const details: PermissionReport['details'] = { scopes: 'none (single tier)' };
    if (account.currency) details.currency = account.currency;
    if (account.hedgingEnabled !== undefined) details.hedgingEnabled = account.hedgingEnabled;
    return {
      inspection: 'single_tier',
      canTrade: true,
      canWithdraw: false,
      canTransfer: false,
      note:
        'OANDA v20 tokens have no scopes: the token can do anything the account can do through the API. ' +
        'The v20 REST API offers no withdrawals or transfers; revoke the token in the OANDA portal.',
      details,
      keyHint: keyHint(creds.accountId),
    };
  }

  async placeOrder(credentials: BrokerCredentials, order: OrderRequest): Promise<OrderAck> {
    const creds = parseCredentials(BROKER, oandaCredentialsSchema, credentials);
    assertOrderValues(BROKER, order);
    const spec = oandaOrderBody(order);
    const body = JSON.stringify(spec);
    // v20 refuses a duplicate client id only while the first order is pending, so a filled order
    // would be placed again: look the id up first.
    const existing = await this.lookup(creds, order.environment, order.clientOrderId);
    if (existing) return acceptedOrThrow(BROKER, LABEL, existing, creds);
    const res = await this.send(creds, order.environment, { method: 'POST', path: `${accountPath(creds)}/orders`, body });
    if (res.status === 201) {
      const created = parseBrokerBody(BROKER, oandaOrderCreatedSchema, res.json, 'the order');
      const ack = acceptedOrThrow(BROKER, LABEL, oandaCreatedAck(created, order.clientOrderId), creds);
      // Filled at once: the trade it opened has its take-profit/stop-loss orders now, and no later look at the entry comes.
      const opened = created.orderFillTransaction?.tradeOpened;
      if (opened) ack.legs = await this.legs(creds, order.environment, spec.order, opened.units);
      return ack;
    }
    if (res.status === 401 || res.status === 403) throw this.failure(res, creds, 'the order');
    const error = oandaErrorSchema.safeParse(res.json);
    const reason = error.success ? (error.data.orderRejectTransaction?.rejectReason ?? error.data.errorCode) : undefined;
    if (reason === 'CLIENT_ORDER_ID_ALREADY_EXISTS') {
      // A concurrent attempt placed it between our lookup and our request.
      return replayedOrder(BROKER, LABEL, await this.lookup(creds, order.environment, order.clientOrderId), creds);
    }
    throw new BrokerError('rejected', BROKER, `OANDA rejected the order: ${brokerMessage(res, creds)}`, res.status);
  }

  async findOrder(
    credentials: BrokerCredentials,
    order: Pick<OrderRequest, 'clientOrderId' | 'symbol' | 'environment' | 'connectionId'>,
  ): Promise<OrderAck | null> {
    const creds = parseCredentials(BROKER, oandaCredentialsSchema, credentials);
    return this.lookup(creds, order.environment, order.clientOrderId);
  }

  async getOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<BrokerOrderState | null> {
    const creds = parseCredentials(BROKER, oandaCredentialsSchema, credentials);
    const found = await this.lookupRaw(creds, order.environment, order.clientOrderId);
    if (!found) return null;
    const ended = await this.endedBy(creds, order.environment, found);
    const state = oandaOrderState(found, ended);
    if (ended?.tradeOpened) state.legs = await this.legs(creds, order.environment, found, ended.tradeOpened.units);
    return state;
  }

  /** The ORDER_FILL or ORDER_CANCEL transaction that ended the order; undefined while it works. */
  private async endedBy(creds: OandaCredentials, environment: BrokerEnvironment, found: OandaOrder): Promise<OandaTransaction | undefined> {
    const id = found.state === 'FILLED' ? found.fillingTransactionID : found.state === 'CANCELLED' ? found.cancellingTransactionID : undefined;
    if (id === undefined) return undefined;
    const res = await this.send(creds, environment, { method: 'GET', path: `${accountPath(creds)}/transactions/${encodeURIComponent(id)}` });
    return this.expect(res, creds, oandaTransactionSchema, 'the transaction lookup').transaction;
  }

  /**
   * The take-profit/stop-loss orders v20 created for the trade an entry's fill opened (`openedUnits`), each looked up by
   * the client id its on-fill details gave it, with its state; one v20 did not create (the fill opened no trade) is left out.
   */
  private async legs(
    creds: OandaCredentials,
    environment: BrokerEnvironment,
    entry: Parameters<typeof oandaLegSpecs>[0],
    openedUnits: string,
  ): Promise<BrokerLeg[]> {
    const legs: BrokerLeg[] = [];
    for (const { role, clientOrderId } of oandaLegSpecs(entry)) {
      const found = await this.lookupRaw(creds, environment, clientOrderId);
      if (!found) continue;
      legs.push(oandaLeg(role, clientOrderId, openedUnits, found, oandaOrderState(found, await this.endedBy(creds, environment, found))));
    }
    return legs;
  }

  async getPosition(credentials: BrokerCredentials, symbol: string, environment: BrokerEnvironment, _connectionId: string): Promise<Position> {
    const creds = parseCredentials(BROKER, oandaCredentialsSchema, credentials);
    const instrument = oandaInstrument(symbol);
    const res = await this.send(creds, environment, { method: 'GET', path: `${accountPath(creds)}/positions/${instrument}` });
    if (res.status === 404) return { symbol, quantity: '0' };
    const { position } = this.expect(res, creds, oandaPositionSchema, 'the position request');
    return { symbol, quantity: addDecimals(position.long.units, position.short.units) };
  }

  /** Cancels the pending entry orders of the instrument; take-profit/stop-loss orders guarding open trades stay. */
  async cancelOpenOrders(credentials: BrokerCredentials, symbol: string, environment: BrokerEnvironment, _connectionId: string): Promise<number> {
    const creds = parseCredentials(BROKER, oandaCredentialsSchema, credentials);
    const query = new URLSearchParams({ state: 'PENDING', instrument: oandaInstrument(symbol), count: '500' });
    const res = await this.send(creds, environment, { method: 'GET', path: `${accountPath(creds)}/orders?${query}` });
    const { orders } = this.expect(res, creds, oandaOrderListSchema, 'the pending orders request');
    let cancelled = 0;
    for (const o of orders.filter((p) => p.tradeID === undefined)) {
      const put = await this.send(creds, environment, { method: 'PUT', path: `${accountPath(creds)}/orders/${encodeURIComponent(o.id)}/cancel` });
      // 404: filled or cancelled meanwhile.
      if (put.status === 404) continue;
      if (put.status !== 200) throw this.failure(put, creds, 'the order cancel');
      cancelled++;
    }
    return cancelled;
  }

  /** Netted positions (hedging accounts hold both sides: the net is reported, priced by the larger side). */
  async getPositions(credentials: BrokerCredentials, environment: BrokerEnvironment, _connectionId: string): Promise<HeldPosition[]> {
    const creds = parseCredentials(BROKER, oandaCredentialsSchema, credentials);
    const res = await this.send(creds, environment, { method: 'GET', path: `${accountPath(creds)}/openPositions` });
    const { positions } = this.expect(res, creds, oandaOpenPositionsSchema, 'the open positions request');
    return positions
      .map((p) => {
        const quantity = addDecimals(p.long.units, p.short.units);
        const side = quantity.startsWith('-') ? p.short : p.long;
        return { symbol: p.instrument, quantity, averagePrice: side.averagePrice, unrealizedPnl: p.unrealizedPL };
      })
      .filter((p) => p.quantity !== '0');
  }

  /** NAV is the equity; the balance is the cash; the margin available is what new positions may use. */
  async getAccount(credentials: BrokerCredentials, environment: BrokerEnvironment, _connectionId: string): Promise<AccountSummary> {
    const creds = parseCredentials(BROKER, oandaCredentialsSchema, credentials);
    const account = await this.summary(creds, environment);
    return { currency: account.currency ?? 'USD', equity: account.NAV, cash: account.balance, buyingPower: account.marginAvailable };
  }

  async getEquity(credentials: BrokerCredentials, environment: BrokerEnvironment, _connectionId: string): Promise<string> {
    const creds = parseCredentials(BROKER, oandaCredentialsSchema, credentials);
    return (await this.summary(creds, environment)).NAV;
  }

  /** v20 tokens can only be revoked in the OANDA portal. */
  async revokeKey(_credentials: BrokerCredentials, _environment: BrokerEnvironment): Promise<boolean> {
    return false;
  }

  private async summary(creds: OandaCredentials, environment: BrokerEnvironment): Promise<z.infer<typeof oandaSummarySchema>['account']> {
    const res = await this.send(creds, environment, { method: 'GET', path: `${accountPath(creds)}/summary` });
    // v20 answers 404 as well as 403 for an account the token cannot see.
    if (res.status === 404) throw accountUnreachable(creds, res.status);
    return this.expect(res, creds, oandaSummarySchema, 'the account summary').account;
  }

  /** An order found again (a retry, a lost answer): once filled, with its legs, which no later look at it would record. */
  private async lookup(creds: OandaCredentials, environment: BrokerEnvironment, clientOrderId: string): Promise<OrderAck | null> {
    const found = await this.lookupRaw(creds, environment, clientOrderId);
    if (!found) return null;
    const ack = oandaOrderAck(found, clientOrderId);
    if (found.state === 'FILLED' && found.tradeOpenedID !== undefined && oandaLegSpecs(found).length > 0) {
      const opened = (await this.endedBy(creds, environment, found))?.tradeOpened;
      if (opened) ack.legs = await this.legs(creds, environment, found, opened.units);
    }
    return ack;
  }

  private async lookupRaw(creds: OandaCredentials, environment: BrokerEnvironment, clientOrderId: string): Promise<OandaOrder | null> {
    const path = `${accountPath(creds)}/orders/@${encodeURIComponent(clientOrderId)}`;
    const res = await this.send(creds, environment, { method: 'GET', path });
    if (res.status === 404) return null;
    return this.expect(res, creds, oandaOrderResponseSchema, 'the order lookup').order;
  }

  private send(creds: OandaCredentials, environment: BrokerEnvironment, req: Request): Promise<BrokerHttpResponse> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${creds.token}`,
      accept: 'application/json',
      'accept-datetime-format': 'RFC3339',
    };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    return this.http[environment].send({ ...req, headers });
  }

  /** The parsed 2xx body, or the BrokerError the status stands for. */
  private expect<T>(res: BrokerHttpResponse, creds: OandaCredentials, schema: z.ZodType<T>, what: string): T {
    if (res.status < 200 || res.status >= 300) throw this.failure(res, creds, what);
    return parseBrokerBody(BROKER, schema, res.json, what);
  }

  private failure(res: BrokerHttpResponse, creds: OandaCredentials, what: string): BrokerError {
    if (res.status === 401) {
      return new BrokerError('credentials_invalid', BROKER, 'OANDA refused the token (HTTP 401): check the token and the practice/live environment', 401);
    }
    if (res.status === 403) return accountUnreachable(creds, 403);
    return new BrokerError('rejected', BROKER, `OANDA refused ${what} (HTTP ${res.status}): ${brokerMessage(res, creds)}`, res.status);
  }
}

function accountPath(creds: OandaCredentials): string {
  return `/v3/accounts/${creds.accountId}`;
}

function accountUnreachable(creds: OandaCredentials, status: number): BrokerError {
  return new BrokerError(
    'credentials_invalid',
    BROKER,
    `this OANDA token cannot reach account ${keyHint(creds.accountId)} (HTTP ${status}): check the account id and the practice/live environment`,
    status,
  );
}

function brokerMessage(res: BrokerHttpResponse, creds: OandaCredentials): string {
  const parsed = oandaErrorSchema.safeParse(res.json);
  if (!parsed.success) return `HTTP ${res.status}`;
  const reason = parsed.data.orderRejectTransaction?.rejectReason ?? parsed.data.errorCode;
  const text = [reason, parsed.data.errorMessage].filter((t) => t !== undefined && t !== '').join(': ');
  return safeBrokerText(text, creds) ?? `HTTP ${res.status}`;
}
