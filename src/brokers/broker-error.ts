/**
 * Why a broker call failed, in the terms routing and onboarding act on.
 * - `credentials_invalid`: the broker rejected the key (401/403 on auth).
 * - `withdrawal_scope_rejected`: the key can move funds; we refuse it.
 * - `rejected`: the broker refused the order permanently (insufficient funds, bad symbol): never retried.
 * - `unsupported_order_type`: this broker cannot take that order shape: never retried.
 * - `transient`: 429/5xx/connection refused: retry with backoff.
 * - `ambiguous`: timeout or dropped connection after the request was sent: the order may exist; look it up before retrying.
 */
export type BrokerErrorKind = 'credentials_invalid' | 'withdrawal_scope_rejected' | 'rejected' | 'unsupported_order_type' | 'transient' | 'ambiguous';

export class BrokerError extends Error {
  constructor(
    readonly kind: BrokerErrorKind,
    readonly broker: string,
    /** Safe to show to users and to log: never contains credentials or signed URLs. */
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'BrokerError';
  }

  get retryable(): boolean {
    return this.kind === 'transient' || this.kind === 'ambiguous';
  }
}
