import { Agent, errors as undiciErrors, request } from 'undici';
import { BrokerError } from './broker-error';

export interface BrokerHttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path plus query string, already signed where the broker signs the query. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface BrokerHttpResponse {
  status: number;
  /** Parsed JSON body, or null when the body was empty or not JSON. */
  json: unknown;
}

/**
 * One keep-alive HTTP client per broker base URL. It classifies failures into BrokerError kinds
 * so every adapter treats timeouts, 429 and 5xx the same way; it never logs or echoes request content.
 */
export class BrokerHttp {
  private readonly agent: Agent;

  constructor(
    readonly broker: string,
    readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {
    this.agent = new Agent({ keepAliveTimeout: 30_000, connections: 32, connectTimeout: Math.min(timeoutMs, 3_000) });
  }

  async send(req: BrokerHttpRequest): Promise<BrokerHttpResponse> {
    let status: number;
    let text: string;
    try {
      const res = await request(new URL(req.path, this.baseUrl), {
        method: req.method,
        headers: req.headers,
        body: req.body,
        dispatcher: this.agent,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw this.classifyNetworkError(err);
    }
    const json = parseJson(text);
    if (status === 429 || status >= 500) {
      throw new BrokerError('transient', this.broker, `${this.broker} answered HTTP ${status}`, status);
    }
    return { status, json };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private classifyNetworkError(err: unknown): BrokerError {
    const code = (err as { code?: string }).code ?? '';
    // The request never left (refused, DNS, connect timeout): nothing can exist at the broker.
    if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT'].includes(code)) {
      return new BrokerError('transient', this.broker, `${this.broker} unreachable (${code})`);
    }
    // Sent but unanswered: the broker may have acted on it.
    if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
      return new BrokerError('ambiguous', this.broker, `${this.broker} did not answer within ${this.timeoutMs} ms`);
    }
    return new BrokerError('ambiguous', this.broker, `${this.broker} connection failed (${code || 'unknown'})`);
  }
}

function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
