import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { freePort } from '../../src/common/free-port';
import { SERVICE_NODE_FLAGS } from '../../src/common/service-node-flags';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http } from '../support/api-app';

const LAUNCHER = join(__dirname, '..', '..', 'dist', 'launcher.js');

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** `npm start` on a fresh machine: embedded PostgreSQL under an empty DATA_DIR, api + worker, clean stop. */
describe('npm start from an empty DATA_DIR', () => {
  let launcher: ChildProcess;
  let output = '';
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-start-'));

  afterAll(() => {
    if (!launcher || launcher.exitCode !== null) return;
    try {
      process.kill(-launcher.pid!, 'SIGKILL'); // the detached launcher leads its own process group
    } catch {
      launcher.kill('SIGKILL');
    }
  });

  it('starts embedded Postgres, prints the URL and a platform token once, reaches /readyz, and stops cleanly', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      PORT: String(port),
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
    };
    launcher = spawn(process.execPath, [LAUNCHER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    launcher.stdout!.on('data', (d) => (output += d));
    launcher.stderr!.on('data', (d) => (output += d));

    const base = `http://127.0.0.1:${port}`;
    await until(async () => ((await http(base, 'GET', '/readyz')).status === 200 ? true : undefined), 90_000);
    expect(output).toContain(`Switchyard is starting at ${base}`);
    const token = /Platform admin token[^\n]*\n\s+(syp_\S+)/.exec(output)?.[1];
    expect(token).toBeDefined();
    expect(output.split(token!).length).toBe(2); // printed exactly once

    const created = await http(base, 'POST', '/v1/workspaces', { token, body: { name: 'first', ownerEmail: 'me@example.com' } });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^sy_[A-Za-z0-9_-]{43}$/);
    expect(created.body.tokenInfo).toMatchObject({ role: 'owner', hint: `sy_…${created.body.token.slice(-4)}` });
    expect(statSync(join(dataDir, 'db-roles.json')).mode & 0o777).toBe(0o600);

    const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
    launcher.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(http(base, 'GET', '/healthz')).rejects.toThrow();
  }, 150_000);

  // A terminal's Ctrl-C signals the whole foreground process group at once, PostgreSQL included.
  it('starts again on the same DATA_DIR and stops on Ctrl-C with the database outliving the api and the worker', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      PORT: String(port),
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
    };
    output = '';
    launcher = spawn(process.execPath, [LAUNCHER], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    launcher.stdout!.on('data', (d) => (output += d));
    launcher.stderr!.on('data', (d) => (output += d));

    const base = `http://127.0.0.1:${port}`;
    await until(async () => ((await http(base, 'GET', '/readyz')).status === 200 ? true : undefined), 90_000);
    const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
    process.kill(-launcher.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    expect(output).not.toMatch(/terminating connection|Unhandled 'error'|exited unexpectedly/);
    await expect(http(base, 'GET', '/healthz')).rejects.toThrow();
    expect(postgresRunningIn(dataDir)).toBe(false);
  }, 150_000);

  // kill -9 of the launcher (an OOM kill, a crashed terminal session) must not leave the api holding its port.
  it('runs the api and the worker with the service flags, and stops them and the database when the launcher itself is killed', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      PORT: String(port),
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
    };
    launcher = spawn(process.execPath, [LAUNCHER], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const base = `http://127.0.0.1:${port}`;
    await until(async () => ((await http(base, 'GET', '/readyz')).status === 200 ? true : undefined), 90_000);
    const services = groupMembers(launcher.pid!).filter((args) => /dist\/(main|worker)\.js$/.test(args));
    expect(services).toHaveLength(2);
    for (const args of services) expect(args.split(' ')).toEqual(expect.arrayContaining([...SERVICE_NODE_FLAGS]));

    process.kill(launcher.pid!, 'SIGKILL');
    await until(async () => (groupMembers(launcher.pid!).length === 0 ? true : undefined), 30_000);
    await until(async () => (postgresRunningIn(dataDir) ? undefined : true), 30_000);
    await expect(http(base, 'GET', '/healthz')).rejects.toThrow();
  }, 150_000);
});

/** The command lines of a process group's live members (a detached launcher leads its own). */
function groupMembers(pgid: number): string[] {
  return execFileSync('ps', ['-eo', 'pgid=,stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && m[1] === String(pgid) && !m[2].startsWith('Z'))
    .map((m) => m[3]);
}

function postgresRunningIn(dataDir: string): boolean {
  return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(join(dataDir, 'postgres'));
}
