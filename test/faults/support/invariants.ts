import { AuditVerifier } from '../../../src/audit/audit-verifier';
import { startAuditApp } from '../../audit/audit-harness';
import type { TestDatabase } from '../../support/database';
import type { FaultWorld } from './fault-world';
import { sleep } from './os-processes';
import type { SentSignal } from './signal-stream';

export const TERMINAL_SIGNAL = ['routed', 'partially_routed', 'blocked', 'failed'];

/** Waits until every signal the api accepted so far is in a terminal state; returns how long that took. */
export async function settle(world: FaultWorld, sent: SentSignal[], timeoutMs: number): Promise<{ ms: number; pending: number }> {
  const started = Date.now();
  const ids = [...new Set(sent.filter((s) => s.accepted).flatMap((s) => s.signalIds))];
  for (;;) {
    const rows = await world
      .sql<{ n: number }>(`SELECT count(*)::int AS n FROM signals WHERE id = ANY($1::uuid[]) AND status <> ALL($2::text[])`, [ids, TERMINAL_SIGNAL])
      .catch(() => [{ n: -1 }]);
    const pending = rows[0].n;
    if (pending === 0) return { ms: Date.now() - started, pending };
    if (Date.now() - started > timeoutMs) return { ms: Date.now() - started, pending };
    await sleep(250);
  }
}

export interface SignalVerdicts {
  sent: number;
  accepted: number;
  /** Needed more than one attempt (the api was down or answered 5xx/429). */
  retriedBySender: number;
  gaveUp: number;
  refused: number;
  /** One webhook-id answered with two different signal ids: a doubled signal. */
  doubled: number;
  byStatus: Record<string, number>;
  nonTerminal: number;
  /** blocked/failed without a reason. */
  withoutReason: number;
  failureReasons: Record<string, number>;
  /** What the senders were answered, attempt by attempt ('no answer' = refused, reset or timed out). */
  answers: Record<string, number>;
  /** Answers of 500 and above other than 503 (an outage is a 503 with Retry-After, never an internal error). */
  serverErrors: number;
}

/** The final state of the given signals, read from the database. */
export async function signalVerdicts(world: FaultWorld, sent: SentSignal[]): Promise<SignalVerdicts> {
  const ids = [...new Set(sent.flatMap((s) => s.signalIds))];
  const rows = await world.sql<{ id: string; status: string; error: string | null }>(`SELECT id::text, status, error FROM signals WHERE id = ANY($1::uuid[])`, [
    ids,
  ]);
  const byStatus: Record<string, number> = {};
  const failureReasons: Record<string, number> = {};
  let withoutReason = 0;
  for (const r of rows) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    if (r.status === 'blocked' || r.status === 'failed' || r.status === 'partially_routed') {
      if (!r.error) withoutReason += 1;
      const reason = (r.error ?? '(none)')
        .replace(/[0-9a-f-]{36}/g, '<id>')
        .replace(/\d+/g, 'N')
        .slice(0, 120);
      failureReasons[reason] = (failureReasons[reason] ?? 0) + 1;
    }
  }
  const accepted = sent.filter((s) => s.accepted);
  return {
    sent: sent.length,
    accepted: accepted.length,
    retriedBySender: sent.filter((s) => s.attempts > 1).length,
    gaveUp: sent.filter((s) => s.gaveUp).length,
    refused: sent.filter((s) => s.refused).length,
    doubled: sent.filter((s) => s.signalIds.length > 1).length,
    byStatus,
    // Accepted signals the database does not have count as non-terminal (lost).
    nonTerminal: rows.filter((r) => !TERMINAL_SIGNAL.includes(r.status)).length + (ids.length - rows.length),
    withoutReason,
    failureReasons,
    serverErrors: sent.flatMap((s) => s.statuses).filter((st) => st >= 500 && st !== 503).length,
    answers: sent
      .flatMap((s) => s.statuses)
      .reduce<Record<string, number>>((acc, st) => {
        const key = st === 0 ? 'no answer' : String(st);
        acc[key] = (acc[key] ?? 0) + 1;
        return acc;
      }, {}),
  };
}

