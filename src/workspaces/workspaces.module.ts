import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { MEMBER_JWT_AUDIENCE } from './auth/bearer.strategy';
import { PassportModule } from '@nestjs/passport';
import { AuditModule } from '../audit/audit.module';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { AccessGuard } from './auth/access.guard';
import { AuthController } from './auth/auth.controller';
import { AuthRepository } from './auth/auth.repository';
import { BearerStrategy } from './auth/bearer.strategy';
import { Lockouts } from './auth/lockouts';
import { LoginService } from './auth/login.service';
import { TokenAttempts } from './auth/token-attempts';
import { MembersController } from './members.controller';
import { MembersRepository } from './members.repository';
import { MembersService } from './members.service';
import { TokensController } from './tokens.controller';
import { TokensRepository } from './tokens.repository';
import { TokensService } from './tokens.service';
import { WorkspacesController } from './workspaces.controller';
import { WorkspacesRepository } from './workspaces.repository';
import { WorkspacesService } from './workspaces.service';
import { SessionAuthenticator } from './auth/session-authenticator';
import { PlatformSessionController, SessionController } from './auth/session.controller';
import { SessionService } from './auth/session.service';
import { PlatformSessionsRepository } from './auth/platform-sessions.repository';
import { SessionsRepository } from './auth/sessions.repository';

/** Workspaces, members, API tokens and authentication; installs the global AccessGuard. */
@Module({
  imports: [
    AuditModule,
    PassportModule,
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        secret: config.auth.jwtSecret,
        signOptions: { algorithm: 'HS256', issuer: config.auth.jwtIssuer, audience: MEMBER_JWT_AUDIENCE },
        verifyOptions: { algorithms: ['HS256'], issuer: config.auth.jwtIssuer, audience: MEMBER_JWT_AUDIENCE },
      }),
    }),
  ],
  controllers: [WorkspacesController, MembersController, TokensController, AuthController, SessionController, PlatformSessionController],
  providers: [
    AuthRepository,
    BearerStrategy,
    LoginService,
    SessionsRepository,
    PlatformSessionsRepository,
    SessionService,
    SessionAuthenticator,
    Lockouts,
    TokenAttempts,
    WorkspacesRepository,
    WorkspacesService,
    MembersRepository,
    MembersService,
    TokensRepository,
    TokensService,
    { provide: APP_GUARD, useClass: AccessGuard },
  ],
})
export class WorkspacesModule {}
