import { DecryptCommand, GenerateDataKeyCommand, KMSClient, ReEncryptCommand } from '@aws-sdk/client-kms';
import { KmsAccessDeniedError, KmsDecryptError, KmsError, KmsUnavailableError } from './kms-errors';
import type { DataKey, EncryptionContext, KmsProvider } from './kms-provider';

export interface AwsKmsOptions {
  region: string;
  keyId: string;
  endpoint?: string;
  /** Omitted in production: the SDK's default chain supplies the process's IAM identity. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  maxAttempts?: number;
  /** Per-attempt budget; a slow KMS must fail fast enough for callers to answer 503. */
  requestTimeoutMs?: number;
}

const ACCESS_DENIED = new Set(['AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException']);
const DECRYPT_FAILED = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);

/** AWS KMS over the SDK; the IAM identity of the credentials is the principal the key policy judges. */
export class AwsKmsProvider implements KmsProvider {
  readonly name = 'aws';
  private readonly client: KMSClient;
  private readonly keyId: string;

  constructor(options: AwsKmsOptions) {
    this.keyId = options.keyId;
    const timeoutMs = options.requestTimeoutMs ?? 2_000;
    this.client = new KMSClient({
      region: options.region,
      endpoint: options.endpoint,
      credentials: options.credentials,
      maxAttempts: options.maxAttempts ?? 2,
      requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true },
    });
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const output = await this.send('GenerateDataKey', () =>
      this.client.send(new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: context })),
    );
    if (!output.Plaintext || !output.CiphertextBlob || !output.KeyId) {
      throw new KmsUnavailableError('KMS GenerateDataKey returned an incomplete response');
    }
    return { plaintext: takeSecretBytes(output.Plaintext), wrapped: Buffer.from(output.CiphertextBlob), keyId: output.KeyId };
  }

  async decrypt(wrapped: Buffer, context: EncryptionContext, keyId?: string): Promise<Buffer> {
    const output = await this.send('Decrypt', () =>
      this.client.send(new DecryptCommand({ CiphertextBlob: wrapped, EncryptionContext: context, KeyId: keyId ?? this.keyId })),
    );
    if (!output.Plaintext) {
      throw new KmsUnavailableError('KMS Decrypt returned an incomplete response');
    }
    return takeSecretBytes(output.Plaintext);
  }

  async reEncrypt(wrapped: Buffer, context: EncryptionContext, toKeyId: string): Promise<{ wrapped: Buffer; keyId: string }> {
    const output = await this.send('ReEncrypt', () =>
      this.client.send(
        new ReEncryptCommand({
          CiphertextBlob: wrapped,
          SourceEncryptionContext: context,
          DestinationKeyId: toKeyId,
          DestinationEncryptionContext: context,
        }),
      ),
    );
    if (!output.CiphertextBlob || !output.KeyId) {
      throw new KmsUnavailableError('KMS ReEncrypt returned an incomplete response');
    }
    return { wrapped: Buffer.from(output.CiphertextBlob), keyId: output.KeyId };
  }

  /** Nest calls this at shutdown; it releases the SDK's keep-alive sockets. */
  onModuleDestroy(): void {
    this.client.destroy();
  }

  private async send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw toKmsError(operation, error);
    }
  }
}

/** Copies key bytes out of the SDK's response and zeroes the SDK's copy, so one buffer remains to be wiped. */
function takeSecretBytes(bytes: Uint8Array): Buffer {
  const copy = Buffer.from(bytes);
  bytes.fill(0);
  return copy;
}

// Everything else the SDK throws (throttling, 5xx, timeouts, refused connections, a disabled or
// missing key) means the KMS cannot serve us now. Errors are rebuilt so nothing of the request rides along.
function toKmsError(operation: string, error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof KmsError) return error;
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  // Transport failures arrive as a plain Error wrapper whose message names the socket error.
  const what = code ?? (error.name === 'Error' ? error.message.slice(0, 200) : error.name);
  if (ACCESS_DENIED.has(error.name)) return new KmsAccessDeniedError(`KMS refused ${operation} (${what})`);
  if (DECRYPT_FAILED.has(error.name)) return new KmsDecryptError(`KMS could not ${operation} the wrapped key (${what})`);
  return new KmsUnavailableError(`KMS ${operation} unavailable (${what})`);
}
