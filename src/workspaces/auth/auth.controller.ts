import { Controller, HttpCode, Post } from '@nestjs/common';
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
  signIn(@ValidBody(loginSchema) dto: LoginDto) {
    return this.login.login(dto);
  }
}
