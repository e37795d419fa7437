/**
 * Process entry of the bare and floor pipelines: `node dist-bench/bench/bare/main.js api|worker|floor-api|floor-worker`,
 * configured by env (BARE_*; FLOOR_DATA_KEY for the floor's worker, FLOOR_BATCH for group commits).
 */
import { startFloorApi, startFloorWorker } from '../floor/pipeline';
import { serveRpc } from '../lib/rpc';
import { MarkTable, startBareApi, startBareWorker } from './pipeline';

interface Started {
  url?: string;
  marks(): MarkTable;
  close(): Promise<void>;
}

function start(role: string | undefined, env: NodeJS.ProcessEnv): Promise<Started> {
  const common = { databaseUrl: env.BARE_DATABASE_URL!, redisUrl: env.BARE_REDIS_URL!, prefix: env.BARE_QUEUE_PREFIX! };
  const batch = env.FLOOR_BATCH === 'true';
  const port = Number(env.BARE_PORT ?? 0);
  switch (role) {
    case 'api':
      return startBareApi({ ...common, port, sources: JSON.parse(env.BARE_SOURCES ?? '{}') });
    case 'worker':
      return startBareWorker({ ...common, brokerUrl: env.BARE_BROKER_URL!, accounts: JSON.parse(env.BARE_ACCOUNTS ?? '[]') });
    case 'floor-api':
      return startFloorApi({ ...common, port, batch });
    case 'floor-worker':
      return startFloorWorker({ ...common, batch, brokerUrl: env.BARE_BROKER_URL!, dataKey: Buffer.from(env.FLOOR_DATA_KEY ?? '', 'base64') });
    default:
      throw new Error(`usage: main.js api|worker|floor-api|floor-worker (got ${role})`);
  }
}

async function main(): Promise<void> {
  const started = await start(process.argv[2], process.env);
  serveRpc({ url: () => started.url, marks: () => started.marks() });
  process.once('SIGTERM', () => void started.close().then(() => process.exit(0)));
  process.send?.({ ready: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
