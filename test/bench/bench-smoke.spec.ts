import { analysePhase } from '../../bench/lib/analyse';
import { RecordingAlpaca } from '../../bench/lib/broker';
import { LoadGenerator, LoadTarget } from '../../bench/lib/load';
import { BARE_SCHEMA, startBareApi, startBareWorker } from '../../bench/bare/pipeline';
import { FLOOR_ROLE, FLOOR_SCHEMA, FloorApi, FloorWorker, floorSources, seedFloor, startFloorApi, startFloorWorker } from '../../bench/floor/pipeline';
import { clientOrderId } from '../../src/routing/client-order-id';
import { eventually } from '../signals/support/signals-harness';
import { createTestDatabase, TestDatabase } from '../support/database';
import { REDIS_URL, RoutingWorld } from '../routing/routing-harness';
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';

// The benchmark's smoke: a few hundred signals through each pipeline (Switchyard, bare, floor) with the bench's own load
// generator and broker recorder, in-process. No timing assertions: nothing lost, nothing doubled.
const SIGNALS_PER_SECOND = 100;
const SECONDS = 3;

jest.setTimeout(180_000);

describe('bench smoke', () => {
  let world: RoutingWorld;
  let broker: RecordingAlpaca;
  let bareDb: TestDatabase;
  const generator = new LoadGenerator();

  beforeAll(async () => {
    world = await RoutingWorld.start('redis');
    broker = RecordingAlpaca.wrap(world.alpaca);
    bareDb = await createTestDatabase();
  });
  afterAll(async () => {
    await generator.close();
    await world?.stop();
    await bareDb?.drop();
  });

  async function drive(target: LoadTarget, expectedOrderIds: (signalId: string) => string[]) {
    broker.take(true);
    const load = await generator.openLoop([target], SIGNALS_PER_SECOND, SECONDS * 1000);
    const accepted = load.sends.filter((s) => s.status === 202).length;
    // A generous drain budget: a loaded CI machine routes one connection's backlog more slowly (no timing is asserted).
    await eventually(async () => broker.arrivals.length >= accepted, 120_000);
    // Late duplicates would show up here.
    await new Promise((r) => setTimeout(r, 300));
    const arrivals = broker.take(true);
    return { ...analysePhase(load, arrivals, { expectedOrderIds }), arrivals };
  }

  it('Switchyard (real api and worker, Redis queue): every signal placed exactly once', async () => {
    const ws = await world.workspace();
    const connection = await world.connect(ws.token, 'alpaca');
    const source = await world.source(ws.token);
    const route = await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'multiplier', value: '1' } });
    const outcome = await drive({ baseUrl: world.api.url, path: `/hooks/${source.id}`, secret: source.secret, fanout: 1 }, (signalId) => [
      clientOrderId(signalId, route),
    ]);
    expect(outcome.sent).toBe(SIGNALS_PER_SECOND * SECONDS);
    expect({ errors: outcome.errors, lost: outcome.lost, duplicates: outcome.duplicates, unexpected: outcome.unexpected }).toEqual({
      errors: 0,
      lost: 0,
      duplicates: 0,
      unexpected: 0,
    });
    // One connection: the broker saw the orders in signal order.
    const seqOf = new Map(
      (
        await world.sql<{ client_order_id: string; seq: string }>(
          'SELECT o.client_order_id, s.seq::text AS seq FROM orders o JOIN signals s ON s.id = o.signal_id WHERE o.connection_id = $1',
          [connection],
        )
      ).map((r) => [r.client_order_id, BigInt(r.seq)]),
    );
    const seqs = outcome.arrivals.map((a) => seqOf.get(a.clientOrderId)!);
    expect(seqs.every((seq, i) => i === 0 || seqs[i - 1] < seq)).toBe(true);
  });

  it('the bare pipeline: every signal placed exactly once', async () => {
    await bareDb.adminQuery(BARE_SCHEMA);
    const account = { apiKey: `PK${randomBytes(8).toString('hex').toUpperCase()}`, apiSecret: `bench-${randomBytes(8).toString('hex')}` };
    broker.addKey(account);
    const prefix = `{sytest-bare-${randomBytes(4).toString('hex')}}`;
    const api = await startBareApi({ databaseUrl: bareDb.adminUrl, redisUrl: REDIS_URL, prefix, sources: { single: { fanout: 1, account: 0 } } });
    const worker = await startBareWorker({ databaseUrl: bareDb.adminUrl, redisUrl: REDIS_URL, prefix, brokerUrl: broker.url, accounts: [account] });
    try {
      const outcome = await drive({ baseUrl: api.url, path: '/hooks/single', secret: `whsec_${randomBytes(24).toString('base64')}`, fanout: 1 }, (signalId) => [
        `bare-${signalId}-0`,
      ]);
      expect(outcome.sent).toBe(SIGNALS_PER_SECOND * SECONDS);
      expect({ errors: outcome.errors, lost: outcome.lost, duplicates: outcome.duplicates, unexpected: outcome.unexpected }).toEqual({
        errors: 0,
        lost: 0,
        duplicates: 0,
        unexpected: 0,
      });
    } finally {
      await worker.close();
      await api.close();
    }
  });

  it.each([
    ['one transaction per signal', false],
    ['group commits', true],
  ])('the floor (%s): every signal placed exactly once, forged ones refused, its tables scoped by RLS', async (_mode, batch) => {
    const floorDb = await createTestDatabase();
    const dataKey = randomBytes(32);
    const [source, sameWorkspace] = floorSources(2, () => ({
      apiKey: `PK${randomBytes(8).toString('hex').toUpperCase()}`,
      apiSecret: `bench-${randomBytes(8).toString('hex')}`,
    }));
    const other = { ...sameWorkspace, workspaceId: randomUUID() };
    const prefix = `{sytest-floor-${randomBytes(4).toString('hex')}}`;
    let api: FloorApi | undefined;
    let worker: FloorWorker | undefined;
    try {
      await floorDb.adminQuery(FLOOR_SCHEMA);
      await floorDb.adminQuery(`GRANT CONNECT ON DATABASE ${floorDb.name} TO ${FLOOR_ROLE}`);
      await seedFloor((text, values) => floorDb.adminQuery(text, values), [source, other], dataKey);
      broker.addKey(source.account);
      const url = new URL(floorDb.adminUrl);
      url.username = FLOOR_ROLE;
      api = await startFloorApi({ databaseUrl: url.toString(), redisUrl: REDIS_URL, prefix, batch });
      worker = await startFloorWorker({ databaseUrl: url.toString(), redisUrl: REDIS_URL, prefix, brokerUrl: broker.url, dataKey, batch });

      const forged = await generator.openLoop([{ baseUrl: api.url, path: `/hooks/${source.id}`, secret: other.secret, fanout: 1 }], 20, 250);
      expect(forged.sends.length).toBeGreaterThan(0);
      expect(forged.sends.map((s) => s.status)).toEqual(forged.sends.map(() => 401));

      const target = { baseUrl: api.url, path: `/hooks/${source.id}`, secret: source.secret, fanout: 1 };
      const outcome = await drive(target, (signalId) => [`floor-${signalId}`]);
      expect(outcome.sent).toBe(SIGNALS_PER_SECOND * SECONDS);
      expect({ errors: outcome.errors, lost: outcome.lost, duplicates: outcome.duplicates, unexpected: outcome.unexpected }).toEqual({
        errors: 0,
        lost: 0,
        duplicates: 0,
        unexpected: 0,
      });
      // The order reached the broker with the credential the worker decrypted.
      expect(new Set(outcome.arrivals.map((a) => a.apiKey))).toEqual(new Set([source.account.apiKey]));
      await eventually(
        async () => (await floorDb.adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM floor_signals WHERE status = 'routed'`))[0].n === outcome.sent,
      );
      expect(await floorDb.adminQuery(`SELECT action, count(*)::int AS n FROM floor_audit GROUP BY action`)).toEqual([
        { action: 'credential.use', n: outcome.sent },
      ]);

      // A burst: concurrent signals share claim transactions (their credential.use events one xmin) only with group commits.
      const burst = await generator.openLoop([target], 1000, 300);
      const routed = outcome.sent + burst.sends.filter((s) => s.status === 202).length;
      await eventually(
        async () => (await floorDb.adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM floor_signals WHERE status = 'routed'`))[0].n === routed,
        60_000,
      );
      const [claims] = await floorDb.adminQuery<{ events: number; transactions: number }>(
        `SELECT count(*)::int AS events, count(DISTINCT xmin::text)::int AS transactions FROM floor_audit`,
      );
      expect(claims.events).toBe(routed);
      if (batch) expect(claims.transactions).toBeLessThan(claims.events);
      else expect(claims.transactions).toBe(claims.events);

      // RLS applies to the floor's role: with no workspace set it sees nothing, with one only that workspace's rows.
      const asFloor = new Client({ connectionString: url.toString() });
      await asFloor.connect();
      const counts = async () =>
        (await asFloor.query('SELECT (SELECT count(*) FROM floor_signals)::int AS signals, (SELECT count(*) FROM floor_credentials)::int AS credentials'))
          .rows[0];
      try {
        expect(await counts()).toEqual({ signals: 0, credentials: 0 });
        await asFloor.query(`SELECT set_config('app.workspace_id', $1, false)`, [other.workspaceId]);
        expect(await counts()).toEqual({ signals: 0, credentials: 1 });
        await asFloor.query(`SELECT set_config('app.workspace_id', $1, false)`, [source.workspaceId]);
        expect(await counts()).toEqual({ signals: routed, credentials: 1 });
      } finally {
        await asFloor.end();
      }
    } finally {
      await worker?.close();
      await api?.close();
      await floorDb.drop();
    }
  });
});
