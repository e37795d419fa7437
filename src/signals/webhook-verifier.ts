import { createHmac } from 'node:crypto';
import { constantTimeEqual, sha256 } from '../common/bearer-secrets';

/** Standard Webhooks: a timestamp further than this from now, in either direction, is refused. */
export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;

const MESSAGE_ID = /^[\x21-\x7e]{1,256}$/;
const TIMESTAMP = /^\d{1,12}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SIGNATURE_BYTES = 32;
// More candidates than any sender rotating secrets needs; bounds the HMAC comparisons per request.
const MAX_SIGNATURES = 8;

export interface StandardWebhookHeaders {
  id?: string;
  timestamp?: string;
  signature?: string;
}

/** One secret version of a source: the HMAC key (hmac mode) or the token's SHA-256 (token mode). */
export interface VersionedKey {
  version: number;
  key: Buffer;
}

/** Why a webhook was refused: for logs and metrics only; every refusal answers the same 401. */
export type VerifyFailure = 'missing_headers' | 'malformed_headers' | 'timestamp_out_of_tolerance' | 'no_matching_signature' | 'no_matching_token';

export type VerifyResult = { ok: true; version: number } | { ok: false; reason: VerifyFailure };

/**
 * Verifies a Standard Webhooks delivery: HMAC-SHA256 over `${id}.${timestamp}.${body}` with the exact
 * body received. Any of the space-separated `v1,` signatures may match any active secret version, so
 * a sender keeps working while a rotated secret is in its grace period. Comparison is constant-time.
 */
export function verifyStandardWebhook(headers: StandardWebhookHeaders, rawBody: string, keys: readonly VersionedKey[], nowSeconds: number): VerifyResult {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing_headers' };
  if (!MESSAGE_ID.test(id) || !TIMESTAMP.test(timestamp)) return { ok: false, reason: 'malformed_headers' };
  if (Math.abs(nowSeconds - Number(timestamp)) > TIMESTAMP_TOLERANCE_SECONDS) return { ok: false, reason: 'timestamp_out_of_tolerance' };
  const candidates = parseSignatures(signature);
  if (candidates.length === 0) return { ok: false, reason: 'malformed_headers' };
  for (const { version, key } of keys) {
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8').update(rawBody, 'utf8').digest();
    if (candidates.some((candidate) => constantTimeEqual(candidate, expected))) return { ok: true, version };
  }
  return { ok: false, reason: 'no_matching_signature' };
}

/** Token mode: the URL token's SHA-256 against every active version's stored hash, in constant time. */
export function verifyToken(token: string, hashes: readonly VersionedKey[]): VerifyResult {
  const presented = sha256(token);
  const match = hashes.find(({ key }) => constantTimeEqual(presented, key));
  return match ? { ok: true, version: match.version } : { ok: false, reason: 'no_matching_token' };
}

function parseSignatures(header: string): Buffer[] {
  const signatures: Buffer[] = [];
  for (const part of header.split(' ').slice(0, MAX_SIGNATURES)) {
    const comma = part.indexOf(',');
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue;
    const encoded = part.slice(comma + 1);
    if (!BASE64.test(encoded)) continue;
    const bytes = Buffer.from(encoded, 'base64');
    if (bytes.length === SIGNATURE_BYTES) signatures.push(bytes);
  }
  return signatures;
}
