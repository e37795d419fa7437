import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { canaryForms, scanDatabase, scanDirectory, ScanResult, scanTexts } from '../faults/support/leak-scan';
import { AttackWorld, Exchange, Tenant } from './support/attack-world';
import { fillPath, idFields, Operation, operations, pathParams, sample, SampleContext, stringFields, withField } from './support/openapi';
import { AttackClassResult, writeAttackReport } from './support/report';

/**
 * An automated attack run against every route of the OpenAPI document the real api serves: a route
 * added tomorrow is attacked tomorrow. Tenant A is the victim (and, for IDOR, the attacker's own
 * workspace), tenant B the other workspace. Every response is checked: never 5xx, security headers,
 * no stack trace, never the other workspace's data; a canary secret onboarded first is searched for
 * at the end. WRITE_REPORTS=1 regenerates the table in docs/security.md.
 * A new route whose valid request the schema walker cannot build fails the positive control: teach
 * validBody() (or pathValues()) about it, so its attacks are not vacuous.
 */
let world: AttackWorld;
let ops: Operation[] = [];
/** Operations only the platform token may call (found by asking, not by name). */
const platformOps = new Set<string>();
const results = new Map<string, AttackClassResult>();

const INJECTIONS: Array<[kind: string, value: string]> = [
  ['sql', "' OR '1'='1"],
  ['sql', "'; DROP TABLE workspaces; --"],
  ['sql', '1) UNION SELECT token_hash::text FROM api_tokens --'],
  ['sql', '$$; SELECT pg_sleep(3); $$'],
  ['traversal', '../../../../etc/passwd'],
  ['traversal', '..%2F..%2F..%2F..%2Fetc%2Fpasswd'],
  ['traversal', '....//....//....//etc/shadow'],
  ['control', 'nul\u0000byte'],
  ['control', 'line\r\nbreak\u001b[31m'],
  ['unicode', 'lone \ud800 surrogate \u202e rtl'],
  ['oversized', 'A'.repeat(10_000)],
];

function record(cls: string, expectation: string): AttackClassResult {
  let r = results.get(cls);
  if (!r) results.set(cls, (r = { name: cls, expectation, tried: 0, failures: [] }));
  return r;
}

function check(cls: string, expectation: string, ex: Exchange, ok: boolean, why = ''): void {
  const r = record(cls, expectation);
  r.tried += 1;
  if (!ok) r.failures.push(`${ex.method} ${ex.url.slice(0, 160)} → ${ex.status}${why ? ` (${why})` : ''}: ${ex.text.slice(0, 200)}`);
}

const is2xx = (s: number) => s >= 200 && s < 300;
const is4xx = (s: number) => s >= 400 && s < 500;

function ctxFor(tenant: Tenant, other?: Tenant): SampleContext {
  return {
    idFor(field) {
      const ids = other ?? tenant;
      if (field === 'workspaceId') return ids.id;
      if (field === 'sourceId') return ids.ids.sources;
      if (field === 'connectionId') return ids.ids.connections;
      if (field === 'signalId') return ids.ids.signals;
      return undefined;
    },
  };
}

function collectionOf(op: Operation, param: string): string {
  if (param !== 'id') return `${param.replace(/Id$/, '')}s`;
  const parts = op.path.split('/');
  return parts[parts.indexOf('{id}') - 1];
}

/** Real ids of `tenant` for every path parameter (a spare resource for mutations, so fixtures survive). */
function pathValues(op: Operation, tenant: Tenant): Record<string, string> {
  const values: Record<string, string> = {};
  for (const p of pathParams(op.path)) {
    if (op.path.startsWith('/hooks/')) values[p] = p === 'token' ? tenant.sourceToken : op.path.includes('{token}') ? tenant.tokenSourceId : tenant.ids.sources;
    else {
      const collection = collectionOf(op, p);
      values[p] = (op.mutation && tenant.spare[collection]) || tenant.ids[collection] || randomUUID();
    }
  }
  return values;
}

function validBody(op: Operation, tenant: Tenant): unknown {
  if (!op.body) return undefined;
  const body = sample(op.body, ctxFor(tenant)) as Record<string, unknown>;
  if (op.key === 'POST /v1/auth/login') Object.assign(body, { email: tenant.ownerEmail, password: tenant.ownerPassword });
  // Webhooks and the console's test signal take the same signal body.
  if (op.path.startsWith('/hooks/') || op.key === 'POST /v1/sources/{id}/test-signal') Object.assign(body, { ticker: 'BTCUSD', action: 'buy', price: '100' });
  if (op.key === 'POST /v1/routes') body.sizing = { mode: 'fixed', value: '1' };
  if (op.key === 'POST /v1/connections/{id}/paper/quotes') body.quotes = [{ symbol: 'BTCUSD', price: '100' }];
  if (op.key === 'POST /v1/webhooks') Object.assign(body, { url: 'https://127.0.0.1:9/attack', events: ['order.filled'] });
  return body;
}

