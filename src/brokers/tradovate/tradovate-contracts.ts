import type { z } from 'zod';
import { BrokerError } from '../broker-error';
import { chooseMaturity } from '../futures-roll';
import {
  tradovateContractSchema,
  tradovateContractsSchema,
  tradovateMaturitiesSchema,
  tradovateProductSchema,
  type TradovateContract,
} from './tradovate-schemas';

const BROKER = 'tradovate';
/** Contract data is public and changes at most daily; resolutions are held this long per environment. */
const CACHE_MS = 10 * 60_000;
/** TradingView's continuous notation: product root, then the place in the chain (`ES1!`, `6E1!`, `NQ2!`). */
const CONTINUOUS = /^([A-Z0-9]{1,8}?)([1-9])!$/;
/** An explicit contract: root, month code, one or two year digits (`ESZ6`, `MNQH27`). */
const CONTRACT = /^[A-Z0-9]{1,8}[FGHJKMNQUVXZ]\d{1,2}$/;

/** Tradovate's spelling of a ticker (prefix already dropped): `ES1!` kept for resolution, `ESZ6` as is; undefined otherwise. */
export function tradovateSymbolName(ticker: string): string | undefined {
  const symbol = ticker.trim().toUpperCase();
  return CONTINUOUS.test(symbol) || CONTRACT.test(symbol) ? symbol : undefined;
}

/** An authenticated GET: the parsed body, or null when Tradovate has no such entity. */
export type TradovateGet = <T>(path: string, schema: z.ZodType<T>, what: string) => Promise<T | null>;

/** Symbols to Tradovate contracts: continuous ones through /product/find, /contractMaturity/deps and /contract/deps. */
export class TradovateContracts {
  private readonly cache = new Map<string, { contract: TradovateContract; until: number }>();

  constructor(private readonly rollDays: number) {}

  async resolve(get: TradovateGet, environment: string, symbol: string): Promise<TradovateContract> {
    const name = tradovateSymbolName(symbol);
    if (!name) throw new BrokerError('rejected', BROKER, `${JSON.stringify(symbol.slice(0, 24))} is not a Tradovate contract (expected e.g. ES1! or ESZ6)`);
    const key = `${environment}:${name}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.contract;
    const contract = CONTINUOUS.test(name) ? await this.frontMonth(get, name) : await this.explicit(get, name);
    this.cache.set(key, { contract, until: Date.now() + CACHE_MS });
    return contract;
  }

  /** Contract names by id, for positions (`/contract/items`). */
  async names(get: TradovateGet, ids: number[]): Promise<Map<number, string>> {
    if (ids.length === 0) return new Map();
    const contracts = (await get(`contract/items?ids=${ids.join(',')}`, tradovateContractsSchema, 'the contract names')) ?? [];
    return new Map(contracts.map((c) => [c.id, c.name]));
  }

  private async explicit(get: TradovateGet, name: string): Promise<TradovateContract> {
    const contract = await get(`contract/find?name=${encodeURIComponent(name)}`, tradovateContractSchema, 'the contract lookup');
    if (!contract) throw new BrokerError('rejected', BROKER, `Tradovate lists no contract ${name}`);
    return contract;
  }

  private async frontMonth(get: TradovateGet, name: string): Promise<TradovateContract> {
    const [, root, place] = CONTINUOUS.exec(name)!;
    const product = await get(`product/find?name=${encodeURIComponent(root)}`, tradovateProductSchema, 'the product lookup');
    if (!product) throw new BrokerError('rejected', BROKER, `Tradovate lists no futures product ${root} (from ${name})`);
    const maturities = (await get(`contractMaturity/deps?masterid=${product.id}`, tradovateMaturitiesSchema, 'the contract maturities')) ?? [];
    const maturity = chooseMaturity(maturities, Number(place), this.rollDays, Date.now());
    if (!maturity) throw new BrokerError('rejected', BROKER, `Tradovate lists no ${root} contract for ${name} more than ${this.rollDays} days before expiry`);
    const contracts = (await get(`contract/deps?masterid=${maturity.id}`, tradovateContractsSchema, 'the contracts of a maturity')) ?? [];
    if (!contracts[0])
      throw new BrokerError('rejected', BROKER, `Tradovate lists no contract for the ${root} expiry of ${maturity.expirationDate.slice(0, 10)}`);
    return contracts[0];
  }
}
