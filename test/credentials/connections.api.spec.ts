import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { alpacaCredentialsSchema } from '../../src/brokers/alpaca/alpaca-schemas';
import { binanceCredentialsSchema } from '../../src/brokers/binance/binance-schemas';
import { BROKER_NAMES } from '../../src/brokers/broker-adapter';
import { coinbaseCredentialsSchema } from '../../src/brokers/coinbase/coinbase-schemas';
import { oandaCredentialsSchema } from '../../src/brokers/oanda/oanda-schemas';
import { ibkrCredentialsSchema } from '../../src/brokers/ibkr/ibkr-schemas';
import { LocalKmsProvider } from '../../src/kms/local-kms.provider';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { AlpacaStub, startAlpacaStub } from '../support/brokers/alpaca-stub';
import { BinanceKeyOptions, BinanceStub, startBinanceStub } from '../support/brokers/binance-stub';
import { CoinbaseKeyOptions, CoinbaseStub, startCoinbaseStub } from '../support/brokers/coinbase-stub';
import { OandaStub, startOandaStub } from '../support/brokers/oanda-stub';
import { quarterlyExpiries, startTradovateStub, TradovateStub } from '../support/brokers/tradovate-stub';
import { tradovateCredentialsSchema } from '../../src/brokers/tradovate/tradovate-schemas';
import { createTestDatabase, TestDatabase } from '../support/database';
import { asAdmin, openAsWorker, vaultState } from './vault-harness';

let db: TestDatabase;
let api: RunningApi;
let alpaca: AlpacaStub;
let binance: BinanceStub;
let binanceTestnet: BinanceStub;
let coinbase: CoinbaseStub;
let oanda: OandaStub;
let tradovate: TradovateStub;
let worker: LocalKmsProvider;
let seq = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  [alpaca, binance, binanceTestnet, coinbase, oanda, tradovate] = await Promise.all([
    startAlpacaStub(),
    startBinanceStub(),
    startBinanceStub({ testnet: true }),
    startCoinbaseStub(),
    startOandaStub(),
    startTradovateStub(),
  ]);
  tradovate.addProduct('ES', quarterlyExpiries(30));
  api = await startApi(db, {
    BROKER_ALPACA_BASE_URL: alpaca.url,
    BROKER_ALPACA_LIVE_BASE_URL: alpaca.url,
    BROKER_BINANCE_BASE_URL: binance.url,
    BROKER_BINANCE_TESTNET_BASE_URL: binanceTestnet.url,
    BROKER_COINBASE_BASE_URL: coinbase.url,
    BROKER_OANDA_BASE_URL: oanda.url,
    BROKER_OANDA_LIVE_BASE_URL: oanda.url,
    BROKER_TRADOVATE_BASE_URL: `${tradovate.url}/v1`,
    BROKER_TRADOVATE_LIVE_BASE_URL: `${tradovate.url}/v1`,
    BROKER_TIMEOUT_MS: '1000',
  });
  // The routing worker's view of the same local KMS: the only principal allowed to open these.
  worker = new LocalKmsProvider({ dataDir: api.config.dataDir, principal: 'worker' });
});

afterAll(async () => {
  await api?.close();
  await Promise.all([alpaca?.stop(), binance?.server.stop(), binanceTestnet?.server.stop(), coinbase?.server.stop(), oanda?.stop(), tradovate?.stop()]);
  await db?.drop();
});

const unique = (prefix: string) => `${prefix}${++seq}${randomBytes(12).toString('hex')}`;

function alpacaKey() {
  const key = { apiKey: unique('PK').toUpperCase(), apiSecret: unique('alpaca-secret-') };
  alpaca.addKey(key);
  return key;
}

function binanceKey(options: Partial<BinanceKeyOptions> = {}) {
  const key = { apiKey: unique('bnk'), apiSecret: unique('binance-secret-') };
  binance.addKey({ ...key, ...options });
  return key;
}