// Sign-out ends the member JWT it is called with: every role may, and an API token is told it is not one (422).
const SIGN_OUT = 'POST /v1/auth/logout';
/** A member's own notification choices: every role sets hers (and only hers). */
const OWN_NOTIFICATIONS = 'PUT /v1/members/me/notifications';

/** A member JWT of its own, for a call that ends it. */
async function freshJwt(tenant: Tenant): Promise<string> {
  return (await world.send('setup', tenant.name, 'POST', '/v1/auth/login', { body: { email: tenant.ownerEmail, password: tenant.ownerPassword } })).body
    .accessToken;
}

/** The credential that may call `op` for `tenant`: its owner token, or the platform token on platform routes. */
function ownerAuth(op: Operation, tenant: Tenant): string | undefined {
  if (!op.bearer) return undefined;
  return platformOps.has(op.key) ? world.api.platformToken : tenant.ownerToken;
}

interface Shot {
  op: Operation;
  path?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
  token?: string;
  /** Signs a webhook body with this tenant's secret (hooks only); null sends no signature. */
  signAs?: Tenant | null;
  headers?: Record<string, string>;
}

function fire(attack: string, actor: string, shot: Shot): Promise<Exchange> {
  const { op } = shot;
  let url = fillPath(op.path, shot.path ?? pathValues(op, world.a));
  if (shot.query && Object.keys(shot.query).length) url += `?${new URLSearchParams(shot.query)}`;
  const rawBody = shot.rawBody ?? (shot.body === undefined ? undefined : JSON.stringify(shot.body));
  let headers: Record<string, string> = { ...(rawBody !== undefined ? { 'content-type': 'application/json' } : {}), ...shot.headers };
  if (op.path.startsWith('/hooks/') && shot.signAs && !op.path.includes('{token}'))
    headers = { ...world.signed(shot.signAs, rawBody ?? '', shot.headers?.['webhook-id']), ...shot.headers };
  return world.send(attack, actor, op.method, url, { token: shot.token, rawBody, headers });
}

beforeAll(async () => {
  world = await AttackWorld.start();
  const doc = await world.send('setup', 'anonymous', 'GET', '/docs/openapi.json');
  // The console's cookie session routes take a cookie, its Origin and the CSRF header, never a bearer token:
  // test/console/console-session.spec.ts, platform-session.spec.ts and the browser suite attack them (CSRF, cookie flags, revocation).
  ops = operations(doc.body).filter((o) => !o.path.startsWith('/v1/auth/session') && !o.path.startsWith('/v1/auth/platform-session'));
}, 120_000);

afterAll(async () => {
  if (process.env.WRITE_REPORTS === '1' && results.size > 0) writeAttackReport([...results.values()], ops.length, world?.exchanges.length ?? 0);
  await world?.stop();
}, 60_000);

