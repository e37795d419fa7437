/**
 * `npm run bench`: end-to-end webhook → broker latency and throughput of Switchyard, measured from
 * outside, side by side with the bare pipeline (bench/bare), in one run. See docs/performance.md.
 *
 * Processes: this orchestrator; the broker stub (Alpaca order endpoint, arrival times; KMS wire stub
 * for scenario d); the load generator; the bare api and worker; Switchyard's real api and worker
 * (`node dist/main.js`, `node dist/worker.js` with SERVICE_NODE_FLAGS, production build) with the bench's timing preload.
 *
 * Flags: --queue redis|postgres   backend of the main Switchyard runs (default redis)
 *        --scenarios a,b,b1,c,d,e which scenarios (default all; b1 = saturation on one connection)
 *        --rounds N               alternating bare/Switchyard rounds of a and b (default 3)
 *        --light-seconds S        (a) duration per round (default 20) at --rate (default 50/s)
 *        --sat-seconds S          (b) duration per round (default 60: long enough for the api's heap to reach its peak), --window W in flight (default 64)
 *        --warmup-signals N       signals sent closed loop before ANALYZE (default 5000; see warmup())
 *        --quick                  short everything (a smoke of the bench itself)
 *        --no-breakdown           run Switchyard without the timing preload
 *        --compare REF            also run Switchyard built from git REF in a and b, alternating with
 *                                 the others (before/after of an optimisation under the same load)
 *        --floor                  also run the floor (bench/floor) in a and b: the budget's safeguards
 *                                 at their fewest statements, no framework (what any implementation pays),
 *                                 one transaction per signal ('floor') and in group commits ('floor-batched')
 *        --profile DIR            V8 CPU profiles of Switchyard's api and worker during each phase
 *        --perf-map               Switchyard's api and worker run with --perf-basic-prof, so a
 *                                 `perf record -a -g` taken meanwhile names their JS functions (on a
 *                                 saturated machine the V8 profile samples wall time; perf samples CPU)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { freePort } from '../src/common/free-port';
import { SERVICE_NODE_FLAGS } from '../src/common/service-node-flags';
import type { BootstrapResult } from '../src/database/bootstrap';
import { analysePhase, PhaseOutcome, stageTable, StageDef } from './lib/analyse';
import type { Arrival } from './lib/broker';
import type { LoadResult, LoadSpec, LoadTarget } from './lib/load';
import { benchEntry, repoRoot } from './lib/paths';
import { Child } from './lib/rpc';
import { median, round } from './lib/stats';
import { BARE_SCHEMA } from './bare/pipeline';
import { FLOOR_ROLE, FLOOR_SCHEMA, FloorSource, floorSources, seedFloor } from './floor/pipeline';

const ROOT = repoRoot();
const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const FANOUT = 10;
const ACCOUNTS_NEEDED = (spread: number) => Math.max(FANOUT, spread);
const TERMINAL_SIGNAL = ['routed', 'partially_routed', 'blocked', 'failed'];

interface Options {
  queue: 'redis' | 'postgres';
  scenarios: Set<string>;
  rounds: number;
  rate: number;
  lightSeconds: number;
  satSeconds: number;
  satWarmupSeconds: number;
  window: number;
  /** (b) spreads the load over this many sources, each with one route to its own connection. */
  spread: number;
  fanoutRate: number;
  otherSeconds: number;
  warmupSeconds: number;
  /** Signals sent closed loop before the statistics are taken (tables of a steady state, not of a fresh database). */
  warmupSignals: number;
  breakdown: boolean;
  /** Directory for V8 CPU profiles of Switchyard's api and worker during each phase. */
  profileDir?: string;
  /** A git ref whose build also runs in a and b ('switchyard-ref'). */
  compare?: string;
  /** Also run the floor pipelines (per signal and batched) in a and b. */
  floor: boolean;
  perfMap: boolean;
}

function parseOptions(argv: string[]): Options {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) continue;
    const [name, inline] = arg.slice(2).split('=', 2);
    if (inline !== undefined) flags.set(name, inline);
    else if (argv[i + 1] && !argv[i + 1].startsWith('--')) flags.set(name, argv[++i]);
    else flags.set(name, 'true');
  }
  const quick = flags.get('quick') === 'true';
  const num = (name: string, fallback: number) => (flags.has(name) ? Number(flags.get(name)) : fallback);
  // Profiles are taken through the timing preload's IPC channel.
  if (flags.has('profile') && flags.get('no-breakdown') === 'true') throw new Error('--profile needs the timing preload: drop --no-breakdown');
  const queue = flags.get('queue') ?? 'redis';
  if (queue !== 'redis' && queue !== 'postgres') throw new Error('--queue must be redis or postgres');
  return {
    queue,
    scenarios: new Set((flags.get('scenarios') ?? 'a,b,b1,c,d,e').split(',').map((s) => s.trim())),
    rounds: num('rounds', quick ? 1 : 3),
    rate: num('rate', 50),
    lightSeconds: num('light-seconds', quick ? 4 : 20),
    satSeconds: num('sat-seconds', quick ? 4 : 60),
    satWarmupSeconds: num('sat-warmup-seconds', quick ? 1 : 3),
    window: num('window', 64),
    spread: num('spread', 32),
    fanoutRate: num('fanout-rate', 10),
    otherSeconds: num('other-seconds', quick ? 3 : 15),
    warmupSeconds: num('warmup-seconds', quick ? 1 : 3),
    warmupSignals: num('warmup-signals', quick ? 500 : 5000),
    breakdown: flags.get('no-breakdown') !== 'true',
    profileDir: flags.get('profile'),
    compare: flags.get('compare'),
    floor: flags.get('floor') === 'true',
    perfMap: flags.get('perf-map') === 'true',
  };
}

// ---------------------------------------------------------------------------------------------
// Infrastructure: databases, ports, memory sampling

async function admin<T>(fn: (c: Client) => Promise<T>, url = ADMIN_URL): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function dbUrl(name: string, user?: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  if (user) url.username = user;
  return url.toString();
}

