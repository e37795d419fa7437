import { ipAllowed, isAllowlistEntry } from '../../src/signals/ip-allowlist';

describe('IP allowlist', () => {
  it('accepts addresses, CIDR ranges and the tradingview preset only', () => {
    expect(['10.0.0.1', '10.0.0.0/8', '2001:db8::/32', '::1', 'tradingview'].every(isAllowlistEntry)).toBe(true);
    expect(['10.0.0.0/33', '2001:db8::/129', 'example.com', '10.0.0', 'TradingView ', ''].some(isAllowlistEntry)).toBe(false);
  });

  it('matches IPv4, IPv6, IPv4-mapped IPv6 and the TradingView senders', () => {
    expect(ipAllowed([], '198.51.100.7')).toBe(true);
    expect(ipAllowed(['tradingview'], '52.89.214.238')).toBe(true);
    expect(ipAllowed(['tradingview'], '::ffff:52.32.178.7')).toBe(true);
    expect(ipAllowed(['tradingview'], '52.89.214.239')).toBe(false);
    expect(ipAllowed(['203.0.113.0/24'], '203.0.113.200')).toBe(true);
    expect(ipAllowed(['2001:db8::/32'], '2001:db8::1')).toBe(true);
    expect(ipAllowed(['2001:db8::/32'], '2001:db9::1')).toBe(false);
    expect(ipAllowed(['203.0.113.0/24'], 'not-an-ip')).toBe(false);
  });
});
