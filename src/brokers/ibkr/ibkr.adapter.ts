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
import { acceptedOrThrow, assertOrderValues, keyHint, parseCredentials, replayedOrder, safeBrokerText } from '../broker-values';
import { IbkrContracts } from './ibkr-contracts';
import type { IbkrGateway } from './ibkr-gateway';
import { decimalText, ibkrLegs, ibkrOrderAck, ibkrOrderBody, ibkrOrderState, isWorking, submittedLegs, submittedStatus } from './ibkr-orders';
import { confirmable, MAX_REPLIES, type IbkrQuestion } from './ibkr-replies';
import {
  ibkrCancelSchema,
  ibkrCredentialsSchema,
  ibkrLiveOrdersSchema,
  ibkrOrderAnswerSchema,
  ibkrPositionsSchema,
  ibkrSummarySchema,
  type IbkrCredentials,
  type IbkrLiveOrder,
  type IbkrOrderAnswer,
} from './ibkr-schemas';

const BROKER = 'ibkr';
const LABEL = 'IBKR';

/**
 * Interactive Brokers through the Client Portal Web API: gateway mode (the user's own gateway or IBeam at an https URL)
 * or OAuth mode (IBKR's OAuth 1.0a at api.ibkr.com); both speak the same endpoints once the session is open.
 */
export class IbkrAdapter implements BrokerAdapter {
  readonly broker = 'ibkr' as const;
  readonly credentialsSchema = ibkrCredentialsSchema;
  private readonly contracts: IbkrContracts;

  constructor(
    private readonly gateway: IbkrGateway,
    rollDays: number,
  ) {
    this.contracts = new IbkrContracts(gateway, rollDays);
  }

  /**
   * The session is live and the account is one of the login's; paper accounts (D…) only for paper, live ones only for live.
   * The account id is sealed like the URL: reports and errors show its last 4 characters only.
   */
  async inspect(credentials: BrokerCredentials, environment: BrokerEnvironment): Promise<PermissionReport> {
    const creds = parseCredentials(BROKER, ibkrCredentialsSchema, credentials);
    // Without a connection id the keep-alive runs every time: the account check included.
    await this.gateway.assertSession(creds);
    const paperAccount = creds.accountId.startsWith('D');
    if (paperAccount !== (environment === 'paper')) {
      const kind = paperAccount ? 'a paper account' : 'a live account';
      throw new BrokerError(
        'credentials_invalid',
        BROKER,
        `the account ${keyHint(creds.accountId)} is ${kind}; the connection's environment is ${environment}`,
      );
    }
    const checked =
      creds.mode === 'oauth'
        ? 'Switchyard opened an OAuth live session token (its signature verified) and a brokerage session, and checked that the account belongs to the consumer'
        : 'Switchyard checked that the gateway session is logged in and that the account belongs to it';
    return {
      inspection: 'single_tier',
      canTrade: true,
      canWithdraw: false,
      canTransfer: false,
      note:
        "IBKR's Web API has a single permission tier for this purpose: it places and cancels orders and cannot withdraw or transfer funds. " +
        `${checked}; what the login may trade is set at IBKR.`,
      details: { mode: creds.mode, accountKind: paperAccount ? 'paper' : 'live', withdrawals: 'not possible through the Web API' },
      keyHint: keyHint(creds.accountId),
    };
  }

