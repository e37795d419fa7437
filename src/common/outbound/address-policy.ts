import ipaddr from 'ipaddr.js';

/**
 * The range an address falls in when it is not public unicast ('loopback', 'private', 'linkLocal' (the cloud
 * metadata address 169.254.169.254 among them), 'carrierGradeNat', 'uniqueLocal', 'multicast', 'reserved', ...),
 * else undefined. An IPv4-mapped IPv6 address is judged as its IPv4 address; anything unparsable is 'invalid'.
 */
export function nonPublicRange(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'invalid';
  const range = ipaddr.process(address).range();
  return range === 'unicast' ? undefined : range;
}

/** The operator's exceptions (OUTBOUND_ALLOW_HOSTS): host names matched exactly, addresses and CIDR ranges by containment. */
export class OutboundAllowList {
  private readonly hosts = new Set<string>();
  private readonly ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];

  constructor(entries: readonly string[]) {
    for (const entry of entries.map((e) => e.toLowerCase())) {
      if (ipaddr.isValidCIDR(entry)) {
        const [network, bits] = ipaddr.parseCIDR(entry);
        this.ranges.push(
          network.kind() === 'ipv6' && (network as ipaddr.IPv6).isIPv4MappedAddress()
            ? [(network as ipaddr.IPv6).toIPv4Address(), Math.max(0, bits - 96)]
            : [network, bits],
        );
      } else if (ipaddr.isValid(entry)) {
        const address = ipaddr.process(entry);
        this.ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
      } else {
        this.hosts.add(entry);
      }
    }
  }

  allowsHost(host: string): boolean {
    return this.hosts.has(host.toLowerCase());
  }

  allowsAddress(address: string): boolean {
    if (!ipaddr.isValid(address)) return false;
    const parsed = ipaddr.process(address);
    return this.ranges.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits));
  }
}
