import { createWorkspace, http, RunningApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { createHmacSource, createTokenSource, HmacSource, signal, signedHeaders, startSignalsApi, TokenSource } from './support/signals-harness';

/** Deterministic randomness, so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Case = { kind: string; body: string | Buffer; contentType?: string; headers?: Record<string, string> };

const MB = 1 << 20;
const FIELDS = ['ticker', 'action', 'quantity', 'orderType', 'limitPrice', 'stopPrice', 'price', 'timeInForce', 'takeProfit', 'stopLoss', 'id', 'time'];

function generators(rand: () => number) {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);
  const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const wrongValues = (): unknown[] => [
    null,
    true,
    false,
    0,
    -1,
    [],
    {},
    [1, 2],
    { $gt: '' },
    'x'.repeat(int(300)),
    '\u0000',
    '\ud800',
    '{{ticker}}',
    -1e308,
    Number.MAX_VALUE,
    '',
  ];
  const hugeNumber = () =>
    pick([
      '1e400',
      '-1e400',
      '9'.repeat(1000 + int(4000)),
      '1' + '0'.repeat(400) + '.5',
      '0.' + '0'.repeat(500) + '1',
      '1e-400',
      '123456789012345678901234567890',
    ]);

  return {
    randomBytes: (): Case => ({
      kind: 'random bytes',
      body: Buffer.from(Array.from({ length: int(3000) }, () => int(256))),
      contentType: pick(['application/json', 'text/plain']),
    }),
    deepArray: (): Case => ({ kind: 'deep nesting', body: nested(1 + int(30_000)), contentType: pick(['application/json', 'text/plain']) }),
    deepObject: (): Case => ({ kind: 'deep object', body: deepObject(1 + int(8_000)), contentType: 'application/json' }),
    deepInField: (): Case => ({ kind: 'deep in a field', body: `{"ticker":${nested(1 + int(20_000))},"action":"buy"}`, contentType: 'application/json' }),
    hugeNumber: (): Case => ({
      kind: 'huge numbers',
      body: `{"ticker":"AAPL","action":"buy","${pick(['quantity', 'limitPrice', 'price', 'stopLoss', 'time', 'id'])}":${hugeNumber()},"orderType":"limit"}`,
      contentType: 'application/json',
    }),
    wrongTypes: (): Case => {
      const body: Record<string, unknown> = { ...signal() };
      for (let i = 0; i <= int(4); i++) body[pick(FIELDS)] = pick(wrongValues());
      body.ticker = pick(wrongValues());
      return { kind: 'wrong types', body: JSON.stringify(body), contentType: pick(['application/json', 'text/plain']) };
    },
    notAnObject: (): Case => ({
      kind: 'not an object',
      body: pick(['1', '"buy"', 'null', 'true', '[]', '[{"ticker":"AAPL","action":"buy"}]', '', ' ', '\u0000']),
      contentType: pick(['application/json', 'text/plain']),
    }),
    truncated: (): Case => {
      const raw = JSON.stringify(signal({ id: 'x'.repeat(int(100)) }));
      return { kind: 'truncated JSON', body: raw.slice(0, int(raw.length - 1)), contentType: pick(['application/json', 'text/plain']) };
    },
    hugeString: (): Case => ({
      kind: '1 MB string',
      body: JSON.stringify(signal({ [pick(['ticker', 'id', 'action', 'quantity'])]: 'A'.repeat(MB) })),
      contentType: 'application/json',
    }),
    oddMedia: (): Case => ({
      kind: 'odd media type',
      body: JSON.stringify(signal()),
      contentType: pick(['application/xml', 'multipart/form-data', 'application/x-www-form-urlencoded', 'text/html', 'application/octet-stream']),
    }),
    badHeaders: (): Case => ({
      kind: 'garbage signature headers',
      body: JSON.stringify(signal()),
      contentType: 'application/json',
      headers: {
        'webhook-id': pick(['', ' ', 'x'.repeat(5000), 'msg\u00e9', 'msg_1']),
        'webhook-timestamp': pick(['', 'NaN', '-1', '1e12', '99999999999999999999', String(Math.floor(Date.now() / 1000))]),
        'webhook-signature': pick(['', 'v1,', 'v1,====', `v1,${'A'.repeat(8000)}`, Array.from({ length: 200 }, () => 'v1,AAAA').join(' '), 'v2,abc v1']),
      },
    }),
  };
}

describe('webhook fuzzing', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let hmac: HmacSource;
  let tokenSource: TokenSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ({ api } = await startSignalsApi(db, {
      WEBHOOK_RATE_LIMIT_PER_MINUTE: '1000000',
      WEBHOOK_IP_RATE_LIMIT_PER_MINUTE: '1000000',
      BODY_LIMIT_BYTES: String(2 * MB),
    }));
    const { token } = await createWorkspace(api);
    hmac = await createHmacSource(api, token);
    tokenSource = await createTokenSource(api, token);
  });

  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('answers thousands of malformed bodies with 4xx, never 5xx, and stays up', async () => {
    const rand = prng(20261122);
    const gens = generators(rand);
    const kinds = Object.values(gens);
    const cases: Case[] = [];
    for (let i = 0; i < 3000; i++) {
      const gen = kinds[i % kinds.length];
      // 1 MB bodies are expensive to send: a few dozen cover them.
      if (gen === gens.hugeString && i % (kinds.length * 10) >= kinds.length) continue;
      cases.push(gen());
    }
    const tokenPath = new URL(tokenSource.webhookUrl).pathname;
    const outcomes = new Map<string, number>();
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const index = next++;
        const c = cases[index];
        // Half go to the token route, half are signed correctly for the HMAC route, so both reach the parser and validator.
        const signed = index % 2 === 1 && !c.headers;
        const rawText = typeof c.body === 'string' ? c.body : c.body.toString('utf8');
        const headers = { ...(signed ? signedHeaders(hmac.secret, rawText) : {}), ...c.headers, ...(c.contentType ? { 'content-type': c.contentType } : {}) };
        const path = signed || c.headers ? `/hooks/${hmac.id}` : tokenPath;
        const res = await fetch(api.url + path, { method: 'POST', headers, body: c.body });
        await res.arrayBuffer();
        outcomes.set(`${res.status}`, (outcomes.get(`${res.status}`) ?? 0) + 1);
        if (res.status < 400 || res.status >= 500) failures.push(`#${index} ${c.kind} -> ${res.status}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));

    expect(failures).toEqual([]);
    expect(cases.length).toBeGreaterThan(2500);
    expect(outcomes.get('413') ?? 0).toBe(0); // 1 MB strings fit the 2 MB limit here: they reached the validator
    expect([...outcomes.keys()].sort()).toEqual(expect.arrayContaining(['400', '401', '415', '422']));
    expect(api.logs.text).not.toContain('unhandled error');

    expect((await http(api.url, 'GET', '/healthz')).status).toBe(200);
    const raw = JSON.stringify(signal());
    expect((await http(api.url, 'POST', `/hooks/${hmac.id}`, { rawBody: raw, headers: signedHeaders(hmac.secret, raw) })).status).toBe(202);
  }, 180_000);

  it('refuses a 1 MB string with 413 under the default body limit', async () => {
    const small = await startSignalsApi(db);
    try {
      const res = await http(small.api.url, 'POST', `/hooks/${hmac.id}`, { body: signal({ ticker: 'A'.repeat(MB) }) });
      expect([res.status, res.body.code]).toEqual([413, 'payload_too_large']);
    } finally {
      await small.api.close();
    }
  });
});
