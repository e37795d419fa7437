import { fork } from 'node:child_process';
import { join } from 'node:path';
import { SignalQueue } from '../../src/signals/signal-queue';
import { SignalRecoverySweep } from '../../src/signals/signal-recovery.sweep';
import { createWorkspace, http, RunningApi, startApi, testEnv } from '../support/api-app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { createHmacSource, eventually, jobCount, postSigned, QUEUE_BACKENDS, signal, signalQueue, signedHeaders } from './support/signals-harness';

/** Starts the api in a child process that dies (SIGKILL) right after its first signal is persisted. */
function startDoomedApi(env: Record<string, string>): Promise<{ url: string; exited: Promise<NodeJS.Signals | null> }> {
  const child = fork(join(__dirname, 'support', 'api-child.js'), [], {
    env: { ...process.env, ...env, KILL_AT_ENQUEUE: '1' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  return new Promise((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve({ url: `http://127.0.0.1:${m.port}`, exited }));
    child.once('exit', (code) => reject(new Error(`api child exited early (${code}): ${stderr}`)));
  });
}

describe.each(QUEUE_BACKENDS)('recovery of signals persisted but never enqueued (%s queue)', (_backend, queueEnv) => {
  let db: TestDatabase;
  let api: RunningApi | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('enqueues exactly once a signal whose api was killed between persist and enqueue', async () => {
    const env = testEnv(db, queueEnv());
    const setup = await startApi(db, env);
    const workspace = await createWorkspace(setup);
    const source = await createHmacSource(setup, workspace.token);
    await setup.close();

    const doomed = await startDoomedApi(env);
    const raw = JSON.stringify(signal());
    const headers = signedHeaders(source.secret, raw, { id: 'msg_killed' });
    await expect(http(doomed.url, 'POST', `/hooks/${source.id}`, { rawBody: raw, headers })).rejects.toThrow();
    expect(await doomed.exited).toBe('SIGKILL');
    const [persisted] = await db.adminQuery<{ id: string; status: string }>("SELECT id, status FROM signals WHERE idempotency_key = 'wh:msg_killed'");
    expect(persisted.status).toBe('received');

    api = await startApi(db, env);
    expect(await jobCount(api)).toBe(0);
    // The sender retries meanwhile: same signal, no second job.
    const retry = await http(api.url, 'POST', `/hooks/${source.id}`, { rawBody: raw, headers });
    expect(retry.body).toMatchObject({ signalId: persisted.id, duplicate: true });

    await eventually(async () => (await db.adminQuery<{ status: string }>('SELECT status FROM signals WHERE id = $1', [persisted.id]))[0].status === 'queued');
    const job = await (await signalQueue(api)).getJob(persisted.id);
    expect(job?.data).toEqual({ workspaceId: workspace.id, signalId: persisted.id });
    // Further passes find nothing to do.
    expect(await api.app.get(SignalRecoverySweep).sweepOnce()).toBe(0);
    expect(await jobCount(api)).toBe(1);
  });

  it('answers 202 received when the queue fails, and the sweep enqueues the signal', async () => {
    api ??= await startApi(db, queueEnv());
    const workspace = await createWorkspace(api);
    const source = await createHmacSource(api, workspace.token);
    const queue = api.app.get(SignalQueue);
    const failing = jest.spyOn(queue, 'enqueue').mockRejectedValueOnce(new Error('queue down'));
    const before = await jobCount(api);
    const res = await postSigned(api, source, signal());
    failing.mockRestore();
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'received', duplicate: false });
    await eventually(
      async () => (await db.adminQuery<{ status: string }>('SELECT status FROM signals WHERE id = $1', [res.body.signalId]))[0].status === 'queued',
    );
    expect(await (await signalQueue(api)).getJob(res.body.signalId)).toBeDefined();
    expect(await jobCount(api)).toBe(before + 1);
  });
});
