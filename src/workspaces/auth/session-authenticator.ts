import { Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { Problem } from '../../common/problem';
import type { Principal } from '../../common/auth/auth-context';
import { assertCsrfProof, readSessionCookie } from './session-cookie';
import { SessionService } from './session.service';

/** The guard's cookie path: a request without Authorization but with a console cookie is that session's member. */
@Injectable()
export class SessionAuthenticator {
  constructor(
    private readonly sessions: SessionService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * True when the request authenticated by cookie (request.user set); false when it carries no cookie to try.
   * A member's cookie is tried first; the platform on-call's stands for the platform token.
   */
  async authenticate(request: FastifyRequest & { user?: Principal }): Promise<boolean> {
    if (request.headers.authorization) return false;
    const member = readSessionCookie(request, this.config, 'member');
    const platform = readSessionCookie(request, this.config, 'platform');
    if (!member && !platform) return false;
    const principal: Principal | undefined = member
      ? await this.sessions.authenticate(member)
      : (await this.sessions.authenticatePlatform(platform!))
        ? { kind: 'platform' }
        : undefined;
    if (!principal) throw Problem.unauthorized('The console session has ended; sign in again.');
    assertCsrfProof(request, this.config);
    request.user = principal;
    return true;
  }
}
