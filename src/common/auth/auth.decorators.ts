import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthContext, PlatformContext, Role } from './auth-context';

export const PUBLIC_ROUTE = 'switchyard:public';
export const PLATFORM_ROUTE = 'switchyard:platform';
export const REQUIRED_ROLE = 'switchyard:role';

/** No bearer token needed (health, login, webhooks that authenticate by signature). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

/** Only the platform admin token may call it. */
export const PlatformOnly = (): MethodDecorator & ClassDecorator => SetMetadata(PLATFORM_ROUTE, true);

/** Minimum workspace role (owner > admin > trader > viewer). Reads default to viewer, writes to admin. */
export const RequireRole = (role: Role): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_ROLE, role);

export const AUTH_CONTEXT = 'switchyardAuth';

/** The caller of a workspace route. */
export const Auth = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthContext => {
  return (ctx.switchToHttp().getRequest<FastifyRequest>() as unknown as Record<string, AuthContext>)[AUTH_CONTEXT];
});

/** The caller of a platform route. */
export const PlatformAuth = createParamDecorator((_: unknown, ctx: ExecutionContext): PlatformContext => {
  return (ctx.switchToHttp().getRequest<FastifyRequest>() as unknown as Record<string, PlatformContext>)[AUTH_CONTEXT];
});