export interface BrokerVerdicts {
  ordersAtBrokers: number;
  /** Client order ids that exist more than once at a broker (or were refused there as duplicates). */
  duplicates: string[];
  /** Orders placed at a broker that our database does not show as accepted/filled. */
  placedButNotRecorded: string[];
  /** Orders our database shows as accepted/filled that the broker does not have. */
  recordedButNotPlaced: string[];
  /** Order submissions beyond the first per client order id (retries after 5xx, timeouts, hangs). */
  resubmissions: number;
  ordersByStatus: Record<string, number>;
  /** Orders by how many times the worker claimed them (more than one: retried after a failure or a crash). */
  ordersByAttempts: Record<string, number>;
}

/** Compares the orders at the Alpaca and Binance stubs and in the paper book with the orders table. */
export async function brokerVerdicts(world: FaultWorld): Promise<BrokerVerdicts> {
  const orders = await world.sql<{ client_order_id: string; status: string; broker: string; connection_id: string; reason: string | null; attempts: number }>(
    `SELECT client_order_id, status, broker, connection_id::text, reason, attempts FROM orders`,
  );
  const ordersByStatus: Record<string, number> = {};
  const ordersByAttempts: Record<string, number> = {};
  for (const o of orders) {
    ordersByStatus[o.status] = (ordersByStatus[o.status] ?? 0) + 1;
    ordersByAttempts[String(o.attempts)] = (ordersByAttempts[String(o.attempts)] ?? 0) + 1;
  }
  const keyOf = new Map(world.workspaces.flatMap((w) => w.connections.map((c) => [c.id, c.apiKey] as const)));
  const recorded = new Map(orders.map((o) => [`${o.broker}:${keyOf.get(o.connection_id) ?? o.connection_id}:${o.client_order_id}`, o]));

  const atBroker = new Map<string, number>();
  const count = (key: string) => atBroker.set(key, (atBroker.get(key) ?? 0) + 1);
  for (const o of world.alpaca.orders) count(`alpaca:${o.apiKey}:${o.client_order_id}`);
  for (const ws of world.workspaces) {
    for (const c of ws.connections)
      if (c.broker === 'binance') for (const o of world.binance.orders(c.apiKey!)) count(`binance:${c.apiKey}:${o.clientOrderId}`);
  }
  const paper = await world.sql<{ connection_id: string; client_order_id: string; n: number }>(
    `SELECT connection_id::text, client_order_id, count(*)::int AS n FROM paper_orders GROUP BY 1, 2`,
  );
  for (const p of paper) for (let i = 0; i < p.n; i++) count(`paper:${p.connection_id}:${p.client_order_id}`);

  const duplicates = [...atBroker].filter(([, n]) => n > 1).map(([k]) => k);
  // Alpaca refuses a repeated client_order_id: a second placement shows up as our order rejected for it.
  duplicates.push(
    ...orders
      .filter((o) => o.status === 'rejected' && /unique|duplicate/i.test(o.reason ?? ''))
      .map((o) => `${o.broker}:${o.client_order_id} (refused as duplicate)`),
  );
  const placed = (o: { status: string }) => o.status === 'accepted' || o.status === 'filled';
  const placedButNotRecorded = [...atBroker.keys()].filter((k) => !recorded.get(k) || !placed(recorded.get(k)!));
  const recordedButNotPlaced = [...recorded].filter(([k, o]) => placed(o) && !atBroker.has(k)).map(([k]) => k);

  const submissions = new Map<string, number>();
  for (const r of world.alpaca.requests) {
    if (r.method !== 'POST' || r.path !== '/v2/orders') continue;
    const id = (JSON.parse(r.body || '{}') as { client_order_id?: string }).client_order_id ?? '';
    submissions.set(`a:${id}`, (submissions.get(`a:${id}`) ?? 0) + 1);
  }
  for (const r of world.binance.received('POST', '/api/v3/order')) {
    const id = new URLSearchParams(r.body || r.url.split('?')[1] || '').get('newClientOrderId') ?? '';
    submissions.set(`b:${id}`, (submissions.get(`b:${id}`) ?? 0) + 1);
  }
  const resubmissions = [...submissions.values()].reduce((sum, n) => sum + (n - 1), 0);
  return {
    ordersAtBrokers: [...atBroker.values()].reduce((a, b) => a + b, 0),
    duplicates,
    placedButNotRecorded,
    recordedButNotPlaced,
    resubmissions,
    ordersByStatus,
    ordersByAttempts,
  };
}

