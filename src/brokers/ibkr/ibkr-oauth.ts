import { constants, createDiffieHellman, createHash, createHmac, privateDecrypt, randomBytes, sign, timingSafeEqual } from 'node:crypto';
import type { BrokerHttp } from '../broker-http';
import { BrokerError } from '../broker-error';
import { parseBrokerBody } from '../broker-values';
import type { GatewayAnswer, GatewayCall } from './ibkr-gateway';
import { ibkrLiveSessionTokenSchema, type IbkrOAuthCredentials } from './ibkr-schemas';

const BROKER = 'ibkr';
/** A live session token lasts about 24 hours; a fresh one is taken this long before it would expire. */
const RENEW_BEFORE_MS = 10 * 60_000;
export const OAUTH_REFUSED =
  'IBKR refused the OAuth live session token request: check the consumer key, the access token and its secret, and the signature, encryption and Diffie-Hellman keys registered for them (IBKR activates a new consumer key only after its weekend restart)';

interface LiveSession {
  /** base64, as IBKR's reference code keeps it; the HMAC key is its bytes. Worker memory only. */
  token: string;
  expiresAt: number;
}

/**
 * IBKR's OAuth 1.0a for the Web API, first-party flow: a live session token (LST) from a Diffie-Hellman exchange signed
 * RSA-SHA256, then every call signed HMAC-SHA256 with the LST. LSTs stay in this process's memory, keyed by a hash of
 * the consumer and access token, and are renewed before they expire or when IBKR stops accepting one.
 */
export class IbkrOAuth {
  private readonly sessions = new Map<string, LiveSession>();
  private readonly pending = new Map<string, Promise<LiveSession>>();

  /** `http` is IBKR's own API root (config BROKER_IBKR_OAUTH_BASE_URL), never a user-given URL. */
  constructor(private readonly http: BrokerHttp) {}

  async send(creds: IbkrOAuthCredentials, call: GatewayCall): Promise<GatewayAnswer> {
    const key = sessionKey(creds);
    let answer = await this.signedCall(creds, call, await this.session(creds, key));
    // IBKR ends an LST early (a new one elsewhere, its nightly reset): a 401 was not acted on, so one retry is safe.
    if (answer.status === 401) {
      this.sessions.delete(key);
      answer = await this.signedCall(creds, call, await this.session(creds, key));
    }
    if (answer.status === 401)
      throw new BrokerError('credentials_invalid', BROKER, 'IBKR refused the OAuth-signed request after a fresh live session token', 401);
    return answer;
  }

  private async session(creds: IbkrOAuthCredentials, key: string): Promise<LiveSession> {
    const held = this.sessions.get(key);
    if (held && held.expiresAt - Date.now() > RENEW_BEFORE_MS) return held;
    // Concurrent calls of one consumer share one handshake: IBKR keeps only the newest LST.
    let waiting = this.pending.get(key);
    if (!waiting) {
      waiting = this.openSession(creds).finally(() => this.pending.delete(key));
      this.pending.set(key, waiting);
    }
    const session = await waiting;
    this.sessions.set(key, session);
    return session;
  }

  /** The LST handshake, then `POST /iserver/auth/ssodh/init`: a new LST has no brokerage session until it is opened. */
  private async openSession(creds: IbkrOAuthCredentials): Promise<LiveSession> {
    const prepend = accessTokenPrepend(creds);
    const dh = createDiffieHellman(Buffer.from(creds.dhPrime, 'hex'), 2);
    const challenge = unsignedHex(dh.generateKeys());
    const url = this.url('/oauth/live_session_token');
    const params = { ...oauthParams(creds, 'RSA-SHA256'), diffie_hellman_challenge: challenge };
    const signature = sign('sha256', Buffer.from(prepend + baseString('POST', url, params), 'utf8'), creds.signaturePrivateKey).toString('base64');
    const res = await this.post(url, authorization(creds, params, signature));
    if (res.status === 401 || res.status === 400) throw new BrokerError('credentials_invalid', BROKER, OAUTH_REFUSED, res.status);
    if (res.status >= 300) throw new BrokerError('transient', BROKER, `IBKR answered the live session token request with HTTP ${res.status}`, res.status);
    const answer = parseBrokerBody(BROKER, ibkrLiveSessionTokenSchema, res.json, 'the live session token request');
    let shared: Buffer;
    try {
      shared = dh.computeSecret(Buffer.from(evenHex(answer.diffie_hellman_response), 'hex'));
    } catch {
      throw new BrokerError('credentials_invalid', BROKER, "IBKR's Diffie-Hellman answer does not fit the registered prime");
    }
    const token = createHmac('sha1', twosComplement(shared)).update(Buffer.from(prepend, 'hex')).digest('base64');
    // IBKR proves it holds the same token: HMAC-SHA1(LST, consumer key). A mismatch is a wrong key or a forged answer.
    const proof = createHmac('sha1', Buffer.from(token, 'base64')).update(creds.consumerKey, 'utf8').digest();
    const claimed = Buffer.from(answer.live_session_token_signature, 'hex');
    if (claimed.length !== proof.length || !timingSafeEqual(claimed, proof)) {
      throw new BrokerError(
        'credentials_invalid',
        BROKER,
        'the live session token IBKR answered does not verify: check the encryption key and the Diffie-Hellman prime',
      );
    }
    const session = { token, expiresAt: answer.live_session_token_expiration };
    const opened = await this.signedCall(creds, { method: 'POST', path: '/iserver/auth/ssodh/init?compete=true&publish=true' }, session);
    if (opened.status === 401) throw new BrokerError('credentials_invalid', BROKER, 'IBKR did not open a brokerage session for this OAuth consumer', 401);
    return session;
  }

