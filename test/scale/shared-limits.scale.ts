import IORedis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { DB_ROLES } from '../../src/database/database-roles';
import { http } from '../support/http-client';
import { ApiProcess, DistSnapshot, snapshotDist, startApiProcess } from './support/cluster';
import { RunningPgbouncer, startPgbouncer } from './support/pgbouncer';
import { pgbouncerSuite } from './support/require-pgbouncer';
import { deliver, expectOk, HmacSource, newWebhookId } from './support/scale-client';
import { createScaleDatabase, runtimeLogins, ScaleDatabase } from './support/scale-db';

const { bin, describe: suite } = pgbouncerSuite();
const REDIS_URL = process.env.SCALE_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Webhook deliveries per source in the window (60 s): a small number, so the test sends N + 1 quickly. */
const WEBHOOK_LIMIT = 9;
const PASSWORD = 'correct horse battery staple';

/**
 * Three api processes behind PgBouncer hold one limit, on either store: the N+1-th request in the
 * window is 429 whichever replica it reaches (a per-process count would allow 3 × N).
 */
for (const store of ['redis', 'postgres'])
  suite(`shared limits: 3 api processes on the ${store} limit store`, () => {
    let snapshot: DistSnapshot;
    let db: ScaleDatabase;
    let bouncer: RunningPgbouncer;
    const prefix = `{sytest-${randomBytes(6).toString('hex')}}`;
    const platformToken = `syp_${randomBytes(32).toString('base64url')}`;
    const apis: ApiProcess[] = [];

    beforeAll(async () => {
      snapshot = snapshotDist();
      db = await createScaleDatabase('limits');
      bouncer = await startPgbouncer(bin, {
        databases: [{ alias: db.name, host: db.host, port: db.port, dbname: db.name }],
        users: runtimeLogins(db),
        defaultPoolSize: 10,
        maxClientConn: 200,
      });
      const env = {
        dataDir: db.dataDir,
        apiDatabaseUrl: bouncer.url(db.name, DB_ROLES.api, db.passwords.api),
        workerDatabaseUrl: bouncer.url(db.name, DB_ROLES.worker, db.passwords.worker),
        redisUrl: REDIS_URL,
        queuePrefix: prefix,
        platformToken,
        jwtSecret: randomBytes(32).toString('hex'),
        alpacaUrl: 'http://127.0.0.1:9',
        binanceUrl: 'http://127.0.0.1:9',
        // The sign-in and token limits keep their defaults (5 per account, 20 per IP).
        extra: {
          DATABASE_PREPARED_STATEMENTS: String(bouncer.preparedStatements),
          RATE_LIMIT_STORE: store,
          WEBHOOK_RATE_LIMIT_PER_MINUTE: String(WEBHOOK_LIMIT),
        },
      };
      for (const i of [0, 1, 2]) apis.push(await startApiProcess(snapshot, `api-${i}`, env));
    }, 180_000);

    afterAll(async () => {
      await Promise.allSettled(apis.map((p) => p.stop(10_000)));
      const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
      const keys = await redis.keys(`${prefix}*`).catch(() => [] as string[]);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
      await bouncer?.stop();
      await db?.drop();
    }, 60_000);

    async function workspace(name: string) {
      const email = `${name}-${randomBytes(3).toString('hex')}@example.com`;
      const body = await expectOk(
        http(apis[0].url, 'POST', '/v1/workspaces', { token: platformToken, body: { name, ownerEmail: email, ownerPassword: PASSWORD } }),
        201,
        'workspace',
      );
      return { token: body.token as string, email };
    }

    it('webhooks: N deliveries of one source spread over the replicas pass, the N+1-th is 429 on every replica', async () => {
      const ws = await workspace('hooks');
      const source = await expectOk<HmacSource>(
        http(apis[1].url, 'POST', '/v1/sources', { token: ws.token, body: { name: 'bot', auth: 'hmac' } }),
        201,
        'source',
      );
      const body = { ticker: 'AAPL', action: 'buy', quantity: '1' };
      const accepted = [];
      for (let i = 0; i < WEBHOOK_LIMIT; i++) accepted.push((await deliver(apis[i % 3].url, source, body, newWebhookId())).status);
      expect(accepted).toEqual(Array(WEBHOOK_LIMIT).fill(202));
      for (const api of apis) {
        const over = await deliver(api.url, source, body, newWebhookId());
        expect(over.status).toBe(429);
        expect(over.body.code).toBe('rate_limited');
        expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
    }, 120_000);

    it('sign-in: 5 wrong passwords spread over the replicas lock the account on every replica, the right password too', async () => {
      const ws = await workspace('login');
      const failures = [];
      for (let i = 0; i < 5; i++)
        failures.push((await http(apis[i % 3].url, 'POST', '/v1/auth/login', { body: { email: ws.email, password: `wrong-${i}` } })).status);
      expect(failures).toEqual([401, 401, 401, 401, 401]);
      for (const api of apis) {
        const locked = await http(api.url, 'POST', '/v1/auth/login', { body: { email: ws.email, password: PASSWORD } });
        expect(locked.status).toBe(429);
        expect(locked.body.code).toBe('too_many_attempts');
        expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    }, 120_000);

    it('platform token: 20 unknown tokens spread over the replicas lock the address on every replica, the platform token too', async () => {
      const refused = [];
      for (let i = 0; i < 20; i++)
        refused.push((await http(apis[i % 3].url, 'GET', '/v1/workspace', { token: `guess-${randomBytes(24).toString('hex')}` })).status);
      expect(refused).toEqual(Array(20).fill(401));
      for (const api of apis) expect((await http(api.url, 'GET', '/v1/workspace', { token: platformToken })).status).toBe(429);
    }, 120_000);
  });
