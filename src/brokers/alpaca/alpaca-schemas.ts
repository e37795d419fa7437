import { z } from 'zod';
import { headerCredentialString } from '../broker-values';
import { isSignedDecimal } from '../../common/decimal';

/** Alpaca trading API keys: a key id (`PK…`/`AK…`) and its secret, both sent as headers. */
export const alpacaCredentialsSchema = z.object({
  apiKey: headerCredentialString(128),
  apiSecret: headerCredentialString(256),
});
export type AlpacaCredentials = z.infer<typeof alpacaCredentialsSchema>;

const decimal = z.string().refine(isSignedDecimal);

/** `GET /v2/account`: only the fields onboarding and sizing read. */
export const alpacaAccountSchema = z.object({
  status: z.string(),
  currency: z.string().optional(),
  equity: decimal,
  cash: decimal.optional(),
  buying_power: decimal.optional(),
  trading_blocked: z.boolean(),
  account_blocked: z.boolean(),
  transfers_blocked: z.boolean().optional(),
  /** The options level Alpaca approved, and the one in force (the owner may lower it); absent where options never were enabled. */
  options_approved_level: z.number().int().nullish(),
  options_trading_level: z.number().int().nullish(),
});

/** An Alpaca order object without its legs (a bracket leg is one). */
const alpacaSimpleOrderSchema = z.object({
  id: z.string().min(1),
  client_order_id: z.string(),
  symbol: z.string().nullish(),
  status: z.string(),
  filled_qty: decimal.nullish(),
  filled_avg_price: decimal.nullish(),
  updated_at: z.string().nullish(),
  side: z.enum(['buy', 'sell']).nullish(),
  type: z.string().nullish(),
  qty: decimal.nullish(),
  limit_price: decimal.nullish(),
  stop_price: decimal.nullish(),
});
export type AlpacaLeg = z.infer<typeof alpacaSimpleOrderSchema>;

/** An Alpaca order object (`POST /v2/orders`, `GET /v2/orders…`, trade_updates); a bracket/oto/oco entry lists its exit orders in `legs`. */
export const alpacaOrderSchema = alpacaSimpleOrderSchema.extend({ legs: z.array(alpacaSimpleOrderSchema).nullish() });
export type AlpacaOrder = z.infer<typeof alpacaOrderSchema>;

export const alpacaOrderListSchema = z.array(alpacaOrderSchema);

/** `GET /v2/positions/{symbol}`: `side` tells long from short whatever the sign of `qty`. */
export const alpacaPositionSchema = z.object({
  qty: decimal,
  side: z.enum(['long', 'short']).optional(),
});

/** `GET /v2/positions`: every open position; Alpaca sends every number as a string. */
export const alpacaPositionListSchema = z.array(
  alpacaPositionSchema.extend({
    symbol: z.string().min(1),
    avg_entry_price: decimal.nullish(),
    market_value: decimal.nullish(),
    unrealized_pl: decimal.nullish(),
  }),
);

/** Alpaca's error body: `{"code": 40310000, "message": "insufficient buying power"}`. */
export const alpacaErrorSchema = z.object({ code: z.number().optional(), message: z.string().optional() });
