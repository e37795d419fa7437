import { randomBytes, randomInt } from 'node:crypto';
import { createWorkspace, http, HttpResult, RunningApi, startApi } from '../support/api-app';
import { AlpacaStub, startAlpacaStub } from '../support/brokers/alpaca-stub';
import { BinanceStub, startBinanceStub } from '../support/brokers/binance-stub';
import { IbkrStub, startIbkrStub } from '../support/brokers/ibkr-stub';
import { selfSignedCertificate } from '../support/https-receiver';
import { createTestDatabase, TestDatabase } from '../support/database';
import { asAdmin } from './vault-harness';

/**
 * A unique secret onboarded through the API must surface nowhere but in the ciphertext: not in a
 * response, a log line (the real pino stream), any column of any table (queue schema included), in
 * plain, base64, base64url or hex form.
 */
let db: TestDatabase;
let apis: Record<'json' | 'pretty', RunningApi>;
let alpaca: AlpacaStub;
let binance: BinanceStub;
let ibkr: IbkrStub;

beforeAll(async () => {
  db = await createTestDatabase();
  const cert = selfSignedCertificate(['localhost']);
  [alpaca, binance, ibkr] = await Promise.all([startAlpacaStub(), startBinanceStub(), startIbkrStub(cert)]);
  ibkr.addStock('AAPL', 265598);
  // Two replicas of one deployment: they share the platform token and the JWT secret.
  const env = {
    LOG_LEVEL: 'trace',
    BROKER_ALPACA_BASE_URL: alpaca.url,
    BROKER_BINANCE_BASE_URL: binance.url,
    BROKER_BINANCE_TESTNET_BASE_URL: binance.url,
    PLATFORM_ADMIN_TOKEN: `platform-${randomBytes(24).toString('hex')}`,
    JWT_SECRET: randomBytes(32).toString('hex'),
    // The IBKR gateway stub is on loopback: only the operator allowlist lets the SSRF guard reach it.
    OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
    OUTBOUND_CA_FILE: cert.caFile,
    OUTBOUND_TIMEOUT_MS: '1500',
  };
  apis = { json: await startApi(db, { ...env, LOG_FORMAT: 'json' }), pretty: await startApi(db, { ...env, LOG_FORMAT: 'pretty' }) };
});

afterAll(async () => {
  await Promise.all(Object.values(apis ?? {}).map((api) => api.close()));
  await Promise.all([alpaca?.stop(), binance?.server.stop(), ibkr?.stop()]);
  await db?.drop();
});

function encodings(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const hex = bytes.toString('hex');
  return [secret, bytes.toString('base64'), bytes.toString('base64url'), hex, hex.toUpperCase()];
}

