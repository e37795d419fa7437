import { randomUUID } from 'node:crypto';
import { NewSignal, SignalsRepository } from '../../src/signals/signals.repository';
import type { RunningApi } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { createHmacSource, startSignalsApi } from './support/signals-harness';

describe('idempotency keys in time buckets', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let sut: SignalsRepository;
  let base: Omit<NewSignal, 'id' | 'idempotencyKey'>;

  beforeAll(async () => {
    db = await createTestDatabase();
    const started = await startSignalsApi(db);
    api = started.api;
    sut = api.app.get(SignalsRepository, { strict: false });
    const source = await createHmacSource(api, started.workspace.token);
    base = {
      workspaceId: started.workspace.id,
      sourceId: source.id,
      dedupeWindowSeconds: 30,
      rawPayload: '{"ticker":"AAPL","action":"buy"}',
      payload: { ticker: 'AAPL', action: 'buy', orderType: 'market' },
      senderIp: '127.0.0.1',
      requestId: 'test',
    };
  });

  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('treats the previous bucket as the same signal only while it is younger than the window (a sliding window)', async () => {
    const first = await sut.persist({ ...base, id: randomUUID(), idempotencyKey: 'body:h:100', previousBucketKey: 'body:h:99' });
    expect(first.duplicate).toBe(false);

    // The next bucket started, but the first delivery is seconds old: a retry, not a new signal.
    const retry = await sut.persist({ ...base, id: randomUUID(), idempotencyKey: 'body:h:101', previousBucketKey: 'body:h:100' });
    expect(retry).toEqual({ id: first.id, status: expect.any(String), duplicate: true });

    await db.adminQuery("UPDATE signals SET received_at = now() - interval '31 seconds' WHERE id = $1", [first.id]);
    const later = await sut.persist({ ...base, id: randomUUID(), idempotencyKey: 'body:h:101', previousBucketKey: 'body:h:100' });
    expect(later.duplicate).toBe(false);
    expect(later.id).not.toBe(first.id);
  });

  it('dedupes exact keys (webhook-id) regardless of age', async () => {
    const first = await sut.persist({ ...base, id: randomUUID(), idempotencyKey: 'wh:msg_old' });
    await db.adminQuery("UPDATE signals SET received_at = now() - interval '10 days' WHERE id = $1", [first.id]);
    expect(await sut.persist({ ...base, id: randomUUID(), idempotencyKey: 'wh:msg_old' })).toEqual({ id: first.id, status: 'received', duplicate: true });
  });
});
