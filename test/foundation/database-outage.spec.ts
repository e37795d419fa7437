import { http, RunningApi, startApi, createWorkspace } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { TcpProxy } from '../support/tcp-proxy';
import { createHmacSource, eventually, HmacSource, postSigned, REDIS_URL, signal } from '../signals/support/signals-harness';
import { randomBytes } from 'node:crypto';

/**
 * The api's database goes away (a restart, a failover): webhook senders and API clients get a 503
 * problem with Retry-After they can act on, never a 500, and the api serves again once it is back.
 */
describe('the api during a database outage', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let api: RunningApi;
  let token: string;
  let source: HmacSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(db.apiUrl);
    proxy = await new TcpProxy(target.hostname, Number(target.port)).start();
    api = await startApi({ ...db, apiUrl: proxy.rewrite(db.apiUrl) }, { REDIS_URL, QUEUE_PREFIX: `{sytest-${randomBytes(6).toString('hex')}}` });
    token = (await createWorkspace(api)).token;
    source = await createHmacSource(api, token);
  });

  afterAll(async () => {
    await api?.close();
    await proxy?.stop();
    await db?.drop();
  });

  it('answers 503 database_unavailable with Retry-After to webhooks and API calls, then recovers', async () => {
    await proxy.cut();
    const body = signal();
    const during = await postSigned(api, source, body, { id: 'msg_outage' });
    const listing = await http(api.url, 'GET', '/v1/sources', { token });
    for (const res of [during, listing]) {
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.headers.get('retry-after')).toBe('2');
      expect(res.body).toMatchObject({ status: 503, code: 'database_unavailable' });
      expect(res.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|at .+\.js:\d+/);
    }
    expect(api.logs.text).toContain('database unavailable');

    await proxy.restore();
    // The sender's retry of the same delivery is accepted once the pool reconnects.
    const after = await eventually(async () => {
      const res = await postSigned(api, source, body, { id: 'msg_outage' });
      return res.status === 202 ? res : undefined;
    });
    expect(after.body).toMatchObject({ duplicate: false });
    expect((await http(api.url, 'GET', '/v1/sources', { token })).status).toBe(200);
  });
});
