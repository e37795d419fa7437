/**
 * The floor: the fewest statements and steps the budget's safeguards need, with no framework, run like
 * the bare pipeline (Fastify, pg, BullMQ, undici). It answers "could any implementation of these
 * safeguards meet the budget on this machine?", not a product path. On the path:
 *  - api: source lookup through a SECURITY DEFINER function, Standard Webhooks HMAC and payload
 *    validation (Switchyard's own functions), the signal inserted idempotently under RLS in one pipelined
 *    transaction (BEGIN + set_config + INSERT + COMMIT), BullMQ add;
 *  - worker: one pipelined transaction under RLS (order intent inserted idempotently, signal marked
 *    routing, credential.use audited, the sealed credential read), AES-256-GCM decrypt with the data key
 *    already in memory (a data-key cache hit), the broker call, then one pipelined transaction recording
 *    the answer and the signal's terminal state.
 * Left out, so the floor is optimistic: the hash-chain sealing of audit events, per-connection signal
 * order (lock and reads), the risk gate, rate limits, foreign keys, logging and metrics.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import Fastify, { FastifyInstance } from 'fastify';
import IORedis from 'ioredis';
import { Pool, PoolClient } from 'pg';
import { Agent, request } from 'undici';
import { parseSignalPayload } from '../../src/signals/signal-payload';
import { verifyStandardWebhook } from '../../src/signals/webhook-verifier';
import { BARE_CONCURRENCY, BARE_POOL_SIZE, BareAccount, Marks, MarkTable } from '../bare/pipeline';

/** Created by the bench as the superuser; the pipeline connects as FLOOR_ROLE, to which RLS applies. */
export const FLOOR_ROLE = 'sy_bench_floor';
export const FLOOR_SCHEMA = `
  DO $$ BEGIN CREATE ROLE ${FLOOR_ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
  CREATE TABLE floor_sources (id uuid PRIMARY KEY, workspace_id uuid NOT NULL, hmac_key bytea NOT NULL, connection_id uuid NOT NULL);
  CREATE FUNCTION floor_resolve_source(p_id uuid) RETURNS TABLE (workspace_id uuid, hmac_key bytea, connection_id uuid)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $f$
    BEGIN RETURN QUERY SELECT s.workspace_id, s.hmac_key, s.connection_id FROM floor_sources s WHERE s.id = p_id; END $f$;
  CREATE TABLE floor_signals (
    id uuid PRIMARY KEY, workspace_id uuid NOT NULL, source_id uuid NOT NULL, idempotency_key text NOT NULL,
    raw_payload text NOT NULL, payload jsonb NOT NULL, status text NOT NULL DEFAULT 'received',
    received_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz,
    UNIQUE (workspace_id, source_id, idempotency_key));
  CREATE TABLE floor_credentials (connection_id uuid PRIMARY KEY, workspace_id uuid NOT NULL, data_key_id text NOT NULL, iv bytea NOT NULL, tag bytea NOT NULL, ciphertext bytea NOT NULL);
  CREATE TABLE floor_orders (
    id uuid PRIMARY KEY, workspace_id uuid NOT NULL, signal_id uuid NOT NULL UNIQUE, connection_id uuid NOT NULL,
    client_order_id text NOT NULL, symbol text NOT NULL, side text NOT NULL, qty numeric NOT NULL,
    status text NOT NULL, broker_order_id text, created_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE floor_audit (id bigserial PRIMARY KEY, workspace_id uuid NOT NULL, action text NOT NULL, resource_id uuid NOT NULL, at timestamptz NOT NULL DEFAULT now());
  DO $$ DECLARE t text; BEGIN
    FOREACH t IN ARRAY ARRAY['floor_signals', 'floor_credentials', 'floor_orders', 'floor_audit'] LOOP
      EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
      EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
      EXECUTE format($p$CREATE POLICY tenant ON %I USING (workspace_id = current_setting('app.workspace_id', true)::uuid)$p$, t);
    END LOOP; END $$;
  GRANT EXECUTE ON FUNCTION floor_resolve_source(uuid) TO ${FLOOR_ROLE};
  GRANT SELECT, INSERT, UPDATE ON floor_signals, floor_orders TO ${FLOOR_ROLE};
  GRANT SELECT ON floor_credentials TO ${FLOOR_ROLE};
  GRANT INSERT ON floor_audit TO ${FLOOR_ROLE};
  GRANT USAGE ON SEQUENCE floor_audit_id_seq TO ${FLOOR_ROLE};`;

const QUEUE = 'floor-route';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One source of the floor: its workspace, HMAC key and the connection (broker account) its one route goes to. */
export interface FloorSource {
  id: string;
  workspaceId: string;
  /** The Standard Webhooks secret (`whsec_…`) the load generator signs with. */
  secret: string;
  connectionId: string;
  account: BareAccount;
}

