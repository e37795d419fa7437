import { z } from 'zod';
import { credentialString, headerCredentialString } from '../broker-values';
import { isSignedDecimal } from '../../common/decimal';

/** v20 account ids (`101-004-1234567-001`) are also path segments, so the pattern keeps paths safe. */
export const oandaCredentialsSchema = z.object({
  accountId: credentialString(40).regex(/^\d{3}-\d{3}-\d{1,12}-\d{3}$/, 'must look like 101-004-1234567-001'),
  token: headerCredentialString(256),
});
export type OandaCredentials = z.infer<typeof oandaCredentialsSchema>;

const decimal = z.string().refine(isSignedDecimal);

/** `GET /v3/accounts/{id}/summary`: only what onboarding and sizing read. */
export const oandaSummarySchema = z.object({
  account: z.object({
    currency: z.string().optional(),
    NAV: decimal,
    balance: decimal.optional(),
    marginAvailable: decimal.optional(),
    hedgingEnabled: z.boolean().optional(),
  }),
});

/** The trade a fill opened (its id is the fill's id); only such a trade gets the on-fill take-profit/stop-loss orders. */
const tradeOpened = z.object({ tradeID: z.string().min(1), units: decimal });

/** 201 of `POST /v3/accounts/{id}/orders`: the order's id is the id of the transaction that created it. */
export const oandaOrderCreatedSchema = z.object({
  orderCreateTransaction: z.object({ id: z.string().min(1) }),
  orderFillTransaction: z
    .object({
      id: z.string().min(1),
      time: z.string(),
      units: decimal,
      price: decimal.optional(),
      fullVWAP: decimal.optional(),
      tradeOpened: tradeOpened.optional(),
    })
    .optional(),
  orderCancelTransaction: z.object({ reason: z.string().optional() }).optional(),
});
export type OandaOrderCreated = z.infer<typeof oandaOrderCreatedSchema>;

/** v20 error bodies; order refusals add the reject transaction with its reason. */
export const oandaErrorSchema = z.object({
  errorCode: z.string().optional(),
  errorMessage: z.string().optional(),
  orderRejectTransaction: z.object({ rejectReason: z.string().optional() }).optional(),
});

/** TakeProfitDetails / StopLossDetails / TrailingStopLossDetails of an entry: the dependent order to create once it fills. */
const onFill = z.object({ price: decimal.optional(), distance: decimal.optional(), clientExtensions: z.object({ id: z.string().optional() }).optional() });

const oandaOrder = z.object({
  id: z.string().min(1),
  state: z.string(),
  type: z.string().optional(),
  units: decimal.optional(),
  price: decimal.optional(),
  /** A trailing stop-loss order's current stop price. */
  trailingStopValue: decimal.optional(),
  takeProfitOnFill: onFill.optional(),
  stopLossOnFill: onFill.optional(),
  trailingStopLossOnFill: onFill.optional(),
  /** Set on orders that protect an open trade (take profit, stop loss). */
  tradeID: z.string().optional(),
  /** The ORDER_FILL transaction of a filled order; the ORDER_CANCEL one of a cancelled order. */
  fillingTransactionID: z.string().optional(),
  cancellingTransactionID: z.string().optional(),
  /** The trade the order's fill opened (absent when it only reduced or closed trades). */
  tradeOpenedID: z.string().optional(),
});
export type OandaOrder = z.infer<typeof oandaOrder>;

export const oandaOrderResponseSchema = z.object({ order: oandaOrder });
export const oandaOrderListSchema = z.object({ orders: z.array(oandaOrder) });

/** `GET /v3/accounts/{id}/positions/{instrument}`: short units are negative. */
export const oandaPositionSchema = z.object({
  position: z.object({ long: z.object({ units: decimal }), short: z.object({ units: decimal }) }),
});

const positionSide = z.object({ units: decimal, averagePrice: decimal.optional() });

/** `GET /v3/accounts/{id}/openPositions`: positions with non-zero units; a side's `averagePrice` is absent while it holds none. */
export const oandaOpenPositionsSchema = z.object({
  positions: z.array(z.object({ instrument: z.string().min(1), unrealizedPL: decimal.optional(), long: positionSide, short: positionSide })),
});

/** `GET /v3/accounts/{id}/transactions/{transactionID}`: the fill or cancel that ended an order. */
export const oandaTransactionSchema = z.object({
  transaction: z.object({
    id: z.string().min(1),
    type: z.string(),
    time: z.string(),
    units: decimal.optional(),
    /** Deprecated by v20 in favour of fullVWAP, still sent. */
    price: decimal.optional(),
    fullVWAP: decimal.optional(),
    commission: decimal.optional(),
    reason: z.string().optional(),
    tradeOpened: tradeOpened.optional(),
  }),
});
export type OandaTransaction = z.infer<typeof oandaTransactionSchema>['transaction'];

/** A line of `GET /v3/accounts/{id}/transactions/stream`: a transaction (ORDER_FILL, ORDER_CANCEL, …) or a HEARTBEAT. */
export const oandaStreamLineSchema = oandaTransactionSchema.shape.transaction.partial({ id: true, time: true }).extend({
  orderID: z.string().optional(),
  /** The client order id of the order filled or cancelled (our clientExtensions.id). */
  clientOrderID: z.string().optional(),
  /** Of a TAKE_PROFIT_ORDER / STOP_LOSS_ORDER / TRAILING_STOP_LOSS_ORDER created ON_FILL: the fill that opened its trade. */
  orderFillTransactionID: z.string().optional(),
  clientExtensions: z.object({ id: z.string().optional() }).optional(),
});
export type OandaStreamLine = z.infer<typeof oandaStreamLineSchema>;
