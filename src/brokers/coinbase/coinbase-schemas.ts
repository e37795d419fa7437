import { z } from 'zod';
import { credentialString, headerCredentialString } from '../broker-values';
import { isDecimal } from '../../common/decimal';

/** A CDP API key: its name (`organizations/{org}/apiKeys/{id}`) and its EC private key (PEM). */
export const coinbaseCredentialsSchema = z.object({
  apiKeyName: headerCredentialString(256),
  privateKey: credentialString(4096),
});
export type CoinbaseCredentials = z.infer<typeof coinbaseCredentialsSchema>;

const decimal = z.string().refine(isDecimal);

/** `GET /api/v3/brokerage/key_permissions`. `can_transfer` is required: a missing flag fails closed. */
export const coinbasePermissionsSchema = z.object({
  can_view: z.boolean(),
  can_trade: z.boolean(),
  can_transfer: z.boolean(),
  portfolio_type: z.string().optional(),
});

/** `POST /api/v3/brokerage/orders`: HTTP 200 either way; `success` tells. */
export const coinbaseCreateOrderSchema = z.object({
  success: z.boolean(),
  success_response: z.object({ order_id: z.string().min(1) }).optional(),
  error_response: z
    .object({
      error: z.string().optional(),
      message: z.string().optional(),
      preview_failure_reason: z.string().optional(),
      new_order_failure_reason: z.string().optional(),
    })
    .optional(),
});

/** An order as List Orders returns it: only what an OrderAck needs. */
export const coinbaseOrderSchema = z.object({
  order_id: z.string().min(1),
  client_order_id: z.string(),
  status: z.string(),
  filled_size: z.string().optional(),
  average_filled_price: z.string().optional(),
  reject_message: z.string().optional(),
  cancel_message: z.string().optional(),
  /** RFC 3339 time of the order's latest fill. */
  last_fill_time: z.string().nullish(),
});
export type CoinbaseOrder = z.infer<typeof coinbaseOrderSchema>;

/** `GET /api/v3/brokerage/orders/historical/{order_id}` (Get Order). */
export const coinbaseGetOrderSchema = z.object({ order: coinbaseOrderSchema });

/** Cursor pagination shared by List Orders and List Accounts. */
const page = { has_next: z.boolean().optional(), cursor: z.string().optional() };

export const coinbaseOrderPageSchema = z.object({ orders: z.array(coinbaseOrderSchema), ...page });

const amount = z.object({ value: decimal });
export const coinbaseAccountPageSchema = z.object({
  accounts: z.array(z.object({ currency: z.string(), available_balance: amount, hold: amount.optional() })),
  ...page,
});

export const coinbaseCancelSchema = z.object({
  results: z.array(z.object({ success: z.boolean(), order_id: z.string().optional() })),
});

/** Coinbase's error body: `{"error": "INVALID_ARGUMENT", "message": "…"}`. */
export const coinbaseErrorSchema = z.object({ error: z.string().optional(), message: z.string().optional() });

/** An order in the `user` channel's snapshot and update events (cumulative fill as cumulative_quantity, avg_price). */
const coinbaseStreamOrder = z.object({
  order_id: z.string().min(1),
  client_order_id: z.string(),
  status: z.string(),
  cumulative_quantity: z.string().optional(),
  avg_price: z.string().optional(),
});
export type CoinbaseStreamOrder = z.infer<typeof coinbaseStreamOrder>;

/** A message of the Advanced Trade websocket: `subscriptions` acknowledgements, `user` events, or an error. */
export const coinbaseStreamMessageSchema = z.union([
  z.object({ type: z.literal('error'), message: z.string().optional() }),
  z.object({ channel: z.literal('subscriptions'), events: z.array(z.object({ subscriptions: z.record(z.string(), z.array(z.string())) })) }),
  z.object({ channel: z.literal('user'), events: z.array(z.object({ type: z.string(), orders: z.array(coinbaseStreamOrder).optional() })) }),
]);
