import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { Webhook } from 'standardwebhooks';
import type { FaultWorld, QueueBackend } from './fault-world';
import { sleep, waitFor } from './os-processes';
import { signatureFailureBurst, SignalStream } from './signal-stream';

export interface FaultMode {
  name: 'reduced' | 'full';
  /** How long the worker is stopped before a fault that needs queued jobs to bite (Redis data loss, a long database outage). */
  backlogMs: number;
  /** Signals per second of the steady stream. */
  rate: number;
  /** Stream time before each fault and after its recovery. */
  leadMs: number;
  tailMs: number;
  kmsDownMs: number;
  kmsThrottleMs: number;
  redisDownMs: number;
  postgresDownMs: number;
  /** How long a phase may take to bring every accepted signal to a terminal state. */
  settleTimeoutMs: number;
}

// Rates stay well under what a loaded 2-core machine routes (about 5 signals/s with 12 routes): a fault must not hide behind overload.
export const REDUCED: FaultMode = {
  name: 'reduced',
  rate: 3,
  leadMs: 2000,
  tailMs: 2000,
  kmsDownMs: 10_000,
  kmsThrottleMs: 4000,
  redisDownMs: 2000,
  postgresDownMs: 12_000,
  backlogMs: 4000,
  settleTimeoutMs: 150_000,
};
export const FULL: FaultMode = {
  name: 'full',
  rate: 4,
  leadMs: 25_000,
  tailMs: 15_000,
  kmsDownMs: 10_000,
  kmsThrottleMs: 8000,
  redisDownMs: 5000,
  postgresDownMs: 30_000,
  backlogMs: 8000,
  settleTimeoutMs: 150_000,
};

export interface FaultContext {
  world: FaultWorld;
  stream: SignalStream;
  mode: FaultMode;
  /** Sources whose signature-failure burst counted: each must end up as a delivered alert. */
  alarms: string[];
  /** Fault-specific facts for the report (e.g. how long the api was away). */
  notes: string[];
}

export interface FaultScenario {
  name: string;
  what: string;
  backends: QueueBackend[];
  /** Only in the full run (the reduced one keeps CI short). */
  fullOnly?: boolean;
  inject(ctx: FaultContext): Promise<void>;
}

async function burst(ctx: FaultContext): Promise<void> {
  const source = ctx.world.takeAlarmSource();
  if (await signatureFailureBurst(ctx.world.apiUrl, source, () => ctx.world.api.generation, ctx.stream.responses)) ctx.alarms.push(source);
  else ctx.notes.push('a signature-failure burst was cut off by the fault (not counted)');
}

/** A limit buy far below the market on its own source and Alpaca route (workspace 0), resting at the broker. */
async function restingAlpacaOrder(world: FaultWorld): Promise<{ id: string; clientOrderId: string; brokerOrderId: string; apiKey: string }> {
  const ws = world.workspaces[0];
  const alpaca = ws.connections.find((c) => c.broker === 'alpaca')!;
  const source = await world.call('POST', '/v1/sources', ws.token, { name: `resting-${Date.now()}`, auth: 'hmac' }, 201);
  await world.call(
    'POST',
    '/v1/routes',
    ws.token,
    { sourceId: source.body.id, connectionId: alpaca.id, sizing: { mode: 'fixed', value: '1' }, symbolMap: { BTCUSD: 'BTC/USD' } },
    201,
  );
  const body = JSON.stringify({ ticker: 'BTCUSD', action: 'buy', orderType: 'limit', limitPrice: '1' });
  const id = `resting-${randomUUID()}`;
  const at = new Date();
  const res = await fetch(`${world.apiUrl}/hooks/${source.body.id}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(source.body.secret).sign(id, at, body),
    },
    body,
  });
  if (res.status !== 202) throw new Error(`resting order signal: ${res.status} ${await res.text()}`);
  return waitFor(
    'the limit order accepted and resting at Alpaca',
    async () => {
      const [row] = await world.sql<{ id: string; clientOrderId: string; brokerOrderId: string | null; status: string }>(
        `SELECT o.id::text AS id, o.client_order_id AS "clientOrderId", o.broker_order_id AS "brokerOrderId", o.status
           FROM orders o JOIN signals s ON s.id = o.signal_id WHERE s.source_id = $1`,
        [source.body.id],
      );
      return row?.status === 'accepted' && row.brokerOrderId
        ? { id: row.id, clientOrderId: row.clientOrderId, brokerOrderId: row.brokerOrderId, apiKey: alpaca.apiKey! }
        : undefined;
    },
    30_000,
    100,
  );
}

/** Sessions waiting for a lock on order_fills: a worker that holds a fill it cannot write. */
async function fillWriters(c: Client): Promise<number> {
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class t ON t.oid = l.relation WHERE t.relname = 'order_fills' AND NOT l.granted`,
  );
  return rows[0].n;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = Date.now();
  await fn();
  return Date.now() - started;
}

