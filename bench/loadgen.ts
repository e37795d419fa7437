/** The load generator, in its own process: the same client for both pipelines. */
import { ArrivalCounter, LoadGenerator, LoadSpec, LoadTarget } from './lib/load';
import { serveRpc } from './lib/rpc';

async function main(): Promise<void> {
  const generator = new LoadGenerator();
  const feeds = new Map<number, Promise<{ counter: ArrivalCounter; close(): void }>>();
  serveRpc({
    run: async (args: { targets: LoadTarget[]; spec: LoadSpec; feedPort: number }) => {
      if (!feeds.has(args.feedPort)) feeds.set(args.feedPort, ArrivalCounter.fromFeed(args.feedPort));
      const { counter } = await feeds.get(args.feedPort)!;
      return generator.run(args.targets, args.spec, counter);
    },
  });
  process.once('SIGTERM', () => {
    void Promise.allSettled([...feeds.values()].map(async (f) => (await f).close()))
      .then(() => generator.close())
      .then(() => process.exit(0));
  });
  process.send?.({ ready: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
