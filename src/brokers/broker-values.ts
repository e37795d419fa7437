import { z } from 'zod';
import type { BrokerCredentials, OrderAck, OrderRequest } from './broker-adapter';
import { isPositiveDecimal } from '../common/decimal';
import { BrokerError } from './broker-error';

/** Helpers every broker adapter needs: credential parsing, safe broker text, order sanity (decimals: src/common/decimal.ts). */

/** The client order id contract of OrderRequest; every supported broker accepts it verbatim. */
export const CLIENT_ORDER_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** Broker text is shown to users and logged: bounded so a broker cannot flood either. */
const MAX_BROKER_TEXT = 300;

/** A credential field: trimmed (pasted keys carry whitespace), non-empty, bounded. */
export function credentialString(maxLength: number): z.ZodString {
  return z.string().trim().min(1).max(maxLength);
}

/** A credential sent in an HTTP header: visible ASCII only, so it can never break or inject a header line. */
export function headerCredentialString(maxLength: number): z.ZodString {
  return credentialString(maxLength).regex(/^[\x21-\x7e]+$/, 'must be visible ASCII without spaces');
}

/** Validates credentials before any network call; the error names fields only, never values. */
export function parseCredentials<T>(broker: string, schema: z.ZodType<T>, credentials: BrokerCredentials): T {
  const parsed = schema.safeParse(credentials);
  if (parsed.success) return parsed.data;
  const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(root)'))].join(', ');
  throw new BrokerError('credentials_invalid', broker, `${broker} credentials are malformed (check: ${fields})`);
}

/** What a user needs to recognise a key: the last 4 characters of its public id, never of a secret. */
export function keyHint(keyId: string): string {
  return `…${keyId.slice(-4)}`;
}

/**
 * Broker-provided text made safe for a BrokerError message: credential values removed
 * (some brokers echo what they were sent), control characters dropped, length bounded.
 */
export function safeBrokerText(text: unknown, credentials: BrokerCredentials): string | undefined {
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  let safe = text;
  for (const value of Object.values(credentials)) {
    const secret = typeof value === 'string' ? value.trim() : '';
    if (secret.length >= 4) safe = safe.split(secret).join('[redacted]');
  }
  safe = safe.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return safe.length > MAX_BROKER_TEXT ? `${safe.slice(0, MAX_BROKER_TEXT)}…` : safe;
}

/**
 * Parses a 2xx body with a schema. A body we cannot read after the broker accepted the call
 * leaves the outcome unknown, hence `ambiguous` (look the order up before retrying).
 */
export function parseBrokerBody<T>(broker: string, schema: z.ZodType<T>, json: unknown, what: string): T {
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new BrokerError('ambiguous', broker, `${broker} answered ${what} in an unexpected shape`);
}

/**
 * Checks what every broker requires of an order before it is sent; a failure is permanent (`rejected`).
 * Broker-specific limits (symbols, tick sizes, order shapes) stay with each adapter.
 */
export function assertOrderValues(broker: string, order: OrderRequest): void {
  const problem = orderProblem(order);
  if (problem) throw new BrokerError('rejected', broker, `order not sent to ${broker}: ${problem}`);
}

function orderProblem(order: OrderRequest): string | undefined {
  if (!CLIENT_ORDER_ID_PATTERN.test(order.clientOrderId)) return 'client order id must match ^[A-Za-z0-9_-]{1,32}$';
  if (!order.symbol.trim()) return 'symbol is empty';
  if (!isPositiveDecimal(order.quantity)) return 'quantity must be a positive decimal string';
  const needsLimit = order.type === 'limit' || order.type === 'stop_limit';
  const needsStop = order.type === 'stop' || order.type === 'stop_limit';
  if (needsLimit && order.limitPrice === undefined) return `${order.type} order needs a limit price`;
  if (needsStop && order.stopPrice === undefined) return `${order.type} order needs a stop price`;
  const prices = {
    limitPrice: order.limitPrice,
    stopPrice: order.stopPrice,
    takeProfit: order.takeProfit,
    stopLoss: order.stopLoss,
    stopLossLimit: order.stopLossLimit,
    trailPercent: order.trailPercent,
    trailAmount: order.trailAmount,
  };
  for (const [name, value] of Object.entries(prices)) {
    if (value !== undefined && !isPositiveDecimal(value)) return `${name} must be a positive decimal string`;
  }
  return undefined;
}

/**
 * placeOrder never resolves with a refused order: a refusal is a BrokerError (`rejected`), whether the broker
 * refused at submission or a replayed client order id found the order refused or cancelled earlier.
 */
export function acceptedOrThrow(broker: string, label: string, ack: OrderAck, credentials: BrokerCredentials): OrderAck {
  if (ack.status !== 'rejected' && ack.status !== 'canceled' && ack.status !== 'expired') return ack;
  const reason = safeBrokerText(ack.reason, credentials) ?? 'order refused';
  throw new BrokerError('rejected', broker, `${label} rejected order ${ack.brokerOrderId}: ${reason}`);
}

/** The broker said the client order id is taken: the order it names is the result of this request. */
export function replayedOrder(broker: string, label: string, found: OrderAck | null, credentials: BrokerCredentials): OrderAck {
  if (!found) throw new BrokerError('ambiguous', broker, `${label} reports the client order id as used but cannot find the order yet`);
  return acceptedOrThrow(broker, label, found, credentials);
}
