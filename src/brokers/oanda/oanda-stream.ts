import { Agent, request } from 'undici';
import type { BrokerCredentials, BrokerEnvironment } from '../broker-adapter';
import { BrokerError } from '../broker-error';
import type { BrokerStream, BrokerStreamClient, BrokerStreamHandlers } from '../broker-stream';
import { parseCredentials } from '../broker-values';
import { oandaStreamReader } from './oanda-orders';
import { oandaCredentialsSchema, oandaStreamLineSchema } from './oanda-schemas';

const BROKER = 'oanda';
/** OANDA sends a HEARTBEAT line every 5 s; this long without any line means the stream is dead. */
const SILENCE_MS = 20_000;

/**
 * OANDA v20 transaction stream (`GET /v3/accounts/{id}/transactions/stream` on the stream host): chunked JSON
 * lines, HEARTBEATs between transactions. ORDER_FILL and ORDER_CANCEL of our orders become order updates, and the
 * take-profit/stop-loss orders created on an entry's fill become that entry's legs.
 */
export class OandaStreamClient implements BrokerStreamClient {
  private readonly agent: Agent;

  constructor(
    private readonly urls: Record<BrokerEnvironment, string>,
    private readonly timeoutMs: number,
  ) {
    this.agent = new Agent({ connectTimeout: Math.min(timeoutMs, 3_000), keepAliveTimeout: 1_000 });
  }

  async open(credentials: BrokerCredentials, environment: BrokerEnvironment, handlers: BrokerStreamHandlers): Promise<BrokerStream> {
    const creds = parseCredentials(BROKER, oandaCredentialsSchema, credentials);
    const abort = new AbortController();
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(new URL(`/v3/accounts/${creds.accountId}/transactions/stream`, this.urls[environment]), {
        method: 'GET',
        headers: { authorization: `Bearer ${creds.token}`, accept: 'application/json', 'accept-datetime-format': 'RFC3339' },
        dispatcher: this.agent,
        headersTimeout: this.timeoutMs,
        bodyTimeout: 0, // a stream's body never ends; silence is watched below
        signal: abort.signal,
      });
    } catch {
      throw new BrokerError('transient', BROKER, 'the OANDA transaction stream could not be reached');
    }
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      if (res.statusCode === 401 || res.statusCode === 403)
        throw new BrokerError('credentials_invalid', BROKER, `OANDA refused the token on the transaction stream (HTTP ${res.statusCode})`, res.statusCode);
      throw new BrokerError('transient', BROKER, `the OANDA transaction stream answered HTTP ${res.statusCode}`, res.statusCode);
    }
    let closed = false;
    let silence: NodeJS.Timeout | undefined;
    const end = (reason?: string) => {
      if (closed) return;
      closed = true;
      clearTimeout(silence);
      abort.abort();
      if (reason) handlers.onClose(reason);
    };
    const heard = () => {
      clearTimeout(silence);
      silence = setTimeout(() => end(`no line from the OANDA transaction stream for ${SILENCE_MS} ms`), SILENCE_MS);
    };
    heard();
    const body = res.body;
    const reader = oandaStreamReader();
    void (async () => {
      let buffered = '';
      try {
        for await (const chunk of body) {
          heard();
          buffered += (chunk as Buffer).toString('utf8');
          for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line && !closed) read(line, reader, handlers);
          }
        }
        end('the OANDA transaction stream ended');
      } catch {
        end('the OANDA transaction stream failed');
      }
    })();
    return { close: () => end() };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function read(line: string, reader: ReturnType<typeof oandaStreamReader>, handlers: BrokerStreamHandlers): void {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return;
  }
  const parsed = oandaStreamLineSchema.safeParse(json);
  const event = parsed.success ? reader(parsed.data) : undefined;
  if (event) handlers.onEvent(event);
}
