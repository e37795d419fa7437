import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import { AuditSealer } from '../../src/audit/audit-sealer';
import { AuditVerifier } from '../../src/audit/audit-verifier';
import { AuditWriter } from '../../src/audit/audit-writer';
import { Pager } from '../../src/audit/pager/pager';
import { TenantDb } from '../../src/database/tenant-db';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { AuditApp, connect, credentialUse, startAuditApp } from './audit-harness';

describe('audit and alerts HTTP API', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let worker: AuditApp;
  let admin: Client;
  let a: Awaited<ReturnType<typeof createWorkspace>>;
  let b: Awaited<ReturnType<typeof createWorkspace>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db);
    // Same installation: api and worker share DATA_DIR, hence the checkpoint key.
    worker = await startAuditApp(db, { dataDir: api.config.dataDir });
    admin = await connect(db.adminUrl);
    a = await createWorkspace(api, 'a');
    b = await createWorkspace(api, 'b');
    const writer = worker.module.get(AuditWriter);
    const tenantDb = worker.module.get(TenantDb);
    for (let i = 0; i < 5; i++) await tenantDb.runRaw(a.id, (c) => writer.recordRaw(c, credentialUse('conn-a', i)));
    await tenantDb.runRaw(a.id, (c) =>
      writer.recordRaw(c, { action: 'credential.rotate', actor: { type: 'user', id: 'u1' }, resource: { type: 'connection', id: 'conn-b' } }),
    );
    await worker.module.get(AuditSealer).sealWorkspace(a.id);
  });

  afterAll(async () => {
    await api.close();
    await worker.close();
    await admin.end();
    await db.drop();
  });

  async function tokenWithRole(ws: { token: string }, role: string): Promise<string> {
    const res = await http(api.url, 'POST', '/v1/tokens', { token: ws.token, body: { name: role, role } });
    expect(res.status).toBe(201);
    return res.body.token;
  }

  it('GET /v1/audit pages through the chain newest first and filters by action, resource, actor and time', async () => {
    const first = await http(api.url, 'GET', '/v1/audit?limit=2', { token: a.token });
    expect(first.status).toBe(200);
    const page1 = first.body.items as { seq: number }[];
    expect(page1).toHaveLength(2);
    expect(page1[0].seq).toBe(page1[1].seq + 1);
    const all: { seq: number; action: string; occurredAt: string; actor: { type: string; id: string | null } }[] = [...first.body.items];
    let cursor = first.body.nextCursor;
    while (cursor) {
      const next = await http(api.url, 'GET', `/v1/audit?limit=2&cursor=${cursor}`, { token: a.token });
      all.push(...next.body.items);
      cursor = next.body.nextCursor;
    }
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => all.length - i));
    expect(all.filter((e) => e.action === 'credential.use')).toHaveLength(5);
    // The chain opens with the workspace's creation (audited by the platform admin), then this test's events.
    expect(all[all.length - 1]).toMatchObject({ seq: 1, action: 'workspace.create', actor: { type: 'platform' } });
    const firstUse = all.find((e) => e.action === 'credential.use');
    expect(firstUse).toMatchObject({
      actor: { type: 'worker', id: 'worker-1' },
      resource: { type: 'connection', id: 'conn-a' },
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });

    const rotated = await http(api.url, 'GET', '/v1/audit?action=credential.rotate', { token: a.token });
    expect(rotated.body.items.map((e: { resource: { id: string } }) => e.resource.id)).toEqual(['conn-b']);
    const byResource = await http(api.url, 'GET', '/v1/audit?resourceType=connection&resourceId=conn-a', { token: a.token });
    expect(byResource.body.items).toHaveLength(5);
    const byActor = await http(api.url, 'GET', '/v1/audit?actorType=worker&actorId=worker-1', { token: a.token });
    expect(byActor.body.items.map((e: { action: string }) => e.action)).toEqual(
      all.filter((e) => e.actor.type === 'worker' && e.actor.id === 'worker-1').map((e) => e.action),
    );
    expect(byActor.body.items.length).toBeGreaterThan(0);
    const at = firstUse!.occurredAt;
    const since = await http(api.url, 'GET', `/v1/audit?since=${encodeURIComponent(at)}&limit=500`, { token: a.token });
    expect(since.body.items.map((e: { seq: number }) => e.seq)).toEqual(all.filter((e) => e.occurredAt >= at).map((e) => e.seq));
    const until = await http(api.url, 'GET', `/v1/audit?until=${encodeURIComponent(at)}&limit=500`, { token: a.token });
    expect(until.body.items.map((e: { seq: number }) => e.seq)).toEqual(all.filter((e) => e.occurredAt < at).map((e) => e.seq));
    expect((await http(api.url, 'GET', '/v1/audit?since=yesterday', { token: a.token })).status).toBe(422);
  });

  it('GET /v1/audit waits out a concurrent sealer: an event committed before the request is on the page', async () => {
    // A background sealer mid-batch holds the workspace's chain lock; the page must not skip what it has not sealed yet.
    await admin.query('BEGIN');
    await admin.query(`SELECT pg_advisory_xact_lock(hashtext('switchyard.audit_seal'), hashtext($1::uuid::text))`, [a.id]);
    const resourceId = `conn-${randomUUID()}`;
    await worker.module.get(TenantDb).runRaw(a.id, (c) => worker.module.get(AuditWriter).recordRaw(c, credentialUse(resourceId)));
    const page = http(api.url, 'GET', `/v1/audit?resourceType=connection&resourceId=${resourceId}`, { token: a.token });
    await new Promise((r) => setTimeout(r, 300));
    await admin.query('COMMIT');
    const res = await page;
    expect(res.status).toBe(200);
    expect(res.body.items.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([resourceId]);
  });

  it('GET /v1/audit is for admins and owners; bad queries are 422', async () => {
    expect((await http(api.url, 'GET', '/v1/audit')).status).toBe(401);
    expect((await http(api.url, 'GET', '/v1/audit', { token: await tokenWithRole(a, 'viewer') })).status).toBe(403);
    expect((await http(api.url, 'GET', '/v1/audit', { token: await tokenWithRole(a, 'trader') })).status).toBe(403);
    expect((await http(api.url, 'GET', '/v1/audit', { token: await tokenWithRole(a, 'admin') })).status).toBe(200);
    const badLimit = await http(api.url, 'GET', '/v1/audit?limit=1000', { token: a.token });
    expect(badLimit).toMatchObject({ status: 422, body: { code: 'invalid_limit' } });
    const badAction = await http(api.url, 'GET', '/v1/audit?action=nope', { token: a.token });
    expect(badAction).toMatchObject({ status: 422, body: { code: 'validation_failed' } });
  });

  it('another workspace sees none of these events', async () => {
    const res = await http(api.url, 'GET', '/v1/audit', { token: b.token });
    expect(res.status).toBe(200);
    expect(res.body.items.some((e: { resource: { id: string } }) => ['conn-a', 'conn-b'].includes(e.resource.id))).toBe(false);
  });

  it('GET /v1/audit/verify reports ok, then the first broken sequence after tampering', async () => {
    const ok = await http(api.url, 'GET', '/v1/audit/verify', { token: a.token });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, head: { seq: expect.any(Number) } });

    await admin.query('BEGIN');
    await admin.query('SET LOCAL session_replication_role = replica');
    await admin.query(`UPDATE audit_events SET resource_id = 'conn-z' WHERE workspace_id = $1 AND seq = 3`, [a.id]);
    await admin.query('COMMIT');
    // Event 3 lies before the checkpoint the first call signed: the api's incremental verify does not reread it, the full one does.
    expect((await http(api.url, 'GET', '/v1/audit/verify', { token: a.token })).body).toMatchObject({ ok: true, verifiedFrom: ok.body.head.seq });
    expect(await api.app.get(AuditVerifier).verify(a.id, 'full')).toMatchObject({ ok: false, firstBrokenSeq: 3, reason: 'hash_mismatch' });
    expect((await http(api.url, 'GET', '/v1/audit/verify', { token: await tokenWithRole(a, 'viewer') })).status).toBe(403);
  });

  it('GET /v1/alerts and POST /v1/alerts/:id/ack; another workspace gets 404', async () => {
    const { id } = await worker.module.get(Pager).raise({
      workspaceId: a.id,
      rule: 'order.dead_lettered',
      resourceType: 'order',
      resourceId: 'order-a',
      summary: 'Order failed after all retries: order-a',
    });
    const list = await http(api.url, 'GET', '/v1/alerts?status=open', { token: a.token });
    expect(list.status).toBe(200);
    expect(list.body.items.map((x: { id: string }) => x.id)).toContain(id);

    expect((await http(api.url, 'GET', `/v1/alerts/${id}`, { token: a.token })).body).toMatchObject({
      id,
      owner: 'workspace',
      status: 'open',
      rule: 'order.dead_lettered',
    });
    expect((await http(api.url, 'GET', `/v1/alerts/${id}`, { token: b.token })).status).toBe(404);
    expect((await http(api.url, 'POST', `/v1/alerts/${id}/ack`, { token: b.token })).status).toBe(404);
    expect((await http(api.url, 'POST', `/v1/alerts/${randomUUID()}/ack`, { token: a.token })).status).toBe(404);
    const acked = await http(api.url, 'POST', `/v1/alerts/${id}/ack`, { token: a.token });
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({ id, status: 'acknowledged', acknowledgedBy: expect.stringMatching(/^(user|token):/) });
    const resolved = await http(api.url, 'POST', `/v1/alerts/${id}/resolve`, { token: a.token });
    expect(resolved.body).toMatchObject({ id, status: 'resolved' });
    expect((await http(api.url, 'GET', '/v1/alerts', { token: b.token })).body.items).toEqual([]);
  });
});
