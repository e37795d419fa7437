import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { AlpacaStub, startAlpacaStub } from '../support/brokers/alpaca-stub';
import { createTestDatabase, TestDatabase } from '../support/database';
import { PagerReceiver, startPagerDutyReceiver } from '../support/pager-receivers';
import { startWorker, RunningWorker } from '../support/worker-app';

const run = promisify(execFile);
const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');
const PD_KEY = 'BREAKGLASSKEY0123456789ABCDEFGHI';

/** `cli credentials reveal`: refused without a reason; with one, audited, paged critical, printed once. */
describe('break-glass credential reveal', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let worker: RunningWorker;
  let alpaca: AlpacaStub;
  let pagerDuty: PagerReceiver;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    [alpaca, pagerDuty] = await Promise.all([startAlpacaStub(), startPagerDutyReceiver()]);
    api = await startApi(db, { BROKER_ALPACA_BASE_URL: alpaca.url, PAGER_PAGERDUTY_ROUTING_KEY: PD_KEY, PAGER_PAGERDUTY_URL: pagerDuty.url });
    env = { DATA_DIR: api.config.dataDir, PAGER_PAGERDUTY_ROUTING_KEY: PD_KEY, PAGER_PAGERDUTY_URL: pagerDuty.url };
    worker = await startWorker(db, env); // delivers the page
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await alpaca?.stop();
    await pagerDuty?.close();
    await db?.drop();
  });

  function cli(args: string[]) {
    return run(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, ...env, DATABASE_URL: db.adminUrl, DATABASE_WORKER_URL: db.workerUrl, LOG_LEVEL: 'silent' },
    }).catch((e) => e as { code: number; stdout: string; stderr: string });
  }

  it('refuses without a reason and leaves no trace', async () => {
    const ws = await createWorkspace(api);
    alpaca.addKey({ apiKey: 'PKBREAKGLASS0001', apiSecret: 'bg-secret-canary-1' });
    const conn = await http(api.url, 'POST', '/v1/connections', {
      token: ws.token,
      body: { broker: 'alpaca', label: 'x', credentials: { apiKey: 'PKBREAKGLASS0001', apiSecret: 'bg-secret-canary-1' } },
    });
    const refused = await cli(['credentials', 'reveal', '--connection', conn.body.id]);
    expect((refused as { code: number }).code).toBe(2);
    expect(String((refused as { stdout: string }).stdout)).not.toContain('bg-secret-canary-1');
    const audit = await http(api.url, 'GET', '/v1/audit?action=credential.break_glass', { token: ws.token });
    expect(audit.body.items).toHaveLength(0);
  });

  it('with a reason: audits credential.break_glass, pages at critical severity, prints the credential once', async () => {
    const ws = await createWorkspace(api);
    alpaca.addKey({ apiKey: 'PKBREAKGLASS0002', apiSecret: 'bg-secret-canary-2' });
    const conn = await http(api.url, 'POST', '/v1/connections', {
      token: ws.token,
      body: { broker: 'alpaca', label: 'y', credentials: { apiKey: 'PKBREAKGLASS0002', apiSecret: 'bg-secret-canary-2' } },
    });
    const out = await cli(['credentials', 'reveal', '--connection', conn.body.id, '--reason', 'broker support ticket 4711 needs the key']);
    expect(out.stdout.split('bg-secret-canary-2').length).toBe(2);

    const audit = await http(api.url, 'GET', '/v1/audit?action=credential.break_glass', { token: ws.token });
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0]).toMatchObject({ reason: 'broker support ticket 4711 needs the key', actor: expect.objectContaining({ type: 'platform' }) });
    expect(audit.text).not.toContain('bg-secret-canary-2');

    const pages = await pagerDuty.waitForAccepted(1, 15_000);
    const page = pages.map((p) => p.json as any).find((j) => j.payload?.summary?.includes(conn.body.id));
    expect(page).toMatchObject({ routing_key: PD_KEY, event_action: 'trigger', payload: { severity: 'critical' } });
    expect(JSON.stringify(pages.map((p) => p.json))).not.toContain('bg-secret-canary-2');
  });
});
