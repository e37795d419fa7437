import { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { freePort } from '../../../src/common/free-port';
import { kill9, sleep, spawnTracked, waitFor } from './os-processes';

/**
 * A Redis of our own on a free port (never the machine's 6379), started as a child we can kill -9.
 * Persistence follows the deployment the design asks for (AOF, noeviction); `appendfsync` is the knob:
 * `always` loses nothing on a crash, `everysec` (Redis' default) may lose the last second.
 */
export class PrivateRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'sy-faults-redis-'));
  readonly logFile = join(this.dir, 'redis.log');
  port = 0;
  restarts = 0;
  private child?: ChildProcess;

  constructor(private readonly appendfsync: 'always' | 'everysec' | 'off') {}

  static async start(appendfsync: 'always' | 'everysec' | 'off' = 'always'): Promise<PrivateRedis> {
    const redis = new PrivateRedis(appendfsync);
    redis.port = await freePort();
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const persistence = this.appendfsync === 'off' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', this.appendfsync];
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawnTracked(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        ...persistence,
        '--dir',
        this.dir,
        '--maxmemory-policy',
        'noeviction',
        '--daemonize',
        'no',
        '--protected-mode',
        'yes',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.child = child;
    await waitFor(
      'private Redis to answer PING',
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}); see ${this.logFile}`);
        const client = new IORedis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        try {
          await client.connect();
          return (await client.ping()) === 'PONG';
        } finally {
          client.disconnect();
        }
      },
      20_000,
    );
  }

  async kill9(): Promise<void> {
    await kill9(this.child);
    this.child = undefined;
  }

  async restart(downMs: number): Promise<void> {
    await this.kill9();
    await sleep(downMs);
    await this.start();
    this.restarts += 1;
  }

  /** kill -9, then the data is gone (as after a restart without persistence or a failover to a lagging replica). */
  async restartEmpty(downMs: number): Promise<void> {
    await this.kill9();
    for (const entry of readdirSync(this.dir)) if (entry !== 'redis.log') rmSync(join(this.dir, entry), { recursive: true, force: true });
    await sleep(downMs);
    await this.start();
    this.restarts += 1;
  }

  async stop(): Promise<void> {
    await this.kill9();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