const createdDatabases: string[] = [];
async function createDatabase(prefix: string): Promise<string> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  createdDatabases.push(name);
  return name;
}

async function vacuumAnalyze(name: string): Promise<void> {
  await admin((c) => c.query('VACUUM ANALYZE'), dbUrl(name));
}

/** Resident memory of a process (kB → MB): VmRSS now, VmHWM the peak since it started. */
function memoryOf(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/** CPU time (user + system, seconds) a process has used so far; `system` alone with part 'system'. */
function cpuSecondsOf(pid: number, part: 'all' | 'system' = 'all'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((part === 'all' ? Number(fields[11]) : 0) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Busy CPU seconds of the whole machine so far (all cores). */
function machineBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3] + cpu[4];
  return (cpu.reduce((a, b) => a + b, 0) - idle) / 100;
}

/** Samples the RSS of some processes every 200 ms; stop() returns each one's peak (MB) and CPU seconds used. */
function sampleMemory(children: Child[]): { stop(): { peakRssMb: Record<string, number>; cpuSeconds: Record<string, number> } } {
  const peak: Record<string, number> = {};
  const cpuAtStart = new Map(children.map((c) => [c.name, cpuSecondsOf(c.pid)]));
  const systemAtStart = new Map(children.map((c) => [c.name, cpuSecondsOf(c.pid, 'system')]));
  const machineAtStart = machineBusySeconds();
  const take = () => {
    for (const c of children) {
      const { rss } = memoryOf(c.pid);
      if (Number.isFinite(rss)) peak[c.name] = Math.max(peak[c.name] ?? 0, rss);
    }
  };
  take();
  const timer = setInterval(take, 200);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      const cpuSeconds: Record<string, number> = { machine: round(machineBusySeconds() - machineAtStart, 2) };
      for (const c of children) {
        cpuSeconds[c.name] = round(cpuSecondsOf(c.pid) - (cpuAtStart.get(c.name) ?? NaN), 2);
        cpuSeconds[`${c.name}:system`] = round(cpuSecondsOf(c.pid, 'system') - (systemAtStart.get(c.name) ?? NaN), 2);
      }
      return { peakRssMb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, round(v, 1)])), cpuSeconds };
    },
  };
}

async function until(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ---------------------------------------------------------------------------------------------
// The two pipelines behind one interface

interface TargetInfo {
  load: LoadTarget;
  expectedOrderIds(signalId: string): string[];
}

type Traces = Record<
  string,
  { marks: Record<string, number>; onPath?: { statements: number; commits: number }; offPath?: { statements: number; commits: number }; signalId?: string }
>;

/** The sources a phase's webhooks go to, round robin. */
type Workload = TargetInfo[];

interface Pipeline {
  name: string;
  kind: 'bare' | 'floor' | 'switchyard';
  processes(): Child[];
  /** One source, one route (a, d, e). */
  single: Workload;
  /** One source, ten routes to ten connections (c). */
  fanout: Workload;
  /** `spread` sources, each with one route to its own connection (b). */
  spread: Workload;
  /** Stage marks since the last call: api keyed by webhook-id, worker keyed by signal id. */
  traces(): Promise<{ api: Traces; worker: Traces }>;
  /** Waits until background work of the last phase (settling, sealing) is done. */
  quiesce(): Promise<void>;
  /**
   * VACUUM ANALYZE of its database, as autovacuum keeps a running one: a prepared statement's generic plan
   * made on a table with no statistics picked the wrong index (the signal insert's dedupe check walked every
   * signal of the workspace), which a database days old never sees.
   */
  analyze(): Promise<void>;
  stop(): Promise<void>;
}

class Harness {
  stub!: Child;
  loadgen!: Child;
  brokerUrl!: string;
  feedPort!: number;

  async start(): Promise<void> {
    this.stub = Child.fork('stub', benchEntry('stub'), [], process.env);
    this.loadgen = Child.fork('loadgen', benchEntry('loadgen'), [], process.env);
    await Promise.all([this.stub.waitReady(), this.loadgen.waitReady()]);
    const info = await this.stub.call<{ url: string; feedPort: number }>('info');
    this.brokerUrl = info.url;
    this.feedPort = info.feedPort;
  }

  newAccount(): { apiKey: string; apiSecret: string } {
    return { apiKey: `PK${randomBytes(8).toString('hex').toUpperCase()}`, apiSecret: `bench-secret-${randomBytes(12).toString('hex')}` };
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.stub?.stop(), this.loadgen?.stop()]);
  }
}

/** The stage marks of the bare and floor processes (plain tables, no statement counts). */
async function markTraces(api: Child, worker: Child): Promise<{ api: Traces; worker: Traces }> {
  const wrap = (t: Record<string, Record<string, number>>): Traces => Object.fromEntries(Object.entries(t).map(([k, marks]) => [k, { marks }]));
  return { api: wrap(await api.call('marks')), worker: wrap(await worker.call('marks')) };
}

async function startBare(h: Harness, spread: number): Promise<Pipeline> {
  const db = await createDatabase('sy_bench_bare');
  await admin((c) => c.query(BARE_SCHEMA), dbUrl(db));
  const accounts = Array.from({ length: ACCOUNTS_NEEDED(spread) }, () => h.newAccount());
  await h.stub.call('addKeys', accounts);
  const prefix = `{bench-bare-${randomBytes(4).toString('hex')}}`;
  const port = await freePort();
  const env = {
    ...process.env,
    BARE_DATABASE_URL: dbUrl(db),
    BARE_REDIS_URL: REDIS_URL,
    BARE_QUEUE_PREFIX: prefix,
    BARE_PORT: String(port),
    BARE_SOURCES: JSON.stringify({
      single: { fanout: 1, account: 0 },
      fanout: { fanout: FANOUT, account: 0 },
      ...Object.fromEntries(Array.from({ length: spread }, (_, i) => [`spread-${i}`, { fanout: 1, account: i }])),
    }),
    BARE_BROKER_URL: h.brokerUrl,
    BARE_ACCOUNTS: JSON.stringify(accounts),
  };
  const api = Child.fork('bare-api', benchEntry('bare/main'), ['api'], env);
  const worker = Child.fork('bare-worker', benchEntry('bare/main'), ['worker'], env);
  await Promise.all([api.waitReady(), worker.waitReady()]);
  const url = `http://127.0.0.1:${port}`;
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const target = (source: string, fanout: number): TargetInfo => ({
    load: { baseUrl: url, path: `/hooks/${source}`, secret, fanout },
    expectedOrderIds: (signalId) => Array.from({ length: fanout }, (_, k) => `bare-${signalId}-${k}`),
  });
  return {
    name: 'bare',
    kind: 'bare',
    processes: () => [api, worker],
    single: [target('single', 1)],
    fanout: [target('fanout', FANOUT)],
    spread: Array.from({ length: spread }, (_, i) => target(`spread-${i}`, 1)),
    traces: () => markTraces(api, worker),
    quiesce: async () => undefined,
    analyze: () => vacuumAnalyze(db),
    stop: async () => {
      await Promise.allSettled([api.stop(), worker.stop()]);
      await clearRedisPrefix(prefix);
    },
  };
}

