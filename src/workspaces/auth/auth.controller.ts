import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ValidBody } from '../../common/validation';
import { loginSchema, LoginDto } from '../dto/workspace.dto';
import type { AuthContext } from '../../common/auth/auth-context';
import { Auth, Public, RequireRole } from '../../common/auth/auth.decorators';
import { LoginService } from './login.service';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(private readonly login: LoginService) {}

  @Post('login')
  @Public()
  @HttpCode(200)
  signIn(@ValidBody(loginSchema) dto: LoginDto, @Req() request: FastifyRequest) {
    return this.login.login(dto, { ip: request.ip, requestId: String(request.id) });
  }

  /** Ends the presented member JWT now rather than at its expiry. */
  @Post('logout')
  @ApiBearerAuth()
  @RequireRole('viewer')
  @HttpCode(204)
  async signOut(@Auth() auth: AuthContext): Promise<void> {
    await this.login.logout(auth);
  }
}
