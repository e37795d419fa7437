import { z } from 'zod';
import { credentialString } from '../broker-values';

/** What Tradovate's access token request takes (https://api.tradovate.com/#tag/Authentication): the user's login and the API key. */
export const tradovateCredentialsSchema = z.object({
  name: credentialString(100),
  password: credentialString(200),
  appId: credentialString(100),
  appVersion: credentialString(40).default('1.0'),
  // Sent as a JSON number: more than 15 digits would lose precision on the way.
  cid: credentialString(15).regex(/^\d{1,15}$/, 'must be the numeric client id of the API key'),
  sec: credentialString(200),
});
export type TradovateCredentials = z.infer<typeof tradovateCredentialsSchema>;

const id = z.number().int().nonnegative();

/**
 * `POST /auth/accesstokenrequest` and `GET /auth/renewaccesstoken` answer 200 in every case: a token, an `errorText`
 * (wrong login, app not registered), or a penalty ticket to resend after `p-time` seconds (`p-captcha`: a person must log in).
 */
export const tradovateTokenAnswerSchema = z.object({
  accessToken: z.string().min(1).optional(),
  expirationTime: z.string().optional(),
  errorText: z.string().optional(),
  'p-ticket': z.string().optional(),
  'p-time': z.number().nonnegative().optional(),
  'p-captcha': z.boolean().optional(),
});
export type TradovateTokenAnswer = z.infer<typeof tradovateTokenAnswerSchema>;

/** Errors of the other endpoints. */
export const tradovateErrorSchema = z.object({ errorText: z.string().optional() });

/** `GET /account/list`. */
export const tradovateAccountsSchema = z.array(
  z.object({ id, name: z.string().min(1), active: z.boolean().optional(), archived: z.boolean().optional(), accountType: z.string().optional() }),
);
export type TradovateAccount = z.infer<typeof tradovateAccountsSchema>[number];

/** `POST /order/placeorder` and `/order/placeOSO`: the order id, or a failure (200 as well). */
export const tradovatePlaceResultSchema = z.object({
  orderId: id.optional(),
  oso1Id: id.optional(),
  oso2Id: id.optional(),
  failureReason: z.string().optional(),
  failureText: z.string().optional(),
});

/** `POST /order/cancelorder`. */
export const tradovateCommandResultSchema = z.object({ commandId: id.optional(), failureReason: z.string().optional(), failureText: z.string().optional() });

/** `GET /command/list`: the commands sent for orders; only these carry our `clOrdId` (Order entities do not). */
export const tradovateCommandsSchema = z.array(z.object({ id, orderId: id, clOrdId: z.string().optional(), commandType: z.string() }));

const order = z.object({ id, accountId: id, contractId: id.optional(), timestamp: z.string().optional(), action: z.string(), ordStatus: z.string() });
export type TradovateOrder = z.infer<typeof order>;
/** `GET /order/item`. */
export const tradovateOrderSchema = order;
/** `GET /order/list`. */
export const tradovateOrdersSchema = z.array(order);

/** `GET /fill/deps?masterid={orderId}`: the order's executions. */
export const tradovateFillsSchema = z.array(
  z.object({ id, orderId: id, timestamp: z.string(), qty: z.number().int().positive(), price: z.number(), active: z.boolean().optional() }),
);
export type TradovateFill = z.infer<typeof tradovateFillsSchema>[number];

/** `GET /executionReport/deps?masterid={orderId}`: where a rejection's reason is. */
export const tradovateExecutionReportsSchema = z.array(
  z.object({ id, ordStatus: z.string().optional(), rejectReason: z.string().optional(), text: z.string().optional() }),
);

/** `GET /position/list`: netPos is signed (negative short). */
export const tradovatePositionsSchema = z.array(z.object({ id, accountId: id, contractId: id, netPos: z.number().int(), netPrice: z.number().optional() }));

const contract = z.object({ id, name: z.string().min(1), contractMaturityId: id.optional() });
export type TradovateContract = z.infer<typeof contract>;
/** `GET /contract/find`, `/contract/item`. */
export const tradovateContractSchema = contract;
/** `GET /contract/items`, `/contract/deps`. */
export const tradovateContractsSchema = z.array(contract);

/** `GET /product/find?name=ES`. */
export const tradovateProductSchema = z.object({ id, name: z.string().min(1) });

/** `GET /contractMaturity/deps?masterid={productId}`: the product's listed expiries. */
export const tradovateMaturitiesSchema = z.array(z.object({ id, expirationDate: z.string(), archived: z.boolean().optional() }));

/** `POST /cashBalance/getcashbalancesnapshot`. */
export const tradovateCashSnapshotSchema = z.object({
  errorCode: z.string().optional(),
  totalCashValue: z.number().optional(),
  netLiq: z.number().optional(),
  openPnL: z.number().optional(),
});