async function startFloor(h: Harness, spread: number, batch: boolean): Promise<Pipeline> {
  const name = batch ? 'floor-batched' : 'floor';
  const db = await createDatabase('sy_bench_floor');
  await admin((c) => c.query(FLOOR_SCHEMA), dbUrl(db));
  const dataKey = randomBytes(32);
  const sources = floorSources(1 + spread, () => h.newAccount());
  await h.stub.call(
    'addKeys',
    sources.map((s) => s.account),
  );
  await admin((c) => seedFloor((text, values) => c.query(text, values), sources, dataKey), dbUrl(db));
  const prefix = `{bench-floor-${randomBytes(4).toString('hex')}}`;
  const port = await freePort();
  const env = {
    ...process.env,
    BARE_DATABASE_URL: dbUrl(db, FLOOR_ROLE),
    BARE_REDIS_URL: REDIS_URL,
    BARE_QUEUE_PREFIX: prefix,
    BARE_PORT: String(port),
    BARE_BROKER_URL: h.brokerUrl,
    FLOOR_DATA_KEY: dataKey.toString('base64'),
    FLOOR_BATCH: String(batch),
  };
  const api = Child.fork(`${name}-api`, benchEntry('bare/main'), ['floor-api'], env);
  const worker = Child.fork(`${name}-worker`, benchEntry('bare/main'), ['floor-worker'], env);
  await Promise.all([api.waitReady(), worker.waitReady()]);
  const url = `http://127.0.0.1:${port}`;
  const target = (s: FloorSource): TargetInfo => ({
    load: { baseUrl: url, path: `/hooks/${s.id}`, secret: s.secret, fanout: 1 },
    expectedOrderIds: (signalId) => [`floor-${signalId}`],
  });
  return {
    name,
    kind: 'floor',
    processes: () => [api, worker],
    single: [target(sources[0])],
    fanout: [],
    spread: sources.slice(1).map(target),
    traces: () => markTraces(api, worker),
    quiesce: () =>
      admin(async (c) => {
        await until(
          async () => (await c.query(`SELECT count(*)::int AS open FROM floor_signals WHERE status NOT IN ('routed', 'failed')`)).rows[0].open === 0,
          60_000,
          200,
        );
      }, dbUrl(db)),
    analyze: () => vacuumAnalyze(db),
    stop: async () => {
      await Promise.allSettled([api.stop(), worker.stop()]);
      await clearRedisPrefix(prefix);
    },
  };
}

