import { AwsKmsProvider } from '../../src/kms/aws-kms.provider';
import { KmsAccessDeniedError } from '../../src/kms/kms-errors';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { KmsStub, startKmsStub } from '../support/kms-stub';
import { openAsWorker, vaultState } from './vault-harness';

/** The api on AWS KMS (the wire stub), logged in with the api principal's own IAM keys. */
let db: TestDatabase;
let kms: KmsStub;
let api: RunningApi;

beforeAll(async () => {
  db = await createTestDatabase();
  kms = await startKmsStub();
  api = await startApi(db, {
    KMS_PROVIDER: 'aws',
    KMS_ENDPOINT: kms.url,
    KMS_KEY_ID: kms.keyId,
    AWS_REGION: kms.region,
    AWS_ACCESS_KEY_ID: kms.principals.api.accessKeyId,
    AWS_SECRET_ACCESS_KEY: kms.principals.api.secretAccessKey,
  });
});

afterEach(() => kms.setMode('up'));

afterAll(async () => {
  await api?.close();
  await kms?.close();
  await db?.drop();
});

function awsAs(principal: 'api' | 'worker'): AwsKmsProvider {
  return new AwsKmsProvider({ region: kms.region, keyId: kms.keyId, endpoint: kms.url, credentials: kms.principals[principal], maxAttempts: 1 });
}

it('seals with GenerateDataKey as the api principal; only the worker principal can open the stored record', async () => {
  const ws = await createWorkspace(api);
  const res = await http(api.url, 'POST', '/v1/connections', { token: ws.token, body: { broker: 'paper', label: 'aws' } });
  expect(res.status).toBe(201);
  expect(kms.calls.filter((c) => c.principal === 'api').map((c) => c.target)).toContain('TrentService.GenerateDataKey');
  expect(kms.calls.some((c) => c.principal === 'api' && c.target === 'TrentService.Decrypt')).toBe(false);
  expect((await vaultState(db, ws.id)).versions).toEqual([{ connection_id: res.body.id, version: 1, kms_key_id: kms.keyId }]);

  // Lock 3 on a real stored record (the provider suites in test/kms prove it for both providers).
  const worker = awsAs('worker');
  const apiPrincipal = awsAs('api');
  try {
    await expect(openAsWorker(db, worker, ws.id, res.body.id, 1)).resolves.toEqual({ workspaceId: ws.id });
    await expect(openAsWorker(db, apiPrincipal, ws.id, res.body.id, 1)).rejects.toBeInstanceOf(KmsAccessDeniedError);
  } finally {
    worker.onModuleDestroy();
    apiPrincipal.onModuleDestroy();
  }
});

it.each([
  ['down', 'down'],
  ['throttling', 'throttle'],
  ['failing with HTTP 500', 'internal-error'],
] as const)('answers 503 kms_unavailable when the KMS is %s, and writes nothing', async (_what, mode) => {
  const ws = await createWorkspace(api);
  await kms.setMode(mode);
  const res = await http(api.url, 'POST', '/v1/connections', { token: ws.token, body: { broker: 'paper', label: 'x' } });
  expect(res.status).toBe(503);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect(res.body).toMatchObject({ code: 'kms_unavailable', detail: expect.stringContaining('nothing was stored') });
  expect(res.headers.get('retry-after')).toBeTruthy();
  expect(await vaultState(db, ws.id)).toEqual({ connections: [], versions: [], audit: [] });

  await kms.setMode('up');
  expect((await http(api.url, 'POST', '/v1/connections', { token: ws.token, body: { broker: 'paper', label: 'x' } })).status).toBe(201);
});

it('keeps the current version when rotation cannot reach the KMS, and revokes without the KMS', async () => {
  const ws = await createWorkspace(api);
  const created = await http(api.url, 'POST', '/v1/connections', { token: ws.token, body: { broker: 'paper', label: 'x' } });
  const id = created.body.id as string;
  await kms.setMode('down');

  const rotate = await http(api.url, 'POST', `/v1/connections/${id}/rotate`, { token: ws.token, body: { credentials: {} } });
  expect(rotate.status).toBe(503);
  expect(rotate.body.code).toBe('kms_unavailable');
  let state = await vaultState(db, ws.id);
  expect(state.connections).toEqual([{ id, status: 'active', credential_version: 1 }]);
  expect(state.versions.map((v) => v.version)).toEqual([1]);

  // Revocation never depends on the KMS: it only updates and deletes rows.
  const revoked = await http(api.url, 'DELETE', `/v1/connections/${id}`, { token: ws.token });
  expect(revoked.status).toBe(200);
  state = await vaultState(db, ws.id);
  expect(state.connections).toEqual([{ id, status: 'revoked', credential_version: 1 }]);
  expect(state.versions).toEqual([]);
});
