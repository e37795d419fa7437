import type { z } from 'zod';
import { OutboundError } from '../../common/outbound/outbound-error';
import type { OutboundGuard } from '../../common/outbound/outbound-guard';
import { BrokerError } from '../broker-error';
import { keyHint, parseBrokerBody, safeBrokerText } from '../broker-values';
import type { IbkrOAuth } from './ibkr-oauth';
import {
  ibkrAccountsSchema,
  ibkrAuthStatusSchema,
  ibkrErrorSchema,
  ibkrTickleSchema,
  type IbkrAuthStatus,
  type IbkrCredentials,
  type IbkrGatewayCredentials,
} from './ibkr-schemas';

const BROKER = 'ibkr';
/** The gateway ends an idle session after about five minutes; one tickle a minute keeps it. */
const TICKLE_EVERY_MS = 60_000;
export const NOT_AUTHENTICATED = 'the IBKR gateway session is not authenticated: log in at the gateway';
const OAUTH_NOT_AUTHENTICATED = 'IBKR has no authenticated brokerage session for this OAuth consumer (another login may have taken it over)';

export interface GatewayCall {
  method: 'GET' | 'POST' | 'DELETE';
  /** Below the API root (`/v1/api`), e.g. `/iserver/accounts`. */
  path: string;
  body?: unknown;
}

export interface GatewayAnswer {
  status: number;
  json: unknown;
}

/**
 * The Web API of one connection: in gateway mode the user's Client Portal Gateway, reached only through the SSRF guard
 * (https, no redirects, no private address unless the operator allows it); in OAuth mode IBKR's own host, each call
 * signed with the live session token. Session upkeep: the auth status is checked before trading; /tickle keeps it alive.
 */
export class IbkrGateway {
  /** Last tickle per connection (worker memory; keyed by connection id, never by a credential). */
  private readonly tickled = new Map<string, number>();

  constructor(
    private readonly guard: OutboundGuard,
    private readonly oauth: IbkrOAuth,
  ) {}

  async send(creds: IbkrCredentials, call: GatewayCall): Promise<GatewayAnswer> {
    return creds.mode === 'oauth' ? this.oauth.send(creds, call) : this.throughGateway(creds, call);
  }

  private async throughGateway(creds: IbkrGatewayCredentials, call: GatewayCall): Promise<GatewayAnswer> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'switchyard' };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await this.guard.fetch(`${creds.gatewayUrl}/v1/api${call.path}`, {
        method: call.method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
      });
    } catch (err) {
      throw err instanceof OutboundError ? outboundFailure(err, call.method, creds) : err;
    }
    const json = parseJson(res.body.toString('utf8'));
    if (res.statusCode === 401) throw new BrokerError('credentials_invalid', BROKER, NOT_AUTHENTICATED, 401);
    if (res.statusCode === 429 || res.statusCode >= 500)
      throw new BrokerError('transient', BROKER, `the IBKR gateway answered HTTP ${res.statusCode}`, res.statusCode);
    return { status: res.statusCode, json };
  }

  /** A 2xx body in its schema, or a BrokerError with the gateway's `error` text. */
  expect<T>(answer: GatewayAnswer, creds: IbkrCredentials, schema: z.ZodType<T>, what: string): T {
    const error = ibkrErrorSchema.safeParse(answer.json);
    if (answer.status >= 200 && answer.status < 300 && !error.success) return parseBrokerBody(BROKER, schema, answer.json, what);
    const text = (error.success ? safeBrokerText(error.data.error, creds) : undefined) ?? `HTTP ${answer.status}`;
    if (answer.status === 403) throw new BrokerError('credentials_invalid', BROKER, `the IBKR gateway refused ${what} (${text})`, 403);
    throw new BrokerError('rejected', BROKER, `IBKR refused ${what}: ${text}`, answer.status);
  }

  async get<T>(creds: IbkrCredentials, path: string, schema: z.ZodType<T>, what: string): Promise<T> {
    return this.expect(await this.send(creds, { method: 'GET', path }), creds, schema, what);
  }

  /** Before trading: the brokerage session must be authenticated, connected and not taken over by another login. */
  async assertSession(creds: IbkrCredentials, connectionId?: string): Promise<IbkrAuthStatus> {
    const status = await this.get(creds, '/iserver/auth/status', ibkrAuthStatusSchema, 'the session status');
    if (!status.authenticated) throw new BrokerError('credentials_invalid', BROKER, creds.mode === 'oauth' ? OAUTH_NOT_AUTHENTICATED : NOT_AUTHENTICATED);
    if (status.competing) {
      throw new BrokerError(
        'credentials_invalid',
        BROKER,
        'another IBKR session (TWS, the mobile app or a second gateway) competes with the gateway: log in at the gateway again',
      );
    }
    if (status.connected === false) throw new BrokerError('transient', BROKER, 'the IBKR gateway is authenticated but not connected to IBKR yet');
    await this.keepAlive(creds, connectionId);
    return status;
  }

  /**
   * At most once a minute per connection: `POST /tickle` keeps the session, and `GET /iserver/accounts` (which the
   * gateway wants before order endpoints in a fresh session) checks the account is still the login's.
   */
  async keepAlive(creds: IbkrCredentials, connectionId?: string): Promise<void> {
    const last = connectionId ? this.tickled.get(connectionId) : undefined;
    if (last !== undefined && Date.now() - last < TICKLE_EVERY_MS) return;
    this.expect(await this.send(creds, { method: 'POST', path: '/tickle', body: {} }), creds, ibkrTickleSchema, 'the session keep-alive');
    const { accounts } = await this.get(creds, '/iserver/accounts', ibkrAccountsSchema, 'the account list');
    if (!accounts.includes(creds.accountId)) {
      throw new BrokerError(
        'credentials_invalid',
        BROKER,
        `the account id ${keyHint(creds.accountId)} is not among the accounts of the login at this IBKR gateway`,
      );
    }
    if (connectionId) this.tickled.set(connectionId, Date.now());
  }
}

/** A refused URL is the user's to fix; a timeout after sending may have placed the order (ambiguous), before it nothing happened. */
function outboundFailure(err: OutboundError, method: GatewayCall['method'], creds: IbkrGatewayCredentials): BrokerError {
  // The gateway URL is sealed like a secret: the guard's message names its host, which is left out here.
  const host = new URL(creds.gatewayUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  const text = err.message.split(host).join('the gateway host');
  if (err.urlRefused) return new BrokerError('credentials_invalid', BROKER, `the IBKR gateway URL is refused: ${text}`);
  if (err.code === 'redirect_refused') return new BrokerError('credentials_invalid', BROKER, `the IBKR gateway redirected (${text}); give its API base URL`);
  return new BrokerError(method === 'GET' ? 'transient' : 'ambiguous', BROKER, `IBKR gateway: ${text}`);
}

function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