function coinbaseKey(options: Partial<Omit<CoinbaseKeyOptions, 'apiKeyName' | 'publicKeyPem'>> = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const apiKeyName = `organizations/org-${randomBytes(4).toString('hex')}/apiKeys/${unique('key-')}`;
  coinbase.addKey({ apiKeyName, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), ...options });
  return { apiKeyName, privateKey: privateKey.export({ type: 'sec1', format: 'pem' }).toString() };
}

function oandaAccount() {
  const account = { accountId: `101-004-${String(++seq).padStart(4, '0')}${randomBytes(3).readUIntBE(0, 3) % 1000}-001`, token: unique('oanda-token-') };
  oanda.addAccount(account);
  return account;
}

async function connect(token: string, body: Record<string, unknown>) {
  return http(api.url, 'POST', '/v1/connections', { token, body: { label: 'main', ...body } });
}

async function tokenWithRole(owner: string, role: 'admin' | 'trader' | 'viewer'): Promise<string> {
  const res = await http(api.url, 'POST', '/v1/tokens', { token: owner, body: { name: role, role } });
  expect(res.status).toBe(201);
  return res.body.token as string;
}

describe('POST /v1/connections: inspect with the broker, then seal, then store', () => {
  it('onboards an Alpaca key (header-authenticated at the stub) as trading-only, showing only the key id hint', async () => {
    const ws = await createWorkspace(api);
    const key = alpacaKey();
    const res = await connect(ws.token, { broker: 'alpaca', environment: 'paper', credentials: key });

    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      broker: 'alpaca',
      label: 'main',
      environment: 'paper',
      status: 'active',
      credentialVersion: 1,
      keyHint: `…${key.apiKey.slice(-4)}`,
      permissions: {
        inspection: 'trading_only',
        canTrade: true,
        canWithdraw: false,
        canTransfer: false,
        note: expect.stringContaining('cannot withdraw'),
        details: expect.objectContaining({ status: 'ACTIVE' }),
      },
      inspectedAt: expect.any(String),
      createdAt: expect.any(String),
      rotatedAt: null,
      revokedAt: null,
      brokerRevocation: null,
      killSwitch: { engaged: false, reason: null, changedAt: null, changedBy: null },
      lossLimits: null,
    });
    expect(res.text).not.toContain(key.apiSecret);
    expect(res.text).not.toContain(key.apiKey);
    expect(alpaca.requests.some((r) => r.path === '/v2/account' && r.headers['apca-api-key-id'] === key.apiKey)).toBe(true);

    const state = await vaultState(db, ws.id);
    expect(state.connections).toEqual([{ id: res.body.id, status: 'active', credential_version: 1 }]);
    expect(state.versions).toEqual([{ connection_id: res.body.id, version: 1, kms_key_id: 'local-root-1' }]);
    expect(state.audit).toEqual([
      {
        action: 'credential.create',
        resource_id: res.body.id,
        metadata: {
          broker: 'alpaca',
          environment: 'paper',
          credentialVersion: 1,
          kmsProvider: 'local',
          kmsKeyId: 'local-root-1',
          inspection: 'trading_only',
          canTrade: true,
        },
      },
    ]);
    // The worker principal opens exactly what was given, under the version-1 context.
    await expect(openAsWorker(db, worker, ws.id, res.body.id, 1)).resolves.toEqual(key);
  });

  it('refuses a key the broker rejects and stores nothing', async () => {
    const ws = await createWorkspace(api);
    const key = alpacaKey();
    const res = await connect(ws.token, { broker: 'alpaca', credentials: { ...key, apiSecret: 'wrong-secret-value-123' } });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('broker_credentials_invalid');
    expect(res.text).not.toContain('wrong-secret-value-123');
    expect(await vaultState(db, ws.id)).toEqual({ connections: [], versions: [], audit: [] });
  });

  it('onboards a Binance key after the signed apiRestrictions inspection, with its flags', async () => {
    const ws = await createWorkspace(api);
    const key = binanceKey({ ipRestrict: true });
    const res = await connect(ws.token, { broker: 'binance', environment: 'live', credentials: key });
    expect(res.status).toBe(201);
    expect(res.body.permissions).toMatchObject({
      inspection: 'inspected',
      canTrade: true,
      canWithdraw: false,
      canTransfer: false,
      details: expect.objectContaining({ enableWithdrawals: false, enableInternalTransfer: false, permitsUniversalTransfer: false, ipRestrict: true }),
    });
    expect(res.body.keyHint).toBe(`…${key.apiKey.slice(-4)}`);
    expect(binance.server.requests.some((r) => r.path === '/sapi/v1/account/apiRestrictions' && r.query.has('signature'))).toBe(true);
  });

  it.each([
    ['withdrawals', { enableWithdrawals: true }],
    ['internal transfers', { enableInternalTransfer: true }],
    ['universal transfers', { permitsUniversalTransfer: true }],
  ])('rejects a Binance key with %s enabled (422 withdrawal_scope_rejected) and stores nothing', async (_what, flags) => {
    const ws = await createWorkspace(api);
    const key = binanceKey(flags);
    const res = await connect(ws.token, { broker: 'binance', environment: 'live', credentials: key });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('withdrawal_scope_rejected');
    expect(res.text).not.toContain(key.apiSecret);
    expect(await vaultState(db, ws.id)).toEqual({ connections: [], versions: [], audit: [] });
  });

  it('onboards a Coinbase CDP key (ES256 JWT verified by the stub) and rejects one that can transfer', async () => {
    const ws = await createWorkspace(api);
    const good = coinbaseKey();
    const ok = await connect(ws.token, { broker: 'coinbase', environment: 'live', credentials: good });
    expect(ok.status).toBe(201);
    expect(ok.body.permissions).toMatchObject({ inspection: 'inspected', canTrade: true, canWithdraw: false, canTransfer: false });
    expect(ok.body.keyHint).toBe(`…${good.apiKeyName.slice(-4)}`);
    expect(ok.text).not.toContain('PRIVATE KEY');

    const transferring = coinbaseKey({ canTransfer: true });
    const refused = await connect(ws.token, { broker: 'coinbase', environment: 'live', credentials: transferring });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('withdrawal_scope_rejected');
    const state = await vaultState(db, ws.id);
    expect(state.connections.map((c) => c.id)).toEqual([ok.body.id]);
    expect(state.versions).toHaveLength(1);
  });

  it('a paper Binance connection is a Spot Testnet key, checked at the testnet and never at the exchange', async () => {
    const ws = await createWorkspace(api);
    const key = { apiKey: unique('tnk'), apiSecret: unique('testnet-secret-') };
    binanceTestnet.addKey(key);
    const res = await connect(ws.token, { broker: 'binance', environment: 'paper', credentials: key });
    expect(res.status).toBe(201);
    expect(res.body.permissions).toMatchObject({
      inspection: 'trading_only',
      canTrade: true,
      canWithdraw: false,
      note: expect.stringContaining('Spot Testnet'),
    });
    expect(binanceTestnet.received('GET', '/api/v3/account')).toHaveLength(1);
    expect(binance.server.requests.some((r) => r.headers['x-mbx-apikey'] === key.apiKey)).toBe(false);
    // An exchange key saved as paper is unknown to the testnet: refused, nothing stored.
    const exchangeKey = binanceKey();
    const refused = await connect(ws.token, { broker: 'binance', environment: 'paper', credentials: exchangeKey });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('broker_credentials_invalid');
  });

  it('Coinbase has no paper trading: a paper Coinbase connection is refused with the reason beside the field', async () => {
    const ws = await createWorkspace(api);
    const before = coinbase.server.requests.length;
    const res = await connect(ws.token, { broker: 'coinbase', environment: 'paper', credentials: coinbaseKey() });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([{ path: 'environment', message: expect.stringMatching(/coinbase has no paper environment.*use live/) }]);
    expect(coinbase.server.requests.length).toBe(before);
    expect(await vaultState(db, ws.id)).toEqual({ connections: [], versions: [], audit: [] });
  });

  it('GET /v1/brokers: every broker with its environments and credential fields, as each adapter validates them', async () => {
    const ws = await createWorkspace(api);
    expect((await http(api.url, 'GET', '/v1/brokers')).status).toBe(401);
    const res = await http(api.url, 'GET', '/v1/brokers', { token: ws.token });
    expect(res.status).toBe(200);
    expect(res.body.nextCursor).toBeNull();
    const byName = new Map<string, any>(res.body.items.map((b: any) => [b.broker, b]));
    expect([...byName.keys()].sort()).toEqual([...BROKER_NAMES].sort());
    const schemas = { alpaca: alpacaCredentialsSchema, binance: binanceCredentialsSchema, coinbase: coinbaseCredentialsSchema, oanda: oandaCredentialsSchema };
    for (const [broker, schema] of Object.entries(schemas)) {
      const fields = byName.get(broker).credentialFields;
      expect(fields.map((f: any) => f.name).sort()).toEqual(Object.keys(schema.shape).sort());
      expect(fields.filter((f: any) => f.secret)).toHaveLength(1);
    }
    expect(byName.get('paper').credentialFields).toEqual([]);
    expect(Object.keys(byName.get('coinbase').environments)).toEqual(['live']);
    expect(Object.keys(byName.get('binance').environments)).toEqual(['paper', 'live']);
    expect(byName.get('binance')).toMatchObject({ permissionInspection: 'inspected', brackets: 'none', options: false, futures: false });
    const tradovateFields = byName.get('tradovate').credentialFields;
    expect(tradovateFields.map((f: any) => f.name).sort()).toEqual(Object.keys(tradovateCredentialsSchema.shape).sort());
    expect(
      tradovateFields
        .filter((f: any) => f.secret)
        .map((f: any) => f.name)
        .sort(),
    ).toEqual(['password', 'sec']);
    expect(byName.get('tradovate')).toMatchObject({
      environments: { paper: expect.stringContaining('demo'), live: expect.stringContaining('live') },
      assetClasses: ['futures'],
      orderTypes: ['market', 'limit', 'stop', 'stop_limit'],
      futures: true,
      options: false,
      trailingStopLoss: [],
      permissionInspection: 'single_tier',
    });
    const ibkr = byName.get('ibkr');
    expect(ibkr.credentialFields.map((f: any) => [f.name, f.secret])).toEqual([
      ['mode', false],
      ['gatewayUrl', true],
      ['accountId', false],
      ['consumerKey', false],
      ['accessToken', true],
      ['accessTokenSecret', true],
      ['signaturePrivateKey', true],
      ['encryptionPrivateKey', true],
      ['dhPrime', false],
      ['realm', false],
    ]);
    const modeFields = ibkrCredentialsSchema.options.flatMap((o) => Object.keys(o.shape));
    expect(ibkr.credentialFields.map((f: any) => f.name).sort()).toEqual([...new Set(modeFields)].sort());
    expect(ibkr).toMatchObject({ permissionInspection: 'single_tier', orderTypes: ['market', 'limit', 'stop', 'stop_limit'], futures: true, options: false });
    expect(ibkr.connectionModes).toEqual([
      expect.objectContaining({ mode: 'gateway', available: true }),
      expect.objectContaining({ mode: 'oauth', available: true }),
    ]);
  });

  it('connects a Tradovate login: token request, the account, a single tier that cannot withdraw; a wrong password is a clear 4xx', async () => {
    const ws = await createWorkspace(api);
    const credentials = { name: unique('trader'), password: unique('tv-pw-'), appId: 'Switchyard', cid: '77', sec: unique('tv-sec-') };
    const account = tradovate.addUser(credentials);
    const res = await connect(ws.token, { broker: 'tradovate', environment: 'paper', credentials });
    expect(res.status).toBe(201);
    expect(res.body.permissions).toMatchObject({
      inspection: 'single_tier',
      canTrade: true,
      canWithdraw: false,
      canTransfer: false,
      details: { account: account.name },
    });
    expect(res.body.keyHint).toBe(`…${account.name.slice(-4)}`);
    expect(res.text).not.toContain(credentials.password);
    expect(res.text).not.toContain(credentials.sec);
    await expect(openAsWorker(db, worker, ws.id, res.body.id, 1)).resolves.toEqual({ ...credentials, appVersion: '1.0' });

    const wrong = await connect(ws.token, { broker: 'tradovate', environment: 'live', credentials: { ...credentials, password: unique('nope-') } });
    expect(wrong.status).toBeGreaterThanOrEqual(400);
    expect(wrong.status).toBeLessThan(500);
    expect(wrong.text).toContain('Incorrect username or password');
    expect(wrong.text).not.toContain(credentials.sec);
  });

  it('refuses an IBKR gateway URL that is not https or resolves to a private address (no operator allowlist here)', async () => {
    const ws = await createWorkspace(api);
    const ibkr = (gatewayUrl: string) => connect(ws.token, { broker: 'ibkr', environment: 'paper', credentials: { gatewayUrl, accountId: 'DU1234567' } });
    const plain = await ibkr('http://gateway.example.com:5000');
    expect(plain.status).toBe(422);
    expect(plain.body.errors).toEqual([expect.objectContaining({ path: 'credentials.gatewayUrl' })]);
    for (const url of ['https://127.0.0.1:5000', 'https://169.254.169.254', 'https://10.0.0.5:5000']) {
      const refused = await ibkr(url);
      expect(refused.status).toBe(422);
      expect(refused.body.code).toBe('broker_credentials_invalid');
      expect(refused.body.detail).toMatch(/the IBKR gateway URL is refused: .*non-public address/);
      expect(refused.text).not.toContain(new URL(url).hostname);
    }
  });

  it('records and reports that an OANDA token has a single permission tier', async () => {
    const ws = await createWorkspace(api);
    const account = oandaAccount();
    const res = await connect(ws.token, { broker: 'oanda', environment: 'paper', credentials: account });
    expect(res.status).toBe(201);
    expect(res.body.permissions).toMatchObject({
      inspection: 'single_tier',
      canWithdraw: false,
      canTransfer: false,
      note: expect.stringContaining('no scopes'),
    });
    expect(res.body.keyHint).toBe(`…${account.accountId.slice(-4)}`);
    expect(res.text).not.toContain(account.token);
    const stored = await http(api.url, 'GET', `/v1/connections/${res.body.id}`, { token: ws.token });
    expect(stored.body.permissions.inspection).toBe('single_tier');
  });

  it('seals the server-set workspace binding for paper and ignores what the user sent', async () => {
    const ws = await createWorkspace(api);
    const res = await connect(ws.token, { broker: 'paper', credentials: { workspaceId: '00000000-0000-4000-8000-000000000000', note: 'x' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ environment: 'paper', keyHint: 'paper', permissions: { inspection: 'trading_only' } });
    await expect(openAsWorker(db, worker, ws.id, res.body.id, 1)).resolves.toEqual({ workspaceId: ws.id });

    const live = await connect(ws.token, { broker: 'paper', environment: 'live' });
    expect(live.status).toBe(422);
    expect(live.body.errors).toEqual([{ path: 'environment', message: expect.any(String) }]);
  });

  it('validates credentials with the adapter first and names fields, never values', async () => {
    const ws = await createWorkspace(api);
    const res = await connect(ws.token, { broker: 'alpaca', credentials: { apiKey: 'has spaces in-it-value' } });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['credentials.apiKey', 'credentials.apiSecret']);
    expect(res.text).not.toContain('has spaces');
    expect(alpaca.requests.some((r) => r.headers['apca-api-key-id'] === 'has spaces in-it-value')).toBe(false);

    const unknownBroker = await connect(ws.token, { broker: 'kraken', credentials: {} });
    expect(unknownBroker.status).toBe(422);
    expect(await vaultState(db, ws.id)).toEqual({ connections: [], versions: [], audit: [] });
  });

  it('answers 503 broker_unavailable when the broker fails, and stores nothing', async () => {
    const ws = await createWorkspace(api);
    const key = alpacaKey();
    alpaca.injectFaults('error500');
    const res = await connect(ws.token, { broker: 'alpaca', credentials: key });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('broker_unavailable');
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(await vaultState(db, ws.id)).toEqual({ connections: [], versions: [], audit: [] });
  });

  it('needs admin to connect; viewers read; other workspaces see 404', async () => {
    const ws = await createWorkspace(api);
    const other = await createWorkspace(api);
    const viewer = await tokenWithRole(ws.token, 'viewer');
    const trader = await tokenWithRole(ws.token, 'trader');
    const admin = await tokenWithRole(ws.token, 'admin');

    expect((await connect(viewer, { broker: 'paper' })).status).toBe(403);
    expect((await connect(trader, { broker: 'paper' })).status).toBe(403);
    const created = await connect(admin, { broker: 'paper' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const list = await http(api.url, 'GET', '/v1/connections', { token: viewer });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ items: [expect.objectContaining({ id })], nextCursor: null });
    expect((await http(api.url, 'GET', `/v1/connections/${id}`, { token: viewer })).status).toBe(200);
    expect((await http(api.url, 'DELETE', `/v1/connections/${id}`, { token: viewer })).status).toBe(403);
    expect((await http(api.url, 'POST', `/v1/connections/${id}/rotate`, { token: trader, body: { credentials: {} } })).status).toBe(403);

    expect((await http(api.url, 'GET', '/v1/connections', { token: other.token })).body).toEqual({ items: [], nextCursor: null });
    for (const [method, path, body] of [
      ['GET', `/v1/connections/${id}`, undefined],
      ['POST', `/v1/connections/${id}/rotate`, { credentials: {} }],
      ['DELETE', `/v1/connections/${id}`, undefined],
    ] as const) {
      const res = await http(api.url, method, path, { token: other.token, body });
      expect([method, res.status, res.body.code]).toEqual([method, 404, 'not_found']);
    }
    expect((await vaultState(db, ws.id)).connections).toEqual([{ id, status: 'active', credential_version: 1 }]);
    expect((await http(api.url, 'GET', '/v1/connections/not-a-uuid', { token: ws.token })).status).toBe(404);
  });
});

