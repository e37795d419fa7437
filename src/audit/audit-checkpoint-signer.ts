import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { readOrCreateSecretFile } from '../config/secret-file';
import { canonicalCheckpoint } from './audit-chain';

export const CHECKPOINT_KEY_FILE = 'audit-checkpoint.key';
const KEY_BYTES = 32;

export interface CheckpointHead {
  workspaceId: string;
  seq: number;
  headHash: Buffer;
  signedAt: Date;
}

export interface SignedCheckpoint extends CheckpointHead {
  keyId: string;
  signature: Buffer;
}

/**
 * Signs chain heads with an HMAC key kept outside the database (DATA_DIR/audit-checkpoint.key,
 * 0600), so someone who can rewrite audit_events still cannot forge the checkpoint it must match.
 */
export class AuditCheckpointSigner {
  private key?: Promise<{ key: Buffer; keyId: string }>;

  constructor(private readonly dataDir: string) {}

  async sign(head: CheckpointHead): Promise<SignedCheckpoint> {
    const { key, keyId } = await this.loadKey();
    return { ...head, keyId, signature: hmac(key, head) };
  }

  /** 'unknown_key' when the checkpoint was signed with a key this process does not hold. */
  async verify(checkpoint: SignedCheckpoint): Promise<'valid' | 'invalid' | 'unknown_key'> {
    const { key, keyId } = await this.loadKey();
    if (checkpoint.keyId !== keyId) return 'unknown_key';
    const expected = hmac(key, checkpoint);
    return checkpoint.signature.length === expected.length && timingSafeEqual(checkpoint.signature, expected) ? 'valid' : 'invalid';
  }

  private loadKey(): Promise<{ key: Buffer; keyId: string }> {
    if (!this.key) {
      const loading = loadOrCreateKey(join(this.dataDir, CHECKPOINT_KEY_FILE)).then((key) => ({
        key,
        keyId: createHash('sha256').update(key).digest('hex').slice(0, 16),
      }));
      // A failed read is retried on the next call rather than cached.
      loading.catch(() => (this.key = undefined));
      this.key = loading;
    }
    return this.key;
  }
}

function hmac(key: Buffer, head: CheckpointHead): Buffer {
  return createHmac('sha256', key).update(canonicalCheckpoint(head), 'utf8').digest();
}

async function loadOrCreateKey(path: string): Promise<Buffer> {
  return checkLength(await readOrCreateSecretFile(path, () => randomBytes(KEY_BYTES)), path);
}

function checkLength(key: Buffer, path: string): Buffer {
  if (key.length !== KEY_BYTES) throw new Error(`audit checkpoint key ${path} is corrupt (expected ${KEY_BYTES} bytes)`);
  return key;
}
