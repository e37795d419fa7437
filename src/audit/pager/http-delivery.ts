import { request } from 'undici';
import type { DeliveryOutcome } from './pager-channel';

/**
 * POSTs a JSON body and classifies the answer. Errors carry the status or the network error code
 * only: channel URLs (a Slack webhook URL is itself a secret) never reach a message or a log.
 */
export async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<DeliveryOutcome> {
  let statusCode: number;
  let retryAfter: string | string[] | undefined;
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'switchyard-pager', ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump();
    statusCode = res.statusCode;
    retryAfter = res.headers['retry-after'];
  } catch (err) {
    const code = (err as { code?: string; name?: string }).code ?? (err as { name?: string }).name ?? 'unknown';
    return { kind: 'retry', error: `network error (${code})` };
  }
  if (statusCode >= 200 && statusCode < 300) return { kind: 'delivered' };
  const error = `HTTP ${statusCode}`;
  if (statusCode === 429) return { kind: 'retry', error, retryAfterMs: retryAfterMs(retryAfter) };
  if (statusCode >= 500 || statusCode === 408) return { kind: 'retry', error };
  return { kind: 'failed', error };
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
