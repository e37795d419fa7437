import { createTestDatabase, TestDatabase } from '../support/database';
import { http, RunningApi, startApi } from '../support/api-app';

describe('rate limiting', () => {
  let db: TestDatabase;
  let api: RunningApi;
  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db, { RATE_LIMIT_PER_MINUTE: '5' });
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('answers 429 problem+json with Retry-After past the limit', async () => {
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await http(api.url, 'GET', '/v1/workspace', { token: 'sy_x' })).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    const limited = await http(api.url, 'GET', '/v1/workspace', { token: 'sy_x' });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body.code).toBe('rate_limited');
  });
});
