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
import { acceptedOrThrow, assertOrderValues, keyHint, parseBrokerBody, parseCredentials, safeBrokerText } from '../broker-values';
import { TradovateContracts, type TradovateGet } from './tradovate-contracts';
import { decimalText, isWorking, tradovateLegs, tradovateOrderRequest, tradovateOrderState } from './tradovate-orders';
import {
  tradovateAccountsSchema,
  tradovateCashSnapshotSchema,
  tradovateCommandResultSchema,
  tradovateCommandsSchema,
  tradovateCredentialsSchema,
  tradovateErrorSchema,
  tradovateExecutionReportsSchema,
  tradovateFillsSchema,
  tradovateOrderSchema,
  tradovateOrdersSchema,
  tradovatePlaceResultSchema,
  tradovatePositionsSchema,
  type TradovateAccount,
  type TradovateCredentials,
  type TradovateOrder,
} from './tradovate-schemas';
import { TradovateSessions } from './tradovate-session';

const BROKER = 'tradovate';
const LABEL = 'Tradovate';

interface Call {
  method: 'GET' | 'POST';
  /** Relative to the environment's base URL (…/v1/). */
  path: string;
  body?: Record<string, unknown>;
}

/** Tradovate REST API (futures), demo and live: https://api.tradovate.com/ */
export class TradovateAdapter implements BrokerAdapter {
  readonly broker = 'tradovate' as const;
  readonly credentialsSchema = tradovateCredentialsSchema;
  private readonly sessions: TradovateSessions;
  private readonly contracts: TradovateContracts;

  constructor(
    private readonly http: Record<BrokerEnvironment, BrokerHttp>,
    rollDays: number,
  ) {
    this.sessions = new TradovateSessions(http);
    this.contracts = new TradovateContracts(rollDays);
  }

  async inspect(credentials: BrokerCredentials, environment: BrokerEnvironment): Promise<PermissionReport> {
    const creds = parseCredentials(BROKER, tradovateCredentialsSchema, credentials);
    // Onboarding runs in the api process: it keeps no token once the check is done.
    const account = await this.account(creds, environment).finally(() => this.sessions.forget(creds, environment));
    return {
      inspection: 'single_tier',
      canTrade: true,
      canWithdraw: false,
      canTransfer: false,
      note:
        "Tradovate's API offers no withdrawals or transfers, and it does not show an API key's permission settings: Switchyard " +
        'checked that the login works and found the trading account. Give the key order and position access only; revoke it at Tradovate.',
      details: { account: account.name, ...(account.accountType ? { accountType: account.accountType } : {}), permissions: 'not exposed by the API' },
      keyHint: keyHint(account.name),
    };
  }

  async placeOrder(credentials: BrokerCredentials, order: OrderRequest): Promise<OrderAck> {
    const creds = parseCredentials(BROKER, tradovateCredentialsSchema, credentials);
    assertOrderValues(BROKER, order);
    const account = await this.account(creds, order.environment);
    const contract = await this.contracts.resolve(this.getter(creds, order.environment), order.environment, order.symbol);
    const request = tradovateOrderRequest(order, account, contract.name);
    // Tradovate does not refuse a repeated clOrdId: a retry after a lost answer looks the order up first.
    const existing = await this.lookupAck(creds, order.environment, order.clientOrderId);
    if (existing) return acceptedOrThrow(BROKER, LABEL, existing, creds);
    const res = await this.call(creds, order.environment, { method: 'POST', path: request.path, body: request.body });
    const result = this.expect(res, creds, tradovatePlaceResultSchema, 'the order');
    if (result.orderId === undefined) {
      const reason = safeBrokerText([result.failureReason, result.failureText].filter(Boolean).join(': '), creds) ?? 'no reason given';
      throw new BrokerError('rejected', BROKER, `Tradovate rejected the order: ${reason}`);
    }
    const ack: OrderAck = { brokerOrderId: String(result.orderId), clientOrderId: order.clientOrderId, status: 'accepted' };
    const legs = tradovateLegs(order, request.roles, [result.oso1Id, result.oso2Id]);
    if (legs.length > 0) ack.legs = legs;
    return ack;
  }

  async findOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<OrderAck | null> {
    const creds = parseCredentials(BROKER, tradovateCredentialsSchema, credentials);
    return this.lookupAck(creds, order.environment, order.clientOrderId);
  }

  /**
   * The order by its id from the first answer (a bracket leg has no other handle), else by our client order id; its
   * fills (`/fill/deps`) and, when rejected, the execution report's reason.
   */
  async getOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<BrokerOrderState | null> {
    const creds = parseCredentials(BROKER, tradovateCredentialsSchema, credentials);
    const found =
      order.brokerOrderId !== undefined && /^\d+$/.test(order.brokerOrderId)
        ? await this.getter(creds, order.environment)(`order/item?id=${order.brokerOrderId}`, tradovateOrderSchema, 'the order lookup')
        : await this.lookup(creds, order.environment, order.clientOrderId);
    return found ? this.orderState(creds, order.environment, found) : null;
  }

