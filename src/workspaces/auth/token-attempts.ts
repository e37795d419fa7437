import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { FastifyRequest } from 'fastify';
import { PLATFORM_WORKSPACE_ID } from '../../audit/audit-event';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { AuthRepository } from './auth.repository';
import { Lockouts, tooManyAttempts } from './lockouts';
import { sha256 } from '../../common/bearer-secrets';

const LOCKED = 'Too many failed authentication attempts from this address; retry after the indicated delay.';

/**
 * Per-IP limit on bearer tokens that authenticate nothing: guesses at the platform token (or at API
 * tokens). Tokens Switchyard issued that are only revoked or expired are not guesses and do not count.
 * Once an IP is locked out, its unknown tokens and the real platform token alike get 429.
 */
@Injectable()
export class TokenAttempts {
  constructor(
    private readonly lockouts: Lockouts,
    private readonly repository: AuthRepository,
    private readonly jwt: JwtService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The platform token authenticated: refused with 429 while its IP is locked out. */
  async platformUsed(request: FastifyRequest): Promise<void> {
    const locked = await this.lockouts.lockedFor(key(request), this.config.auth.lockout.tokenIpFailures);
    if (locked) throw tooManyAttempts(LOCKED, locked);
  }

  /** A bearer was refused with 401: counts a guess, audits it, and answers 429 instead once the IP is locked out. */
  async refused(request: FastifyRequest): Promise<void> {
    const token = presentedToken(request);
    if (!token || (await this.issuedByUs(token))) return;
    const max = this.config.auth.lockout.tokenIpFailures;
    const failure = await this.lockouts.fail(key(request), max);
    if (failure.retryAfterSeconds) throw tooManyAttempts(LOCKED, failure.retryAfterSeconds);
    const context = { actor: { type: 'token' as const }, resource: { type: 'ip', id: request.ip }, ip: request.ip, requestId: String(request.id) };
    await this.repository.recordEvent(PLATFORM_WORKSPACE_ID, { action: 'auth.token.failed', reason: 'unknown bearer token', ...context });
    if (failure.count !== max) return;
    const lockout = await this.lockouts.lock(key(request));
    await this.repository.recordEvent(PLATFORM_WORKSPACE_ID, {
      action: 'auth.token.locked',
      reason: `too many unknown bearer tokens; locked for ${lockout.seconds} s`,
      metadata: { scope: 'ip', lockedSeconds: lockout.seconds, lockout: lockout.strike },
      ...context,
    });
  }

  private async issuedByUs(token: string): Promise<boolean> {
    if (token.startsWith('sy_')) return (await this.repository.findToken(sha256(token))) !== undefined;
    try {
      await this.jwt.verifyAsync(token, { ignoreExpiration: true });
      return true;
    } catch {
      return false;
    }
  }
}

function key(request: FastifyRequest): string {
  return `token:ip:${request.ip}`;
}

/** Where passport-http-bearer looks: the Authorization header, then access_token in the body or query. */
function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (match) return match[1];
  for (const holder of [request.body, request.query]) {
    const value = (holder as Record<string, unknown> | undefined)?.access_token;
    if (typeof value === 'string' && value) return value;
  }
  return undefined;
}
