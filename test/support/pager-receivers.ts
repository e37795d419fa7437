import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** up: answers like the real service; down: 503; throttled: 429 with Retry-After: 1. */
export type ReceiverMode = 'up' | 'down' | 'throttled';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The parsed body, or undefined when it is not JSON. */
  json: unknown;
  /** What the receiver answered. */
  status: number;
}

export interface PagerReceiver {
  /** The URL to configure (PAGER_PAGERDUTY_URL, PAGER_SLACK_WEBHOOK_URL or PAGER_WEBHOOK_URL). */
  url: string;
  requests: RecordedRequest[];
  /** Requests answered 2xx. */
  accepted(): RecordedRequest[];
  setMode(mode: ReceiverMode): void;
  /** Resolves once `count` requests have been accepted; rejects after `timeoutMs`. */
  waitForAccepted(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Resolves once `count` requests arrived, whatever they were answered. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

type Answer = { status: number; body: unknown };
type Handler = (req: { method: string; path: string; headers: IncomingHttpHeaders; body: string; json: unknown }) => Answer;

const SEVERITIES = ['critical', 'error', 'warning', 'info'];
const ACTIONS = ['trigger', 'acknowledge', 'resolve'];

/**
 * PagerDuty Events API v2 (`POST /v2/enqueue`), validating like the real API: a 32-character
 * routing_key, a known event_action, a dedup_key for acknowledge/resolve, and payload.summary,
 * payload.source and payload.severity on a trigger. 202 {status, message, dedup_key} or 400.
 */
export function startPagerDutyReceiver(): Promise<PagerReceiver> {
  return startReceiver('/v2/enqueue', ({ method, path, json }) => {
    if (method !== 'POST' || path !== '/v2/enqueue') return { status: 404, body: { status: 'not found' } };
    const errors = pagerDutyErrors(json);
    if (errors.length > 0) return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } };
    const event = json as { dedup_key?: string };
    return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: event.dedup_key ?? randomUUID().replace(/-/g, '') } };
  });
}

/** Slack incoming webhook: 200 "ok" for a JSON body with `text`, 400 "invalid_payload" otherwise. */
export function startSlackReceiver(): Promise<PagerReceiver> {
  return startReceiver('/services/T0000/B0000/hook', ({ method, json }) => {
    const text = (json as { text?: unknown } | undefined)?.text;
    if (method !== 'POST' || typeof text !== 'string' || text.length === 0) return { status: 400, body: 'invalid_payload' };
    return { status: 200, body: 'ok' };
  });
}

/** A generic webhook receiver that verifies the Standard Webhooks signature (401 when it does not verify). */
export function startWebhookReceiver(secret: string): Promise<PagerReceiver> {
  const verifier = new Webhook(secret);
  return startReceiver('/alerts', ({ headers, body }) => {
    try {
      verifier.verify(body, {
        'webhook-id': String(headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(headers['webhook-signature'] ?? ''),
      });
    } catch {
      return { status: 401, body: { error: 'invalid signature' } };
    }
    return { status: 204, body: '' };
  });
}

function pagerDutyErrors(json: unknown): string[] {
  if (typeof json !== 'object' || json === null) return ['Event object is not valid JSON'];
  const e = json as Record<string, unknown>;
  const errors: string[] = [];
  if (typeof e.routing_key !== 'string' || e.routing_key.length !== 32) errors.push("'routing_key' is invalid");
  if (typeof e.event_action !== 'string' || !ACTIONS.includes(e.event_action)) errors.push("'event_action' is invalid");
  if (e.dedup_key !== undefined && (typeof e.dedup_key !== 'string' || e.dedup_key.length === 0 || e.dedup_key.length > 255))
    errors.push("'dedup_key' is invalid");
  if (e.event_action !== 'trigger') {
    if (e.dedup_key === undefined) errors.push("'dedup_key' is missing");
    return errors;
  }
  // links: an array of { href, text? } (PagerDuty shows them on the incident).
  if (
    e.links !== undefined &&
    (!Array.isArray(e.links) || !e.links.every((l) => typeof l?.href === 'string' && (l.text === undefined || typeof l.text === 'string')))
  )
    errors.push("'links' is invalid");
  const p = e.payload as Record<string, unknown> | undefined;
  if (typeof p !== 'object' || p === null) return [...errors, "'payload' is missing"];
  if (typeof p.summary !== 'string' || p.summary.length === 0 || p.summary.length > 1024) errors.push("'payload.summary' is invalid");
  if (typeof p.source !== 'string' || p.source.length === 0) errors.push("'payload.source' is invalid");
  if (typeof p.severity !== 'string' || !SEVERITIES.includes(p.severity)) errors.push("'payload.severity' is invalid");
  if (p.timestamp !== undefined && (typeof p.timestamp !== 'string' || Number.isNaN(Date.parse(p.timestamp)))) errors.push("'payload.timestamp' is invalid");
  if (p.custom_details !== undefined && (typeof p.custom_details !== 'object' || p.custom_details === null)) errors.push("'payload.custom_details' is invalid");
  return errors;
}

async function startReceiver(path: string, handle: Handler): Promise<PagerReceiver> {
  let mode: ReceiverMode = 'up';
  const requests: RecordedRequest[] = [];
  const events = new EventEmitter();

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    const seen = { method: req.method ?? '', path: (req.url ?? '').split('?')[0], headers: req.headers, body, json };
    const answer: Answer =
      mode === 'down' ? { status: 503, body: { status: 'unavailable' } } : mode === 'throttled' ? { status: 429, body: { status: 'throttled' } } : handle(seen);
    requests.push({ ...seen, status: answer.status });
    if (mode === 'throttled') res.setHeader('retry-after', '1');
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'content-type': typeof answer.body === 'string' ? 'text/plain' : 'application/json' });
    res.end(text);
    events.emit('request');
  };
  // A request that fails mid-read is dropped, never an unhandled rejection.
  const server = createServer((req, res) => void serve(req, res).catch((err: Error) => res.destroy(err)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const accepted = () => requests.filter((r) => r.status >= 200 && r.status < 300);
  const waitFor = (select: () => RecordedRequest[], count: number, timeoutMs: number) =>
    new Promise<RecordedRequest[]>((resolve, reject) => {
      const check = () => {
        if (select().length < count) return;
        cleanup();
        resolve(select());
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`receiver ${path}: expected ${count} requests, got ${select().length} (${requests.length} in all)`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        events.off('request', check);
      };
      events.on('request', check);
      check();
    });

  return {
    url: `${base}${path}`,
    requests,
    accepted,
    setMode: (m) => void (mode = m),
    waitForAccepted: (count, timeoutMs = 10_000) => waitFor(accepted, count, timeoutMs),
    waitForRequests: (count, timeoutMs = 10_000) => waitFor(() => requests, count, timeoutMs),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
