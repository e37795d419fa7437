import { createPrivateKey, KeyObject, randomBytes, sign } from 'node:crypto';
import { BrokerError } from '../broker-error';

/** Coinbase accepts a CDP API JWT for two minutes after it was issued. */
const TOKEN_LIFETIME_S = 120;

/** The EC P-256 private key (PEM); literal `\n` pasted from Coinbase's JSON download become line breaks. */
export function coinbaseSigningKey(privateKey: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKey.replace(/\\n/g, '\n'));
  } catch {
    throw new BrokerError('credentials_invalid', 'coinbase', 'the Coinbase private key is not a readable PEM private key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const message = 'the Coinbase key must be an ECDSA (P-256) key: Advanced Trade does not take Ed25519 keys';
    throw new BrokerError('credentials_invalid', 'coinbase', message);
  }
  return key;
}

/** The ES256 JWT of one request; its `uri` claim (`METHOD host/path`, no query) stops replays to other endpoints. */
export function coinbaseJwt(apiKeyName: string, key: KeyObject, method: string, host: string, path: string, nowMs: number): string {
  return signedJwt(apiKeyName, key, nowMs, { uri: `${method} ${host}${path}` });
}

/** The ES256 JWT of one websocket subscribe message: as Coinbase asks, without a `uri` claim. */
export function coinbaseStreamJwt(apiKeyName: string, key: KeyObject, nowMs: number): string {
  return signedJwt(apiKeyName, key, nowMs, {});
}

function signedJwt(apiKeyName: string, key: KeyObject, nowMs: number, extra: Record<string, string>): string {
  const now = Math.floor(nowMs / 1000);
  const header = { alg: 'ES256', kid: apiKeyName, nonce: randomBytes(16).toString('hex'), typ: 'JWT' };
  const claims = { sub: apiKeyName, iss: 'cdp', nbf: now, exp: now + TOKEN_LIFETIME_S, ...extra };
  const input = `${base64url(header)}.${base64url(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
