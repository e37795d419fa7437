import { Module } from '@nestjs/common';
import { MailTransport } from './mail-transport';
import { NotificationDispatcher } from './notification-dispatcher';
import { NotificationOutboxRepository } from './notification-outbox.repository';

/** Member notifications, worker side: the mail loop, the only holder of the SMTP password. */
@Module({
  providers: [MailTransport, NotificationOutboxRepository, NotificationDispatcher],
  exports: [NotificationDispatcher],
})
export class NotificationDeliveryModule {}
