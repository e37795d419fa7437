import { randomBytes } from 'node:crypto';
import { PLATFORM_WORKSPACE_ID } from '../../src/audit/audit-event';
import { createHmacSource, postSigned, REDIS_URL, signal } from '../signals/support/signals-harness';
import { createWorkspace, http, HttpResult, RunningApi, startApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';

const PASSWORD = 'correct horse battery staple';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Each test speaks from addresses of its own (the apis trust X-Forwarded-For from 127.0.0.1). */
const newIp = () => `10.${[0, 0, 0].map(() => randomBytes(1)[0]).join('.')}`;

// Short windows and lockouts, so expiry is seen in seconds; the counts are the defaults where they matter.
const LIMITS = {
  TRUST_PROXY: '127.0.0.1',
  DATABASE_POOL_SIZE: '4',
  LOGIN_MAX_FAILURES: '5',
  LOGIN_IP_MAX_FAILURES: '8',
  LOGIN_LOCKOUT_SECONDS: '2',
  LOGIN_LOCKOUT_MAX_SECONDS: '8',
  TOKEN_IP_MAX_FAILURES: '3',
  RATE_LIMIT_WINDOW_SECONDS: '5',
  RATE_LIMIT_PER_MINUTE: '10',
  WEBHOOK_RATE_LIMIT_PER_MINUTE: '4',
  WEBHOOK_IP_RATE_LIMIT_PER_MINUTE: '6',
};

const STORES: Array<[name: string, env: () => Record<string, string>]> = [
  ['postgres', () => ({ RATE_LIMIT_STORE: 'postgres' })],
  ['redis', () => ({ RATE_LIMIT_STORE: 'redis', REDIS_URL, QUEUE_PREFIX: `{sytest-${randomBytes(6).toString('hex')}}` })],
];

/** Brute-force limits on sign-in and bearer tokens, and the rate limits, held by two api replicas sharing one store. */
describe.each(STORES)('shared limits (%s store)', (_name, storeEnv) => {
  let db: TestDatabase;
  let apis: RunningApi[];
  let turn = 0;
  /** Alternates between the two replicas: every count below is shared. */
  const next = () => apis[turn++ % apis.length];

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = { ...LIMITS, ...storeEnv() };
    const first = await startApi(db, env);
    apis = [
      first,
      await startApi(db, { ...env, PLATFORM_ADMIN_TOKEN: first.platformToken, JWT_SECRET: first.config.auth.jwtSecret!, DATA_DIR: first.config.dataDir }),
    ];
  }, 60_000);
  afterAll(async () => {
    await Promise.all((apis ?? []).map((a) => a.close()));
    await db?.drop();
  });

  function login(ip: string, email: string, password: string, api = next()): Promise<HttpResult> {
    return http(api.url, 'POST', '/v1/auth/login', { body: { email, password }, headers: { 'x-forwarded-for': ip } });
  }

  async function events(workspaceId: string, prefix: string) {
    return db.adminQuery<{
      action: string;
      ip: string;
      actor_id: string | null;
      resource_type: string;
      resource_id: string | null;
      reason: string;
      metadata: Record<string, unknown>;
    }>(`SELECT action, ip, actor_id, resource_type, resource_id, reason, metadata FROM audit_events WHERE workspace_id = $1 AND action LIKE $2 ORDER BY id`, [
      workspaceId,
      `${prefix}%`,
    ]);
  }

  const withoutRequestId = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });

  it('locks an account after 5 failures: the 6th attempt is 429 with Retry-After on any replica, the right password too, and it is audited', async () => {
    const ws = await createWorkspace(apis[0], 'lock', PASSWORD);
    const ip = newIp();
    const failures = [];
    for (let i = 0; i < 5; i++) failures.push((await login(ip, ws.ownerEmail, `wrong-${i}`)).status);
    expect(failures).toEqual([401, 401, 401, 401, 401]);

    const right = await login(ip, ws.ownerEmail, PASSWORD, apis[0]);
    const wrong = await login(ip, ws.ownerEmail, 'wrong again', apis[1]);
    for (const res of [right, wrong]) {
      expect(res.status).toBe(429);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(2);
    }
    expect(right.body.code).toBe('too_many_attempts');
    expect(withoutRequestId(right.body)).toEqual(withoutRequestId(wrong.body));
    expect(right.body.accessToken).toBeUndefined();
    // The account is locked, whatever address the next attempt comes from.
    expect((await login(newIp(), ws.ownerEmail, PASSWORD)).status).toBe(429);

    const audited = await events(ws.id, 'auth.login.');
    expect(audited.filter((e) => e.action === 'auth.login.failed')).toHaveLength(5);
    expect(
      audited.filter((e) => e.action === 'auth.login.failed').every((e) => e.ip === ip && e.actor_id === ws.ownerId && e.reason === 'wrong password'),
    ).toBe(true);
    const locked = audited.filter((e) => e.action === 'auth.login.locked');
    expect(locked).toHaveLength(1);
    expect(locked[0]).toMatchObject({ ip, actor_id: ws.ownerId, metadata: { scope: 'account', lockedSeconds: 2, lockout: 1 } });
  });

  it('ends a lockout on its own, doubles the next one, and a successful sign-in resets the count', async () => {
    const ws = await createWorkspace(apis[0], 'expiry', PASSWORD);
    // A new address per phase: the per-IP count (8 in the window) is not what this test is about.
    let ip = newIp();
    const fail = async (n: number) => {
      const statuses = [];
      for (let i = 0; i < n; i++) statuses.push((await login(ip, ws.ownerEmail, 'nope')).status);
      return statuses;
    };
    expect(await fail(5)).toEqual([401, 401, 401, 401, 401]);
    const first = await login(ip, ws.ownerEmail, PASSWORD);
    expect(first.status).toBe(429);
    await sleep(Number(first.headers.get('retry-after')) * 1000 + 100);

    // Expired: counting starts again, and the second lockout is twice as long.
    ip = newIp();
    expect(await fail(5)).toEqual([401, 401, 401, 401, 401]);
    const second = await login(ip, ws.ownerEmail, PASSWORD);
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(2);
    expect(Number(second.headers.get('retry-after'))).toBeLessThanOrEqual(4);
    await sleep(Number(second.headers.get('retry-after')) * 1000 + 100);
    expect((await login(ip, ws.ownerEmail, PASSWORD)).status).toBe(200);

    // The success reset the count: 4 + 4 failures around another success never lock.
    ip = newIp();
    expect(await fail(4)).toEqual([401, 401, 401, 401]);
    expect((await login(ip, ws.ownerEmail, PASSWORD)).status).toBe(200);
    ip = newIp();
    expect(await fail(4)).toEqual([401, 401, 401, 401]);
    expect((await login(ip, ws.ownerEmail, PASSWORD)).status).toBe(200);
    // And the lockout history: the next lockout is the first again.
    ip = newIp();
    expect(await fail(5)).toEqual([401, 401, 401, 401, 401]);
    expect(Number((await login(ip, ws.ownerEmail, PASSWORD)).headers.get('retry-after'))).toBeLessThanOrEqual(2);
    const locks = (await events(ws.id, 'auth.login.locked')).map((e) => e.metadata.lockedSeconds);
    expect(locks).toEqual([2, 4, 2]);
  }, 90_000);

  it('limits failures per IP across accounts, records unknown e-mails on the platform chain by digest only', async () => {
    const ws = await createWorkspace(apis[0], 'per-ip', PASSWORD);
    const ip = newIp();
    const emails = Array.from({ length: 8 }, (_, i) => `nobody-${i}-${randomBytes(3).toString('hex')}@example.com`);
    const statuses = [];
    for (const email of emails) statuses.push((await login(ip, email, 'guess')).status);
    expect(statuses).toEqual(Array(8).fill(401));
    // The 9th attempt from that address is refused before any password is checked, even a right one.
    expect((await login(ip, ws.ownerEmail, PASSWORD)).status).toBe(429);
    expect((await login(newIp(), ws.ownerEmail, PASSWORD)).status).toBe(200);

    const platform = await events(PLATFORM_WORKSPACE_ID, 'auth.login.');
    const failed = platform.filter((e) => e.action === 'auth.login.failed' && e.ip === ip);
    expect(failed).toHaveLength(8);
    expect(failed.every((e) => e.reason === 'unknown email' && typeof e.metadata.emailDigest === 'string')).toBe(true);
    expect(platform.filter((e) => e.action === 'auth.login.locked' && e.ip === ip)).toEqual([
      expect.objectContaining({ resource_type: 'ip', resource_id: ip, metadata: expect.objectContaining({ scope: 'ip' }) }),
    ]);
    const stored = JSON.stringify(await db.adminQuery('SELECT * FROM audit_events WHERE workspace_id = $1', [PLATFORM_WORKSPACE_ID]));
    for (const email of emails) expect(stored).not.toContain(email);
  });

  it('answers an unknown e-mail, a member without a password and a wrong password alike (status, body, one password hash each)', async () => {
    const ws = await createWorkspace(apis[0], 'oracle', PASSWORD);
    const member = await http(apis[0].url, 'POST', '/v1/members', {
      token: ws.token,
      body: { email: `nopass-${randomBytes(3).toString('hex')}@example.com`, role: 'viewer' },
    });
    expect(member.status).toBe(201);
    const kinds: Record<string, () => string> = {
      unknown: () => `ghost-${randomBytes(4).toString('hex')}@example.com`,
      noPassword: () => member.body.email,
      wrongPassword: () => ws.ownerEmail,
    };
    const took: Record<string, number[]> = { unknown: [], noPassword: [], wrongPassword: [] };
    const answers: Record<string, HttpResult[]> = { unknown: [], noPassword: [], wrongPassword: [] };
    for (let round = 0; round < 4; round++) {
      const ip = newIp();
      for (const [kind, email] of Object.entries(kinds)) {
        const started = performance.now();
        answers[kind].push(await login(ip, email(), 'a guess at the password'));
        took[kind].push(performance.now() - started);
      }
    }
    const shape = (r: HttpResult) => ({
      status: r.status,
      type: r.headers.get('content-type'),
      auth: r.headers.get('www-authenticate'),
      body: withoutRequestId(r.body),
    });
    const reference = shape(answers.wrongPassword[0]);
    expect(reference.status).toBe(401);
    for (const list of Object.values(answers)) for (const r of list) expect(shape(r)).toEqual(reference);
    // Each costs one scrypt (tens of ms); before, a member without a password answered in a few ms.
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const medians = Object.values(took).map(median);
    expect(Math.min(...medians) / Math.max(...medians)).toBeGreaterThan(0.4);
  }, 30_000);

  it('limits unknown bearer tokens per IP: past the limit the platform token gets the same 429 until the lockout ends', async () => {
    const ip = newIp();
    const platform = apis[0].platformToken;
    const call = (token: string, api = next()) => http(api.url, 'GET', '/v1/workspace', { token, headers: { 'x-forwarded-for': ip } });
    // Before: the platform token is known (403 here: it cannot act inside a workspace).
    expect((await call(platform)).status).toBe(403);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(`guess-${randomBytes(20).toString('hex')}`)).status);
    expect(statuses).toEqual([401, 401, 401]);
    const guess = await call(`guess-${randomBytes(20).toString('hex')}`, apis[0]);
    const real = await call(platform, apis[1]);
    for (const res of [guess, real]) {
      expect(res.status).toBe(429);
      expect(res.body.code).toBe('too_many_attempts');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect(withoutRequestId(guess.body)).toEqual(withoutRequestId(real.body));
    await sleep(Number(real.headers.get('retry-after')) * 1000 + 100);
    expect((await call(platform)).status).toBe(403);

    const audited = (await events(PLATFORM_WORKSPACE_ID, 'auth.token.')).filter((e) => e.ip === ip);
    expect(audited.map((e) => e.action)).toEqual(['auth.token.failed', 'auth.token.failed', 'auth.token.failed', 'auth.token.locked']);
  }, 20_000);

  it('does not count tokens it issued that are only revoked or expired', async () => {
    const ws = await createWorkspace(apis[0], 'revoked', PASSWORD);
    const created = await http(apis[0].url, 'POST', '/v1/tokens', { token: ws.token, body: { name: 'soon revoked', role: 'viewer' } });
    expect(created.status).toBe(201);
    expect((await http(apis[0].url, 'DELETE', `/v1/tokens/${created.body.id}`, { token: ws.token })).status).toBe(200);
    const jwt = await login(newIp(), ws.ownerEmail, PASSWORD);
    const ip = newIp();
    const statuses = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await http(next().url, 'GET', '/v1/workspace', { token: created.body.token, headers: { 'x-forwarded-for': ip } })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    expect((await http(next().url, 'GET', '/v1/workspace', { token: apis[0].platformToken, headers: { 'x-forwarded-for': ip } })).status).toBe(403);
    expect((await http(next().url, 'GET', '/v1/workspace', { token: jwt.body.accessToken, headers: { 'x-forwarded-for': ip } })).status).toBe(200);
  });

  it('holds the webhook limits per source and per IP across replicas, and the window ends on its own', async () => {
    const ws = await createWorkspace(apis[0], 'hooks', PASSWORD);
    const source = await createHmacSource(apis[0], ws.token);
    const ip = newIp();
    const deliver = (api = next()) => postSigned(api, source, signal(), { id: `msg_${randomBytes(6).toString('hex')}` }).then((r) => r);
    // postSigned sends no X-Forwarded-For: the per-source limit is what is counted here.
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await deliver()).status);
    expect(statuses).toEqual([202, 202, 202, 202]);
    const limited = await deliver();
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(limited.headers.get('content-type')).toContain('application/problem+json');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    await sleep(retryAfter * 1000 + 100);
    expect((await deliver()).status).toBe(202);

    // Per sender IP, before authentication: unknown sources count too.
    const unknown = [];
    for (let i = 0; i < 7; i++) {
      unknown.push(
        (
          await http(next().url, 'POST', `/hooks/00000000-0000-4000-8000-${randomBytes(6).toString('hex')}`, {
            body: signal(),
            headers: { 'x-forwarded-for': ip },
          })
        ).status,
      );
    }
    expect(unknown).toEqual([401, 401, 401, 401, 401, 401, 429]);
  }, 20_000);

  it('holds the global throttle across replicas as problem+json with Retry-After', async () => {
    const ws = await createWorkspace(apis[0], 'throttle', PASSWORD);
    const ip = newIp();
    const statuses = [];
    for (let i = 0; i < 11; i++)
      statuses.push((await http(next().url, 'GET', '/v1/workspace', { token: ws.token, headers: { 'x-forwarded-for': ip } })).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(200));
    expect(statuses[10]).toBe(429);
    const limited = await http(next().url, 'GET', '/v1/workspace', { token: ws.token, headers: { 'x-forwarded-for': ip } });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(limited.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});
