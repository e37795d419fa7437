import { Controller, Delete, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { ApiView, ValidBody } from '../../common/validation';
import {
  loginSchema,
  LoginDto,
  openedPlatformSessionViewSchema,
  openedSessionViewSchema,
  platformSessionViewSchema,
  sessionViewSchema,
} from '../dto/workspace.dto';
import type { AuthContext, PlatformContext } from '../../common/auth/auth-context';
import { Auth, PlatformAuth, PlatformOnly, Public, RequireRole } from '../../common/auth/auth.decorators';
import { assertCsrfProof, clearedSessionCookie, readSessionCookie, sessionCookie } from './session-cookie';
import { SessionService } from './session.service';

/** The console's cookie session: sign in, who am I, sign out. Machines keep using bearer tokens. */
@ApiTags('auth')
@Controller('v1/auth/session')
export class SessionController {
  constructor(
    private readonly sessions: SessionService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @Public()
  @HttpCode(201)
  @ApiView(openedSessionViewSchema, 201)
  async open(@ValidBody(loginSchema) dto: LoginDto, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    // Sign-in is a write too: a cross-site page must not sign a browser into the attacker's account.
    assertCsrfProof(request, this.config);
    const opened = await this.sessions.open(dto, { ip: request.ip, requestId: String(request.id) });
    reply.header('set-cookie', [sessionCookie(this.config, opened.cookieValue, opened.maxAgeSeconds), clearedSessionCookie(this.config, 'platform')]);
    return opened.session;
  }

  @Get()
  @RequireRole('viewer')
  @ApiView(sessionViewSchema)
  current(@Auth() auth: AuthContext) {
    return { workspaceId: auth.workspaceId, memberId: auth.memberId, role: auth.role };
  }

  @Delete()
  @Public()
  @HttpCode(204)
  async close(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    assertCsrfProof(request, this.config);
    const cookie = readSessionCookie(request, this.config);
    if (cookie) await this.sessions.close(cookie);
    reply.header('set-cookie', clearedSessionCookie(this.config));
  }
}

/**
 * The platform on-call's console session: the platform token, sent once in the Authorization header by the sign-in
 * form (never stored by the browser), is exchanged for an httpOnly cookie that stands for it on the platform's routes.
 */
@ApiTags('auth')
@ApiBearerAuth()
@Controller('v1/auth/platform-session')
export class PlatformSessionController {
  constructor(
    private readonly sessions: SessionService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @PlatformOnly()
  @HttpCode(201)
  @ApiView(openedPlatformSessionViewSchema, 201)
  async open(@PlatformAuth() caller: PlatformContext, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    assertCsrfProof(request, this.config);
    const opened = await this.sessions.openPlatform(caller);
    // One console session at a time: signing in as the operator signs the browser's member session out of it.
    reply.header('set-cookie', [sessionCookie(this.config, opened.cookieValue, opened.maxAgeSeconds, 'platform'), clearedSessionCookie(this.config, 'member')]);
    return opened.session;
  }

  @Get()
  @PlatformOnly()
  @ApiView(platformSessionViewSchema)
  current() {
    return { operator: true as const };
  }

  @Delete()
  @Public()
  @HttpCode(204)
  async close(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    assertCsrfProof(request, this.config);
    const cookie = readSessionCookie(request, this.config, 'platform');
    if (cookie) await this.sessions.closePlatform(cookie, { ip: request.ip, requestId: String(request.id) });
    reply.header('set-cookie', clearedSessionCookie(this.config, 'platform'));
  }
}
