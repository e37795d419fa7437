import { sealSecret, openSealedSecret } from '../../src/kms/envelope';
import { AwsKmsProvider } from '../../src/kms/aws-kms.provider';
import { KmsAccessDeniedError, KmsUnavailableError } from '../../src/kms/kms-errors';
import { type KmsStub, startKmsStub } from '../support/kms-stub';
import { brokerContext, rejectionOf } from './kms-test-harness';

describe('AwsKmsProvider against the KMS wire stub', () => {
  let stub: KmsStub;
  const providers: AwsKmsProvider[] = [];

  const providerFor = (principal: 'api' | 'worker' | 'cli', extra: { requestTimeoutMs?: number } = {}): AwsKmsProvider => {
    const sut = new AwsKmsProvider({ region: stub.region, keyId: stub.keyId, endpoint: stub.url, credentials: stub.principals[principal], ...extra });
    providers.push(sut);
    return sut;
  };

  beforeEach(async () => {
    stub = await startKmsStub();
  });

  afterEach(async () => {
    for (const sut of providers.splice(0)) sut.onModuleDestroy();
    await stub.close();
  });

  it('asks for an AES-256 data key under the configured key and gets the key ARN back', async () => {
    const dataKey = await providerFor('api').generateDataKey(brokerContext());

    expect(dataKey.plaintext).toHaveLength(32);
    expect(dataKey.keyId).toBe(stub.keyId);
    expect(stub.calls).toEqual([{ target: 'TrentService.GenerateDataKey', principal: 'api' }]);
  });

  it("has the KMS itself refuse the api's broker-credential decrypt", async () => {
    const sealed = await sealSecret(providerFor('api'), brokerContext(), Buffer.from('secret'));

    const error = await rejectionOf(openSealedSecret(providerFor('api'), sealed, brokerContext()));

    expect(error).toBeInstanceOf(KmsAccessDeniedError);
    expect(stub.calls.at(-1)).toEqual({ target: 'TrentService.Decrypt', principal: 'api' });
  });

  it('maps throttling to KmsUnavailableError after a small bounded retry', async () => {
    await stub.setMode('throttle');

    const error = await rejectionOf(providerFor('api').generateDataKey(brokerContext()));

    expect(error).toBeInstanceOf(KmsUnavailableError);
    expect((error as KmsUnavailableError).code).toBe('kms_unavailable');
    expect(stub.calls).toHaveLength(2);
  });

  it('maps a KMS internal error (HTTP 500) to KmsUnavailableError', async () => {
    await stub.setMode('internal-error');

    const error = await rejectionOf(providerFor('api').generateDataKey(brokerContext()));

    expect(error).toBeInstanceOf(KmsUnavailableError);
  });

  it('fails fast with KmsUnavailableError when the KMS is down, and recovers when it is back', async () => {
    const sut = providerFor('api');
    await sut.generateDataKey(brokerContext());
    await stub.setMode('down');

    const startedAt = Date.now();
    const error = await rejectionOf(sut.generateDataKey(brokerContext()));

    expect(error).toBeInstanceOf(KmsUnavailableError);
    expect(Date.now() - startedAt).toBeLessThan(5_000);

    await stub.setMode('up');
    await expect(sut.generateDataKey(brokerContext())).resolves.toMatchObject({ keyId: stub.keyId });
  });

  it('gives up on a KMS slower than the request timeout with KmsUnavailableError', async () => {
    stub.setLatencyMs(3_000);

    const startedAt = Date.now();
    const error = await rejectionOf(providerFor('api', { requestTimeoutMs: 200 }).generateDataKey(brokerContext()));

    expect(error).toBeInstanceOf(KmsUnavailableError);
    expect(Date.now() - startedAt).toBeLessThan(2_500);
  });

  it('maps credentials the KMS does not accept to KmsAccessDeniedError', async () => {
    const sut = new AwsKmsProvider({
      region: stub.region,
      keyId: stub.keyId,
      endpoint: stub.url,
      credentials: { accessKeyId: stub.principals.api.accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    providers.push(sut);

    const error = await rejectionOf(sut.generateDataKey(brokerContext()));

    expect(error).toBeInstanceOf(KmsAccessDeniedError);
    expect(stub.calls).toHaveLength(0);
  });
});
