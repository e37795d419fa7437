import { Client } from 'pg';
import { http } from '../support/api-app';
import { startWorker } from '../support/worker-app';
import { PositionsWorld } from './positions-world';

/** The plain decimal string of a stub's fixed-point amount ("994000.00000000" → "994000"). */
const plain = (value: string) => String(Number(value));

/** Positions and account at each broker, fetched by the worker into a snapshot, answered by the api from it. */
describe('positions and account snapshots', () => {
  let world: PositionsWorld;
  beforeAll(async () => {
    world = await PositionsWorld.start('postgres', { SNAPSHOT_MAX_AGE_MS: '400', SNAPSHOT_WAIT_MS: '3000' });
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('Alpaca: the position a market fill opened, valued as the broker values it, audited as a snapshot credential use', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const connection = await routing.connect(ws.token, 'alpaca');
    routing.alpaca.setPrice('AAPL', 100);
    expect((await world.trade(ws.token, connection, { ticker: 'NASDAQ:AAPL', action: 'buy' }, '10')).status).toBe('routed');

    const positions = await world.get(ws.token, `/v1/connections/${connection}/positions`);
    expect(positions.status).toBe(200);
    expect(positions.body).toMatchObject({
      connectionId: connection,
      stale: false,
      positions: [{ symbol: 'AAPL', quantity: '10', averagePrice: '100', marketValue: '1000', unrealizedPnl: '0' }],
    });
    expect(Date.parse(positions.body.fetchedAt)).toBeGreaterThan(Date.now() - 5_000);

    // Within the max age the snapshot is answered as stored: the broker is not asked again.
    const asked = routing.alpaca.requests.filter((r) => r.path === '/v2/positions').length;
    const again = await world.get(ws.token, `/v1/connections/${connection}/account`);
    expect(again.body).toMatchObject({
      fetchedAt: positions.body.fetchedAt,
      stale: false,
      account: { currency: 'USD', equity: '100000', cash: '99000', buyingPower: '99000' },
    });
    expect(routing.alpaca.requests.filter((r) => r.path === '/v2/positions').length).toBe(asked);

    // Older than the max age: fetched again, so the market's move shows.
    routing.alpaca.setPrice('AAPL', 110);
    await new Promise((r) => setTimeout(r, 450));
    const moved = await world.get(ws.token, `/v1/connections/${connection}/positions`);
    expect(moved.body).toMatchObject({
      stale: false,
      positions: [{ symbol: 'AAPL', quantity: '10', averagePrice: '100', marketValue: '1100', unrealizedPnl: '100' }],
    });
    expect(Date.parse(moved.body.fetchedAt)).toBeGreaterThan(Date.parse(positions.body.fetchedAt));

    const uses = await world.credentialUses(connection, 'snapshot');
    expect(uses.length).toBe(2);
    expect(uses[0].metadata).toEqual({ purpose: 'snapshot', credentialVersion: 1, snapshotRequestId: expect.any(String) });
  });

  it('paper: positions and cash from its own fills', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const connection = await routing.connect(ws.token, 'paper');
    await world.trade(ws.token, connection, { ticker: 'SPY', action: 'buy', price: '450.25' }, '3');
    const source = await routing.source(ws.token);
    await routing.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '1' } });
    await routing.settled(ws.token, await routing.send(source, { ticker: 'SPY', action: 'buy', price: '452.25' }));

    const positions = await world.get(ws.token, `/v1/connections/${connection}/positions`);
    expect(positions.body.positions).toEqual([{ symbol: 'SPY', quantity: '4', averagePrice: '450.75' }]);
    const account = await world.get(ws.token, `/v1/connections/${connection}/account`);
    // 100000 − 3 × 450.25 − 452.25; the position valued at its cost.
    expect(account.body.account).toEqual({ currency: 'USD', equity: '100000', cash: '98197', buyingPower: '98197' });
  });

  it('Binance: non-zero spot balances besides USDT are the positions, named as their USDT market; signed requests', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const connection = await routing.connect(ws.token, 'binance');
    expect((await world.trade(ws.token, connection, { ticker: 'BINANCE:ETHUSDT', action: 'buy' }, '2')).status).toBe('routed');
    const key = routing.keys.get(connection)!;

    const positions = await world.get(ws.token, `/v1/connections/${connection}/positions`);
    expect(positions.body.positions).toEqual([{ symbol: 'ETHUSDT', quantity: plain(routing.binance.balance(key.apiKey, 'ETH').free) }]);
    expect(positions.body.positions[0].quantity).toBe('2');
    const usdt = plain(routing.binance.balance(key.apiKey, 'USDT').free);
    expect(usdt).toBe('994000');
    const account = await world.get(ws.token, `/v1/connections/${connection}/account`);
    expect(account.body.account).toEqual({ currency: 'USDT', equity: usdt, cash: usdt, buyingPower: usdt });
    // The stub answers only correctly signed requests: every account read carried the key and a signature.
    const reads = routing.binance.received('GET', '/api/v3/account');
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((r) => r.headers['x-mbx-apikey'] === key.apiKey && r.query.has('signature'))).toBe(true);
  });

  it('Coinbase: currency balances besides USD/USDC are the positions, named as their USD product (JWT-authenticated)', async () => {
    const ws = await world.routing.workspace();
    const { id: connection, credentials } = await world.connectOther(ws.token, 'coinbase', { USD: '100000' });
    expect((await world.trade(ws.token, connection, { ticker: 'COINBASE:BTCUSD', action: 'buy' }, '0.1')).status).toBe('routed');

    const positions = await world.get(ws.token, `/v1/connections/${connection}/positions`);
    expect(positions.body.positions).toEqual([{ symbol: 'BTC-USD', quantity: '0.1' }]);
    const usd = world.coinbase.balance(credentials.apiKeyName, 'USD');
    const account = await world.get(ws.token, `/v1/connections/${connection}/account`);
    expect(account.body.account).toEqual({
      currency: 'USD',
      equity: String(Number(usd.available) + Number(usd.hold)),
      cash: String(Number(usd.available) + Number(usd.hold)),
      buyingPower: plain(usd.available),
    });
    expect(Number(account.body.account.equity)).toBeLessThan(100000);
    const reads = world.coinbase.received('GET', '/api/v3/brokerage/accounts');
    expect(reads.every((r) => String(r.headers.authorization).startsWith('Bearer '))).toBe(true);
  });

  it('OANDA: open positions netted, priced by the side held; NAV, balance and margin available from the summary', async () => {
    const ws = await world.routing.workspace();
    const { id: connection, credentials } = await world.connectOther(ws.token, 'oanda');
    world.oanda.setPrice('EUR_USD', 1.1);
    expect((await world.trade(ws.token, connection, { ticker: 'OANDA:EURUSD', action: 'sell' }, '1000')).status).toBe('routed');
    expect(world.oanda.positionOf(credentials.accountId, 'EUR_USD')).toBe(-1000);

    const positions = await world.get(ws.token, `/v1/connections/${connection}/positions`);
    expect(positions.body.positions).toEqual([{ symbol: 'EUR_USD', quantity: '-1000', averagePrice: '1.1', unrealizedPnl: '0' }]);
    const account = await world.get(ws.token, `/v1/connections/${connection}/account`);
    // 1000 units at 1.1 with 50:1 margin use 22 of the 100000.
    expect(account.body.account).toEqual({ currency: 'USD', equity: '100000', cash: '100000', buyingPower: '99978' });
    expect(
      world.oanda.requests.some(
        (r) => r.path === `/v3/accounts/${credentials.accountId}/openPositions` && r.headers.authorization === `Bearer ${credentials.token}`,
      ),
    ).toBe(true);
  });

  it('a broker that fails the fetch: the last snapshot marked stale with the error; none at all is 503 snapshot_unavailable', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const connection = await routing.connect(ws.token, 'alpaca');
    routing.alpaca.injectFaults('error500', 1, { method: 'GET', path: /^\/v2\/positions$/ });
    const none = await world.get(ws.token, `/v1/connections/${connection}/positions`);
    expect(none.status).toBe(503);
    expect(none.headers.get('content-type')).toContain('application/problem+json');
    expect(none.body).toMatchObject({ code: 'snapshot_unavailable' });

    const fresh = await world.get(ws.token, `/v1/connections/${connection}/positions`);
    expect(fresh.body).toMatchObject({ stale: false, positions: [] });
    await new Promise((r) => setTimeout(r, 450));
    routing.alpaca.injectFaults('error500', 1, { method: 'GET', path: /^\/v2\/positions$/ });
    const stale = await world.get(ws.token, `/v1/connections/${connection}/positions`);
    expect(stale.status).toBe(200);
    expect(stale.body).toMatchObject({ stale: true, fetchedAt: fresh.body.fetchedAt, positions: [], error: expect.stringContaining('transient') });
  });

  it('with no worker running the api answers 503 and never opens a credential; the worker answers the request once it runs', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const connection = await routing.connect(ws.token, 'alpaca');
    await routing.worker.close();
    try {
      const res = await http(routing.api.url, 'GET', `/v1/connections/${connection}/account`, { token: ws.token });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('snapshot_unavailable');
      expect(await world.credentialUses(connection, 'snapshot')).toEqual([]);
    } finally {
      routing.worker = await startWorker(routing.db, routing.env);
    }
    const deadline = Date.now() + 10_000;
    while ((await routing.sql('SELECT 1 FROM connection_snapshots WHERE connection_id = $1 AND fetched_at IS NOT NULL', [connection])).length === 0) {
      if (Date.now() > deadline) throw new Error('the worker never answered the waiting request');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await world.credentialUses(connection, 'snapshot')).toHaveLength(1);
  });

  it('a revoked connection is 410 connection_revoked, never a decrypt; another workspace or a non-uuid is 404', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const other = await routing.workspace();
    const connection = await routing.connect(ws.token, 'alpaca');
    expect((await http(routing.api.url, 'DELETE', `/v1/connections/${connection}`, { token: ws.token })).status).toBeLessThan(300);
    const res = await world.get(ws.token, `/v1/connections/${connection}/positions`);
    expect(res.status).toBe(410);
    expect(res.body.code).toBe('connection_revoked');
    expect(await world.credentialUses(connection, 'snapshot')).toEqual([]);
    expect((await world.get(other.token, `/v1/connections/${connection}/positions`)).status).toBe(404);
    expect((await world.get(ws.token, `/v1/connections/not-a-uuid/account`)).status).toBe(404);
  });

  it('the api role may only ask (request columns); only the worker role may write a snapshot', async () => {
    const { routing } = world;
    const ws = await routing.workspace();
    const connection = await routing.connect(ws.token, 'paper');
    expect((await world.get(ws.token, `/v1/connections/${connection}/positions`)).status).toBe(200);
    const attempt = async (url: string, sql: string) => {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        await c.query('BEGIN');
        await c.query(`SELECT set_config('app.workspace_id', $1, true)`, [ws.id]);
        await c.query(sql, [connection]);
        await c.query('ROLLBACK');
        return 'allowed';
      } catch (err) {
        return (err as Error).message;
      } finally {
        await c.end();
      }
    };
    expect(await attempt(routing.db.apiUrl, `UPDATE connection_snapshots SET positions = '[]' WHERE connection_id = $1`)).toMatch(/permission denied/);
    expect(await attempt(routing.db.apiUrl, `UPDATE connection_snapshots SET request_id = gen_random_uuid() WHERE connection_id = $1`)).toBe('allowed');
    expect(await attempt(routing.db.workerUrl, `UPDATE connection_snapshots SET request_id = gen_random_uuid() WHERE connection_id = $1`)).toMatch(
      /permission denied/,
    );
    expect(await attempt(routing.db.workerUrl, `UPDATE connection_snapshots SET positions = '[]' WHERE connection_id = $1`)).toBe('allowed');
  });
});
