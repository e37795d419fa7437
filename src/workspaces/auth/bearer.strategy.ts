import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-http-bearer';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { lowerRole, Principal, Role } from '../../common/auth/auth-context';
import { AuthRepository } from './auth.repository';
import { constantTimeEqual, sha256 } from '../../common/bearer-secrets';

// A token's last use is stamped at most once a minute: one write per busy token, not one per request.
const LAST_USED_EVERY_MS = 60_000;

/** The `aud` of member JWTs: this API. `iss` is JWT_ISSUER; both are set and checked by the JwtModule's options. */
export const MEMBER_JWT_AUDIENCE = 'switchyard-api';

export interface MemberJwtClaims {
  sub: string;
  ws: string;
  role: Role;
  typ: 'member';
  /** Unique per sign-in: what sign-out revokes. */
  jti: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Resolves a bearer token to a principal: the platform admin token, a workspace API token
 * (`sy_…`, looked up by SHA-256), or a member JWT (HS256 only; `alg: none` never verifies).
 */
@Injectable()
export class BearerStrategy extends PassportStrategy(Strategy, 'bearer') {
  private readonly platformTokenHash?: Buffer;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repository: AuthRepository,
    private readonly jwt: JwtService,
  ) {
    super({ passReqToCallback: true });
    this.platformTokenHash = config.auth.platformAdminToken ? sha256(config.auth.platformAdminToken) : undefined;
  }

  async validate(request: FastifyRequest, token: string): Promise<Principal | false> {
    const hash = sha256(token);
    if (this.platformTokenHash && constantTimeEqual(hash, this.platformTokenHash)) return { kind: 'platform' };
    if (token.startsWith('sy_')) return this.fromApiToken(hash, request);
    return this.fromJwt(token);
  }

  private async fromApiToken(hash: Buffer, request: FastifyRequest): Promise<Principal | false> {
    const found = await this.repository.findToken(hash);
    if (!found) return false;
    const creator = found.creatorId && found.creatorRole ? { id: found.creatorId, role: found.creatorRole } : undefined;
    const expired = found.expiresAt !== null && found.expiresAt.getTime() <= Date.now();
    const refused = found.revokedAt ? 'token revoked' : expired ? 'token expired' : creator ? undefined : 'token creator removed';
    if (refused || !creator) {
      await this.repository.recordFailure(found.workspaceId, {
        actor: { type: 'token', id: found.id },
        ip: request.ip,
        requestId: String(request.id),
        reason: refused ?? 'token creator removed',
      });
      return false;
    }
    if (!found.lastUsedAt || Date.now() - found.lastUsedAt.getTime() >= LAST_USED_EVERY_MS) {
      await this.repository.touchToken(found.workspaceId, found.id, LAST_USED_EVERY_MS);
    }
    // A token never acts above the member who answers for it, as she is now (demoted since: capped at once).
    return {
      kind: 'workspace',
      workspaceId: found.workspaceId,
      actor: { type: 'token', id: found.id },
      memberId: creator.id,
      role: lowerRole(found.role, creator.role),
    };
  }

  private async fromJwt(token: string): Promise<Principal | false> {
    let claims: MemberJwtClaims & { exp: number };
    try {
      // HS256 only, and this deployment's issuer and audience (the module's verify options).
      claims = await this.jwt.verifyAsync<MemberJwtClaims & { exp: number }>(token);
    } catch {
      return false;
    }
    if (claims.typ !== 'member' || typeof claims.jti !== 'string' || !UUID.test(claims.jti) || !UUID.test(String(claims.ws))) return false;
    // A removed member's or a signed-out JWT stops working at once, not at expiry; the role is re-read too.
    const role = await this.repository.activeMemberRole(claims.ws, claims.sub, claims.jti);
    if (!role) return false;
    const jwt = { jti: claims.jti, expiresAt: new Date(claims.exp * 1000) };
    return { kind: 'workspace', workspaceId: claims.ws, actor: { type: 'user', id: claims.sub }, memberId: claims.sub, role, jwt };
  }
}
