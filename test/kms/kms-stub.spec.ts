import { GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { type KmsStub, startKmsStub } from '../support/kms-stub';
import { rejectionOf } from './kms-test-harness';

const context = { purpose: 'broker-credential', workspaceId: 'ws_1', connectionId: 'conn_1', version: '1' };

describe('KMS wire stub', () => {
  let stub: KmsStub;
  const clients: KMSClient[] = [];

  const clientWith = (credentials: { accessKeyId: string; secretAccessKey: string }): KMSClient => {
    const client = new KMSClient({ region: stub.region, endpoint: stub.url, credentials, maxAttempts: 1 });
    clients.push(client);
    return client;
  };
  const generateDataKey = () => new GenerateDataKeyCommand({ KeyId: stub.keyId, KeySpec: 'AES_256', EncryptionContext: context });

  beforeAll(async () => {
    stub = await startKmsStub();
  });

  afterAll(async () => {
    for (const client of clients) client.destroy();
    await stub.close();
  });

  it('accepts a request the SDK signed with the right secret', async () => {
    const output = await clientWith(stub.principals.cli).send(generateDataKey());

    expect(output.KeyId).toBe(stub.keyId);
    expect(output.Plaintext).toHaveLength(32);
  });

  it('rejects a signature made with the wrong secret key (InvalidSignatureException)', async () => {
    const error = await rejectionOf(clientWith({ accessKeyId: stub.principals.cli.accessKeyId, secretAccessKey: 'wrong' }).send(generateDataKey()));

    expect(error).toMatchObject({ name: 'InvalidSignatureException', $metadata: { httpStatusCode: 400 } });
  });

  it('rejects an access key it does not know (UnrecognizedClientException)', async () => {
    const error = await rejectionOf(clientWith({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x' }).send(generateDataKey()));

    expect(error).toMatchObject({ name: 'UnrecognizedClientException' });
  });

  it.each([
    // Same length, so Content-Length still matches and only the signature can notice.
    [
      'the body',
      (request: { body: Uint8Array }) => {
        const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
        body.write('AES_128', body.indexOf('AES_256'));
      },
    ],
    ['a signed header', (request: { headers: Record<string, string> }) => (request.headers['x-amz-target'] = 'TrentService.Encrypt')],
  ])('rejects a correctly signed request whose %s changed after signing', async (_what, tamper) => {
    const client = clientWith(stub.principals.cli);
    // The deserialize step runs after signing, right before the request is sent.
    client.middlewareStack.add(
      (next) => async (args) => {
        tamper(args.request as never);
        return next(args);
      },
      { step: 'deserialize' },
    );

    const error = await rejectionOf(client.send(generateDataKey()));

    expect(error).toMatchObject({ name: 'InvalidSignatureException' });
  });

  it('answers a policy refusal with AccessDeniedException and records the caller', async () => {
    const api = clientWith(stub.principals.api);
    const { CiphertextBlob } = await api.send(generateDataKey());
    const { DecryptCommand } = await import('@aws-sdk/client-kms');

    const error = await rejectionOf(api.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context })));

    expect(error).toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    expect(stub.calls.at(-1)).toEqual({ target: 'TrentService.Decrypt', principal: 'api' });
  });

  it('binds the ciphertext to the encryption context (InvalidCiphertextException)', async () => {
    const cli = clientWith(stub.principals.cli); // may both generate and decrypt, so only the binding can refuse
    const { CiphertextBlob } = await cli.send(generateDataKey());
    const { DecryptCommand } = await import('@aws-sdk/client-kms');

    const error = await rejectionOf(cli.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { ...context, version: '2' } })));

    expect(error).toMatchObject({ name: 'InvalidCiphertextException' });
  });
});
