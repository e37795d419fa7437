import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { PG_POOL } from '../../src/database/database.tokens';
import { LocalKmsProvider } from '../../src/kms/local-kms.provider';
import { EnqueuedMarker } from '../../src/signals/enqueued-marker';
import { SignalRecoverySweep } from '../../src/signals/signal-recovery.sweep';
import { SIGNATURE_FAILURE_THRESHOLD } from '../../src/signals/signature-failure-monitor';
import { TRADINGVIEW_WEBHOOK_IPS } from '../../src/signals/tradingview-ips';
import { http, RunningApi, startApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { createHmacSource, createTokenSource, eventually, postSigned, signal, startSignalsApi, withoutRequestId } from './support/signals-harness';

describe('sources and webhook authentication', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let token: string;
  let workspaceId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    ({
      api,
      workspace: { token, id: workspaceId },
    } = await startSignalsApi(db));
  });

  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('shows the secret once, stores token hashes and sealed HMAC secrets only', async () => {
    const hmac = await createHmacSource(api, token, { name: 'bot' });
    expect(hmac.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(hmac.webhookUrl).toBe(`${api.config.http.publicBaseUrl}/hooks/${hmac.id}`);
    const tv = await createTokenSource(api, token);
    expect(tv.token).toMatch(/^syw_/);
    expect(tv.webhookUrl).toBe(`${api.config.http.publicBaseUrl}/hooks/${tv.id}/${tv.token}`);

    const list = await http(api.url, 'GET', '/v1/sources', { token });
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(hmac.secret.slice(6));
    expect(list.text).not.toContain(tv.token);
    expect(list.body.items.find((s: { id: string }) => s.id === tv.id).webhookUrl).toMatch(/\/hooks\/[0-9a-f-]{36}\/\{token\}$/);

    const rows = await db.adminQuery<{ token_hash: Buffer | null; ciphertext: Buffer | null; wrapped_key: Buffer | null }>(
      'SELECT token_hash, ciphertext, wrapped_key FROM source_secrets WHERE source_id = ANY($1::uuid[]) ORDER BY source_id = $2 DESC',
      [[hmac.id, tv.id], hmac.id],
    );
    const rawKey = Buffer.from(hmac.secret.slice(6), 'base64');
    expect(rows[0].token_hash).toBeNull();
    expect(rows[0].ciphertext!.includes(rawKey)).toBe(false);
    expect(rows[0].wrapped_key).not.toBeNull();
    expect(rows[1].ciphertext).toBeNull();
    expect(rows[1].token_hash!.toString('hex')).not.toContain(Buffer.from(tv.token).toString('hex'));

    const actions = await db.adminQuery<{ action: string }>("SELECT action FROM audit_events WHERE workspace_id = $1 AND action LIKE 'source.%'", [
      workspaceId,
    ]);
    expect(actions.map((a) => a.action)).toEqual(['source.create', 'source.create']);
  });

  it('validates the create body and needs the admin role', async () => {
    const bad = await http(api.url, 'POST', '/v1/sources', { token, body: { name: '', auth: 'basic', allowedIps: ['10.0.0.0/33', 'example.com'] } });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['allowedIps.0', 'allowedIps.1', 'auth', 'name']);
    const viewer = await http(api.url, 'POST', '/v1/tokens', { token, body: { name: 'viewer', role: 'viewer' } });
    const forbidden = await http(api.url, 'POST', '/v1/sources', { token: viewer.body.token, body: { name: 'x', auth: 'hmac' } });
    expect(forbidden.status).toBe(403);
  });

  it('accepts old and new secrets during the grace period and only the new one after it', async () => {
    const source = await createHmacSource(api, token);
    const rotated = await http(api.url, 'POST', `/v1/sources/${source.id}/rotate-secret`, { token, body: { graceSeconds: 2 } });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secretVersion).toBe(2);
    expect(rotated.body.secret).not.toBe(source.secret);
    expect(Date.parse(rotated.body.previousSecretValidUntil)).toBeGreaterThan(Date.now());
    const newSecret = rotated.body.secret as string;

    expect((await postSigned(api, source, signal(), { secret: source.secret })).status).toBe(202);
    expect((await postSigned(api, source, signal(), { secret: newSecret })).status).toBe(202);

    // After the grace period the old secret is refused, on its own and next to a bogus signature.
    await eventually(async () => (await postSigned(api, source, signal(), { secret: source.secret })).status === 401, 5_000);
    expect((await postSigned(api, source, signal(), { secret: newSecret })).status).toBe(202);

    const now = await http(api.url, 'POST', `/v1/sources/${source.id}/rotate-secret`, { token, body: { graceSeconds: 0 } });
    expect((await postSigned(api, source, signal(), { secret: newSecret })).status).toBe(401);
    expect((await postSigned(api, source, signal(), { secret: now.body.secret })).status).toBe(202);
    const shredded = await db.adminQuery(
      'SELECT version FROM source_secrets WHERE source_id = $1 AND destroyed_at IS NOT NULL AND ciphertext IS NULL ORDER BY version',
      [source.id],
    );
    expect(shredded).toEqual([{ version: 1 }, { version: 2 }]);
  });

  it('rotates token-mode tokens with the same grace rules', async () => {
    const source = await createTokenSource(api, token);
    const rotated = await http(api.url, 'POST', `/v1/sources/${source.id}/rotate-secret`, { token });
    expect(rotated.status).toBe(200);
    expect(rotated.body.webhookUrl).toContain(rotated.body.token);
    for (const url of [source.webhookUrl, rotated.body.webhookUrl]) {
      expect((await http(api.url, 'POST', new URL(url).pathname, { body: signal() })).status).toBe(202);
    }
    await http(api.url, 'POST', `/v1/sources/${source.id}/rotate-secret`, { token, body: { graceSeconds: 0 } });
    expect((await http(api.url, 'POST', new URL(rotated.body.webhookUrl).pathname, { body: signal() })).status).toBe(401);
  });

  it('stops authenticating a deleted source at once, like an unknown one', async () => {
    const source = await createHmacSource(api, token);
    expect((await postSigned(api, source, signal())).status).toBe(202);
    expect((await http(api.url, 'DELETE', `/v1/sources/${source.id}`, { token })).status).toBe(204);
    const after = await postSigned(api, source, signal());
    const unknown = await postSigned(api, { ...source, id: randomUUID() }, signal());
    expect(after.status).toBe(401);
    expect(withoutRequestId(after.body)).toEqual(withoutRequestId(unknown.body));
    expect((await http(api.url, 'GET', `/v1/sources/${source.id}`, { token })).status).toBe(404);
    const [secret] = await db.adminQuery<{ ciphertext: Buffer | null; destroyed_at: Date | null }>(
      'SELECT ciphertext, destroyed_at FROM source_secrets WHERE source_id = $1',
      [source.id],
    );
    expect(secret.ciphertext).toBeNull();
    expect(secret.destroyed_at).toBeInstanceOf(Date);
  });

  it('enforces the IP allowlist, with a TradingView preset', async () => {
    const tvOnly = await createTokenSource(api, token, { allowedIps: ['tradingview'] });
    expect(tvOnly.webhookUrl).toBeDefined();
    const listed = await http(api.url, 'GET', `/v1/sources/${tvOnly.id}`, { token });
    expect(listed.body.allowedIps).toEqual(['tradingview']);
    expect(TRADINGVIEW_WEBHOOK_IPS).toContain('52.89.214.238');
    expect((await http(api.url, 'POST', new URL(tvOnly.webhookUrl).pathname, { body: signal() })).status).toBe(401);

    const local = await createTokenSource(api, token, { allowedIps: ['tradingview', '127.0.0.0/8'] });
    expect((await http(api.url, 'POST', new URL(local.webhookUrl).pathname, { body: signal() })).status).toBe(202);
  });

  it('raises an alert through the audit trail after repeated signature failures on a source', async () => {
    const source = await createHmacSource(api, token);
    const other = await createHmacSource(api, token);
    for (let i = 0; i < SIGNATURE_FAILURE_THRESHOLD; i++) {
      expect((await postSigned(api, source, signal(), { secret: other.secret })).status).toBe(401);
    }
    const alert = await eventually(async () => {
      const res = await http(api.url, 'GET', '/v1/alerts', { token });
      return res.body.items?.find((a: { rule: string; resource: { id: string } }) => a.rule === 'source.signature_failures' && a.resource.id === source.id);
    });
    expect(alert.severity).toBe('warning');
    const events = await db.adminQuery("SELECT resource_id FROM audit_events WHERE action = 'source.signature_failures' AND workspace_id = $1", [workspaceId]);
    expect(events).toEqual([{ resource_id: source.id }]);
  });

  it('keeps the KMS and everything but one resolve query, the two limit counters and one transaction off the webhook path', async () => {
    const source = await createHmacSource(api, token);
    expect((await postSigned(api, source, signal())).status).toBe(202);

    // On the provider class: every module holds its own provider instance, and none may be asked on this path.
    const decrypt = jest.spyOn(LocalKmsProvider.prototype, 'decrypt');
    const generate = jest.spyOn(LocalKmsProvider.prototype, 'generateDataKey');
    const pool = api.app.get<Pool>(PG_POOL, { strict: false });
    const marker = api.app.get(EnqueuedMarker, { strict: false });
    const statements: string[] = [];
    // Hot-path statements are passed as { name, text, values }.
    const words = (statement: unknown, n: number) =>
      String(typeof statement === 'object' && statement !== null ? (statement as { text: string }).text : statement)
        .trim()
        .split(/\s+/)
        .slice(0, n)
        .join(' ');
    const connect = pool.connect.bind(pool);
    // pool.query checks out a client through connect(callback); only TenantDb's promise checkouts are wrapped.
    const spyConnect = jest.spyOn(pool, 'connect').mockImplementation(((callback?: unknown) => {
      if (typeof callback === 'function') return connect(callback as never);
      return wrapped();
    }) as never);
    const wrapped = async () => {
      const client = (await connect()) as PoolClient;
      const clientQuery = client.query.bind(client);
      client.query = ((text: string, values?: unknown[]) => {
        statements.push(`tx: ${words(text, 2)}`);
        return clientQuery(text, values as never);
      }) as never;
      const release = client.release.bind(client);
      client.release = ((err?: Error | boolean) => {
        client.query = clientQuery as never;
        client.release = release;
        return release(err);
      }) as never;
      return client;
    };
    const poolQuery = pool.query.bind(pool);
    const spyQuery = jest.spyOn(pool, 'query').mockImplementation(((text: string, values?: unknown[]) => {
      // A sweep pass already in flight when it was paused is not the request's doing.
      if (!words(text, 99).includes('signals_awaiting_enqueue')) statements.push(`pool: ${words(text, 4)}`);
      return poolQuery(text, values as never);
    }) as never);
    // Background work (the sweep, pending enqueue marks) is quiesced so only the request's statements are seen.
    const mark = jest.spyOn(marker, 'mark').mockImplementation(() => undefined);
    const sweep = jest.spyOn(api.app.get(SignalRecoverySweep, { strict: false }), 'sweepOnce').mockResolvedValue(0);
    await marker.flush();
    statements.length = 0;
    try {
      const res = await postSigned(api, source, signal({ id: 'hot-path' }));
      expect(res.status).toBe(202);
      // The PostgreSQL limit store (no REDIS_URL here) counts the sender IP before the lookup and the source after it.
      expect(statements).toEqual([
        'pool: INSERT INTO limit_counters AS',
        'pool: SELECT workspace_id, auth_mode, allowed_ips,',
        'pool: INSERT INTO limit_counters AS',
        'tx: BEGIN; SELECT',
        'tx: INSERT INTO',
        'tx: COMMIT',
      ]);
      expect(decrypt).not.toHaveBeenCalled();
      expect(generate).not.toHaveBeenCalled();
    } finally {
      spyConnect.mockRestore();
      spyQuery.mockRestore();
      mark.mockRestore();
      sweep.mockRestore();
      decrypt.mockRestore();
      generate.mockRestore();
    }
  });

  it('opens a cold HMAC key once for concurrent first deliveries, then serves it from memory', async () => {
    const source = await createHmacSource(api, token);
    const cold = await startApi(db, { DATA_DIR: api.config.dataDir });
    // On the provider class: each module holds its own provider instance (signals, credentials, webhooks out).
    const decrypt = jest.spyOn(LocalKmsProvider.prototype, 'decrypt');
    try {
      const results = await Promise.all(Array.from({ length: 20 }, () => postSigned(cold, source, signal())));
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(202));
      expect((await postSigned(cold, source, signal())).status).toBe(202);
      expect(decrypt).toHaveBeenCalledTimes(1);
    } finally {
      decrypt.mockRestore();
      await cold.close();
    }
  });
});

