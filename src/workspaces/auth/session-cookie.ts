import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../../config/app-config';
import { Problem } from '../../common/problem';

/** The header every mutating cookie-authenticated request must carry: a cross-site form or image cannot set it. */
export const CSRF_HEADER = 'x-switchyard-csrf';

/** Whose session a cookie holds: a workspace member's, or the platform on-call's. */
export type SessionKind = 'member' | 'platform';

const BASE_NAMES: Record<SessionKind, string> = { member: 'switchyard_session', platform: 'switchyard_platform_session' };

/** `__Host-` (Secure, path /, no Domain) when the console is reached over https; plain name on http (local runs). */
export function sessionCookieName(config: AppConfig, kind: SessionKind = 'member'): string {
  return secure(config) ? `__Host-${BASE_NAMES[kind]}` : BASE_NAMES[kind];
}

export function readSessionCookie(request: FastifyRequest, config: AppConfig, kind: SessionKind = 'member'): string | undefined {
  const name = sessionCookieName(config, kind);
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=') || undefined;
  }
  return undefined;
}

export function sessionCookie(config: AppConfig, value: string, maxAgeSeconds: number, kind: SessionKind = 'member'): string {
  const flags = ['Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeSeconds}`, ...(secure(config) ? ['Secure'] : [])];
  return `${sessionCookieName(config, kind)}=${value}; ${flags.join('; ')}`;
}

export function clearedSessionCookie(config: AppConfig, kind: SessionKind = 'member'): string {
  return sessionCookie(config, '', 0, kind);
}

/**
 * CSRF proof for a cookie-authenticated write (and for sign-in itself): the custom header, and an Origin
 * that is the console's own (PUBLIC_BASE_URL's, or the host the request was sent to).
 */
export function assertCsrfProof(request: FastifyRequest, config: AppConfig): void {
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
  const origin = request.headers.origin;
  const own = [new URL(config.http.publicBaseUrl).origin, `${request.protocol}://${request.headers.host}`];
  if (request.headers[CSRF_HEADER] !== '1' || !origin || !own.includes(origin)) {
    throw Problem.forbidden('A cookie-authenticated write needs the console origin and the CSRF header.', 'csrf_failed');
  }
}

function secure(config: AppConfig): boolean {
  return config.http.publicBaseUrl.startsWith('https://');
}
