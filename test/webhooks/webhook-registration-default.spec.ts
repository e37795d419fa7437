import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';

/** With the default configuration (no OUTBOUND_ALLOW_HOSTS) no endpoint on a loopback or private address can be registered. */
describe('order webhook registration without an operator allowlist', () => {
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

  it.each(['https://127.0.0.1:9443/hooks', 'https://localhost:9443/hooks', 'https://[::1]/hooks', 'https://10.20.30.40/hooks', 'https://169.254.169.254/'])(
    'refuses %s: 422 url_private_address',
    async (url) => {
      const ws = await createWorkspace(api);
      const res = await http(api.url, 'POST', '/v1/webhooks', { token: ws.token, body: { url } });
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ code: 'url_private_address', status: 422 });
      expect(res.body.detail).toMatch(/OUTBOUND_ALLOW_HOSTS/);
      expect((await http(api.url, 'GET', '/v1/webhooks', { token: ws.token })).body.items).toEqual([]);
    },
  );
});
