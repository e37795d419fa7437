import { randomUUID } from 'node:crypto';
import { Pager } from '../../src/audit/pager/pager';
import { createTestDatabase, TestDatabase } from '../support/database';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';

const PASSWORD = 'correct horse battery staple';

/** Issue 21: the platform on-call signs in to the console with the platform token, exchanged once for a cookie session. */
describe('platform console sessions', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let csrf: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db);
    csrf = { origin: api.url, 'x-switchyard-csrf': '1' };
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  async function signIn(token = api.platformToken, headers = csrf) {
    const res = await http(api.url, 'POST', '/v1/auth/platform-session', { token, headers });
    const cookies = res.headers.getSetCookie();
    const pair = (cookies.find((c) => c.startsWith('switchyard_platform_session=')) ?? '').split(';')[0];
    return { res, cookies, pair };
  }

  it('exchanges the platform token for an httpOnly SameSite=Strict cookie naming a server-side row; the body and the row hold neither secret', async () => {
    const { res, cookies, pair } = await signIn();
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ operator: true, expiresAt: expect.any(String) });
    expect(cookies).toEqual([
      expect.stringMatching(/^switchyard_platform_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/),
      // Signing in as the operator ends the browser's member session cookie.
      'switchyard_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0',
    ]);
    const value = pair.split('=')[1];
    expect(value).not.toBe(api.platformToken);
    expect(res.text).not.toContain(value);
    const rows = await db.adminQuery<{ token_hash: Buffer }>('SELECT token_hash FROM platform_sessions');
    expect(rows.map((r) => r.token_hash.toString('utf8')).join()).not.toContain(value);
    expect(rows.map((r) => r.token_hash.toString('hex')).join()).not.toContain(Buffer.from(api.platformToken).toString('hex'));

    expect((await http(api.url, 'GET', '/v1/auth/platform-session', { headers: { cookie: pair } })).body).toEqual({ operator: true });
    expect((await http(api.url, 'GET', '/v1/platform/alerts', { headers: { cookie: pair } })).status).toBe(200);
    // The operator's session acts on the platform's routes only, like the token.
    const inside = await http(api.url, 'GET', '/v1/signals', { headers: { cookie: pair } });
    expect(inside.status).toBe(403);
  });

  it('refuses sign-in without the CSRF proof or without the platform token', async () => {
    expect((await signIn(api.platformToken, { origin: api.url })).res.body.code).toBe('csrf_failed');
    expect((await signIn(api.platformToken, { origin: 'https://evil.example', 'x-switchyard-csrf': '1' })).res.body.code).toBe('csrf_failed');
    expect((await signIn('not-the-platform-token')).res.status).toBe(401);
    const ws = await createWorkspace(api, 'tenant', PASSWORD);
    expect((await signIn(ws.token)).res.status).toBe(403);
  });

  it('needs the CSRF proof on every cookie write; signing out revokes the row and is audited on the platform chain', async () => {
    const { pair } = await signIn();
    const body = { engaged: false, reason: 'console check' };
    const bare = await http(api.url, 'PUT', '/v1/platform/kill-switch', { body, headers: { cookie: pair } });
    expect({ status: bare.status, code: bare.body.code }).toEqual({ status: 403, code: 'csrf_failed' });
    expect((await http(api.url, 'PUT', '/v1/platform/kill-switch', { body, headers: { cookie: pair, ...csrf } })).status).toBe(200);

    const out = await http(api.url, 'DELETE', '/v1/auth/platform-session', { headers: { cookie: pair, ...csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie()).toEqual(['switchyard_platform_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0']);
    expect((await http(api.url, 'GET', '/v1/platform/alerts', { headers: { cookie: pair } })).status).toBe(401);
    const audited = await db.adminQuery<{ action: string; actor_type: string }>(
      `SELECT action, actor_type FROM audit_events WHERE workspace_id = '00000000-0000-0000-0000-000000000000' AND action LIKE 'platform.session.%' ORDER BY id`,
    );
    expect(audited.filter((a) => a.action === 'platform.session.close')).toEqual([{ action: 'platform.session.close', actor_type: 'platform' }]);
    expect(audited.filter((a) => a.action === 'platform.session.open').length).toBeGreaterThanOrEqual(2);
  });

  it("the operator's session opens one alert by id (the pager's link), acknowledges and resolves it with the CSRF proof only", async () => {
    const ws = await createWorkspace(api, 'paged');
    const { id } = await api.app.get(Pager).raise({
      workspaceId: ws.id,
      rule: 'credential.read.out_of_context',
      resourceType: 'connection',
      resourceId: randomUUID(),
      summary: 'read outside a routing context',
      details: { actorType: 'worker', actorId: 'worker-3' },
    });
    const { pair } = await signIn();
    const one = await http(api.url, 'GET', `/v1/platform/alerts/${id}`, { headers: { cookie: pair } });
    expect(one.status).toBe(200);
    expect(one.body).toEqual(expect.objectContaining({ id, workspaceId: ws.id, owner: 'platform', status: 'open', rule: 'credential.read.out_of_context' }));
    // The platform's view of an alert is the alert: no delivery log, nothing else of the workspace.
    expect(one.body.deliveries).toBeUndefined();
    expect((await http(api.url, 'GET', `/v1/platform/alerts/${randomUUID()}`, { headers: { cookie: pair } })).body.code).toBe('not_found');
    expect((await http(api.url, 'GET', '/v1/platform/alerts/not-a-uuid', { headers: { cookie: pair } })).status).toBe(404);
    // A tenant cannot read it through the platform's route.
    expect((await http(api.url, 'GET', `/v1/platform/alerts/${id}`, { token: ws.token })).status).toBe(403);

    for (const verb of ['ack', 'resolve']) {
      const bare = await http(api.url, 'POST', `/v1/platform/alerts/${id}/${verb}`, { headers: { cookie: pair, origin: api.url } });
      expect({ status: bare.status, code: bare.body.code }).toEqual({ status: 403, code: 'csrf_failed' });
    }
    expect((await http(api.url, 'GET', `/v1/platform/alerts/${id}`, { headers: { cookie: pair } })).body.status).toBe('open');
    const acked = await http(api.url, 'POST', `/v1/platform/alerts/${id}/ack`, { headers: { cookie: pair, ...csrf } });
    expect(acked.body).toEqual(expect.objectContaining({ status: 'acknowledged', acknowledgedBy: 'platform:platform-admin' }));
    const resolved = await http(api.url, 'POST', `/v1/platform/alerts/${id}/resolve`, { headers: { cookie: pair, ...csrf } });
    expect(resolved.body).toEqual(expect.objectContaining({ status: 'resolved', resolvedBy: 'platform:platform-admin' }));
  });

  it('the operator reads the platform switch with its reason; a workspace member sees only whether it is engaged and since when', async () => {
    const ws = await createWorkspace(api, 'stopped');
    const { pair } = await signIn();
    const reason = 'operator-only reason 7c1f';
    const engaged = await http(api.url, 'PUT', '/v1/platform/kill-switch', { body: { engaged: true, reason }, headers: { cookie: pair, ...csrf } });
    expect(engaged.body).toEqual({ engaged: true, reason, changedAt: expect.any(String) });
    expect((await http(api.url, 'GET', '/v1/platform/kill-switch', { headers: { cookie: pair } })).body).toEqual(engaged.body);
    expect((await http(api.url, 'GET', '/v1/platform/kill-switch', { token: ws.token })).status).toBe(403);

    const seen = await http(api.url, 'GET', '/v1/workspace', { token: ws.token });
    expect(seen.body.platformKillSwitch).toEqual({ engaged: true, engagedAt: engaged.body.changedAt });
    expect(seen.text).not.toContain(reason);
    // A workspace write answers the same view.
    const kill = await http(api.url, 'PUT', '/v1/workspace/kill-switch', { token: ws.token, body: { engaged: true, reason: 'desk stop' } });
    expect(kill.body.platformKillSwitch).toEqual({ engaged: true, engagedAt: engaged.body.changedAt });

    await http(api.url, 'PUT', '/v1/platform/kill-switch', { body: { engaged: false, reason: 'all clear' }, headers: { cookie: pair, ...csrf } });
    expect((await http(api.url, 'GET', '/v1/workspace', { token: ws.token })).body.platformKillSwitch).toEqual({ engaged: false, engagedAt: null });
  });

  it("a member signing in ends the browser's operator cookie", async () => {
    const ws = await createWorkspace(api, 'member', PASSWORD);
    const res = await http(api.url, 'POST', '/v1/auth/session', { body: { email: ws.ownerEmail, password: PASSWORD }, headers: csrf });
    expect(res.headers.getSetCookie()[1]).toBe('switchyard_platform_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0');
  });
});