/** Builds git `ref` (src + migrations, this checkout's node_modules and generated client) once; returns its dist. */
function buildRef(ref: string): string {
  const sha = execFileSync('git', ['rev-parse', '--short', ref], { cwd: ROOT }).toString().trim();
  const dir = join(tmpdir(), `switchyard-bench-ref-${sha}`);
  if (existsSync(join(dir, 'dist', 'main.js'))) return join(dir, 'dist');
  log(`building ${ref} (${sha}) in ${dir} …`);
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${sha} src prisma tsconfig.json tsconfig.build.json package.json | tar -x -C '${dir}'`], { cwd: ROOT });
  cpSync(join(ROOT, 'src', 'generated'), join(dir, 'src', 'generated'), { recursive: true });
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  return join(dir, 'dist');
}

interface SwitchyardOptions {
  name: string;
  /** The build to run (default: this checkout's dist). */
  distDir?: string;
  spread: number;
  queue: 'redis' | 'postgres';
  kmsLatencyMs?: number;
  dataKeyCache?: boolean;
  breakdown: boolean;
  perfMap: boolean;
}

interface SwitchyardPipeline extends Pipeline {
  /** Replaces the worker (e.g. with the data-key cache off); the pipeline takes `name`. */
  restartWorker(extraEnv: Record<string, string>, name: string): Promise<void>;
}

async function startSwitchyard(h: Harness, options: SwitchyardOptions): Promise<SwitchyardPipeline> {
  const db = await createDatabase('sy_bench');
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  const { bootstrapDatabase } = require(join(ROOT, 'dist', 'database', 'bootstrap.js')) as {
    bootstrapDatabase: (url: string, dir: string) => Promise<BootstrapResult>;
  };
  const urls = await bootstrapDatabase(dbUrl(db), dataDir);
  const { clientOrderId } = require(join(ROOT, 'dist', 'routing', 'client-order-id.js')) as { clientOrderId: (s: string, r: string) => string };
  const port = await freePort();
  const prefix = `{bench-sy-${randomBytes(4).toString('hex')}}`;
  const platformToken = `platform-${randomBytes(24).toString('hex')}`;
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    METRICS_PORT: '0', // several apis may share the host
    DATA_DIR: dataDir,
    DATABASE_API_URL: urls.apiUrl,
    DATABASE_WORKER_URL: urls.workerUrl,
    PLATFORM_ADMIN_TOKEN: platformToken,
    JWT_SECRET: randomBytes(32).toString('hex'),
    BROKER_ALPACA_BASE_URL: h.brokerUrl,
    BROKER_ALPACA_LIVE_BASE_URL: h.brokerUrl,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '100000000',
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '100000000',
    WEBHOOK_IP_RATE_LIMIT_PER_MINUTE: '100000000',
    KMS_PROVIDER: 'local',
    KMS_ALLOW_LOCAL_IN_PRODUCTION: 'true',
    ...(options.queue === 'redis' ? { REDIS_URL, QUEUE_PREFIX: prefix } : {}),
  };
  let apiEnv = base;
  let workerEnv = base;
  if (options.kmsLatencyMs !== undefined) {
    const kms = await h.stub.call<{
      url: string;
      region: string;
      keyId: string;
      principals: Record<'api' | 'worker', { accessKeyId: string; secretAccessKey: string }>;
    }>('kms', {
      latencyMs: options.kmsLatencyMs,
    });
    const aws = (p: 'api' | 'worker') => ({
      KMS_PROVIDER: 'aws',
      KMS_KEY_ID: kms.keyId,
      KMS_ENDPOINT: kms.url,
      AWS_REGION: kms.region,
      AWS_ACCESS_KEY_ID: kms.principals[p].accessKeyId,
      AWS_SECRET_ACCESS_KEY: kms.principals[p].secretAccessKey,
    });
    apiEnv = { ...base, ...aws('api') };
    workerEnv = { ...base, ...aws('worker') };
  }
  if (options.dataKeyCache === false) workerEnv = { ...workerEnv, DATA_KEY_CACHE_TTL_MS: '0' };

  // Switchyard's own flags first (the bench measures what ships), then the bench's profiling and timing options.
  const nodeFlags = [...SERVICE_NODE_FLAGS, ...(options.perfMap ? ['--perf-basic-prof'] : []), ...(options.breakdown ? ['-r', benchEntry('instrument')] : [])];
  const distDir = options.distDir ?? join(ROOT, 'dist');
  const startApi = () =>
    Child.node(`${options.name}-api`, [...nodeFlags, join(distDir, 'main.js')], { ...apiEnv, BENCH_ROLE: 'api', BENCH_DIST: distDir }, ROOT);
  const startWorker = async (env: NodeJS.ProcessEnv, name = options.name) => {
    const w = Child.node(`${name}-worker`, [...nodeFlags, join(distDir, 'worker.js')], { ...env, BENCH_ROLE: 'worker', BENCH_DIST: distDir }, ROOT);
    if (options.breakdown) await w.waitReady();
    else await new Promise((r) => setTimeout(r, 3000));
    return w;
  };
  const api = startApi();
  const url = `http://127.0.0.1:${port}`;
  const up = await until(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true, 60_000, 200);
  if (!up) throw new Error(`Switchyard api did not come up\n${api.output()}`);
  let worker = await startWorker(workerEnv);

  // Workspace, connections, sources and routes through the real HTTP API.
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json().catch(() => undefined)) as any;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const ws = await call('POST', '/v1/workspaces', platformToken, { name: 'bench', ownerEmail: `bench-${randomBytes(3).toString('hex')}@example.com` });
  const token = ws.token.token as string;
  const accounts = Array.from({ length: 1 + FANOUT + options.spread }, () => h.newAccount());
  await h.stub.call('addKeys', accounts);
  const connections: string[] = [];
  for (const [i, credentials] of accounts.entries()) {
    connections.push((await call('POST', '/v1/connections', token, { broker: 'alpaca', label: `bench-${i}`, environment: 'paper', credentials })).id);
  }
  const source = async (name: string, connectionIds: string[]) => {
    const s = await call('POST', '/v1/sources', token, { name, auth: 'hmac' });
    const routes: string[] = [];
    for (const connectionId of connectionIds) {
      routes.push((await call('POST', '/v1/routes', token, { sourceId: s.id, connectionId, sizing: { mode: 'multiplier', value: '1' }, enabled: true })).id);
    }
    return { id: s.id as string, secret: s.secret as string, routes };
  };
  const single = await source('single', [connections[0]]);
  const fan = await source('fanout', connections.slice(1, 1 + FANOUT));
  const spread = [];
  for (let i = 0; i < options.spread; i++) spread.push(await source(`spread-${i}`, [connections[1 + FANOUT + i]]));
  const target = (s: { id: string; secret: string; routes: string[] }): TargetInfo => ({
    load: { baseUrl: url, path: `/hooks/${s.id}`, secret: s.secret, fanout: s.routes.length },
    expectedOrderIds: (signalId) => s.routes.map((r) => clientOrderId(signalId, r)),
  });

  let apiChild = api;
  return {
    name: options.name,
    kind: 'switchyard',
    processes: () => [apiChild, worker],
    single: [target(single)],
    fanout: [target(fan)],
    spread: spread.map(target),
    traces: async () =>
      options.breakdown ? { api: await apiChild.call<Traces>('marks'), worker: await worker.call<Traces>('marks') } : { api: {}, worker: {} },
    analyze: () => vacuumAnalyze(db),
    quiesce: async () => {
      await admin(async (c) => {
        await until(
          async () => {
            const { rows } = await c.query(
              `SELECT (SELECT count(*) FROM signals WHERE status <> ALL($1::text[]))::int AS open,
                    (SELECT count(*) FROM audit_events WHERE seq IS NULL)::int AS unsealed`,
              [TERMINAL_SIGNAL],
            );
            return rows[0].open === 0 && rows[0].unsealed === 0;
          },
          60_000,
          200,
        );
      }, dbUrl(db));
    },
    async restartWorker(this: SwitchyardPipeline, extraEnv: Record<string, string>, name: string) {
      await worker.stop();
      worker = await startWorker({ ...workerEnv, ...extraEnv }, name);
      this.name = name;
    },
    stop: async () => {
      await Promise.allSettled([apiChild.stop(), worker.stop()]);
      apiChild = api;
      if (options.queue === 'redis') await clearRedisPrefix(prefix);
    },
  };
}

