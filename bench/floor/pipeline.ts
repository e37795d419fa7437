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
 * With `batch`, signals of a workspace that arrive while its previous unit of work is in flight share
 * the next one (group commit): what batching across signals could win.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import Fastify, { FastifyInstance } from 'fastify';
import IORedis from 'ioredis';
import { Pool, PoolClient } from 'pg';
import { Agent } from 'undici';
import { parseSignalPayload } from '../../src/signals/signal-payload';
import { verifyStandardWebhook } from '../../src/signals/webhook-verifier';
import { BARE_CONCURRENCY, BARE_JOB_OPTIONS, BARE_POOL_SIZE, BareAccount, BareApi, BareWorker, listening, Marks, placeOrder, working } from '../bare/pipeline';
import { Coalescer } from './coalescer';

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

/** Runs one unit of work for each item: alone (as Switchyard does, one transaction per signal), or with `batch`, in group commits (Coalescer). */
function unitsOfWork<T, R>(batch: boolean, flush: (workspaceId: string, items: T[]) => Promise<R[]>): (workspaceId: string, item: T) => Promise<R> {
  if (!batch) return async (workspaceId, item) => (await flush(workspaceId, [item]))[0];
  const coalescer = new Coalescer(flush);
  return (workspaceId, item) => coalescer.submit(workspaceId, item);
}

/**
 * The items' columns as the relation `u` of a statement, its parameters from $`first` on: one VALUES row
 * for a single item (planned as plain key lookups, like a per-signal statement), unnest of arrays for a
 * batch. The statement's name says which, so each shape is prepared once.
 */
function itemsAs<T>(name: string, items: T[], first: number, columns: [column: string, type: string, value: (item: T) => unknown][]) {
  const single = items.length === 1;
  const params = columns.map(([, type], i) => `$${first + i}::${type}${single ? '' : '[]'}`).join(', ');
  return {
    name: `${name}.${single ? 'one' : 'many'}`,
    u: `${single ? `(VALUES (${params}))` : `unnest(${params})`} AS u(${columns.map(([column]) => column).join(', ')})`,
    values: columns.map(([, , value]) => (single ? value(items[0]) : items.map(value))),
  };
}

interface NewSignal {
  id: string;
  sourceId: string;
  idempotencyKey: string;
  rawPayload: string;
  payload: string;
  job: FloorJob;
}

export interface FloorOptions {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  /** Group commits across concurrent signals of a workspace (and one queue call per batch). */
  batch?: boolean;
}

/** Handles like the bare pipeline's, so the bench drives both alike. */
export type FloorApi = BareApi;
export type FloorWorker = BareWorker;

export async function startFloorApi(options: FloorOptions & { port?: number }): Promise<FloorApi> {
  const pool = new Pool({ connectionString: options.databaseUrl, max: BARE_POOL_SIZE, min: BARE_POOL_SIZE, application_name: 'bench-floor-api' });
  const redis = new IORedis(options.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue<FloorJob>(QUEUE, { connection: redis, prefix: options.prefix });
  await queue.waitUntilReady();
  const marks = new Marks();
  // Idempotent insert under RLS, then the jobs of the signals that were new: whether each was new.
  const persist = unitsOfWork<NewSignal, boolean>(options.batch ?? false, async (workspaceId, signals) => {
    const rows = itemsAs('floor.insert_signals', signals, 2, [
      ['id', 'uuid', (sig) => sig.id],
      ['source_id', 'uuid', (sig) => sig.sourceId],
      ['idempotency_key', 'text', (sig) => sig.idempotencyKey],
      ['raw_payload', 'text', (sig) => sig.rawPayload],
      ['payload', 'jsonb', (sig) => sig.payload],
    ]);
    const [inserted] = await pipelined(pool, workspaceId, [
      {
        name: rows.name,
        text: `INSERT INTO floor_signals (id, workspace_id, source_id, idempotency_key, raw_payload, payload)
               SELECT u.id, $1, u.source_id, u.idempotency_key, u.raw_payload, u.payload FROM ${rows.u}
               ON CONFLICT (workspace_id, source_id, idempotency_key) DO NOTHING RETURNING id`,
        values: [workspaceId, ...rows.values],
      },
    ]);
    const isNew = new Set((inserted as { id: string }[]).map((r) => r.id));
    const jobs = signals.filter((sig) => isNew.has(sig.id));
    if (jobs.length === 1) await queue.add('route', jobs[0].job, { ...BARE_JOB_OPTIONS, jobId: jobs[0].id });
    else if (jobs.length > 1) await queue.addBulk(jobs.map((sig) => ({ name: 'route', data: sig.job, opts: { ...BARE_JOB_OPTIONS, jobId: sig.id } })));
    return signals.map((sig) => isNew.has(sig.id));
  });
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
    const job = { workspaceId: source.workspace_id, signalId: id, connectionId: source.connection_id };
    const isNew = await persist(source.workspace_id, {
      id,
      sourceId,
      idempotencyKey: `wh:${msgId}`,
      rawPayload: req.body,
      payload: JSON.stringify(payload),
      job,
    });
    marks.set(msgId, 'api.enqueue.end');
    if (!isNew) return reply.code(202).send({ signalId: null, status: 'duplicate', duplicate: true });
    return reply.code(202).send({ signalId: id, status: 'queued', duplicate: false });
  });
  return listening(app, options.port, marks, { queue, redis, pool });
}

