/** Process entry of the bare pipeline: `node dist-bench/bench/bare/main.js api|worker`, configured by env (BARE_*). */
import { serveRpc } from '../lib/rpc';
import { startBareApi, startBareWorker } from './pipeline';

async function main(): Promise<void> {
  const role = process.argv[2];
  const env = process.env;
  const common = { databaseUrl: env.BARE_DATABASE_URL!, redisUrl: env.BARE_REDIS_URL!, prefix: env.BARE_QUEUE_PREFIX! };
  if (role === 'api') {
    const api = await startBareApi({ ...common, port: Number(env.BARE_PORT ?? 0), sources: JSON.parse(env.BARE_SOURCES ?? '{}') });
    serveRpc({ url: () => api.url, marks: () => api.marks() });
    process.once('SIGTERM', () => void api.close().then(() => process.exit(0)));
  } else if (role === 'worker') {
    const worker = await startBareWorker({ ...common, brokerUrl: env.BARE_BROKER_URL!, accounts: JSON.parse(env.BARE_ACCOUNTS ?? '[]') });
    serveRpc({ marks: () => worker.marks() });
    process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
  } else {
    throw new Error(`usage: main.js api|worker (got ${role})`);
  }
  process.send?.({ ready: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
