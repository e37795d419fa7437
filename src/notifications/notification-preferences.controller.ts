import { Controller, Get, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { ApiView, ValidBody } from '../common/validation';
import { NotificationPreferencesDto, notificationPreferencesSchema, notificationPreferencesViewSchema } from './dto/notification-preferences.dto';
import { NotificationPreferencesService } from './notification-preferences.service';

/** The caller's own notification choices; every role may read and set her own. */
@ApiTags('notifications')
@ApiBearerAuth()
@Controller('v1/members/me/notifications')
export class NotificationPreferencesController {
  constructor(private readonly preferences: NotificationPreferencesService) {}

  @Get()
  @ApiView(notificationPreferencesViewSchema)
  get(@Auth() auth: AuthContext) {
    return this.preferences.get(auth);
  }

  @Put()
  @ApiView(notificationPreferencesViewSchema)
  @RequireRole('viewer')
  set(@Auth() auth: AuthContext, @ValidBody(notificationPreferencesSchema) dto: NotificationPreferencesDto) {
    return this.preferences.set(auth, dto);
  }
}
