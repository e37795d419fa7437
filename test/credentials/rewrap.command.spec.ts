import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Pool } from 'pg';
import { AuditWriter } from '../../src/audit/audit-writer';
import { AuditRepository } from '../../src/audit/audit.repository';
import { AlertOpener } from '../../src/audit/pager/alert-opener';
import { AlertsRepository } from '../../src/audit/pager/alerts.repository';
import { runRewrap } from '../../src/credentials/rewrap.command';
import { KmsAccessDeniedError, KmsUnavailableError } from '../../src/kms/kms-errors';
import type { KmsProvider } from '../../src/kms/kms-provider';
import { LocalKmsProvider } from '../../src/kms/local-kms.provider';
import { openSealedSecret, type SealedSecret } from '../../src/kms/envelope';
import { signingSecretContext, sourceSecretContext } from '../../src/kms/kms-provider';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { createHmacSource, createTokenSource } from '../signals/support/signals-harness';
import { asAdmin, openAsWorker } from './vault-harness';

let db: TestDatabase;
let api: RunningApi;
let pool: Pool;
let audit: AuditWriter;
const versions: Array<{ workspaceId: string; connectionId: string; version: number }> = [];
/** The HMAC source keys and order-webhook signing secrets the api showed once, by owner id. */
const secrets: Array<{ workspaceId: string; kind: 'source' | 'webhook'; id: string; secret: string }> = [];

beforeAll(async () => {
  db = await createTestDatabase();
  // Endpoints on loopback may be registered here; nothing is delivered to them in this spec.
  api = await startApi(db, { OUTBOUND_ALLOW_HOSTS: '127.0.0.1' });
  pool = new Pool({ connectionString: db.adminUrl, max: 1 });
  audit = new AuditWriter(new AuditRepository(pool), new AlertOpener(new AlertsRepository(pool), []));
  // Two workspaces, five live versions (one connection rotated to version 2, one revoked and shredded).
  for (const count of [3, 2]) {
    const ws = await createWorkspace(api);
    for (let i = 0; i < count; i++) {
      const res = await http(api.url, 'POST', '/v1/connections', { token: ws.token, body: { broker: 'paper', label: `p${i}` } });
      versions.push({ workspaceId: ws.id, connectionId: res.body.id, version: 1 });
    }
    const rotated = versions[versions.length - 1];
    await http(api.url, 'POST', `/v1/connections/${rotated.connectionId}/rotate`, { token: ws.token, body: { credentials: {} } });
    rotated.version = 2;
    const revoked = await http(api.url, 'POST', '/v1/connections', { token: ws.token, body: { broker: 'paper', label: 'gone' } });
    await http(api.url, 'DELETE', `/v1/connections/${revoked.body.id}`, { token: ws.token });
    const source = await createHmacSource(api, ws.token);
    secrets.push({ workspaceId: ws.id, kind: 'source', id: source.id, secret: source.secret });
    await createTokenSource(api, ws.token); // holds a token hash, no sealed key: nothing to re-wrap
    const hook = await http(api.url, 'POST', '/v1/webhooks', { token: ws.token, body: { url: 'https://127.0.0.1:9443/hooks' } });
    expect(hook.status).toBe(201);
    secrets.push({ workspaceId: ws.id, kind: 'webhook', id: hook.body.id, secret: hook.body.secret });
  }
});

afterAll(async () => {
  await pool?.end();
  await api?.close();
  await db?.drop();
});

const kmsAs = (principal: 'api' | 'worker' | 'cli') => new LocalKmsProvider({ dataDir: api.config.dataDir, principal });

/** The cli's KMS, cut off after `calls` re-wraps: the run dies mid-batch like a killed process. */
function dyingAfter(kms: KmsProvider, calls: number): KmsProvider {
  let left = calls;
  return {
    name: kms.name,
    generateDataKey: () => Promise.reject(new Error('not used by rewrap')),
    decrypt: () => Promise.reject(new Error('not used by rewrap')),
    reEncrypt: (wrapped, context, toKeyId) =>
      left-- > 0 ? kms.reEncrypt(wrapped, context, toKeyId) : Promise.reject(new KmsUnavailableError('KMS went away mid-run')),
  };
}

const keyIds = async () =>
  (
    await asAdmin<{ kms_key_id: string }>(
      db,
      `SELECT kms_key_id FROM credential_versions UNION ALL SELECT kms_key_id FROM source_secrets WHERE wrapped_key IS NOT NULL
       UNION ALL SELECT kms_key_id FROM webhook_endpoint_secrets ORDER BY 1`,
    )
  ).map((r) => r.kms_key_id);
/** Every sealed version: five credential versions, and per workspace one source key and one endpoint secret. */
const SEALED = 9;

