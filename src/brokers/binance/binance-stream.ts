import { createHmac, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { BrokerCredentials, BrokerEnvironment } from '../broker-adapter';
import { BrokerError } from '../broker-error';
import { type BrokerStream, type BrokerStreamClient, type BrokerStreamHandlers, openSocketStream } from '../broker-stream';
import { parseCredentials } from '../broker-values';
import { binanceExecutionEvent } from './binance-orders';
import { binanceCredentialsSchema, binanceExecutionReportSchema } from './binance-schemas';

const BROKER = 'binance';
/** Binance's codes for a key or signature it does not accept. */
const KEY_REFUSED = new Set([-2014, -2015, -1022]);

const responseSchema = z.object({ id: z.string(), status: z.number(), error: z.object({ code: z.number(), msg: z.string().optional() }).optional() });
const eventSchema = z.object({ subscriptionId: z.number().optional(), event: z.looseObject({ e: z.string() }) });

/**
 * Binance spot user data stream through the WebSocket API (`userDataStream.subscribe.signature`: the key and an
 * HMAC-SHA256 signature of `apiKey=…&timestamp=…`, no listenKey to keep alive). Each `executionReport` carries
 * the order's cumulative fill, read as an order lookup reads it, so stream and poll derive the same fills.
 */
export class BinanceStreamClient implements BrokerStreamClient {
  constructor(
    private readonly urls: Record<BrokerEnvironment, string>,
    private readonly timeoutMs: number,
  ) {}

  open(credentials: BrokerCredentials, environment: BrokerEnvironment, handlers: BrokerStreamHandlers): Promise<BrokerStream> {
    const creds = parseCredentials(BROKER, binanceCredentialsSchema, credentials);
    const id = randomUUID();
    const payload = `apiKey=${creds.apiKey}&timestamp=${Date.now()}`;
    const signature = createHmac('sha256', creds.apiSecret).update(payload).digest('hex');
    // The only request this stream sends: the key id and a signature, never the secret.
    const subscribe = JSON.stringify({
      id,
      method: 'userDataStream.subscribe.signature',
      params: { ...Object.fromEntries(new URLSearchParams(payload)), signature },
    });
    const options = { url: this.urls[environment], broker: BROKER, label: 'the Binance user data stream', timeoutMs: this.timeoutMs };
    return openSocketStream(
      options,
      handlers,
      (session) => session.send(subscribe),
      (json, session) => {
        const response = responseSchema.safeParse(json);
        if (response.success && response.data.id === id) {
          if (response.data.status === 200) return session.confirm();
          const code = response.data.error?.code ?? 0;
          return session.fail(
            KEY_REFUSED.has(code)
              ? new BrokerError('credentials_invalid', BROKER, `Binance refused the key on the user data stream (code ${code})`)
              : new BrokerError('transient', BROKER, `Binance refused the user data stream subscription (status ${response.data.status}, code ${code})`),
          );
        }
        const pushed = eventSchema.safeParse(json);
        if (!pushed.success || !session.live) return;
        if (pushed.data.event.e === 'eventStreamTerminated')
          return session.fail(new BrokerError('transient', BROKER, 'Binance terminated the user data stream'));
        const report = binanceExecutionReportSchema.safeParse(pushed.data.event);
        if (report.success) handlers.onEvent(binanceExecutionEvent(report.data));
      },
    );
  }
}
