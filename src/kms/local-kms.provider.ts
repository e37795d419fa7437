import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { publishSecretFile } from '../config/secret-file';
import { canonicalEncryptionContext } from './envelope';
import { KmsDecryptError, KmsUnavailableError } from './kms-errors';
import { assertKmsAllowed } from './kms-policy';
import type { DataKey, EncryptionContext, KmsPrincipal, KmsProvider } from './kms-provider';

const DEFAULT_LOCAL_KEY_ID = 'local-root-1';

const BLOB_VERSION = 1;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Key ids become file names, so nothing that could climb out of the key directory is accepted.
const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface LocalKmsOptions {
  dataDir: string;
  principal: KmsPrincipal;
  keyId?: string;
}

type ParsedBlob = { keyId: string; iv: Buffer; tag: Buffer; encryptedKey: Buffer };

/**
 * Embedded KMS: root keys are files under `<dataDir>/kms`, data keys are wrapped with AES-256-GCM
 * bound to the encryption context, and the same per-principal policy as AWS is enforced.
 */
export class LocalKmsProvider implements KmsProvider {
  readonly name = 'local';
  private readonly keyDir: string;
  private readonly principal: KmsPrincipal;
  private readonly keyId: string;
  private readonly rootKeys = new Map<string, Promise<Buffer>>();

  constructor(options: LocalKmsOptions) {
    this.keyDir = join(options.dataDir, 'kms');
    this.principal = options.principal;
    this.keyId = assertKeyId(options.keyId ?? DEFAULT_LOCAL_KEY_ID);
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    assertKmsAllowed(this.principal, 'GenerateDataKey', context);
    const plaintext = randomBytes(KEY_BYTES);
    const wrapped = wrap(await this.rootKey(this.keyId, true), this.keyId, plaintext, context);
    return { plaintext, wrapped, keyId: this.keyId };
  }

  async decrypt(wrapped: Buffer, context: EncryptionContext, keyId?: string): Promise<Buffer> {
    assertKmsAllowed(this.principal, 'Decrypt', context);
    const blob = parseBlob(wrapped);
    if (keyId !== undefined && keyId !== blob.keyId) {
      throw new KmsDecryptError('the wrapped key was not wrapped by the requested KMS key');
    }
    return unwrap(await this.rootKey(blob.keyId, false), blob, context);
  }

  async reEncrypt(wrapped: Buffer, context: EncryptionContext, toKeyId: string): Promise<{ wrapped: Buffer; keyId: string }> {
    assertKmsAllowed(this.principal, 'ReEncrypt', context);
    assertKeyId(toKeyId);
    const blob = parseBlob(wrapped);
    const dataKey = unwrap(await this.rootKey(blob.keyId, false), blob, context);
    try {
      return { wrapped: wrap(await this.rootKey(toKeyId, true), toKeyId, dataKey, context), keyId: toKeyId };
    } finally {
      dataKey.fill(0);
    }
  }

  private rootKey(keyId: string, createIfMissing: boolean): Promise<Buffer> {
    const cached = this.rootKeys.get(keyId);
    if (cached) return cached;
    const loading = loadRootKey(join(this.keyDir, `${keyId}.key`), keyId, createIfMissing);
    this.rootKeys.set(keyId, loading);
    loading.catch(() => this.rootKeys.delete(keyId));
    return loading;
  }
}

async function loadRootKey(path: string, keyId: string, createIfMissing: boolean): Promise<Buffer> {
  try {
    return await readRootKey(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
    if (!createIfMissing) throw new KmsDecryptError(`local KMS key '${keyId}' does not exist`);
  }
  return createRootKey(path);
}

async function readRootKey(path: string): Promise<Buffer> {
  let key: Buffer;
  try {
    key = await readFile(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') throw error;
    throw new KmsUnavailableError(`local KMS root key could not be read (${errorCode(error) ?? 'unknown error'})`);
  }
  if (key.length !== KEY_BYTES) {
    key.fill(0);
    throw new KmsUnavailableError(`local KMS root key file ${path} is corrupt`);
  }
  return key;
}

async function createRootKey(path: string): Promise<Buffer> {
  const key = randomBytes(KEY_BYTES);
  try {
    const published = await publishSecretFile(path, key);
    if (published !== key) {
      key.fill(0);
      return readRootKey(path);
    }
    return key;
  } catch (error) {
    key.fill(0);
    throw new KmsUnavailableError(`local KMS root key could not be created (${errorCode(error) ?? 'unknown error'})`);
  }
}

// Blob: version(1) | keyId length(1) | keyId | iv(12) | tag(16) | encrypted data key(32).
function wrap(rootKey: Buffer, keyId: string, dataKey: Buffer, context: EncryptionContext): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', rootKey, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(canonicalEncryptionContext(context));
  const encryptedKey = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  const id = Buffer.from(keyId, 'ascii');
  return Buffer.concat([Buffer.from([BLOB_VERSION, id.length]), id, iv, cipher.getAuthTag(), encryptedKey]);
}

function unwrap(rootKey: Buffer, blob: ParsedBlob, context: EncryptionContext): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', rootKey, blob.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(canonicalEncryptionContext(context));
  decipher.setAuthTag(blob.tag);
  const head = decipher.update(blob.encryptedKey);
  try {
    return Buffer.concat([head, decipher.final()]);
  } catch {
    throw new KmsDecryptError('the wrapped key failed authentication (wrong encryption context or tampered blob)');
  } finally {
    head.fill(0);
  }
}

function parseBlob(wrapped: Buffer): ParsedBlob {
  const idEnd = 2 + (wrapped[1] ?? 0);
  const keyId = wrapped.subarray(2, idEnd).toString('ascii');
  if (wrapped[0] !== BLOB_VERSION || wrapped.length !== idEnd + IV_BYTES + TAG_BYTES + KEY_BYTES || !KEY_ID_PATTERN.test(keyId)) {
    throw new KmsDecryptError('the wrapped key is malformed');
  }
  const tagStart = idEnd + IV_BYTES;
  return {
    keyId,
    iv: wrapped.subarray(idEnd, tagStart),
    tag: wrapped.subarray(tagStart, tagStart + TAG_BYTES),
    encryptedKey: wrapped.subarray(tagStart + TAG_BYTES),
  };
}

function assertKeyId(keyId: string): string {
  if (!KEY_ID_PATTERN.test(keyId)) {
    throw new RangeError(`invalid local KMS key id '${keyId}' (letters, digits, '.', '_', '-'; at most 128)`);
  }
  return keyId;
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}
