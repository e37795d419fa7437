import { randomUUID } from 'node:crypto';
import { createWorkspace, http, RunningApi, startApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';

/** The one list contract, on every list endpoint: `{ items, nextCursor }`, keyset pages, `limit` 1-500 (default 50). */

interface Key {
  at: Date;
  id: string;
}

interface Fixture {
  id: string;
  token: string;
  ownerId: string;
  sourceId: string;
  connectionId: string;
  routeId: string;
}

interface ListCase {
  path: string;
  /** Inserts rows with these keys (as the superuser: setup is not limited by what the API can create). */
  insert(ws: Fixture, keys: Key[]): Promise<void>;
  /** Every row the list should show, in the list's order, as `idOf` names it. */
  expected(ws: Fixture): Promise<string[]>;
  idOf(item: any): string;
  /** The key of a listed item; undefined for the audit chain, whose key (seq) the sealer assigns. */
  keyOf?(item: any): Key;
  /** Filters that must keep working with paging: a query and the rows it must show. */
  filters: { query: (ws: Fixture) => string; expected: (ws: Fixture) => Promise<string[]> }[];
}

const PERMISSIONS = JSON.stringify({ inspection: 'inspected', canTrade: true, canWithdraw: false, canTransfer: false, note: 'fixture', details: {} });

describe('the list contract', () => {
  let db: TestDatabase;
  let api: RunningApi;
  const ids = async (text: string, values: unknown[]) => (await db.adminQuery<{ id: string }>(text, values)).map((r) => r.id);
  const keyArrays = (keys: Key[]) => [keys.map((k) => k.id), keys.map((k) => k.at)];
  const byCreated = (item: { id: string; createdAt: string }): Key => ({ at: new Date(item.createdAt), id: item.id });

  const cases: ListCase[] = [
    {
      path: '/v1/members',
      insert: async (ws, keys) => {
        await db.adminQuery(
          `INSERT INTO members (id, workspace_id, email, role, created_at)
           SELECT k.id, $1, 'm-' || k.id || '@example.com', 'viewer', k.at FROM unnest($2::uuid[], $3::timestamptz[]) AS k(id, at)`,
          [ws.id, ...keyArrays(keys)],
        );
      },
      expected: (ws) => ids('SELECT id::text AS id FROM members WHERE workspace_id = $1 AND removed_at IS NULL ORDER BY created_at DESC, id DESC', [ws.id]),
      idOf: (m) => m.id,
      keyOf: byCreated,
      filters: [],
    },
    {
      path: '/v1/tokens',
      insert: async (ws, keys) => {
        await db.adminQuery(
          `INSERT INTO api_tokens (id, workspace_id, name, token_hash, token_hint, role, created_by, created_at)
           SELECT k.id, $1, 'fixture', sha256(convert_to(k.id::text, 'UTF8')), 'sy_…fixt', 'viewer', $4, k.at FROM unnest($2::uuid[], $3::timestamptz[]) AS k(id, at)`,
          [ws.id, ...keyArrays(keys), ws.ownerId],
        );
      },
      expected: (ws) => ids('SELECT id::text AS id FROM api_tokens WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC', [ws.id]),
      idOf: (t) => t.id,
      keyOf: byCreated,
      filters: [],
    },
    {
      path: '/v1/connections',
      insert: async (ws, keys) => {
        await db.adminQuery(
          `INSERT INTO broker_connections (id, workspace_id, broker, label, environment, credential_version, key_hint, permissions, inspected_at, created_at)
           SELECT k.id, $1, 'paper', 'fixture', 'paper', 1, 'paper', $4::jsonb, k.at, k.at FROM unnest($2::uuid[], $3::timestamptz[]) AS k(id, at)`,
          [ws.id, ...keyArrays(keys), PERMISSIONS],
        );
      },
      expected: (ws) => ids('SELECT id::text AS id FROM broker_connections WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC', [ws.id]),
      idOf: (c) => c.id,
      keyOf: byCreated,
      filters: [],
    },
    {
      path: '/v1/sources',
      insert: async (ws, keys) => {
        await db.adminQuery(
          `INSERT INTO sources (id, workspace_id, name, auth_mode, created_at)
           SELECT k.id, $1, 'fixture', 'hmac', k.at FROM unnest($2::uuid[], $3::timestamptz[]) AS k(id, at)`,
          [ws.id, ...keyArrays(keys)],
        );
      },
      expected: (ws) => ids('SELECT id::text AS id FROM sources WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC, id DESC', [ws.id]),
      idOf: (s) => s.id,
      keyOf: byCreated,
      filters: [],
    },
    {
      path: '/v1/webhooks',
      insert: async (ws, keys) => {
        await db.adminQuery(
          `INSERT INTO webhook_endpoints (id, workspace_id, url, events, created_at)
           SELECT k.id, $1, 'https://hooks.example.com/' || k.id, ARRAY['order.filled'], k.at FROM unnest($2::uuid[], $3::timestamptz[]) AS k(id, at)`,
          [ws.id, ...keyArrays(keys)],
        );
      },
      expected: (ws) =>
        ids('SELECT id::text AS id FROM webhook_endpoints WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC, id DESC', [ws.id]),
      idOf: (w) => w.id,
      keyOf: byCreated,
      filters: [],
    },
    {
      path: '/v1/routes',
      insert: async (ws, keys) => {
        await db.adminQuery(
          `INSERT INTO routes (id, workspace_id, source_id, connection_id, sizing_mode, sizing_value, created_at, updated_at)
           SELECT k.id, $1, $4, $5, 'fixed', 1, k.at, k.at FROM unnest($2::uuid[], $3::timestamptz[]) AS k(id, at)`,
          [ws.id, ...keyArrays(keys), ws.sourceId, ws.connectionId],
        );
      },
      expected: (ws) => ids('SELECT id::text AS id FROM routes WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC, id DESC', [ws.id]),
      idOf: (r) => r.id,
      keyOf: byCreated,
      filters: [],
    },
    {
      path: '/v1/signals',
      insert: async (ws, keys) => {
        await db.adminQuery(
          `INSERT INTO signals (id, workspace_id, source_id, idempotency_key, raw_payload, payload, status, received_at)
           SELECT k.id, $1, $4, k.id::text, '{}', '{}', 'routed', k.at FROM unnest($2::uuid[], $3::timestamptz[]) AS k(id, at)`,
          [ws.id, ...keyArrays(keys), ws.sourceId],
        );
      },
      expected: (ws) => ids('SELECT id::text AS id FROM signals WHERE workspace_id = $1 ORDER BY received_at DESC, id DESC', [ws.id]),
      idOf: (s) => s.id,
      keyOf: (s) => ({ at: new Date(s.receivedAt), id: s.id }),
      filters: [
        {
          query: (ws) => `sourceId=${ws.sourceId}&status=routed`,
          expected: (ws) => ids('SELECT id::text AS id FROM signals WHERE workspace_id = $1 ORDER BY received_at DESC, id DESC', [ws.id]),
        },
        { query: () => `sourceId=${randomUUID()}`, expected: async () => [] },
        { query: () => 'status=failed', expected: async () => [] },
      ],
    },
    {
      path: '/v1/orders',
      insert: async (ws, keys) => {
        // One signal per order: an order is unique per (signal, route).
        await db.adminQuery(
          `WITH k AS (SELECT * FROM unnest($2::uuid[], $3::timestamptz[]) AS k(id, at)),
                s AS (INSERT INTO signals (id, workspace_id, source_id, idempotency_key, raw_payload, payload, status, received_at)
                      SELECT gen_random_uuid(), $1, $4, 'o-' || k.id, '{}', '{}', 'routed', k.at FROM k RETURNING id, seq, idempotency_key)
           INSERT INTO orders (id, workspace_id, signal_id, route_id, connection_id, broker, client_order_id, signal_seq, intent, symbol, side, order_type, quantity, status, created_at, updated_at)
           SELECT k.id, $1, s.id, $6, $5, 'paper', 'sy-' || k.id, s.seq, 'entry', 'AAPL', 'buy', 'market', 1, 'filled', k.at, k.at
             FROM k JOIN s ON s.idempotency_key = 'o-' || k.id`,
          [ws.id, ...keyArrays(keys), ws.sourceId, ws.connectionId, ws.routeId],
        );
      },
      expected: (ws) => ids('SELECT id::text AS id FROM orders WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC', [ws.id]),
      idOf: (o) => o.id,
      keyOf: (o) => ({ at: new Date(o.timings.routedAt), id: o.id }),
      filters: [
        {
          query: () => 'status=filled',
          expected: (ws) => ids('SELECT id::text AS id FROM orders WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC', [ws.id]),
        },
        { query: () => 'status=rejected', expected: async () => [] },
        { query: () => `parentOrderId=${randomUUID()}`, expected: async () => [] },
      ],
    },
    {
      path: '/v1/alerts',
      insert: async (ws, keys) => {
        await db.adminQuery(
          `INSERT INTO alerts (id, workspace_id, rule, resource_type, resource_id, severity, summary, status, first_raised_at, last_raised_at)
           SELECT k.id, $1, CASE WHEN k.n % 2 = 0 THEN 'order.dead_lettered' ELSE 'fixture.rule' END, 'fixture', k.id::text, 'info', 'fixture', 'open', k.at, k.at
             FROM unnest($2::uuid[], $3::timestamptz[]) WITH ORDINALITY AS k(id, at, n)`,
          [ws.id, ...keyArrays(keys)],
        );
      },
      expected: (ws) => ids('SELECT id::text AS id FROM alerts WHERE workspace_id = $1 ORDER BY first_raised_at DESC, id DESC', [ws.id]),
      idOf: (a) => a.id,
      keyOf: (a) => ({ at: new Date(a.firstRaisedAt), id: a.id }),
      filters: [
        {
          query: () => 'status=open',
          expected: (ws) =>
            ids(`SELECT id::text AS id FROM alerts WHERE workspace_id = $1 AND status = 'open' ORDER BY first_raised_at DESC, id DESC`, [ws.id]),
        },
        { query: () => 'status=resolved', expected: async () => [] },
        // A dead letter is the workspace's to handle; any other rule (a security page, or one no longer known) the platform's.
        {
          query: () => 'owner=workspace',
          expected: (ws) =>
            ids(`SELECT id::text AS id FROM alerts WHERE workspace_id = $1 AND rule = 'order.dead_lettered' ORDER BY first_raised_at DESC, id DESC`, [ws.id]),
        },
        {
          query: () => 'owner=platform',
          expected: (ws) =>
            ids(`SELECT id::text AS id FROM alerts WHERE workspace_id = $1 AND rule <> 'order.dead_lettered' ORDER BY first_raised_at DESC, id DESC`, [ws.id]),
        },
      ],
    },
    {
      path: '/v1/audit',
      insert: async (ws, keys) => {
        await db.adminQuery(
          `INSERT INTO audit_events (workspace_id, actor_type, action, resource_type, resource_id, occurred_at)
           SELECT $1, 'system', 'member.create', 'fixture', k.id::text, k.at FROM unnest($2::uuid[], $3::timestamptz[]) WITH ORDINALITY AS k(id, at, n) ORDER BY n`,
          [ws.id, ...keyArrays(keys)],
        );
      },
      expected: (ws) => ids('SELECT seq::text AS id FROM audit_events WHERE workspace_id = $1 AND seq IS NOT NULL ORDER BY seq DESC', [ws.id]),
      idOf: (e) => String(e.seq),
      filters: [
        {
          query: () => 'action=member.create&resourceType=fixture',
          expected: (ws) => ids(`SELECT seq::text AS id FROM audit_events WHERE workspace_id = $1 AND resource_type = 'fixture' ORDER BY seq DESC`, [ws.id]),
        },
        { query: () => `resourceId=${randomUUID()}`, expected: async () => [] },
      ],
    },
  ];

  /** A workspace with a source, a connection and a route to hang rows on. */
  async function fixtureWorkspace(): Promise<Fixture> {
    const ws = await createWorkspace(api, 'lists');
    const sourceId = randomUUID();
    const connectionId = randomUUID();
    const routeId = randomUUID();
    await db.adminQuery(`INSERT INTO sources (id, workspace_id, name, auth_mode) VALUES ($1, $2, 'fixture', 'hmac')`, [sourceId, ws.id]);
    await db.adminQuery(
      `INSERT INTO broker_connections (id, workspace_id, broker, label, environment, credential_version, key_hint, permissions, inspected_at)
       VALUES ($1, $2, 'paper', 'fixture', 'paper', 1, 'paper', $3::jsonb, now())`,
      [connectionId, ws.id, PERMISSIONS],
    );
    await db.adminQuery(`INSERT INTO routes (id, workspace_id, source_id, connection_id, sizing_mode, sizing_value) VALUES ($1, $2, $3, $4, 'fixed', 1)`, [
      routeId,
      ws.id,
      sourceId,
      connectionId,
    ]);
    return { id: ws.id, token: ws.token, ownerId: ws.ownerId, sourceId, connectionId, routeId };
  }

  /** `n` keys an hour ago and older, `tie` rows to a timestamp: page boundaries fall between rows of equal time. */
  function keys(n: number, tie: number, newest = Date.now() - 3_600_000): Key[] {
    return Array.from({ length: n }, (_, i) => ({ id: randomUUID(), at: new Date(newest - Math.floor(i / tie)) }));
  }

  const get = (ws: Fixture, path: string) => http(api.url, 'GET', path, { token: ws.token });
  const b64 = (value: string) => Buffer.from(value).toString('base64url');

  async function walk(ws: Fixture, path: string, idOf: (item: any) => string, limit: number, afterPage?: (items: any[]) => Promise<void>): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res = await get(ws, `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      seen.push(...res.body.items.map(idOf));
      cursor = res.body.nextCursor;
      if (cursor) expect(res.body.items).toHaveLength(limit);
      if (cursor && afterPage) await afterPage(res.body.items);
    } while (cursor);
    return seen;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db);
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  describe.each(cases)('GET $path', (c) => {
    let bulk: Fixture;

    beforeAll(async () => {
      bulk = await fixtureWorkspace();
      await c.insert(bulk, keys(501, 7));
    });

    it('answers { items, nextCursor }: 50 items by default, at most 500, and a null nextCursor on the last page', async () => {
      const first = await get(bulk, c.path);
      expect(first.status).toBe(200);
      expect(Object.keys(first.body).sort()).toEqual(['items', 'nextCursor']);
      expect(first.body.items).toHaveLength(50);
      expect(typeof first.body.nextCursor).toBe('string');

      const all = await c.expected(bulk);
      expect(all.length).toBeGreaterThan(500);
      expect(first.body.items.map(c.idOf)).toEqual(all.slice(0, 50));
      const big = await get(bulk, `${c.path}?limit=500`);
      expect(big.body.items.map(c.idOf)).toEqual(all.slice(0, 500));
      const last = await get(bulk, `${c.path}?limit=500&cursor=${big.body.nextCursor}`);
      expect(last.status).toBe(200);
      expect(last.body.items.map(c.idOf)).toEqual(all.slice(500));
      expect(last.body.nextCursor).toBeNull();
    });

    it('answers 422 invalid_limit to a limit outside 1-500 or not an integer', async () => {
      for (const limit of ['0', '501', '-1', '1.5', 'abc', '', '1e2', '10000']) {
        const res = await get(bulk, `${c.path}?limit=${limit}`);
        expect({ limit, status: res.status, code: res.body.code }).toEqual({ limit, status: 422, code: 'invalid_limit' });
        expect(res.headers.get('content-type')).toContain('application/problem+json');
      }
      expect((await get(bulk, `${c.path}?limit=1&limit=2`)).body.code).toBe('invalid_limit');
    });

    it('answers 422 invalid_cursor to a cursor it did not hand out', async () => {
      const otherKind = c.keyOf ? b64('["7"]') : b64(JSON.stringify([new Date().toISOString(), randomUUID()]));
      const bad = [
        '!!!',
        'x'.repeat(300),
        b64('not json'),
        b64('{"at":1}'),
        b64('[]'),
        b64(JSON.stringify(['not-a-time', randomUUID()])),
        b64(JSON.stringify([new Date().toISOString(), 'not-a-uuid'])),
        b64('["0"]'),
        b64('[7]'),
        otherKind,
      ];
      for (const cursor of bad) {
        const res = await get(bulk, `${c.path}?cursor=${encodeURIComponent(cursor)}`);
        expect({ cursor, status: res.status, code: res.body.code }).toEqual({ cursor, status: 422, code: 'invalid_cursor' });
        expect(res.headers.get('content-type')).toContain('application/problem+json');
      }
    });

    it('refuses query parameters it does not know (422 validation_failed), the old paging ones included', async () => {
      for (const q of ['bogus=1', 'before=2026-01-01T00:00:00.000Z', 'after=3', 'offset=10']) {
        const res = await get(bulk, `${c.path}?${q}`);
        expect({ q, status: res.status, code: res.body.code }).toEqual({ q, status: 422, code: 'validation_failed' });
      }
    });

    if (c.filters.length > 0) {
      it('keeps its filters working across pages', async () => {
        for (const f of c.filters) {
          const expected = await f.expected(bulk);
          expect(await walk(bulk, `${c.path}?${f.query(bulk)}`, c.idOf, 97)).toEqual(expected);
        }
      });
    }

    it('pages through rows inserted meanwhile without skipping or repeating one, rows of equal time included', async () => {
      const ws = await fixtureWorkspace();
      const oldest = Date.now() - 7_200_000;
      await c.insert(ws, keys(40, 4, oldest + 1000));
      await get(ws, `${c.path}?limit=1`); // the audit list seals the chain first: what exists from here on has its seq
      const initial = await c.expected(ws);
      const mustSee = new Set(initial);
      const mustNotSee = new Set<string>();
      const insertedAudit: string[] = [];
      let page = 0;
      const seen = await walk(ws, c.path, c.idOf, 6, async (items) => {
        page++;
        if (!c.keyOf) {
          // New events are chained after every listed one, so a walk that started before them never reaches them.
          const added = keys(2, 1, Date.now());
          insertedAudit.push(...added.map((k) => k.id));
          await c.insert(ws, added);
          return;
        }
        const cursor = c.keyOf(items[items.length - 1]);
        // Before the cursor in the list's order (newer, or the same time and a higher id): already passed.
        const passed = [
          { id: randomUUID(), at: new Date(Date.now() + 3_600_000) },
          { id: uuidPlus(cursor.id, 1n), at: cursor.at },
        ];
        // After it (the same time and a lower id, or older): still to come.
        const ahead = [
          { id: uuidPlus(cursor.id, -1n), at: cursor.at },
          { id: randomUUID(), at: new Date(oldest - page) },
        ];
        await c.insert(ws, [...passed, ...ahead]);
        passed.forEach((k) => mustNotSee.add(k.id));
        ahead.forEach((k) => mustSee.add(k.id));
      });
      if (!c.keyOf) {
        const seqs = await ids('SELECT seq::text AS id FROM audit_events WHERE workspace_id = $1 AND resource_id = ANY($2)', [ws.id, insertedAudit]);
        expect(seqs).toHaveLength(insertedAudit.length);
        seqs.forEach((s) => mustNotSee.add(s));
      }
      expect(page).toBeGreaterThan(5);
      expect(seen.filter((id, i) => seen.indexOf(id) !== i)).toEqual([]); // nothing twice
      expect([...mustSee].filter((id) => !seen.includes(id))).toEqual([]); // nothing skipped
      expect(seen.filter((id) => mustNotSee.has(id))).toEqual([]);
      const final = await c.expected(ws);
      expect(seen).toEqual(final.filter((id) => mustSee.has(id))); // in the list's order
    });
  });

  it('documents every list in the OpenAPI document: cursor, limit, its filters and the page shape with its item view', async () => {
    const doc = (await http(api.url, 'GET', '/docs/openapi.json')).body;
    const filters: Record<string, string[]> = {
      '/v1/signals': ['sourceId', 'status', 'connectionId'],
      '/v1/orders': ['parentOrderId', 'signalId', 'status'],
      '/v1/audit': ['action', 'resourceType', 'resourceId', 'actorType', 'actorId', 'since', 'until'],
      '/v1/alerts': ['status', 'owner'],
    };
    for (const c of cases) {
      const op = doc.paths[c.path].get;
      const params = op.parameters.filter((p: { in: string }) => p.in === 'query');
      expect({ path: c.path, params: params.map((p: { name: string }) => p.name).sort() }).toEqual({
        path: c.path,
        params: ['cursor', 'limit', ...(filters[c.path] ?? [])].sort(),
      });
      expect(params.find((p: { name: string }) => p.name === 'limit').schema).toMatchObject({ minimum: 1, maximum: 500, default: 50 });
      expect(op.description).toMatch(/newest first/);
      const page = op.responses['200'].content['application/json'].schema;
      expect(page).toMatchObject({
        required: ['items', 'nextCursor'],
        properties: { items: { type: 'array' }, nextCursor: { type: 'string', nullable: true } },
      });
      // The item's fields, from the list's zod view (the console's types are generated from them), not a bare object.
      expect({ path: c.path, fields: Object.keys(page.properties.items.items.properties ?? {}).length > 2 }).toEqual({ path: c.path, fields: true });
    }
    // A list under a resource: the webhook's deliveries.
    const deliveries = doc.paths['/v1/webhooks/{id}/deliveries'].get.responses['200'].content['application/json'].schema;
    expect(deliveries.properties.items.items.properties).toMatchObject({ status: { enum: ['pending', 'delivered', 'failed'] }, attemptLog: { type: 'array' } });
  });
});

/** The uuid `delta` away from `id`, as PostgreSQL orders uuids (bytewise, i.e. as a 128-bit number). */
function uuidPlus(id: string, delta: bigint): string {
  const hex = (BigInt(`0x${id.replace(/-/g, '')}`) + delta).toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
