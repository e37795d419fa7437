/** Which process is talking to the KMS; the KMS policy is written per principal. */
export type KmsPrincipal = 'api' | 'worker' | 'cli';

/** What a data key protects. Only `broker-credential` is locked to the worker. */
export type KeyPurpose = 'broker-credential' | 'webhook-secret' | 'webhook-signing';

/**
 * Bound to every data key (AWS KMS encryption context; AAD of the envelope).
 * broker-credential: {purpose, workspaceId, connectionId, version}
 * webhook-secret:    {purpose, workspaceId, sourceId, version}     (inbound: the api verifies signals)
 * webhook-signing:   {purpose, workspaceId, endpointId, version}   (outbound: the worker signs order events)
 */
export type EncryptionContext = {
  purpose: KeyPurpose;
  workspaceId: string;
  version: string;
} & ({ connectionId: string } | { sourceId: string } | { endpointId: string });

/** The context a connection's broker credential version is sealed under (opened by the routing worker only). */
export function brokerCredentialContext(ref: { workspaceId: string; connectionId: string; version: number }): EncryptionContext {
  return { purpose: 'broker-credential', workspaceId: ref.workspaceId, connectionId: ref.connectionId, version: String(ref.version) };
}

/** The context a source's HMAC signing key version is sealed under (opened by the api to verify signals). */
export function sourceSecretContext(ref: { workspaceId: string; sourceId: string; version: number }): EncryptionContext {
  return { purpose: 'webhook-secret', workspaceId: ref.workspaceId, sourceId: ref.sourceId, version: String(ref.version) };
}

/** The context an order-webhook endpoint's signing secret version is sealed under (opened by the worker to sign). */
export function signingSecretContext(ref: { workspaceId: string; endpointId: string; version: number }): EncryptionContext {
  return { purpose: 'webhook-signing', workspaceId: ref.workspaceId, endpointId: ref.endpointId, version: String(ref.version) };
}

export interface DataKey {
  /** 32-byte AES key; the caller must zero it after use. */
  plaintext: Buffer;
  /** The data key wrapped under the KMS key (opaque). */
  wrapped: Buffer;
  /** The KMS key that wrapped it. */
  keyId: string;
}

export interface KmsProvider {
  readonly name: 'aws' | 'local';
  generateDataKey(context: EncryptionContext): Promise<DataKey>;
  /** `keyId`, when given (the sealed record's kmsKeyId), must be the key that wrapped the blob. */
  decrypt(wrapped: Buffer, context: EncryptionContext, keyId?: string): Promise<Buffer>;
  reEncrypt(wrapped: Buffer, context: EncryptionContext, toKeyId: string): Promise<{ wrapped: Buffer; keyId: string }>;
}

export const KMS_PROVIDER = Symbol('KMS_PROVIDER');
