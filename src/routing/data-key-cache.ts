import { createHash } from 'node:crypto';
import { canonicalEncryptionContext } from '../kms/envelope';
import type { DataKey, EncryptionContext, KmsProvider } from '../kms/kms-provider';

interface Entry {
  key: Buffer;
  expiresAt: number;
  usesLeft: number;
  connectionId: string;
}

/**
 * The worker's KMS with a bounded cache of unwrapped data keys (TTL, uses, size), so a busy
 * connection does not pay a KMS round trip per order. Only data keys are cached, never credentials;
 * every use is still authorised and audited by the CredentialOpener, which evicts on revoke/rotate.
 */
export class CachingKms implements KmsProvider {
  readonly name: KmsProvider['name'];
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly inner: KmsProvider,
    private readonly options: { ttlMs: number; maxUses: number; maxEntries?: number },
  ) {
    this.name = inner.name;
  }

  generateDataKey(context: EncryptionContext): Promise<DataKey> {
    return this.inner.generateDataKey(context);
  }

  reEncrypt(wrapped: Buffer, context: EncryptionContext, toKeyId: string) {
    return this.inner.reEncrypt(wrapped, context, toKeyId);
  }

  /** Returns a copy: the envelope zeroes the key it is given after use. */
  async decrypt(wrapped: Buffer, context: EncryptionContext, keyId?: string): Promise<Buffer> {
    if (this.options.ttlMs === 0 || this.options.maxUses === 0) return this.inner.decrypt(wrapped, context, keyId);
    const id = createHash('sha256').update(wrapped).update(canonicalEncryptionContext(context)).digest('hex');
    const hit = this.entries.get(id);
    if (hit && hit.expiresAt > Date.now() && hit.usesLeft > 0) {
      hit.usesLeft -= 1;
      return Buffer.from(hit.key);
    }
    if (hit) this.drop(id, hit);
    const key = await this.inner.decrypt(wrapped, context, keyId);
    this.evictOverflow();
    const connectionId = 'connectionId' in context ? context.connectionId : '';
    this.entries.set(id, { key: Buffer.from(key), expiresAt: Date.now() + this.options.ttlMs, usesLeft: this.options.maxUses - 1, connectionId });
    return key;
  }

  /** Drops every cached key of a connection (revoked, rotated, or failed to open). */
  evictConnection(connectionId: string): void {
    for (const [id, entry] of this.entries) if (entry.connectionId === connectionId) this.drop(id, entry);
  }

  get size(): number {
    return this.entries.size;
  }

  private evictOverflow(): void {
    const max = this.options.maxEntries ?? 10_000;
    while (this.entries.size >= max) {
      const [id, entry] = this.entries.entries().next().value as [string, Entry];
      this.drop(id, entry);
    }
  }

  private drop(id: string, entry: Entry): void {
    entry.key.fill(0);
    this.entries.delete(id);
  }
}
