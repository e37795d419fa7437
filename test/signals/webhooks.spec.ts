import { randomUUID } from 'node:crypto';
import { createWorkspace, http, RunningApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';
import {
  createHmacSource,
  createTokenSource,
  eventually,
  HmacSource,
  jobCount,
  postSigned,
  QUEUE_BACKENDS,
  signal,
  signalQueue,
  signedHeaders,
  startSignalsApi,
  TokenSource,
  withoutRequestId,
} from './support/signals-harness';

describe.each(QUEUE_BACKENDS)('webhooks (%s queue)', (_backend, queueEnv) => {
  let db: TestDatabase;
  let api: RunningApi;
  let ownerToken: string;
  let workspaceId: string;
  let source: HmacSource;
  let otherSource: HmacSource;
  let tokenSource: TokenSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ({
      api,
      workspace: { token: ownerToken, id: workspaceId },
    } = await startSignalsApi(db, { ...queueEnv(), WEBHOOK_RATE_LIMIT_PER_MINUTE: '100000' }));
    source = await createHmacSource(api, ownerToken);
    otherSource = await createHmacSource(api, ownerToken);
    tokenSource = await createTokenSource(api, ownerToken);
  });

  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('persists, enqueues with the signal id as job id, and answers 202 queued', async () => {
    const res = await postSigned(api, source, signal({ comment: 'kept raw, not trusted' }));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ signalId: expect.any(String), status: 'queued', duplicate: false });
    const job = await (await signalQueue(api)).getJob(res.body.signalId);
    expect(job?.id).toBe(res.body.signalId);
    expect(job?.data).toEqual({ workspaceId, signalId: res.body.signalId });

    const [row] = await eventually(async () => {
      const rows = await db.adminQuery<{ status: string; enqueued_at: Date | null; payload: unknown; raw_payload: string }>(
        'SELECT status, enqueued_at, payload, raw_payload FROM signals WHERE id = $1',
        [res.body.signalId],
      );
      return rows[0]?.status === 'queued' && rows;
    });
    expect(row.enqueued_at).toBeInstanceOf(Date);
    expect(row.payload).toEqual({ ticker: 'NASDAQ:AAPL', action: 'buy', quantity: '10', orderType: 'market', ignoredFields: ['comment'] });
    expect(row.raw_payload).toContain('kept raw, not trusted');
  });

  it('refuses stale, future-dated, tampered, re-serialised, wrong-secret, missing-header and cross-source deliveries with one identical 401', async () => {
    const before = await jobCount(api);
    const body = signal();
    const raw = JSON.stringify(body);
    const now = Date.now();
    const sign = (options: Parameters<typeof signedHeaders>[2] = {}, secret = source.secret, rawBody = raw) => signedHeaders(secret, rawBody, options);
    const { 'webhook-signature': _dropped, ...unsigned } = sign();
    const attempts: [string, string, Record<string, string>, string][] = [
      ['stale', `/hooks/${source.id}`, sign({ at: new Date(now - 6 * 60_000) }), raw],
      ['future-dated', `/hooks/${source.id}`, sign({ at: new Date(now + 6 * 60_000) }), raw],
      ['tampered body', `/hooks/${source.id}`, sign(), raw.replace('"10"', '"1000"')],
      ['re-serialised body', `/hooks/${source.id}`, sign(), JSON.stringify(body, null, 2)],
      ['wrong secret', `/hooks/${source.id}`, sign({}, otherSource.secret), raw],
      ['missing signature header', `/hooks/${source.id}`, unsigned, raw],
      ['no headers', `/hooks/${source.id}`, { 'content-type': 'application/json' }, raw],
      ['cross-source (valid for another source)', `/hooks/${source.id}`, sign({}, otherSource.secret), raw],
      ['signed for this source, sent to another', `/hooks/${otherSource.id}`, sign(), raw],
      ['unknown source', `/hooks/${randomUUID()}`, sign(), raw],
      ['not a uuid', '/hooks/not-a-source', sign(), raw],
      ['hmac source on the token route', `/hooks/${source.id}/syw_${'a'.repeat(43)}`, sign(), raw],
      ['token source without a token', `/hooks/${tokenSource.id}`, sign(), raw],
      ['wrong token', `/hooks/${tokenSource.id}/syw_${'b'.repeat(43)}`, { 'content-type': 'application/json' }, raw],
    ];
    const reference = await http(api.url, 'POST', `/hooks/${randomUUID()}`, { rawBody: raw, headers: sign() });
    expect(reference.status).toBe(401);
    for (const [name, path, headers, rawBody] of attempts) {
      const res = await http(api.url, 'POST', path, { rawBody, headers });
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
      expect({ name, body: withoutRequestId(res.body) }).toEqual({ name, body: withoutRequestId(reference.body) });
      expect(res.headers.get('www-authenticate')).toBe(reference.headers.get('www-authenticate'));
    }
    expect(await jobCount(api)).toBe(before);
  });

  it('accepts TradingView text/plain bodies holding JSON on the token route', async () => {
    const tokenPath = new URL(tokenSource.webhookUrl).pathname;
    const res = await http(api.url, 'POST', tokenPath, {
      rawBody: JSON.stringify({ ticker: 'BINANCE:BTCUSDT', action: '{{strategy.order.action}}'.replace(/\{\{.*\}\}/, 'sell'), quantity: '0.5' }),
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
    expect(res.status).toBe(202);
    expect(res.body.duplicate).toBe(false);
    const text = await http(api.url, 'POST', tokenPath, { rawBody: 'sell BTC now', headers: { 'content-type': 'text/plain' } });
    expect([text.status, text.body.code]).toEqual([400, 'malformed_json']);
  });

  it('answers a duplicate with the first signal id and duplicate: true, and enqueues nothing new', async () => {
    const first = await postSigned(api, source, signal(), { id: 'msg_dup_1' });
    const jobs = await jobCount(api);
    const again = await postSigned(api, source, signal(), { id: 'msg_dup_1' });
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ signalId: first.body.signalId, status: expect.any(String), duplicate: true });

    // No webhook-id (token mode): the body's id, then a hash of the exact body.
    const tokenPath = new URL(tokenSource.webhookUrl).pathname;
    const byId = [signal({ id: 'order-7' }), signal({ id: 'order-7', quantity: '11' })];
    const a = await http(api.url, 'POST', tokenPath, { body: byId[0] });
    const b = await http(api.url, 'POST', tokenPath, { body: byId[1] });
    expect(b.body).toEqual({ signalId: a.body.signalId, status: expect.any(String), duplicate: true });
    const sameText = JSON.stringify(signal({ ticker: 'MSFT' }));
    const c = await http(api.url, 'POST', tokenPath, { rawBody: sameText, headers: { 'content-type': 'text/plain' } });
    const d = await http(api.url, 'POST', tokenPath, { rawBody: sameText, headers: { 'content-type': 'text/plain' } });
    expect(d.body).toEqual({ signalId: c.body.signalId, status: expect.any(String), duplicate: true });
    const e = await http(api.url, 'POST', tokenPath, { rawBody: sameText.replace('}', ',"n":1}'), headers: { 'content-type': 'text/plain' } });
    expect(e.body.duplicate).toBe(false);

    expect(await jobCount(api)).toBe(jobs + 3); // a, c and e only
  });

  it('turns 50 concurrent deliveries of one webhook-id into exactly one signal and one job', async () => {
    const jobs = await jobCount(api);
    const raw = JSON.stringify(signal({ ticker: 'TSLA' }));
    const headers = signedHeaders(source.secret, raw, { id: 'msg_concurrent' });
    const results = await Promise.all(Array.from({ length: 50 }, () => http(api.url, 'POST', `/hooks/${source.id}`, { rawBody: raw, headers })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(202));
    const ids = new Set(results.map((r) => r.body.signalId));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => !r.body.duplicate)).toHaveLength(1);
    const rows = await db.adminQuery("SELECT id FROM signals WHERE source_id = $1 AND idempotency_key = 'wh:msg_concurrent'", [source.id]);
    expect(rows).toHaveLength(1);
    expect(await jobCount(api)).toBe(jobs + 1);
  });

  it('answers 422 listing each bad field, and accepts numeric strings', async () => {
    const res = await postSigned(api, source, { ticker: '', action: 'hold', quantity: 'ten', orderType: 'limit' });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['action', 'limitPrice', 'quantity', 'ticker']);
    const ok = await postSigned(api, source, signal({ quantity: '3', orderType: 'stop_limit', limitPrice: '101.5', stopPrice: 100, takeProfit: '120' }));
    expect(ok.status).toBe(202);
  });

  it('sends security headers on webhook responses', async () => {
    for (const res of [await postSigned(api, source, signal()), await http(api.url, 'POST', `/hooks/${randomUUID()}`, { body: signal() })]) {
      expect(res.headers.get('strict-transport-security')).toContain('max-age=');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('never writes a webhook secret or token to the log', async () => {
    expect(api.logs.lines.length).toBeGreaterThan(0);
    for (const value of [source.secret, source.secret.slice('whsec_'.length), otherSource.secret, tokenSource.token]) {
      expect(api.logs.text).not.toContain(value);
    }
  });
});

describe('signal read API', () => {
  let db: TestDatabase;
  let api: RunningApi;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('lists and shows signals with their status and orders, and hides them from other workspaces', async () => {
    const started = await startSignalsApi(db);
    api = started.api;
    const token = started.workspace.token;
    const source = await createHmacSource(api, token);
    const accepted = [];
    for (let i = 0; i < 3; i++) accepted.push((await postSigned(api, source, signal({ id: `s-${i}` }))).body.signalId);

    const page1 = await http(api.url, 'GET', '/v1/signals?limit=2', { token });
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((s: { id: string }) => s.id)).toEqual([accepted[2], accepted[1]]);
    const page2 = await http(api.url, 'GET', `/v1/signals?limit=2&cursor=${page1.body.nextCursor}`, { token });
    expect(page2.body.items.map((s: { id: string }) => s.id)).toEqual([accepted[0]]);
    expect(page2.body.nextCursor).toBeNull();

    const one = await http(api.url, 'GET', `/v1/signals/${accepted[0]}`, { token });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: accepted[0], sourceId: source.id, payload: { ticker: 'NASDAQ:AAPL', id: 's-0' }, orders: [] });
    expect(['received', 'queued']).toContain(one.body.status);
    expect(one.body).not.toHaveProperty('rawPayload');

    const other = await createWorkspace(api);
    expect((await http(api.url, 'GET', `/v1/signals/${accepted[0]}`, { token: other.token })).status).toBe(404);
    expect((await http(api.url, 'GET', '/v1/signals', { token: other.token })).body.items).toEqual([]);
    expect((await http(api.url, 'GET', `/v1/sources/${source.id}`, { token: other.token })).status).toBe(404);
  });
});
