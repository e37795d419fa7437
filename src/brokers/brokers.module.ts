import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { TenantDb } from '../database/tenant-db';
import { BrokerRegistry } from './broker-registry';

/** Broker adapters for onboarding (api) and order placement (worker). */
@Module({
  providers: [{ provide: BrokerRegistry, inject: [APP_CONFIG, TenantDb], useFactory: (config: AppConfig, db: TenantDb) => new BrokerRegistry(config, db) }],
  exports: [BrokerRegistry],
})
export class BrokersModule implements OnApplicationShutdown {
  constructor(@Inject(BrokerRegistry) private readonly registry: BrokerRegistry) {}

  async onApplicationShutdown(): Promise<void> {
    await this.registry.close();
  }
}
