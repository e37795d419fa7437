import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'pg';
import { canonicalJson, eventHash } from '../../src/audit/audit-chain';
import { CHECKPOINT_KEY_FILE } from '../../src/audit/audit-checkpoint-signer';
import { AuditSealer } from '../../src/audit/audit-sealer';
import { auditVerifyCommand } from '../../src/audit/audit-verify.command';
import { AuditVerifier } from '../../src/audit/audit-verifier';
import { AuditWriter } from '../../src/audit/audit-writer';
import { TenantDb } from '../../src/database/tenant-db';
import { createTestDatabase, TestDatabase } from '../support/database';
import { AuditApp, chainRows, connect, credentialUse, startAuditApp, TEST_TUNING } from './audit-harness';

const EVENTS = 10;

/**
 * Tampering is done as the superuser with triggers off (session_replication_role = replica) and
 * RLS bypassed: the strongest database attacker short of holding the checkpoint key.
 */
describe('audit chain verification', () => {
  let db: TestDatabase;
  let app: AuditApp;
  let admin: Client;
  let sut: AuditVerifier;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startAuditApp(db);
    admin = await connect(db.adminUrl);
    sut = app.module.get(AuditVerifier);
  });

  afterAll(async () => {
    await app.close();
    await admin.end();
    await db.drop();
  });

  /** A workspace with a sealed chain of EVENTS events (and the checkpoint of its first seal). */
  async function chain(): Promise<string> {
    const ws = randomUUID();
    const writer = app.module.get(AuditWriter);
    const tenantDb = app.module.get(TenantDb);
    for (let i = 0; i < EVENTS; i++) await tenantDb.runRaw(ws, (c) => writer.recordRaw(c, credentialUse(`conn-${i}`, i)));
    await app.module.get(AuditSealer).sealWorkspace(ws);
    return ws;
  }

  async function tamper(sql: string, values: unknown[] = []): Promise<void> {
    await admin.query('BEGIN');
    try {
      await admin.query('SET LOCAL session_replication_role = replica');
      await admin.query(sql, values);
      await admin.query('COMMIT');
    } catch (err) {
      await admin.query('ROLLBACK');
      throw err;
    }
  }

  /** Moves events at and after `fromSeq` by `by` positions (through a parking range: seq is unique). */
  async function shift(ws: string, fromSeq: number, by: number): Promise<void> {
    await tamper('UPDATE audit_events SET seq = seq + 1000000 WHERE workspace_id = $1 AND seq >= $2', [ws, fromSeq]);
    await tamper('UPDATE audit_events SET seq = seq - 1000000 + $2 WHERE workspace_id = $1 AND seq >= 1000000', [ws, by]);
  }

  it('an untouched chain verifies, up to a signed checkpoint at its head', async () => {
    const ws = await chain();
    const result = await sut.verify(ws);
    expect(result).toMatchObject({ ok: true, events: EVENTS, head: { seq: EVENTS }, checkpoint: { seq: EVENTS } });
    const logged = app.logs.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'audit checkpoint' && l.workspaceId === ws);
    expect(logged).toMatchObject({ seq: EVENTS, headHash: result.ok ? result.head?.hash : undefined, signature: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('seals before verifying: events committed just before are covered', async () => {
    const ws = await chain();
    await app.module.get(TenantDb).runRaw(ws, (c) => app.module.get(AuditWriter).recordRaw(c, credentialUse()));
    expect(await sut.verify(ws)).toMatchObject({ ok: true, events: EVENTS + 1, checkpoint: { seq: EVENTS + 1 } });
  });

  it('detects an edited event at its sequence', async () => {
    const ws = await chain();
    await tamper(`UPDATE audit_events SET metadata = metadata || '{"n": 42}' WHERE workspace_id = $1 AND seq = 5`, [ws]);
    expect(await sut.verify(ws)).toMatchObject({ ok: false, firstBrokenSeq: 5, reason: 'hash_mismatch' });
  });

  it('detects an edited timestamp or actor, not only metadata', async () => {
    const ws = await chain();
    await tamper(`UPDATE audit_events SET occurred_at = occurred_at - interval '1 hour' WHERE workspace_id = $1 AND seq = 3`, [ws]);
    expect(await sut.verify(ws)).toMatchObject({ ok: false, firstBrokenSeq: 3, reason: 'hash_mismatch' });
    const ws2 = await chain();
    await tamper(`UPDATE audit_events SET actor_id = 'someone-else' WHERE workspace_id = $1 AND seq = 7`, [ws2]);
    expect(await sut.verify(ws2)).toMatchObject({ ok: false, firstBrokenSeq: 7, reason: 'hash_mismatch' });
  });

  it('detects a deleted event at its sequence', async () => {
    const ws = await chain();
    await tamper('DELETE FROM audit_events WHERE workspace_id = $1 AND seq = 5', [ws]);
    expect(await sut.verify(ws)).toMatchObject({ ok: false, firstBrokenSeq: 5, reason: 'sequence_gap' });
  });

  it('detects a deleted event even when the later ones are renumbered to close the gap', async () => {
    const ws = await chain();
    await tamper('DELETE FROM audit_events WHERE workspace_id = $1 AND seq = 5', [ws]);
    await shift(ws, 6, -1);
    expect(await sut.verify(ws)).toMatchObject({ ok: false, firstBrokenSeq: 5, reason: 'prev_hash_mismatch' });
  });

  it('detects an inserted (replayed) event at its sequence', async () => {
    const ws = await chain();
    await shift(ws, 5, 1);
    await tamper(
      `INSERT INTO audit_events (workspace_id, seq, prev_hash, hash, occurred_at, actor_type, actor_id, ip, action, resource_type, resource_id, reason, request_id, metadata)
       OVERRIDING SYSTEM VALUE
       SELECT workspace_id, 5, prev_hash, hash, occurred_at, actor_type, actor_id, ip, action, resource_type, resource_id, reason, request_id, metadata
         FROM audit_events WHERE workspace_id = $1 AND seq = 2`,
      [ws],
    );
    expect(await sut.verify(ws)).toMatchObject({ ok: false, firstBrokenSeq: 5, reason: 'prev_hash_mismatch' });
  });

  it('detects an inserted event forged with a correct hash at the first event that no longer links to it', async () => {
    // The chain hash is public (anyone can recompute it), so a forged event can carry a valid hash
    // for its own position; what gives it away is the next event, which still points at event 4.
    const ws = await chain();
    const [fourth] = (await chainRows(admin, ws)).filter((r) => r.seq === 4);
    await shift(ws, 5, 1);
    const forged = { ...rowToEvent(fourth), seq: 5, prevHash: fourth.hash, metadata: { forged: true } };
    await tamper(
      `INSERT INTO audit_events (workspace_id, seq, prev_hash, hash, occurred_at, actor_type, actor_id, action, resource_type, resource_id, request_id, metadata)
       VALUES ($1, 5, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)`,
      [
        ws,
        forged.prevHash,
        eventHash(forged),
        forged.occurredAt,
        forged.actorType,
        forged.actorId,
        forged.action,
        forged.resourceType,
        forged.resourceId,
        forged.requestId,
        JSON.stringify(forged.metadata),
      ],
    );
    expect(await sut.verify(ws)).toMatchObject({ ok: false, firstBrokenSeq: 6, reason: 'prev_hash_mismatch' });
  });

  it('detects reordered events at the first moved sequence', async () => {
    const ws = await chain();
    await tamper('UPDATE audit_events SET seq = seq + 1000000 WHERE workspace_id = $1 AND seq IN (5, 6)', [ws]);
    await tamper('UPDATE audit_events SET seq = 6 WHERE workspace_id = $1 AND seq = 1000005', [ws]);
    await tamper('UPDATE audit_events SET seq = 5 WHERE workspace_id = $1 AND seq = 1000006', [ws]);
    expect(await sut.verify(ws)).toMatchObject({ ok: false, firstBrokenSeq: 5, reason: 'prev_hash_mismatch' });
  });

  it('detects a consistently rewritten chain through the signed checkpoint', async () => {
    const ws = await chain();
    const rows = await chainRows(admin, ws);
    // Rewrite event 3 and recompute every later hash: the chain itself is consistent again.
    let prev: Buffer = rows[1].hash;
    for (const row of rows.slice(2)) {
      const event = { ...rowToEvent(row), prevHash: prev, metadata: row.seq === 3 ? { ...row.metadata, n: 999 } : row.metadata };
      const hash = eventHash(event);
      await tamper('UPDATE audit_events SET prev_hash = $2, hash = $3, metadata = $4::jsonb WHERE id = $1', [
        row.id,
        prev,
        hash,
        JSON.stringify(event.metadata),
      ]);
      prev = hash;
    }
    const result = await sut.verify(ws);
    expect(result).toMatchObject({ ok: false, firstBrokenSeq: EVENTS, reason: 'checkpoint_mismatch' });
  });

  it('detects deleted tail events through the checkpoint that covered them', async () => {
    const ws = await chain();
    await tamper('DELETE FROM audit_events WHERE workspace_id = $1 AND seq > 7', [ws]);
    expect(await sut.verify(ws)).toMatchObject({ ok: false, firstBrokenSeq: 8, reason: 'events_missing' });
  });

  it('detects a forged checkpoint', async () => {
    const ws = await chain();
    const [fifth] = (await chainRows(admin, ws)).filter((r) => r.seq === 5);
    const { rows } = await admin.query('SELECT key_id FROM audit_checkpoints WHERE workspace_id = $1', [ws]);
    await admin.query(`INSERT INTO audit_checkpoints (workspace_id, seq, head_hash, key_id, signature, signed_at) VALUES ($1, 5, $2, $3, $4, now())`, [
      ws,
      fifth.hash,
      rows[0].key_id,
      Buffer.alloc(32, 7),
    ]);
    expect(await sut.verify(ws)).toMatchObject({ ok: false, firstBrokenSeq: 5, reason: 'checkpoint_signature_invalid' });
  });

  it('signs with a 0600 key file in DATA_DIR; an installation holding another key cannot vouch for the checkpoints', async () => {
    const ws = await chain();
    expect((await stat(join(app.dataDir, CHECKPOINT_KEY_FILE))).mode & 0o777).toBe(0o600);
    const stranger = await startAuditApp(db);
    try {
      expect(await stranger.module.get(AuditVerifier).verify(ws)).toMatchObject({ ok: false, firstBrokenSeq: EVENTS, reason: 'checkpoint_key_unknown' });
    } finally {
      await stranger.close();
    }
  });

  it('a chain that goes quiet gets its head signed within checkpointMaxAgeMs', async () => {
    const tuned = await startAuditApp(db, {
      dataDir: app.dataDir,
      tuning: { ...TEST_TUNING, sealer: { ...TEST_TUNING.sealer, checkpointEvery: 1000, checkpointMaxAgeMs: 2000 } },
    });
    try {
      const ws = await chain();
      const writer = tuned.module.get(AuditWriter);
      const sealer = tuned.module.get(AuditSealer);
      await tuned.module.get(TenantDb).runRaw(ws, (c) => writer.recordRaw(c, credentialUse()));
      await sealer.sealAll();
      const heads = async () => (await admin.query('SELECT max(seq)::int AS seq FROM audit_checkpoints WHERE workspace_id = $1', [ws])).rows[0].seq;
      expect(await heads()).toBe(EVENTS);
      // Generous against a loaded machine: the head must be signed soon after the max age, not at once.
      const deadline = Date.now() + 10_000;
      while ((await heads()) !== EVENTS + 1 && Date.now() < deadline) await sealer.sealAll();
      expect(await heads()).toBe(EVENTS + 1);
    } finally {
      await tuned.close();
    }
  });

  it('a broken chain pages on-call once (critical), however often it is verified', async () => {
    const ws = await chain();
    await tamper('DELETE FROM audit_events WHERE workspace_id = $1 AND seq = 2', [ws]);
    await sut.verify(ws);
    await sut.verify(ws);
    const { rows } = await admin.query(`SELECT rule, severity, status, occurrences, resource_id, details FROM alerts WHERE workspace_id = $1`, [ws]);
    expect(rows).toEqual([
      {
        rule: 'audit.verification_failed',
        severity: 'critical',
        status: 'open',
        occurrences: 2,
        resource_id: ws,
        details: { firstBrokenSeq: 2, reason: 'sequence_gap' },
      },
    ]);
  });

  it('cli audit verify: one line per workspace, exit code 1 when any chain is broken; --workspace limits it to one', async () => {
    const good = await chain();
    const bad = await chain();
    await tamper('DELETE FROM audit_events WHERE workspace_id = $1 AND seq = 4', [bad]);
    const lines: string[] = [];
    expect(await auditVerifyCommand(sut, {}, (l) => lines.push(l))).toBe(1);
    expect(lines).toContain(`${good} ok events=${EVENTS} head=${EVENTS} checkpoint=${EVENTS}`);
    expect(lines.find((l) => l.startsWith(bad))).toMatch(/BROKEN at seq 4 \(sequence_gap\)/);

    const one: string[] = [];
    expect(await auditVerifyCommand(sut, { workspace: good }, (l) => one.push(l))).toBe(0);
    expect(one).toEqual([`${good} ok events=${EVENTS} head=${EVENTS} checkpoint=${EVENTS}`]);
  });
});

describe('canonical encoding', () => {
  it('is independent of key order, explicit about nulls, and refuses what JSON would silently change', () => {
    expect(canonicalJson({ b: 1, a: { d: null, c: 'x' } })).toBe('{"a":{"c":"x","d":null},"b":1}');
    expect(canonicalJson({ a: { c: 'x', d: null }, b: 1 })).toBe(canonicalJson({ b: 1, a: { d: null, c: 'x' } }));
    expect(() => canonicalJson({ a: Number.NaN })).toThrow();
    expect(() => canonicalJson({ a: undefined })).toThrow();
  });
});

function rowToEvent(row: Record<string, any>) {
  return {
    workspaceId: row.workspace_id,
    seq: row.seq,
    prevHash: row.prev_hash,
    occurredAt: row.occurred_at,
    actorType: row.actor_type,
    actorId: row.actor_id,
    ip: row.ip,
    action: row.action,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    reason: row.reason,
    requestId: row.request_id,
    metadata: row.metadata,
  };
}
