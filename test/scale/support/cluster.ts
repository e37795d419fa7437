import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../../src/common/free-port';

/** The build the scale suite's global setup compiled (see global-setup.ts). */
export interface DistSnapshot {
  dir: string;
  main: string;
  worker: string;
  remove(): void;
}

export function snapshotDist(): DistSnapshot {
  const dir = process.env.SWITCHYARD_SCALE_BUILD;
  if (!dir || !existsSync(join(dir, 'dist', 'main.js')) || !existsSync(join(dir, 'dist', 'worker.js'))) {
    throw new Error('no build: run the scale suite with its config (npm run test:scale), whose global setup compiles src/');
  }
  return {
    dir,
    main: join(dir, 'dist', 'main.js'),
    worker: join(dir, 'dist', 'worker.js'),
    remove: () => undefined, // the global teardown removes the build
  };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** One api or worker process started from the snapshot, with its output kept for assertions. */
export class SwitchyardProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly url?: string,
  ) {
    const collect = (chunk: Buffer) => {
      const text = this.partial + chunk.toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts.filter(Boolean));
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Parsed pino lines (other output is skipped). */
  json(): LogLine[] {
    const out: LogLine[] = [];
    for (const line of this.lines) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as LogLine);
      } catch {
        /* not a log line */
      }
    }
    return out;
  }

  text(): string {
    return [...this.lines, this.partial].join('\n');
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM (graceful: in-flight jobs finish), SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface ClusterEnv {
  dataDir: string;
  apiDatabaseUrl: string;
  workerDatabaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  platformToken: string;
  jwtSecret: string;
  alpacaUrl: string;
  binanceUrl: string;
  extra?: Record<string, string>;
}

/** The environment every process gets: production mode, runtime logins through PgBouncer only. */
export function processEnv(c: ClusterEnv, own: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    KMS_PROVIDER: 'local',
    KMS_ALLOW_LOCAL_IN_PRODUCTION: 'true',
    DATA_DIR: c.dataDir,
    DATABASE_API_URL: c.apiDatabaseUrl,
    DATABASE_WORKER_URL: c.workerDatabaseUrl,
    REDIS_URL: c.redisUrl,
    QUEUE_PREFIX: c.queuePrefix,
    PLATFORM_ADMIN_TOKEN: c.platformToken,
    JWT_SECRET: c.jwtSecret,
    BROKER_ALPACA_BASE_URL: c.alpacaUrl,
    BROKER_ALPACA_LIVE_BASE_URL: c.alpacaUrl,
    BROKER_BINANCE_BASE_URL: c.binanceUrl,
    BROKER_BINANCE_TESTNET_BASE_URL: c.binanceUrl,
    BROKER_TIMEOUT_MS: '3000',
    // Limits are per api process; the test's one client IP sends everything.
    RATE_LIMIT_PER_MINUTE: '1000000',
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '1000000',
    WEBHOOK_IP_RATE_LIMIT_PER_MINUTE: '1000000',
    LOG_LEVEL: 'warn',
    ...c.extra,
    ...own,
  };
}

export type ApiProcess = SwitchyardProcess & { readonly url: string };

export async function startApiProcess(snapshot: DistSnapshot, name: string, env: ClusterEnv): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [snapshot.main], {
    cwd: snapshot.dir,
    env: processEnv(env, { PORT: String(port), HOST: '127.0.0.1', METRICS_PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new SwitchyardProcess(name, child, `http://127.0.0.1:${port}`);
  await waitFor(proc, async () => {
    const res = await fetch(`${proc.url}/readyz`).catch(() => undefined);
    return res?.status === 200;
  });
  return proc as ApiProcess;
}

/** A worker logs at info so the test can tell which process settled which signal ('signal routed'). */
export async function startWorkerProcess(snapshot: DistSnapshot, name: string, env: ClusterEnv): Promise<SwitchyardProcess> {
  const proc = spawnWorkerProcess(snapshot, name, env);
  await waitFor(proc, async () => workerStarted(proc));
  return proc;
}

/** Starts a worker without waiting for it (for tests that expect it to refuse to start). */
export function spawnWorkerProcess(snapshot: DistSnapshot, name: string, env: ClusterEnv): SwitchyardProcess {
  const child = spawn(process.execPath, [snapshot.worker], {
    cwd: snapshot.dir,
    env: processEnv(env, { LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new SwitchyardProcess(name, child);
}

export function workerStarted(proc: SwitchyardProcess): boolean {
  return proc.json().some((l) => l.msg === 'workers started');
}

export async function waitFor(proc: SwitchyardProcess, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running) throw new Error(`${proc.name} exited during start:\n${proc.text()}`);
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${proc.name} was not ready in ${timeoutMs} ms:\n${proc.text()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
