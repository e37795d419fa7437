import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { PLATFORM_WORKSPACE_ID } from '../../audit/audit-event';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { Problem } from '../../common/problem';
import type { LoginDto } from '../dto/workspace.dto';
import type { AuthContext } from '../../common/auth/auth-context';
import { AuthRepository, LoginCandidate } from './auth.repository';
import type { MemberJwtClaims } from './bearer.strategy';
import { Lockout, Lockouts, Reservation, tooManyAttempts } from './lockouts';
import { sha256 } from '../../common/bearer-secrets';
import { hashPassword, verifyPassword } from './passwords';

// Verified against when no member with a password matches: every attempt costs exactly one hash.
const DECOY_HASH = hashPassword('switchyard-decoy-password');
const LOCKED = 'Too many failed sign-in attempts; retry after the indicated delay.';

export interface LoginOrigin {
  ip: string;
  requestId: string;
}

export interface LoginResult {
  accessToken: string;
  tokenType: 'Bearer';
  expiresAt: string;
  workspaceId: string;
}

/**
 * Password sign-in with brute-force limits that hold across api replicas: failures per account (e-mail)
 * and per IP lock out for growing periods; during a lockout the right password gets the same 429.
 * Unknown e-mail, a member without a password and a wrong password answer alike (one hash each).
 */
