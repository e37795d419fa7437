/** One invalid field in a request, as listed in a 422 problem. */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * An RFC 9457 problem with a stable machine-readable `code`. Services throw these;
 * the global filter renders them. `detail` is shown to clients: never put secrets in it.
 */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = 'Problem';
  }

  static badRequest(code: string, detail: string): Problem {
    return new Problem(400, code, 'Bad request', detail);
  }

  static unauthorized(detail = 'Missing or invalid credentials.'): Problem {
    return new Problem(401, 'unauthorized', 'Unauthorized', detail, {}, { 'www-authenticate': 'Bearer' });
  }

  static forbidden(detail: string, code = 'forbidden'): Problem {
    return new Problem(403, code, 'Forbidden', detail);
  }

  /** Also what another workspace's resource looks like: indistinguishable from a missing one. */
  static notFound(resource: string): Problem {
    return new Problem(404, 'not_found', 'Not found', `${resource} not found.`);
  }

  static conflict(code: string, detail: string): Problem {
    return new Problem(409, code, 'Conflict', detail);
  }

  static validation(errors: FieldError[]): Problem {
    return new Problem(422, 'validation_failed', 'Validation failed', 'The request has invalid fields.', { errors });
  }

  static unprocessable(code: string, detail: string, extensions: Record<string, unknown> = {}): Problem {
    return new Problem(422, code, 'Unprocessable request', detail, extensions);
  }

  static tooManyRequests(code: string, detail: string, retryAfterSeconds: number): Problem {
    return new Problem(429, code, 'Too many requests', detail, {}, { 'retry-after': String(retryAfterSeconds) });
  }

  static unavailable(code: string, detail: string, retryAfterSeconds = 5): Problem {
    return new Problem(503, code, 'Service unavailable', detail, {}, { 'retry-after': String(retryAfterSeconds) });
  }
}
