import { createHmac, generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import type { OrderRequest } from '../../src/brokers/broker-adapter';
import { BrokerError } from '../../src/brokers/broker-error';
import { BrokerHttp } from '../../src/brokers/broker-http';
import { IbkrAdapter } from '../../src/brokers/ibkr/ibkr.adapter';
import { IbkrGateway } from '../../src/brokers/ibkr/ibkr-gateway';
import { authorization, baseString, IbkrOAuth, OAUTH_REFUSED } from '../../src/brokers/ibkr/ibkr-oauth';
import { ibkrCredentialsSchema } from '../../src/brokers/ibkr/ibkr-schemas';
import { OutboundGuard } from '../../src/common/outbound/outbound-guard';
import { IbkrStub, newIbkrOAuthConsumer, startIbkrOAuthStub } from '../support/brokers/ibkr-stub';

describe('IbkrAdapter (OAuth mode) against the api.ibkr.com stub', () => {
  let stub: IbkrStub;
  let http: BrokerHttp;
  let sut: IbkrAdapter;
  const seen: BrokerError[] = [];

  beforeAll(async () => {
    stub = await startIbkrOAuthStub();
    stub.addStock('AAPL', 265598, 190.5);
    http = new BrokerHttp('ibkr', `${stub.url}/v1/api`, 1_000);
    // OAuth connections never go through the SSRF guard: an allowlist that refuses everything proves it.
    const guard = new OutboundGuard({ allowHosts: [], connectTimeoutMs: 500, timeoutMs: 500, maxResponseBytes: 1_048_576 });
    sut = new IbkrAdapter(new IbkrGateway(guard, new IbkrOAuth(http)), 3);
  });

  afterAll(async () => {
    await http.close();
    await stub.stop();
  });

  afterEach(() => {
    stub.clearFaults();
    stub.lstLifetimeMs = 24 * 60 * 60_000;
  });

  const consumer = (overrides: Record<string, string> = {}) => newIbkrOAuthConsumer(stub, `DU${randomInt(1_000_000, 9_999_999)}`, overrides);
  const lstRequests = () => stub.requests.filter((r) => r.path.endsWith('/oauth/live_session_token'));
  const orderPosts = () => stub.requests.filter((r) => r.method === 'POST' && /\/iserver\/account\/[^/]+\/orders$/.test(r.path));

  function order(overrides: Partial<OrderRequest> = {}): OrderRequest {
    return {
      clientOrderId: `sy-${randomBytes(6).toString('hex')}`,
      symbol: 'AAPL',
      side: 'buy',
      type: 'limit',
      limitPrice: '189',
      quantity: '10',
      environment: 'paper',
      connectionId: `conn-${randomBytes(4).toString('hex')}`,
      ...overrides,
    };
  }

  async function failure(promise: Promise<unknown>): Promise<BrokerError> {
    const err = await promise.then(
      () => {
        throw new Error('expected a BrokerError');
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BrokerError);
    seen.push(err as BrokerError);
    return err as BrokerError;
  }

  describe('credentials', () => {
    it('parses an OAuth consumer and defaults the realm; gateway credentials without a mode stay gateway', () => {
      const creds = ibkrCredentialsSchema.parse(consumer());
      expect(creds).toMatchObject({ mode: 'oauth', realm: 'limited_poa' });
      expect(ibkrCredentialsSchema.parse({ gatewayUrl: 'https://gw.example.com', accountId: 'U1234567' })).toMatchObject({ mode: 'gateway' });
    });

    it('names the bad field: a PEM that is no RSA key, a short key, a prime that is not hex, a missing secret, a bad mode', () => {
      const issues = (input: Record<string, unknown>) => ibkrCredentialsSchema.safeParse(input).error?.issues.map((i) => i.path.join('.')) ?? [];
      const good = consumer();
      const ec = generateKeyPairSync('ec', {
        namedCurve: 'prime256v1',
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
      const small = generateKeyPairSync('rsa', {
        modulusLength: 1024,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
      expect(issues({ ...good, signaturePrivateKey: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----' })).toEqual(['signaturePrivateKey']);
      expect(issues({ ...good, encryptionPrivateKey: ec.privateKey })).toEqual(['encryptionPrivateKey']);
      expect(issues({ ...good, signaturePrivateKey: small.privateKey })).toEqual(['signaturePrivateKey']);
      expect(issues({ ...good, dhPrime: 'zz' + good.dhPrime.slice(2) })).toEqual(['dhPrime']);
      expect(issues({ ...good, dhPrime: 'ff' })).toEqual(['dhPrime']);
      const { accessTokenSecret: _dropped, ...missing } = good;
      expect(issues(missing)).toEqual(['accessTokenSecret']);
      expect(issues({ ...good, realm: 'elsewhere' })).toEqual(['realm']);
      expect(issues({ ...good, mode: 'password' })).toEqual(['mode']);
      // The literal `\n` of a key pasted from a JSON string is a line break.
      expect(ibkrCredentialsSchema.safeParse({ ...good, signaturePrivateKey: good.signaturePrivateKey.replace(/\n/g, '\\n') }).success).toBe(true);
    });
  });

  describe('live session token', () => {
    it('takes an LST with a signed Diffie-Hellman challenge, opens the brokerage session, then signs every call HMAC-SHA256', async () => {
      const creds = consumer();
      const before = stub.requests.length;
      const report = await sut.inspect(creds, 'paper');
      expect(report).toMatchObject({ inspection: 'single_tier', canWithdraw: false, canTransfer: false, details: { mode: 'oauth', accountKind: 'paper' } });
      expect(report.note).toMatch(/live session token/);
      const sent = stub.requests.slice(before);
      expect(sent.map((r) => `${r.method} ${r.path.replace('/v1/api', '')}`)).toEqual([
        'POST /oauth/live_session_token',
        'POST /iserver/auth/ssodh/init',
        'GET /iserver/auth/status',
        'POST /tickle',
        'GET /iserver/accounts',
      ]);
      const [lst, ...calls] = sent.map((r) => r.headers.authorization as string);
      expect(lst).toMatch(
        /^OAuth realm="limited_poa", diffie_hellman_challenge="[0-9a-f]+", oauth_consumer_key="[^"]+", .*oauth_signature_method="RSA-SHA256"/,
      );
      for (const header of calls) expect(header).toMatch(/oauth_signature_method="HMAC-SHA256"/);
      expect(stub.oauthRefusals).toEqual([]);
      // The LST itself never travels: only signatures made with it.
      const issued = stub.liveSessionTokens.at(-1)!.token;
      for (const r of sent) expect(JSON.stringify([r.url, r.headers, r.body])).not.toContain(issued);
    });

    it('refuses an LST request signed with another key (IBKR answers 401), and a call whose query changed after signing', async () => {
      const other = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
      const err = await failure(sut.inspect(consumer({ signaturePrivateKey: other.privateKey }), 'paper'));
      expect(err).toMatchObject({ kind: 'credentials_invalid', message: OAUTH_REFUSED });
      expect(stub.oauthRefusals.at(-1)).toBe('invalid signature');

      // Signed by hand with the stub's LST: the query as signed is answered, a query changed after signing is not.
      const creds = ibkrCredentialsSchema.parse(consumer());
      if (creds.mode !== 'oauth') throw new Error('an OAuth consumer');
      await sut.inspect(creds, 'paper');
      const lst = stub.liveSessionTokens.at(-1)!.token;
      const url = `${stub.url}/v1/api/iserver/secdef/search`;
      const signedFor = (query: Record<string, string>) => {
        const params = {
          oauth_consumer_key: creds.consumerKey,
          oauth_nonce: randomBytes(16).toString('hex'),
          oauth_signature_method: 'HMAC-SHA256',
          oauth_timestamp: String(Math.floor(Date.now() / 1000)),
          oauth_token: creds.accessToken,
        };
        const signature = createHmac('sha256', Buffer.from(lst, 'base64'))
          .update(baseString('GET', url, { ...params, ...query }))
          .digest('base64');
        return { authorization: authorization(creds, params, signature) };
      };
      expect((await fetch(`${url}?symbol=AAPL&secType=STK`, { headers: signedFor({ symbol: 'AAPL', secType: 'STK' }) })).status).toBe(200);
      expect((await fetch(`${url}?symbol=MSFT&secType=STK`, { headers: signedFor({ symbol: 'AAPL', secType: 'STK' }) })).status).toBe(401);
      expect(stub.oauthRefusals.at(-1)).toBe('invalid signature');
    });

    it('refuses an LST whose signature does not verify (HMAC-SHA1 of the consumer key), and sends nothing signed with it', async () => {
      const creds = consumer();
      stub.forgeNextLiveSessionToken();
      const before = stub.requests.length;
      const err = await failure(sut.inspect(creds, 'paper'));
      expect(err.kind).toBe('credentials_invalid');
      expect(err.message).toMatch(/does not verify/);
      expect(stub.requests.slice(before).map((r) => r.path)).toEqual(['/v1/api/oauth/live_session_token']);
    });

    it('an access token secret encrypted for another key is refused at the handshake, not trusted', async () => {
      const other = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
      const err = await failure(sut.inspect(consumer({ encryptionPrivateKey: other.privateKey }), 'paper'));
      expect(err.kind).toBe('credentials_invalid');
    });

    it('an LST that IBKR expired is renewed once and the call goes through', async () => {
      const creds = consumer();
      await sut.inspect(creds, 'paper');
      const handshakes = lstRequests().length;
      stub.expireLiveSessionTokens();
      const refusals = stub.oauthRefusals.length;
      expect(await sut.getEquity(creds, 'paper', 'conn-x')).toBe('100000');
      expect(lstRequests().length).toBe(handshakes + 1);
      expect(stub.oauthRefusals.slice(refusals)).toEqual(['live session token expired']);
    });

    it('an LST close to its expiration is renewed before it is used, without a refused call', async () => {
      const creds = consumer();
      stub.lstLifetimeMs = 5 * 60_000; // inside the renewal margin
      await sut.inspect(creds, 'paper');
      const handshakes = lstRequests().length;
      const refusals = stub.oauthRefusals.length;
      stub.lstLifetimeMs = 24 * 60 * 60_000;
      expect(await sut.getEquity(creds, 'paper', 'conn-x')).toBe('100000');
      expect(lstRequests().length).toBe(handshakes + 1);
      expect(await sut.getEquity(creds, 'paper', 'conn-x')).toBe('100000');
      expect(lstRequests().length).toBe(handshakes + 1);
      expect(stub.oauthRefusals.slice(refusals)).toEqual([]);
    });

    it('concurrent calls of one consumer share one handshake', async () => {
      const creds = consumer();
      const handshakes = lstRequests().length;
      await Promise.all([sut.getEquity(creds, 'paper', 'c'), sut.getEquity(creds, 'paper', 'c'), sut.getPositions(creds, 'paper', 'c')]);
      expect(lstRequests().length).toBe(handshakes + 1);
    });
  });

  describe('orders', () => {
    it('places an order with our cOID through the same endpoints as gateway mode', async () => {
      const creds = consumer();
      const o = order();
      const ack = await sut.placeOrder(creds, o);
      expect(ack).toMatchObject({ clientOrderId: o.clientOrderId, status: 'accepted' });
      expect(stub.orders.find((x) => x.cOID === o.clientOrderId)).toMatchObject({ acct: creds.accountId, conid: 265598, orderType: 'LMT', price: 189 });
    });

    it('an order whose answer timed out is found again by cOID and never placed twice', async () => {
      const creds = consumer();
      const o = order();
      await sut.inspect(creds, 'paper');
      stub.injectFaults('acceptThenHang', 1, { method: 'POST', path: /\/orders$/ });
      const err = await failure(sut.placeOrder(creds, o));
      expect(err.kind).toBe('ambiguous');
      const found = await sut.findOrder(creds, o);
      expect(found).toMatchObject({ clientOrderId: o.clientOrderId, status: 'accepted' });
      const posts = orderPosts().length;
      expect(await sut.placeOrder(creds, o)).toMatchObject({ clientOrderId: o.clientOrderId, brokerOrderId: found!.brokerOrderId });
      expect(orderPosts().length).toBe(posts);
      expect(stub.orders.filter((x) => x.cOID === o.clientOrderId)).toHaveLength(1);
    });
  });

  it('no error message carries a credential value or a live session token', () => {
    expect(seen.length).toBeGreaterThan(3);
    const tokens = stub.liveSessionTokens.map((t) => t.token);
    for (const err of seen) {
      for (const token of tokens) expect(err.message).not.toContain(token);
      expect(err.message).not.toMatch(/PRIVATE KEY|TESTCONS/);
    }
  });
});