@Injectable()
export class LoginService {
  constructor(
    private readonly repository: AuthRepository,
    private readonly jwt: JwtService,
    private readonly lockouts: Lockouts,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async login(dto: LoginDto, from: LoginOrigin): Promise<LoginResult> {
    const member = await this.verify(dto, from);
    const claims: MemberJwtClaims = { sub: member.id, ws: member.workspaceId, role: member.role, typ: 'member', jti: randomUUID() };
    const ttl = this.config.auth.jwtTtlSeconds;
    const accessToken = await this.jwt.signAsync(claims, { expiresIn: ttl });
    return { accessToken, tokenType: 'Bearer', expiresAt: new Date(Date.now() + ttl * 1000).toISOString(), workspaceId: member.workspaceId };
  }

  /** Signs a member JWT out: its id is refused from now until it would have expired anyway. Audited. */
  async logout(auth: AuthContext): Promise<void> {
    if (!auth.jwt) {
      throw Problem.unprocessable(
        'logout_not_a_jwt',
        'Sign-out ends a member JWT from /v1/auth/login. Revoke an API token with DELETE /v1/tokens/{id}; end a console session with DELETE /v1/auth/session.',
      );
    }
    await this.repository.revokeJwt(auth.workspaceId, auth.memberId, auth.jwt, {
      action: 'auth.logout',
      actor: auth.actor,
      resource: { type: 'member', id: auth.memberId },
      ip: auth.ip,
      requestId: auth.requestId,
    });
  }

  /** The member an e-mail and password sign in as, under the lockouts; every sign-in (JWT or console session) goes through here. */
  async verify(dto: LoginDto, from: LoginOrigin): Promise<LoginCandidate> {
    const limits = this.config.auth.lockout;
    const keys = { account: `login:account:${emailDigest(dto.email)}`, ip: `login:ip:${from.ip}` };
    const [account, ip] = await Promise.all([this.lockouts.reserve(keys.account, limits.accountFailures), this.lockouts.reserve(keys.ip, limits.ipFailures)]);
    if (account.locked || ip.locked) {
      // Not evaluated, so not counted where no lockout holds.
      await Promise.all([!account.locked && this.lockouts.release(keys.account), !ip.locked && this.lockouts.release(keys.ip)]);
      throw tooManyAttempts(LOCKED, Math.max(retryAfter(account), retryAfter(ip)));
    }

    const candidates = (await this.repository.findLoginCandidates(dto.email)).filter((c) => !dto.workspaceId || c.workspaceId === dto.workspaceId);
    const verified = await verifiedCandidates(candidates, dto.password);
    if (verified.length === 0) {
      await this.failed(dto.email, candidates, from, [
        [keys.account, account.count === limits.accountFailures],
        [keys.ip, ip.count === limits.ipFailures],
      ]);
      throw Problem.unauthorized('Wrong email or password.');
    }
    await Promise.all([this.lockouts.reset(keys.account), this.lockouts.release(keys.ip)]);
    if (verified.length > 1) {
      throw Problem.unprocessable('workspace_required', 'This email belongs to several workspaces; send workspaceId too.', {
        workspaceIds: verified.map((v) => v.workspaceId),
      });
    }
    const member = verified[0];
    await this.repository.endBootstrap(member.workspaceId);
    return member;
  }

  /** Audits the failure where it belongs (each matching member's workspace, else the platform chain) and any lockout it completes. */
  private async failed(email: string, candidates: LoginCandidate[], from: LoginOrigin, completes: Array<[key: string, reachedMax: boolean]>): Promise<void> {
    const context = { ip: from.ip, requestId: from.requestId };
    const places: Array<{
      workspaceId: string;
      actor: { type: 'user'; id?: string };
      resource: { type: string; id?: string };
      reason: string;
      metadata: Record<string, string>;
    }> = candidates.length
      ? candidates.map((c) => ({
          workspaceId: c.workspaceId,
          actor: { type: 'user', id: c.id },
          resource: { type: 'member', id: c.id },
          reason: c.passwordHash ? 'wrong password' : 'no password set',
          metadata: {},
        }))
      : [
          {
            workspaceId: PLATFORM_WORKSPACE_ID,
            actor: { type: 'user' },
            resource: { type: 'login' },
            reason: 'unknown email',
            metadata: { emailDigest: emailDigest(email) },
          },
        ];
    for (const p of places) {
      await this.repository.recordEvent(p.workspaceId, {
        action: 'auth.login.failed',
        actor: p.actor,
        resource: p.resource,
        reason: p.reason,
        metadata: p.metadata,
        ...context,
      });
    }
    const [[accountKey, accountDone], [ipKey, ipDone]] = completes;
    if (accountDone) {
      const lockout = await this.lockouts.lock(accountKey);
      for (const p of places)
        await this.repository.recordEvent(p.workspaceId, {
          action: 'auth.login.locked',
          actor: p.actor,
          resource: p.resource,
          ...lockedDetails('account', lockout, p.metadata),
          ...context,
        });
    }
    if (ipDone) {
      const lockout = await this.lockouts.lock(ipKey);
      await this.repository.recordEvent(PLATFORM_WORKSPACE_ID, {
        action: 'auth.login.locked',
        actor: { type: 'user' },
        resource: { type: 'ip', id: from.ip },
        ...lockedDetails('ip', lockout, {}),
        ...context,
      });
    }
  }
}

async function verifiedCandidates(candidates: LoginCandidate[], password: string): Promise<LoginCandidate[]> {
  const withPassword = candidates.filter((c): c is LoginCandidate & { passwordHash: string } => c.passwordHash !== null);
  if (withPassword.length === 0) {
    await verifyPassword(password, await DECOY_HASH);
    return [];
  }
  const verified: LoginCandidate[] = [];
  for (const c of withPassword) if (await verifyPassword(password, c.passwordHash)) verified.push(c);
  return verified;
}

function lockedDetails(scope: 'account' | 'ip', lockout: Lockout, metadata: Record<string, string>) {
  return {
    reason: `too many failed sign-ins (${scope}); locked for ${lockout.seconds} s`,
    metadata: { ...metadata, scope, lockedSeconds: lockout.seconds, lockout: lockout.strike },
  };
}

function retryAfter(r: Reservation): number {
  return r.locked ? r.retryAfterSeconds : 0;
}

/** Lockout keys and platform-chain audit name an e-mail by digest only (it may be a mistyped password). */
function emailDigest(email: string): string {
  return sha256(email.trim().toLowerCase()).toString('hex').slice(0, 32);
}
