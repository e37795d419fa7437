import type { paths } from './schema';

/** One invalid field of a 422 `validation_failed` answer: `path` is the body field (dotted), `message` says why. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** A problem+json answer (RFC 9457) as the api sends it; `code` is stable. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly errors: FieldProblem[] = [],
  ) {
    super(detail);
  }

  /** What the api said about this field (or a field below it), if anything. */
  about(field: string): string | undefined {
    const hit = this.errors.find((e) => e.path === field || e.path.startsWith(`${field}.`));
    return hit && `${hit.path === field ? '' : `${hit.path.slice(field.length + 1)}: `}${hit.message}`;
  }
}

/** Every list on the api answers one page of this shape. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type ApiPath = keyof paths;

type Operation = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Responses<P extends ApiPath, O extends Operation> = paths[P][O] extends { responses: infer R } ? R : never;
type Json<R> = R extends { content: { 'application/json': infer T } } ? T : never;
/** What a route answers on success (its 200, 201 or 202), as the OpenAPI document describes it. */
export type Answer<P extends ApiPath, O extends Operation> = Json<
  Responses<P, O>[200 & keyof Responses<P, O>] | Responses<P, O>[201 & keyof Responses<P, O>] | Responses<P, O>[202 & keyof Responses<P, O>]
>;
/** One item of a list route's page. */
export type Item<P extends ApiPath> = Answer<P, 'get'> extends Page<infer T> ? T : never;

/**
 * Same-origin fetch with the session cookie. Mutating requests carry the custom CSRF header the api
 * requires of cookie-authenticated calls (a cross-site form cannot set it).
 */
export async function api<T>(method: Method, path: ApiPath | string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
  if (method !== 'GET') headers['x-switchyard-csrf'] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : undefined;
  if (!res.ok)
    throw new ApiProblem(
      res.status,
      parsed?.code ?? 'http_error',
      parsed?.detail ?? parsed?.title ?? res.statusText,
      Array.isArray(parsed?.errors) ? parsed.errors : [],
    );
  return parsed as T;
}
