import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { LoopingService, PollingLoop } from '../common/polling-loop';
import { TenantDb } from '../database/tenant-db';
import { eventHash, GENESIS_HASH } from './audit-chain';
import { AuditCheckpointSigner, SignedCheckpoint } from './audit-checkpoint-signer';
import { AUDIT_TUNING, AuditTuning } from './audit-tuning';
import { AuditRepository, ChainHead } from './audit.repository';

/**
 * Chains audit events after they commit: per workspace, under the chain's advisory lock, it gives
 * unsealed events the next sequence numbers and their hashes in one statement per batch, and
 * signs a checkpoint of the head every `checkpointEvery` events or `checkpointMaxAgeMs`.
 * Any process may run it; concurrent sealers skip a workspace another one is sealing.
 */
@Injectable()
export class AuditSealer extends LoopingService {
  protected readonly loop: PollingLoop;
  /** Workspaces whose head moved past their last checkpoint, with when it first did. */
  private readonly uncheckpointed = new Map<string, number>();

  constructor(
    private readonly tenantDb: TenantDb,
    private readonly events: AuditRepository,
    private readonly signer: AuditCheckpointSigner,
    @Inject(AUDIT_TUNING) private readonly tuning: AuditTuning,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
    const interval = tuning.sealer.intervalMs;
    this.loop = new PollingLoop('audit sealer', logger, async () => (await this.sealAll(), interval), interval);
  }

  /** One pass over every workspace with unsealed events; returns how many events it sealed. */
  async sealAll(): Promise<number> {
    let sealed = 0;
    for (const workspaceId of await this.events.unsealedWorkspaces()) {
      try {
        sealed += await this.sealWorkspace(workspaceId);
      } catch (err) {
        this.logger.error({ err, workspaceId }, 'audit sealing failed for a workspace');
      }
    }
    await this.checkpointQuietHeads();
    return sealed;
  }

  /**
   * Seals the workspace's pending events. `wait`: block on a concurrent sealer instead of
   * skipping (a page or a verification must cover every event committed before it started).
   */
  async sealWorkspace(workspaceId: string, wait = false): Promise<number> {
    let total = 0;
    for (;;) {
      const sealed = await this.tenantDb.runRaw(workspaceId, (client) => this.sealBatch(client, workspaceId, wait));
      total += sealed;
      if (sealed < this.tuning.sealer.batchSize) return total;
    }
  }

  /** Signs and stores a checkpoint of `head` (a no-op when one exists at that sequence). */
  async checkpoint(client: PoolClient, workspaceId: string, head: ChainHead): Promise<SignedCheckpoint> {
    const signed = await this.signer.sign({ workspaceId, seq: head.seq, headHash: head.hash, signedAt: new Date() });
    await this.events.insertCheckpoint(client, signed);
    this.uncheckpointed.delete(workspaceId);
    // A copy outside the database: deleting checkpoints there does not erase this one.
    this.logger.info(
      {
        workspaceId,
        seq: signed.seq,
        headHash: signed.headHash.toString('hex'),
        keyId: signed.keyId,
        signature: signed.signature.toString('hex'),
        signedAt: signed.signedAt.toISOString(),
      },
      'audit checkpoint',
    );
    return signed;
  }

  private async sealBatch(client: PoolClient, workspaceId: string, wait: boolean): Promise<number> {
    if (!(await this.events.lockChain(client, wait))) return 0;
    const pending = await this.events.unsealed(client, this.tuning.sealer.batchSize);
    if (pending.length === 0) return 0;
    const head = await this.events.head(client);
    const firstSeq = (head?.seq ?? 0) + 1;
    let prevHash: Buffer = head?.hash ?? GENESIS_HASH;
    const prevHashes: Buffer[] = [];
    const hashes: Buffer[] = [];
    pending.forEach((event, i) => {
      const hash = eventHash({ ...event, seq: firstSeq + i, prevHash });
      prevHashes.push(prevHash);
      hashes.push(hash);
      prevHash = hash;
    });
    await this.events.seal(
      client,
      firstSeq,
      pending.map((e) => e.id),
      prevHashes,
      hashes,
    );
    await this.checkpointIfDue(client, workspaceId, { seq: firstSeq + pending.length - 1, hash: prevHash });
    return pending.length;
  }

  private async checkpointIfDue(client: PoolClient, workspaceId: string, head: ChainHead): Promise<void> {
    const last = await this.events.lastCheckpoint(client);
    const { checkpointEvery, checkpointMaxAgeMs } = this.tuning.sealer;
    if (!last || head.seq - last.seq >= checkpointEvery || Date.now() - last.signedAt.getTime() >= checkpointMaxAgeMs) {
      await this.checkpoint(client, workspaceId, head);
    } else if (!this.uncheckpointed.has(workspaceId)) {
      this.uncheckpointed.set(workspaceId, Date.now());
    }
  }

  /** A chain that went quiet right after a batch still gets its head signed within checkpointMaxAgeMs. */
  private async checkpointQuietHeads(): Promise<void> {
    const now = Date.now();
    for (const [workspaceId, since] of this.uncheckpointed) {
      if (now - since < this.tuning.sealer.checkpointMaxAgeMs) continue;
      await this.tenantDb.runRaw(workspaceId, async (client) => {
        const head = await this.events.head(client);
        const last = await this.events.lastCheckpoint(client);
        if (head && (!last || last.seq < head.seq)) await this.checkpoint(client, workspaceId, head);
        else this.uncheckpointed.delete(workspaceId);
      });
    }
  }
}
