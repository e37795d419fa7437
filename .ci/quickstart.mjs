// The README's quick start as a new user meets it: `npm start` on an empty DATA_DIR, then one signal
// through the API to a paper fill, then Ctrl-C. Run from an installed checkout: `node .ci/quickstart.mjs`.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const port = await new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});
const base = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-quickstart-'));
const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: String(port) };
const started = Date.now();
const service = spawn('npm', ['start'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
let output = '';
service.stdout.on('data', (d) => (output += d));
service.stderr.on('data', (d) => (output += d));
const exited = new Promise((resolve) => service.once('exit', (code, signal) => resolve(code ?? signal)));

function fail(message) {
  console.error(`quickstart on node ${process.version}: ${message}\n--- npm start output ---\n${output}`);
  try {
    process.kill(-service.pid, 'SIGKILL');
  } catch {
    // already gone: nothing to stop
  }
  process.exit(1);
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function call(method, path, token, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function expectStatus(status, method, path, token, body) {
  const res = await call(method, path, token, body);
  if (res.status !== status) fail(`${method} ${path}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function until(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (service.exitCode !== null) fail(`npm start exited (${service.exitCode}) while waiting for ${what}`);
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

await until('/readyz', async () => ((await call('GET', '/readyz')).status === 200 ? true : undefined), 240_000);
const ready = Date.now() - started;
const platform = /Platform admin token[^\n]*\n\s+(syp_\S+)/.exec(output)?.[1] ?? fail('no platform token printed');

const created = await expectStatus(201, 'POST', '/v1/workspaces', platform, { name: 'desk', ownerEmail: 'me@example.com' });
const owner = created.token;
if (typeof owner !== 'string') fail(`POST /v1/workspaces: token is not the token string: ${JSON.stringify(created.token)}`);
const connection = await expectStatus(201, 'POST', '/v1/connections', owner, { broker: 'paper', label: 'paper' });
const source = await expectStatus(201, 'POST', '/v1/sources', owner, { name: 'tradingview', auth: 'token' });
await expectStatus(201, 'POST', '/v1/routes', owner, { sourceId: source.id, connectionId: connection.id, sizing: { mode: 'fixed', value: '1' } });
const accepted = await call('POST', new URL(source.webhookUrl).pathname, undefined, {
  ticker: 'NASDAQ:AAPL',
  action: 'buy',
  price: '190.5',
  id: 'quickstart-1',
});
if (accepted.status !== 202) fail(`webhook: expected 202, got ${accepted.status} ${JSON.stringify(accepted.body)}`);

const signal = await until(
  'a paper fill',
  async () => {
    const view = (await call('GET', `/v1/signals/${accepted.body.signalId}`, owner)).body;
    if (['blocked', 'failed'].includes(view?.status)) fail(`signal ended ${view.status}: ${JSON.stringify(view)}`);
    return view?.orders?.some((o) => o.status === 'filled') ? view : undefined;
  },
  30_000,
);

process.kill(-service.pid, 'SIGINT'); // what a terminal's Ctrl-C does to the foreground group
const code = await exited;
// npm re-raises the interrupt its script stopped on; what matters is that nothing of the group lives on.
if (![0, 130, 'SIGINT'].includes(code)) fail(`npm start stopped with ${code} on Ctrl-C`);
for (const deadline = Date.now() + 30_000; groupAlive(service.pid); await new Promise((r) => setTimeout(r, 250))) {
  if (Date.now() > deadline) fail('the api, the worker or the database outlived Ctrl-C');
}
if (/exited unexpectedly|Unhandled 'error'/.test(output)) fail('an unclean stop');
console.log(`quickstart on node ${process.version}: ready in ${(ready / 1000).toFixed(1)} s (build included), signal ${signal.id} filled on paper, clean stop`);
