import { Queue, Worker } from 'bullmq';
import IORedis, { Cluster } from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import { urlForRole } from '../../src/database/database-roles';
import { JOB_OPTIONS } from '../../src/queue/jobs';
import { databaseUrl } from '../support/database';
import { ClusterEnv, DistSnapshot, snapshotDist, spawnWorkerProcess, startWorkerProcess, SwitchyardProcess } from './support/cluster';
import { keySlot, PrivateRedis, startRedis, startRedisCluster } from './support/redis-server';
import { createScaleDatabase, ScaleDatabase } from './support/scale-db';

/**
 * Redis as production runs it. A private redis-server per test (the shared one's settings are not
 * ours to change): the worker refuses an evicting Redis with a clear message, every queue key of the
 * default prefix `{switchyard}` lands in one cluster hash slot, and BullMQ with that prefix works on a
 * real three-node Redis Cluster (and fails with CROSSSLOT without the hash tag).
 */
describe('Redis as in production', () => {
  let snapshot: DistSnapshot;
  let db: ScaleDatabase;
  const running: SwitchyardProcess[] = [];
  const redises: PrivateRedis[] = [];

  beforeAll(async () => {
    snapshot = snapshotDist();
    db = await createScaleDatabase('redis');
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(running.map((p) => p.stop(5_000)));
    await Promise.allSettled(redises.map((r) => r.stop()));
    await db?.drop();
    snapshot?.remove();
  }, 60_000);

  function workerEnv(redisUrl: string): ClusterEnv {
    const direct = databaseUrl(db.name);
    return {
      dataDir: db.dataDir,
      apiDatabaseUrl: urlForRole(direct, 'api', db.passwords),
      workerDatabaseUrl: urlForRole(direct, 'worker', db.passwords),
      redisUrl,
      // The default prefix, as production runs it: no QUEUE_PREFIX below.
      queuePrefix: '{switchyard}',
      platformToken: `syp_${randomBytes(32).toString('base64url')}`,
      jwtSecret: randomBytes(32).toString('hex'),
      alpacaUrl: 'http://127.0.0.1:9',
      binanceUrl: 'http://127.0.0.1:9',
    };
  }

  it('refuses to start a worker on a Redis whose maxmemory-policy may evict queue keys, naming the setting', async () => {
    const redis = await startRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    redises.push(redis);
    const refused = spawnWorkerProcess(snapshot, 'worker-evicting', workerEnv(redis.url));
    running.push(refused);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([refused.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 60_000)))]);
    clearTimeout(timer);
    expect(exit).not.toBe('timeout');
    expect((exit as { code: number | null }).code).not.toBe(0);
    expect(refused.text()).toContain(`Redis maxmemory-policy is 'allkeys-lru'; BullMQ needs 'noeviction'`);
    expect(refused.json().some((l) => l.msg === 'workers started')).toBe(false);

    // The same worker on the same Redis once the policy is right: it starts.
    const admin = new IORedis(redis.url);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.quit();
    running.push(await startWorkerProcess(snapshot, 'worker-noeviction', workerEnv(redis.url)));
  }, 120_000);

  it('keeps every queue key of the default prefix {switchyard} in one Redis Cluster hash slot', async () => {
    const redis = redises[0];
    const client = new IORedis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue('route-signal', { connection: client, prefix: '{switchyard}' });
    try {
      // Jobs for signals that do not exist: the worker started above takes them and skips them.
      const ids = Array.from({ length: 5 }, () => randomUUID());
      for (const id of ids) await queue.add('route-signal', { workspaceId: randomUUID(), signalId: id }, { ...JOB_OPTIONS['route-signal'], jobId: id });
      await queue.add('route-signal', { workspaceId: randomUUID(), signalId: randomUUID() }, { ...JOB_OPTIONS['route-signal'], delay: 60_000 });
      const deadline = Date.now() + 30_000;
      while ((await queue.getCompletedCount()) < ids.length) {
        if (Date.now() > deadline) throw new Error('the worker did not complete the jobs');
        await new Promise((r) => setTimeout(r, 100));
      }
      const keys = await client.keys('*');
      expect(keys.length).toBeGreaterThan(5);
      expect(keys.filter((k) => !k.startsWith('{switchyard}:'))).toEqual([]);
      expect(new Set(keys.map(keySlot)).size).toBe(1);
    } finally {
      await queue.close();
      await client.quit();
    }
  }, 60_000);

  it('runs BullMQ with the hash-tagged prefix on a real three-node Redis Cluster, and fails with CROSSSLOT without the tag', async () => {
    const cluster = await startRedisCluster();
    const connection = () =>
      new Cluster(
        cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
        { redisOptions: { maxRetriesPerRequest: null } },
      );
    const clients: Cluster[] = [];
    const own = () => {
      const c = connection();
      clients.push(c);
      return c;
    };
    const queue = new Queue('route-signal', { connection: own(), prefix: '{switchyard}' });
    const seen: string[] = [];
    let failedOnce = false;
    const worker = new Worker(
      'route-signal',
      async (job) => {
        // One job fails its first attempt: retries (delayed set, backoff) must work across the cluster too.
        if (job.id === 'retry-me' && !failedOnce) {
          failedOnce = true;
          throw new Error('transient');
        }
        seen.push(job.id!);
      },
      { connection: own(), prefix: '{switchyard}', concurrency: 4 },
    );
    const untagged = new Queue('route-signal', { connection: own(), prefix: 'switchyard' });
    try {
      const ids = Array.from({ length: 20 }, () => randomUUID());
      for (const id of ids) await queue.add('route-signal', { workspaceId: randomUUID(), signalId: id }, { ...JOB_OPTIONS['route-signal'], jobId: id });
      await queue.add('route-signal', { workspaceId: randomUUID(), signalId: randomUUID() }, { ...JOB_OPTIONS['route-signal'], jobId: 'retry-me' });
      await queue.add('route-signal', { workspaceId: randomUUID(), signalId: randomUUID() }, { ...JOB_OPTIONS['route-signal'], jobId: 'later', delay: 300 });
      const deadline = Date.now() + 30_000;
      while (seen.length < ids.length + 2) {
        if (Date.now() > deadline) throw new Error(`processed ${seen.length} of ${ids.length + 2}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(new Set(seen)).toEqual(new Set([...ids, 'retry-me', 'later']));
      expect(failedOnce).toBe(true);

      await expect(untagged.add('route-signal', { workspaceId: randomUUID(), signalId: randomUUID() })).rejects.toThrow(/CROSSSLOT/);
    } finally {
      await worker.close();
      await Promise.allSettled([queue.close(), untagged.close()]);
      await Promise.allSettled(clients.map((c) => c.quit()));
      await cluster.stop();
    }
  }, 120_000);
});
