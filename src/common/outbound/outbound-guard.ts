import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import { ConfigError, type OutboundSettings } from '../../config/app-config';
import { nonPublicRange, OutboundAllowList } from './address-policy';
import { OutboundError } from './outbound-error';

/** Resolves a host name to every address it has (the guard checks all of them). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/** A URL that passed the checks, with the one address its connection is pinned to. */
export interface CheckedUrl {
  url: URL;
  host: string;
  address: string;
  family: 4 | 6;
}

export interface OutboundRequest {
  method?: 'GET' | 'POST' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
}

export interface OutboundResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** At most OUTBOUND_MAX_RESPONSE_BYTES (a longer body is refused). */
  body: Buffer;
}

/**
 * The one way Switchyard fetches a URL a user gave it: https only; the host resolved here and refused if any
 * address is loopback, private, CGNAT, link-local (cloud metadata), unspecified, multicast or reserved (IPv4-mapped
 * IPv6 judged as IPv4) unless the operator's allowlist names the host or covers the address; the connection
 * pinned to the checked address (a second DNS answer cannot swap it: no rebinding); redirects never followed;
 * connect and total timeouts; the response body capped.
 */
export class OutboundGuard {
  private readonly allow: OutboundAllowList;
  private readonly ca?: string[];

  constructor(
    private readonly settings: OutboundSettings,
    private readonly resolve: Resolver = systemResolver,
  ) {
    this.allow = new OutboundAllowList(settings.allowHosts);
    // A private CA is trusted besides the system's, never instead of it.
    if (settings.caFile) this.ca = [...rootCertificates, readCaBundle(settings.caFile)];
  }

  /** Checks a URL without fetching it (registration); throws OutboundError with the refusal's code. */
  async assertPublicUrl(raw: string): Promise<CheckedUrl> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new OutboundError('url_invalid', 'the URL is not a valid absolute URL');
    }
    if (url.protocol !== 'https:') throw new OutboundError('url_not_https', 'the URL must use https');
    if (url.username || url.password) throw new OutboundError('url_has_credentials', 'the URL must not carry a user name or password');
    // WHATWG URL parsing has already turned numeric IPv4 forms (2130706433, 0x7f.1) into dotted quads.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    const literal = nonPublicRange(host) !== 'invalid';
    let addresses: LookupAddress[];
    if (literal) {
      addresses = [{ address: host, family: host.includes(':') ? 6 : 4 }];
    } else {
      addresses = await this.resolve(host).catch(() => []);
      if (addresses.length === 0) throw new OutboundError('url_unresolvable', `the host ${host} does not resolve`);
    }
    if (!this.allow.allowsHost(host)) {
      for (const { address } of addresses) {
        const range = nonPublicRange(address);
        if (range && !this.allow.allowsAddress(address)) {
          throw new OutboundError(
            'url_private_address',
            `the host ${host} ${literal ? 'is' : 'resolves to'} a non-public address (${range}); only an operator allowlist entry (OUTBOUND_ALLOW_HOSTS) admits it`,
          );
        }
      }
    }
    const [first] = addresses;
    return { url, host, address: first.address, family: first.family === 6 ? 6 : 4 };
  }

  /** Checks the URL, then sends one request to the checked address. A 3xx answer is an error (redirect_refused). */
  async fetch(raw: string, init: OutboundRequest = {}): Promise<OutboundResponse> {
    const checked = await this.assertPublicUrl(raw);
    const { connectTimeoutMs, timeoutMs, maxResponseBytes } = this.settings;
    const agent = new Agent({
      connect: { timeout: connectTimeoutMs, lookup: pinnedLookup(checked), ...(this.ca && { ca: this.ca }) },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connections: 1,
    });
    try {
      const res = await request(checked.url, {
        method: init.method ?? 'GET',
        headers: init.headers,
        body: init.body,
        dispatcher: agent,
        signal: AbortSignal.timeout(timeoutMs),
      }).catch((err: unknown) => {
        throw transportError(err, checked.host);
      });
      if (res.statusCode >= 300 && res.statusCode < 400) {
        discard(res.body);
        throw new OutboundError('redirect_refused', `${checked.host} answered ${res.statusCode} (a redirect), which is not followed`);
      }
      const body = await readCapped(res.body, maxResponseBytes, checked.host).catch((err: unknown) => {
        throw err instanceof OutboundError ? err : transportError(err, checked.host);
      });
      return { statusCode: res.statusCode, headers: res.headers, body };
    } finally {
      agent.destroy().catch(() => undefined);
    }
  }
}

/** The operator's extra CA bundle; a missing or non-PEM file stops start-up with one clear line. */
function readCaBundle(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid configuration: OUTBOUND_CA_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`invalid configuration: OUTBOUND_CA_FILE: ${path} holds no PEM certificate`);
  return pem;
}

/** A DNS lookup that answers only the address the guard checked, so the socket cannot reach another. */
function pinnedLookup(checked: CheckedUrl): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) (callback as (err: null, addresses: LookupAddress[]) => void)(null, [{ address: checked.address, family: checked.family }]);
    else callback(null, checked.address, checked.family);
  };
}

type Body = AsyncIterable<Buffer> & { destroy(): void; on(event: 'error', listener: () => void): unknown };

/** Drops an unread body; the abort it raises is expected, not an unhandled error. */
function discard(body: Body): void {
  body.on('error', () => undefined);
  body.destroy();
}

async function readCapped(body: Body, max: number, host: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      discard(body);
      throw new OutboundError('response_too_large', `${host} answered with a body over ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const TIMEOUTS = new Set(['TimeoutError', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The network error's code only (ECONNREFUSED, a TLS verification code): nothing of the request or its URL. */
function transportError(err: unknown, host: string): OutboundError {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? e?.name ?? 'unknown';
  if (TIMEOUTS.has(code) || TIMEOUTS.has(e?.name ?? '')) return new OutboundError('outbound_timeout', `${host} did not answer in time`);
  return new OutboundError('outbound_network_error', `could not reach ${host} (${code})`);
}
