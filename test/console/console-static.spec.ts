import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONSOLE_CSP } from '../../src/console/console-static';
import { createTestDatabase, TestDatabase } from '../support/database';
import { http, RunningApi, startApi } from '../support/api-app';

describe('the api serves the console at / on its own origin', () => {
  let db: TestDatabase;
  let api: RunningApi;

  beforeAll(async () => {
    const dist = mkdtempSync(join(tmpdir(), 'switchyard-console-'));
    mkdirSync(join(dist, 'assets'));
    writeFileSync(join(dist, 'index.html'), '<!doctype html><div id="root"></div><script type="module" src="/assets/index-AbCd1234.js"></script>');
    writeFileSync(join(dist, 'assets', 'index-AbCd1234.js'), 'console.log("bundle")');
    db = await createTestDatabase();
    api = await startApi(db, { CONSOLE_DIR: dist });
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('answers / and unknown client-side routes with index.html under the console CSP, never cached', async () => {
    for (const path of ['/', '/activity', '/connections/abc/permissions']) {
      const res = await http(api.url, 'GET', path);
      expect({ path, status: res.status, type: res.headers.get('content-type') }).toEqual({ path, status: 200, type: 'text/html; charset=utf-8' });
      expect(res.text).toContain('<div id="root">');
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
    expect(CONSOLE_CSP).toMatch(/default-src 'self'/);
    expect(CONSOLE_CSP).toMatch(/frame-ancestors 'none'/);
    expect(CONSOLE_CSP).toMatch(/form-action 'self'/);
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval/);
  });

  it('caches hashed assets for a year', async () => {
    const res = await http(api.url, 'GET', '/assets/index-AbCd1234.js');
    expect(res.status).toBe(200);
    expect(res.text).toBe('console.log("bundle")');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
  });

  it('leaves the api paths alone: unknown /v1, /hooks, /docs paths stay problem+json 404s, not the console', async () => {
    for (const path of ['/v1/nope', '/hooks/nope/x', '/docs/nope', '/healthz/x']) {
      const res = await http(api.url, 'GET', path);
      expect({ path, status: res.status, type: res.headers.get('content-type') }).toEqual({
        path,
        status: 404,
        type: expect.stringContaining('application/problem+json'),
      });
      expect(res.headers.get('content-security-policy')).not.toBe(CONSOLE_CSP);
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    const health = await http(api.url, 'GET', '/healthz');
    expect(health.body).toEqual({ status: 'ok' });
    expect((await http(api.url, 'GET', '/v1/signals')).status).toBe(401);
  });

  it('does not serve the console for unknown non-GET requests', async () => {
    expect((await http(api.url, 'POST', '/activity', { body: {} })).status).toBe(404);
  });
});
