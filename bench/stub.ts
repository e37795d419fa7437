/**
 * The broker side of the bench, in its own process: the Alpaca stub recording every order's arrival
 * time, a TCP feed of arrivals for the load generator's closed loop, and (on demand) the AWS KMS
 * wire stub with simulated latency.
 */
import { KmsStub, startKmsStub } from '../test/support/kms-stub';
import { RecordingAlpaca, startArrivalFeed } from './lib/broker';
import { serveRpc } from './lib/rpc';

async function main(): Promise<void> {
  const broker = await RecordingAlpaca.start();
  const feed = await startArrivalFeed(broker);
  let kms: KmsStub | undefined;
  serveRpc({
    info: () => ({ url: broker.url, feedPort: feed.port }),
    addKeys: (keys: { apiKey: string; apiSecret: string }[]) => keys.forEach((k) => broker.addKey(k)),
    count: () => broker.arrivals.length,
    arrivals: (args: { clear: boolean }) => broker.take(args.clear),
    kms: async (args: { latencyMs: number }) => {
      kms ??= await startKmsStub();
      kms.setLatencyMs(args.latencyMs);
      return { url: kms.url, region: kms.region, keyId: kms.keyId, principals: kms.principals };
    },
    kmsCalls: () => {
      const calls = kms?.calls.length ?? 0;
      kms?.calls.splice(0);
      return calls;
    },
  });
  process.once('SIGTERM', () => {
    void Promise.allSettled([broker.stop(), feed.close(), kms?.close()]).then(() => process.exit(0));
  });
  process.send?.({ ready: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
