import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { freePort } from '../../../src/common/free-port';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Debian's pgbouncer, started by a test on a free port with a config the test writes.
 * PGBOUNCER_BIN overrides the lookup; otherwise PATH, then /usr/sbin and /usr/bin (Debian installs
 * it in /usr/sbin, which a non-root PATH often lacks).
 */
export function findPgbouncer(): string | undefined {
  const candidates = [
    process.env.PGBOUNCER_BIN,
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, 'pgbouncer')),
    '/usr/sbin/pgbouncer',
    '/usr/bin/pgbouncer',
    '/usr/local/sbin/pgbouncer',
    '/usr/local/bin/pgbouncer',
  ];
  return candidates.find((path): path is string => Boolean(path) && existsSync(path!));
}

/** The loud message a scale suite prints when it cannot run. */
export const PGBOUNCER_MISSING = [
  '',
  '############################################################################',
  '#  SKIPPED: pgbouncer was not found (PATH, /usr/sbin, /usr/bin; or set      #',
  '#  PGBOUNCER_BIN). The scale-out and RLS-under-pooling proofs did NOT run.   #',
  '#  Install it:  apt-get update && apt-get install -y pgbouncer               #',
  '############################################################################',
  '',
].join('\n');

export function pgbouncerVersion(bin: string): string {
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
}

/** PgBouncer keeps protocol-level prepared statements across transaction-pooled server connections from 1.21 (max_prepared_statements). */
function keepsPreparedStatements(version: string): boolean {
  const [major, minor] = (/(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  return major > 1 || (major === 1 && minor >= 21);
}

export interface PgbouncerDatabase {
  /** The name clients connect to. */
  alias: string;
  host: string;
  port: number;
  dbname: string;
  /** Server connections per (database, user) pair. */
  poolSize?: number;
}

export interface PgbouncerOptions {
  databases: PgbouncerDatabase[];
  /** Logins PgBouncer accepts (SCRAM, checked by PgBouncer itself) and uses towards PostgreSQL. */
  users: Record<string, string>;
  defaultPoolSize?: number;
  maxClientConn?: number;
}

export interface RunningPgbouncer {
  port: number;
  version: string;
  /** Whether Switchyard's prepared statements may pass (else its processes need DATABASE_PREPARED_STATEMENTS=false). */
  preparedStatements: boolean;
  /** A URL through PgBouncer for one of its databases. */
  url(alias: string, user: string, password: string): string;
  /** Everything PgBouncer wrote to stderr (its log). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts PgBouncer in transaction pooling mode. Session state does not survive a transaction in this
 * mode (that is what the tests prove Switchyard never relies on); server_reset_query is left empty,
 * as PgBouncer ignores it in transaction mode anyway, so nothing papers over a leak.
 * PgBouncer refuses to run as root; as root it is started with `-u postgres` and its files are handed over.
 */
export async function startPgbouncer(bin: string, options: PgbouncerOptions): Promise<RunningPgbouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pgbouncer-'));
  const port = await freePort();
  const version = pgbouncerVersion(bin);
  const preparedStatements = keepsPreparedStatements(version);
  const userlist = Object.entries(options.users)
    .map(([user, password]) => `"${user}" "${password.replace(/"/g, '""')}"`)
    .join('\n');
  const databases = options.databases
    .map((d) => `${d.alias} = host=${d.host} port=${d.port} dbname=${d.dbname}${d.poolSize ? ` pool_size=${d.poolSize}` : ''}`)
    .join('\n');
  const config = [
    '[databases]',
    databases,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${options.defaultPoolSize ?? 10}`,
    'min_pool_size = 0',
    'reserve_pool_size = 0',
    `max_client_conn = ${options.maxClientConn ?? 500}`,
    'server_reset_query =',
    ...(preparedStatements ? ['max_prepared_statements = 200'] : []),
    // node-postgres sends no extra_float_digits, but psql and JDBC do; harmless to accept.
    'ignore_startup_parameters = extra_float_digits',
    'query_wait_timeout = 60',
    'log_connections = 0',
    'log_disconnections = 0',
    `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'userlist.txt'), `${userlist}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'pgbouncer.ini'), config, { mode: 0o600 });

  const args = [join(dir, 'pgbouncer.ini')];
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    for (const f of ['', 'userlist.txt', 'pgbouncer.ini']) chownSync(join(dir, f), uid, gid);
    chmodSync(dir, 0o700);
    args.unshift('-u', 'postgres');
  }
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  await waitForListening(
    port,
    () => child.exitCode !== null,
    () => log,
  );
  return {
    port,
    version,
    preparedStatements,
    url: (alias, user, password) => `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${alias}`,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForListening(port: number, died: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (died()) throw new Error(`pgbouncer exited at start:\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`pgbouncer did not listen on ${port}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
