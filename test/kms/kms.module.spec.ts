import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Global, Module, type DynamicModule } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { APP_CONFIG, parseConfig } from '../../src/config/app-config';
import { AwsKmsProvider } from '../../src/kms/aws-kms.provider';
import { KmsAccessDeniedError } from '../../src/kms/kms-errors';
import { KMS_PRINCIPAL, KmsModule } from '../../src/kms/kms.module';
import { KMS_PROVIDER, type KmsProvider } from '../../src/kms/kms-provider';
import { LocalKmsProvider } from '../../src/kms/local-kms.provider';
import { brokerContext, rejectionOf } from './kms-test-harness';

// Stands in for the global ConfigModule, which provides APP_CONFIG to every module.
function configModule(env: Record<string, string>): DynamicModule {
  @Global()
  @Module({})
  class TestConfigModule {}
  return { module: TestConfigModule, providers: [{ provide: APP_CONFIG, useValue: parseConfig(env) }], exports: [APP_CONFIG] };
}

describe('KmsModule.forPrincipal', () => {
  let dataDir: string;
  let moduleRef: TestingModule | undefined;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchyard-kms-module-'));
  });

  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });

  const compile = async (principal: 'api' | 'worker', env: Record<string, string>) => {
    moduleRef = await Test.createTestingModule({ imports: [configModule(env), KmsModule.forPrincipal(principal)] }).compile();
    return moduleRef;
  };

  it('provides a local provider bound to the principal and the data dir', async () => {
    const ref = await compile('api', { DATA_DIR: dataDir, KMS_PROVIDER: 'local' });
    const kms = ref.get<KmsProvider>(KMS_PROVIDER);

    const dataKey = await kms.generateDataKey(brokerContext());

    expect(kms).toBeInstanceOf(LocalKmsProvider);
    expect(ref.get(KMS_PRINCIPAL)).toBe('api');
    expect(await rejectionOf(kms.decrypt(dataKey.wrapped, brokerContext()))).toBeInstanceOf(KmsAccessDeniedError);
  });

  it('provides the aws provider when configured for aws', async () => {
    const ref = await compile('worker', { DATA_DIR: dataDir, KMS_PROVIDER: 'aws', KMS_KEY_ID: 'alias/switchyard', KMS_ENDPOINT: 'http://127.0.0.1:9' });

    const kms = ref.get<AwsKmsProvider>(KMS_PROVIDER);
    const releaseSockets = jest.spyOn(kms, 'onModuleDestroy');

    expect(kms).toBeInstanceOf(AwsKmsProvider);
    expect(ref.get(KMS_PRINCIPAL)).toBe('worker');
    await ref.close();
    moduleRef = undefined;
    expect(releaseSockets).toHaveBeenCalled();
  });
});
