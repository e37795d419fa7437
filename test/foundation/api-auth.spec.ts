import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '../support/database';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';

describe('workspaces, tokens and auth over HTTP', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let a: Awaited<ReturnType<typeof createWorkspace>> & { bootstrap: string };
  let b: Awaited<ReturnType<typeof createWorkspace>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db);
    const created = await createWorkspace(api, 'A', 'correct horse battery staple');
    // The bootstrap token ends at the owner's first login (the JWT test below): the tests act with a durable owner token.
    const durable = await http(api.url, 'POST', '/v1/tokens', { token: created.token, body: { name: 'owner', role: 'owner', expiresInDays: 'never' } });
    a = { ...created, token: durable.body.token, bootstrap: created.token };
    b = await createWorkspace(api, 'B');
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('creates a workspace with the platform token only, showing the owner token once and storing only its hash', async () => {
    expect((await http(api.url, 'POST', '/v1/workspaces', { token: a.token, body: { name: 'x', ownerEmail: 'x@example.com' } })).status).toBe(403);
    expect((await http(api.url, 'POST', '/v1/workspaces', { body: { name: 'x', ownerEmail: 'x@example.com' } })).status).toBe(401);
    const listed = await http(api.url, 'GET', '/v1/tokens', { token: a.token });
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain(a.token);
    expect(listed.text).not.toContain(a.bootstrap);
    expect(listed.body.items[0].hint).toBe(`sy_…${a.token.slice(-4)}`);
    const admin = new Client({ connectionString: db.adminUrl });
    await admin.connect();
    const dump = await admin.query(`SELECT encode(token_hash, 'hex') AS h, token_hint FROM api_tokens`);
    await admin.end();
    expect(JSON.stringify(dump.rows)).not.toContain(a.token.slice(3));
    expect(JSON.stringify(dump.rows)).not.toContain(a.bootstrap.slice(3));
  });

  it('answers 404 to A for every resource of B, and never shows B', async () => {
    const members = await http(api.url, 'GET', '/v1/members', { token: b.token });
    const bOwner = members.body.items[0].id;
    const bTokens = await http(api.url, 'GET', '/v1/tokens', { token: b.token });
    expect((await http(api.url, 'DELETE', `/v1/members/${bOwner}`, { token: a.token })).status).toBe(404);
    expect((await http(api.url, 'DELETE', `/v1/tokens/${bTokens.body.items[0].id}`, { token: a.token })).status).toBe(404);
    const own = await http(api.url, 'GET', '/v1/workspace', { token: a.token });
    expect(own.body.id).toBe(a.id);
    expect((await http(api.url, 'GET', '/v1/members', { token: a.token })).text).not.toContain(bOwner);
    // B's token still works: nothing was revoked or removed.
    expect((await http(api.url, 'GET', '/v1/workspace', { token: b.token })).body.id).toBe(b.id);
  });

  it('answers 401 problem+json to missing, wrong, revoked and expired tokens', async () => {
    const wrong = await http(api.url, 'GET', '/v1/workspace', { token: 'sy_not-a-real-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('content-type')).toContain('application/problem+json');
    expect(wrong.body).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(wrong.body.requestId).toBeTruthy();
    expect((await http(api.url, 'GET', '/v1/workspace')).status).toBe(401);

    const issued = await http(api.url, 'POST', '/v1/tokens', { token: a.token, body: { name: 'ci', role: 'trader' } });
    expect(issued.status).toBe(201);
    expect((await http(api.url, 'GET', '/v1/workspace', { token: issued.body.token })).status).toBe(200);
    expect((await http(api.url, 'DELETE', `/v1/tokens/${issued.body.id}`, { token: a.token })).status).toBe(200);
    expect((await http(api.url, 'GET', '/v1/workspace', { token: issued.body.token })).status).toBe(401);

    const expiring = await http(api.url, 'POST', '/v1/tokens', { token: a.token, body: { name: 'short', role: 'viewer', expiresInDays: 1 } });
    const admin = new Client({ connectionString: db.adminUrl });
    await admin.connect();
    await admin.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [expiring.body.id]);
    await admin.end();
    expect((await http(api.url, 'GET', '/v1/workspace', { token: expiring.body.token })).status).toBe(401);
  });

  it('forbids a viewer every mutation (403) but allows reads', async () => {
    const viewer = await http(api.url, 'POST', '/v1/tokens', { token: a.token, body: { name: 'viewer', role: 'viewer' } });
    const t = viewer.body.token;
    expect((await http(api.url, 'GET', '/v1/workspace', { token: t })).status).toBe(200);
    expect((await http(api.url, 'POST', '/v1/tokens', { token: t, body: { name: 'x', role: 'viewer' } })).status).toBe(403);
    expect((await http(api.url, 'POST', '/v1/members', { token: t, body: { email: 'v@example.com', role: 'viewer' } })).status).toBe(403);
    expect((await http(api.url, 'PUT', '/v1/workspace/kill-switch', { token: t, body: { engaged: true, reason: 'x' } })).status).toBe(403);
    expect((await http(api.url, 'PUT', '/v1/workspace/live-trading', { token: t, body: { enabled: true, reason: 'x' } })).status).toBe(403);
  });

  it('lets only the owner enable live trading and never lets a token out-rank its creator', async () => {
    const adminToken = (await http(api.url, 'POST', '/v1/tokens', { token: a.token, body: { name: 'admin', role: 'admin' } })).body.token;
    expect((await http(api.url, 'PUT', '/v1/workspace/live-trading', { token: adminToken, body: { enabled: true, reason: 'go' } })).status).toBe(403);
    expect((await http(api.url, 'POST', '/v1/tokens', { token: adminToken, body: { name: 'up', role: 'owner' } })).status).toBe(403);
    const live = await http(api.url, 'PUT', '/v1/workspace/live-trading', { token: a.token, body: { enabled: true, reason: 'go live' } });
    expect(live.status).toBe(200);
    expect(live.body.liveTradingEnabled).toBe(true);
  });

  it('logs members in with a short-lived HS256 JWT and refuses alg:none and tampering', async () => {
    expect((await http(api.url, 'POST', '/v1/auth/login', { body: { email: a.ownerEmail, password: 'wrong password here' } })).status).toBe(401);
    const login = await http(api.url, 'POST', '/v1/auth/login', { body: { email: a.ownerEmail, password: 'correct horse battery staple' } });
    expect(login.status).toBe(200);
    const jwt: string = login.body.accessToken;
    expect((await http(api.url, 'GET', '/v1/workspace', { token: jwt })).body.id).toBe(a.id);

    const [header, payload] = jwt.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    expect((await http(api.url, 'GET', '/v1/workspace', { token: none })).status).toBe(401);
    const forged = JSON.parse(Buffer.from(payload, 'base64url').toString());
    forged.ws = b.id;
    const tampered = `${header}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${jwt.split('.')[2]}`;
    expect((await http(api.url, 'GET', '/v1/workspace', { token: tampered })).status).toBe(401);
  });

  it('rejects bad input with precise problems, never a 500', async () => {
    const invalid = await http(api.url, 'POST', '/v1/members', { token: a.token, body: { email: 'nope', role: 'god', extra: 1 } });
    expect(invalid.status).toBe(422);
    expect(invalid.body.code).toBe('validation_failed');
    expect(invalid.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['(body)', 'email', 'role']);
    const malformed = await http(api.url, 'POST', '/v1/members', { token: a.token, rawBody: '{"email":', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('malformed_json');
    const big = await http(api.url, 'POST', '/v1/members', {
      token: a.token,
      rawBody: JSON.stringify({ email: 'x'.repeat(200_000) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(big.status).toBe(413);
    expect((await http(api.url, 'DELETE', '/v1/members/not-a-uuid', { token: a.token })).status).toBe(404);
    expect(invalid.text).not.toMatch(/at .*\.ts:\d+/);
  });

  it('audits workspace, member, token, kill-switch, live-trading changes and failed authentication', async () => {
    const member = await http(api.url, 'POST', '/v1/members', { token: a.token, body: { email: 'audit-me@example.com', role: 'viewer' } });
    await http(api.url, 'DELETE', `/v1/members/${member.body.id}`, { token: a.token });
    await http(api.url, 'PUT', '/v1/workspace/kill-switch', { token: a.token, body: { engaged: false, reason: 'drill' } });
    await http(api.url, 'POST', '/v1/auth/login', { body: { email: a.ownerEmail, password: 'not the password at all' } });
    const audit = await http(api.url, 'GET', '/v1/audit?limit=200', { token: a.token });
    expect(audit.status).toBe(200);
    const actions = audit.body.items.map((e: { action: string }) => e.action);
    for (const action of [
      'workspace.create',
      'member.create',
      'member.remove',
      'token.create',
      'token.revoke',
      'kill_switch.workspace',
      'live_trading.change',
      'auth.failure',
      'auth.login.failed',
    ]) {
      expect(actions).toContain(action);
    }
    const failures = audit.body.items.filter((e: { action: string }) => e.action === 'auth.failure').map((e: { reason: string }) => e.reason);
    expect(failures).toEqual(expect.arrayContaining(['token revoked', 'token expired']));
    const login = audit.body.items.find((e: { action: string }) => e.action === 'auth.login.failed');
    expect(login).toMatchObject({ reason: 'wrong password', ip: expect.any(String), actor: { type: 'user', id: a.ownerId } });
    expect(audit.text).not.toContain('not the password at all');
  });

  it('sends the security headers on every response', async () => {
    for (const res of [await http(api.url, 'GET', '/healthz'), await http(api.url, 'GET', '/v1/workspace')]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('permissions-policy')).toContain('camera=()');
      expect(res.headers.get('strict-transport-security')).toContain('max-age=');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await http(api.url, 'GET', '/healthz')).status).toBe(200);
    const ready = await http(api.url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.details).toMatchObject({ database: { status: 'up' }, queue: { status: 'up' } });
    expect((await http(api.metricsUrl, 'GET', '/metrics')).text).toContain('switchyard_http_request_duration_seconds');
    const doc = await http(api.url, 'GET', '/docs/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/workspaces', '/v1/tokens', '/v1/auth/login']));
  });
});
