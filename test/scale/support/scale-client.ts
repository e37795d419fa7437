import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { http, type HttpResult } from '../../support/http-client';

export async function expectOk<T = any>(reply: Promise<HttpResult<T>>, status: number, what: string): Promise<T> {
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
export function deliver(apiUrl: string, source: HmacSource, body: unknown, webhookId: string): Promise<HttpResult> {
  const raw = JSON.stringify(body);
  const at = new Date();
  return http(apiUrl, 'POST', `/hooks/${source.id}`, {
    rawBody: raw,
    headers: {
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(source.secret).sign(webhookId, at, raw),
    },
  });
}
