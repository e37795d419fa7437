import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../../common/database-unavailable';
import { Problem } from '../../common/problem';
import { AuthContext, PlatformContext, Principal, Role, roleAtLeast } from '../../common/auth/auth-context';
import { AUTH_CONTEXT, PLATFORM_ROUTE, PUBLIC_ROUTE, REQUIRED_ROLE } from '../../common/auth/auth.decorators';
import { TokenAttempts } from './token-attempts';
import { SessionAuthenticator } from './session-authenticator';

/**
 * The global guard: every route needs a valid bearer token unless marked @Public(); platform routes
 * need the platform token; workspace routes need a role at least the declared one
 * (default: viewer for reads, admin for writes).
 */
@Injectable()
export class AccessGuard extends AuthGuard('bearer') {
  constructor(
    private readonly reflector: Reflector,
    private readonly attempts: TokenAttempts,
    private readonly sessions: SessionAuthenticator,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & { user: Principal }>();
    // A console cookie stands in for a bearer token only when no Authorization header is sent.
    if (!(await this.sessions.authenticate(request))) {
      try {
        await super.canActivate(context);
      } catch (err) {
        if (err instanceof Problem && err.status === 401) await this.attempts.refused(request);
        throw err;
      }
    }
    const principal = request.user;
    if (principal.kind === 'platform') await this.attempts.platformUsed(request);
    const base = { ip: request.ip, requestId: String(request.id) };
    const holder = request as unknown as Record<string, AuthContext | PlatformContext>;

    if (this.reflector.getAllAndOverride<boolean>(PLATFORM_ROUTE, targets)) {
      if (principal.kind !== 'platform') throw Problem.forbidden('This route needs the platform admin token.');
      holder[AUTH_CONTEXT] = { actor: { type: 'platform', id: 'platform-admin' }, ...base };
      return true;
    }
    if (principal.kind !== 'workspace') throw Problem.forbidden('The platform token cannot act inside a workspace.');

    const isRead = request.method === 'GET' || request.method === 'HEAD';
    const required = this.reflector.getAllAndOverride<Role>(REQUIRED_ROLE, targets) ?? (isRead ? 'viewer' : 'admin');
    if (!roleAtLeast(principal.role, required)) throw Problem.forbidden(`This action needs the ${required} role or higher.`);
    const { workspaceId, actor, memberId, role, jwt } = principal;
    holder[AUTH_CONTEXT] = { workspaceId, actor, memberId, role, ...(jwt && { jwt }), ...base };
    return true;
  }

  override handleRequest<T>(err: unknown, user: T): T {
    // A token that could not be checked is not a bad token: the outage surfaces as a 503, not a 401.
    if (isDatabaseUnavailable(err)) throw err;
    if (err || !user) throw Problem.unauthorized();
    return user;
  }
}