async function clearRedisPrefix(prefix: string): Promise<void> {
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const stream = redis.scanStream({ match: `${prefix}:*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) if (keys.length) await redis.unlink(...keys);
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Phases

interface PhaseResult extends PhaseOutcome {
  pipeline: string;
  scenario: string;
  round: number;
  spec: LoadSpec;
  /** Peak RSS (MB) of each process during the phase. */
  peakRssMb: Record<string, number>;
  memoryDetail?: Record<string, unknown>;
  /** CPU seconds each process (and the whole machine, every process on it) used during the phase, drain included. */
  cpuSeconds: Record<string, number>;
  /** Wall seconds of the phase, drain included. */
  wallSeconds: number;
  drainMs: number;
}

interface RunContext {
  h: Harness;
  options: Options;
  phases: PhaseResult[];
  /** Raw data of the first light phase of each pipeline, for the stage breakdown. */
  breakdownInput: Map<string, { load: LoadResult; arrivals: Arrival[]; traces: { api: Traces; worker: Traces }; workload: Workload }>;
}

async function phase(ctx: RunContext, p: Pipeline, workload: Workload, scenario: string, round: number, spec: LoadSpec, warmupMs = 0): Promise<PhaseResult> {
  const { h } = ctx;
  await h.stub.call('arrivals', { clear: true });
  await p.traces();
  const memory = sampleMemory(p.processes());
  const wallStart = Date.now();
  const profiling = ctx.options.profileDir && p.kind === 'switchyard' ? p.processes() : [];
  await Promise.all(profiling.map((c) => c.call('profileStart')));
  const load = await h.loadgen.call<LoadResult>('run', { targets: workload.map((t) => t.load), spec, feedPort: h.feedPort });
  await Promise.all(profiling.map((c) => c.call('profileStop', join(ctx.options.profileDir!, `${c.name}-${scenario}${round}.cpuprofile`))));
  const accepted = load.sends.filter((s) => s.status === 202).length;
  const fanout = workload[0].load.fanout;
  const drainStarted = Date.now();
  // Wait for every accepted signal's orders, or until nothing has arrived for 15 s.
  let last = -1;
  let lastChange = Date.now();
  await until(
    async () => {
      const n = await h.stub.call<number>('count');
      if (n !== last) {
        last = n;
        lastChange = Date.now();
      }
      return n >= accepted * fanout || Date.now() - lastChange > 15_000;
    },
    120_000,
    50,
  );
  const drainMs = Date.now() - drainStarted;
  const { peakRssMb, cpuSeconds } = memory.stop();
  // Where a Switchyard process's memory is (V8 heap vs the rest), right after the load.
  const memoryDetail =
    p.kind === 'switchyard' && ctx.options.breakdown
      ? Object.fromEntries(await Promise.all(p.processes().map(async (c) => [c.name, await c.call('memory').catch(() => undefined)] as const)))
      : undefined;
  const wallSeconds = Math.round((Date.now() - wallStart) / 10) / 100;
  const arrivals = await h.stub.call<Arrival[]>('arrivals', { clear: true });
  const traces = await p.traces();
  await p.quiesce();
  const outcome = analysePhase(load, arrivals, { expectedOrderIds: (signalId, i) => workload[i].expectedOrderIds(signalId), warmupMs });
  if (scenario === 'a' && !ctx.breakdownInput.has(p.name)) ctx.breakdownInput.set(p.name, { load, arrivals, traces, workload });
  const result: PhaseResult = { pipeline: p.name, scenario, round, spec, peakRssMb, memoryDetail, cpuSeconds, wallSeconds, drainMs, ...outcome };
  ctx.phases.push(result);
  log(
    `  ${scenario} r${round} ${p.name.padEnd(22)} sent ${result.sent} ok ${result.accepted} err ${result.errors} lost ${result.lost} dup ${result.duplicates}` +
      `  p50 ${result.latency.p50} p99 ${result.latency.p99} ms  ${result.throughput}/s  rss ${JSON.stringify(peakRssMb)}  cpu ${JSON.stringify(cpuSeconds)} in ${wallSeconds}s` +
      `\n      slowest per second (ms): ${result.slowestPerSecond.join(' ')}`,
  );
  return result;
}

/**
 * Light load first (JIT, pools, caches), then a closed loop until `warmupSignals` were accepted, then
 * ANALYZE: the prepared statements' generic plans are made from those statistics, and statistics of a
 * near-empty table give plans that scan it whole (a hash join over a sequential scan of signals), which
 * get slower with every signal of the run; a deployed database has its tables' real size.
 */
async function warmup(ctx: RunContext, p: Pipeline, workload: Workload): Promise<void> {
  const send = async (w: Workload, spec: LoadSpec) => {
    const load = await ctx.h.loadgen.call<LoadResult>('run', { targets: w.map((t) => t.load), spec, feedPort: ctx.h.feedPort });
    const accepted = load.sends.filter((s) => s.status === 202).length;
    if (accepted === 0) throw new Error(`${p.name}: warm-up webhooks were refused: ${JSON.stringify(load.sends.slice(0, 2))}`);
    await until(async () => (await ctx.h.stub.call<number>('count')) >= accepted * w[0].load.fanout, 60_000, 50);
    await ctx.h.stub.call('arrivals', { clear: true });
    return accepted;
  };
  await ctx.h.stub.call('arrivals', { clear: true });
  await send(workload, { mode: 'open', rate: ctx.options.rate, durationMs: ctx.options.warmupSeconds * 1000 });
  const bulk = p.spread.length ? p.spread : workload;
  for (let sent = 0; sent < ctx.options.warmupSignals;) sent += await send(bulk, { mode: 'closed', window: ctx.options.window, durationMs: 2000 });
  await p.traces();
  await p.quiesce();
  await p.analyze();
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Breakdown: one signal's timeline from its recorded stage timestamps

const SWITCHYARD_STAGES: StageDef[] = [
  { stage: 'client → api handler', from: 'sent', to: 'api.start' },
  { stage: 'verify (resolve source, HMAC, parse)', from: 'api.start', to: 'api.persist.start' },
  { stage: 'persist signal (1 commit)', from: 'api.persist.start', to: 'api.persist.end' },
  { stage: 'enqueue (BullMQ add)', from: 'api.enqueue.start', to: 'api.enqueue.end' },
  { stage: 'dequeue (add → worker handler)', from: 'api.enqueue.end', to: 'w.start' },
  { stage: 'handler → plan state read sent', from: 'w.start', to: 'w.planstate.start' },
  { stage: 'plan state read (with BEGIN)', from: 'w.planstate.start', to: 'w.planstate.end' },
  { stage: 'plan in JS → insert sent', from: 'w.planstate.end', to: 'w.insert.start' },
  { stage: 'insert + lock + claim reads (pipelined)', from: 'w.insert.start', to: 'w.gate.end' },
  // Since 921fc98 the context check and credential.use go out before the claim reads answer: what is left after them.
  { stage: 'context check + credential.use', from: 'w.gate.end', to: 'w.audit.end' },
  { stage: 'claim commit', from: 'w.audit.end', to: 'w.decrypt.start' },
  { stage: 'decrypt', from: 'w.decrypt.start', to: 'w.decrypt.end' },
  { stage: 'adapter → broker arrival', from: 'w.send.start', to: 'arrival' },
  { stage: 'total', from: 'sent', to: 'arrival' },
];

const BARE_STAGES: StageDef[] = [
  { stage: 'client → api handler', from: 'sent', to: 'api.in' },
  { stage: 'persist signal (1 commit)', from: 'api.persist.start', to: 'api.persist.end' },
  { stage: 'enqueue (BullMQ add)', from: 'api.persist.end', to: 'api.enqueue.end' },
  { stage: 'dequeue (add → worker handler)', from: 'api.enqueue.end', to: 'w.start' },
  { stage: 'order insert (1 commit)', from: 'w.start', to: 'w.persist.end' },
  { stage: 'adapter → broker arrival', from: 'w.send.start', to: 'arrival' },
  { stage: 'total', from: 'sent', to: 'arrival' },
];

const FLOOR_STAGES: StageDef[] = [
  { stage: 'client → api handler', from: 'sent', to: 'api.in' },
  { stage: 'verify (resolve source, HMAC, parse)', from: 'api.in', to: 'api.persist.start' },
  { stage: 'persist signal (1 commit) + enqueue', from: 'api.persist.start', to: 'api.enqueue.end' },
  { stage: 'dequeue (add → worker handler)', from: 'api.enqueue.end', to: 'w.start' },
  { stage: 'order + credential.use + credential read (1 commit)', from: 'w.start', to: 'w.persist.end' },
  { stage: 'decrypt', from: 'w.persist.end', to: 'w.send.start' },
  { stage: 'adapter → broker arrival', from: 'w.send.start', to: 'arrival' },
  { stage: 'total', from: 'sent', to: 'arrival' },
];

function breakdown(ctx: RunContext) {
  const out: Record<string, unknown> = {};
  for (const [name, input] of ctx.breakdownInput) {
    const arrivalOf = new Map(input.arrivals.map((a) => [a.clientOrderId, a.at]));
    const timelines: Record<string, number>[] = [];
    const onPath: { statements: number; commits: number }[] = [];
    const offPath: { statements: number; commits: number }[] = [];
    for (const send of input.load.sends) {
      if (!send.signalId) continue;
      const api = input.traces.api[send.msgId];
      const worker = input.traces.worker[send.signalId];
      const arrival = arrivalOf.get(input.workload[send.target].expectedOrderIds(send.signalId)[0]);
      timelines.push({ sent: send.sentAt, ...api?.marks, ...worker?.marks, ...(arrival !== undefined ? { arrival } : {}) });
      if (api?.onPath && worker?.onPath) {
        onPath.push({ statements: api.onPath.statements + worker.onPath.statements, commits: api.onPath.commits + worker.onPath.commits });
        offPath.push({
          statements: (api.offPath?.statements ?? 0) + (worker.offPath?.statements ?? 0),
          commits: (api.offPath?.commits ?? 0) + (worker.offPath?.commits ?? 0),
        });
      }
    }
    const defs = name === 'bare' ? BARE_STAGES : name.startsWith('floor') ? FLOOR_STAGES : SWITCHYARD_STAGES;
    const stages = stageTable(timelines, defs).filter((s) => s.n > 0);
    // The slowest 1% alone: which stage the tail spends its time in.
    const total = (t: Record<string, number>) => (t.arrival ?? Infinity) - t.sent;
    const slowest = [...timelines].sort((x, y) => total(y) - total(x)).slice(0, Math.max(1, Math.ceil(timelines.length / 100)));
    out[name] = {
      stages,
      slowestStages: stageTable(slowest, defs).filter((s) => s.n > 0),
      statementsOnPath: onPath.length ? median(onPath.map((s) => s.statements)) : undefined,
      commitsOnPath: onPath.length ? median(onPath.map((s) => s.commits)) : undefined,
      statementsAfterSend: offPath.length ? median(offPath.map((s) => s.statements)) : undefined,
      commitsAfterSend: offPath.length ? median(offPath.map((s) => s.commits)) : undefined,
    };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async function runScenarios(ctx: RunContext): Promise<void> {
  const { h, options } = ctx;
  const want = (s: string) => options.scenarios.has(s);
  const light = (): LoadSpec => ({ mode: 'open', rate: options.rate, durationMs: options.lightSeconds * 1000 });
  const saturation = (): LoadSpec => ({ mode: 'closed', window: options.window, durationMs: options.satSeconds * 1000 });
  const satWarm = options.satWarmupSeconds * 1000;

  log('starting the bare pipeline and Switchyard …');
  const refDist = options.compare ? buildRef(options.compare) : undefined;
  const bare = await startBare(h, options.spread);
  // What every Switchyard instance of this run shares.
  const run = { queue: options.queue, breakdown: options.breakdown, perfMap: options.perfMap };
  const sy = await startSwitchyard(h, { ...run, name: 'switchyard', spread: options.spread });
  const ref = refDist ? await startSwitchyard(h, { ...run, name: 'switchyard-ref', distDir: refDist, spread: options.spread }) : undefined;
  const floors = options.floor ? [await startFloor(h, options.spread, false), await startFloor(h, options.spread, true)] : [];
  try {
    await warmup(ctx, bare, bare.single);
    await warmup(ctx, sy, sy.single);
    if (ref) await warmup(ctx, ref, ref.single);
    for (const floor of floors) await warmup(ctx, floor, floor.single);
    // Rounds alternate which pipeline goes first (ABBA), so a drift in machine load hits all alike.
    for (let round = 1; round <= options.rounds; round++) {
      const forward = [bare, ...floors, sy, ref].filter((p): p is Pipeline => p !== undefined);
      const order = round % 2 === 1 ? forward : [...forward].reverse();
      if (want('a')) for (const p of order) await phase(ctx, p, p.single, 'a', round, light());
      if (want('b')) for (const p of order) await phase(ctx, p, p.spread, 'b', round, saturation(), satWarm);
      // For information: saturation on one connection, where per-connection signal order serialises Switchyard.
      if (want('b1') && (round === 1 || ref)) for (const p of order) if (p.kind !== 'floor') await phase(ctx, p, p.single, 'b1', round, saturation(), satWarm);
    }
    if (want('c')) {
      const fan: LoadSpec = { mode: 'open', rate: options.fanoutRate, durationMs: options.otherSeconds * 1000 };
      await warmup(ctx, sy, sy.fanout);
      for (const p of [bare, sy]) await phase(ctx, p, p.fanout, 'c', 1, fan);
    }
  } finally {
    await sy.stop();
    await ref?.stop();
    for (const floor of floors) await floor.stop();
  }

  if (want('d')) {
    const kms = await startSwitchyard(h, { ...run, name: 'switchyard-kms5ms-cache', spread: 0, kmsLatencyMs: 5 });
    try {
      const spec: LoadSpec = { mode: 'open', rate: options.rate, durationMs: options.otherSeconds * 1000 };
      await warmup(ctx, kms, kms.single);
      await phase(ctx, kms, kms.single, 'd', 1, spec);
      await kms.restartWorker({ DATA_KEY_CACHE_TTL_MS: '0' }, 'switchyard-kms5ms-nocache');
      await warmup(ctx, kms, kms.single);
      await phase(ctx, kms, kms.single, 'd', 1, spec);
      await phase(ctx, bare, bare.single, 'd', 1, spec);
    } finally {
      await kms.stop();
    }
  }

  if (want('e') && options.queue === 'redis') {
    const pgq = await startSwitchyard(h, { ...run, name: 'switchyard-pg-queue', spread: options.spread, queue: 'postgres' });
    try {
      await warmup(ctx, pgq, pgq.single);
      for (const p of [bare, pgq]) await phase(ctx, p, p.single, 'e', 1, { mode: 'open', rate: options.rate, durationMs: options.otherSeconds * 1000 });
      for (const p of [bare, pgq]) await phase(ctx, p, p.spread, 'e', 1, saturation(), satWarm);
    } finally {
      await pgq.stop();
    }
  }
  await bare.stop();
}

// ---------------------------------------------------------------------------------------------
// Report

function ratios(ctx: RunContext) {
  const of = (scenario: string, pipeline: string, mode?: LoadSpec['mode']) =>
    ctx.phases.filter((p) => p.scenario === scenario && p.pipeline === pipeline && (!mode || p.spec.mode === mode)).sort((a, b) => a.round - b.round);
  const paired = (scenario: string, pick: (p: PhaseResult) => number, base = 'bare', subject = 'switchyard') => {
    const bare = of(scenario, base);
    const sy = of(scenario, subject);
    const perRound = bare.map((b, i) => (sy[i] ? round(pick(sy[i]) / pick(b), 3) : NaN)).filter(Number.isFinite);
    return { perRound, median: round(median(perRound), 3) };
  };
  const result: Record<string, any> = {};
  if (of('a', 'bare').length) {
    result.p50 = { ...paired('a', (p) => p.latency.p50), budget: 1.25 };
    result.p99 = { ...paired('a', (p) => p.latency.p99), budget: 1.5 };
  }
  if (of('b', 'bare').length) result.throughput = { ...paired('b', (p) => p.throughput), budget: 0.8 };
  for (const floor of ['floor', 'floor-batched'].filter((f) => of('a', f).length)) {
    (result.floors ??= {} as Record<string, unknown>)[floor] = {
      p50: paired('a', (p) => p.latency.p50, 'bare', floor),
      p99: paired('a', (p) => p.latency.p99, 'bare', floor),
      throughput: of('b', floor).length ? paired('b', (p) => p.throughput, 'bare', floor) : undefined,
      switchyardP50: paired('a', (p) => p.latency.p50, floor),
      switchyardThroughput: of('b', floor).length ? paired('b', (p) => p.throughput, floor) : undefined,
    };
  }
  if (of('a', 'switchyard-ref').length) {
    result.vsRef = {
      p50: paired('a', (p) => p.latency.p50, 'switchyard-ref'),
      p99: paired('a', (p) => p.latency.p99, 'switchyard-ref'),
      ack50: paired('a', (p) => p.ack.p50, 'switchyard-ref'),
      throughput: of('b', 'switchyard-ref').length ? paired('b', (p) => p.throughput, 'switchyard-ref') : undefined,
      throughputOneConnection: of('b1', 'switchyard-ref').length ? paired('b1', (p) => p.throughput, 'switchyard-ref') : undefined,
      refP50: paired('a', (p) => p.latency.p50, 'bare', 'switchyard-ref'),
      refThroughput: of('b', 'switchyard-ref').length ? paired('b', (p) => p.throughput, 'bare', 'switchyard-ref') : undefined,
    };
  }
  return result;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

function report(ctx: RunContext, env: Record<string, unknown>, r: Record<string, any>, stages: Record<string, any>): string {
  const lines: string[] = [];
  lines.push(`Switchyard bench — ${env.date}  (${env.cpus} CPUs, node ${env.node}, queue ${ctx.options.queue})`);
  lines.push('');
  const head = [
    'scenario',
    'pipeline',
    'round',
    'sent',
    'errors',
    'lost',
    'dup',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'max ms',
    'orders/s',
    'api MB',
    'worker MB',
    'cpu ms/signal api+worker',
    'machine busy',
  ];
  const rows = ctx.phases.map((p) => {
    const rss = Object.entries(p.peakRssMb);
    const apiMb = rss.find(([k]) => k.endsWith('api'))?.[1];
    const workerMb = rss.find(([k]) => k.endsWith('worker'))?.[1];
    return [
      `${p.scenario} ${p.spec.mode === 'open' ? `${p.spec.rate}/s` : `closed w=${p.spec.window}`}`,
      p.pipeline,
      String(p.round),
      String(p.sent),
      String(p.errors),
      String(p.lost),
      String(p.duplicates),
      String(p.latency.p50),
      String(p.latency.p90),
      String(p.latency.p99),
      String(p.latency.max),
      String(p.throughput),
      String(apiMb ?? ''),
      String(workerMb ?? ''),
      (() => {
        const api = Object.entries(p.cpuSeconds).find(([k]) => k.endsWith('-api'))?.[1] ?? NaN;
        const worker = Object.entries(p.cpuSeconds).find(([k]) => k.endsWith('-worker'))?.[1] ?? NaN;
        return `${round((api * 1000) / Math.max(1, p.accepted), 2)}+${round((worker * 1000) / Math.max(1, p.accepted), 2)}`;
      })(),
      `${round((100 * (p.cpuSeconds.machine ?? NaN)) / (p.wallSeconds * cpus().length), 0)}%`,
    ];
  });
  lines.push(table([head, ...rows]));
  lines.push('');
  if (r.p50) lines.push(`ratio p50 (a)        ${r.p50.median}  (budget ≤ ${r.p50.budget})  per round ${r.p50.perRound.join(', ')}`);
  if (r.p99) lines.push(`ratio p99 (a)        ${r.p99.median}  (budget ≤ ${r.p99.budget})  per round ${r.p99.perRound.join(', ')}`);
  if (r.throughput) lines.push(`ratio throughput (b) ${r.throughput.median}  (budget ≥ ${r.throughput.budget})  per round ${r.throughput.perRound.join(', ')}`);
  if (r.vsRef) {
    const v = r.vsRef;
    lines.push(
      `switchyard / switchyard-ref (${ctx.options.compare}): p50 ${v.p50.median} [${v.p50.perRound.join(', ')}], p99 ${v.p99.median} [${v.p99.perRound.join(', ')}], ack p50 ${v.ack50.median}` +
        (v.throughput ? `, throughput ${v.throughput.median} [${v.throughput.perRound.join(', ')}]` : '') +
        (v.throughputOneConnection ? `, one-connection throughput ${v.throughputOneConnection.median} [${v.throughputOneConnection.perRound.join(', ')}]` : ''),
    );
    lines.push(`switchyard-ref / bare: p50 ${v.refP50.median}` + (v.refThroughput ? `, throughput ${v.refThroughput.median}` : ''));
  }
  for (const [floor, f] of Object.entries<any>(r.floors ?? {})) {
    lines.push(
      `${floor} / bare: p50 ${f.p50.median} [${f.p50.perRound.join(', ')}], p99 ${f.p99.median} [${f.p99.perRound.join(', ')}]` +
        (f.throughput ? `, throughput ${f.throughput.median} [${f.throughput.perRound.join(', ')}]` : ''),
    );
    lines.push(`switchyard / ${floor}: p50 ${f.switchyardP50.median}` + (f.switchyardThroughput ? `, throughput ${f.switchyardThroughput.median}` : ''));
  }
  for (const [name, b] of Object.entries(stages)) {
    lines.push('');
    lines.push(
      `stages of ${name} in (a), ms (median / mean / p99):  statements on path ${b.statementsOnPath ?? '?'}, commits on path ${b.commitsOnPath ?? '?'}, after the send ${b.statementsAfterSend ?? '?'} statements / ${b.commitsAfterSend ?? '?'} commits`,
    );
    lines.push(
      table([['stage', 'median', 'mean', 'p99', 'n'], ...b.stages.map((s: any) => [s.stage, String(s.median), String(s.mean), String(s.p99), String(s.n)])]),
    );
    lines.push(`the slowest 1% of ${name}'s signals in (a), ms (median / mean):`);
    lines.push(table([['stage', 'median', 'mean', 'n'], ...b.slowestStages.map((s: any) => [s.stage, String(s.median), String(s.mean), String(s.n)])]));
  }
  return lines.join('\n');
}

function versions(): Record<string, string> {
  const v = (pkg: string) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version as string;
    } catch {
      return '?';
    }
  };
  let commit = '?';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
  } catch {
    /* not a checkout */
  }
  return {
    commit,
    fastify: v('fastify'),
    '@nestjs/core': v('@nestjs/core'),
    bullmq: v('bullmq'),
    ioredis: v('ioredis'),
    pg: v('pg'),
    '@prisma/client': v('@prisma/client'),
    undici: v('undici'),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const h = new Harness();
  const ctx: RunContext = { h, options, phases: [], breakdownInput: new Map() };
  const started = new Date();
  const loadBefore = loadavg();
  const env: Record<string, unknown> = {
    date: started.toISOString(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGb: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    postgres: await admin(async (c) => (await c.query('SHOW server_version')).rows[0].server_version),
    redis: await (async () => {
      const redis = new IORedis(REDIS_URL);
      try {
        return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
      } finally {
        redis.disconnect();
      }
    })(),
    versions: versions(),
  };
  try {
    await h.start();
    await runScenarios(ctx);
  } finally {
    await h.stop();
    await Promise.allSettled([...Child.running].map((c) => c.stop()));
    for (const name of createdDatabases) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
  }
  env.loadAverage = { before: loadBefore.map((l) => round(l, 2)), after: loadavg().map((l) => round(l, 2)) };
  const r = ratios(ctx);
  const stages = breakdown(ctx);
  const text = report(ctx, env, r, stages);
  process.stdout.write(`${text}\n`);
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${started.toISOString().replace(/[:]/g, '-').replace(/\..+/, '')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ environment: env, options: { ...options, scenarios: [...options.scenarios] }, ratios: r, breakdown: stages, phases: ctx.phases }, null, 2)}\n`,
  );
  process.stdout.write(`\nresults: ${file}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
