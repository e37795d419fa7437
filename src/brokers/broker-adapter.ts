import type { z } from 'zod';

export const BROKER_NAMES = ['paper', 'alpaca', 'binance', 'coinbase', 'oanda', 'tradovate', 'ibkr'] as const;
export type BrokerName = (typeof BROKER_NAMES)[number];
export type BrokerEnvironment = 'paper' | 'live';

/** Decrypted credentials: a flat map of strings, alive only for one adapter call. */
export type BrokerCredentials = Record<string, string>;

/** What onboarding learned about a key's reach. Stored on the connection, shown by the API. */
export interface PermissionReport {
  /** `inspected`: the broker told us the key's permissions; `single_tier`: the broker has one tier (e.g. OANDA);
   *  `not_exposed`: the broker exposes no inspection; `trading_only`: the broker's trading keys cannot move funds. */
  inspection: 'inspected' | 'single_tier' | 'not_exposed' | 'trading_only';
  canTrade: boolean;
  canWithdraw: boolean;
  canTransfer: boolean;
  /** Short user-facing explanation, no secrets. */
  note: string;
  /** Raw flags as the broker named them (booleans and strings only, never secrets). */
  details: Record<string, boolean | string | string[]>;
  /** What the user needs to recognise the key, e.g. `…7QX2` (last 4 of the key id, never of a secret). */
  keyHint: string;
}

export type OrderSide = 'buy' | 'sell';
export type OrderType = 'market' | 'limit' | 'stop' | 'stop_limit';

export interface OrderRequest {
  /** Deterministic, stable across retries, valid for every broker (`^[A-Za-z0-9_-]{1,32}$`). */
  clientOrderId: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  /** Decimal string, already sized and risk-checked. */
  quantity: string;
  limitPrice?: string;
  stopPrice?: string;
  timeInForce?: 'gtc' | 'day' | 'ioc' | 'fok';
  /** Bracket legs attached to an entry, as absolute prices: the take-profit limit, the stop-loss stop. */
  takeProfit?: string;
  stopLoss?: string;
  /** The stop-loss is a stop-limit with this limit price. */
  stopLossLimit?: string;
  /** The stop-loss is a trailing stop, trailing by this percent or this price amount (one of them; no stopLoss then). */
  trailPercent?: string;
  trailAmount?: string;
  environment: BrokerEnvironment;
  /** Signal price, used by the paper simulator for market fills. */
  referencePrice?: string;
  /** Needed by brokers whose endpoints name the account (OANDA), or the paper simulator. */
  connectionId: string;
}

/** An order's state at its broker: `accepted` and `partially_filled` are still working; the rest are final. */
export type BrokerOrderStatus = 'accepted' | 'partially_filled' | 'filled' | 'canceled' | 'expired' | 'rejected';

export interface OrderAck {
  brokerOrderId: string;
  clientOrderId: string;
  status: BrokerOrderStatus;
  filledQuantity?: string;
  averagePrice?: string;
  /** Broker's reason on rejection, safe to show. */
  reason?: string;
  /** The bracket's take-profit and stop-loss orders the broker created for this entry, where it answered with them. */
  legs?: BrokerLeg[];
  /** The instrument sent, where it differs from the requested symbol (an option selection rule resolved to its OCC contract). */
  symbol?: string;
}

export type BracketRole = 'take_profit' | 'stop_loss';

/** A bracket leg: an order of its own at the broker, which it created for an entry and follows like any order. */
export interface BrokerLeg {
  role: BracketRole;
  /** The leg's client order id at the broker (the broker's own, or the one it derived from the entry's): polls ask for it. */
  clientOrderId: string;
  side: OrderSide;
  type: OrderType;
  quantity: string;
  limitPrice?: string;
  stopPrice?: string;
  state: BrokerOrderState;
}

