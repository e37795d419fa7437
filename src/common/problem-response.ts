import { HttpException } from '@nestjs/common';
import type { Logger } from 'pino';
import { isDatabaseUnavailable } from './database-unavailable';
import { Problem } from './problem';

export interface ProblemResponse {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

const TITLES: Record<number, [code: string, title: string]> = {
  400: ['bad_request', 'Bad request'],
  401: ['unauthorized', 'Unauthorized'],
  403: ['forbidden', 'Forbidden'],
  404: ['not_found', 'Not found'],
  405: ['method_not_allowed', 'Method not allowed'],
  406: ['not_acceptable', 'Not acceptable'],
  413: ['payload_too_large', 'Payload too large'],
  415: ['unsupported_media_type', 'Unsupported media type'],
  429: ['rate_limited', 'Too many requests'],
};

/** Fastify's own request errors (raised before a handler runs), by error code. */
const FASTIFY_CODES: Record<string, [status: number, code: string, detail: string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload_too_large', 'The request body is larger than allowed.'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type', 'Send application/json (or text/plain holding JSON).'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'malformed_json', 'The request body is not valid JSON.'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'malformed_json', 'The request body is empty.'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'bad_request', 'Content-Length does not match the body.'],
  FST_ERR_BAD_URL: [400, 'bad_request', 'The URL is malformed.'],
  FST_ERR_ASYNC_CONSTRAINT: [400, 'bad_request', 'The request could not be routed.'],
};

/**
 * Turns anything thrown while serving a request into an RFC 9457 body. A database outage is a 503
 * with Retry-After; other unknown errors become a bare 500 with the request id: the cause goes to the
 * log, never to the client.
 */
export function toProblemResponse(error: unknown, requestId: string, logger: Logger): ProblemResponse {
  const problem = asProblem(error);
  if (!problem && isDatabaseUnavailable(error)) {
    // An outage, not a bug: senders and clients retry (webhook providers do on 503, not on 500).
    logger.warn({ requestId, err: (error as Error).message }, 'database unavailable');
    return build(Problem.unavailable('database_unavailable', 'The service cannot reach its database right now; retry shortly.', 2), requestId);
  }
  if (!problem) {
    logger.error({ err: error, requestId }, 'unhandled error');
    return build(new Problem(500, 'internal_error', 'Internal server error', 'Something went wrong; quote the requestId when reporting it.'), requestId);
  }
  if (problem.status >= 500) logger.warn({ code: problem.code, requestId }, problem.title);
  return build(problem, requestId);
}

function asProblem(error: unknown): Problem | undefined {
  if (error instanceof Problem) return error;
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const [code, title] = TITLES[status] ?? (status < 500 ? ['bad_request', 'Bad request'] : ['internal_error', 'Internal server error']);
    // A 429 here comes from the throttler, which has already set Retry-After on the reply.
    const detail = status === 404 ? 'No such route.' : status < 500 ? error.message : undefined;
    return new Problem(status, code, title, detail);
  }
  const fastifyCode = (error as { code?: string })?.code;
  if (fastifyCode && FASTIFY_CODES[fastifyCode]) {
    const [status, code, detail] = FASTIFY_CODES[fastifyCode];
    return new Problem(status, code, TITLES[status]?.[1] ?? 'Bad request', detail);
  }
  // Body parser syntax errors surface as SyntaxError with statusCode 400.
  const statusCode = (error as { statusCode?: number })?.statusCode;
  if (error instanceof SyntaxError || statusCode === 400) return new Problem(400, 'malformed_json', 'Bad request', 'The request body is not valid JSON.');
  if (statusCode && statusCode >= 400 && statusCode < 500 && TITLES[statusCode]) {
    const [code, title] = TITLES[statusCode];
    return new Problem(statusCode, code, title);
  }
  return undefined;
}

function build(problem: Problem, requestId: string): ProblemResponse {
  return {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', ...problem.headers },
    body: {
      type: `https://switchyard.dev/problems/${problem.code}`,
      title: problem.title,
      status: problem.status,
      code: problem.code,
      ...(problem.detail ? { detail: problem.detail } : {}),
      ...problem.extensions,
      requestId,
    },
  };
}
