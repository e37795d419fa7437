import { BlockList, isIP } from 'node:net';
import { TRADINGVIEW_PRESET, TRADINGVIEW_WEBHOOK_IPS } from './tradingview-ips';

const CIDR = /^(.+)\/(\d{1,3})$/;

/** An allowlist entry: an IPv4/IPv6 address, a CIDR range, or the `tradingview` preset. */
export function isAllowlistEntry(entry: string): boolean {
  if (entry === TRADINGVIEW_PRESET) return true;
  const cidr = CIDR.exec(entry);
  if (!cidr) return isIP(entry) !== 0;
  const family = isIP(cidr[1]);
  const bits = Number(cidr[2]);
  return family !== 0 && bits <= (family === 4 ? 32 : 128);
}

/** Lower-cased, de-duplicated, in the order given. */
export function normaliseAllowlist(entries: readonly string[]): string[] {
  return [...new Set(entries.map((e) => e.trim().toLowerCase()))];
}

/** True when no allowlist is set or `ip` falls inside it (IPv4-mapped IPv6 addresses match their IPv4 form). */
export function ipAllowed(entries: readonly string[], ip: string): boolean {
  if (entries.length === 0) return true;
  const family = isIP(ip);
  if (family === 0) return false;
  const list = new BlockList();
  for (const entry of entries.flatMap((e) => (e === TRADINGVIEW_PRESET ? TRADINGVIEW_WEBHOOK_IPS : [e]))) {
    const cidr = CIDR.exec(entry);
    const address = cidr ? cidr[1] : entry;
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (cidr) list.addSubnet(address, Number(cidr[2]), type);
    else list.addAddress(address, type);
  }
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}
