import { UnrecoverableError } from 'bullmq';
import { QueueConnection } from '../../src/queue/queue-connection';
import { SignalRouter } from '../../src/routing/signal-router';
import { eventually } from '../signals/support/signals-harness';
import { startWorker } from '../support/worker-app';
import { RoutingWorld } from './routing-harness';

const AUDIT_INSERT_COLUMNS = 'workspace_id, actor_type, actor_id, ip, action, resource_type, resource_id, reason, request_id, metadata';

/**
 * A routing job whose every attempt fails on an error that is neither the broker's nor an outage (here
 * a real one: the worker's database role may no longer write the audit trail, so no claim can commit)
 * is dead-lettered: its signal ends failed with a reason, its order fails without reaching the broker
 * (and stops holding its connection), and on-call is paged.
 */
describe.each(['postgres', 'redis'] as const)('a routing job that fails for good (%s queue backend)', (backend) => {
  let world: RoutingWorld;
  beforeAll(async () => {
    world = await RoutingWorld.start(backend);
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('ends its signal failed, fails its unsent order and pages on-call', async () => {
    const ws = await world.workspace();
    const alpaca = await world.connect(ws.token, 'alpaca');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: alpaca, sizing: { mode: 'fixed', value: '1' }, symbolMap: { BTCUSD: 'BTC/USD' } });

    await world.sql('REVOKE INSERT ON audit_events FROM switchyard_worker');
    let result: Awaited<ReturnType<RoutingWorld['settled']>>;
    try {
      const signalId = await world.send(source, { ticker: 'BTCUSD', action: 'buy', quantity: '1' });
      // Six attempts with exponential backoff from 250 ms: about eight seconds.
      result = await world.settled(ws.token, signalId, 25_000);
    } finally {
      await world.sql(`GRANT INSERT (${AUDIT_INSERT_COLUMNS}) ON audit_events TO switchyard_worker`);
    }

    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/^routing_failed: the routing job was given up \(6 attempt\(s\) failed\); never sent$/);
    expect(result.orders).toHaveLength(1);
    expect(result.orders[0]).toMatchObject({ status: 'failed', connectionId: alpaca });
    expect(world.alpaca.ordersByClientId.get(result.orders[0].clientOrderId)).toBeUndefined();
    const [use] = await world.sql<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE action = 'credential.use' AND workspace_id = $1`, [ws.id]);
    expect(use.n).toBe(0);
    const paged = await eventually(async () => {
      const rows = await world.sql<{ rule: string; resource_id: string }>(`SELECT rule, resource_id FROM alerts WHERE workspace_id = $1`, [ws.id]);
      return rows.length ? rows : undefined;
    });
    expect(paged).toEqual([{ rule: 'order.dead_lettered', resource_id: alpaca }]);

    // The connection is free again: the next signal routes.
    const next = await world.settled(ws.token, await world.send(source, { ticker: 'BTCUSD', action: 'buy', quantity: '1' }));
    expect(next.status).toBe('routed');
  }, 60_000);

  it('fails an order that was sent but never answered as unknown at the broker, and leaves a terminal signal alone', async () => {
    const ws = await world.workspace();
    const alpaca = await world.connect(ws.token, 'alpaca');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: alpaca, sizing: { mode: 'fixed', value: '1' }, symbolMap: { BTCUSD: 'BTC/USD' } });
    const signalId = await world.send(source, { ticker: 'BTCUSD', action: 'buy', quantity: '1' });
    const routed = await world.settled(ws.token, signalId);
    // The state a worker leaves when it dies between the broker's acceptance and recording the answer.
    await world.sql(`UPDATE orders SET status = 'submitted' WHERE signal_id = $1`, [signalId]);
    await world.sql(`UPDATE signals SET status = 'routing', completed_at = NULL WHERE id = $1`, [signalId]);

    const router = world.worker.app.get(SignalRouter);
    const job = { id: signalId, data: { workspaceId: ws.id, signalId }, attemptsMade: 2 };
    await router.deadLetter(job, 'its worker stopped while running it too many times');
    const result = await world.settled(ws.token, signalId);
    expect(result.status).toBe('failed');
    expect(result.orders[0]).toMatchObject({ status: 'failed', clientOrderId: routed.orders[0].clientOrderId });
    expect(result.orders[0].reason).toBe(
      'routing_failed: the routing job was given up (its worker stopped while running it too many times) after sending the order; its state at the broker is unknown: check it by client order id',
    );
    // It was in fact placed: exactly why the reason says to look it up rather than send it again.
    expect(world.alpaca.ordersByClientId.get(result.orders[0].clientOrderId)).toBeDefined();

    // Called again (the sweep after the 'failed' event), it changes nothing and pages no more.
    const alerts = () => world.sql<{ n: number }>(`SELECT coalesce(sum(occurrences), count(*))::int AS n FROM alerts WHERE workspace_id = $1`, [ws.id]);
    const before = await eventually(async () => ((await alerts())[0].n > 0 ? (await alerts())[0].n : undefined));
    await router.deadLetter(job, 'its worker stopped while running it too many times');
    expect((await alerts())[0].n).toBe(before);
    expect((await world.settled(ws.token, signalId)).orders[0].reason).toBe(result.orders[0].reason);
  });

  it('also ends a signal whose job the queue gave up without any worker seeing it fail (the stall limit)', async () => {
    const ws = await world.workspace();
    const alpaca = await world.connect(ws.token, 'alpaca');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: alpaca, sizing: { mode: 'fixed', value: '1' }, symbolMap: { BTCUSD: 'BTC/USD' } });
    await world.worker.close();
    const signalId = await world.send(source, { ticker: 'BTCUSD', action: 'buy', quantity: '1' });

    // The queue fails the job the way its stall check does (no worker's handler involved, no 'failed' event to ours).
    const taker = await world.api.app.get(QueueConnection).worker('route-signal', async () => undefined, { autorun: false });
    const job = await eventually(async () => (await taker.getNextJob('stall-test')) ?? undefined);
    expect(job.id).toBe(signalId);
    await job.moveToFailed(new UnrecoverableError('job stalled more than allowable limit'), 'stall-test');
    await taker.close();

    world.worker = await startWorker(world.db, world.env);
    const result = await world.settled(ws.token, signalId);
    expect(result.status).toBe('failed');
    expect(result.error).toBe('routing_failed: the routing job was given up (its worker stopped while running it too many times) before planning its orders');
    expect(result.orders).toEqual([]);
  }, 60_000);
});
