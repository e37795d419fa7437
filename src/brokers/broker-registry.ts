import type { AppConfig } from '../config/app-config';
import { TenantDb } from '../database/tenant-db';
import { AlpacaAdapter } from './alpaca/alpaca.adapter';
import { AlpacaStreamClient } from './alpaca/alpaca-stream';
import type { BrokerAdapter, BrokerName } from './broker-adapter';
import { BrokerHttp } from './broker-http';
import { type BrokerStreamClient, websocketUrl } from './broker-stream';
import { BinanceAdapter } from './binance/binance.adapter';
import { BinanceStreamClient } from './binance/binance-stream';
import { CoinbaseAdapter } from './coinbase/coinbase.adapter';
import { CoinbaseStreamClient } from './coinbase/coinbase-stream';
import { OandaAdapter } from './oanda/oanda.adapter';
import { OandaStreamClient } from './oanda/oanda-stream';
import { PaperAdapter } from './paper/paper.adapter';
import { TradovateAdapter } from './tradovate/tradovate.adapter';
import { IbkrAdapter } from './ibkr/ibkr.adapter';
import { IbkrGateway } from './ibkr/ibkr-gateway';
import { IbkrOAuth } from './ibkr/ibkr-oauth';
import { OutboundGuard } from '../common/outbound/outbound-guard';

/** One adapter per broker name, each with keep-alive HTTP clients to the configured base URLs. */
export class BrokerRegistry {
  private readonly adapters: Map<BrokerName, BrokerAdapter>;
  private readonly clients: BrokerHttp[] = [];
  private readonly streams: Map<BrokerName, BrokerStreamClient>;

  constructor(config: AppConfig, db: TenantDb) {
    const { baseUrls, streamUrls, timeoutMs } = config.brokers;
    const http = (broker: string, url: string) => {
      const client = new BrokerHttp(broker, url, timeoutMs);
      this.clients.push(client);
      return client;
    };
    this.adapters = new Map<BrokerName, BrokerAdapter>([
      ['paper', new PaperAdapter(db)],
      ['alpaca', new AlpacaAdapter({ paper: http('alpaca', baseUrls.alpaca.paper), live: http('alpaca', baseUrls.alpaca.live) })],
      ['binance', new BinanceAdapter({ paper: http('binance', baseUrls.binance.paper), live: http('binance', baseUrls.binance.live) })],
      ['coinbase', new CoinbaseAdapter(http('coinbase', baseUrls.coinbase))],
      ['oanda', new OandaAdapter({ paper: http('oanda', baseUrls.oanda.paper), live: http('oanda', baseUrls.oanda.live) })],
      [
        'tradovate',
        new TradovateAdapter(
          { paper: http('tradovate', directory(baseUrls.tradovate.paper)), live: http('tradovate', directory(baseUrls.tradovate.live)) },
          config.brokers.futuresRollDays,
        ),
      ],
      // The gateway's URL is the user's: only the SSRF guard reaches it; OAuth goes to IBKR's configured host. Futures roll on the same day count as Tradovate's.
      [
        'ibkr',
        new IbkrAdapter(new IbkrGateway(new OutboundGuard(config.outbound), new IbkrOAuth(http('ibkr', baseUrls.ibkrOAuth))), config.brokers.futuresRollDays),
      ],
    ]);
    this.streams = new Map<BrokerName, BrokerStreamClient>([
      [
        'alpaca',
        new AlpacaStreamClient({ paper: websocketUrl(baseUrls.alpaca.paper, '/stream'), live: websocketUrl(baseUrls.alpaca.live, '/stream') }, timeoutMs),
      ],
      ['oanda', new OandaStreamClient(streamUrls.oanda, timeoutMs)],
      ['binance', new BinanceStreamClient(streamUrls.binance, timeoutMs)],
      ['coinbase', new CoinbaseStreamClient(streamUrls.coinbase, timeoutMs)],
    ]);
  }

  /** The broker's order event stream, where it has one. */
  stream(broker: BrokerName): BrokerStreamClient | undefined {
    return this.streams.get(broker);
  }

  /** The brokers with an order event stream. */
  get streamingBrokers(): BrokerName[] {
    return [...this.streams.keys()];
  }

  get(broker: BrokerName): BrokerAdapter {
    const adapter = this.adapters.get(broker);
    if (!adapter) throw new Error(`no adapter for broker ${broker}`);
    return adapter;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.clients.map((c) => c.close()), ...[...this.streams.values()].map((s) => s.close?.())]);
  }
}

/** Tradovate's base URLs end in a version segment (…/v1): adapter paths are resolved below it. */
function directory(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
