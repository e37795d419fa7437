import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsKmsProvider } from '../../src/kms/aws-kms.provider';
import { LocalKmsProvider } from '../../src/kms/local-kms.provider';
import type { EncryptionContext, KmsPrincipal, KmsProvider } from '../../src/kms/kms-provider';
import { type KmsStub, startKmsStub } from '../support/kms-stub';

/** One KMS backend as the provider contract suite sees it. */
export interface KmsHarness {
  forPrincipal(principal: KmsPrincipal): KmsProvider;
  /** A key id that `reEncrypt` may move wrapped keys to. */
  newKeyId(): string;
  /** How many requests reached the KMS (undefined when the KMS is in-process). */
  kmsCalls(): number | undefined;
  teardown(): Promise<void>;
}

export async function localHarness(): Promise<KmsHarness & { dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-kms-'));
  return {
    dataDir,
    forPrincipal: (principal) => new LocalKmsProvider({ dataDir, principal }),
    newKeyId: () => `rewrap-${randomUUID()}`,
    kmsCalls: () => undefined,
    teardown: () => rm(dataDir, { recursive: true, force: true }),
  };
}

export async function awsHarness(): Promise<KmsHarness & { stub: KmsStub }> {
  const stub = await startKmsStub();
  const clients: AwsKmsProvider[] = [];
  return {
    stub,
    forPrincipal(principal) {
      const sut = new AwsKmsProvider({ region: stub.region, keyId: stub.keyId, endpoint: stub.url, credentials: stub.principals[principal] });
      clients.push(sut);
      return sut;
    },
    newKeyId: () => stub.createKey(),
    kmsCalls: () => stub.calls.length,
    async teardown() {
      for (const client of clients) client.onModuleDestroy();
      await stub.close();
    },
  };
}

export function brokerContext(overrides: Partial<{ workspaceId: string; connectionId: string; version: string }> = {}): EncryptionContext {
  return { purpose: 'broker-credential', workspaceId: 'ws_1', connectionId: 'conn_1', version: '1', ...overrides };
}

export function webhookContext(): EncryptionContext {
  return { purpose: 'webhook-secret', workspaceId: 'ws_1', sourceId: 'src_1', version: '1' };
}

/** Resolves with whatever the promise rejects with; fails the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

export function flipBit(buffer: Buffer, index: number): Buffer {
  const copy = Buffer.from(buffer);
  copy[index] = copy[index]! ^ 0x01;
  return copy;
}