  private async signedCall(creds: IbkrOAuthCredentials, call: GatewayCall, session: LiveSession): Promise<GatewayAnswer> {
    const url = new URL(this.url(call.path));
    const params: Record<string, string> = oauthParams(creds, 'HMAC-SHA256');
    const signed: Record<string, string> = { ...params };
    for (const [name, value] of url.searchParams) signed[name] = value;
    const base = `${url.origin}${url.pathname}`;
    const signature = createHmac('sha256', Buffer.from(session.token, 'base64'))
      .update(baseString(call.method, base, signed), 'utf8')
      .digest('base64');
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'switchyard', authorization: authorization(creds, params, signature) };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    try {
      // The absolute URL is the one signed: BrokerHttp resolves it as is.
      return await this.http.send({ method: call.method, path: url.href, headers, body: call.body === undefined ? undefined : JSON.stringify(call.body) });
    } catch (err) {
      // A read that timed out changed nothing at IBKR.
      if (err instanceof BrokerError && err.kind === 'ambiguous' && call.method === 'GET') throw new BrokerError('transient', BROKER, err.message);
      throw err;
    }
  }

  private async post(url: string, authorizationHeader: string): Promise<GatewayAnswer> {
    try {
      return await this.http.send({
        method: 'POST',
        path: url,
        headers: { accept: 'application/json', 'user-agent': 'switchyard', authorization: authorizationHeader },
      });
    } catch (err) {
      // No order rides on the handshake: a lost answer is retried like any outage.
      if (err instanceof BrokerError && err.kind === 'ambiguous') throw new BrokerError('transient', BROKER, err.message);
      throw err;
    }
  }

  private url(path: string): string {
    return `${this.http.baseUrl.replace(/\/+$/, '')}${path}`;
  }
}

/** The access token secret decrypted with the encryption key (RSA PKCS#1 v1.5), in hex: IBKR's "prepend". */
function accessTokenPrepend(creds: IbkrOAuthCredentials): string {
  try {
    const secret = Buffer.from(creds.accessTokenSecret, 'base64');
    return privateDecrypt({ key: creds.encryptionPrivateKey, padding: constants.RSA_PKCS1_PADDING }, secret).toString('hex');
  } catch {
    throw new BrokerError('credentials_invalid', BROKER, 'the IBKR access token secret does not decrypt with the encryption key');
  }
}

function oauthParams(creds: IbkrOAuthCredentials, method: 'RSA-SHA256' | 'HMAC-SHA256'): Record<string, string> {
  return {
    oauth_consumer_key: creds.consumerKey,
    oauth_nonce: randomBytes(16).toString('hex'),
    oauth_signature_method: method,
    oauth_timestamp: String(Math.floor(Date.now() / 1000)),
    oauth_token: creds.accessToken,
  };
}

/**
 * IBKR's signature base string: METHOD & url & the sorted `name=value` pairs (OAuth parameters and query, values as
 * they are) joined by `&`, the URL and the pair list each form-encoded once, as its reference code does.
 */
export function baseString(method: string, url: string, params: Record<string, string>): string {
  const pairs = Object.keys(params)
    .sort()
    .map((name) => `${name}=${params[name]}`)
    .join('&');
  return [method, formEncode(url), formEncode(pairs)].join('&');
}

/** Python's quote_plus, which IBKR's reference code uses. */
export function formEncode(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** `OAuth realm="…", name="value", …` with the signature percent-encoded, the pairs sorted. */
export function authorization(creds: IbkrOAuthCredentials, params: Record<string, string>, signature: string): string {
  const all: Record<string, string> = { ...params, oauth_signature: formEncode(signature) };
  const pairs = Object.keys(all)
    .sort()
    .map((name) => `${name}="${all[name]}"`);
  return `OAuth realm="${creds.realm}", ${pairs.join(', ')}`;
}

/** A big-endian magnitude as IBKR's reference code (Java's BigInteger.toByteArray) has it: no leading zeros, one 0x00 if the top bit is set. */
export function twosComplement(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = magnitude.subarray(start);
  return bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}

/** Hex without leading zeros, as IBKR reads and writes Diffie-Hellman values. */
export function unsignedHex(bytes: Buffer): string {
  return BigInt(`0x${bytes.toString('hex') || '0'}`).toString(16);
}

function evenHex(hex: string): string {
  return hex.length % 2 === 0 ? hex : `0${hex}`;
}

/** LSTs are found by consumer and access token, hashed so no credential is a map key. */
function sessionKey(creds: IbkrOAuthCredentials): string {
  return createHash('sha256').update(`${creds.consumerKey}\n${creds.accessToken}`).digest('hex');
}
