/**
 * The bare pipeline: the floor Switchyard is measured against, not a product path.
 * Fastify → one pg insert of the signal → BullMQ add (Redis) → a worker → one pg insert of the
 * order → HTTP POST to the broker. No auth, no RLS, no audit, no crypto, no retries beyond BullMQ's.
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import Fastify, { FastifyInstance } from 'fastify';
import IORedis from 'ioredis';
import { Pool } from 'pg';
import { Agent, request } from 'undici';
import { nowMs } from '../lib/paths';

export const BARE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS bare_signals (
    id          uuid PRIMARY KEY,
    source_id   text NOT NULL,
    webhook_id  text,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS bare_orders (
    id              uuid PRIMARY KEY,
    signal_id       uuid NOT NULL,
    client_order_id text NOT NULL,
    symbol          text NOT NULL,
    side            text NOT NULL,
    qty             numeric NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
  );`;

const QUEUE = 'bare-route';
/** Same pool size and worker concurrency as Switchyard's defaults, pools kept open as Switchyard's are: like for like. */
export const BARE_POOL_SIZE = 10;
export const BARE_CONCURRENCY = 16;
/** Queue options of every bench pipeline's route job. */
export const BARE_JOB_OPTIONS = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 250 },
  removeOnComplete: { count: 10_000 },
  removeOnFail: { count: 50_000 },
};

interface BareJob {
  signalId: string;
  fanout: number;
  /** First broker account of the source; order k goes to account + k. */
  account: number;
  payload: { ticker?: string; action?: string; quantity?: string };
}

export interface BareAccount {
  apiKey: string;
  apiSecret: string;
}

/** Stage timestamps (wall-clock ms) per webhook (api, keyed by webhook-id) or per signal (worker). */
export type MarkTable = Record<string, Record<string, number>>;

export class Marks {
  private table: MarkTable = {};
  set(key: string, name: string, at = nowMs()): void {
    (this.table[key] ??= {})[name] ??= at;
  }
  take(): MarkTable {
    const t = this.table;
    this.table = {};
    return t;
  }
}

export interface BareApi {
  url: string;
  marks(): MarkTable;
  close(): Promise<void>;
}

export interface BareApiOptions {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  port?: number;
  /** Orders per signal and first account, by source path segment (the bare pipeline has no routes table). */
  sources: Record<string, { fanout: number; account: number }>;
}

export async function startBareApi(options: BareApiOptions): Promise<BareApi> {
  const pool = new Pool({ connectionString: options.databaseUrl, max: BARE_POOL_SIZE, min: BARE_POOL_SIZE, application_name: 'bench-bare-api' });
  const redis = new IORedis(options.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue<BareJob>(QUEUE, { connection: redis, prefix: options.prefix });
  await queue.waitUntilReady();
  const marks = new Marks();
  const app: FastifyInstance = Fastify({ logger: false });
  app.post<{ Params: { sourceId: string }; Body: BareJob['payload'] }>('/hooks/:sourceId', async (req, reply) => {
    const key = String(req.headers['webhook-id'] ?? '');
    marks.set(key, 'api.in');
    const { fanout, account } = options.sources[req.params.sourceId] ?? { fanout: 1, account: 0 };
    const id = randomUUID();
    marks.set(key, 'api.persist.start');
    await pool.query('INSERT INTO bare_signals (id, source_id, webhook_id, payload) VALUES ($1, $2, $3, $4)', [
      id,
      req.params.sourceId,
      key,
      JSON.stringify(req.body),
    ]);
    marks.set(key, 'api.persist.end');
    await queue.add('route', { signalId: id, fanout, account, payload: req.body }, { ...BARE_JOB_OPTIONS, jobId: id });
    marks.set(key, 'api.enqueue.end');
    reply.code(202);
    return { signalId: id, status: 'queued', duplicate: false };
  });
  return listening(app, options.port, marks, { queue, redis, pool });
}

/** Starts `app` on 127.0.0.1; closing it stops the server, then the queue, Redis and the pool. */
export async function listening(
  app: FastifyInstance,
  port: number | undefined,
  marks: Marks,
  uses: { queue: Queue; redis: IORedis; pool: Pool },
): Promise<BareApi> {
  await app.listen({ port: port ?? 0, host: '127.0.0.1' });
  const address = app.server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    marks: () => marks.take(),
    close: async () => {
      await app.close();
      await uses.queue.close();
      await uses.redis.quit();
      await uses.pool.end();
    },
  };
}

