import type { KeyPurpose, KmsPrincipal } from './kms-provider';
import { KmsAccessDeniedError } from './kms-errors';

export type KmsOperation = 'GenerateDataKey' | 'Decrypt' | 'ReEncrypt' | 'Encrypt';

/** Purposes a principal may use per operation; mirrors the sample AWS key policy in docs/. */
const KMS_POLICY: Record<KmsPrincipal, Partial<Record<KmsOperation, readonly KeyPurpose[]>>> = {
  api: {
    // webhook-signing: the api seals an order-webhook endpoint's signing secret; only the worker signs with it.
    GenerateDataKey: ['broker-credential', 'webhook-secret', 'webhook-signing'],
    // The api seals broker credentials but must never read one back.
    Decrypt: ['webhook-secret'],
  },
  // The worker seals nothing and never verifies a webhook: it opens broker credentials and signs order webhooks.
  worker: {
    Decrypt: ['broker-credential', 'webhook-signing'],
  },
  // Break-glass and rewrap run from the cli; they are audited where they are invoked.
  cli: {
    GenerateDataKey: ['broker-credential', 'webhook-secret', 'webhook-signing'],
    Decrypt: ['broker-credential', 'webhook-secret', 'webhook-signing'],
    ReEncrypt: ['broker-credential', 'webhook-secret', 'webhook-signing'],
    Encrypt: ['broker-credential', 'webhook-secret', 'webhook-signing'],
  },
};

/**
 * Throws KmsAccessDeniedError unless `principal` may run `operation` for the context's purpose.
 * The context is loosely typed because the KMS wire stub checks contexts straight off the wire.
 */
export function assertKmsAllowed(principal: KmsPrincipal, operation: KmsOperation, context: { readonly purpose?: string } | undefined): void {
  const purposes: readonly string[] = KMS_POLICY[principal]?.[operation] ?? [];
  const purpose = context?.purpose;
  if (purpose === undefined || !purposes.includes(purpose)) {
    throw new KmsAccessDeniedError(`KMS policy refuses ${operation} to principal '${principal}' for purpose '${purpose ?? '(none)'}'`);
  }
}
