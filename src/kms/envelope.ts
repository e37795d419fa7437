import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KmsDecryptError } from './kms-errors';
import type { EncryptionContext, KmsProvider } from './kms-provider';

const ALGORITHM = 'AES-256-GCM';
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const DATA_KEY_BYTES = 32;

/** What is stored for one secret version; only the KMS can turn wrappedKey back into a key. */
export type SealedSecret = {
  formatVersion: 1;
  algorithm: typeof ALGORITHM;
  kmsKeyId: string;
  wrappedKey: Buffer;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
};

/** Deterministic bytes for an encryption context (sorted [key, value] pairs as JSON), used as AAD. */
export function canonicalEncryptionContext(context: Readonly<Record<string, string>>): Buffer {
  const pairs = Object.keys(context)
    .sort()
    .map((key) => [key, context[key]]);
  return Buffer.from(JSON.stringify(pairs), 'utf8');
}

/** Encrypts `plaintext` under a fresh data key bound to `context`. The caller still owns (and zeroes) plaintext. */
export async function sealSecret(kms: KmsProvider, context: EncryptionContext, plaintext: Buffer): Promise<SealedSecret> {
  const dataKey = await kms.generateDataKey(context);
  try {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, dataKey.plaintext, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(canonicalEncryptionContext(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      formatVersion: 1,
      algorithm: ALGORITHM,
      kmsKeyId: dataKey.keyId,
      wrappedKey: dataKey.wrapped,
      iv,
      tag: cipher.getAuthTag(),
      ciphertext,
    };
  } finally {
    dataKey.plaintext.fill(0);
  }
}

/** Decrypts a sealed secret; throws KmsDecryptError if the record, context or any byte is wrong. The caller zeroes the result. */
export async function openSealedSecret(kms: KmsProvider, sealed: SealedSecret, context: EncryptionContext): Promise<Buffer> {
  assertWellFormed(sealed);
  const dataKey = await kms.decrypt(sealed.wrappedKey, context, sealed.kmsKeyId);
  try {
    if (dataKey.length !== DATA_KEY_BYTES) {
      throw new KmsDecryptError('the unwrapped data key has the wrong length');
    }
    const decipher = createDecipheriv(CIPHER, dataKey, sealed.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(canonicalEncryptionContext(context));
    decipher.setAuthTag(sealed.tag);
    const head = decipher.update(sealed.ciphertext);
    try {
      return Buffer.concat([head, decipher.final()]);
    } catch {
      throw new KmsDecryptError('sealed secret failed authentication (wrong context or tampered data)');
    } finally {
      head.fill(0);
    }
  } finally {
    dataKey.fill(0);
  }
}

// Node accepts short GCM tags unless told otherwise, so every length is checked before deciphering.
function assertWellFormed(sealed: SealedSecret): void {
  if (sealed.formatVersion !== 1) {
    throw new KmsDecryptError(`unsupported sealed secret format version ${String(sealed.formatVersion)}`);
  }
  if (sealed.algorithm !== ALGORITHM) {
    throw new KmsDecryptError('unsupported sealed secret algorithm');
  }
  if (sealed.iv.length !== IV_BYTES) {
    throw new KmsDecryptError(`sealed secret IV must be ${IV_BYTES} bytes, got ${sealed.iv.length}`);
  }
  if (sealed.tag.length !== TAG_BYTES) {
    throw new KmsDecryptError(`sealed secret tag must be ${TAG_BYTES} bytes, got ${sealed.tag.length}`);
  }
}
