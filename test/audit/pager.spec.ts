import { randomBytes, randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import { AuditWriter } from '../../src/audit/audit-writer';
import { Pager } from '../../src/audit/pager/pager';
import { PagerDispatcher } from '../../src/audit/pager/pager-dispatcher';
import { TenantDb } from '../../src/database/tenant-db';
import type { RuntimeRole } from '../../src/database/database-roles';
import type { AuthContext, PlatformContext } from '../../src/common/auth/auth-context';
import { createTestDatabase, TestDatabase } from '../support/database';
import { PagerReceiver, startPagerDutyReceiver, startSlackReceiver, startWebhookReceiver } from '../support/pager-receivers';
import { AuditApp, connect, startAuditApp } from './audit-harness';

const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';

const CONSOLE = 'https://switchyard.example.test';

function admin(workspaceId: string): AuthContext {
  const id = randomUUID();
  return { workspaceId, actor: { type: 'user', id }, memberId: id, role: 'admin', ip: '10.1.2.3', requestId: `req-${randomUUID()}` };
}

/** The platform on-call: the only one who handles security alerts such as an out-of-context read. */
function onCall(): PlatformContext {
  return { actor: { type: 'platform', id: 'platform-admin' }, ip: '10.1.2.3', requestId: `req-${randomUUID()}` };
}

function outOfContext(workspaceId: string, connectionId: string) {
  return {
    workspaceId,
    rule: 'credential.read.out_of_context' as const,
    resourceType: 'connection',
    resourceId: connectionId,
    summary: `Credential read outside a routing context: connection ${connectionId}`,
    details: { jobId: 'job-1', reason: 'no active order job' },
  };
}

describe('Pager', () => {
  let db: TestDatabase;
  let pd: PagerReceiver;
  let sql: Client;
  const apps: AuditApp[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    pd = await startPagerDutyReceiver();
    sql = await connect(db.adminUrl);
  });

  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    pd.setMode('up');
  });

  afterAll(async () => {
    await pd.close();
    await sql.end();
    await db.drop();
  });

  // The platform on-call acknowledges through the api, so tests that acknowledge run as the api's role.
  async function start(
    env: Record<string, string> = { PAGER_PAGERDUTY_ROUTING_KEY: ROUTING_KEY, PAGER_PAGERDUTY_URL: pd.url, PUBLIC_BASE_URL: CONSOLE },
    dataDir?: string,
    role: RuntimeRole = 'worker',
  ) {
    const app = await startAuditApp(db, { env, dataDir, role });
    apps.push(app);
    return { app, pager: app.module.get(Pager), dispatcher: app.module.get(PagerDispatcher) };
  }

  const pdRequestsFor = (alertId: string) => pd.requests.filter((r) => (r.json as { dedup_key?: string }).dedup_key === `switchyard-alert-${alertId}`);
  const acceptedFor = (alertId: string) => pdRequestsFor(alertId).filter((r) => r.status === 202);
  const deliveriesOf = async (alertId: string) =>
    (await sql.query('SELECT channel, event_action, status, attempts, last_error FROM alert_deliveries WHERE alert_id = $1 ORDER BY ordinal', [alertId])).rows;

  /** Polls the dispatcher until `alertId` has `count` accepted PagerDuty events. */
  async function dispatchUntil(dispatcher: PagerDispatcher, alertId: string, count: number): Promise<void> {
    dispatcher.start();
    const deadline = Date.now() + 10_000;
    while (acceptedFor(alertId).length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} accepted PagerDuty events for ${alertId}, got ${acceptedFor(alertId).length}`);
      await pd.waitForRequests(pd.requests.length + 1, 10_000);
    }
    await dispatcher.stop();
  }

  it('raising the same rule and resource 10 times opens one alert and sends one PagerDuty trigger with the required fields', async () => {
    const { pager, dispatcher } = await start();
    const ws = randomUUID();
    const connectionId = randomUUID();
    const raised = [];
    for (let i = 0; i < 10; i++) raised.push(await pager.raise(outOfContext(ws, connectionId)));
    expect(new Set(raised.map((r) => r.id)).size).toBe(1);
    expect(raised.map((r) => r.opened)).toEqual([true, ...Array(9).fill(false)]);
    const alertId = raised[0].id;

    await dispatchUntil(dispatcher, alertId, 1);
    await dispatcher.runOnce();
    expect(pdRequestsFor(alertId)).toHaveLength(1);
    const [trigger] = acceptedFor(alertId);
    expect(trigger.json).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: `switchyard-alert-${alertId}`,
      // A security alert opens on the platform on-call's screen.
      links: [{ href: `${CONSOLE}/platform/alerts/${alertId}`, text: 'Open in the Switchyard console' }],
      payload: {
        summary: `Credential read outside a routing context: connection ${connectionId}`,
        source: `switchyard/workspace/${ws}`,
        severity: 'error',
        timestamp: expect.any(String),
        component: 'connection',
        group: ws,
        class: 'credential.read.out_of_context',
        custom_details: {
          jobId: 'job-1',
          reason: 'no active order job',
          alertId,
          workspaceId: ws,
          rule: 'credential.read.out_of_context',
          resourceType: 'connection',
          resourceId: connectionId,
        },
      },
    });
    const { items: alerts } = await pager.list(admin(ws), { filter: {}, page: { limit: 50 } });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      id: alertId,
      status: 'open',
      occurrences: 10,
      deliveries: [{ channel: 'pagerduty', action: 'trigger', status: 'delivered', attempts: 1 }],
    });
  });

  it('an out-of-context read recorded 10 times: 10 audit events, one open alert, one PagerDuty trigger', async () => {
    const { app, dispatcher } = await start();
    const ws = randomUUID();
    const connectionId = randomUUID();
    const writer = app.module.get(AuditWriter);
    const tenantDb = app.module.get(TenantDb);
    for (let i = 0; i < 10; i++) {
      await tenantDb.runRaw(ws, (client) =>
        writer.recordRaw(client, {
          action: 'credential.read.out_of_context',
          actor: { type: 'worker', id: 'worker-1' },
          resource: { type: 'connection', id: connectionId },
          requestId: `job-${i}`,
          reason: 'no active order job for this connection',
        }),
      );
    }
    const events = await sql.query(`SELECT count(*)::int AS n FROM audit_events WHERE workspace_id = $1 AND action = 'credential.read.out_of_context'`, [ws]);
    expect(events.rows[0].n).toBe(10);
    const alerts = await sql.query(`SELECT id::text AS id, rule, severity, status, occurrences, details FROM alerts WHERE workspace_id = $1`, [ws]);
    expect(alerts.rows).toHaveLength(1);
    expect(alerts.rows[0]).toMatchObject({ rule: 'credential.read.out_of_context', severity: 'error', status: 'open', occurrences: 10 });
    expect(alerts.rows[0].details).toMatchObject({
      actorType: 'worker',
      actorId: 'worker-1',
      requestId: 'job-0',
      auditAction: 'credential.read.out_of_context',
    });

    await dispatchUntil(dispatcher, alerts.rows[0].id, 1);
    expect(pdRequestsFor(alerts.rows[0].id)).toHaveLength(1);
  });

  it('a break-glass read pages at critical severity', async () => {
    const { app } = await start();
    const ws = randomUUID();
    await app.module.get(TenantDb).runRaw(ws, (client) =>
      app.module.get(AuditWriter).recordRaw(client, {
        action: 'credential.break_glass',
        actor: { type: 'system', id: 'cli' },
        resource: { type: 'connection', id: 'c1' },
        reason: 'broker outage',
      }),
    );
    const { rows } = await sql.query('SELECT rule, severity FROM alerts WHERE workspace_id = $1', [ws]);
    expect(rows).toEqual([{ rule: 'credential.break_glass', severity: 'critical' }]);
  });

  it('acknowledging sends PagerDuty an acknowledge for the same incident, once, and is audited; resolving lets a new alert open', async () => {
    const { pager, dispatcher } = await start(undefined, undefined, 'api');
    const ws = randomUUID();
    const connectionId = randomUUID();
    const { id } = await pager.raise(outOfContext(ws, connectionId));
    await dispatchUntil(dispatcher, id, 1);

    const who = onCall();
    const acked = await pager.acknowledge(who, id);
    expect(acked).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'platform:platform-admin' });
    await pager.acknowledge(who, id);
    await dispatchUntil(dispatcher, id, 2);
    await dispatcher.runOnce();
    expect(acceptedFor(id).map((r) => r.json)).toEqual([
      expect.objectContaining({ event_action: 'trigger' }),
      { routing_key: ROUTING_KEY, event_action: 'acknowledge', dedup_key: `switchyard-alert-${id}` },
    ]);
    const audited = await sql.query(
      `SELECT actor_type, actor_id, ip, request_id, resource_id FROM audit_events WHERE workspace_id = $1 AND action = 'alert.ack'`,
      [ws],
    );
    expect(audited.rows).toEqual([{ actor_type: 'platform', actor_id: 'platform-admin', ip: '10.1.2.3', request_id: who.requestId, resource_id: id }]);

    // Repeats while acknowledged are absorbed; after resolve the next one pages again.
    expect(await pager.raise(outOfContext(ws, connectionId))).toMatchObject({ id, opened: false });
    await pager.resolve(who, id);
    await dispatchUntil(dispatcher, id, 3);
    expect(acceptedFor(id)[2].json).toMatchObject({ event_action: 'resolve' });
    await expect(pager.acknowledge(who, id)).rejects.toMatchObject({ status: 409, code: 'alert_resolved' });
    const reopened = await pager.raise(outOfContext(ws, connectionId));
    expect(reopened).toMatchObject({ opened: true });
    expect(reopened.id).not.toBe(id);
  });

  it('alerts are workspace-scoped: another workspace neither lists nor acknowledges them', async () => {
    const { pager } = await start();
    const ws = randomUUID();
    const { id } = await pager.raise(outOfContext(ws, randomUUID()));
    const intruder = admin(randomUUID());
    expect((await pager.list(intruder, { filter: {}, page: { limit: 50 } })).items).toEqual([]);
    await expect(pager.acknowledge(intruder, id)).rejects.toMatchObject({ status: 404 });
  });

  it('receiver down, process restarted, receiver up: the alert is delivered after retry, exactly once', async () => {
    const first = await start();
    const ws = randomUUID();
    const { id } = await first.pager.raise(outOfContext(ws, randomUUID()));
    pd.setMode('down');
    await first.dispatcher.runOnce();
    expect(pdRequestsFor(id).map((r) => r.status)).toEqual([503]);
    expect(await deliveriesOf(id)).toEqual([{ channel: 'pagerduty', event_action: 'trigger', status: 'pending', attempts: 1, last_error: 'HTTP 503' }]);
    await first.app.close();

    pd.setMode('up');
    const second = await start(undefined, first.app.dataDir);
    await dispatchUntil(second.dispatcher, id, 1);
    await second.dispatcher.runOnce();
    expect(pdRequestsFor(id).map((r) => r.status)).toEqual([503, 202]);
    expect(await deliveriesOf(id)).toEqual([{ channel: 'pagerduty', event_action: 'trigger', status: 'delivered', attempts: 2, last_error: null }]);
  });

  it('retries on 429 and on an unreachable receiver; gives up at once on any other 4xx', async () => {
    const throttled = await start();
    const ws = randomUUID();
    const { id } = await throttled.pager.raise(outOfContext(ws, randomUUID()));
    pd.setMode('throttled');
    await throttled.dispatcher.runOnce();
    pd.setMode('up');
    await dispatchUntil(throttled.dispatcher, id, 1);
    expect(pdRequestsFor(id).map((r) => r.status)).toEqual([429, 202]);

    const unreachable = await start({ PAGER_PAGERDUTY_ROUTING_KEY: ROUTING_KEY, PAGER_PAGERDUTY_URL: 'http://127.0.0.1:1/v2/enqueue' });
    const lost = await unreachable.pager.raise(outOfContext(ws, randomUUID()));
    await unreachable.dispatcher.runOnce();
    expect(await deliveriesOf(lost.id)).toEqual([
      { channel: 'pagerduty', event_action: 'trigger', status: 'pending', attempts: 1, last_error: 'network error (ECONNREFUSED)' },
    ]);

    const badKey = await start({ PAGER_PAGERDUTY_ROUTING_KEY: 'too-short', PAGER_PAGERDUTY_URL: pd.url });
    const refused = await badKey.pager.raise(outOfContext(ws, randomUUID()));
    await badKey.dispatcher.runOnce();
    await badKey.dispatcher.runOnce();
    expect(pdRequestsFor(refused.id).map((r) => r.status)).toEqual([400]);
    expect(await deliveriesOf(refused.id)).toEqual([{ channel: 'pagerduty', event_action: 'trigger', status: 'failed', attempts: 1, last_error: 'HTTP 400' }]);
  });

  it('an acknowledge never overtakes its trigger', async () => {
    const { pager, dispatcher } = await start(undefined, undefined, 'api');
    const ws = randomUUID();
    const { id } = await pager.raise(outOfContext(ws, randomUUID()));
    pd.setMode('down');
    await dispatcher.runOnce();
    await pager.acknowledge(onCall(), id);
    pd.setMode('up');
    await dispatchUntil(dispatcher, id, 2);
    expect(acceptedFor(id).map((r) => (r.json as { event_action: string }).event_action)).toEqual(['trigger', 'acknowledge']);
  });

  it('two dispatchers polling together deliver each alert once', async () => {
    const a = await start();
    const b = await start();
    const ws = randomUUID();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await a.pager.raise(outOfContext(ws, randomUUID()))).id);
    await Promise.all([a.dispatcher.runOnce(), b.dispatcher.runOnce(), a.dispatcher.runOnce(), b.dispatcher.runOnce()]);
    for (const id of ids) expect(pdRequestsFor(id).map((r) => r.status)).toEqual([202]);
  });

  it('Slack and a Standard-Webhooks-signed webhook are delivered alongside PagerDuty', async () => {
    const slack = await startSlackReceiver();
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const hook = await startWebhookReceiver(secret);
    try {
      const { pager, dispatcher } = await start({
        PAGER_PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
        PAGER_PAGERDUTY_URL: pd.url,
        PAGER_SLACK_WEBHOOK_URL: slack.url,
        PAGER_WEBHOOK_URL: hook.url,
        PAGER_WEBHOOK_SECRET: secret,
        PUBLIC_BASE_URL: CONSOLE,
      });
      const ws = randomUUID();
      const { id } = await pager.raise(outOfContext(ws, 'conn-9'));
      dispatcher.start();
      const [slackMessage] = await slack.waitForAccepted(1);
      const [signed] = await hook.waitForAccepted(1);
      await dispatcher.stop();
      expect((slackMessage.json as { text: string }).text).toContain(`[ERROR] Credential read outside a routing context: connection conn-9`);
      expect((slackMessage.json as { text: string }).text).toContain(`alert ${id}`);
      expect((slackMessage.json as { text: string }).text).toContain(`<${CONSOLE}/platform/alerts/${id}|open in the console>`);
      const delivery = await sql.query(`SELECT id::text AS id FROM alert_deliveries WHERE alert_id = $1 AND channel = 'webhook'`, [id]);
      expect(signed.headers['webhook-id']).toBe(delivery.rows[0].id);
      expect(signed.json).toMatchObject({
        type: 'alert.triggered',
        data: {
          alertId: id,
          workspaceId: ws,
          rule: 'credential.read.out_of_context',
          severity: 'error',
          resource: { type: 'connection', id: 'conn-9' },
          url: `${CONSOLE}/platform/alerts/${id}`,
        },
      });
      expect((await deliveriesOf(id)).map((d) => [d.channel, d.status])).toEqual([
        ['pagerduty', 'delivered'],
        ['slack', 'delivered'],
        ['webhook', 'delivered'],
      ]);
    } finally {
      await slack.close();
      await hook.close();
    }
  });

  it('refuses a webhook URL without a signing secret at boot', async () => {
    await expect(startAuditApp(db, { env: { PAGER_WEBHOOK_URL: 'http://127.0.0.1:9/alerts' } })).rejects.toThrow(/PAGER_WEBHOOK_SECRET/);
  });

  it('with no PAGER_* configured, alerts go to the log', async () => {
    const { app, pager, dispatcher } = await start({});
    const ws = randomUUID();
    const { id } = await pager.raise({
      ...outOfContext(ws, 'conn-1'),
      rule: 'credential.decrypt_failure',
      summary: 'Credential decrypt failure: connection conn-1',
    });
    await dispatcher.runOnce();
    expect(await deliveriesOf(id)).toEqual([{ channel: 'log', event_action: 'trigger', status: 'delivered', attempts: 1, last_error: null }]);
    const line = app.logs.lines.map((l) => JSON.parse(l)).find((l) => l.alert?.id === id);
    expect(line).toMatchObject({
      level: 50,
      msg: 'alert trigger: Credential decrypt failure: connection conn-1',
      alert: { rule: 'credential.decrypt_failure', workspaceId: ws },
    });
  });

  it('alerts carry no secrets: details naming one are refused; channel URLs and the routing key never reach a log', async () => {
    const { app, pager } = await start({});
    await expect(pager.raise({ ...outOfContext(randomUUID(), 'c'), details: { apiSecret: 'sk-canary' } })).rejects.toThrow(/names a secret/);

    const slackSecretUrl = 'http://127.0.0.1:1/services/T0/B0/SLACK-CANARY-TOKEN';
    const failing = await start({
      PAGER_PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGER_PAGERDUTY_URL: 'http://127.0.0.1:1/v2/enqueue',
      PAGER_SLACK_WEBHOOK_URL: slackSecretUrl,
    });
    const { id } = await failing.pager.raise(outOfContext(randomUUID(), 'c'));
    await failing.dispatcher.runOnce();
    const logs = [...app.logs.lines, ...failing.app.logs.lines].join('\n');
    expect(logs).toContain(id);
    expect(logs).not.toContain('SLACK-CANARY-TOKEN');
    expect(logs).not.toContain(ROUTING_KEY);
    const errors = await sql.query('SELECT last_error FROM alert_deliveries WHERE alert_id = $1', [id]);
    for (const r of errors.rows) expect(r.last_error).toBe('network error (ECONNREFUSED)');
  });
});
