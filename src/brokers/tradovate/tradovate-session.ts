import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { BrokerEnvironment } from '../broker-adapter';
import { BrokerError } from '../broker-error';
import type { BrokerHttp } from '../broker-http';
import { safeBrokerText } from '../broker-values';
import { tradovateTokenAnswerSchema, type TradovateCredentials } from './tradovate-schemas';

const BROKER = 'tradovate';
/** Tradovate tokens live 90 minutes; its docs advise renewing some 15 minutes before they end. */
const RENEW_BEFORE_MS = 15 * 60_000;
/** A token this close to its end is not renewed but replaced (a renewal could arrive after it died). */
const MIN_LEFT_TO_RENEW_MS = 10_000;
/** A penalty (`p-time`) up to this long is waited out in the call; a longer one fails the call as transient. */
const MAX_INLINE_PENALTY_MS = 5_000;
const MAX_LOGIN_ATTEMPTS = 3;

export interface TradovateToken {
  accessToken: string;
  expiresAt: number;
}

/**
 * Tradovate access tokens, held only in this process's memory (never the database, Redis, logs or job payloads), keyed
 * by a keyed hash of the credentials (a rotated credential gets a new login), renewed before they expire. Penalty
 * tickets (`p-ticket`) are kept the same way so the next login resends them as Tradovate asks.
 */
export class TradovateSessions {
  private readonly tokens = new Map<string, TradovateToken>();
  private readonly inFlight = new Map<string, Promise<TradovateToken>>();
  private readonly penalties = new Map<string, { ticket: string; notBefore: number }>();
  /** Per-process key: the map keys cannot be matched against guessed passwords. */
  private readonly fingerprintKey = randomBytes(32);

  constructor(private readonly http: Record<BrokerEnvironment, BrokerHttp>) {}

  /** A live token for these credentials: the held one, a renewal of it, or a fresh login; concurrent callers share one request. */
  token(creds: TradovateCredentials, environment: BrokerEnvironment): Promise<TradovateToken> {
    const key = this.key(creds, environment);
    const held = this.tokens.get(key);
    if (held && held.expiresAt - Date.now() > RENEW_BEFORE_MS) return Promise.resolve(held);
    const running = this.inFlight.get(key);
    if (running) return running;
    const next = this.refresh(creds, environment, key, held).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, next);
    return next;
  }

  /** Drops the held token (only `token`, when given: one Tradovate refused with 401); the next call logs in again. */
  forget(creds: TradovateCredentials, environment: BrokerEnvironment, token?: TradovateToken): void {
    const key = this.key(creds, environment);
    if (!token || this.tokens.get(key)?.accessToken === token.accessToken) this.tokens.delete(key);
  }

  private async refresh(creds: TradovateCredentials, environment: BrokerEnvironment, key: string, held?: TradovateToken): Promise<TradovateToken> {
    const renewed = held && held.expiresAt - Date.now() > MIN_LEFT_TO_RENEW_MS ? await this.renew(environment, held) : undefined;
    const token = renewed ?? (await this.login(creds, environment, key));
    // Tokens of rotated or revoked credentials are never asked for again: dropped once dead.
    for (const [k, t] of this.tokens) if (t.expiresAt <= Date.now()) this.tokens.delete(k);
    this.tokens.set(key, token);
    return token;
  }

  /** `GET /auth/renewaccesstoken`; undefined when Tradovate will not renew (the caller logs in again). */
  private async renew(environment: BrokerEnvironment, held: TradovateToken): Promise<TradovateToken | undefined> {
    const res = await this.http[environment].send({
      method: 'GET',
      path: 'auth/renewaccesstoken',
      headers: { authorization: `Bearer ${held.accessToken}`, accept: 'application/json' },
    });
    const answer = tradovateTokenAnswerSchema.safeParse(res.json);
    if (res.status !== 200 || !answer.success) return undefined;
    return tokenOf(answer.data.accessToken, answer.data.expirationTime);
  }

  /** `POST /auth/accesstokenrequest`, resending Tradovate's penalty ticket after the time it names. */
  private async login(creds: TradovateCredentials, environment: BrokerEnvironment, key: string): Promise<TradovateToken> {
    for (let attempt = 1; attempt <= MAX_LOGIN_ATTEMPTS; attempt++) {
      const penalty = this.penalties.get(key);
      const wait = penalty ? penalty.notBefore - Date.now() : 0;
      if (wait > MAX_INLINE_PENALTY_MS) throw penalised(wait);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const body = {
        name: creds.name,
        password: creds.password,
        appId: creds.appId,
        appVersion: creds.appVersion,
        cid: Number(creds.cid),
        sec: creds.sec,
        deviceId: deviceId(creds),
        ...(penalty ? { 'p-ticket': penalty.ticket } : {}),
      };
      const res = await this.http[environment].send({
        method: 'POST',
        path: 'auth/accesstokenrequest',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      });
      const parsed = tradovateTokenAnswerSchema.safeParse(res.json);
      if (res.status !== 200 || !parsed.success) {
        throw new BrokerError('transient', BROKER, `Tradovate answered the login with HTTP ${res.status} in an unexpected shape`, res.status);
      }
      const answer = parsed.data;
      if (answer['p-captcha']) {
        this.penalties.delete(key);
        throw new BrokerError(
          'credentials_invalid',
          BROKER,
          'Tradovate asks for a CAPTCHA on this login, which an API cannot answer: log in once on the Tradovate web site ' +
            '(trader.tradovate.com, demo or live as this connection) with this username, then create or test the connection again',
        );
      }
      if (answer['p-ticket'] !== undefined) {
        this.penalties.set(key, { ticket: answer['p-ticket'], notBefore: Date.now() + (answer['p-time'] ?? 0) * 1000 });
        continue;
      }
      this.penalties.delete(key);
      if (answer.accessToken) return tokenOf(answer.accessToken, answer.expirationTime);
      const reason = safeBrokerText(answer.errorText, creds) ?? 'no token and no reason given';
      throw new BrokerError(
        'credentials_invalid',
        BROKER,
        `Tradovate refused the login: ${reason} (check the username, password, app id, cid and secret, and demo/live)`,
      );
    }
    const left = this.penalties.get(key);
    throw penalised(left ? left.notBefore - Date.now() : 0);
  }

  private key(creds: TradovateCredentials, environment: BrokerEnvironment): string {
    const material = JSON.stringify([environment, creds.name, creds.password, creds.appId, creds.appVersion, creds.cid, creds.sec]);
    return createHmac('sha256', this.fingerprintKey).update(material).digest('base64url');
  }
}

function tokenOf(accessToken: string | undefined, expirationTime: string | undefined): TradovateToken {
  const expiresAt = expirationTime ? Date.parse(expirationTime) : Number.NaN;
  if (!accessToken || Number.isNaN(expiresAt))
    throw new BrokerError('transient', BROKER, 'Tradovate answered the login without a token or its expiration time');
  return { accessToken, expiresAt };
}

function penalised(waitMs: number): BrokerError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new BrokerError('transient', BROKER, `Tradovate limits logins for these credentials (p-time): retry in ${seconds} s; the retry resends its ticket`);
}

/** A stable device id per login (Tradovate tracks devices; a new one each time makes it ask for CAPTCHAs). Derived from public fields only. */
function deviceId(creds: TradovateCredentials): string {
  const hex = createHash('sha256').update(`switchyard:${creds.name}:${creds.cid}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
