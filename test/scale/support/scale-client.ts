import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export interface Reply<T = any> {
  status: number;
  body: T;
  text: string;
}

/** A small JSON client; never throws on 4xx/5xx. */
export async function call<T = any>(baseUrl: string, method: string, path: string, options: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body = options.raw;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* keep text */
  }
  return { status: res.status, body: parsed as T, text };
}

export async function expectOk<T = any>(reply: Promise<Reply<T>>, status: number, what: string): Promise<T> {
  const r = await reply;
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.text}`);
  return r.body;
}

export interface HmacSource {
  id: string;
  secret: string;
}

export function newWebhookId(): string {
  return `msg_${randomBytes(10).toString('hex')}`;
}

/** A Standard Webhooks delivery, signed as a real sender does (a redelivery signs again with the same id). */
export function deliver(apiUrl: string, source: HmacSource, body: unknown, webhookId: string): Promise<Reply> {
  const raw = JSON.stringify(body);
  const at = new Date();
  return call(apiUrl, 'POST', `/hooks/${source.id}`, {
    raw,
    headers: {
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(source.secret).sign(webhookId, at, raw),
    },
  });
}
