import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '../support/database';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';

const PASSWORD = 'correct horse battery staple';

describe('changing a member role (PATCH /v1/members/:id)', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let a: Awaited<ReturnType<typeof createWorkspace>>;
  let b: Awaited<ReturnType<typeof createWorkspace>>;
  let origin: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db);
    const created = await createWorkspace(api, 'roles-a', PASSWORD);
    // The bootstrap token ends at the owner's first sign-in: the tests act with a durable owner token.
    const durable = await http(api.url, 'POST', '/v1/tokens', { token: created.token, body: { name: 'owner', role: 'owner', expiresInDays: 'never' } });
    a = { ...created, token: durable.body.token };
    b = await createWorkspace(api, 'roles-b');
    origin = { origin: api.url, 'x-switchyard-csrf': '1' };
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  async function addMember(role: string, email = `${role}-${Math.random().toString(36).slice(2, 8)}@example.com`) {
    const res = await http(api.url, 'POST', '/v1/members', { token: a.token, body: { email, password: PASSWORD, role } });
    expect(res.status).toBe(201);
    return { id: res.body.id as string, email };
  }
  async function signIn(email: string) {
    const res = await http(api.url, 'POST', '/v1/auth/session', { body: { email, password: PASSWORD }, headers: origin });
    expect(res.status).toBe(201);
    return res.headers.getSetCookie()[0].split(';')[0];
  }
  const patch = (id: string, body: unknown, auth: { token?: string; cookie?: string }) =>
    http(api.url, 'PATCH', `/v1/members/${id}`, { body, token: auth.token, headers: auth.cookie ? { cookie: auth.cookie, ...origin } : undefined });

  it('changes the role, answers the member view and audits member.role_change with from and to', async () => {
    const m = await addMember('viewer');
    const res = await patch(m.id, { role: 'trader' }, { token: a.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: m.id, email: m.email, role: 'trader', createdAt: expect.any(String) });
    const listed = await http(api.url, 'GET', '/v1/members?limit=100', { token: a.token });
    expect(listed.body.items.find((x: { id: string }) => x.id === m.id).role).toBe('trader');
    const audit = await http(api.url, 'GET', '/v1/audit?limit=200', { token: a.token });
    const event = audit.body.items.find((e: { action: string; resource: { id: string } }) => e.action === 'member.role_change' && e.resource.id === m.id);
    expect(event).toMatchObject({ resource: { type: 'member', id: m.id }, metadata: { from: 'viewer', to: 'trader' } });
  });

  it('refuses an unknown role or extra fields with 422 naming the field', async () => {
    const m = await addMember('viewer');
    const unknown = await patch(m.id, { role: 'god' }, { token: a.token });
    expect(unknown.status).toBe(422);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
    expect(unknown.body.code).toBe('validation_failed');
    expect(unknown.body.errors.map((e: { path: string }) => e.path)).toContain('role');
    expect((await patch(m.id, {}, { token: a.token })).status).toBe(422);
  });

  it('lets only admins and owners change roles: a viewer or trader gets 403; an admin cannot touch an owner or grant owner', async () => {
    const target = await addMember('viewer');
    for (const role of ['viewer', 'trader']) {
      const caller = await addMember(role);
      const res = await patch(target.id, { role: 'trader' }, { cookie: await signIn(caller.email) });
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 403, code: 'forbidden' });
    }
    const admin = await signIn((await addMember('admin')).email);
    expect((await patch(target.id, { role: 'admin' }, { cookie: admin })).status).toBe(200);
    const raise = await patch(target.id, { role: 'owner' }, { cookie: admin });
    expect({ status: raise.status, code: raise.body.code }).toEqual({ status: 403, code: 'higher_role' });
    const demoteOwner = await patch(a.ownerId, { role: 'viewer' }, { cookie: admin });
    expect({ status: demoteOwner.status, code: demoteOwner.body.code }).toEqual({ status: 403, code: 'higher_role' });
  });

  it("refuses to demote the workspace's last owner with 409 last_owner; with a second owner it may", async () => {
    const last = await patch(a.ownerId, { role: 'admin' }, { token: a.token });
    expect(last.status).toBe(409);
    expect(last.headers.get('content-type')).toContain('application/problem+json');
    expect(last.body.code).toBe('last_owner');
    const second = await addMember('owner');
    expect((await patch(second.id, { role: 'admin' }, { token: a.token })).body.role).toBe('admin');
    expect((await patch(second.id, { role: 'owner' }, { token: a.token })).body.role).toBe('owner');
  });

  it('locks the owners: of two owners demoting each other at once, exactly one goes through', async () => {
    const c = await createWorkspace(api, 'roles-c', PASSWORD);
    const added = await http(api.url, 'POST', '/v1/members', {
      token: c.token,
      body: { email: 'second-owner-c@example.com', password: PASSWORD, role: 'owner' },
    });
    const jwt = async (email: string) => (await http(api.url, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } })).body.accessToken;
    const [first, second] = [await jwt(c.ownerEmail), await jwt('second-owner-c@example.com')];
    // Hold the owners' rows so both requests are inside their transactions before either decides.
    const holder = new Client({ connectionString: db.adminUrl });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query("SELECT id FROM members WHERE workspace_id = $1 AND role = 'owner' FOR UPDATE", [c.id]);
    const pending = Promise.all([patch(added.body.id, { role: 'admin' }, { token: first }), patch(c.ownerId, { role: 'admin' }, { token: second })]);
    const waiting = async () =>
      (await holder.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")).rows[0].n;
    for (let i = 0; i < 200 && (await waiting()) < 2; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await waiting()).toBe(2);
    await holder.query('COMMIT');
    await holder.end();
    const both = await pending;
    expect(both.filter((r) => r.status === 200)).toHaveLength(1);
    expect(both.find((r) => r.status !== 200)?.body.code).toMatch(/^(last_owner|higher_role)$/);
    expect(await db.adminQuery("SELECT id FROM members WHERE workspace_id = $1 AND role = 'owner' AND removed_at IS NULL", [c.id])).toHaveLength(1);
  });

  it("answers 404 for another workspace's member and changes nothing there", async () => {
    const bOwner = (await http(api.url, 'GET', '/v1/members', { token: b.token })).body.items[0];
    const res = await patch(bOwner.id, { role: 'viewer' }, { token: a.token });
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 404, code: 'not_found' });
    expect((await http(api.url, 'GET', '/v1/members', { token: b.token })).body.items[0].role).toBe('owner');
  });

  it("lowers a demoted member's live console session, JWT and API token at their next request", async () => {
    const m = await addMember('admin');
    const cookie = await signIn(m.email);
    const jwt = (await http(api.url, 'POST', '/v1/auth/login', { body: { email: m.email, password: PASSWORD } })).body.accessToken;
    const token = (await http(api.url, 'POST', '/v1/tokens', { headers: { cookie, ...origin }, body: { name: 'hers', role: 'admin' } })).body.token;
    const write = (auth: { token?: string; cookie?: string }) =>
      http(api.url, 'POST', '/v1/tokens', {
        body: { name: 'probe', role: 'viewer' },
        token: auth.token,
        headers: auth.cookie ? { cookie: auth.cookie, ...origin } : undefined,
      });
    for (const auth of [{ cookie }, { token: jwt }, { token }]) expect((await write(auth)).status).toBe(201);

    expect((await patch(m.id, { role: 'viewer' }, { token: a.token })).status).toBe(200);

    expect((await http(api.url, 'GET', '/v1/auth/session', { headers: { cookie } })).body.role).toBe('viewer');
    for (const auth of [{ cookie }, { token: jwt }, { token }]) {
      const res = await write(auth);
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 403, code: 'forbidden' });
    }
    // Reading still works: she is a viewer now, not signed out.
    expect((await http(api.url, 'GET', '/v1/members', { headers: { cookie } })).status).toBe(200);
  });
});
