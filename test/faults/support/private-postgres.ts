import { ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, createWriteStream, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../../src/common/free-port';
import { childPids, isAlive, kill9, sleep, spawnTracked, waitFor } from './os-processes';

/** The machine's PostgreSQL binaries: FAULTS_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin. */
function pgBin(): string {
  if (process.env.FAULTS_PG_BIN) return process.env.FAULTS_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('no PostgreSQL binaries found: set FAULTS_PG_BIN to the directory holding initdb and postgres');
  return join(root, newest, 'bin');
}
const BIN = pgBin();

/**
 * A throwaway PostgreSQL cluster of our own (the machine's binaries, a temp directory, a free port),
 * run as the `postgres` OS user, so a test can kill -9 it without touching the shared server on 5432.
 * Host connections need a password (scram), as in production; the runtime roles get theirs from the bootstrap.
 */
export class PrivatePostgres {
  readonly root = mkdtempSync(join(tmpdir(), 'sy-faults-pg-'));
  readonly dataDir = join(this.root, 'data');
  readonly logFile = join(this.root, 'postgres.log');
  port = 0;
  restarts = 0;
  private readonly password = randomBytes(18).toString('base64url');
  private child?: ChildProcess;
  private uid = 0;
  private gid = 0;

  static async start(): Promise<PrivatePostgres> {
    const pg = new PrivatePostgres();
    await pg.init();
    await pg.start();
    return pg;
  }

  /** Superuser URL (bootstrap, assertions and scans only). */
  url(database = 'postgres'): string {
    return `postgresql://postgres:${this.password}@127.0.0.1:${this.port}/${database}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async init(): Promise<void> {
    // PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` OS user, otherwise to us.
    const asRoot = process.getuid?.() === 0;
    this.uid = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : process.getuid!();
    this.gid = asRoot ? Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) : process.getgid!();
    const pwfile = join(this.root, 'pw');
    writeFileSync(pwfile, this.password);
    for (const path of [this.root, pwfile]) chownSync(path, this.uid, this.gid);
    chmodSync(this.root, 0o700);
    execFileSync(
      join(BIN, 'initdb'),
      ['-D', this.dataDir, '-U', 'postgres', '--auth-host=scram-sha-256', '--auth-local=trust', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-sync'],
      {
        uid: this.uid,
        gid: this.gid,
        stdio: 'ignore',
      },
    );
    rmSync(pwfile);
    this.port = await freePort();
  }

  /** Starts the postmaster (again, after a kill: PostgreSQL replays its WAL as after any crash). */
  async start(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      const log = createWriteStream(this.logFile, { flags: 'a' });
      const child = spawnTracked(
        join(BIN, 'postgres'),
        [
          '-D',
          this.dataDir,
          '-p',
          String(this.port),
          '-k',
          this.root,
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          'max_connections=300',
          '-c',
          'shared_buffers=64MB',
        ],
        { uid: this.uid, gid: this.gid, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout!.pipe(log);
      child.stderr!.pipe(log);
      this.child = child;
      try {
        await waitFor(
          'private PostgreSQL to accept connections',
          async () => {
            if (child.exitCode !== null || child.signalCode !== null)
              throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}); see ${this.logFile}`);
            const c = new Client({ connectionString: this.url(), connectionTimeoutMillis: 1000 });
            await c.connect();
            await c.end();
            return true;
          },
          Math.min(20_000, Math.max(1000, deadline - Date.now())),
          100,
        );
        return;
      } catch (err) {
        await kill9(child);
        // A backend of the killed postmaster may still hold the old shared memory for a moment.
        if (Date.now() > deadline) throw err;
        await sleep(Math.min(2000, 250 * attempt));
      }
    }
  }

  /** kill -9 of the postmaster and every backend (a crash: no shutdown checkpoint, WAL replay on start). */
  async kill9(): Promise<void> {
    const pid = this.child?.pid;
    if (!pid) return;
    const backends = childPids(pid);
    await kill9(this.child);
    for (const backend of [...backends, ...childPids(pid)]) {
      try {
        process.kill(backend, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await waitFor('the killed PostgreSQL backends to exit', () => backends.every((b) => !isAlive(b)), 10_000, 50).catch(() => undefined);
    this.child = undefined;
  }

  async restart(downMs: number): Promise<void> {
    await this.kill9();
    await sleep(downMs);
    await this.start();
    this.restarts += 1;
  }

  async query<R extends object = Record<string, unknown>>(database: string, text: string, values: unknown[] = []): Promise<R[]> {
    const c = new Client({ connectionString: this.url(database) });
    await c.connect();
    try {
      return (await c.query<R>(text, values)).rows;
    } finally {
      await c.end();
    }
  }

  async stop(): Promise<void> {
    await this.kill9();
    if (existsSync(this.root)) rmSync(this.root, { recursive: true, force: true });
  }
}