/** Every row of every table in every non-system schema, as text (bytea columns render as hex). */
async function everyRow(): Promise<Array<{ table: string; text: string }>> {
  const tables = await asAdmin<{ schema: string; name: string }>(
    db,
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`,
  );
  const rows: Array<{ table: string; text: string }> = [];
  for (const t of tables) {
    const table = `${t.schema}.${t.name}`;
    const found = await asAdmin<{ row: string }>(db, `SELECT t::text AS row FROM "${t.schema}"."${t.name}" t`);
    rows.push(...found.map((r) => ({ table, text: r.row })));
    if (found.length === 0) rows.push({ table, text: '' });
  }
  return rows;
}

// The pretty path (a terminal's `npm start`) renders objects differently, so it is proved separately.
it.each(['json', 'pretty'] as const)('never shows, logs (%s lines) or stores a credential outside its ciphertext', async (format) => {
  const api = apis[format];
  const canary = `CANARY${randomBytes(16).toString('hex')}`;
  const canaryKey = `PKCANARY${randomBytes(8).toString('hex').toUpperCase()}`;
  const rotated = `ROTATED${randomBytes(16).toString('hex')}`;
  const ws = await createWorkspace(api);
  const responses: HttpResult[] = [];
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await http(api.url, method, path, { token: ws.token, body });
    responses.push(res);
    return res;
  };

  alpaca.addKey({ apiKey: canaryKey, apiSecret: canary });
  const created = await call('POST', '/v1/connections', { broker: 'alpaca', label: 'canary-label', credentials: { apiKey: canaryKey, apiSecret: canary } });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  await call('GET', '/v1/connections');
  await call('GET', `/v1/connections/${id}`);

  // Every failure path carries the canary too.
  expect(
    (await call('POST', '/v1/connections', { broker: 'alpaca', label: 'x', credentials: { apiKey: canaryKey, apiSecret: `${canary}-wrong` } })).status,
  ).toBe(422);
  expect((await call('POST', '/v1/connections', { broker: 'alpaca', label: 'x', credentials: { apiKey: `${canary} spaced`, apiSecret: canary } })).status).toBe(
    422,
  );
  binance.addKey({ apiKey: `bn${canaryKey}`, apiSecret: canary, enableWithdrawals: true });
  expect(
    (
      await call('POST', '/v1/connections', {
        broker: 'binance',
        label: 'x',
        environment: 'live',
        credentials: { apiKey: `bn${canaryKey}`, apiSecret: canary },
      })
    ).status,
  ).toBe(422);
  alpaca.injectFaults('error500');
  expect((await call('POST', '/v1/connections', { broker: 'alpaca', label: 'x', credentials: { apiKey: canaryKey, apiSecret: canary } })).status).toBe(503);
  expect(
    (await call('POST', '/v1/connections', { broker: 'alpaca', label: 'x', credentials: { apiKey: canaryKey, apiSecret: canary }, extra: canary })).status,
  ).toBe(422);

  const rotatedKey = `PKROT${randomBytes(8).toString('hex').toUpperCase()}`;
  alpaca.addKey({ apiKey: rotatedKey, apiSecret: rotated });
  expect((await call('POST', `/v1/connections/${id}/rotate`, { credentials: { apiKey: rotatedKey, apiSecret: rotated } })).status).toBe(200);

  // IBKR gateway mode: both fields (the gateway URL, here with a canary path, and the account id) are sealed.
  const gatewayCanary = `CANARYGW${randomBytes(12).toString('hex')}`;
  const ibkrAccount = `DU${randomInt(100_000_000_000, 999_999_999_999)}`;
  ibkr.addAccount(ibkrAccount);
  const gatewayUrl = `${ibkr.url}/${gatewayCanary}`;
  const ibkrBody = (credentials: Record<string, string>) => ({ broker: 'ibkr', label: 'ibkr', environment: 'paper', credentials });
  expect((await call('POST', '/v1/connections', ibkrBody({ gatewayUrl, accountId: ibkrAccount }))).status).toBe(201);
  expect((await call('POST', '/v1/connections', ibkrBody({ gatewayUrl, accountId: 'DU999999999999' }))).status).toBe(422);
  expect((await call('POST', '/v1/connections', ibkrBody({ gatewayUrl: gatewayUrl.replace('https:', 'http:'), accountId: ibkrAccount }))).status).toBe(422);
  ibkr.session.authenticated = false;
  expect((await call('POST', '/v1/connections', ibkrBody({ gatewayUrl, accountId: ibkrAccount }))).status).toBe(422);
  ibkr.session.authenticated = true;
  ibkr.injectFaults('hang', 1, { method: 'GET', path: /\/iserver\/accounts$/ });
  expect((await call('POST', '/v1/connections', ibkrBody({ gatewayUrl, accountId: ibkrAccount }))).status).toBe(503);
  expect(ibkr.requests.some((r) => r.path.startsWith(`/${gatewayCanary}/v1/api/`))).toBe(true);

  const ibkrForms = [...encodings(gatewayCanary), ibkrAccount, `127.0.0.1:${new URL(ibkr.url).port}`];
  const forms = [...encodings(canary), ...encodings(rotated), canaryKey, rotatedKey, ...ibkrForms];
  for (const res of responses) {
    for (const form of forms) expect(res.text).not.toContain(form);
    for (const [, value] of res.headers) for (const form of forms) expect(value).not.toContain(form);
  }

  expect(api.logs.lines.length).toBeGreaterThan(responses.length);
  expect(api.logs.lines.every((line) => line.startsWith('{'))).toBe(format === 'json');
  for (const form of forms) expect(api.logs.text).not.toContain(form);

  const rows = await everyRow();
  const scanned = new Set(rows.map((r) => r.table));
  for (const table of ['public.broker_connections', 'public.credential_versions', 'public.audit_events']) expect(scanned).toContain(table);
  expect([...scanned].some((t) => t.startsWith('switchyard_queue.'))).toBe(true);
  // The scan reads real data: the connection's own id and label are found where they belong.
  expect(rows.some((r) => r.table === 'public.broker_connections' && r.text.includes(id) && r.text.includes('canary-label'))).toBe(true);
  expect(rows.filter((r) => r.table === 'public.credential_versions' && r.text.includes(id))).toHaveLength(1);
  // bytea columns print as hex, so the hex of each form covers secrets stored as raw bytes.
  const needles = forms.flatMap((f) => [f, Buffer.from(f, 'utf8').toString('hex')]);
  const leaks = rows.filter((r) => needles.some((n) => r.text.includes(n))).map((r) => r.table);
  expect(leaks).toEqual([]);
});
