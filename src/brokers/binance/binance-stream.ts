import { createHmac, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { BrokerCredentials, BrokerEnvironment } from '../broker-adapter';
import { BrokerError } from '../broker-error';
import type { BrokerStream, BrokerStreamClient, BrokerStreamHandlers } from '../broker-stream';
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
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  open(credentials: BrokerCredentials, _environment: BrokerEnvironment, handlers: BrokerStreamHandlers): Promise<BrokerStream> {
    const creds = parseCredentials(BROKER, binanceCredentialsSchema, credentials);
    const id = randomUUID();
    const payload = `apiKey=${creds.apiKey}&timestamp=${Date.now()}`;
    const params = Object.fromEntries(new URLSearchParams(payload));
    // The only request this stream sends; it holds the key id and a signature, never the secret.
    const subscribe = JSON.stringify({ id, method: 'userDataStream.subscribe.signature', params: { ...params, signature: createHmac('sha256', creds.apiSecret).update(payload).digest('hex') } });
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url);
      let phase: 'opening' | 'listening' | 'closed' = 'opening';
      const end = (err: BrokerError) => {
        if (phase === 'closed') return;
        const wasListening = phase === 'listening';
        phase = 'closed';
        clearTimeout(timer);
        socket.close();
        if (wasListening) handlers.onClose(err.message);
        else reject(err);
      };
      const timer = setTimeout(() => end(new BrokerError('transient', BROKER, `the Binance user data stream did not confirm within ${this.timeoutMs} ms`)), this.timeoutMs);
      socket.onopen = () => socket.send(subscribe);
      socket.onmessage = (message: MessageEvent) => {
        const json = parseJson(message.data);
        const response = responseSchema.safeParse(json);
        if (response.success && response.data.id === id) {
          if (response.data.status === 200) {
            phase = 'listening';
            clearTimeout(timer);
            return resolve({
              close: () => {
                phase = 'closed'; // closed by us: no onClose
                socket.close();
              },
            });
          }
          const code = response.data.error?.code ?? 0;
          return end(KEY_REFUSED.has(code)
            ? new BrokerError('credentials_invalid', BROKER, `Binance refused the key on the user data stream (code ${code})`)
            : new BrokerError('transient', BROKER, `Binance refused the user data stream subscription (status ${response.data.status}, code ${code})`));
        }
        const pushed = eventSchema.safeParse(json);
        if (!pushed.success || phase !== 'listening') return;
        if (pushed.data.event.e === 'eventStreamTerminated') return end(new BrokerError('transient', BROKER, 'Binance terminated the user data stream'));
        const report = binanceExecutionReportSchema.safeParse(pushed.data.event);
        if (report.success) handlers.onEvent(binanceExecutionEvent(report.data));
      };
      socket.onerror = () => end(new BrokerError('transient', BROKER, 'the Binance user data stream connection failed'));
      socket.onclose = (event) => end(new BrokerError('transient', BROKER, `the Binance user data stream closed (code ${event.code})`));
    });
  }
}

function parseJson(data: unknown): unknown {
  try {
    return JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data as ArrayBuffer));
  } catch {
    return undefined;
  }
}