describe('POST /v1/connections/:id/rotate', () => {
  it('inspects the new key, seals it as version n+1 under a new data key and shreds the older versions', async () => {
    const ws = await createWorkspace(api);
    const first = alpacaKey();
    const created = await connect(ws.token, { broker: 'alpaca', credentials: first });
    const id = created.body.id as string;
    const second = alpacaKey();
    const wrappedKeyOf = async (version: number) =>
      (await asAdmin<{ wrapped_key: Buffer }>(db, 'SELECT wrapped_key FROM credential_versions WHERE connection_id = $1 AND version = $2', [id, version]))[0]
        ?.wrapped_key;
    const firstWrappedKey = await wrappedKeyOf(1);

    const rotated = await http(api.url, 'POST', `/v1/connections/${id}/rotate`, { token: ws.token, body: { credentials: second } });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id, status: 'active', credentialVersion: 2, keyHint: `…${second.apiKey.slice(-4)}`, rotatedAt: expect.any(String) });
    expect(rotated.text).not.toContain(second.apiSecret);

    const state = await vaultState(db, ws.id);
    expect(state.versions).toEqual([{ connection_id: id, version: 2, kms_key_id: 'local-root-1' }]);
    expect(state.audit.map((a) => [a.action, a.metadata.credentialVersion, a.metadata.shreddedVersions])).toEqual([
      ['credential.create', 1, undefined],
      ['credential.rotate', 2, 1],
    ]);
    await expect(openAsWorker(db, worker, ws.id, id, 2)).resolves.toEqual(second);
    expect(firstWrappedKey).toBeInstanceOf(Buffer);
    expect((await wrappedKeyOf(2))!.equals(firstWrappedKey!)).toBe(false);

    const third = alpacaKey();
    const again = await http(api.url, 'POST', `/v1/connections/${id}/rotate`, { token: ws.token, body: { credentials: third } });
    expect(again.body.credentialVersion).toBe(3);
    expect((await vaultState(db, ws.id)).versions.map((v) => v.version)).toEqual([3]);
  });

  it('keeps the current version when the new key is refused', async () => {
    const ws = await createWorkspace(api);
    const created = await connect(ws.token, { broker: 'binance', environment: 'live', credentials: binanceKey() });
    const id = created.body.id as string;
    const res = await http(api.url, 'POST', `/v1/connections/${id}/rotate`, {
      token: ws.token,
      body: { credentials: binanceKey({ enableWithdrawals: true }) },
    });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('withdrawal_scope_rejected');
    const state = await vaultState(db, ws.id);
    expect(state.connections).toEqual([{ id, status: 'active', credential_version: 1 }]);
    expect(state.versions.map((v) => v.version)).toEqual([1]);
    expect(state.audit.map((a) => a.action)).toEqual(['credential.create']);
  });
});

