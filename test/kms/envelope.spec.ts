import { canonicalEncryptionContext } from '../../src/kms/envelope';

describe('canonicalEncryptionContext', () => {
  it('does not depend on key order', () => {
    const a = canonicalEncryptionContext({ purpose: 'broker-credential', workspaceId: 'w', connectionId: 'c', version: '1' });
    const b = canonicalEncryptionContext({ version: '1', connectionId: 'c', workspaceId: 'w', purpose: 'broker-credential' });

    expect(a.equals(b)).toBe(true);
    expect(a.toString('utf8')).toBe('[["connectionId","c"],["purpose","broker-credential"],["version","1"],["workspaceId","w"]]');
  });

  it('cannot be made ambiguous by separators inside values', () => {
    const a = canonicalEncryptionContext({ a: 'x","b":"y' });
    const b = canonicalEncryptionContext({ a: 'x', b: 'y' });

    expect(a.equals(b)).toBe(false);
  });
});