  async placeOrder(credentials: BrokerCredentials, order: OrderRequest): Promise<OrderAck> {
    const creds = parseCredentials(BROKER, ibkrCredentialsSchema, credentials);
    assertOrderValues(BROKER, order);
    await this.gateway.assertSession(creds, order.connectionId);
    const conid = await this.contracts.conid(creds, order.connectionId, order.symbol);
    const body = ibkrOrderBody(order, conid);
    // A retry after a lost answer finds the order by its cOID instead of placing it twice.
    const existing = await this.lookup(creds, order.clientOrderId);
    if (existing) return acceptedOrThrow(BROKER, LABEL, ibkrOrderAck(existing, order.clientOrderId), creds);
    const path = `/iserver/account/${encodeURIComponent(creds.accountId)}/orders`;
    let answer: IbkrOrderAnswer;
    try {
      answer = this.orderAnswer(creds, await this.gateway.send(creds, { method: 'POST', path, body }));
    } catch (err) {
      // The gateway's first order list of a session can come back empty: a cOID it refuses as taken is our earlier order.
      if (!(err instanceof BrokerError && err.kind === 'rejected' && /already registered/i.test(err.message))) throw err;
      const found = await this.lookup(creds, order.clientOrderId);
      return replayedOrder(BROKER, LABEL, found && ibkrOrderAck(found, order.clientOrderId), creds);
    }
    answer = await this.settleQuestions(creds, answer);
    const placed = answer.filter((a) => a.order_id !== undefined);
    if (!placed[0]?.order_id) throw new BrokerError('ambiguous', BROKER, 'IBKR answered the order without an order id');
    const ack: OrderAck = { brokerOrderId: placed[0].order_id, clientOrderId: order.clientOrderId, status: submittedStatus(placed[0].order_status) };
    if (ack.status !== 'accepted') ack.reason = `order ${placed[0].order_status?.toLowerCase()} at IBKR`;
    const legs = submittedLegs(order, placed);
    if (legs) ack.legs = legs;
    // The answer says Filled without quantity or price: the order list has both.
    const filled = ack.status === 'filled' ? await this.lookup(creds, order.clientOrderId) : null;
    if (filled) {
      const { filledQuantity, averagePrice } = ibkrOrderAck(filled, order.clientOrderId);
      Object.assign(ack, { filledQuantity, ...(averagePrice !== undefined ? { averagePrice } : {}) });
    }
    return acceptedOrThrow(BROKER, LABEL, ack, creds);
  }

  async findOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<OrderAck | null> {
    const creds = parseCredentials(BROKER, ibkrCredentialsSchema, credentials);
    await this.gateway.keepAlive(creds, order.connectionId);
    const found = await this.lookup(creds, order.clientOrderId);
    return found ? ibkrOrderAck(found, order.clientOrderId) : null;
  }

  /** The order by cOID and, for a bracket entry, its children as the gateway lists them. */
  async getOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<BrokerOrderState | null> {
    const creds = parseCredentials(BROKER, ibkrCredentialsSchema, credentials);
    await this.gateway.keepAlive(creds, order.connectionId);
    const orders = await this.liveOrders(creds);
    const found = orders.find((o) => o.order_ref === order.clientOrderId);
    if (!found) return null;
    const state = ibkrOrderState(found);
    const legs = ibkrLegs(order.clientOrderId, orders);
    if (legs) state.legs = legs;
    return state;
  }

  async getPosition(credentials: BrokerCredentials, symbol: string, _environment: BrokerEnvironment, connectionId: string): Promise<Position> {
    const creds = parseCredentials(BROKER, ibkrCredentialsSchema, credentials);
    const conid = String(await this.contracts.conid(creds, connectionId, symbol));
    const net = (await this.positions(creds)).filter((p) => p.conid === conid).reduce((sum, p) => sum + p.position, 0);
    return { symbol, quantity: decimalText(net) };
  }

  /** Cancels the account's working orders in the symbol's contract, bracket children included. */
  async cancelOpenOrders(credentials: BrokerCredentials, symbol: string, _environment: BrokerEnvironment, connectionId: string): Promise<number> {
    const creds = parseCredentials(BROKER, ibkrCredentialsSchema, credentials);
    await this.gateway.assertSession(creds, connectionId);
    const conid = String(await this.contracts.conid(creds, connectionId, symbol));
    let cancelled = 0;
    for (const o of (await this.liveOrders(creds)).filter((x) => x.conid === conid && isWorking(x))) {
      const path = `/iserver/account/${encodeURIComponent(creds.accountId)}/order/${encodeURIComponent(o.orderId)}`;
      const answer = await this.gateway.send(creds, { method: 'DELETE', path });
      const result = ibkrCancelSchema.safeParse(answer.json);
      // An error here is an order that filled or was cancelled meanwhile.
      if (answer.status < 300 && result.success && result.data.error === undefined) cancelled++;
    }
    return cancelled;
  }

