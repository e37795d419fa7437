/** Refusals of the URL itself (422 at registration): the rest are failures of one request. */
const URL_REFUSALS = ['url_invalid', 'url_not_https', 'url_has_credentials', 'url_unresolvable', 'url_private_address'] as const;

export type OutboundErrorCode = (typeof URL_REFUSALS)[number] | 'redirect_refused' | 'response_too_large' | 'outbound_timeout' | 'outbound_network_error';

/** Why the SSRF guard did not deliver. Messages name the host at most, never the URL (its path or query may hold a secret). */
export class OutboundError extends Error {
  constructor(
    readonly code: OutboundErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundError';
  }

  /** True when the URL can never be fetched as it is (as opposed to this request failing). */
  get urlRefused(): boolean {
    return (URL_REFUSALS as readonly string[]).includes(this.code);
  }
}
