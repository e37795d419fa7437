import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiTags } from '@nestjs/swagger';
import { ValidBody } from '../../common/validation';
import { loginSchema, LoginDto } from '../dto/workspace.dto';
import { Public } from './auth.decorators';
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
}