  async getPositions(credentials: BrokerCredentials, _environment: BrokerEnvironment, _connectionId: string): Promise<HeldPosition[]> {
    const creds = parseCredentials(BROKER, ibkrCredentialsSchema, credentials);
    return (await this.positions(creds))
      .filter((p) => p.position !== 0)
      .map((p) => ({
        symbol: p.ticker ?? p.contractDesc ?? `conid ${p.conid}`,
        quantity: decimalText(p.position),
        ...(p.avgPrice !== undefined ? { averagePrice: decimalText(p.avgPrice) } : {}),
        ...(p.mktValue !== undefined ? { marketValue: decimalText(p.mktValue) } : {}),
        ...(p.unrealizedPnl !== undefined ? { unrealizedPnl: decimalText(p.unrealizedPnl) } : {}),
      }));
  }

  /** Net liquidation value is the equity. */
  async getAccount(credentials: BrokerCredentials, _environment: BrokerEnvironment, _connectionId: string): Promise<AccountSummary> {
    const creds = parseCredentials(BROKER, ibkrCredentialsSchema, credentials);
    const summary = await this.gateway.get(creds, `/portfolio/${encodeURIComponent(creds.accountId)}/summary`, ibkrSummarySchema, 'the account summary');
    const equity = summary.netliquidation?.amount;
    if (equity === undefined || equity === null) throw new BrokerError('transient', BROKER, 'IBKR gave no net liquidation value for the account');
    const account: AccountSummary = { currency: summary.netliquidation?.currency ?? 'USD', equity: decimalText(equity) };
    if (typeof summary.totalcashvalue?.amount === 'number') account.cash = decimalText(summary.totalcashvalue.amount);
    if (typeof summary.buyingpower?.amount === 'number') account.buyingPower = decimalText(summary.buyingpower.amount);
    return account;
  }

  async getEquity(credentials: BrokerCredentials, environment: BrokerEnvironment, connectionId: string): Promise<string> {
    return (await this.getAccount(credentials, environment, connectionId)).equity;
  }

  /** Gateway mode holds no key; an OAuth access token is revoked in IBKR's self-service portal, which has no API for it. */
  async revokeKey(_credentials: BrokerCredentials, _environment: BrokerEnvironment): Promise<boolean> {
    return false;
  }

  /** Answers the questions the policy confirms (`POST /iserver/reply/{id}`); any other refuses the order with its text. */
  private async settleQuestions(creds: IbkrCredentials, first: IbkrOrderAnswer): Promise<IbkrOrderAnswer> {
    let answer = first;
    for (let replies = 0; ; replies++) {
      const question = questionOf(answer);
      if (!question) return answer;
      if (!confirmable(question) || replies >= MAX_REPLIES) {
        const text = safeBrokerText(question.messages.join(' / '), creds) ?? 'a confirmation question';
        throw new BrokerError('rejected', BROKER, `IBKR asked to confirm the order and Switchyard's policy does not confirm it: ${text}`);
      }
      const reply = { method: 'POST' as const, path: `/iserver/reply/${encodeURIComponent(question.id)}`, body: { confirmed: true } };
      answer = this.orderAnswer(creds, await this.gateway.send(creds, reply));
    }
  }

  private orderAnswer(creds: IbkrCredentials, answer: { status: number; json: unknown }): IbkrOrderAnswer {
    return this.gateway.expect(answer, creds, ibkrOrderAnswerSchema, 'the order');
  }

  private positions(creds: IbkrCredentials) {
    return this.gateway.get(creds, `/portfolio/${encodeURIComponent(creds.accountId)}/positions/0`, ibkrPositionsSchema, 'the positions');
  }

  private async liveOrders(creds: IbkrCredentials): Promise<IbkrLiveOrder[]> {
    const { orders } = await this.gateway.get(creds, '/iserver/account/orders', ibkrLiveOrdersSchema, 'the order list');
    return orders.filter((o) => o.acct === undefined || o.acct === creds.accountId);
  }

  /** Our order by its cOID, which the gateway lists as `order_ref`. */
  private async lookup(creds: IbkrCredentials, clientOrderId: string): Promise<IbkrLiveOrder | null> {
    return (await this.liveOrders(creds)).find((o) => o.order_ref === clientOrderId) ?? null;
  }
}

function questionOf(answer: IbkrOrderAnswer): IbkrQuestion | undefined {
  const q = answer.find((a) => a.id !== undefined && a.message !== undefined);
  return q ? { id: q.id!, messages: q.message!, messageIds: q.messageIds ?? [] } : undefined;
}