  /** An order found again by our id, with what filled of it: a replayed order may have filled meanwhile. */
  private async lookupAck(creds: TradovateCredentials, environment: BrokerEnvironment, clientOrderId: string): Promise<OrderAck | null> {
    const found = await this.lookup(creds, environment, clientOrderId);
    if (!found) return null;
    const state = await this.orderState(creds, environment, found);
    const ack: OrderAck = { brokerOrderId: state.brokerOrderId, clientOrderId, status: state.status };
    if (state.filledQuantity !== '0') ack.filledQuantity = state.filledQuantity;
    if (state.averagePrice !== undefined) ack.averagePrice = state.averagePrice;
    if (state.reason !== undefined) ack.reason = state.reason;
    return ack;
  }

  private async orderState(creds: TradovateCredentials, environment: BrokerEnvironment, found: TradovateOrder): Promise<BrokerOrderState> {
    const get = this.getter(creds, environment);
    const fills = (await get(`fill/deps?masterid=${found.id}`, tradovateFillsSchema, 'the fills')) ?? [];
    let reason: string | undefined;
    if (found.ordStatus === 'Rejected') {
      const reports = (await get(`executionReport/deps?masterid=${found.id}`, tradovateExecutionReportsSchema, 'the execution reports')) ?? [];
      const report = reports.find((r) => r.rejectReason !== undefined || r.text !== undefined);
      reason = safeBrokerText([report?.rejectReason, report?.text].filter(Boolean).join(': '), creds);
    }
    return tradovateOrderState(found, fills, reason);
  }

  async getPosition(credentials: BrokerCredentials, symbol: string, environment: BrokerEnvironment, _connectionId: string): Promise<Position> {
    const creds = parseCredentials(BROKER, tradovateCredentialsSchema, credentials);
    const account = await this.account(creds, environment);
    const contract = await this.contracts.resolve(this.getter(creds, environment), environment, symbol);
    const positions = await this.positions(creds, environment, account);
    const net = positions.filter((p) => p.contractId === contract.id).reduce((sum, p) => sum + p.netPos, 0);
    return { symbol, quantity: String(net) };
  }

  /** Cancels the account's working orders in the symbol's contract, bracket legs included (they would open positions once flat). */
  async cancelOpenOrders(credentials: BrokerCredentials, symbol: string, environment: BrokerEnvironment, _connectionId: string): Promise<number> {
    const creds = parseCredentials(BROKER, tradovateCredentialsSchema, credentials);
    const account = await this.account(creds, environment);
    const contract = await this.contracts.resolve(this.getter(creds, environment), environment, symbol);
    const orders = (await this.getter(creds, environment)('order/list', tradovateOrdersSchema, 'the order list')) ?? [];
    let cancelled = 0;
    for (const o of orders.filter((x) => x.accountId === account.id && x.contractId === contract.id && isWorking(x))) {
      const res = await this.call(creds, environment, { method: 'POST', path: 'order/cancelorder', body: { orderId: o.id, isAutomated: true } });
      const result = this.expect(res, creds, tradovateCommandResultSchema, 'the order cancel');
      // A failure here is an order that filled or was cancelled meanwhile.
      if (result.commandId !== undefined && result.failureReason === undefined) cancelled++;
    }
    return cancelled;
  }

  async getPositions(credentials: BrokerCredentials, environment: BrokerEnvironment, _connectionId: string): Promise<HeldPosition[]> {
    const creds = parseCredentials(BROKER, tradovateCredentialsSchema, credentials);
    const account = await this.account(creds, environment);
    const open = (await this.positions(creds, environment, account)).filter((p) => p.netPos !== 0);
    const names = await this.contracts.names(this.getter(creds, environment), [...new Set(open.map((p) => p.contractId))]);
    return open.map((p) => ({
      symbol: names.get(p.contractId) ?? `contract ${p.contractId}`,
      quantity: String(p.netPos),
      ...(p.netPrice !== undefined ? { averagePrice: decimalText(p.netPrice) } : {}),
    }));
  }

  /** Net liquidation value is the equity; the cash balance is the cash. */
  async getAccount(credentials: BrokerCredentials, environment: BrokerEnvironment, _connectionId: string): Promise<AccountSummary> {
    const creds = parseCredentials(BROKER, tradovateCredentialsSchema, credentials);
    const snapshot = await this.cash(creds, environment);
    return { currency: 'USD', equity: snapshot.equity, ...(snapshot.cash !== undefined ? { cash: snapshot.cash } : {}) };
  }

