/**
 * Preloaded into Switchyard's real processes by the bench (`node -r dist-bench/bench/instrument.js
 * dist/main.js`), never by the product. It timestamps each signal's stages by wrapping a few
 * methods of the compiled classes, counts the SQL statements and commits each signal costs, and
 * answers the orchestrator over the IPC channel. Cost: a few microseconds per signal.
 */
import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { repoRoot, nowMs } from './lib/paths';
import { serveRpc } from './lib/rpc';

interface Trace {
  marks: Record<string, number>;
  /** Statements and commits before the broker request left (on the latency path) and after. */
  onPath: { statements: number; commits: number };
  offPath: { statements: number; commits: number };
  signalId?: string;
}

const root = repoRoot();
const role = process.env.BENCH_ROLE === 'worker' ? 'worker' : 'api';
const als = new AsyncLocalStorage<Trace>();
let traces = new Map<string, Trace>();

// The build this process runs (the bench can run an older build side by side: --compare).
const distDir = process.env.BENCH_DIST ?? join(root, 'dist');

function dist(path: string): Record<string, any> {
  return require(join(distDir, path)) as Record<string, any>;
}

function trace(key: string): Trace {
  let t = traces.get(key);
  if (!t) {
    t = { marks: {}, onPath: { statements: 0, commits: 0 }, offPath: { statements: 0, commits: 0 } };
    traces.set(key, t);
  }
  return t;
}

function mark(name: string, t = als.getStore()): void {
  if (t && t.marks[name] === undefined) t.marks[name] = nowMs();
}

type Method = (this: unknown, ...args: any[]) => any;

/** Wraps `proto[name]` (if it exists) with marks `<label>.start` and `<label>.end` on the current trace. */
function timed(proto: Record<string, Method> | undefined, name: string, label: string): void {
  const original = proto?.[name];
  if (!proto || typeof original !== 'function') return;
  proto[name] = function (this: unknown, ...args: unknown[]) {
    const t = als.getStore();
    mark(`${label}.start`, t);
    const result = original.apply(this, args);
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then((v) => {
        mark(`${label}.end`, t);
        return v;
      });
    }
    mark(`${label}.end`, t);
    return result;
  };
}

/** Runs `proto[name]` inside the trace `keyOf(args)` returns. */
function traced(
  proto: Record<string, Method>,
  name: string,
  keyOf: (args: any[]) => string | undefined,
  label: string,
  onStart?: (t: Trace, args: any[]) => void,
): void {
  const original = proto[name];
  proto[name] = function (this: unknown, ...args: unknown[]) {
    const key = keyOf(args);
    if (!key) return original.apply(this, args);
    const t = trace(key);
    onStart?.(t, args);
    mark(`${label}.start`, t);
    return als
      .run(t, () => original.apply(this, args))
      .then((v: unknown) => {
        mark(`${label}.end`, t);
        const signalId = (v as { signalId?: string } | undefined)?.signalId;
        if (signalId) t.signalId = signalId;
        return v;
      });
  };
}

function countStatements(): void {
  const pg = require(join(root, 'node_modules', 'pg')) as { Client: { prototype: Record<string, Method> } };
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    const t = als.getStore();
    if (t) {
      const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? '');
      const bucket = t.marks['w.send.start'] === undefined ? t.onPath : t.offPath;
      bucket.statements++;
      if (/^\s*COMMIT/i.test(text)) bucket.commits++;
    }
    return query.apply(this, args);
  };
}

if (role === 'api') {
  const intake = dist('signals/signal-intake.service.js').SignalIntakeService.prototype;
  traced(intake, 'accept', (args) => args[1]?.headers?.id, 'api');
  const repo = dist('signals/signals.repository.js').SignalsRepository.prototype;
  timed(repo, 'resolveSource', 'api.resolve');
  timed(repo, 'persist', 'api.persist');
  timed(dist('signals/signal-queue.js').SignalQueue.prototype, 'enqueue', 'api.enqueue');
  // The enqueued marker flushes after the answer, for many signals at once: not one signal's work.
  const marker = dist('signals/enqueued-marker.js').EnqueuedMarker.prototype;
  const markOne = marker.mark;
  marker.mark = function (this: unknown, ...args: unknown[]) {
    return als.exit(() => markOne.apply(this, args));
  };
} else {
  const router = dist('routing/signal-router.js').SignalRouter.prototype;
  traced(
    router,
    'handle',
    (args) => args[0]?.data?.signalId,
    'w',
    (t, args) => {
      t.marks['w.queued'] ??= Number(args[0]?.timestamp);
    },
  );
  timed(dist('routing/order-executor.js').OrderExecutor.prototype, 'execute', 'w.exec');
  const repo = dist('routing/routing.repository.js').RoutingRepository.prototype;
  timed(repo, 'planState', 'w.planstate');
  timed(repo, 'insertOrdersAndMarkRouting', 'w.insert');
  const db = dist('database/tenant-db.js').TenantDb.prototype;
  timed(db, 'runPipelined', 'w.tx');
  // The claim's reads (progress, earlier orders, risk gate), whichever shape the repository has.
  for (const name of ['switchesAndConnection', 'claimState']) timed(repo, name, 'w.gate');
  timed(dist('audit/audit-writer.js').AuditWriter.prototype, 'recordRaw', 'w.audit');
  const opener = dist('routing/credential-opener.js').CredentialOpener.prototype;
  timed(opener, 'authorize', 'w.authorize');
  timed(opener, 'open', 'w.decrypt');
  timed(dist('brokers/alpaca/alpaca.adapter.js').AlpacaAdapter.prototype, 'placeOrder', 'w.send');
  const runner = dist('queue/job-runner.js').JobRunner.prototype;
  const start = runner.start;
  runner.start = async function (this: unknown, ...args: unknown[]) {
    await start.apply(this, args);
    process.send?.({ ready: true });
  };
}
countStatements();

let profiler: Session | undefined;

serveRpc(
  {
    /** Starts V8's CPU profiler in this process (for `--profile`). */
    profileStart: () =>
      new Promise<void>((resolve, reject) => {
        profiler = new Session();
        profiler.connect();
        profiler.post('Profiler.enable', () => profiler!.post('Profiler.start', (err) => (err ? reject(err) : resolve())));
      }),
    /** Stops the profiler and writes the .cpuprofile to `path`. */
    profileStop: (path: string) =>
      new Promise<void>((resolve, reject) => {
        if (!profiler) return resolve();
        profiler.post('Profiler.stop', (err, result) => {
          if (err) return reject(err);
          writeFileSync(path, JSON.stringify(result.profile));
          profiler!.disconnect();
          profiler = undefined;
          resolve();
        });
      }),
    /** process.memoryUsage() and V8's heap spaces, MB. */
    memory: () => {
      const mb = (n: number) => Math.round(n / 1048576);
      const usage = Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, mb(v)]));
      const spaces = Object.fromEntries(
        require('node:v8')
          .getHeapSpaceStatistics()
          .map((s: { space_name: string; space_used_size: number }) => [s.space_name, mb(s.space_used_size)]),
      );
      return { usage, spaces };
    },
    /** Every trace since the last call, then forgets them. */
    marks: () => {
      const out: Record<string, Trace> = {};
      for (const [key, t] of traces) out[key] = t;
      traces = new Map();
      return out;
    },
  },
  { keepAlive: false },
);