function header(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

interface Claimed {
  intent?: { symbol: string; side: string; qty: string };
  sealed?: { iv: Buffer; tag: Buffer; ciphertext: Buffer };
}

interface Answer {
  orderId: string;
  signalId: string;
  accepted: boolean;
  brokerOrderId: string | null;
}

export async function startFloorWorker(options: FloorOptions & { brokerUrl: string; dataKey: Buffer }): Promise<FloorWorker> {
  const pool = new Pool({ connectionString: options.databaseUrl, max: BARE_POOL_SIZE, min: BARE_POOL_SIZE, application_name: 'bench-floor-worker' });
  const redis = new IORedis(options.redisUrl, { maxRetriesPerRequest: null });
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 32 });
  const marks = new Marks();
  // The intents, the signals routing, credential.use and the sealed credentials: one round trip, one commit.
  const claim = unitsOfWork<{ orderId: string; job: FloorJob }, Claimed>(options.batch ?? false, async (workspaceId, items) => {
    // As parameters from $2 (behind the workspace id) or from $1.
    const claimed = (first: number) =>
      itemsAs('floor.claim', items, first, [
        ['id', 'uuid', (i) => i.orderId],
        ['signal_id', 'uuid', (i) => i.job.signalId],
        ['connection_id', 'uuid', (i) => i.job.connectionId],
      ]);
    const rows = claimed(2);
    const values = [workspaceId, ...rows.values];
    const alone = claimed(1);
    const [orders, , , credentials] = await pipelined(pool, workspaceId, [
      {
        name: `${rows.name}.insert_orders`,
        text: `INSERT INTO floor_orders (id, workspace_id, signal_id, connection_id, client_order_id, symbol, side, qty, status)
               SELECT u.id, $1, s.id, u.connection_id, 'floor-' || s.id, s.payload->>'ticker', s.payload->>'action', (s.payload->>'quantity')::numeric, 'submitted'
                 FROM ${rows.u} JOIN floor_signals s ON s.id = u.signal_id
               ON CONFLICT (signal_id) DO NOTHING RETURNING signal_id, symbol, side, qty::text`,
        values,
      },
      {
        name: `${rows.name}.mark_routing`,
        text: `UPDATE floor_signals s SET status = 'routing' FROM ${alone.u} WHERE s.id = u.signal_id`,
        values: alone.values,
      },
      {
        name: `${rows.name}.audit_use`,
        text: `INSERT INTO floor_audit (workspace_id, action, resource_id) SELECT $1, 'credential.use', u.connection_id FROM ${rows.u}`,
        values,
      },
      {
        name: `${rows.name}.credentials`,
        text: `SELECT c.connection_id, c.iv, c.tag, c.ciphertext FROM floor_credentials c WHERE c.connection_id IN (SELECT u.connection_id FROM ${alone.u})`,
        values: alone.values,
      },
    ]);
    const intents = new Map((orders as ({ signal_id: string } & Claimed['intent'])[]).map(({ signal_id, ...intent }) => [signal_id, intent]));
    const sealed = new Map((credentials as ({ connection_id: string } & Claimed['sealed'])[]).map(({ connection_id, ...c }) => [connection_id, c]));
    return items.map((i) => ({ intent: intents.get(i.job.signalId), sealed: sealed.get(i.job.connectionId) }));
  });
  // The answers and the signals' terminal states: one commit.
  const record = unitsOfWork<Answer, void>(options.batch ?? false, async (workspaceId, answers) => {
    const rows = itemsAs('floor.record', answers, 1, [
      ['order_id', 'uuid', (a) => a.orderId],
      ['signal_id', 'uuid', (a) => a.signalId],
      ['accepted', 'boolean', (a) => a.accepted],
      ['broker_order_id', 'text', (a) => a.brokerOrderId],
    ]);
    await pipelined(pool, workspaceId, [
      {
        name: `${rows.name}.answer`,
        text: `UPDATE floor_orders o SET status = CASE WHEN u.accepted THEN 'accepted' ELSE 'rejected' END, broker_order_id = u.broker_order_id
                 FROM ${rows.u} WHERE o.id = u.order_id`,
        values: rows.values,
      },
      {
        name: `${rows.name}.settle`,
        text: `UPDATE floor_signals s SET status = CASE WHEN u.accepted THEN 'routed' ELSE 'failed' END, completed_at = now() FROM ${rows.u} WHERE s.id = u.signal_id`,
        values: rows.values,
      },
    ]);
    return answers.map(() => undefined);
  });
  const worker = new Worker<FloorJob>(
    QUEUE,
    async (job) => {
      const { workspaceId, signalId } = job.data;
      marks.set(signalId, 'w.start');
      const orderId = randomUUID();
      const { intent, sealed } = await claim(workspaceId, { orderId, job: job.data });
      marks.set(signalId, 'w.persist.end');
      if (!intent || !sealed) return; // a re-run: the order exists (the floor leaves retries out)
      const decipher = createDecipheriv('aes-256-gcm', options.dataKey, sealed.iv);
      decipher.setAuthTag(sealed.tag);
      const account = JSON.parse(Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8')) as BareAccount;
      marks.set(signalId, 'w.send.start');
      const placed = await placeOrder(agent, options.brokerUrl, account, { ...intent, clientOrderId: `floor-${signalId}` });
      await record(workspaceId, { orderId, signalId, accepted: placed.ok, brokerOrderId: placed.id ?? null });
    },
    { connection: redis, prefix: options.prefix, concurrency: BARE_CONCURRENCY },
  );
  return working(worker, marks, { redis, agent, pool });
}
