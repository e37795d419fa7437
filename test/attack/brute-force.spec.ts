import { randomBytes } from 'node:crypto';
import { createWorkspace, http, HttpResult, RunningApi, startApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';

const PASSWORD = 'correct horse battery staple';

/**
 * Regressions for the brute-force findings (issue 18 item 3, issue 19 item 4), with the default limits:
 * hundreds of wrong passwords or platform-token guesses all answered 401, and a member without a
 * password answered in a few ms where a wrong password cost a scrypt hash.
 */
describe('attack: brute force on sign-in and the platform token (default limits)', () => {
  let db: TestDatabase;
  let api: RunningApi;
  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db);
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('stops guessing one account after 5 wrong passwords: the right one is refused too', async () => {
    const ws = await createWorkspace(api, 'victim', PASSWORD);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await http(api.url, 'POST', '/v1/auth/login', { body: { email: ws.ownerEmail, password: `guess-${i}` } })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const right = await http(api.url, 'POST', '/v1/auth/login', { body: { email: ws.ownerEmail, password: PASSWORD } });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(800);
  }, 60_000);

  it('answers a member without a password as slowly as a wrong password (one hash each)', async () => {
    const ws = await createWorkspace(api, 'timing', PASSWORD);
    const email = `no-password-${randomBytes(3).toString('hex')}@example.com`;
    expect((await http(api.url, 'POST', '/v1/members', { token: ws.token, body: { email, role: 'viewer' } })).status).toBe(201);
    const timed = async (who: string): Promise<[number, HttpResult]> => {
      const started = performance.now();
      const res = await http(api.url, 'POST', '/v1/auth/login', { body: { email: who, password: 'not it' } });
      return [performance.now() - started, res];
    };
    const noPassword: number[] = [];
    const wrong: number[] = [];
    // 4 rounds: under the account limit (5), and 8 failures stay under the per-IP limit (20).
    for (let i = 0; i < 4; i++) {
      const [a, resA] = await timed(email);
      const [b, resB] = await timed(ws.ownerEmail);
      expect([resA.status, resB.status]).toEqual([401, 401]);
      noPassword.push(a);
      wrong.push(b);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    expect(median(noPassword) / median(wrong)).toBeGreaterThan(0.4);
  }, 60_000);

  it('stops guessing the platform token after 20 unknown tokens from one address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await http(api.url, 'GET', '/v1/workspace', { token: `guess-${randomBytes(24).toString('hex')}` })).status);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses[20]).toBe(429);
    expect((await http(api.url, 'GET', '/v1/workspace', { token: api.platformToken })).status).toBe(429);
  });
});
