import { Webhook } from 'standardwebhooks';
import { http } from '../support/api-app';
import { Client } from 'pg';
import { WebhookDispatcher } from '../../src/webhooks/webhook-dispatcher';
import { startWorker } from '../support/worker-app';
import { HttpsReceiver, selfSignedCertificate, TestCertificate } from '../support/https-receiver';
import { canaryForms, scanDatabase, scanRedis, scanTexts } from '../faults/support/leak-scan';
import { REDIS_URL, RoutingWorld } from '../routing/routing-harness';

/**
 * Order webhooks out, end to end on real PostgreSQL + Redis: the api registers endpoints (URL checked by the SSRF guard),
 * order transitions write the outbox in their own transaction, the worker signs (Standard Webhooks) and delivers
 * to an HTTPS receiver with a self-signed certificate (trusted through OUTBOUND_CA_FILE), retrying with backoff.
 */
describe('order webhooks out', () => {
  let cert: TestCertificate;
  let world: RoutingWorld;
  const receivers: HttpsReceiver[] = [];
  /** Every signing secret the api showed, for the canary scan at the end. */
  const secrets: string[] = [];
  /** Every response body after creation/rotation, for the canary scan. */
  const laterResponses: string[] = [];

  beforeAll(async () => {
    cert = selfSignedCertificate();
    world = await RoutingWorld.start('redis', {
      OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
      OUTBOUND_CA_FILE: cert.caFile,
      OUTBOUND_TIMEOUT_MS: '2000',
      WEBHOOK_DELIVERY_INTERVAL_MS: '50',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_MAX_ATTEMPTS: '4',
      ORDER_SYNC_INTERVAL_MS: '100',
    });
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.stop()));
    await world?.stop();
  });

  async function receiver(): Promise<HttpsReceiver> {
    const r = await HttpsReceiver.start(cert);
    receivers.push(r);
    return r;
  }

  async function register(token: string, url: string, body: Record<string, unknown> = {}) {
    const res = await http(world.api.url, 'POST', '/v1/webhooks', { token, body: { url, ...body } });
    if (res.status === 201) secrets.push(res.body.secret);
    return res;
  }

  async function get(token: string, path: string) {
    const res = await http(world.api.url, 'GET', path, { token });
    laterResponses.push(res.text);
    return res;
  }

  /** A paper connection, an HMAC source and a route of `quantity`, with a webhook endpoint on a fresh receiver. */
  async function tradingWorkspace(quantity = '2', events?: string[]) {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: quantity } });
    const hooks = await receiver();
    const created = await register(ws.token, hooks.url(), events ? { events } : {});
    expect(created.status).toBe(201);
    hooks.secret = created.body.secret;
    return { ws, connection, source, hooks, endpoint: created.body };
  }

  async function deliveriesUntil(token: string, endpointId: string, done: (items: any[]) => boolean, timeoutMs = 15_000): Promise<any[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await get(token, `/v1/webhooks/${endpointId}/deliveries`);
      expect(res.status).toBe(200);
      if (done(res.body.items)) return res.body.items;
      if (Date.now() > deadline) throw new Error(`deliveries never got there: ${JSON.stringify(res.body.items)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  describe('registration', () => {
    it('creates an endpoint and shows its Standard Webhooks secret once; lists and reads never show it', async () => {
      const ws = await world.workspace();
      const created = await register(ws.token, 'https://127.0.0.1:9/hooks?tag=1', { description: 'fills to my bot', events: ['order.filled', 'order.filled'] });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        url: 'https://127.0.0.1:9/hooks?tag=1',
        events: ['order.filled'],
        description: 'fills to my bot',
        secretVersion: 1,
      });
      expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

      const list = await get(ws.token, '/v1/webhooks');
      expect(list.body).toEqual({ items: [expect.objectContaining({ id: created.body.id })], nextCursor: null });
      expect(list.body.items[0]).not.toHaveProperty('secret');
      const one = await get(ws.token, `/v1/webhooks/${created.body.id}`);
      expect(one.status).toBe(200);
      expect(one.body).not.toHaveProperty('secret');

      const defaults = await register(ws.token, 'https://127.0.0.1:9/all');
      expect(defaults.body.events).toEqual(['order.accepted', 'order.partially_filled', 'order.filled', 'order.canceled', 'order.expired', 'order.rejected']);

      const audit = await get(ws.token, '/v1/audit?action=webhook.create');
      expect(audit.body.items.map((e: any) => e.resource.id).sort()).toEqual([created.body.id, defaults.body.id].sort());
      expect(JSON.stringify(audit.body)).not.toContain('tag=1'); // the audit names the host, not the URL

      // Another workspace sees none of it.
      const other = await world.workspace();
      expect((await get(other.token, `/v1/webhooks/${created.body.id}`)).status).toBe(404);
      expect((await get(other.token, `/v1/webhooks/${created.body.id}/deliveries`)).status).toBe(404);
      expect((await http(world.api.url, 'DELETE', `/v1/webhooks/${created.body.id}`, { token: other.token })).status).toBe(404);
    });

    it.each([
      ['http://127.0.0.1:9/hooks', 'url_not_https'],
      ['https://10.0.0.1/hooks', 'url_private_address'],
      ['https://169.254.169.254/latest/meta-data/', 'url_private_address'],
      ['https://[::1]:9/hooks', 'url_private_address'],
      ['https://[::ffff:192.168.0.1]/hooks', 'url_private_address'],
      ['https://user:pw@127.0.0.1:9/', 'url_has_credentials'],
      ['https://does-not-exist.invalid/hooks', 'url_unresolvable'],
    ])('refuses %s with a 422 problem %s', async (url, code) => {
      const ws = await world.workspace();
      const res = await register(ws.token, url);
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 422, code });
      expect((await get(ws.token, '/v1/webhooks')).body.items).toEqual([]);
    });

    it('refuses unknown events and fields (422 validation_failed)', async () => {
      const ws = await world.workspace();
      expect((await register(ws.token, 'https://127.0.0.1:9/', { events: ['order.exploded'] })).body.code).toBe('validation_failed');
      expect((await register(ws.token, 'https://127.0.0.1:9/', { secret: 'mine' })).body.code).toBe('validation_failed');
    });

    it('a workspace registers at most 25 endpoints (422 webhook_limit_reached); deleting one makes room', async () => {
      const ws = await world.workspace();
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) ids.push((await register(ws.token, `https://127.0.0.1:9/n${i}`, { events: ['order.filled'] })).body.id);
      expect(ids.every(Boolean)).toBe(true);
      expect((await register(ws.token, 'https://127.0.0.1:9/one-more')).body).toMatchObject({ status: 422, code: 'webhook_limit_reached' });
      expect((await http(world.api.url, 'DELETE', `/v1/webhooks/${ids[0]}`, { token: ws.token })).status).toBe(204);
      expect((await register(ws.token, 'https://127.0.0.1:9/one-more')).status).toBe(201);
    });

    it('only an admin registers, rotates or deletes', async () => {
      const ws = await world.workspace();
      const token = await http(world.api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'viewer', role: 'viewer' } });
      expect(token.status).toBe(201);
      const res = await register(token.body.token, 'https://127.0.0.1:9/');
      expect(res.status).toBe(403);
      expect((await get(token.body.token, '/v1/webhooks')).status).toBe(200);
    });
  });

  it('a paper limit order accepted, then filled at the broker: the receiver gets order.accepted then order.filled, signed and verified', async () => {
    const { ws, connection, source, hooks, endpoint } = await tradingWorkspace('2');
    const signalId = await world.send(source, { ticker: 'AAPL', action: 'buy', orderType: 'limit', limitPrice: '100', price: '105' });
    const [order] = (await world.settled(ws.token, signalId)).orders;
    expect(order.status).toBe('accepted');

    // The market comes to the limit at the paper broker; the lifecycle poller sees the fill.
    await world.sql(`UPDATE paper_orders SET status = 'filled', fill_price = 99.5 WHERE connection_id = $1 AND client_order_id = $2`, [
      connection,
      order.clientOrderId,
    ]);
    const [accepted, filled] = await hooks.waitFor(2);

    for (const req of [accepted, filled]) {
      expect(req.verified).toMatchObject({ ok: true });
      expect(req.headers['content-type']).toBe('application/json');
    }
    expect([accepted, filled].map((r) => (r.verified as any).payload.type)).toEqual(['order.accepted', 'order.filled']);
    const acceptedData = JSON.parse(accepted.body).data;
    expect(acceptedData).toMatchObject({
      id: order.id,
      signalId,
      connectionId: connection,
      symbol: 'AAPL',
      side: 'buy',
      status: 'accepted',
      previousStatus: 'submitted',
      filledQuantity: null,
      averagePrice: null,
      fills: [],
    });
    const filledData = JSON.parse(filled.body).data;
    expect(filledData).toMatchObject({ id: order.id, status: 'filled', previousStatus: 'accepted', filledQuantity: '2', averagePrice: '99.5' });
    expect(filledData.fills).toEqual([expect.objectContaining({ quantity: '2', price: '99.5' })]);

    // A receiver with the wrong secret would refuse them.
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(filled.body, filled.headers as Record<string, string>)).toThrow();

    const deliveries = await deliveriesUntil(ws.token, endpoint.id, (items) => items.length === 2 && items.every((d) => d.status === 'delivered'));
    // webhook-id is the outbox row's id: the same on every retry, so a receiver dedupes by it.
    expect(deliveries.map((d) => d.id).sort()).toEqual([accepted.headers['webhook-id'], filled.headers['webhook-id']].sort());
    expect(deliveries.every((d) => d.attempts === 1 && d.lastStatusCode === 200 && d.orderId === order.id)).toBe(true);
  });

  it('a receiver failing twice then answering 200: delivered on the third attempt with the same webhook-id', async () => {
    const { ws, source, hooks, endpoint } = await tradingWorkspace('1', ['order.filled']);
    let calls = 0;
    hooks.answer = () => (++calls <= 2 ? { status: 500, body: 'temporarily broken\u0000\u0007' } : { status: 200, body: 'thanks' });
    await world.settled(ws.token, await world.send(source, { ticker: 'SPY', action: 'buy', price: '450' }));

    const requests = await hooks.waitFor(3);
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(requests.every((r) => r.verified?.ok)).toBe(true);
    // Each retry is signed afresh (its own timestamp) over the same body.
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);

    const [delivery] = await deliveriesUntil(ws.token, endpoint.id, (items) => items[0]?.status === 'delivered');
    expect(delivery).toMatchObject({ eventType: 'order.filled', attempts: 3, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    expect(delivery.attemptLog.map((a: any) => [a.statusCode, a.error])).toEqual([
      [500, 'HTTP 500'],
      [500, 'HTTP 500'],
      [200, null],
    ]);
    expect(delivery.attemptLog[0].responseExcerpt).toBe('temporarily broken  ');
  });

  it('a receiver that keeps failing: the delivery ends failed after WEBHOOK_MAX_ATTEMPTS with the last error', async () => {
    const { ws, source, hooks, endpoint } = await tradingWorkspace('1', ['order.filled']);
    hooks.answer = () => ({ status: 503 });
    await world.settled(ws.token, await world.send(source, { ticker: 'QQQ', action: 'buy', price: '380' }));
    const [delivery] = await deliveriesUntil(ws.token, endpoint.id, (items) => items[0]?.status === 'failed');
    expect(delivery).toMatchObject({ attempts: 4, lastStatusCode: 503, lastError: 'HTTP 503' });
    expect(hooks.requests).toHaveLength(4);
    expect((await get(ws.token, `/v1/webhooks/${endpoint.id}/deliveries?status=failed`)).body.items.map((d: any) => d.id)).toEqual([delivery.id]);
    expect((await get(ws.token, `/v1/webhooks/${endpoint.id}/deliveries?status=delivered`)).body.items).toEqual([]);
    expect((await get(ws.token, `/v1/webhooks/${endpoint.id}/deliveries?status=lost`)).body.code).toBe('validation_failed');

    // The receiver is back: an admin sends the failed event again, with the same webhook-id.
    hooks.answer = () => ({ status: 204 });
    const retried = await http(world.api.url, 'POST', `/v1/webhooks/${endpoint.id}/deliveries/${delivery.id}/retry`, { token: ws.token });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id: delivery.id, status: 'pending', attempts: 0 });
    const [again] = await deliveriesUntil(ws.token, endpoint.id, (items) => items[0]?.status === 'delivered');
    expect(again).toMatchObject({ attempts: 1, lastStatusCode: 204 });
    expect(again.attemptLog).toHaveLength(5);
    expect(hooks.requests.at(-1)!.headers['webhook-id']).toBe(delivery.id);
    expect((await http(world.api.url, 'POST', `/v1/webhooks/${endpoint.id}/deliveries/${delivery.id}/retry`, { token: ws.token })).body).toMatchObject({
      status: 409,
      code: 'delivery_not_failed',
    });
    expect((await http(world.api.url, 'POST', `/v1/webhooks/${endpoint.id}/deliveries/${endpoint.id}/retry`, { token: ws.token })).status).toBe(404);
    const audit = (await get(ws.token, '/v1/audit?action=webhook.retry_delivery')).body.items;
    expect(audit).toHaveLength(1);
  });

  it('a redirect is not followed: the attempt records redirect_refused', async () => {
    const { ws, source, hooks, endpoint } = await tradingWorkspace('1', ['order.filled']);
    hooks.answer = () => ({ status: 307, headers: { location: 'https://169.254.169.254/' } });
    await world.settled(ws.token, await world.send(source, { ticker: 'IWM', action: 'buy', price: '200' }));
    const [delivery] = await deliveriesUntil(ws.token, endpoint.id, (items) => items[0]?.attempts >= 1);
    expect(delivery.attemptLog[0]).toMatchObject({ statusCode: null, error: expect.stringMatching(/^redirect_refused/) });
  });

  it('rotate-secret shows a new secret once; during the grace period deliveries carry both signatures, after a rotation without grace only the new one; delete stops deliveries', async () => {
    const { ws, source, hooks, endpoint } = await tradingWorkspace('1', ['order.filled']);
    const rotate = async (body: Record<string, unknown>) => {
      const res = await http(world.api.url, 'POST', `/v1/webhooks/${endpoint.id}/rotate-secret`, { token: ws.token, body });
      expect(res.status).toBe(200);
      secrets.push(res.body.secret);
      return res.body;
    };
    const verifies = (secret: string, req: { body: string; headers: Record<string, unknown> }) => {
      try {
        new Webhook(secret).verify(req.body, req.headers as Record<string, string>);
        return true;
      } catch {
        return false;
      }
    };

    // Default grace (24 h): the old secret still signs beside the new one.
    const graced = await rotate({});
    expect(graced).toMatchObject({ id: endpoint.id, secretVersion: 2 });
    expect(graced.secret).not.toBe(endpoint.secret);
    expect(Date.parse(graced.previousSecretValidUntil) - Date.now()).toBeGreaterThan(23 * 3600_000);
    await world.settled(ws.token, await world.send(source, { ticker: 'DIA', action: 'buy', price: '390' }));
    const [both] = await hooks.waitFor(1);
    expect(String(both.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect([verifies(graced.secret, both), verifies(endpoint.secret, both)]).toEqual([true, true]);

    // No grace (a leaked secret): only the newest signs, every older version is shredded.
    const urgent = await rotate({ graceSeconds: 0 });
    expect(urgent).toMatchObject({ secretVersion: 3, previousSecretValidUntil: null });
    await world.settled(ws.token, await world.send(source, { ticker: 'DIA', action: 'buy', price: '391' }));
    const [, only] = await hooks.waitFor(2);
    expect([verifies(urgent.secret, only), verifies(graced.secret, only), verifies(endpoint.secret, only)]).toEqual([true, false, false]);
    const versions = await world.sql('SELECT version FROM webhook_endpoint_secrets WHERE endpoint_id = $1', [endpoint.id]);
    expect(versions).toEqual([{ version: 3 }]);
    expect((await http(world.api.url, 'POST', `/v1/webhooks/${endpoint.id}/rotate-secret`, { token: ws.token, body: { graceSeconds: -1 } })).body.code).toBe(
      'validation_failed',
    );

    expect((await http(world.api.url, 'DELETE', `/v1/webhooks/${endpoint.id}`, { token: ws.token })).status).toBe(204);
    expect((await get(ws.token, `/v1/webhooks/${endpoint.id}`)).status).toBe(404);
    const [{ n }] = await world.sql<{ n: number }>('SELECT count(*)::int AS n FROM webhook_endpoint_secrets WHERE endpoint_id = $1', [endpoint.id]);
    expect(n).toBe(0); // crypto-shredded
    await world.settled(ws.token, await world.send(source, { ticker: 'DIA', action: 'buy', price: '392' }));
    const outbox = await world.sql('SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1', [endpoint.id]);
    expect(outbox[0].n).toBe(2); // the deleted endpoint gets no new events

    const actions = (await get(ws.token, '/v1/audit?resourceType=webhook')).body.items.map((e: any) => e.action);
    expect(actions.sort()).toEqual(['webhook.create', 'webhook.delete', 'webhook.rotate_secret', 'webhook.rotate_secret']);
  });

  describe('disable and enable (PATCH /v1/webhooks/:id)', () => {
    const patch = (token: string, id: string, body: unknown) => http(world.api.url, 'PATCH', `/v1/webhooks/${id}`, { token, body });
    const outbox = async (endpointId: string) =>
      (await world.sql<{ n: number }>('SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1', [endpointId]))[0].n;

    it('a disabled endpoint gets no request and no outbox row for an order event; enabled again, the next event is delivered', async () => {
      const { ws, source, hooks, endpoint } = await tradingWorkspace('1', ['order.filled']);
      expect(endpoint.enabled).toBe(true);
      const disabled = await patch(ws.token, endpoint.id, { enabled: false });
      expect(disabled.status).toBe(200);
      expect(disabled.body).toMatchObject({ id: endpoint.id, enabled: false, secretVersion: 1 });
      expect(disabled.body).not.toHaveProperty('secret');
      expect((await get(ws.token, `/v1/webhooks/${endpoint.id}`)).body.enabled).toBe(false);
      expect((await get(ws.token, '/v1/webhooks')).body.items[0]).toMatchObject({ id: endpoint.id, enabled: false });

      await world.settled(ws.token, await world.send(source, { ticker: 'XLF', action: 'buy', price: '40' }));
      await new Promise((r) => setTimeout(r, 500)); // several delivery passes (every 50 ms)
      expect(hooks.requests).toHaveLength(0);
      expect(await outbox(endpoint.id)).toBe(0); // nothing piles up while disabled

      expect((await patch(ws.token, endpoint.id, { enabled: true })).body).toMatchObject({ enabled: true });
      await world.settled(ws.token, await world.send(source, { ticker: 'XLF', action: 'buy', price: '41' }));
      const [req] = await hooks.waitFor(1);
      expect(req.verified).toMatchObject({ ok: true });
      expect(JSON.parse(req.body).data.symbol).toBe('XLF');
      expect(await outbox(endpoint.id)).toBe(1);

      const actions = (await get(ws.token, '/v1/audit?resourceType=webhook')).body.items.map((e: any) => e.action);
      expect(actions.sort()).toEqual(['webhook.create', 'webhook.disable', 'webhook.enable']);
    });

    it('a pending delivery is not attempted while its endpoint is disabled and resumes on enable, with the same webhook-id', async () => {
      const { ws, source, hooks, endpoint } = await tradingWorkspace('1', ['order.filled']);
      hooks.answer = () => 'hang'; // the first attempt times out (OUTBOUND_TIMEOUT_MS 2 s): the delivery stays pending
      await world.settled(ws.token, await world.send(source, { ticker: 'XLE', action: 'buy', price: '80' }));
      await hooks.waitFor(1);
      expect((await patch(ws.token, endpoint.id, { enabled: false })).status).toBe(200);
      const [pending] = await deliveriesUntil(ws.token, endpoint.id, (items) => items[0]?.attempts === 1);
      expect(pending.status).toBe('pending');

      await new Promise((r) => setTimeout(r, 800)); // far past its retry (WEBHOOK_RETRY_BASE_MS 50)
      expect(hooks.requests).toHaveLength(1);
      expect((await get(ws.token, `/v1/webhooks/${endpoint.id}/deliveries`)).body.items[0]).toMatchObject({ id: pending.id, status: 'pending', attempts: 1 });

      hooks.answer = () => ({ status: 200 });
      expect((await patch(ws.token, endpoint.id, { enabled: true })).status).toBe(200);
      const [delivered] = await deliveriesUntil(ws.token, endpoint.id, (items) => items[0]?.status === 'delivered');
      expect(delivered).toMatchObject({ id: pending.id, attempts: 2, lastStatusCode: 200 });
      expect(hooks.requests.map((r) => r.headers['webhook-id'])).toEqual([pending.id, pending.id]);
    });

    it('only an admin disables (403 for a viewer); another workspace gets 404; bad bodies are 422 validation_failed', async () => {
      const ws = await world.workspace();
      const created = await register(ws.token, 'https://127.0.0.1:9/maintenance');
      const viewer = await http(world.api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'viewer', role: 'viewer' } });
      const refused = await patch(viewer.body.token, created.body.id, { enabled: false });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);

      const other = await world.workspace();
      expect((await patch(other.token, created.body.id, { enabled: false })).body).toMatchObject({ status: 404 });
      for (const body of [{}, { enabled: 'no' }, { enabled: false, url: 'https://127.0.0.1:9/elsewhere' }]) {
        expect((await patch(ws.token, created.body.id, body)).body).toMatchObject({ status: 422, code: 'validation_failed' });
      }
      expect((await get(ws.token, `/v1/webhooks/${created.body.id}`)).body).toMatchObject({ enabled: true, url: 'https://127.0.0.1:9/maintenance' });
      const audit = (await get(ws.token, '/v1/audit?resourceType=webhook')).body.items.map((e: any) => e.action);
      expect(audit).toEqual(['webhook.create']);
    });
  });

  it("the outbox row is written in the transition's transaction, so a worker that stops before delivering loses nothing", async () => {
    // This worker routes but no longer delivers (as if it died right after the commit).
    await world.worker.app.get(WebhookDispatcher).stop();
    const { ws, source, hooks, endpoint } = await tradingWorkspace('1', ['order.filled']);
    const [order] = (await world.settled(ws.token, await world.send(source, { ticker: 'TLT', action: 'buy', price: '90' }))).orders;
    const pending = await world.sql('SELECT status, attempts, event_type FROM webhook_deliveries WHERE endpoint_id = $1', [endpoint.id]);
    expect(pending).toEqual([{ status: 'pending', attempts: 0, event_type: 'order.filled' }]);

    // A transition rolled back takes its outbox row with it: they are one transaction.
    const c = new Client({ connectionString: world.db.adminUrl });
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query(`INSERT INTO order_transitions (workspace_id, order_id, from_status, to_status) VALUES ($1, $2, 'filled', 'canceled')`, [ws.id, order.id]);
      expect((await c.query('SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1', [endpoint.id])).rows[0].n).toBe(1); // not subscribed to canceled
      await c.query(`UPDATE webhook_endpoints SET events = array_append(events, 'order.canceled') WHERE id = $1`, [endpoint.id]);
      await c.query(`INSERT INTO order_transitions (workspace_id, order_id, from_status, to_status) VALUES ($1, $2, 'filled', 'canceled')`, [ws.id, order.id]);
      expect((await c.query('SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1', [endpoint.id])).rows[0].n).toBe(2);
      await c.query('ROLLBACK');
      expect((await c.query('SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1', [endpoint.id])).rows[0].n).toBe(1);
    } finally {
      await c.end();
    }

    // The next worker delivers it.
    await world.worker.close();
    world.worker = await startWorker(world.db, world.env);
    const [req] = await hooks.waitFor(1);
    expect(req.verified).toMatchObject({ ok: true });
    expect(req.headers['webhook-id']).toBe((await world.sql('SELECT id::text AS id FROM webhook_deliveries WHERE endpoint_id = $1', [endpoint.id]))[0].id);
  });

  it('the api role cannot read a sealed signing secret back (column grants); the worker role can', async () => {
    const { ws, endpoint } = await tradingWorkspace('1');
    const asRole = async (url: string, text: string) => {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        await c.query('BEGIN');
        await c.query(`SELECT set_config('app.workspace_id', $1, true)`, [ws.id]);
        return await c.query(text, [endpoint.id]);
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
        await c.end();
      }
    };
    await expect(asRole(world.db.apiUrl, 'SELECT ciphertext FROM webhook_endpoint_secrets WHERE endpoint_id = $1')).rejects.toThrow(/permission denied/);
    expect((await asRole(world.db.apiUrl, 'SELECT version FROM webhook_endpoint_secrets WHERE endpoint_id = $1')).rows).toEqual([{ version: 1 }]);
    expect((await asRole(world.db.workerUrl, 'SELECT ciphertext FROM webhook_endpoint_secrets WHERE endpoint_id = $1')).rowCount).toBe(1);
  });

  it('canary: no signing secret appears in logs, database plaintext, Redis, or any response after creation', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(5);
    const forms = secrets.flatMap((s) => {
      const key = Buffer.from(s.slice('whsec_'.length), 'base64');
      return [...canaryForms(s), s.slice('whsec_'.length), key.toString('hex'), key.toString('base64url')];
    });
    const results = [
      scanTexts('api log lines', world.api.logs.lines, forms),
      scanTexts('worker log lines', world.worker.logs.lines, forms),
      scanTexts('responses after creation', laterResponses, forms),
      await scanDatabase(world.db.adminUrl, forms),
      await scanRedis(REDIS_URL, forms),
    ];
    expect(results.flatMap((r) => r.hits)).toEqual([]);
    expect(results.every((r) => r.searched > 0)).toBe(true);
  });
});