/** `count` sources of one workspace, each with its own connection (broker account). */
export function floorSources(count: number, newAccount: () => BareAccount): FloorSource[] {
  const workspaceId = randomUUID();
  return Array.from({ length: count }, () => ({
    id: randomUUID(),
    workspaceId,
    secret: `whsec_${randomBytes(24).toString('base64')}`,
    connectionId: randomUUID(),
    account: newAccount(),
  }));
}

/** Stores the sources and their connections' credentials, sealed (AES-256-GCM) with `dataKey`; `query` runs as the superuser. */
export async function seedFloor(query: (text: string, values: unknown[]) => Promise<unknown>, sources: FloorSource[], dataKey: Buffer): Promise<void> {
  for (const s of sources) {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(s.account), 'utf8'), cipher.final()]);
    await query('INSERT INTO floor_sources (id, workspace_id, hmac_key, connection_id) VALUES ($1, $2, $3, $4)', [
      s.id,
      s.workspaceId,
      Buffer.from(s.secret.slice('whsec_'.length), 'base64'),
      s.connectionId,
    ]);
    await query(`INSERT INTO floor_credentials (connection_id, workspace_id, data_key_id, iv, tag, ciphertext) VALUES ($1, $2, 'bench', $3, $4, $5)`, [
      s.connectionId,
      s.workspaceId,
      iv,
      cipher.getAuthTag(),
      ciphertext,
    ]);
  }
}

interface FloorJob {
  workspaceId: string;
  signalId: string;
  connectionId: string;
}

/**
 * One unit of work under RLS, pipelined: BEGIN and set_config, then `statements` without waiting for
 * answers, then COMMIT; resolves with each statement's rows once the commit answered.
 */
async function pipelined(pool: Pool, workspaceId: string, statements: { name: string; text: string; values: unknown[] }[]): Promise<unknown[][]> {
  if (!UUID.test(workspaceId)) throw new Error('workspace id is not a UUID');
  const client = (await pool.connect()) as PoolClient & { pipeline: boolean };
  client.pipeline = true;
  try {
    const begin = client.query(`BEGIN; SELECT set_config('app.workspace_id', '${workspaceId}', true)`);
    const answers = statements.map((s) => client.query(s));
    const commit = client.query('COMMIT');
    const settled = await Promise.allSettled([begin, ...answers, commit]);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.slice(1, -1).map((s) => (s as PromiseFulfilledResult<{ rows: unknown[] }>).value.rows);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.pipeline = false;
    client.release();
  }
}

export interface FloorApi {
  url: string;
  marks(): MarkTable;
  close(): Promise<void>;
}

export async function startFloorApi(options: { databaseUrl: string; redisUrl: string; prefix: string; port?: number }): Promise<FloorApi> {
  const pool = new Pool({ connectionString: options.databaseUrl, max: BARE_POOL_SIZE, min: BARE_POOL_SIZE, application_name: 'bench-floor-api' });
  const redis = new IORedis(options.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue<FloorJob>(QUEUE, { connection: redis, prefix: options.prefix });
  await queue.waitUntilReady();
  const marks = new Marks();
  const app: FastifyInstance = Fastify({ logger: false });
  // Signatures cover the exact bytes received.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.post<{ Params: { sourceId: string }; Body: string }>('/hooks/:sourceId', async (req, reply) => {
    const msgId = String(req.headers['webhook-id'] ?? '');
    marks.set(msgId, 'api.in');
    const sourceId = req.params.sourceId;
    const { rows } = UUID.test(sourceId)
      ? await pool.query<{ workspace_id: string; hmac_key: Buffer; connection_id: string }>({
          name: 'floor.resolve_source',
          text: 'SELECT workspace_id, hmac_key, connection_id FROM floor_resolve_source($1)',
          values: [sourceId],
        })
      : { rows: [] };
    const source = rows[0];
    const headers = { id: msgId, timestamp: header(req.headers['webhook-timestamp']), signature: header(req.headers['webhook-signature']) };
    if (!source || !verifyStandardWebhook(headers, req.body, [{ version: 1, key: source.hmac_key }], Math.floor(Date.now() / 1000)).ok) {
      return reply.code(401).type('application/problem+json').send({ type: 'about:blank', title: 'Unauthorized', status: 401, code: 'unauthorized' });
    }
    let payload: unknown;
    try {
      payload = parseSignalPayload(JSON.parse(req.body));
    } catch {
      return reply.code(422).type('application/problem+json').send({ type: 'about:blank', title: 'Invalid signal', status: 422, code: 'invalid_signal' });
    }
    marks.set(msgId, 'api.persist.start');
    const id = randomUUID();
    const [inserted] = await pipelined(pool, source.workspace_id, [
      {
        name: 'floor.insert_signal',
        text: `INSERT INTO floor_signals (id, workspace_id, source_id, idempotency_key, raw_payload, payload) VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (workspace_id, source_id, idempotency_key) DO NOTHING RETURNING id`,
        values: [id, source.workspace_id, sourceId, `wh:${msgId}`, req.body, JSON.stringify(payload)],
      },
    ]);
    marks.set(msgId, 'api.persist.end');
    if (inserted.length === 0) return reply.code(202).send({ signalId: null, status: 'duplicate', duplicate: true });
    await queue.add('route', { workspaceId: source.workspace_id, signalId: id, connectionId: source.connection_id }, { jobId: id, attempts: 6, backoff: { type: 'exponential', delay: 250 }, removeOnComplete: { count: 10_000 }, removeOnFail: { count: 50_000 } });
    marks.set(msgId, 'api.enqueue.end');
    return reply.code(202).send({ signalId: id, status: 'queued', duplicate: false });
  });
  await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  const address = app.server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    marks: () => marks.take(),
    close: async () => {
      await app.close();
      await queue.close();
      await redis.quit();
      await pool.end();
    },
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export interface FloorWorker {
  marks(): MarkTable;
  close(): Promise<void>;
}

