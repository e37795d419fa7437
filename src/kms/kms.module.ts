import { type DynamicModule, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { AwsKmsProvider } from './aws-kms.provider';
import { LocalKmsProvider } from './local-kms.provider';
import { KMS_PROVIDER, type KmsPrincipal, type KmsProvider } from './kms-provider';

/** Which process this module serves; the KMS policy is judged per principal. */
export const KMS_PRINCIPAL = Symbol('KMS_PRINCIPAL');

/** Each entrypoint imports `KmsModule.forPrincipal(...)` for its own principal (api, worker or cli). */
@Module({})
export class KmsModule {
  static forPrincipal(principal: KmsPrincipal): DynamicModule {
    return {
      module: KmsModule,
      providers: [
        { provide: KMS_PRINCIPAL, useValue: principal },
        { provide: KMS_PROVIDER, inject: [APP_CONFIG], useFactory: (config: AppConfig) => createKmsProvider(config, principal) },
      ],
      exports: [KMS_PROVIDER, KMS_PRINCIPAL],
    };
  }
}

function createKmsProvider(config: AppConfig, principal: KmsPrincipal): KmsProvider {
  const { provider, keyId, region, endpoint, credentials } = config.kms;
  if (provider === 'local') {
    return new LocalKmsProvider({ dataDir: config.dataDir, principal, keyId });
  }
  // Config validation already demands KMS_KEY_ID for aws; this guards hand-built configs.
  if (!keyId) throw new Error('KMS_KEY_ID is required when KMS_PROVIDER=aws');
  return new AwsKmsProvider({ region, keyId, endpoint, credentials });
}
