import { BrokerError } from '../broker-error';
import { chooseMaturity } from '../futures-roll';
import type { IbkrCredentials } from './ibkr-schemas';
import { ibkrFuturesSchema, ibkrSecdefSchema } from './ibkr-schemas';
import type { IbkrGateway } from './ibkr-gateway';

const BROKER = 'ibkr';
/** Contract ids are stable; a resolution is held this long per connection. */
const CACHE_MS = 60 * 60_000;
/** A stock ticker as IBKR spells it (`BRK B` arrives as `BRK.B`). */
const STOCK = /^[A-Z][A-Z0-9.]{0,9}$/;
/** TradingView's continuous futures notation, front month only (`ES1!`). */
const FRONT_MONTH = /^([A-Z0-9]{1,8})1!$/;

/** IBKR's spelling of a ticker (exchange prefix already dropped): a stock symbol or a front-month future; undefined otherwise. */
export function ibkrSymbolName(ticker: string): string | undefined {
  const symbol = ticker.trim().toUpperCase();
  return STOCK.test(symbol) || FRONT_MONTH.test(symbol) ? symbol : undefined;
}

/**
 * Symbols to conids: stocks through `/iserver/secdef/search?secType=STK`, `ES1!` through `/trsrv/futures` (the nearest
 * listed expiry not within `rollDays` days). Cached per connection (a connection belongs to one workspace) in worker memory.
 */
export class IbkrContracts {
  private readonly cache = new Map<string, { conid: number; until: number }>();

  constructor(
    private readonly gateway: IbkrGateway,
    private readonly rollDays: number,
  ) {}

  async conid(creds: IbkrCredentials, connectionId: string, symbol: string): Promise<number> {
    const name = ibkrSymbolName(symbol);
    if (!name) throw new BrokerError('rejected', BROKER, `${JSON.stringify(symbol.slice(0, 24))} is not an IBKR stock or front-month future (e.g. AAPL, ES1!)`);
    const key = `${connectionId}:${name}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.conid;
    const conid = FRONT_MONTH.test(name) ? await this.frontMonth(creds, FRONT_MONTH.exec(name)![1]) : await this.stock(creds, name);
    this.cache.set(key, { conid, until: Date.now() + CACHE_MS });
    return conid;
  }

  private async stock(creds: IbkrCredentials, name: string): Promise<number> {
    const symbol = name.replace('.', ' ');
    const path = `/iserver/secdef/search?symbol=${encodeURIComponent(symbol)}&secType=STK`;
    const found = await this.gateway.get(creds, path, ibkrSecdefSchema, 'the contract search');
    const match = found.find((c) => (c.symbol ?? symbol).toUpperCase() === symbol && (c.sections ?? []).some((s) => s.secType === 'STK'));
    if (!match || !/^\d+$/.test(match.conid)) throw new BrokerError('rejected', BROKER, `IBKR lists no stock ${name}`);
    return Number(match.conid);
  }

  private async frontMonth(creds: IbkrCredentials, root: string): Promise<number> {
    const listed = await this.gateway.get(creds, `/trsrv/futures?symbols=${encodeURIComponent(root)}`, ibkrFuturesSchema, 'the futures list');
    const maturities = (listed[root] ?? []).map((f) => ({ ...f, expirationDate: isoDate(f.expirationDate) }));
    const front = chooseMaturity(maturities, 1, this.rollDays, Date.now());
    if (!front) throw new BrokerError('rejected', BROKER, `IBKR lists no ${root} future more than ${this.rollDays} days before expiry`);
    return front.conid;
  }
}

/** 20261218 → 2026-12-18 (IBKR's expiries are YYYYMMDD numbers). */
function isoDate(yyyymmdd: number): string {
  const text = String(yyyymmdd);
  return `${text.slice(0, 4)}-${text.slice(4, 6)}-${text.slice(6, 8)}`;
}