/** Opens a source key or endpoint secret from its row with a fresh KMS client (no cached root key). */
async function openSecret(s: (typeof secrets)[number]): Promise<string> {
  const [table, owner, kms, context] =
    s.kind === 'source'
      ? (['source_secrets', 'source_id', kmsAs('api'), sourceSecretContext({ workspaceId: s.workspaceId, sourceId: s.id, version: 1 })] as const)
      : ([
          'webhook_endpoint_secrets',
          'endpoint_id',
          kmsAs('worker'),
          signingSecretContext({ workspaceId: s.workspaceId, endpointId: s.id, version: 1 }),
        ] as const);
  const [row] = await asAdmin<{
    formatVersion: 1;
    algorithm: SealedSecret['algorithm'];
    kmsKeyId: string;
    wrappedKey: Buffer;
    iv: Buffer;
    tag: Buffer;
    ciphertext: Buffer;
  }>(
    db,
    `SELECT format_version AS "formatVersion", algorithm, kms_key_id AS "kmsKeyId", wrapped_key AS "wrappedKey", iv, tag, ciphertext FROM ${table} WHERE ${owner} = $1 AND version = 1`,
    [s.id],
  );
  return `whsec_${(await openSealedSecret(kms, row, context)).toString('base64')}`;
}
const rewrapEvents = () =>
  asAdmin<{ resource_id: string; version: number; from: string; to: string; actor_type: string }>(
    db,
    `SELECT resource_id, (metadata->>'credentialVersion')::int AS version, metadata->>'fromKmsKeyId' AS from, metadata->>'toKmsKeyId' AS to, actor_type
       FROM audit_events WHERE action = 'credential.rewrap' ORDER BY resource_id, version`,
  );

it('refuses to run with a principal the KMS policy denies ReEncrypt (the api), changing nothing', async () => {
  await expect(runRewrap({ privilegedUrl: db.adminUrl, toKeyId: 'rewrap-api' }, { kms: kmsAs('api'), audit })).rejects.toBeInstanceOf(KmsAccessDeniedError);
  expect(await keyIds()).toEqual(Array(SEALED).fill('local-root-1'));
  expect(await rewrapEvents()).toEqual([]);
});

it('re-wraps every live version under the new key, resumes after dying mid-way, and audits each version once', async () => {
  const toKeyId = 'rewrap-2';
  const lines: string[] = [];
  await expect(
    runRewrap({ privilegedUrl: db.adminUrl, toKeyId, batchSize: 2 }, { kms: dyingAfter(kmsAs('cli'), 3), audit, print: (l) => lines.push(l) }),
  ).rejects.toBeInstanceOf(KmsUnavailableError);
  // Whole batches committed before the failure; the failing batch left no trace.
  const half = await keyIds();
  expect(half.filter((k) => k === toKeyId).length).toBe((await rewrapEvents()).length);
  expect(half.filter((k) => k === toKeyId).length).toBeGreaterThan(0);
  expect(half).toContain('local-root-1');

  const resumed = await runRewrap({ privilegedUrl: db.adminUrl, toKeyId, batchSize: 2 }, { kms: kmsAs('cli'), audit, print: (l) => lines.push(l) });
  expect(resumed).toEqual({ rewrapped: SEALED - half.filter((k) => k === toKeyId).length, remaining: 0, workspaces: 2 });
  expect(await keyIds()).toEqual(Array(SEALED).fill(toKeyId));
  expect(lines.at(-1)).toMatch(/re-wrapped \d+ secret version\(s\) in 2 workspace\(s\); 0 left/);

  const events = await rewrapEvents();
  const expected = versions.map((v) => ({ resource_id: v.connectionId, version: v.version, from: 'local-root-1', to: toKeyId, actor_type: 'system' }));
  expect(events).toEqual(expect.arrayContaining(expected));
  expect(events).toEqual(
    expect.arrayContaining(secrets.map((s) => ({ resource_id: s.id, version: 1, from: 'local-root-1', to: toKeyId, actor_type: 'system' }))),
  );
  expect(events).toHaveLength(SEALED);

  // A complete run is a no-op the second time.
  expect(await runRewrap({ privilegedUrl: db.adminUrl, toKeyId }, { kms: kmsAs('cli'), audit })).toEqual({ rewrapped: 0, remaining: 0, workspaces: 2 });

  // The worker still opens every version, even once the old root key is destroyed.
  await rm(join(api.config.dataDir, 'kms', 'local-root-1.key'));
  const worker = kmsAs('worker');
  for (const v of versions) {
    await expect(openAsWorker(db, worker, v.workspaceId, v.connectionId, v.version)).resolves.toEqual({ workspaceId: v.workspaceId });
  }
  // The api still verifies signals with each source's key and the worker still signs with each endpoint's secret: the same keys.
  for (const s of secrets) expect(await openSecret(s)).toBe(s.secret);
});
