import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { http } from '../support/api-app';
import { CoinbaseStub, startCoinbaseStub } from '../support/brokers/coinbase-stub';
import { OandaStub, startOandaStub } from '../support/brokers/oanda-stub';
import { RoutingWorld } from '../routing/routing-harness';

/** The routing world (api + worker, Alpaca and Binance stubs) plus the Coinbase and OANDA stubs. */
export class PositionsWorld {
  coinbase!: CoinbaseStub;
  oanda!: OandaStub;
  routing!: RoutingWorld;

  static async start(backend: 'postgres' | 'redis', env: Record<string, string> = {}): Promise<PositionsWorld> {
    const world = new PositionsWorld();
    [world.coinbase, world.oanda] = await Promise.all([startCoinbaseStub(), startOandaStub()]);
    world.routing = await RoutingWorld.start(backend, {
      BROKER_COINBASE_BASE_URL: world.coinbase.url,
      BROKER_OANDA_BASE_URL: world.oanda.url,
      BROKER_OANDA_LIVE_BASE_URL: world.oanda.url,
      ORDER_SYNC_INTERVAL_MS: '100',
      ...env,
    });
    return world;
  }

  async stop(): Promise<void> {
    await this.routing?.stop();
    await Promise.all([this.coinbase?.stop(), this.oanda?.stop()]);
  }

  /** Connects Coinbase (a fresh CDP key holding `balances`) or OANDA (a fresh practice account). */
  async connectOther(
    token: string,
    broker: 'coinbase' | 'oanda',
    balances: Record<string, string> = { USD: '100000' },
  ): Promise<{ id: string; credentials: Record<string, string> }> {
    let credentials: Record<string, string>;
    if (broker === 'coinbase') {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const apiKeyName = `organizations/org-${randomBytes(4).toString('hex')}/apiKeys/key-${randomBytes(6).toString('hex')}`;
      this.coinbase.addKey({ apiKeyName, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), balances });
      credentials = { apiKeyName, privateKey: privateKey.export({ type: 'sec1', format: 'pem' }).toString() };
    } else {
      credentials = {
        accountId: `101-004-${1000000 + (randomBytes(3).readUIntBE(0, 3) % 8999999)}-001`,
        token: `oanda-token-${randomBytes(12).toString('hex')}`,
      };
      this.oanda.addAccount({ accountId: credentials.accountId, token: credentials.token });
    }
    // Coinbase has no paper trading: its connection is live, routed once the owner enables live trading.
    const environment = broker === 'coinbase' ? 'live' : 'paper';
    const res = await http(this.routing.api.url, 'POST', '/v1/connections', { token, body: { broker, label: broker, environment, credentials } });
    if (res.status !== 201) throw new Error(`connection failed: ${res.status} ${res.text}`);
    if (environment === 'live') {
      const live = await http(this.routing.api.url, 'PUT', '/v1/workspace/live-trading', { token, body: { enabled: true, reason: 'positions test' } });
      if (live.status !== 200) throw new Error(`live trading not enabled: ${live.status} ${live.text}`);
    }
    return { id: res.body.id, credentials };
  }

  /** A route from a new source to the connection, and one signal through it, settled. */
  async trade(token: string, connectionId: string, signal: Record<string, unknown>, quantity: string): Promise<{ status: string; orders: any[] }> {
    const source = await this.routing.source(token);
    await this.routing.route(token, { sourceId: source.id, connectionId, sizing: { mode: 'fixed', value: quantity } });
    const settled = await this.routing.settled(token, await this.routing.send(source, signal));
    return settled;
  }

  get(token: string, path: string) {
    return http(this.routing.api.url, 'GET', path, { token });
  }

  async credentialUses(connectionId: string, purpose: string): Promise<any[]> {
    return this.routing.sql(
      `SELECT metadata FROM audit_events WHERE action = 'credential.use' AND resource_id = $1 AND metadata->>'purpose' = $2 ORDER BY id`,
      [connectionId, purpose],
    );
  }
}
