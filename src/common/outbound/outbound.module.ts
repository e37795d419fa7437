import { Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { OutboundGuard } from './outbound-guard';

/** The SSRF guard, for every module that fetches a URL a user gave (order webhooks, the IBKR gateway). */
@Module({
  providers: [{ provide: OutboundGuard, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new OutboundGuard(config.outbound) }],
  exports: [OutboundGuard],
})
export class OutboundModule {}
