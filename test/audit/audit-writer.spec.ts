import { randomUUID } from 'node:crypto';
import type { Client, Pool } from 'pg';
import { PLATFORM_WORKSPACE_ID, SafeDetails } from '../../src/audit/audit-event';
import { AuditSealer } from '../../src/audit/audit-sealer';
import { AuditVerifier } from '../../src/audit/audit-verifier';
import { AuditWriteError, AuditWriter } from '../../src/audit/audit-writer';
import { PG_POOL } from '../../src/database/database.tokens';
import { TenantDb } from '../../src/database/tenant-db';
import { createTestDatabase, TestDatabase } from '../support/database';
import { AuditApp, connect, credentialUse, startAuditApp } from './audit-harness';

describe('AuditWriter', () => {
  let db: TestDatabase;
  let app: AuditApp;
  let admin: Client;
  let sut: AuditWriter;
  let tenantDb: TenantDb;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startAuditApp(db, { role: 'api' });
    admin = await connect(db.adminUrl);
    sut = app.module.get(AuditWriter);
    tenantDb = app.module.get(TenantDb);
  });

  afterAll(async () => {
    await app.close();
    await admin.end();
    await db.drop();
  });

  const eventsOf = async (workspaceId: string) => (await admin.query('SELECT * FROM audit_events WHERE workspace_id = $1 ORDER BY id', [workspaceId])).rows;

  it('records inside a Prisma transaction and inside a raw pg transaction, in the workspace of the transaction', async () => {
    const ws = randomUUID();
    await tenantDb.run(ws, (tx) =>
      sut.record(tx, {
        action: 'member.create',
        actor: { type: 'user', id: 'u1' },
        resource: { type: 'member', id: 'm1' },
        ip: '10.0.0.1',
        requestId: 'req-1',
        reason: 'onboarding',
      }),
    );
    await tenantDb.runRaw(ws, (client) => sut.recordRaw(client, credentialUse('c1')));
    const rows = await eventsOf(ws);
    expect(rows.map((r) => [r.action, r.actor_type, r.resource_id])).toEqual([
      ['member.create', 'user', 'm1'],
      ['credential.use', 'worker', 'c1'],
    ]);
    expect(rows[0]).toMatchObject({ ip: '10.0.0.1', request_id: 'req-1', reason: 'onboarding', seq: null, hash: null });
  });

  it('pages for rule actions in the same transaction, through Prisma as through pg', async () => {
    const ws = randomUUID();
    const signatureFailures = {
      action: 'source.signature_failures' as const,
      actor: { type: 'system' as const },
      resource: { type: 'source', id: 's1' },
      metadata: { failures: 20, windowSeconds: 60 },
    };
    await tenantDb.run(ws, (tx) => sut.record(tx, signatureFailures));
    await tenantDb.runRaw(ws, (client) => sut.recordRaw(client, signatureFailures));
    const { rows } = await admin.query('SELECT rule, severity, occurrences, details FROM alerts WHERE workspace_id = $1', [ws]);
    expect(rows).toEqual([
      {
        rule: 'source.signature_failures',
        severity: 'warning',
        occurrences: 2,
        details: expect.objectContaining({ failures: 20, windowSeconds: 60, actorType: 'system' }),
      },
    ]);
    const deliveries = await admin.query('SELECT channel, event_action FROM alert_deliveries WHERE workspace_id = $1', [ws]);
    expect(deliveries.rows).toEqual([{ channel: 'log', event_action: 'trigger' }]);
  });

  it('keeps platform events in their own chain under the nil workspace id', async () => {
    await tenantDb.run(PLATFORM_WORKSPACE_ID, (tx) =>
      sut.record(tx, {
        action: 'kill_switch.platform',
        actor: { type: 'platform', id: 'platform-admin' },
        resource: { type: 'platform' },
        reason: 'incident',
        metadata: { engaged: true },
      }),
    );
    expect(await app.module.get(AuditVerifier).verify(PLATFORM_WORKSPACE_ID)).toMatchObject({ ok: true, events: 1 });
  });

  it('refuses metadata whose keys name secrets or whose values are not flat primitives, and writes nothing', async () => {
    const ws = randomUUID();
    const refused = [
      { apiSecret: 'x' },
      { password: 'x' },
      { accessToken: 'x' },
      { private_key: 'x' },
      { nested: { a: 1 } },
      { big: 'x'.repeat(501) },
    ] as unknown as SafeDetails[];
    for (const metadata of refused) {
      const attempt = tenantDb.runRaw(ws, (client) => sut.recordRaw(client, { ...credentialUse(), metadata }));
      await expect(attempt).rejects.toBeInstanceOf(AuditWriteError);
    }
    const error = await tenantDb
      .runRaw(ws, (client) => sut.recordRaw(client, { ...credentialUse(), metadata: { apiSecret: 'sk-canary-123' } }))
      .catch((e: unknown) => e);
    expect((error as AuditWriteError).message).toContain('apiSecret');
    expect((error as AuditWriteError).message).not.toContain('sk-canary-123');
    expect(await eventsOf(ws)).toHaveLength(0);
  });

  it('fails without a workspace in the transaction (no event lands outside a tenant)', async () => {
    const client = await app.module.get<Pool>(PG_POOL).connect();
    try {
      await client.query('BEGIN');
      await expect(sut.recordRaw(client, credentialUse())).rejects.toBeInstanceOf(AuditWriteError);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  describe('fail-closed', () => {
    afterEach(async () => {
      await admin.query(
        'GRANT INSERT (workspace_id, actor_type, actor_id, ip, action, resource_type, resource_id, reason, request_id, metadata) ON audit_events TO switchyard_api, switchyard_worker',
      );
    });

    it('when the audit table cannot be written, the writer throws and the surrounding transaction rolls back', async () => {
      await admin.query('REVOKE INSERT ON audit_events FROM switchyard_api, switchyard_worker');
      const ws = randomUUID();
      const decrypt = jest.fn();

      const viaPrisma = tenantDb.run(ws, async (tx) => {
        await tx.workspace.create({ data: { id: ws, name: 'fail-closed' } });
        await sut.record(tx, { action: 'credential.read', actor: { type: 'worker' }, resource: { type: 'connection', id: 'c1' } });
        decrypt();
      });
      const error = await viaPrisma.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuditWriteError);
      expect(error).toMatchObject({ status: 503, code: 'audit_unavailable' });

      const viaPg = tenantDb.runRaw(ws, async (client) => {
        await client.query('INSERT INTO workspaces (id, name) VALUES ($1, $2)', [ws, 'fail-closed']);
        await sut.recordRaw(client, credentialUse('c1'));
        decrypt();
      });
      await expect(viaPg).rejects.toBeInstanceOf(AuditWriteError);

      expect(decrypt).not.toHaveBeenCalled();
      expect(((error as AuditWriteError).cause as Error).message).toMatch(/permission denied for table audit_events/);
      expect((await admin.query('SELECT 1 FROM workspaces WHERE id = $1', [ws])).rowCount).toBe(0);
      expect(await eventsOf(ws)).toHaveLength(0);
    });
  });

  it('concurrent writers in one workspace while the sealer runs: every event chained exactly once, one contiguous verified chain', async () => {
    const ws = randomUUID();
    const sealer = app.module.get(AuditSealer);
    sealer.start();
    const writers = 20;
    const perWriter = 50;
    await Promise.all(
      Array.from({ length: writers }, (_, w) =>
        (async () => {
          for (let i = 0; i < perWriter; i++) await tenantDb.runRaw(ws, (client) => sut.recordRaw(client, credentialUse(`c${w}`, i)));
        })(),
      ),
    );
    await sealer.stop();
    const result = await app.module.get(AuditVerifier).verify(ws);
    expect(result).toMatchObject({ ok: true, events: writers * perWriter });
    const { rows } = await admin.query(
      'SELECT count(*)::int AS n, count(DISTINCT seq)::int AS seqs, max(seq)::int AS head FROM audit_events WHERE workspace_id = $1',
      [ws],
    );
    expect(rows[0]).toEqual({ n: writers * perWriter, seqs: writers * perWriter, head: writers * perWriter });
  });

  // Throughput is measured by the benchmark (timings are not asserted in tests); this proves a large backlog chains correctly.
  it('the sealer chains a 10,000-event backlog of one workspace in one pass, verifiably', async () => {
    const ws = randomUUID();
    const backlog = 10_000;
    await admin.query(
      `INSERT INTO audit_events (workspace_id, actor_type, actor_id, action, resource_type, resource_id, request_id, metadata)
       SELECT $1, 'worker', 'worker-1', 'credential.use', 'connection', gen_random_uuid()::text, 'job-' || g, jsonb_build_object('orderId', gen_random_uuid()::text, 'n', g)
         FROM generate_series(1, $2::int) g`,
      [ws, backlog],
    );
    expect(await app.module.get(AuditSealer).sealWorkspace(ws)).toBe(backlog);
    expect(await app.module.get(AuditVerifier).verify(ws)).toMatchObject({ ok: true, events: backlog });
  });

  it('chains events in the order they were written (id order), also where ids change digit count', async () => {
    const ws = randomUUID();
    // Ten ids across a power of ten (995..1004, say): ordered as text, 1000-1004 would sort before 995-999 and be chained first.
    const { rows: top } = await admin.query('SELECT coalesce(max(id), 0)::bigint AS id FROM audit_events');
    const first = 10 ** String(Number(top[0].id) + 6).length - 5;
    await admin.query(`ALTER TABLE audit_events ALTER COLUMN id RESTART WITH ${first}`);
    await admin.query(
      `INSERT INTO audit_events (workspace_id, actor_type, action, resource_type, resource_id)
       SELECT $1, 'worker', 'credential.use', 'connection', 'c' || g FROM generate_series(1, 10) g`,
      [ws],
    );
    expect(await app.module.get(AuditSealer).sealWorkspace(ws)).toBe(10);
    const { rows } = await admin.query('SELECT id::int AS id, seq::int AS seq FROM audit_events WHERE workspace_id = $1 ORDER BY seq', [ws]);
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => first + i));
  });
});
