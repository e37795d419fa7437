import type { BrokerCredentials, BrokerEnvironment } from '../broker-adapter';
import { BrokerError } from '../broker-error';
import { type BrokerStream, type BrokerStreamClient, type BrokerStreamHandlers, openSocketStream } from '../broker-stream';
import { parseCredentials } from '../broker-values';
import { coinbaseSigningKey, coinbaseStreamJwt } from './coinbase-jwt';
import { coinbaseStreamEvent } from './coinbase-orders';
import { coinbaseCredentialsSchema, coinbaseStreamMessageSchema } from './coinbase-schemas';

const BROKER = 'coinbase';

/**
 * Coinbase Advanced Trade `user` channel (the user websocket host): one subscribe message with a JWT of its own
 * (no `uri` claim), then snapshot and update events whose orders carry the cumulative fill, read as an order
 * lookup reads it, so stream and poll derive the same fills.
 */
export class CoinbaseStreamClient implements BrokerStreamClient {
  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  open(credentials: BrokerCredentials, _environment: BrokerEnvironment, handlers: BrokerStreamHandlers): Promise<BrokerStream> {
    const creds = parseCredentials(BROKER, coinbaseCredentialsSchema, credentials);
    // Signed now: the message holds a two-minute token, never the private key.
    const subscribe = JSON.stringify({
      type: 'subscribe',
      channel: 'user',
      jwt: coinbaseStreamJwt(creds.apiKeyName, coinbaseSigningKey(creds.privateKey), Date.now()),
    });
    const options = { url: this.url, broker: BROKER, label: 'the Coinbase user channel', timeoutMs: this.timeoutMs };
    return openSocketStream(
      options,
      handlers,
      (session) => session.send(subscribe),
      (json, session) => {
        const parsed = coinbaseStreamMessageSchema.safeParse(json);
        if (!parsed.success) return;
        const msg = parsed.data;
        if ('type' in msg) {
          const auth = /auth|jwt|unauthori/i.test(msg.message ?? '');
          return session.fail(
            new BrokerError(
              auth ? 'credentials_invalid' : 'transient',
              BROKER,
              auth ? 'Coinbase refused the key on the user channel' : 'the Coinbase user channel answered an error',
            ),
          );
        }
        if (msg.channel === 'subscriptions') {
          if (msg.events.some((e) => e.subscriptions.user !== undefined)) session.confirm();
          return;
        }
        if (!session.live) return;
        for (const event of msg.events) for (const order of event.orders ?? []) handlers.onEvent(coinbaseStreamEvent(order));
      },
    );
  }
}
