import { Inject, Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import type { LoginDto } from '../dto/workspace.dto';
import type { Principal } from '../../common/auth/auth-context';
import { LoginOrigin, LoginService } from './login.service';
import { sha256 } from '../../common/bearer-secrets';
import type { PlatformContext } from '../../common/auth/auth-context';
import { PlatformSessionRow, PlatformSessionsRepository } from './platform-sessions.repository';
import { ResolvedSession, SessionsRepository } from './sessions.repository';

// The idle clock is stamped at most once a minute per session.
const TOUCH_EVERY_MS = 60_000;

export interface OpenedSession {
  cookieValue: string;
  maxAgeSeconds: number;
  session: { workspaceId: string; memberId: string; role: string; expiresAt: string };
}

/** Console sign-in: e-mail and password (under the login lockouts) open a server-side session the cookie names. */
@Injectable()
export class SessionService {
  constructor(
    private readonly login: LoginService,
    private readonly repository: SessionsRepository,
    private readonly platformSessions: PlatformSessionsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async open(dto: LoginDto, from: LoginOrigin): Promise<OpenedSession> {
    const member = await this.login.verify(dto, from);
    const cookieValue = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + this.config.console.session.maxMs);
    await this.repository.create({ id: randomUUID(), workspaceId: member.workspaceId, memberId: member.id, tokenHash: sha256(cookieValue), expiresAt });
    return {
      cookieValue,
      maxAgeSeconds: Math.floor(this.config.console.session.maxMs / 1000),
      session: { workspaceId: member.workspaceId, memberId: member.id, role: member.role, expiresAt: expiresAt.toISOString() },
    };
  }

  /** The principal a cookie stands for, or undefined when it names no live session (revoked, idle, expired, member removed). */
  async authenticate(cookieValue: string): Promise<(Principal & { kind: 'workspace'; sessionId: string }) | undefined> {
    const found = await this.repository.find(sha256(cookieValue));
    if (!found || !live(found, this.config.console.session.idleMs) || !found.role) return undefined;
    if (Date.now() - found.lastSeenAt.getTime() >= TOUCH_EVERY_MS) await this.repository.touch(found.workspaceId, found.id, TOUCH_EVERY_MS);
    return {
      kind: 'workspace',
      workspaceId: found.workspaceId,
      actor: { type: 'user', id: found.memberId },
      memberId: found.memberId,
      role: found.role,
      sessionId: found.id,
    };
  }

  async close(cookieValue: string): Promise<void> {
    const found = await this.repository.find(sha256(cookieValue));
    if (found && !found.revokedAt) await this.repository.revoke(found.workspaceId, found.id);
  }

  /** The platform on-call, already authenticated by the platform token, gets a session of the same kind; audited. */
  async openPlatform(caller: PlatformContext): Promise<{ cookieValue: string; maxAgeSeconds: number; session: { operator: true; expiresAt: string } }> {
    const cookieValue = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + this.config.console.session.maxMs);
    const id = randomUUID();
    await this.platformSessions.create({ id, tokenHash: sha256(cookieValue), expiresAt }, platformEvent('platform.session.open', caller, id));
    return {
      cookieValue,
      maxAgeSeconds: Math.floor(this.config.console.session.maxMs / 1000),
      session: { operator: true, expiresAt: expiresAt.toISOString() },
    };
  }

  /** True when the cookie names a live platform session (revoked, idle and expired ones do not). */
  async authenticatePlatform(cookieValue: string): Promise<boolean> {
    const found = await this.platformSessions.find(sha256(cookieValue));
    if (!found || !live(found, this.config.console.session.idleMs)) return false;
    if (Date.now() - found.lastSeenAt.getTime() >= TOUCH_EVERY_MS) await this.platformSessions.touch(found.id, TOUCH_EVERY_MS);
    return true;
  }

  async closePlatform(cookieValue: string, caller: Pick<PlatformContext, 'ip' | 'requestId'>): Promise<void> {
    const found = await this.platformSessions.find(sha256(cookieValue));
    if (found && !found.revokedAt)
      await this.platformSessions.revoke(
        found.id,
        platformEvent('platform.session.close', { actor: { type: 'platform', id: 'platform-admin' }, ...caller }, found.id),
      );
  }
}

function platformEvent(action: 'platform.session.open' | 'platform.session.close', caller: PlatformContext, sessionId: string) {
  return { action, actor: caller.actor, ip: caller.ip, requestId: caller.requestId, resource: { type: 'platform_session', id: sessionId } };
}

function live(s: Pick<ResolvedSession | PlatformSessionRow, 'revokedAt' | 'expiresAt' | 'lastSeenAt'>, idleMs: number): boolean {
  const now = Date.now();
  return !s.revokedAt && s.expiresAt.getTime() > now && now - s.lastSeenAt.getTime() < idleMs;
}