export interface BareWorker {
  marks(): MarkTable;
  close(): Promise<void>;
}

export interface BareWorkerOptions {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  brokerUrl: string;
  /** Broker accounts; order k of a signal goes to its source's account + k (fan-out). */
  accounts: BareAccount[];
}

export async function startBareWorker(options: BareWorkerOptions): Promise<BareWorker> {
  const pool = new Pool({ connectionString: options.databaseUrl, max: BARE_POOL_SIZE, min: BARE_POOL_SIZE, application_name: 'bench-bare-worker' });
  const redis = new IORedis(options.redisUrl, { maxRetriesPerRequest: null });
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 32 });
  const marks = new Marks();
  const worker = new Worker<BareJob>(
    QUEUE,
    async (job) => {
      const { signalId, fanout, account, payload } = job.data;
      marks.set(signalId, 'w.start');
      const orders = Array.from({ length: fanout }, (_, k) => ({
        id: randomUUID(),
        clientOrderId: `bare-${signalId}-${k}`,
        account: options.accounts[(account + k) % options.accounts.length],
      }));
      const side = payload.action === 'sell' ? 'sell' : 'buy';
      const symbol = String(payload.ticker ?? 'AAPL');
      const qty = String(payload.quantity ?? '1');
      const values: unknown[] = [];
      const tuples = orders.map((o, i) => {
        values.push(o.id, signalId, o.clientOrderId, symbol, side, qty);
        return `($${i * 6 + 1}, $${i * 6 + 2}, $${i * 6 + 3}, $${i * 6 + 4}, $${i * 6 + 5}, $${i * 6 + 6})`;
      });
      await pool.query(`INSERT INTO bare_orders (id, signal_id, client_order_id, symbol, side, qty) VALUES ${tuples.join(', ')}`, values);
      marks.set(signalId, 'w.persist.end');
      marks.set(signalId, 'w.send.start');
      await Promise.all(
        orders.map(async (o) => {
          const placed = await placeOrder(agent, options.brokerUrl, o.account, { symbol, qty, side, clientOrderId: o.clientOrderId });
          if (!placed.ok) throw new Error(`broker answered ${placed.status}`);
        }),
      );
    },
    { connection: redis, prefix: options.prefix, concurrency: BARE_CONCURRENCY },
  );
  return working(worker, marks, { redis, agent, pool });
}

/** Waits until `worker` is ready; closing it stops the worker, then Redis, the HTTP agent and the pool. */
export async function working<T>(worker: Worker<T>, marks: Marks, uses: { redis: IORedis; agent: Agent; pool: Pool }): Promise<BareWorker> {
  await worker.waitUntilReady();
  return {
    marks: () => marks.take(),
    close: async () => {
      await worker.close();
      await uses.redis.quit();
      await uses.agent.close();
      await uses.pool.end();
    },
  };
}

/** A market day order at the Alpaca endpoint with the account's keys; whether it was taken, and the broker's order id. */
export async function placeOrder(
  agent: Agent,
  brokerUrl: string,
  account: BareAccount,
  order: { symbol: string; qty: string; side: string; clientOrderId: string },
): Promise<{ ok: boolean; status: number; id?: string }> {
  const res = await request(`${brokerUrl}/v2/orders`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'APCA-API-KEY-ID': account.apiKey, 'APCA-API-SECRET-KEY': account.apiSecret, accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({
      symbol: order.symbol,
      qty: order.qty,
      side: order.side,
      type: 'market',
      time_in_force: 'day',
      client_order_id: order.clientOrderId,
    }),
  });
  const answer = (await res.body.json().catch(() => ({}))) as { id?: string };
  return { ok: res.statusCode === 200 || res.statusCode === 201, status: res.statusCode, id: answer.id };
}