/**
 * Every workspace's chain, twice: GET /v1/audit/verify as its owner (from the last signed checkpoint), and the
 * full verifier the `audit verify` command runs (every event from the first, every checkpoint), as the worker's role.
 */
export async function auditVerdicts(world: FaultWorld): Promise<Array<{ workspace: string; ok: boolean; events: number; detail?: string }>> {
  const results = [];
  const auditor = await startAuditApp({ apiUrl: world.api.env.DATABASE_API_URL, workerUrl: world.worker.env.DATABASE_WORKER_URL } as TestDatabase, {
    env: world.worker.env,
    dataDir: world.worker.env.DATA_DIR,
  });
  try {
    const verifier = auditor.module.get(AuditVerifier);
    for (const ws of world.workspaces) {
      const res = await world.call('GET', '/v1/audit/verify', ws.token);
      const full = await verifier.verify(ws.id, 'full');
      const apiOk = res.status === 200 && res.body.ok === true;
      const detail = !apiOk ? res.text.slice(0, 300) : !full.ok ? `full verify: ${full.detail}` : undefined;
      results.push({ workspace: ws.name, ok: apiOk && full.ok, events: full.ok ? full.events : 0, detail });
    }
  } finally {
    await auditor.close();
  }
  return results;
}

export interface AlertVerdicts {
  raised: number;
  delivered: number;
  undelivered: string[];
  /** Bursts that had to raise an alert but none exists for their source. */
  missing: string[];
  /** Alerts whose PagerDuty trigger never reached the receiver. */
  notReceived: string[];
  deliveryAttempts: number;
}

/** Waits (bounded) for every alert delivery to settle, then matches alerts, deliveries and what PagerDuty received. */
export async function alertVerdicts(world: FaultWorld, expectedSources: string[], timeoutMs: number): Promise<AlertVerdicts> {
  const deadline = Date.now() + timeoutMs;
  let rows: Array<{ id: string; resource_id: string; rule: string; status: string; attempts: number }> = [];
  for (;;) {
    rows = await world.sql(
      `SELECT a.id::text, a.resource_id, a.rule, d.status, d.attempts FROM alerts a JOIN alert_deliveries d ON d.alert_id = a.id WHERE d.event_action = 'trigger'`,
    );
    if (rows.every((r) => r.status === 'delivered') || Date.now() > deadline) break;
    await sleep(500);
  }
  const received = new Set(world.pagerDuty.accepted().map((r) => (r.json as { dedup_key?: string }).dedup_key));
  const alertSources = new Set(rows.filter((r) => r.rule === 'source.signature_failures').map((r) => r.resource_id));
  return {
    raised: new Set(rows.map((r) => r.id)).size,
    delivered: rows.filter((r) => r.status === 'delivered').length,
    undelivered: rows.filter((r) => r.status !== 'delivered').map((r) => `${r.rule} ${r.resource_id}: ${r.status}`),
    missing: expectedSources.filter((s) => !alertSources.has(s)),
    notReceived: rows.filter((r) => !received.has(`switchyard-alert-${r.id}`)).map((r) => `${r.rule} ${r.resource_id}`),
    deliveryAttempts: rows.reduce((sum, r) => sum + r.attempts, 0),
  };
}
