import { KmsAccessDeniedError } from '../../src/kms/kms-errors';
import { assertKmsAllowed, type KmsOperation } from '../../src/kms/kms-policy';
import type { KeyPurpose, KmsPrincipal } from '../../src/kms/kms-provider';

type Case = [KmsPrincipal, KmsOperation, KeyPurpose, 'allow' | 'deny'];

const cases: Case[] = [
  ['api', 'GenerateDataKey', 'broker-credential', 'allow'],
  ['api', 'GenerateDataKey', 'webhook-secret', 'allow'],
  ['api', 'Decrypt', 'webhook-secret', 'allow'],
  ['api', 'Decrypt', 'broker-credential', 'deny'],
  ['api', 'ReEncrypt', 'broker-credential', 'deny'],
  ['api', 'ReEncrypt', 'webhook-secret', 'deny'],
  ['api', 'Encrypt', 'broker-credential', 'deny'],
  ['worker', 'Decrypt', 'broker-credential', 'allow'],
  ['worker', 'Decrypt', 'webhook-secret', 'deny'],
  ['worker', 'GenerateDataKey', 'broker-credential', 'deny'],
  ['worker', 'GenerateDataKey', 'webhook-secret', 'deny'],
  ['worker', 'Encrypt', 'broker-credential', 'deny'],
  ['worker', 'ReEncrypt', 'broker-credential', 'deny'],
  ['cli', 'Decrypt', 'broker-credential', 'allow'],
  ['cli', 'ReEncrypt', 'broker-credential', 'allow'],
  ['cli', 'GenerateDataKey', 'webhook-secret', 'allow'],
  // Order webhooks out: the api seals the signing secret and cannot read it back; the worker signs with it.
  ['api', 'GenerateDataKey', 'webhook-signing', 'allow'],
  ['api', 'Decrypt', 'webhook-signing', 'deny'],
  ['worker', 'Decrypt', 'webhook-signing', 'allow'],
  ['worker', 'GenerateDataKey', 'webhook-signing', 'deny'],
  ['cli', 'ReEncrypt', 'webhook-signing', 'allow'],
];

describe('assertKmsAllowed', () => {
  it.each(cases)('%s %s for %s: %s', (principal, operation, purpose, verdict) => {
    const call = () => assertKmsAllowed(principal, operation, { purpose });

    if (verdict === 'allow') expect(call).not.toThrow();
    else expect(call).toThrow(KmsAccessDeniedError);
  });

  it.each([undefined, {}, { purpose: 'something-else' }])('refuses a context without a known purpose: %j', (context) => {
    expect(() => assertKmsAllowed('cli', 'Decrypt', context)).toThrow(KmsAccessDeniedError);
  });
});