describe('attack run against every route of the OpenAPI document', () => {
  it('finds the routes in the OpenAPI document and can call each one when authorized (positive control)', async () => {
    expect(ops.length).toBeGreaterThanOrEqual(30);
    // Which routes only the platform token may call: asked with an owner token, no body and unknown ids (no side effects).
    for (const op of ops.filter((o) => o.bearer)) {
      const path = Object.fromEntries(pathParams(op.path).map((p) => [p, randomUUID()]));
      const asOwner = await fire('discovery', 'A', { op, token: world.a.ownerToken, path });
      if (asOwner.status === 403 && /platform/i.test(asOwner.text)) platformOps.add(op.key);
    }
    for (const op of ops) {
      let path = pathValues(op, world.a);
      if (op.method === 'DELETE') path = await throwaway(op, path);
      const token = op.key === SIGN_OUT ? await freshJwt(world.a) : ownerAuth(op, world.a);
      const ex = await fire('positive control', platformOps.has(op.key) ? 'platform' : 'A', { op, path, token, body: validBody(op, world.a), signAs: world.a });
      check(
        'positive control',
        '2xx with the right credentials and a valid body (proves the attacks below are not vacuous)',
        ex,
        is2xx(ex.status) || (/\/(ack|approve|reject)$/.test(op.key) && ex.status === 409),
      );
    }
    expect(results.get('positive control')!.failures).toEqual([]);
  }, 120_000);

  it('refuses every route without credentials (401)', async () => {
    for (const op of ops) {
      if (!op.bearer && !op.path.startsWith('/hooks/')) continue;
      const ex = await fire('no credentials', 'anonymous', {
        op,
        body: validBody(op, world.a),
        signAs: null,
        path: op.path.includes('{token}') ? { ...pathValues(op, world.a), token: 'x'.repeat(43) } : undefined,
      });
      check('no credentials', '401 (webhooks: no or a wrong signature / URL token)', ex, ex.status === 401);
    }
    expect(results.get('no credentials')!.failures).toEqual([]);
  }, 60_000);

  it('refuses expired, revoked, alg:none, tampered JWT and tampered API tokens (401)', async () => {
    const bad: Array<[string, string]> = [
      ['expired API token', world.tokens.expired],
      ['revoked API token', world.tokens.revoked],
      ['JWT with alg: none', world.tokens.algNone],
      ['JWT with a tampered signature', world.tokens.tamperedJwt],
      ['API token with one character changed', world.tokens.tamperedToken],
    ];
    for (const [cls, token] of bad) {
      for (const op of ops.filter((o) => o.bearer)) {
        const ex = await fire(cls, 'forged', { op, token, body: validBody(op, world.a) });
        check(cls, '401', ex, ex.status === 401);
      }
    }
    for (const [cls] of bad) expect(results.get(cls)!.failures).toEqual([]);
    // The JWT itself is good: the refusals above are about the forgery, not the token type.
    expect((await world.send('control', 'A', 'GET', '/v1/workspace', { token: world.tokens.jwt })).status).toBe(200);
  }, 120_000);

  it("refuses a viewer's token on every mutation (403)", async () => {
    for (const op of ops.filter((o) => o.bearer && o.mutation)) {
      const ex = await fire('viewer token on a mutation', 'A-viewer', { op, token: world.tokens.viewer, body: validBody(op, world.a) });
      const expected = op.key === SIGN_OUT ? 422 : op.key === OWN_NOTIFICATIONS ? 200 : 403;
      check('viewer token on a mutation', "403 (sign-out: 422, the token is no JWT; the viewer's own notification choices: 200)", ex, ex.status === expected);
    }
    expect(results.get('viewer token on a mutation')!.failures).toEqual([]);
  }, 60_000);

  it('gives a token of another workspace nothing of this one (404 on its ids, its lists without them)', async () => {
    await settleSignals();
    const before = await world.fingerprint(world.a);
    for (const op of ops) {
      const params = pathParams(op.path);
      if (op.path.startsWith('/hooks/')) {
        // B's webhook secret (or URL token) on A's source.
        const path = op.path.includes('{token}') ? { ...pathValues(op, world.a), token: world.b.sourceToken } : pathValues(op, world.a);
        const ex = await fire('token of another workspace', 'B', { op, path, body: validBody(op, world.a), signAs: world.b });
        check('token of another workspace', "401 for another workspace's webhook secret", ex, ex.status === 401);
        continue;
      }
      if (!op.bearer) continue;
      if (params.length === 0 && op.mutation && !platformOps.has(op.key)) continue; // B acting in B: not an attack on A
      const ex = await fire('token of another workspace', 'B', { op, token: world.b.ownerToken, path: pathValues(op, world.a), body: validBody(op, world.b) });
      const expected = platformOps.has(op.key) ? 403 : params.length > 0 ? 404 : 200;
      check(
        'token of another workspace',
        "404 for the other workspace's ids (403 on platform routes); lists show none of its data",
        ex,
        ex.status === expected || (expected === 200 && ex.status === 403),
      );
    }
    expect(await world.fingerprint(world.a)).toBe(before);
    expect(results.get('token of another workspace')!.failures).toEqual([]);
  }, 60_000);

  it("finds nothing through another workspace's ids in the path, the query and the body (IDOR)", async () => {
    await settleSignals();
    const before = await world.fingerprint(world.b);
    const bIds = [...new Set([...Object.values(world.b.ids), ...Object.values(world.b.spare), world.b.tokenSourceId])];
    for (const op of ops) {
      if (op.path.startsWith('/hooks/')) continue; // a webhook names its source: covered above
      const token = ownerAuth(op, world.a);
      if (platformOps.has(op.key)) continue;
      // Path: A's credentials, B's resource.
      if (pathParams(op.path).length > 0) {
        const ex = await fire('IDOR: ids of another workspace in the path', 'A', { op, token, path: pathValues(op, world.b), body: validBody(op, world.a) });
        check('IDOR: ids of another workspace in the path', '404', ex, ex.status === 404);
      }
      // Query: every parameter, every id of B.
      for (const q of op.parameters.filter((p) => p.in === 'query')) {
        for (const id of bIds) {
          const ex = await fire('IDOR: ids of another workspace in the query', 'A', { op, token, query: { [q.name]: id }, body: validBody(op, world.a) });
          check('IDOR: ids of another workspace in the query', '4xx, or 2xx without any of its data', ex, ex.status < 500);
        }
      }
      // Body: every id-carrying field set to B's ids.
      for (const field of idFields(op.body)) {
        const name = field[field.length - 1];
        const candidates = name === 'workspaceId' ? [world.b.id] : bIds;
        for (const id of candidates) {
          const body = withField(validBody(op, world.a), field, id);
          const ex = await fire('IDOR: ids of another workspace in the body', 'A', { op, token, body, path: pathValues(op, world.a) });
          check('IDOR: ids of another workspace in the body', '4xx (404/422; login 401)', ex, is4xx(ex.status));
        }
      }
    }
    expect(await world.fingerprint(world.b)).toBe(before);
    for (const cls of [
      'IDOR: ids of another workspace in the path',
      'IDOR: ids of another workspace in the query',
      'IDOR: ids of another workspace in the body',
    ]) {
      expect(results.get(cls)?.failures ?? []).toEqual([]);
    }
  }, 120_000);

  it('ignores or rejects workspaceId, role, status and other server-owned fields in bodies (mass assignment)', async () => {
    await settleSignals();
    const before = await world.fingerprint(world.b);
    const extras: Array<[string, unknown]> = [
      ['workspaceId', world.b.id],
      ['role', 'owner'],
      ['status', 'active'],
      ['id', world.b.ids.connections],
      ['createdAt', '2000-01-01T00:00:00Z'],
      ['credentialVersion', 99],
      ['isPlatformAdmin', true],
    ];
    for (const op of ops.filter((o) => o.body)) {
      const declared = new Set(Object.keys(op.body!.properties ?? {}));
      for (const [field, value] of extras) {
        if (declared.has(field)) continue; // a real field of this route, not mass assignment
        const body = { ...(validBody(op, world.a) as Record<string, unknown>), [field]: value };
        let path = pathValues(op, world.a);
        if (op.method === 'DELETE') path = await throwaway(op, path);
        const ex = await fire('mass assignment', 'A', { op, token: ownerAuth(op, world.a), body, path, signAs: world.a });
        let ok = ex.status === 422 || ex.status === 400;
        let why = 'expected 422';
        if (is2xx(ex.status)) {
          // Accepted (the webhook body is not strict): the field must have had no effect.
          ok = !hasField(ex.body, field, value);
          if (ok && ex.body?.signalId) {
            const [row] = await world.sql(`SELECT workspace_id::text AS w, payload FROM signals WHERE id = $1`, [ex.body.signalId]);
            ok = row?.w === world.a.id && !(field in (row?.payload ?? {}));
          }
          why = 'accepted and took the field';
        }
        check('mass assignment', '422 (strict bodies) or the field ignored', ex, ok, ok ? '' : why);
      }
    }
    expect(await world.fingerprint(world.b)).toBe(before);
    expect(results.get('mass assignment')!.failures).toEqual([]);
  }, 120_000);

  it('answers SQL injection, path traversal, control characters and oversized strings in every string field with 4xx or a literal value, never 5xx', async () => {
    await settleSignals();
    const before = await world.fingerprint(world.b);
    for (const op of ops) {
      const token = ownerAuth(op, world.a);
      const baseBody = validBody(op, world.a);
      const targets: Array<{ label: string; apply: (v: string) => Shot }> = [];
      for (const field of stringFields(op.body)) {
        targets.push({ label: `body.${field.join('.')}`, apply: (v) => ({ op, token, body: withField(baseBody, field, v), signAs: world.a }) });
      }
      for (const q of op.parameters.filter((p) => p.in === 'query')) {
        targets.push({ label: `query.${q.name}`, apply: (v) => ({ op, token, query: { [q.name]: v }, body: baseBody, signAs: world.a }) });
      }
      for (const p of pathParams(op.path)) {
        targets.push({ label: `path.${p}`, apply: (v) => ({ op, token, path: { ...pathValues(op, world.a), [p]: v }, body: baseBody, signAs: world.a }) });
      }
      for (const h of op.parameters.filter((p) => p.in === 'header')) {
        targets.push({ label: `header.${h.name}`, apply: (v) => ({ op, token, body: baseBody, signAs: world.a, headers: { [h.name]: v } }) });
      }
      for (const target of targets) {
        for (const [kind, value] of INJECTIONS) {
          if (target.label.startsWith('header.') && !/^[\x20-\x7e]*$/.test(value)) continue; // not expressible in an HTTP header
          const shot = target.apply(value);
          if (op.method === 'DELETE' && !target.label.startsWith('path.')) shot.path = await throwaway(op, pathValues(op, world.a));
          const ex = await fire(`injection: ${kind}`, 'A', shot);
          check(`injection: ${kind}`, 'never 5xx: 4xx, or 2xx storing the value literally', ex, ex.status < 500, target.label);
        }
      }
    }
    // Nothing was executed: every table is still there and B's rows are untouched by A's payloads.
    expect(await world.fingerprint(world.b)).toBe(before);
    expect(failuresOf((cls) => cls.startsWith('injection'))).toEqual({});
  }, 300_000);

  it('refuses oversized bodies (413) and survives oversized query strings', async () => {
    for (const op of ops) {
      const token = ownerAuth(op, world.a);
      if (op.body || op.mutation) {
        for (const size of [70 * 1024, 2 * 1024 * 1024]) {
          const rawBody = JSON.stringify({ ...(validBody(op, world.a) as object), padding: 'x'.repeat(size) });
          const ex = await fire('oversized body', 'A', { op, token, rawBody, signAs: world.a });
          check('oversized body', '413', ex, ex.status === 413);
        }
      }
      const ex = await fire('oversized query string', 'A', { op, token, query: { padding: 'q'.repeat(7000) }, body: validBody(op, world.a), signAs: world.a });
      check('oversized query string', '4xx or ignored, never 5xx', ex, ex.status < 500);
    }
    expect(results.get('oversized body')!.failures).toEqual([]);
    expect(results.get('oversized query string')!.failures).toEqual([]);
  }, 120_000);

  it('refuses an IBKR gateway URL at a loopback, private or metadata address at onboarding unless allowlisted (SSRF)', async () => {
    const onboard = (gatewayUrl: string) =>
      world.send('ssrf', 'A', 'POST', '/v1/connections', {
        token: world.a.ownerToken,
        body: {
          broker: 'ibkr',
          label: `ssrf-${randomBytes(3).toString('hex')}`,
          environment: 'paper',
          credentials: { gatewayUrl, accountId: world.ibkrCanary.accountId },
        },
      });
    const port = new URL(world.ibkr.url).port;
    // 127.0.0.1 is the operator's allowlist entry (the canary gateway onboarded through it); its neighbours are not.
    for (const url of [
      `https://127.0.0.2:${port}`,
      `https://[::1]:${port}`,
      'https://169.254.169.254',
      'https://10.0.0.5:5000',
      `https://192.168.1.10:${port}`,
    ]) {
      const before = world.ibkr.requests.length;
      const ex = await onboard(url);
      const ok =
        ex.status === 422 &&
        ex.body?.code === 'broker_credentials_invalid' &&
        /the IBKR gateway URL is refused: .*non-public address/.test(ex.body?.detail ?? '') &&
        !ex.text.includes(new URL(url).hostname.replace(/^\[(.*)\]$/, '$1')) &&
        world.ibkr.requests.length === before;
      check('SSRF: private gateway URL', '422 broker_credentials_invalid naming no host, before any request', ex, ok);
    }
    const allowlisted = await onboard(`${world.ibkr.url}/gw${randomBytes(4).toString('hex')}`);
    check('SSRF: allowlisted gateway URL', '201 through the operator allowlist (positive control)', allowlisted, allowlisted.status === 201);
    expect(failuresOf((cls) => cls.startsWith('SSRF'))).toEqual({});
    expect(await world.sql(`SELECT count(*)::int AS n FROM broker_connections WHERE label LIKE 'ssrf-%' AND workspace_id = $1`, [world.a.id])).toEqual([
      { n: 1 },
    ]);
  });

  it('sends the security headers, no x-powered-by, no stack trace and never a 5xx on any response of this run', () => {
    const stack = /\n\s+at |node_modules\/|\.(ts|js):\d+:\d+|"stack"\s*:/;
    for (const ex of world.exchanges) {
      const h = ex.headers;
      const headersOk =
        h.get('x-content-type-options') === 'nosniff' &&
        h.get('x-frame-options') === 'DENY' &&
        (h.get('content-security-policy') ?? '').includes("frame-ancestors 'none'") &&
        h.get('referrer-policy') === 'no-referrer' &&
        (h.get('strict-transport-security') ?? '').includes('max-age=') &&
        h.get('cache-control') === 'no-store' &&
        h.get('x-powered-by') === null;
      check('security headers on every response', 'nosniff, DENY, CSP, no-referrer, HSTS, no-store; no x-powered-by', ex, headersOk);
      check('no stack trace in any response', 'no frames, file paths or stack fields', ex, !stack.test(ex.text));
      if (ex.status >= 400)
        check(
          'errors are problem+json',
          'application/problem+json with a code',
          ex,
          (h.get('content-type') ?? '').includes('application/problem+json') && typeof ex.body?.code === 'string',
        );
      check(
        'never 5xx',
        'no response of the run is 5xx',
        ex,
        ex.status < 500,
        `${ex.attack} as ${ex.actor}; request: ${JSON.stringify(ex.requestText.slice(0, 300))}`,
      );
    }
    expect(
      failuresOf((cls) => ['security headers on every response', 'no stack trace in any response', 'errors are problem+json', 'never 5xx'].includes(cls)),
    ).toEqual({});
  });

  it("never shows one workspace's data to the other, nor to anyone unauthenticated", () => {
    for (const ex of world.exchanges) {
      if (ex.attack === 'setup' || ex.attack === 'discovery') continue;
      // The platform on-call sees every workspace's alerts by design (what each alert names, nothing more).
      if (ex.actor === 'platform' && ex.url.startsWith('/v1/platform/alerts')) continue;
      // What the requester may see: A's credentials see A, B's see B; nobody else sees either.
      const foreign =
        ex.actor === 'A' || ex.actor === 'A-viewer' ? world.b.markers : ex.actor === 'B' ? world.a.markers : [...world.a.markers, ...world.b.markers];
      const leaked = foreign.filter((m) => ex.text.includes(m) && !ex.requestText.includes(m));
      check(
        "no other workspace's data in any response",
        'none of its ids, names or emails (unless the request itself carried them)',
        ex,
        leaked.length === 0,
        leaked.length ? `shows ${leaked.length} foreign value(s)` : '',
      );
    }
    expect(results.get("no other workspace's data in any response")!.failures).toEqual([]);
  });

  it('never reveals a canary credential (Alpaca, Tradovate, IBKR gateway): responses, logs, every database column, alert payloads, DATA_DIR', async () => {
    await settleSignals();
    const forms = canaryForms(...world.canaryValues());
    const canaries = [world.a.ids.canaryConnection, world.a.ids.tradovateCanaryConnection, world.a.ids.ibkrCanaryConnection];
    const uses = await world.sql<{ id: string; n: number }>(
      `SELECT c.id::text AS id, count(e.*)::int AS n FROM unnest($1::uuid[]) AS c(id)
         LEFT JOIN audit_events e ON e.action = 'credential.use' AND e.resource_id = c.id::text GROUP BY c.id ORDER BY c.id`,
      [canaries],
    );
    const scans: ScanResult[] = [
      scanTexts(
        'HTTP response bodies',
        world.exchanges.map((e) => `${e.text}\n${[...e.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}`),
        forms,
      ),
      scanTexts('log lines', [...world.api.logs.lines, ...world.worker.logs.lines], forms),
      await scanDatabase(world.db.adminUrl, forms),
      scanTexts(
        'alert payloads',
        world.pagerDuty.requests.map((r) => r.body),
        forms,
      ),
      scanDirectory('files under DATA_DIR', world.env.DATA_DIR, forms),
    ];
    for (const scan of scans) {
      const r = record(`leak scan: ${scan.place}`, 'the canary in no form (plain, base64, base64url, hex)');
      r.tried += scan.searched;
      r.failures.push(...scan.hits);
    }
    // Every canary was really opened by the worker during the run, and its broker was really called.
    expect(uses.map((u) => u.n > 0)).toEqual([true, true, true]);
    expect(world.tradovate.orders.length).toBeGreaterThan(0);
    expect(world.ibkr.orders.length).toBeGreaterThan(0);
    expect(scans.flatMap((s) => s.hits)).toEqual([]);
    expect(scans.every((s) => s.searched > 0)).toBe(true);
  }, 60_000);
});