  async getEquity(credentials: BrokerCredentials, environment: BrokerEnvironment, _connectionId: string): Promise<string> {
    const creds = parseCredentials(BROKER, tradovateCredentialsSchema, credentials);
    return (await this.cash(creds, environment)).equity;
  }

  /** API keys are revoked in Tradovate's settings only. */
  async revokeKey(_credentials: BrokerCredentials, _environment: BrokerEnvironment): Promise<boolean> {
    return false;
  }

  /** The first active, unarchived account of the login (`/account/list`). */
  private async account(creds: TradovateCredentials, environment: BrokerEnvironment): Promise<TradovateAccount> {
    const accounts = (await this.getter(creds, environment)('account/list', tradovateAccountsSchema, 'the account list')) ?? [];
    const account = accounts.find((a) => a.active !== false && a.archived !== true);
    if (!account)
      throw new BrokerError('credentials_invalid', BROKER, `this Tradovate login has no active ${environment === 'live' ? 'live' : 'demo'} account`);
    return account;
  }

  private async positions(creds: TradovateCredentials, environment: BrokerEnvironment, account: TradovateAccount) {
    const all = (await this.getter(creds, environment)('position/list', tradovatePositionsSchema, 'the position list')) ?? [];
    return all.filter((p) => p.accountId === account.id);
  }

  private async cash(creds: TradovateCredentials, environment: BrokerEnvironment): Promise<{ equity: string; cash?: string }> {
    const account = await this.account(creds, environment);
    const res = await this.call(creds, environment, { method: 'POST', path: 'cashBalance/getcashbalancesnapshot', body: { accountId: account.id } });
    const snapshot = this.expect(res, creds, tradovateCashSnapshotSchema, 'the cash balance');
    const equity = snapshot.netLiq ?? snapshot.totalCashValue;
    if (snapshot.errorCode !== undefined || equity === undefined) {
      throw new BrokerError(
        'transient',
        BROKER,
        `Tradovate gave no cash balance for the account${snapshot.errorCode ? ` (${safeBrokerText(snapshot.errorCode, creds)})` : ''}`,
      );
    }
    return { equity: decimalText(equity), ...(snapshot.totalCashValue !== undefined ? { cash: decimalText(snapshot.totalCashValue) } : {}) };
  }

  /** Our order by its clOrdId: the New command that carries it (`/command/list`) names the order (`/order/item`). */
  private async lookup(creds: TradovateCredentials, environment: BrokerEnvironment, clientOrderId: string): Promise<TradovateOrder | null> {
    const get = this.getter(creds, environment);
    const commands = (await get('command/list', tradovateCommandsSchema, 'the command list')) ?? [];
    const command = commands.find((c) => c.clOrdId === clientOrderId && c.commandType === 'New');
    if (!command) return null;
    return get(`order/item?id=${command.orderId}`, tradovateOrderSchema, 'the order lookup');
  }

  private getter(creds: TradovateCredentials, environment: BrokerEnvironment): TradovateGet {
    return async (path, schema, what) => {
      const res = await this.call(creds, environment, { method: 'GET', path });
      // Tradovate answers an unknown entity with 404 or an empty 200.
      if (res.status === 404 || (res.status === 200 && res.json === null)) return null;
      return this.expect(res, creds, schema, what);
    };
  }

  /** One authenticated request; a 401 means the held token died early: log in again and send once more (nothing was done). */
  private async call(creds: TradovateCredentials, environment: BrokerEnvironment, call: Call): Promise<BrokerHttpResponse> {
    for (let attempt = 1; ; attempt++) {
      const token = await this.sessions.token(creds, environment);
      const headers: Record<string, string> = { authorization: `Bearer ${token.accessToken}`, accept: 'application/json' };
      if (call.body !== undefined) headers['content-type'] = 'application/json';
      const res = await this.http[environment].send({ method: call.method, path: call.path, headers, body: call.body && JSON.stringify(call.body) });
      if (res.status !== 401 || attempt > 1) return res;
      this.sessions.forget(creds, environment, token);
    }
  }

  private expect<T>(res: BrokerHttpResponse, creds: TradovateCredentials, schema: z.ZodType<T>, what: string): T {
    if (res.status >= 200 && res.status < 300) return parseBrokerBody(BROKER, schema, res.json, what);
    const error = tradovateErrorSchema.safeParse(res.json);
    const text = (error.success ? safeBrokerText(error.data.errorText, creds) : undefined) ?? `HTTP ${res.status}`;
    if (res.status === 401 || res.status === 403) {
      throw new BrokerError('credentials_invalid', BROKER, `Tradovate refused the token for ${what} (${text}): check the API key's permissions`, res.status);
    }
    throw new BrokerError('rejected', BROKER, `Tradovate refused ${what} (HTTP ${res.status}): ${text}`, res.status);
  }
}