describe('DELETE /v1/connections/:id (revoke)', () => {
  it('marks the connection revoked, shreds every version, keeps the metadata, and is idempotent', async () => {
    const ws = await createWorkspace(api);
    const key = alpacaKey();
    const created = await connect(ws.token, { broker: 'alpaca', credentials: key });
    const id = created.body.id as string;
    const current = alpacaKey();
    await http(api.url, 'POST', `/v1/connections/${id}/rotate`, { token: ws.token, body: { credentials: current } });

    const revoked = await http(api.url, 'DELETE', `/v1/connections/${id}`, { token: ws.token });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({
      id,
      status: 'revoked',
      credentialVersion: 2,
      keyHint: `…${current.apiKey.slice(-4)}`,
      revokedAt: expect.any(String),
      brokerRevocation: 'not_supported_by_broker',
    });

    const state = await vaultState(db, ws.id);
    expect(state.connections).toEqual([{ id, status: 'revoked', credential_version: 2 }]);
    expect(state.versions).toEqual([]);
    await expect(openAsWorker(db, worker, ws.id, id, 2)).rejects.toThrow(/no credential version/);

    const again = await http(api.url, 'DELETE', `/v1/connections/${id}`, { token: ws.token });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(revoked.body);
    const audit = (await vaultState(db, ws.id)).audit;
    expect(audit.map((a) => a.action)).toEqual(['credential.create', 'credential.rotate', 'credential.revoke']);
    expect(audit[2].metadata).toMatchObject({ shreddedVersions: 1, brokerRevocation: 'not_supported_by_broker' });

    const rotate = await http(api.url, 'POST', `/v1/connections/${id}/rotate`, { token: ws.token, body: { credentials: alpacaKey() } });
    expect(rotate.status).toBe(409);
    expect(rotate.body.code).toBe('connection_revoked');
    expect((await http(api.url, 'GET', '/v1/connections', { token: ws.token })).body).toEqual({ items: [revoked.body], nextCursor: null });
  });

  it('records broker revocation as not applicable for paper', async () => {
    const ws = await createWorkspace(api);
    const created = await connect(ws.token, { broker: 'paper' });
    const revoked = await http(api.url, 'DELETE', `/v1/connections/${created.body.id}`, { token: ws.token });
    expect(revoked.body).toMatchObject({ status: 'revoked', brokerRevocation: 'not_applicable' });
    expect((await vaultState(db, ws.id)).versions).toEqual([]);
  });
});
