import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, TestDatabase } from '../support/database';
import { http, RunningApi, startApi } from '../support/api-app';

const GENERATED = join(__dirname, '../../web/src/api/schema.d.ts');
const CLI = join(__dirname, '../../node_modules/openapi-typescript/bin/cli.js');

// `npm run console:types` sets UPDATE_API_TYPES=1 to rewrite the file; otherwise any drift fails.
describe('console API types', () => {
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

  it('are exactly what openapi-typescript generates from the live OpenAPI document', async () => {
    const doc = await http(api.url, 'GET', '/docs/openapi.json');
    expect(doc.status).toBe(200);
    const input = join(mkdtempSync(join(tmpdir(), 'switchyard-openapi-')), 'openapi.json');
    writeFileSync(input, doc.text);
    const generated = execFileSync(process.execPath, [CLI, input], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(generated).toContain('"/v1/signals"');
    if (process.env.UPDATE_API_TYPES === '1') writeFileSync(GENERATED, generated);
    expect(readFileSync(GENERATED, 'utf8')).toBe(generated);
  });
});