/** In the order they run; each leaves the system up again. */
export const SCENARIOS: FaultScenario[] = [
  {
    name: 'worker kill -9',
    what: 'SIGKILL of the worker while Alpaca holds an order it accepted but has not answered yet, restarted 1 s later',
    backends: ['redis', 'postgres'],
    async inject({ world, notes }) {
      // The worst moment: the broker has the order, the worker has not recorded it (the retry must find it, not place it again).
      const posts = () => world.alpaca.requests.filter((r) => r.method === 'POST' && r.path === '/v2/orders').length;
      const before = posts();
      world.alpaca.injectFaults('acceptThenHang', 1);
      await waitFor('an order accepted by Alpaca and not yet answered', () => posts() > before, 30_000, 5);
      const inFlight = await world.sql<{ n: number }>(`SELECT count(*)::int AS n FROM orders WHERE status = 'submitted'`);
      await world.worker.kill9();
      world.alpaca.clearFaults();
      notes.push(`killed with ${inFlight[0].n} order(s) in flight`);
      await sleep(1000);
      notes.push(`worker back in ${await timed(() => world.worker.start())} ms`);
    },
  },
  {
    name: 'worker kill -9 between a fill and its commit',
    what: 'a resting Alpaca limit order fills at the broker; the worker learns the fill but its write is held (order_fills locked), and it is killed there; restarted, it must record the fill once',
    backends: ['redis', 'postgres'],
    async inject({ world, notes }) {
      const order = await restingAlpacaOrder(world);
      const hold = new Client({ connectionString: world.pg.url('switchyard') });
      await hold.connect();
      try {
        // SHARE blocks every insert into order_fills: the worker can read the fill from the broker but not commit it.
        await hold.query('BEGIN');
        await hold.query('LOCK TABLE order_fills IN SHARE MODE');
        const asked = world.alpaca.requests.length;
        // The fill reaches the worker by its trade_updates stream when one listens, else by its next poll of the order.
        const streamed = world.alpaca.stream.listening(order.apiKey) > 0;
        world.alpaca.fillPart(order.clientOrderId, 1, 1);
        const polled = () =>
          world.alpaca.requests.slice(asked).some((r) => r.method === 'GET' && (r.url.includes(order.clientOrderId) || r.url.includes(order.brokerOrderId)));
        await waitFor('the worker holding the fill, waiting to write it', async () => (streamed || polled()) && (await fillWriters(hold)) > 0, 30_000, 50);
        // A streamed event may queue behind another order's blocked fill: give it the moment to reach the lock too.
        if (streamed) await sleep(500);
        notes.push(streamed ? 'fill sent by the stream' : 'fill read by a poll');
        await world.worker.kill9();
        await hold.query('ROLLBACK');
      } finally {
        await hold.end();
      }
      const recorded = await world.sql<{ n: number }>('SELECT count(*)::int AS n FROM order_fills WHERE order_id = $1', [order.id]);
      notes.push(`killed holding the fill (${recorded[0].n} fill row(s) committed)`);
      await sleep(1000);
      notes.push(`worker back in ${await timed(() => world.worker.start())} ms`);
      const settled = await waitFor(
        'the fill recorded after the restart',
        async () => {
          const [row] = await world.sql<{ status: string; n: number }>(
            `SELECT o.status, (SELECT count(*)::int FROM order_fills f WHERE f.order_id = o.id) AS n FROM orders o WHERE o.id = $1`,
            [order.id],
          );
          return row?.status === 'filled' && row;
        },
        60_000,
        250,
      );
      if (settled.n !== 1) throw new Error(`the fill was recorded ${settled.n} times`);
      notes.push('recorded once after the restart');
    },
  },
  {
    name: 'api kill -9',
    what: 'SIGKILL of the api mid-stream (requests in flight, marks unflushed), restarted 1 s later; senders retry',
    backends: ['redis', 'postgres'],
    async inject(ctx) {
      // Mid-request: a delivery has just left the sender when the api dies.
      await ctx.stream.nextRequest();
      await sleep(Math.random() * 5);
      await ctx.world.api.kill9();
      await sleep(1000);
      ctx.notes.push(`api back in ${await timed(() => ctx.world.api.start())} ms`);
      await burst(ctx);
    },
  },
  {
    name: 'Redis restarts empty',
    what: 'worker stopped so jobs queue up, then Redis killed and its data deleted (a restart without persistence, a failover to a lagging replica), restarted with the worker',
    backends: ['redis'],
    async inject(ctx) {
      const { world } = ctx;
      await world.worker.stop();
      await sleep(ctx.mode.backlogMs);
      const queued = await world.sql<{ n: number }>(`SELECT count(*)::int AS n FROM signals WHERE status IN ('queued', 'received')`);
      ctx.world.pagerDuty.setMode('down');
      await world.redis!.restartEmpty(ctx.mode.redisDownMs);
      await world.worker.start();
      ctx.notes.push(`${queued[0].n} signal(s) were waiting in the queue that was lost`);
      await burst(ctx);
      await sleep(3000); // the page waits for PagerDuty to come back
      ctx.world.pagerDuty.setMode('up');
    },
  },
  {
    name: 'Redis kill -9 + restart',
    what: 'SIGKILL of Redis (AOF, appendfsync always), down for the configured time, restarted on the same port and data',
    backends: ['redis'],
    fullOnly: true,
    async inject(ctx) {
      ctx.world.pagerDuty.setMode('down');
      await ctx.world.redis!.restart(ctx.mode.redisDownMs);
      await burst(ctx);
      await sleep(3000);
      ctx.world.pagerDuty.setMode('up');
    },
  },
  {
    name: 'PostgreSQL kill -9 + restart',
    what: 'worker stopped so jobs queue up, restarted, then SIGKILL of the postmaster and every backend while it works through them; down for the configured time, restarted (crash recovery)',
    backends: ['redis', 'postgres'],
    async inject(ctx) {
      const { world } = ctx;
      await world.worker.stop();
      await sleep(ctx.mode.backlogMs);
      await world.worker.start();
      ctx.world.pagerDuty.setMode('down');
      await world.pg.restart(ctx.mode.postgresDownMs);
      ctx.notes.push(`database down ${ctx.mode.postgresDownMs / 1000} s`);
      await sleep(1000);
      await burst(ctx);
      await sleep(3000);
      ctx.world.pagerDuty.setMode('up');
    },
  },
  {
    name: 'KMS down, then throttling',
    what: 'KMS stub refuses connections for 10 s, then answers ThrottlingException, then recovers',
    backends: ['redis', 'postgres'],
    async inject(ctx) {
      await ctx.world.kms.setMode('down');
      await sleep(ctx.mode.kmsDownMs);
      await ctx.world.kms.setMode('throttle');
      await sleep(ctx.mode.kmsThrottleMs);
      await ctx.world.kms.setMode('up');
      // An alarm source's HMAC key is not cached yet: while the KMS is away its forged deliveries get 503, not 401.
      await burst(ctx);
    },
  },
  {
    name: 'broker timeouts after accepting, 500s, recovery',
    what: 'Alpaca and Binance accept orders but never answer (timeout), then Alpaca answers 500s and hangs, then recovers',
    backends: ['redis', 'postgres'],
    async inject(ctx) {
      const { alpaca, binance } = ctx.world;
      alpaca.injectFaults('acceptThenHang', 6);
      for (let i = 0; i < 3; i++) {
        binance.failNextOrder('acceptThenHang');
        await sleep(700);
      }
      await sleep(1500);
      alpaca.injectFaults('error500', 12);
      binance.server.injectFaults('error500', 6);
      await sleep(2000);
      alpaca.injectFaults('hang', 3);
      await sleep(2000);
      await burst(ctx);
      alpaca.clearFaults();
      binance.server.clearFaults();
    },
  },
];