/** One execution of an order. `brokerFillId` is stable: the same fill seen again has the same id. */
export interface BrokerFill {
  brokerFillId: string;
  quantity: string;
  price: string;
  fee?: string;
  /** ISO 8601. */
  time: string;
}

/** What the broker says of an order now (getOrder): cumulative fill and, where the broker lists them, the fills. */
export interface BrokerOrderState {
  brokerOrderId: string;
  status: BrokerOrderStatus;
  /** Cumulative filled quantity ("0" when none). */
  filledQuantity: string;
  /** Average price of what filled; absent while nothing did. */
  averagePrice?: string;
  /** The broker's own fills, when its order lookup lists them; otherwise the poller derives fills from the cumulative change. */
  fills?: BrokerFill[];
  /** When the broker last changed the order (ISO 8601), if it says. */
  updatedAt?: string;
  reason?: string;
  /** The entry's bracket legs as the broker shows them now, where its answer lists them. */
  legs?: BrokerLeg[];
}

export type OrderLookup = Pick<OrderRequest, 'clientOrderId' | 'symbol' | 'environment' | 'connectionId'> & {
  /** The broker's id, when its first answer gave one: brokers that cannot look orders up by our id use it. */
  brokerOrderId?: string;
};

export interface Position {
  symbol: string;
  /** Signed decimal string: positive long, negative short. */
  quantity: string;
}

/** One open position as every broker's answer is normalised (getPositions). Decimal strings in the account currency. */
export interface HeldPosition {
  symbol: string;
  /** Signed: positive long, negative short. */
  quantity: string;
  averagePrice?: string;
  marketValue?: string;
  unrealizedPnl?: string;
}

/** The account's money as every broker's answer is normalised (getAccount). */
export interface AccountSummary {
  currency: string;
  equity: string;
  cash?: string;
  buyingPower?: string;
}

/**
 * One adapter per broker. Every method receives the credentials for exactly one call;
 * an adapter never keeps them. Errors are `BrokerError`s (see broker-error.ts).
 */
export interface BrokerAdapter {
  readonly broker: BrokerName;
  /** Shape of the credentials this broker takes (validated before anything else). */
  readonly credentialsSchema: z.ZodType<BrokerCredentials>;
  /** Validates the key with the broker and reports what it may do. Never stores anything. */
  inspect(credentials: BrokerCredentials, environment: BrokerEnvironment): Promise<PermissionReport>;
  placeOrder(credentials: BrokerCredentials, order: OrderRequest): Promise<OrderAck>;
  /** Looks an order up by our client order id; null when the broker never saw it. */
  findOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<OrderAck | null>;
  /**
   * The order's lifecycle state by our client order id (the poller follows accepted orders with it); null when
   * the broker never saw it. Adapters without it leave their orders at the submit answer.
   */
  getOrder?(credentials: BrokerCredentials, order: OrderLookup): Promise<BrokerOrderState | null>;
  getPosition(credentials: BrokerCredentials, symbol: string, environment: BrokerEnvironment, connectionId: string): Promise<Position>;
  cancelOpenOrders(credentials: BrokerCredentials, symbol: string, environment: BrokerEnvironment, connectionId: string): Promise<number>;
  /** Every open position of the account (zero positions left out). */
  getPositions(credentials: BrokerCredentials, environment: BrokerEnvironment, connectionId: string): Promise<HeldPosition[]>;
  getAccount(credentials: BrokerCredentials, environment: BrokerEnvironment, connectionId: string): Promise<AccountSummary>;
  /** Account equity in the account currency; used by `percent_equity` sizing. */
  getEquity(credentials: BrokerCredentials, environment: BrokerEnvironment, connectionId: string): Promise<string>;
  /** Revokes the key at the broker where the API allows it; false when it does not. */
  revokeKey(credentials: BrokerCredentials, environment: BrokerEnvironment): Promise<boolean>;
}

export const BROKER_ADAPTERS = Symbol('BROKER_ADAPTERS');
