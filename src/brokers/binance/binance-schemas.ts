import { z } from 'zod';
import { credentialString, headerCredentialString } from '../broker-values';
import { isDecimal } from '../../common/decimal';

/** A Binance HMAC API key: the key travels in the `X-MBX-APIKEY` header, the secret only signs. */
export const binanceCredentialsSchema = z.object({
  apiKey: headerCredentialString(128),
  apiSecret: credentialString(256),
});
export type BinanceCredentials = z.infer<typeof binanceCredentialsSchema>;

const decimal = z.string().refine(isDecimal);

/** `GET /sapi/v1/account/apiRestrictions`; the fund-moving flags are required so a missing one fails closed. */
export const binanceRestrictionsSchema = z.looseObject({
  ipRestrict: z.boolean(),
  enableWithdrawals: z.boolean(),
  enableInternalTransfer: z.boolean(),
  permitsUniversalTransfer: z.boolean(),
  enableSpotAndMarginTrading: z.boolean(),
});

/** An order as `POST /api/v3/order` (FULL) and `GET /api/v3/order` return it. */
export const binanceOrderSchema = z.object({
  symbol: z.string(),
  orderId: z.number().int(),
  clientOrderId: z.string(),
  status: z.string(),
  executedQty: decimal,
  // Negative for some archived orders, so not a `decimal`.
  cummulativeQuoteQty: z.string(),
  /** Milliseconds since the epoch of the order's last change (order lookups; absent from some submit answers). */
  updateTime: z.number().int().optional(),
});
export type BinanceOrder = z.infer<typeof binanceOrderSchema>;

/** `DELETE /api/v3/openOrders`: cancelled orders, and order lists with their legs in `orderReports`. */
export const binanceCancelledSchema = z.array(z.looseObject({ orderReports: z.array(z.unknown()).optional() }));

/** `GET /api/v3/account`: the balances, and whether the account may trade (what a testnet key check reads). */
export const binanceAccountSchema = z.object({
  canTrade: z.boolean().optional(),
  balances: z.array(z.object({ asset: z.string(), free: decimal, locked: decimal })),
});

/** Binance's error body: `{"code": -2010, "msg": "Account has insufficient balance for requested action."}`. */
export const binanceErrorSchema = z.object({ code: z.number(), msg: z.string().optional() });

/** An `executionReport` of the user data stream (one-letter fields as Binance sends them; only those read here). */
export const binanceExecutionReportSchema = z.object({
  e: z.literal('executionReport'),
  s: z.string(),
  /** The client order id; on a cancel it is the cancel's own id and the order's is in `C`. */
  c: z.string(),
  C: z.string().optional(),
  X: z.string(),
  i: z.number().int(),
  z: decimal,
  Z: z.string(),
  T: z.number().int().optional(),
});
export type BinanceExecutionReport = z.infer<typeof binanceExecutionReportSchema>;
