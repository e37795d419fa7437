/** Stable codes the HTTP layer maps to problem+json; messages never carry key or secret material. */
export type KmsErrorCode = 'kms_unavailable' | 'kms_access_denied' | 'kms_decrypt_failed';

export abstract class KmsError extends Error {
  abstract readonly code: KmsErrorCode;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The KMS is down, throttling or too slow: callers answer 503 `kms_unavailable` and may retry. */
export class KmsUnavailableError extends KmsError {
  readonly code = 'kms_unavailable';
}

/** The KMS policy refused this principal the operation (or did not accept its credentials). */
export class KmsAccessDeniedError extends KmsError {
  readonly code = 'kms_access_denied';
}

/** The blob does not open: wrong encryption context, wrong key, tampered bytes or a bad tag. */
export class KmsDecryptError extends KmsError {
  readonly code = 'kms_decrypt_failed';
}
