import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { QueueConnection } from '../../../src/queue/queue-connection';
import { createWorkspace, http, HttpResult, RunningApi, startApi } from '../../support/api-app';
import type { TestDatabase } from '../../support/database';

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** Both queue backends: every queue-dependent suite runs once per backend. */
export const QUEUE_BACKENDS: [name: string, env: () => Record<string, string>][] = [
  ['postgres', () => ({})],
  ['redis', () => ({ REDIS_URL, QUEUE_PREFIX: `{sytest-${randomBytes(6).toString('hex')}}` })],
];

export interface HmacSource {
  id: string;
  secret: string;
  webhookUrl: string;
}

export interface TokenSource {
  id: string;
  token: string;
  webhookUrl: string;
}

export async function createHmacSource(api: RunningApi, token: string, body: Record<string, unknown> = {}): Promise<HmacSource> {
  const res = await http(api.url, 'POST', '/v1/sources', { token, body: { name: 'bot', auth: 'hmac', ...body } });
  if (res.status !== 201) throw new Error(`source create failed: ${res.status} ${res.text}`);
  return res.body;
}

export async function createTokenSource(api: RunningApi, token: string, body: Record<string, unknown> = {}): Promise<TokenSource> {
  const res = await http(api.url, 'POST', '/v1/sources', { token, body: { name: 'tradingview', auth: 'token', ...body } });
  if (res.status !== 201) throw new Error(`source create failed: ${res.status} ${res.text}`);
  return res.body;
}

/** Signs like a real Standard Webhooks sender (the `standardwebhooks` package). */
export function signedHeaders(secret: string, rawBody: string, options: { id?: string; at?: Date } = {}): Record<string, string> {
  const id = options.id ?? `msg_${randomBytes(8).toString('hex')}`;
  const at = options.at ?? new Date();
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, rawBody),
  };
}

export function signal(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ticker: 'NASDAQ:AAPL', action: 'buy', quantity: '10', ...overrides };
}

export function postSigned(
  api: RunningApi,
  source: HmacSource,
  body: unknown,
  options: { id?: string; at?: Date; secret?: string; path?: string } = {},
): Promise<HttpResult> {
  const rawBody = JSON.stringify(body);
  return http(api.url, 'POST', options.path ?? `/hooks/${source.id}`, { rawBody, headers: signedHeaders(options.secret ?? source.secret, rawBody, options) });
}

/** The route-signal queue as the api sees it. */
export async function signalQueue(api: RunningApi) {
  return api.app.get(QueueConnection).queue('route-signal');
}

export async function jobCount(api: RunningApi): Promise<number> {
  const counts = await (await signalQueue(api)).getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** Polls until `check` holds (queue and sweep are asynchronous); never a fixed sleep. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startSignalsApi(db: TestDatabase, env: Record<string, string> = {}) {
  const api = await startApi(db, env);
  const workspace = await createWorkspace(api);
  return { api, workspace };
}

/** A response body without its request id: what must be identical across refusals. */
export function withoutRequestId(body: Record<string, unknown>): Record<string, unknown> {
  const { requestId: _ignored, ...rest } = body;
  return rest;
}
