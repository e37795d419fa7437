import { createPrivateKey } from 'node:crypto';
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

const accountId = credentialString(32).regex(/^[A-Z]{1,3}\d{3,12}$/, 'must be an IBKR account id such as U1234567 or DU1234567');

/** Gateway mode: the user's own Client Portal Gateway (or IBeam) holds the login; Switchyard holds where it is and which account. */
const gatewayCredentials = z.object({
  // Connections made before OAuth mode existed carry no mode: they are gateway connections.
  mode: z.literal('gateway').default('gateway'),
  gatewayUrl,
  accountId,
});

/** An RSA private key of at least 2048 bits as PEM (PKCS#1 or PKCS#8); literal `\n` from a pasted JSON string become line breaks. */
const rsaPrivateKey = z
  .string()
  .trim()
  .min(1)
  .max(8_000)
  .transform((value) => value.replace(/\\n/g, '\n'))
  .refine((pem) => {
    try {
      const key = createPrivateKey(pem);
      return key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
    } catch {
      return false;
    }
  }, 'must be an unencrypted RSA private key of at least 2048 bits in PEM form (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)');

/** The Diffie-Hellman prime registered at IBKR, in hex (colons and whitespace as `openssl dhparam -text` prints them are dropped). */
const dhPrime = z
  .string()
  .trim()
  .min(1)
  .max(4_000)
  .transform((value) => value.replace(/[\s:]/g, '').replace(/^0x/i, '').toLowerCase())
  .refine((hex) => /^[0-9a-f]+$/.test(hex) && BigInt(`0x${hex}`).toString(2).length >= 2048 && /[13579bdf]$/.test(hex), {
    message: 'must be the hex of the Diffie-Hellman prime of at least 2048 bits registered at IBKR (from dhparam.pem)',
  });

/**
 * OAuth mode: IBKR's OAuth 1.0a for the Web API as its self-service portal issues it (consumer key, access token and
 * its encrypted secret, the consumer's signature and encryption keys, the Diffie-Hellman prime).
 */
const oauthCredentials = z.object({
  mode: z.literal('oauth'),
  consumerKey: credentialString(64).regex(/^[A-Za-z0-9]+$/, 'must be the consumer key from IBKR (letters and digits)'),
  accessToken: credentialString(256).regex(/^[A-Za-z0-9]+$/, 'must be the access token from IBKR (letters and digits)'),
  accessTokenSecret: credentialString(4_096).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be the access token secret from IBKR (base64, as the portal shows it)'),
  signaturePrivateKey: rsaPrivateKey,
  encryptionPrivateKey: rsaPrivateKey,
  dhPrime,
  accountId,
  // `test_realm` only with IBKR's TESTCONS consumer; every registered consumer signs in `limited_poa`.
  realm: z.enum(['limited_poa', 'test_realm']).default('limited_poa'),
});

export const ibkrCredentialsSchema = z.discriminatedUnion('mode', [gatewayCredentials, oauthCredentials]);
export type IbkrCredentials = z.infer<typeof ibkrCredentialsSchema>;
export type IbkrGatewayCredentials = z.infer<typeof gatewayCredentials>;
export type IbkrOAuthCredentials = z.infer<typeof oauthCredentials>;

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

/** `POST /oauth/live_session_token`: IBKR's Diffie-Hellman half, the token's HMAC-SHA1 signature (hex) and its expiry (epoch ms). */
export const ibkrLiveSessionTokenSchema = z.object({
  diffie_hellman_response: z.string().regex(/^[0-9a-fA-F]+$/),
  live_session_token_signature: z.string().regex(/^[0-9a-fA-F]+$/),
  live_session_token_expiration: z.number().int().positive(),
});
