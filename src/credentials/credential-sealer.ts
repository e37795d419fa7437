import { Inject, Injectable } from '@nestjs/common';
import type { BrokerCredentials } from '../brokers/broker-adapter';
import { sealSecret, type SealedSecret } from '../kms/envelope';
import { KMS_PROVIDER, type EncryptionContext, type KmsProvider } from '../kms/kms-provider';

/** Which credential version a sealed secret belongs to; every field is bound into the KMS encryption context. */
export interface CredentialRef {
  workspaceId: string;
  connectionId: string;
  version: number;
}

export interface SealedCredential extends SealedSecret {
  kmsProvider: KmsProvider['name'];
}

/**
 * The encryption context of one broker credential version. The worker must open a version with
 * exactly this context (the KMS and the envelope's AAD both check it).
 */
export function brokerCredentialContext(ref: CredentialRef): EncryptionContext {
  return { purpose: 'broker-credential', workspaceId: ref.workspaceId, connectionId: ref.connectionId, version: String(ref.version) };
}

/** The api side of the vault: it seals broker credentials and has no way to open them (see docs/security.md). */
@Injectable()
export class CredentialSealer {
  constructor(@Inject(KMS_PROVIDER) private readonly kms: KmsProvider) {}

  async seal(ref: CredentialRef, credentials: BrokerCredentials): Promise<SealedCredential> {
    const plaintext = Buffer.from(JSON.stringify(credentials), 'utf8');
    try {
      return { ...(await sealSecret(this.kms, brokerCredentialContext(ref), plaintext)), kmsProvider: this.kms.name };
    } finally {
      plaintext.fill(0);
    }
  }
}
