import type { LookupAddress } from 'node:dns';
import type { OutboundSettings } from '../../src/config/app-config';
import { parseConfig } from '../../src/config/app-config';
import { nonPublicRange } from '../../src/common/outbound/address-policy';
import { OutboundError } from '../../src/common/outbound/outbound-error';
import { OutboundGuard, Resolver } from '../../src/common/outbound/outbound-guard';
import { HttpsReceiver, selfSignedCertificate, TestCertificate } from '../support/https-receiver';

/** The SSRF guard against a real HTTPS server on 127.0.0.1 (self-signed certificate made here), DNS answered by the test. */
describe('OutboundGuard (SSRF guard)', () => {
  let cert: TestCertificate;
  let receiver: HttpsReceiver;

  beforeAll(async () => {
    cert = selfSignedCertificate();
    receiver = await HttpsReceiver.start(cert);
  });
  afterAll(async () => {
    await receiver?.stop();
  });
  beforeEach(() => {
    receiver.answer = () => ({ status: 200, body: 'ok' });
  });

  const settings = (over: Partial<OutboundSettings> = {}): OutboundSettings => ({
    allowHosts: [],
    caFile: cert.caFile,
    connectTimeoutMs: 1_000,
    timeoutMs: 1_500,
    maxResponseBytes: 1024,
    ...over,
  });
  /** A resolver that answers `answers[n]` to its n-th question (the last one thereafter) and counts the questions. */
  function resolverAnswering(...answers: string[][]): Resolver & { calls: number } {
    const resolver = Object.assign(
      async (): Promise<LookupAddress[]> => {
        const answer = answers[Math.min(resolver.calls++, answers.length - 1)];
        return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
      },
      { calls: 0 },
    );
    return resolver;
  }
  async function refusal(promise: Promise<unknown>): Promise<OutboundError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OutboundError);
    return err as OutboundError;
  }

  it.each([
    ['loopback', '127.0.0.1'],
    ['loopback (anywhere in 127/8)', '127.1.2.3'],
    ['RFC 1918 10/8', '10.0.0.5'],
    ['RFC 1918 172.16/12', '172.31.255.1'],
    ['RFC 1918 192.168/16', '192.168.1.1'],
    ['CGNAT 100.64/10', '100.100.0.1'],
    ['link-local', '169.254.10.10'],
    ['the cloud metadata address', '169.254.169.254'],
    ['0.0.0.0/8', '0.0.0.0'],
    ['0.0.0.0/8', '0.1.2.3'],
    ['multicast', '224.0.0.251'],
    ['reserved 240/4', '240.0.0.1'],
    ['broadcast', '255.255.255.255'],
    ['IPv6 loopback', '::1'],
    ['IPv6 unspecified', '::'],
    ['IPv6 unique local fc00::/7', 'fd12:3456::1'],
    ['IPv6 unique local fc00::/7', 'fc00::1'],
    ['IPv6 link-local', 'fe80::1'],
    ['IPv6 multicast', 'ff02::1'],
    ['IPv4-mapped loopback', '::ffff:127.0.0.1'],
    ['IPv4-mapped private', '::ffff:10.1.1.1'],
    ['IPv4-mapped metadata', '::ffff:169.254.169.254'],
    ['NAT64 of a private address', '64:ff9b::a00:1'],
  ])('refuses a host resolving to %s (%s): url_private_address', async (_class, address) => {
    const sut = new OutboundGuard(settings(), resolverAnswering([address]));
    const err = await refusal(sut.fetch('https://hooks.test/x'));
    expect(err.code).toBe('url_private_address');
    expect(err.urlRefused).toBe(true);
    expect(receiver.requests).toHaveLength(0);
  });

  it.each([
    ['https://127.0.0.1/'],
    ['https://[::1]/'],
    ['https://[::ffff:127.0.0.1]/'],
    ['https://169.254.169.254/latest/meta-data/'],
    ['https://2130706433/'],
    ['https://0x7f.1/'],
    ['https://0177.0.0.1/'],
    ['https://10.1/'],
    ['https://[fe80::1]/'],
  ])('refuses an address literal that is not public: %s', async (url) => {
    const resolver = resolverAnswering(['93.184.216.34']);
    const err = await refusal(new OutboundGuard(settings(), resolver).assertPublicUrl(url));
    expect(err.code).toBe('url_private_address');
    expect(resolver.calls).toBe(0);
  });

  it('refuses a host when ANY of its addresses is not public', async () => {
    const err = await refusal(new OutboundGuard(settings(), resolverAnswering(['93.184.216.34', '10.0.0.1'])).assertPublicUrl('https://hooks.test/'));
    expect(err.code).toBe('url_private_address');
    expect(err.message).not.toContain('10.0.0.1'); // the internal address is not echoed to the user
  });

  it('accepts public addresses (v4 and v6)', async () => {
    const checked = await new OutboundGuard(settings(), resolverAnswering(['93.184.216.34', '2606:2800:220:1::1'])).assertPublicUrl(
      'https://example.test/path?q=1',
    );
    expect(checked).toMatchObject({ host: 'example.test', address: '93.184.216.34', family: 4 });
    expect(nonPublicRange('8.8.8.8')).toBeUndefined();
    expect(nonPublicRange('2001:4860:4860::8888')).toBeUndefined();
  });

  it.each([
    ['http://hooks.test/', 'url_not_https'],
    ['ftp://hooks.test/', 'url_not_https'],
    ['not a url', 'url_invalid'],
    ['https://user:pass@hooks.test/', 'url_has_credentials'],
  ])('refuses %s: %s', async (url, code) => {
    expect((await refusal(new OutboundGuard(settings(), resolverAnswering(['93.184.216.34'])).assertPublicUrl(url))).code).toBe(code);
  });

  it('refuses a host that does not resolve: url_unresolvable', async () => {
    expect((await refusal(new OutboundGuard(settings(), resolverAnswering([])).assertPublicUrl('https://nowhere.test/'))).code).toBe('url_unresolvable');
  });

  describe('with the operator allowlist', () => {
    it('an address or CIDR entry lets a private address through, and the request is made', async () => {
      const sut = new OutboundGuard(settings({ allowHosts: ['127.0.0.0/8'] }), resolverAnswering(['127.0.0.1']));
      const res = await sut.fetch(receiver.url('hooks.test'), { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
      expect(res.statusCode).toBe(200);
      expect(res.body.toString()).toBe('ok');
      expect(receiver.requests.at(-1)).toMatchObject({ method: 'POST', body: '{"a":1}', path: '/hooks' });
    });

    it('a host entry lets that host through, and only that host', async () => {
      const sut = new OutboundGuard(settings({ allowHosts: ['hooks.test'] }), resolverAnswering(['127.0.0.1']));
      expect((await sut.fetch(receiver.url('hooks.test'))).statusCode).toBe(200);
      expect((await refusal(sut.fetch(receiver.url('localhost')))).code).toBe('url_private_address');
      expect((await refusal(sut.fetch(receiver.url('127.0.0.1')))).code).toBe('url_private_address');
    });

    it('an entry for one address admits no other private address', async () => {
      const sut = new OutboundGuard(settings({ allowHosts: ['127.0.0.1'] }), resolverAnswering(['127.0.0.1', '10.0.0.1']));
      expect((await refusal(sut.assertPublicUrl('https://hooks.test/'))).code).toBe('url_private_address');
    });

    it('reads OUTBOUND_ALLOW_HOSTS from the typed config and refuses bad entries', () => {
      expect(parseConfig({ OUTBOUND_ALLOW_HOSTS: 'hooks.internal, 10.0.0.0/8,127.0.0.1' }).outbound.allowHosts).toEqual([
        'hooks.internal',
        '10.0.0.0/8',
        '127.0.0.1',
      ]);
      expect(() => parseConfig({ OUTBOUND_ALLOW_HOSTS: 'hooks.internal,*' })).toThrow(/OUTBOUND_ALLOW_HOSTS/);
      expect(parseConfig({}).outbound.allowHosts).toEqual([]);
    });
  });

  it('DNS rebinding: the connection goes to the address that was checked, never to a second answer', async () => {
    // First answer: the allowed address; every later answer: a private one that would be refused (and is unroutable).
    const resolver = resolverAnswering(['127.0.0.1'], ['10.255.255.1']);
    const sut = new OutboundGuard(settings({ allowHosts: ['127.0.0.1/32'] }), resolver);
    const res = await sut.fetch(receiver.url('hooks.test'));
    expect(res.statusCode).toBe(200);
    expect(resolver.calls).toBe(1); // undici never asked DNS again: the socket was pinned to the checked address
    // The next request resolves again, sees the private answer, and is refused before connecting.
    expect((await refusal(sut.fetch(receiver.url('hooks.test')))).code).toBe('url_private_address');
  });

  it('never follows a redirect: a 3xx is redirect_refused', async () => {
    receiver.answer = () => ({ status: 302, headers: { location: 'https://169.254.169.254/latest/meta-data/' } });
    const before = receiver.requests.length;
    const err = await refusal(new OutboundGuard(settings({ allowHosts: ['127.0.0.1'] })).fetch(receiver.url()));
    expect(err.code).toBe('redirect_refused');
    expect(receiver.requests.length).toBe(before + 1);
  });

  it('caps the response body: response_too_large', async () => {
    receiver.answer = () => ({ status: 200, body: Buffer.alloc(5000, 'a') });
    expect((await refusal(new OutboundGuard(settings({ allowHosts: ['127.0.0.1'] })).fetch(receiver.url()))).code).toBe('response_too_large');
  });

  it('times out a receiver that never answers: outbound_timeout', async () => {
    receiver.answer = () => 'hang';
    const started = Date.now();
    expect((await refusal(new OutboundGuard(settings({ allowHosts: ['127.0.0.1'], timeoutMs: 300 })).fetch(receiver.url()))).code).toBe('outbound_timeout');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('verifies the certificate: without the test CA the self-signed receiver is refused', async () => {
    const err = await refusal(new OutboundGuard(settings({ allowHosts: ['127.0.0.1'], caFile: undefined })).fetch(receiver.url()));
    expect(err.code).toBe('outbound_network_error');
    expect(err.message).toMatch(/SELF_SIGNED|CERT/);
  });

  it('refuses to start with an unreadable or non-PEM OUTBOUND_CA_FILE (one clear line)', () => {
    expect(() => new OutboundGuard(settings({ caFile: '/nonexistent/ca.pem' }))).toThrow(/OUTBOUND_CA_FILE: cannot read \/nonexistent\/ca.pem \(ENOENT\)/);
    expect(() => new OutboundGuard(settings({ caFile: __filename }))).toThrow(/OUTBOUND_CA_FILE: .* holds no PEM certificate/);
  });

  it('a refused connection is outbound_network_error and names no path or query', async () => {
    const sut = new OutboundGuard(settings({ allowHosts: ['127.0.0.1'] }));
    const err = await refusal(sut.fetch('https://127.0.0.1:1/secret-path?token=canary-123'));
    expect(err.code).toBe('outbound_network_error');
    expect(err.message).not.toMatch(/secret-path|canary-123/);
  });
});