/** The failures of the matching classes, by class (empty classes left out), so one assertion shows them all. */
function failuresOf(match: (cls: string) => boolean): Record<string, string[]> {
  return Object.fromEntries([...results].filter(([cls, r]) => match(cls) && r.failures.length > 0).map(([cls, r]) => [cls, r.failures]));
}

/** For a DELETE: a fresh resource of the same collection (created through its POST), so the real fixtures stay. */
async function throwaway(op: Operation, path: Record<string, string>): Promise<Record<string, string>> {
  const collection = op.path.replace(/\/\{[^}]+\}$/, '');
  const create = ops.find((o) => o.method === 'POST' && o.path === collection);
  if (!create) return path;
  const res = await world.send('setup', 'A', 'POST', collection, { token: world.a.ownerToken, body: validBody(create, world.a) });
  const id = findId(res.body);
  return id ? { ...path, id } : path;
}

/** Does `value` hold `field: injected` anywhere (a server-owned field that took the client's value)? */
function hasField(value: unknown, field: string, injected: unknown): boolean {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  if (field in v && JSON.stringify(v[field]) === JSON.stringify(injected)) return true;
  return Object.values(v).some((child) => hasField(child, field, injected));
}

function findId(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.id === 'string') return v.id;
  for (const child of Object.values(v)) {
    const found = findId(child);
    if (found) return found;
  }
  return undefined;
}

