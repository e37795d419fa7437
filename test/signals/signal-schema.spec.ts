import Ajv2020 from 'ajv/dist/2020';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIGNAL_JSON_SCHEMA, SIGNAL_PROPERTIES } from '../../src/signals/signal-json-schema';
import { KNOWN_FIELDS, parseSignalPayload } from '../../src/signals/signal-payload';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';

const validate = new Ajv2020({ strict: false, allErrors: true }).compile(SIGNAL_JSON_SCHEMA);
const parses = (body: unknown) => {
  try {
    parseSignalPayload(body);
    return true;
  } catch {
    return false;
  }
};

/** The JSON code blocks of docs/signals.md that are marked as examples, with TradingView's placeholders filled in as TradingView would. */
function documentedExamples(): Record<string, unknown>[] {
  const doc = readFileSync(join(__dirname, '../../docs/signals.md'), 'utf8');
  const filled: Record<string, string> = {
    '{{ticker}}': 'AAPL',
    '{{exchange}}': 'NASDAQ',
    '{{close}}': '187.25',
    '{{timenow}}': '2026-01-02T15:04:05Z',
    '{{strategy.order.action}}': 'sell',
    '{{strategy.market_position}}': 'flat',
    '{{strategy.order.contracts}}': '5',
    '{{strategy.order.id}}': 'Long Exit',
    '{{strategy.position_size}}': '0',
  };
  return [...doc.matchAll(/<!-- example -->\s*```json\n([\s\S]*?)```/g)].map(([, json]) =>
    JSON.parse(json.replace(/\{\{[a-z_.]+\}\}/g, (p) => filled[p] ?? p)),
  );
}

describe('the signal JSON Schema', () => {
  it('names exactly the fields the parser reads', () => {
    expect(Object.keys(SIGNAL_PROPERTIES).sort()).toEqual([...KNOWN_FIELDS].sort());
  });

  it('accepts every worked example in docs/signals.md, as the parser does', () => {
    const examples = documentedExamples();
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const body of examples) {
      expect([body, validate(body), parses(body)]).toEqual([body, true, true]);
    }
  });

  it.each([
    { ticker: 'NASDAQ:AAPL', action: 'BUY', quantity: '10', orderType: 'Limit', limitPrice: 187.25 },
    { ticker: 'ES1!', action: ' close ', sentiment: 'Flat' },
    { ticker: 'BTCUSDT', action: 'short', signalPrice: '0.00001', quantity: 3, id: 7, time: 1767366245 },
    { ticker: 'EURUSD', action: 'add', marketPosition: 'bullish', stopLoss: '1.05', takeProfit: '1.2', comment: 'kept raw' },
    { ticker: 'X', action: 'sell', orderType: 'stop_limit', stopPrice: '9', limitPrice: '8.5', timeInForce: 'GTC' },
  ])('accepts what the parser accepts: %p', (body) => {
    expect([parses(body), validate(body)]).toEqual([true, true]);
  });

  it.each([
    { action: 'buy' },
    { ticker: 'AAPL' },
    { ticker: 'AA PL', action: 'buy' },
    { ticker: 'AAPL', action: 'hold' },
    { ticker: 'AAPL', action: 'buy', sentiment: 'sideways' },
    { ticker: 'AAPL', action: 'buy', quantity: '-3' },
    { ticker: 'AAPL', action: 'buy', quantity: '0.0' },
    { ticker: 'AAPL', action: 'buy', quantity: 0 },
    { ticker: 'AAPL', action: 'buy', orderType: 'limit' },
    { ticker: 'AAPL', action: 'buy', orderType: 'STOP' },
    { ticker: 'AAPL', action: 'buy', price: '1e3' },
    { ticker: 'AAPL', action: 'buy', id: '' },
    { ticker: 'AAPL', action: 'buy', time: 'yesterday' },
    ['not', 'an', 'object'],
  ])('refuses what the parser refuses: %p', (body) => {
    expect([parses(body), validate(body)]).toEqual([false, false]);
  });
});

describe('GET /v1/schemas/signal', () => {
  let db: TestDatabase;
  let api: RunningApi;
  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db);
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('serves the schema without credentials, as application/schema+json', async () => {
    const res = await http(api.url, 'GET', '/v1/schemas/signal');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/schema\+json/);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(SIGNAL_JSON_SCHEMA)));
  });

  it('is the webhooks body in the OpenAPI document', async () => {
    const ws = await createWorkspace(api, 'schema-ws');
    const doc = await http(api.url, 'GET', '/docs/openapi.json', { token: ws.token });
    const body = doc.body.paths['/hooks/{sourceId}'].post.requestBody.content['application/json'].schema;
    expect(body.properties.sentiment).toEqual(JSON.parse(JSON.stringify(SIGNAL_PROPERTIES.sentiment)));
  });
});
