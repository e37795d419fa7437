import { z } from 'zod';
import { credentialString } from '../broker-values';

/** The gateway's base URL: https, no user info, query or fragment; a trailing `/v1/api` is the API root and dropped. */
const gatewayUrl = credentialString(300)
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'https:' && !url.username && !url.password && !url.search && !url.hash;
    } catch {
      return false;
    }
  }, 'must be the https base URL of your Client Portal Gateway, without user name, query or fragment')
  .transform((value) => value.replace(/\/+$/, '').replace(/\/v1\/api$/, ''));

/** Gateway mode: the user's own Client Portal Gateway (or IBeam) holds the login; Switchyard holds where it is and which account. */
export const ibkrCredentialsSchema = z.object({
  gatewayUrl,
  accountId: credentialString(32).regex(/^[A-Z]{1,3}\d{3,12}$/, 'must be an IBKR account id such as U1234567 or DU1234567'),
});
export type IbkrCredentials = z.infer<typeof ibkrCredentialsSchema>;

/** IBKR sends ids as numbers or strings depending on the endpoint. */
const idText = z.union([z.string().min(1), z.number()]).transform(String);
const amount = z.union([z.number(), z.string()]).transform(Number);

/** `GET /iserver/auth/status` and the `iserver.authStatus` of `POST /tickle`. */
export const ibkrAuthStatusSchema = z.object({
  authenticated: z.boolean(),
  connected: z.boolean().optional(),
  competing: z.boolean().optional(),
  message: z.string().optional(),
  fail: z.string().optional(),
});
export type IbkrAuthStatus = z.infer<typeof ibkrAuthStatusSchema>;

/** `POST /tickle`. */
export const ibkrTickleSchema = z.object({ session: z.string().optional(), iserver: z.object({ authStatus: ibkrAuthStatusSchema.optional() }).optional() });

/** `GET /iserver/accounts`. */
export const ibkrAccountsSchema = z.object({ accounts: z.array(z.string()), selectedAccount: z.string().optional() });

/** `GET /iserver/secdef/search`: contracts with the security types they trade as (`sections`). */
export const ibkrSecdefSchema = z.array(
  z.object({
    conid: idText,
    symbol: z.string().optional(),
    description: z.string().nullish(),
    sections: z.array(z.object({ secType: z.string() })).optional(),
  }),
);

/** `GET /trsrv/futures?symbols=ES`: the listed contracts per root, `expirationDate` as YYYYMMDD. */
export const ibkrFuturesSchema = z.record(z.string(), z.array(z.object({ symbol: z.string(), conid: z.number().int(), expirationDate: z.number().int() })));

/**
 * One element of the order answer (`POST …/orders`, `POST /iserver/reply/{id}`): an order placed
 * (`order_id`, `order_status`), or a question to confirm (`id`, `message`, `messageIds`).
 */
export const ibkrOrderAnswerSchema = z.array(
  z.object({
    order_id: idText.optional(),
    order_status: z.string().optional(),
    local_order_id: z.string().optional(),
    id: z.string().optional(),
    message: z.array(z.string()).optional(),
    messageIds: z.array(z.string()).optional(),
  }),
);
export type IbkrOrderAnswer = z.infer<typeof ibkrOrderAnswerSchema>;

/** Errors: `{ error: "…" }` (sometimes with HTTP 200). */
export const ibkrErrorSchema = z.object({ error: z.string() });

const liveOrder = z.object({
  acct: z.string().optional(),
  orderId: idText,
  conid: idText.optional(),
  ticker: z.string().optional(),
  status: z.string(),
  side: z.string().optional(),
  filledQuantity: amount.optional(),
  remainingQuantity: amount.optional(),
  avgPrice: amount.optional(),
  totalSize: amount.optional(),
  origOrderType: z.string().optional(),
  price: amount.optional(),
  auxPrice: amount.optional(),
  /** Our cOID, as the gateway lists it. */
  order_ref: z.string().optional(),
  lastExecutionTime_r: z.number().optional(),
});
export type IbkrLiveOrder = z.infer<typeof liveOrder>;
/** `GET /iserver/account/orders`: the session's orders (today's and the working ones). */
export const ibkrLiveOrdersSchema = z.object({ orders: z.array(liveOrder).default([]) });

/** `DELETE /iserver/account/{accountId}/order/{orderId}`. */
export const ibkrCancelSchema = z.object({ msg: z.string().optional(), order_id: idText.optional(), error: z.string().optional() });

/** `GET /portfolio/{accountId}/positions/0`: signed `position`. */
export const ibkrPositionsSchema = z.array(
  z.object({
    conid: idText,
    contractDesc: z.string().optional(),
    ticker: z.string().optional(),
    position: amount,
    avgPrice: amount.optional(),
    mktValue: amount.optional(),
    unrealizedPnl: amount.optional(),
  }),
);

const summaryValue = z.object({ amount: z.number().nullish(), currency: z.string().nullish() }).optional();
/** `GET /portfolio/{accountId}/summary`: one entry per account value. */
export const ibkrSummarySchema = z.object({ netliquidation: summaryValue, totalcashvalue: summaryValue, buyingpower: summaryValue });