export async function startFloorWorker(options: { databaseUrl: string; redisUrl: string; prefix: string; brokerUrl: string; dataKey: Buffer }): Promise<FloorWorker> {
  const pool = new Pool({ connectionString: options.databaseUrl, max: BARE_POOL_SIZE, min: BARE_POOL_SIZE, application_name: 'bench-floor-worker' });
  const redis = new IORedis(options.redisUrl, { maxRetriesPerRequest: null });
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 32 });
  const marks = new Marks();
  const worker = new Worker<FloorJob>(
    QUEUE,
    async (job) => {
      const { workspaceId, signalId, connectionId } = job.data;
      marks.set(signalId, 'w.start');
      const orderId = randomUUID();
      const clientOrderId = `floor-${signalId}`;
      // The intent, the signal routing, credential.use and the sealed credential: one round trip, one commit.
      const [order, , , credential] = await pipelined(pool, workspaceId, [
        {
          name: 'floor.insert_order',
          text: `INSERT INTO floor_orders (id, workspace_id, signal_id, connection_id, client_order_id, symbol, side, qty, status)
                 SELECT $1, $2, s.id, $4, $5, s.payload->>'ticker', s.payload->>'action', (s.payload->>'quantity')::numeric, 'submitted'
                   FROM floor_signals s WHERE s.id = $3
                 ON CONFLICT (signal_id) DO NOTHING RETURNING symbol, side, qty::text`,
          values: [orderId, workspaceId, signalId, connectionId, clientOrderId],
        },
        { name: 'floor.mark_routing', text: `UPDATE floor_signals SET status = 'routing' WHERE id = $1`, values: [signalId] },
        { name: 'floor.audit_use', text: `INSERT INTO floor_audit (workspace_id, action, resource_id) VALUES ($1, 'credential.use', $2)`, values: [workspaceId, connectionId] },
        { name: 'floor.credential', text: 'SELECT iv, tag, ciphertext FROM floor_credentials WHERE connection_id = $1', values: [connectionId] },
      ]);
      marks.set(signalId, 'w.persist.end');
      const intent = order[0] as { symbol: string; side: string; qty: string } | undefined;
      if (!intent) return; // a re-run: the order exists (the floor leaves retries out)
      const sealed = credential[0] as { iv: Buffer; tag: Buffer; ciphertext: Buffer };
      const decipher = createDecipheriv('aes-256-gcm', options.dataKey, sealed.iv);
      decipher.setAuthTag(sealed.tag);
      const account = JSON.parse(Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8')) as BareAccount;
      marks.set(signalId, 'w.send.start');
      const res = await request(`${options.brokerUrl}/v2/orders`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'APCA-API-KEY-ID': account.apiKey, 'APCA-API-SECRET-KEY': account.apiSecret, accept: 'application/json', 'content-type': 'application/json' },
        body: JSON.stringify({ symbol: intent.symbol, qty: intent.qty, side: intent.side, type: 'market', time_in_force: 'day', client_order_id: clientOrderId }),
      });
      const answer = (await res.body.json()) as { id?: string };
      const accepted = res.statusCode === 200 || res.statusCode === 201;
      await pipelined(pool, workspaceId, [
        { name: 'floor.answer', text: 'UPDATE floor_orders SET status = $2, broker_order_id = $3 WHERE id = $1', values: [orderId, accepted ? 'accepted' : 'rejected', answer.id ?? null] },
        { name: 'floor.settle', text: 'UPDATE floor_signals SET status = $2, completed_at = now() WHERE id = $1', values: [signalId, accepted ? 'routed' : 'failed'] },
      ]);
    },
    { connection: redis, prefix: options.prefix, concurrency: BARE_CONCURRENCY },
  );
  await worker.waitUntilReady();
  return {
    marks: () => marks.take(),
    close: async () => {
      await worker.close();
      await redis.quit();
      await agent.close();
      await pool.end();
    },
  };
}
