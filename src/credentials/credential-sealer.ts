import { Inject, Injectable } from '@nestjs/common';
import type { BrokerCredentials } from '../brokers/broker-adapter';
import { sealSecret, type SealedSecret } from '../kms/envelope';
import { brokerCredentialContext, KMS_PROVIDER, type KmsProvider } from '../kms/kms-provider';

/** Which credential version a sealed secret belongs to; every field is bound into the KMS encryption context. */
export interface CredentialRef {
  workspaceId: string;
  connectionId: string;
  version: number;
}

export interface SealedCredential extends SealedSecret {
  kmsProvider: KmsProvider['name'];
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