/** Waits until the worker has routed every signal (fingerprints compare quiet tenants). */
async function settleSignals(): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const [{ n }] = await world.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM signals WHERE status NOT IN ('routed', 'partially_routed', 'blocked', 'failed')`,
    );
    if (n === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Regressions of the penetration review (issue 19): each reproduction, written before its fix. */
describe('penetration review regressions', () => {
  const as = (token: string, method: string, path: string, body?: unknown) => world.send('review', 'A', method, path, { token, body });
  let seq = 0;

  /** A member of A with a password, and her JWT. */
  async function member(role: string): Promise<{ id: string; email: string; password: string; jwt: string }> {
    const email = `review-${role}-${++seq}-${randomUUID().slice(0, 8)}@example.com`;
    const password = `review-pass-${randomUUID()}`;
    const created = await as(world.a.ownerToken, 'POST', '/v1/members', { email, password, role });
    expect(created.status).toBe(201);
    const login = await world.send('review', 'A', 'POST', '/v1/auth/login', { body: { email, password, workspaceId: world.a.id } });
    expect(login.status).toBe(200);
    return { id: created.body.id, email, password, jwt: login.body.accessToken };
  }

  async function token(by: string, role: string, extra: Record<string, unknown> = {}): Promise<{ id: string; token: string; expiresAt: string | null }> {
    const res = await as(by, 'POST', '/v1/tokens', { name: `review-${role}-${++seq}`, role, ...extra });
    expect(res.status).toBe(201);
    return res.body;
  }

  async function listedToken(id: string): Promise<Record<string, unknown>> {
    const list = await as(world.a.ownerToken, 'GET', '/v1/tokens');
    expect(list.status).toBe(200);
    const items: Array<Record<string, unknown>> = Array.isArray(list.body) ? list.body : (list.body.tokens ?? list.body.items);
    return items.find((t) => t.id === id)!;
  }

  it("1: a removed member's API tokens (and the tokens they minted) stop working with her, in the same transaction", async () => {
    const admin = await member('admin');
    const first = await token(admin.jwt, 'admin');
    const minted = await token(first.token, 'admin'); // a token minted by her token belongs to her too
    expect((await as(first.token, 'GET', '/v1/workspace')).status).toBe(200);
    expect(await listedToken(first.id)).toMatchObject({ createdBy: admin.id, lastUsedAt: expect.any(String) });
    expect(await listedToken(minted.id)).toMatchObject({ createdBy: admin.id, createdVia: first.id });

    expect((await as(world.a.ownerToken, 'DELETE', `/v1/members/${admin.id}`)).status).toBe(204);
    for (const t of [admin.jwt, first.token, minted.token]) expect((await as(t, 'GET', '/v1/workspace')).status).toBe(401);
    expect((await as(minted.token, 'POST', '/v1/tokens', { name: 'after removal', role: 'admin' })).status).toBe(401);
    const rows = await world.sql(`SELECT id::text, revoked_at FROM api_tokens WHERE id = ANY($1::uuid[])`, [[first.id, minted.id]]);
    expect(rows.map((r) => r.revoked_at)).toEqual([expect.any(Date), expect.any(Date)]);
  });

  it('1: every request checks the creator is still active and acts with min(token role, her current role)', async () => {
    const admin = await member('admin');
    const t = await token(admin.jwt, 'admin');
    await world.sql(`UPDATE members SET role = 'viewer' WHERE id = $1`, [admin.id]); // demoted (no API for it yet): capped at once
    expect((await as(t.token, 'GET', '/v1/workspace')).status).toBe(200);
    expect((await as(t.token, 'POST', '/v1/tokens', { name: 'capped', role: 'viewer' })).status).toBe(403);
    await world.sql(`UPDATE members SET removed_at = now() WHERE id = $1`, [admin.id]); // gone without the service's cleanup
    expect((await as(t.token, 'GET', '/v1/workspace')).status).toBe(401);
  });

  it('1: tokens expire after the configured maximum lifetime by default; "never" only for the owner', async () => {
    const admin = await member('admin');
    const byDefault = await token(admin.jwt, 'trader');
    const days = (Date.parse(byDefault.expiresAt!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89);
    expect(days).toBeLessThanOrEqual(90);
    const tooLong = await as(admin.jwt, 'POST', '/v1/tokens', { name: 'too long', role: 'trader', expiresInDays: 365 });
    expect([tooLong.status, tooLong.body.code]).toEqual([422, 'token_lifetime_too_long']);
    const never = await as(admin.jwt, 'POST', '/v1/tokens', { name: 'never', role: 'trader', expiresInDays: 'never' });
    expect([never.status, never.body.code]).toEqual([403, 'token_never_expires_owner_only']);
    expect((await token(world.a.ownerToken, 'trader', { expiresInDays: 'never' })).expiresAt).toBeNull();
  });

  it("1: the workspace's bootstrap token expires after a day, and at once when a member logs in", async () => {
    const password = `bootstrap-${randomUUID()}`;
    const ownerEmail = `bootstrap-${randomUUID().slice(0, 8)}@example.com`;
    const created = await world.send('review', 'platform', 'POST', '/v1/workspaces', {
      token: world.api.platformToken,
      body: { name: 'bootstrap', ownerEmail, ownerPassword: password },
    });
    expect(created.status).toBe(201);
    const hours = (Date.parse(created.body.tokenInfo.expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23);
    expect(hours).toBeLessThanOrEqual(24);
    const bootstrap = created.body.token;
    expect((await world.send('review', 'bootstrap', 'GET', '/v1/workspace', { token: bootstrap })).status).toBe(200);
    expect((await world.send('review', 'bootstrap', 'POST', '/v1/auth/login', { body: { email: ownerEmail, password } })).status).toBe(200);
    expect((await world.send('review', 'bootstrap', 'GET', '/v1/workspace', { token: bootstrap })).status).toBe(401);
  });

  it('5: a trader may engage the kill switch but not release it; nobody below its engager releases it; refusals are audited', async () => {
    const [trader, admin] = [await member('trader'), await member('admin')];
    const kill = (jwt: string, engaged: boolean) =>
      as(jwt, 'PUT', '/v1/workspace/kill-switch', { engaged, reason: `review ${engaged ? 'engage' : 'release'}` });
    try {
      expect((await kill(trader.jwt, true)).status).toBe(200);
      const refused = await kill(trader.jwt, false);
      expect([refused.status, refused.body.code]).toEqual([403, 'kill_switch_release_role']);
      expect((await kill(admin.jwt, false)).body.killSwitch).toEqual({ engaged: false, reason: 'review release' });

      expect((await kill(world.a.ownerToken, true)).status).toBe(200);
      expect((await kill(trader.jwt, true)).status).toBe(200); // engaging again does not lower whom it answers to
      const byAdmin = await kill(admin.jwt, false);
      expect([byAdmin.status, byAdmin.body.code, byAdmin.body.detail]).toEqual([403, 'kill_switch_release_role', expect.stringContaining('owner')]);
      expect((await as(world.a.ownerToken, 'GET', '/v1/workspace')).body.killSwitch.engaged).toBe(true);
      const audited = await world.sql(
        `SELECT actor_id, metadata FROM audit_events WHERE workspace_id = $1 AND action = 'kill_switch.release_refused' ORDER BY id`,
        [world.a.id],
      );
      expect(audited.map((e: any) => [e.actor_id, e.metadata.needed])).toEqual([
        [trader.id, 'admin'],
        [admin.id, 'owner'],
      ]);
    } finally {
      expect((await kill(world.a.ownerToken, false)).status).toBe(200);
    }
  });

  it('9: junk sent to a known source id pages nobody; well-formed deliveries with a wrong signature do, and so does anything from an allowlisted address', async () => {
    const source = async (extra: Record<string, unknown> = {}) =>
      (await as(world.a.ownerToken, 'POST', '/v1/sources', { name: `page-${++seq}`, auth: 'hmac', ...extra })).body;
    const hook = (id: string, headers: Record<string, string>) =>
      world.send('review', 'A', 'POST', `/hooks/${id}`, {
        rawBody: '{"ticker":"AAPL","action":"buy"}',
        headers: { 'content-type': 'application/json', ...headers },
      });
    const junk: Record<string, string>[] = [
      {},
      { 'webhook-id': 'x' },
      { 'webhook-id': 'msg_1', 'webhook-timestamp': 'soon', 'webhook-signature': 'v1,abc' },
      { 'webhook-id': 'msg_2', 'webhook-timestamp': '1', 'webhook-signature': 'v1,AAAA' },
    ];
    const forged = () => {
      const id = `msg_${randomBytes(6).toString('hex')}`;
      const at = new Date();
      return {
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': new Webhook(`whsec_${randomBytes(24).toString('base64')}`).sign(id, at, '{"ticker":"AAPL","action":"buy"}'),
      };
    };
    const pages = async (sourceId: string, expected: number) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const rows = await world.sql(`SELECT metadata FROM audit_events WHERE action = 'source.signature_failures' AND resource_id = $1`, [sourceId]);
        if (rows.length >= expected || Date.now() > deadline) return rows.map((r: any) => r.metadata.lastFailure);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    const open = await source();
    for (let i = 0; i < 10; i++) expect((await hook(open.id, junk[i % junk.length])).status).toBe(401);
    for (let i = 0; i < 9; i++) expect((await hook(open.id, forged())).status).toBe(401);
    expect((await hook(open.id, forged())).status).toBe(401);
    // Had the junk counted, its tenth would have paged (lastFailure a header problem) and the forgeries none.
    expect(await pages(open.id, 1)).toEqual(['no_matching_signature']);

    const allowlisted = await source({ allowedIps: ['127.0.0.0/8', '::1/128'] });
    for (let i = 0; i < 10; i++) expect((await hook(allowlisted.id, junk[0])).status).toBe(401);
    expect(await pages(allowlisted.id, 1)).toEqual(['missing_headers']);
  });

  it("6: an admin cannot revoke the owner's tokens (the member-removal rule); her own, yes", async () => {
    const admin = await member('admin');
    const ownerTokens = [await token(world.a.ownerToken, 'owner'), await token(world.a.ownerToken, 'trader')];
    for (const t of ownerTokens) {
      const refused = await as(admin.jwt, 'DELETE', `/v1/tokens/${t.id}`);
      expect([refused.status, refused.body.code]).toEqual([403, 'higher_role']);
      expect((await as(t.token, 'GET', '/v1/workspace')).status).toBe(200);
    }
    const own = await token(admin.jwt, 'trader');
    expect((await as(admin.jwt, 'DELETE', `/v1/tokens/${own.id}`)).status).toBe(200);
  });
});
