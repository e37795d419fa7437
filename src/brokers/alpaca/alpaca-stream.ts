import { z } from 'zod';
import type { BrokerCredentials, BrokerEnvironment } from '../broker-adapter';
import { BrokerError } from '../broker-error';
import { type BrokerStream, type BrokerStreamClient, type BrokerStreamHandlers, openSocketStream } from '../broker-stream';
import { parseCredentials } from '../broker-values';
import { alpacaOrderState } from './alpaca-orders';
import { alpacaCredentialsSchema, alpacaOrderSchema } from './alpaca-schemas';

const BROKER = 'alpaca';

/** The frames of Alpaca's trading stream this client reads (https://docs.alpaca.markets/docs/websocket-streaming). */
const frameSchema = z.discriminatedUnion('stream', [
  z.object({ stream: z.literal('authorization'), data: z.object({ status: z.string(), action: z.string().optional() }) }),
  z.object({ stream: z.literal('listening'), data: z.object({ streams: z.array(z.string()) }) }),
  z.object({ stream: z.literal('trade_updates'), data: z.object({ event: z.string(), order: alpacaOrderSchema, execution_id: z.string().optional() }) }),
]);

/**
 * Alpaca `trade_updates` over the trading websocket (`/stream` on the trading host; paper sends binary frames).
 * Each event carries the order as it stands after the event (cumulative filled_qty and filled_avg_price), so it
 * is read exactly like an order lookup: the poller and the stream derive the same fills with the same ids.
 */
export class AlpacaStreamClient implements BrokerStreamClient {
  constructor(
    private readonly urls: Record<BrokerEnvironment, string>,
    private readonly timeoutMs: number,
  ) {}

  open(credentials: BrokerCredentials, environment: BrokerEnvironment, handlers: BrokerStreamHandlers): Promise<BrokerStream> {
    const creds = parseCredentials(BROKER, alpacaCredentialsSchema, credentials);
    // The only copy of the secret this stream holds, dropped once sent.
    let auth: string | undefined = JSON.stringify({ action: 'auth', key: creds.apiKey, secret: creds.apiSecret });
    const options = { url: this.urls[environment], broker: BROKER, label: 'the Alpaca trading stream', timeoutMs: this.timeoutMs };
    const opening = openSocketStream(
      options,
      handlers,
      (session) => {
        if (auth) session.send(auth);
        auth = undefined;
      },
      (json, session) => {
        const frame = frameSchema.safeParse(json);
        if (!frame.success) return; // other streams and frames this client does not read
        const { stream, data } = frame.data;
        if (stream === 'authorization') {
          if (data.status === 'authorized') session.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
          else session.fail(new BrokerError('credentials_invalid', BROKER, 'Alpaca refused the API key on the trading stream'));
        } else if (stream === 'listening') {
          if (data.streams.includes('trade_updates')) session.confirm();
          else session.fail(new BrokerError('transient', BROKER, 'Alpaca did not open trade_updates'));
        } else if (session.live) {
          handlers.onEvent({ clientOrderId: data.order.client_order_id, state: alpacaOrderState(data.order) });
        }
      },
    );
    return opening.finally(() => (auth = undefined));
  }
}
