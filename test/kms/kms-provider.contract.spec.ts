import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { openSealedSecret, type SealedSecret, sealSecret } from '../../src/kms/envelope';
import { KmsAccessDeniedError, KmsDecryptError } from '../../src/kms/kms-errors';
import type { EncryptionContext } from '../../src/kms/kms-provider';
import { awsHarness, brokerContext, flipBit, type KmsHarness, localHarness, rejectionOf, webhookContext } from './kms-test-harness';

const backends: Array<[string, () => Promise<KmsHarness>]> = [
  ['local', localHarness],
  ['aws (SDK against the wire stub)', awsHarness],
];

describe.each(backends)('KMS provider contract: %s', (_name, createHarness) => {
  let harness: KmsHarness;
  const secret = Buffer.from('{"apiKey":"PKTEST","apiSecret":"s3cr3t"}');

  beforeAll(async () => {
    harness = await createHarness();
  });

  afterAll(async () => {
    await harness.teardown();
  });

  describe('seal and open', () => {
    it('round-trips: the api seals, the worker opens', async () => {
      const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), secret);

      const opened = await openSealedSecret(harness.forPrincipal('worker'), sealed, brokerContext());

      expect(opened.equals(secret)).toBe(true);
      expect(sealed).toMatchObject({ formatVersion: 1, algorithm: 'AES-256-GCM' });
      expect(sealed.iv).toHaveLength(12);
      expect(sealed.tag).toHaveLength(16);
      expect(sealed.ciphertext.includes(secret)).toBe(false);
    });

    it('uses a fresh data key and a fresh IV for every seal', async () => {
      const sut = harness.forPrincipal('cli'); // the one principal that may both seal and open
      const first = await sealSecret(sut, brokerContext(), secret);
      const second = await sealSecret(sut, brokerContext(), secret);

      const firstKey = await sut.decrypt(first.wrappedKey, brokerContext(), first.kmsKeyId);
      const secondKey = await sut.decrypt(second.wrappedKey, brokerContext(), second.kmsKeyId);

      expect(firstKey).toHaveLength(32);
      expect(firstKey.equals(secondKey)).toBe(false);
      expect(first.iv.equals(second.iv)).toBe(false);
      expect(first.wrappedKey.equals(second.wrappedKey)).toBe(false);
      expect(first.ciphertext.equals(second.ciphertext)).toBe(false);
    });
  });

  describe('binding to the encryption context', () => {
    let sealed: SealedSecret;

    beforeAll(async () => {
      sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), secret);
    });

    const wrongContexts: Array<[string, EncryptionContext]> = [
      ['workspaceId', brokerContext({ workspaceId: 'ws_2' })],
      ['connectionId', brokerContext({ connectionId: 'conn_2' })],
      ['version', brokerContext({ version: '2' })],
      ['purpose', { ...brokerContext(), purpose: 'webhook-secret' }],
    ];

    // As the cli, which may open both purposes: the binding refuses, not the policy.
    it.each(wrongContexts)('refuses to open with a different %s', async (_field, context) => {
      const error = await rejectionOf(openSealedSecret(harness.forPrincipal('cli'), sealed, context));

      expect(error).toBeInstanceOf(KmsDecryptError);
    });

    it.each(['ciphertext', 'iv', 'tag', 'wrappedKey'] as const)('refuses a flipped bit anywhere in %s', async (field) => {
      const sut = harness.forPrincipal('worker');
      for (let index = 0; index < sealed[field].length; index++) {
        const tampered = { ...sealed, [field]: flipBit(sealed[field], index) };

        const error = await rejectionOf(openSealedSecret(sut, tampered, brokerContext()));

        expect(error).toBeInstanceOf(KmsDecryptError);
      }
    });

    it.each([15, 12, 4])('refuses a tag truncated to %i bytes before asking the KMS', async (length) => {
      const truncated = { ...sealed, tag: sealed.tag.subarray(0, length) };
      const callsBefore = harness.kmsCalls();

      const error = await rejectionOf(openSealedSecret(harness.forPrincipal('worker'), truncated, brokerContext()));

      expect(error).toBeInstanceOf(KmsDecryptError);
      expect(harness.kmsCalls()).toBe(callsBefore);
    });
  });

  describe('per-principal policy', () => {
    it("refuses the api's decrypt of a broker credential", async () => {
      const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), secret);

      const error = await rejectionOf(openSealedSecret(harness.forPrincipal('api'), sealed, brokerContext()));

      expect(error).toBeInstanceOf(KmsAccessDeniedError);
    });

    it('refuses the worker a webhook secret and any new data key', async () => {
      const sealed = await sealSecret(harness.forPrincipal('api'), webhookContext(), secret);

      expect(await rejectionOf(openSealedSecret(harness.forPrincipal('worker'), sealed, webhookContext()))).toBeInstanceOf(KmsAccessDeniedError);
      expect(await rejectionOf(sealSecret(harness.forPrincipal('worker'), brokerContext(), secret))).toBeInstanceOf(KmsAccessDeniedError);
    });

    it('lets the api open a webhook secret', async () => {
      const sealed = await sealSecret(harness.forPrincipal('api'), webhookContext(), secret);

      const opened = await openSealedSecret(harness.forPrincipal('api'), sealed, webhookContext());

      expect(opened.equals(secret)).toBe(true);
    });

    it('lets the worker open a broker credential', async () => {
      const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), secret);

      const opened = await openSealedSecret(harness.forPrincipal('worker'), sealed, brokerContext());

      expect(opened.equals(secret)).toBe(true);
    });

    it.each(['api', 'worker'] as const)('refuses reEncrypt to the %s', async (principal) => {
      const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), secret);

      const error = await rejectionOf(harness.forPrincipal(principal).reEncrypt(sealed.wrappedKey, brokerContext(), harness.newKeyId()));

      expect(error).toBeInstanceOf(KmsAccessDeniedError);
    });
  });

  describe('reEncrypt', () => {
    it('moves a wrapped key to another KMS key, and the record opens with only the new wrapped key', async () => {
      const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), secret);
      const toKeyId = harness.newKeyId();

      const moved = await harness.forPrincipal('cli').reEncrypt(sealed.wrappedKey, brokerContext(), toKeyId);
      const rewrapped: SealedSecret = { ...sealed, wrappedKey: moved.wrapped, kmsKeyId: moved.keyId };

      expect(moved.keyId).toBe(toKeyId);
      expect(moved.wrapped.equals(sealed.wrappedKey)).toBe(false);
      expect((await openSealedSecret(harness.forPrincipal('worker'), rewrapped, brokerContext())).equals(secret)).toBe(true);
    });

    it('keeps the context binding through a rewrap', async () => {
      const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), secret);
      const moved = await harness.forPrincipal('cli').reEncrypt(sealed.wrappedKey, brokerContext(), harness.newKeyId());

      const error = await rejectionOf(
        openSealedSecret(harness.forPrincipal('worker'), { ...sealed, wrappedKey: moved.wrapped, kmsKeyId: moved.keyId }, brokerContext({ version: '2' })),
      );

      expect(error).toBeInstanceOf(KmsDecryptError);
    });

    it('refuses to open a rewrapped key while naming the old key id', async () => {
      const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), secret);
      const moved = await harness.forPrincipal('cli').reEncrypt(sealed.wrappedKey, brokerContext(), harness.newKeyId());

      const error = await rejectionOf(openSealedSecret(harness.forPrincipal('worker'), { ...sealed, wrappedKey: moved.wrapped }, brokerContext()));

      expect(error).toBeInstanceOf(KmsDecryptError);
    });
  });

  describe('errors carry no secret material', () => {
    it('no failure path mentions the plaintext, the data key or the ciphertext', async () => {
      const canary = Buffer.from(`canary-${randomUUID()}`);
      const worker = harness.forPrincipal('worker');
      const sealed = await sealSecret(harness.forPrincipal('api'), brokerContext(), canary);
      const dataKey = await worker.decrypt(sealed.wrappedKey, brokerContext(), sealed.kmsKeyId);

      const errors = await Promise.all([
        rejectionOf(openSealedSecret(worker, sealed, brokerContext({ workspaceId: 'ws_other' }))),
        rejectionOf(openSealedSecret(worker, { ...sealed, ciphertext: flipBit(sealed.ciphertext, 0) }, brokerContext())),
        rejectionOf(openSealedSecret(worker, { ...sealed, tag: flipBit(sealed.tag, 3) }, brokerContext())),
        rejectionOf(openSealedSecret(worker, { ...sealed, tag: sealed.tag.subarray(0, 15) }, brokerContext())),
        rejectionOf(openSealedSecret(worker, { ...sealed, wrappedKey: flipBit(sealed.wrappedKey, sealed.wrappedKey.length - 1) }, brokerContext())),
        rejectionOf(openSealedSecret(harness.forPrincipal('api'), sealed, brokerContext())),
        rejectionOf(harness.forPrincipal('api').reEncrypt(sealed.wrappedKey, brokerContext(), harness.newKeyId())),
      ]);

      const forbidden = [canary, dataKey, sealed.ciphertext, sealed.wrappedKey].flatMap((bytes) => [
        bytes.toString('utf8'),
        bytes.toString('hex'),
        bytes.toString('base64'),
      ]);
      for (const error of errors) {
        expect(error).toBeInstanceOf(Error);
        const rendered = [inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error), String((error as Error).stack)].join('\n');
        for (const needle of forbidden) {
          expect(rendered.includes(needle)).toBe(false);
        }
      }
    });
  });
});