describe('abuse controls', () => {
  let db: TestDatabase;
  let api: RunningApi;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('limits per source and per IP with 429 and Retry-After, and refuses oversized bodies with 413', async () => {
    // Each counter's window starts at its first delivery (60 s), so the test never straddles two.
    const started = await startSignalsApi(db, { WEBHOOK_RATE_LIMIT_PER_MINUTE: '3', WEBHOOK_IP_RATE_LIMIT_PER_MINUTE: '12', BODY_LIMIT_BYTES: '4096' });
    api = started.api;
    const source = await createHmacSource(api, started.workspace.token);
    const other = await createHmacSource(api, started.workspace.token);

    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await postSigned(api, source, signal())).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    const limited = await postSigned(api, source, signal());
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    // Another source still has its own budget.
    expect((await postSigned(api, other, signal())).status).toBe(202);

    const tooBig = await postSigned(api, other, signal({ note: 'x'.repeat(5000) }));
    expect([tooBig.status, tooBig.body.code]).toEqual([413, 'payload_too_large']);

    // 6 requests so far from this IP (the 413 never reached the limiter); unknown sources count too.
    const more = [];
    for (let i = 0; i < 7; i++) more.push((await postSigned(api, { ...source, id: randomUUID() }, signal())).status);
    expect(more).toEqual([401, 401, 401, 401, 401, 401, 429]);
    const ipLimited = await postSigned(api, other, signal());
    expect(ipLimited.status).toBe(429);
    expect(ipLimited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(ipLimited.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
