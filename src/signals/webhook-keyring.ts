import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { openSealedSecret } from '../kms/envelope';
import { KMS_PROVIDER, KmsProvider, sourceSecretContext } from '../kms/kms-provider';
import { SourcesRepository } from './sources.repository';
import type { VersionedKey } from './webhook-verifier';

// Long enough that the KMS is not on the webhook path, short enough that a shredded secret leaves memory soon.
const KEY_TTL_MS = 10 * 60_000;
const MAX_KEYS = 10_000;
const PURGE_INTERVAL_MS = 60_000;

interface CachedKey {
  key: Buffer;
  expiresAt: number;
}

/**
 * Opened HMAC keys of webhook sources, cached in api memory per (source, secret version) with a TTL
 * and a size bound, so verifying a webhook does not call the KMS. Evicted keys are zeroed. Which
 * versions are valid is decided per request by the database, never by this cache.
 */
@Injectable()
export class WebhookKeyring implements OnModuleDestroy {
  private readonly keys = new Map<string, CachedKey>();
  private readonly opening = new Map<string, Promise<void>>();
  private readonly purger = setInterval(() => this.purgeExpired(), PURGE_INTERVAL_MS).unref();

  constructor(
    @Inject(KMS_PROVIDER) private readonly kms: KmsProvider,
    private readonly sources: SourcesRepository,
  ) {}

  /**
   * Runs `use` with the keys of the given versions. `use` runs synchronously right after the last
   * key is in memory, so no eviction can zero a key while it is being used.
   */
  async withKeys<T>(workspaceId: string, sourceId: string, versions: readonly number[], use: (keys: VersionedKey[]) => T): Promise<T> {
    const missing = versions.filter((v) => !this.get(sourceId, v));
    if (missing.length > 0) await Promise.all(missing.map((v) => this.open(workspaceId, sourceId, v)));
    const keys: VersionedKey[] = [];
    for (const version of versions) {
      const key = this.get(sourceId, version);
      if (key) keys.push({ version, key });
    }
    return use(keys);
  }

  /** Caches a copy of a key just sealed (create, rotate); the caller still zeroes its own buffer. */
  remember(sourceId: string, version: number, key: Buffer): void {
    this.set(cacheKey(sourceId, version), Buffer.from(key));
  }

  /** Drops (and zeroes) every cached version of a deleted source. */
  forget(sourceId: string): void {
    for (const [id, entry] of this.keys) {
      if (id.startsWith(`${sourceId}:`)) this.evict(id, entry);
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.purger);
    for (const [id, entry] of this.keys) this.evict(id, entry);
  }

  // Concurrent first deliveries of one source share a single KMS call.
  private open(workspaceId: string, sourceId: string, version: number): Promise<void> {
    const id = cacheKey(sourceId, version);
    let pending = this.opening.get(id);
    if (!pending) {
      pending = this.unseal(workspaceId, sourceId, version)
        .then((key) => {
          if (key) this.set(id, key);
        })
        .finally(() => this.opening.delete(id));
      this.opening.set(id, pending);
    }
    return pending;
  }

  private async unseal(workspaceId: string, sourceId: string, version: number): Promise<Buffer | undefined> {
    const sealed = await this.sources.findSealedSecret(workspaceId, sourceId, version);
    if (!sealed) return undefined;
    return openSealedSecret(this.kms, sealed, sourceSecretContext({ workspaceId, sourceId, version }));
  }

  private get(sourceId: string, version: number): Buffer | undefined {
    const id = cacheKey(sourceId, version);
    const entry = this.keys.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.evict(id, entry);
      return undefined;
    }
    return entry.key;
  }

  private set(id: string, key: Buffer): void {
    const previous = this.keys.get(id);
    if (previous) this.evict(id, previous);
    this.keys.set(id, { key, expiresAt: Date.now() + KEY_TTL_MS });
    // Map iteration is insertion order: the first entry is the oldest.
    while (this.keys.size > MAX_KEYS) {
      const [oldestId, oldest] = this.keys.entries().next().value!;
      this.evict(oldestId, oldest);
    }
  }

  private evict(id: string, entry: CachedKey): void {
    entry.key.fill(0);
    this.keys.delete(id);
  }

  private purgeExpired(): void {
    const now = Date.now();
    for (const [id, entry] of this.keys) {
      if (entry.expiresAt <= now) this.evict(id, entry);
    }
  }
}

function cacheKey(sourceId: string, version: number): string {
  return `${sourceId}:${version}`;
}
