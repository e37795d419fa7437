import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { Problem } from '../../common/problem';
import type { LoginDto } from '../dto/workspace.dto';
import { AuthRepository } from './auth.repository';
import type { MemberJwtClaims } from './bearer.strategy';
import { hashPassword, verifyPassword } from './secrets';

// Verified against when no member matches, so a wrong email costs the same time as a wrong password.
const DECOY_HASH = hashPassword('switchyard-decoy-password');

@Injectable()
export class LoginService {
  constructor(
    private readonly repository: AuthRepository,
    private readonly jwt: JwtService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async login(dto: LoginDto, from: { ip: string; requestId: string }): Promise<{ accessToken: string; tokenType: 'Bearer'; expiresAt: string; workspaceId: string }> {
    const candidates = (await this.repository.findLoginCandidates(dto.email)).filter((c) => !dto.workspaceId || c.workspaceId === dto.workspaceId);
    const verified = [];
    for (const c of candidates) {
      if (c.passwordHash && (await verifyPassword(dto.password, c.passwordHash))) verified.push(c);
    }
    if (candidates.length === 0) await verifyPassword(dto.password, await DECOY_HASH);
    if (verified.length === 0) {
      for (const c of candidates) await this.repository.recordFailure(c.workspaceId, { actor: { type: 'user', id: c.id }, ...from, reason: 'wrong password' });
      throw Problem.unauthorized('Wrong email or password.');
    }
    if (verified.length > 1) {
      throw Problem.unprocessable('workspace_required', 'This email belongs to several workspaces; send workspaceId too.', {
        workspaceIds: verified.map((v) => v.workspaceId),
      });
    }
    const member = verified[0];
    const claims: MemberJwtClaims = { sub: member.id, ws: member.workspaceId, role: member.role, typ: 'member' };
    const ttl = this.config.auth.jwtTtlSeconds;
    const accessToken = await this.jwt.signAsync(claims, { algorithm: 'HS256', expiresIn: ttl });
    return { accessToken, tokenType: 'Bearer', expiresAt: new Date(Date.now() + ttl * 1000).toISOString(), workspaceId: member.workspaceId };
  }
}
