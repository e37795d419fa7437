import { parseConfig } from '../../src/config/app-config';
import { sessionCookie, sessionCookieName } from '../../src/workspaces/auth/session-cookie';
import { createTestDatabase, TestDatabase } from '../support/database';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';

const PASSWORD = 'correct horse battery staple';

describe('console cookie sessions', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let ws: Awaited<ReturnType<typeof createWorkspace>>;
  let origin: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db, { LOGIN_MAX_FAILURES: '3' });
    ws = await createWorkspace(api, 'console', PASSWORD);
    origin = { origin: api.url, 'x-switchyard-csrf': '1' };
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  async function signIn(email = ws.ownerEmail, password = PASSWORD, headers = origin) {
    const res = await http(api.url, 'POST', '/v1/auth/session', { body: { email, password }, headers });
    // The second Set-Cookie ends a platform session cookie the browser may hold (one console session at a time).
    const cookie = res.headers.getSetCookie()[0] ?? '';
    return { res, cookie, pair: cookie.split(';')[0] };
  }

  it('signs in with e-mail and password into an httpOnly SameSite=Strict cookie naming a server-side row; the body holds no token', async () => {
    const { res, cookie, pair } = await signIn();
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ workspaceId: ws.id, memberId: ws.ownerId, role: 'owner', expiresAt: expect.any(String) });
    expect(cookie).toMatch(/^switchyard_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect(res.text).not.toContain(pair.split('=')[1]);
    const rows = await db.adminQuery<{ token_hash: Buffer }>('SELECT token_hash FROM console_sessions WHERE member_id = $1', [ws.ownerId]);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.token_hash.toString('utf8')).join()).not.toContain(pair.split('=')[1]);

    const me = await http(api.url, 'GET', '/v1/auth/session', { headers: { cookie: pair } });
    expect(me.body).toEqual({ workspaceId: ws.id, memberId: ws.ownerId, role: 'owner' });
    expect((await http(api.url, 'GET', '/v1/signals', { headers: { cookie: pair } })).status).toBe(200);
  });

  it('refuses sign-in without the CSRF header or from a foreign origin', async () => {
    expect((await signIn(ws.ownerEmail, PASSWORD, { origin: api.url })).res.body.code).toBe('csrf_failed');
    expect((await signIn(ws.ownerEmail, PASSWORD, { origin: 'https://evil.example', 'x-switchyard-csrf': '1' })).res.body.code).toBe('csrf_failed');
    expect((await signIn(ws.ownerEmail, PASSWORD, { 'x-switchyard-csrf': '1' })).res.status).toBe(403);
  });

  it('refuses a mutating cookie-authenticated request without CSRF proof; with it, and with a bearer token, the write goes through', async () => {
    const { pair } = await signIn();
    const body = { name: 'from-console', role: 'viewer' };
    const bare = await http(api.url, 'POST', '/v1/tokens', { body, headers: { cookie: pair } });
    expect({ status: bare.status, code: bare.body.code }).toEqual({ status: 403, code: 'csrf_failed' });
    const foreign = await http(api.url, 'POST', '/v1/tokens', { body, headers: { cookie: pair, origin: 'https://evil.example', 'x-switchyard-csrf': '1' } });
    expect(foreign.body.code).toBe('csrf_failed');
    expect((await http(api.url, 'POST', '/v1/tokens', { body, headers: { cookie: pair, ...origin } })).status).toBe(201);
    // Machines: a bearer token needs no CSRF proof (the bootstrap token ended at the first sign-in; a member JWT here).
    const jwt = (await http(api.url, 'POST', '/v1/auth/login', { body: { email: ws.ownerEmail, password: PASSWORD } })).body.accessToken;
    expect((await http(api.url, 'POST', '/v1/tokens', { body, token: jwt })).status).toBe(201);
  });

  it('logout revokes the session server-side: the old cookie no longer authenticates', async () => {
    const { pair } = await signIn();
    const out = await http(api.url, 'DELETE', '/v1/auth/session', { headers: { cookie: pair, ...origin } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^switchyard_session=; .*Max-Age=0/);
    expect((await http(api.url, 'GET', '/v1/auth/session', { headers: { cookie: pair } })).status).toBe(401);
  });

  it('ends a session after the idle period and after the absolute lifetime', async () => {
    const idle = await signIn();
    await db.adminQuery("UPDATE console_sessions SET last_seen_at = now() - interval '31 minutes' WHERE token_hash = sha256($1::text::bytea)", [
      idle.pair.split('=')[1],
    ]);
    expect((await http(api.url, 'GET', '/v1/auth/session', { headers: { cookie: idle.pair } })).status).toBe(401);
    const old = await signIn();
    await db.adminQuery("UPDATE console_sessions SET expires_at = now() - interval '1 second' WHERE token_hash = sha256($1::text::bytea)", [
      old.pair.split('=')[1],
    ]);
    expect((await http(api.url, 'GET', '/v1/auth/session', { headers: { cookie: old.pair } })).status).toBe(401);
  });

  it('applies the login lockouts: after the allowed failures even the right password gets 429', async () => {
    const member = await createWorkspace(api, 'locked', PASSWORD);
    for (let i = 0; i < 3; i++) expect((await signIn(member.ownerEmail, 'wrong password!')).res.status).toBe(401);
    const locked = await signIn(member.ownerEmail, PASSWORD);
    expect(locked.res.status).toBe(429);
    expect(locked.cookie).toBe('');
  });

  it('uses the __Host- prefix and Secure when the console is served over https', () => {
    const config = parseConfig({ NODE_ENV: 'test', PUBLIC_BASE_URL: 'https://console.example.com' });
    expect(sessionCookieName(config)).toBe('__Host-switchyard_session');
    expect(sessionCookie(config, 'v', 60)).toBe('__Host-switchyard_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure');
  });
});
