import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { openSealedSecret, sealSecret } from '../../src/kms/envelope';
import { KmsDecryptError } from '../../src/kms/kms-errors';
import { LocalKmsProvider } from '../../src/kms/local-kms.provider';
import { brokerContext, type KmsHarness, localHarness, rejectionOf } from './kms-test-harness';

describe('LocalKmsProvider', () => {
  let harness: KmsHarness & { dataDir: string };
  const keyFile = (keyId: string) => join(harness.dataDir, 'kms', `${keyId}.key`);

  beforeEach(async () => {
    harness = await localHarness();
  });

  afterEach(async () => {
    await harness.teardown();
  });

  it('creates the root key on first use: 32 bytes, file 0600 in a 0700 directory', async () => {
    await harness.forPrincipal('api').generateDataKey(brokerContext());

    const file = await stat(keyFile('local-root-1'));
    expect(file.mode & 0o777).toBe(0o600);
    expect(file.size).toBe(32);
    expect((await stat(join(harness.dataDir, 'kms'))).mode & 0o777).toBe(0o700);
  });

  it('reuses the root key across instances', async () => {
    const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), Buffer.from('secret'));
    const rootKey = await readFile(keyFile('local-root-1'));

    const opened = await openSealedSecret(new LocalKmsProvider({ dataDir: harness.dataDir, principal: 'worker' }), sealed, brokerContext());

    expect(opened.toString()).toBe('secret');
    expect((await readFile(keyFile('local-root-1'))).equals(rootKey)).toBe(true);
  });

  it('converges on one root key when many instances create it at once', async () => {
    const racers = Array.from({ length: 8 }, () => new LocalKmsProvider({ dataDir: harness.dataDir, principal: 'api' }));

    const sealed = await Promise.all(racers.map((sut) => sealSecret(sut, brokerContext(), Buffer.from('raced'))));

    const worker = harness.forPrincipal('worker');
    for (const record of sealed) {
      expect((await openSealedSecret(worker, record, brokerContext())).toString()).toBe('raced');
    }
    expect(await readdir(join(harness.dataDir, 'kms'))).toEqual(['local-root-1.key']);
  });

  it('honours a configured key id', async () => {
    const dataKey = await new LocalKmsProvider({ dataDir: harness.dataDir, principal: 'api', keyId: 'tenant-root-7' }).generateDataKey(brokerContext());

    expect(dataKey.keyId).toBe('tenant-root-7');
    expect((await stat(keyFile('tenant-root-7'))).size).toBe(32);
  });

  it('opens a rewrapped record after the old root key is gone', async () => {
    const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), Buffer.from('moved'));
    const moved = await harness.forPrincipal('cli').reEncrypt(sealed.wrappedKey, brokerContext(), 'local-root-2');
    await rm(keyFile('local-root-1'));

    const opened = await openSealedSecret(
      new LocalKmsProvider({ dataDir: harness.dataDir, principal: 'worker', keyId: 'local-root-2' }),
      { ...sealed, wrappedKey: moved.wrapped, kmsKeyId: moved.keyId },
      brokerContext(),
    );

    expect(opened.toString()).toBe('moved');
  });

  it('does not invent a root key to decrypt with', async () => {
    const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), Buffer.from('secret'));
    await rm(keyFile('local-root-1'));

    const error = await rejectionOf(openSealedSecret(new LocalKmsProvider({ dataDir: harness.dataDir, principal: 'worker' }), sealed, brokerContext()));

    expect(error).toBeInstanceOf(KmsDecryptError);
    expect(await readdir(join(harness.dataDir, 'kms'))).toEqual([]);
  });

  it.each(['../escape', 'a/b', '.hidden', ''])('refuses the key id %j, which would leave the key directory', async (keyId) => {
    expect(() => new LocalKmsProvider({ dataDir: harness.dataDir, principal: 'cli', keyId })).toThrow(RangeError);
    const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), Buffer.from('secret'));
    await expect(harness.forPrincipal('cli').reEncrypt(sealed.wrappedKey, brokerContext(), keyId)).rejects.toThrow(RangeError);
  });
});
