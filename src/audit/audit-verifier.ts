import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { TenantDb } from '../database/tenant-db';
import { eventHash, GENESIS_HASH } from './audit-chain';
import { AuditCheckpointSigner, SignedCheckpoint } from './audit-checkpoint-signer';
import { AuditSealer } from './audit-sealer';
import { AuditRepository } from './audit.repository';
import type { AuditVerification, ChainBreak } from './dto/audit.dto';
import { Pager } from './pager/pager';

const PAGE = 5000;

/** `full` rereads the chain from event 1 (CLI, platform); `since_checkpoint` from the newest signed checkpoint on. */
export type VerifyScope = 'full' | 'since_checkpoint';

export type WorkspaceVerification = AuditVerification & { workspaceId: string };

/**
 * Recomputes a workspace's chain from its first event (or from its newest signed checkpoint): contiguous sequence, each prev_hash equal
 * to the previous hash, each hash equal to the hash of the stored content, and every signed
 * checkpoint equal to the chain at its sequence (which catches a consistently rewritten chain).
 * Seals first, so every event committed before the call is covered. A break pages on-call.
 */
@Injectable()
export class AuditVerifier {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly events: AuditRepository,
    private readonly sealer: AuditSealer,
    private readonly signer: AuditCheckpointSigner,
    private readonly pager: Pager,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async verify(workspaceId: string, scope: VerifyScope = 'full'): Promise<AuditVerification> {
    await this.sealer.sealWorkspace(workspaceId, true);
    const result = await this.tenantDb.runRaw(workspaceId, async (client) => {
      const checked = await this.check(client, scope);
      // A verified head is signed, so later rewrites of what was just verified are caught too.
      if (checked.ok && checked.head && (checked.checkpoint?.seq ?? 0) < checked.head.seq) {
        const signed = await this.sealer.checkpoint(client, workspaceId, { seq: checked.head.seq, hash: Buffer.from(checked.head.hash, 'hex') });
        return { ...checked, checkpoint: { seq: signed.seq, signedAt: signed.signedAt.toISOString() } };
      }
      return checked;
    });
    if (!result.ok) {
      this.logger.error({ workspaceId, firstBrokenSeq: result.firstBrokenSeq, reason: result.reason }, 'audit chain verification failed');
      await this.pager.raise({
        workspaceId,
        rule: 'audit.verification_failed',
        resourceType: 'audit_chain',
        resourceId: workspaceId,
        summary: `Audit chain broken at event ${result.firstBrokenSeq} (${result.reason})`,
        details: { firstBrokenSeq: result.firstBrokenSeq, reason: result.reason },
      });
    }
    return result;
  }

  /** Every workspace that has an audit chain or a checkpoint, in id order. */
  async verifyAll(): Promise<WorkspaceVerification[]> {
    const results: WorkspaceVerification[] = [];
    for (const workspaceId of await this.events.chainWorkspaces()) {
      results.push({ workspaceId, ...(await this.verify(workspaceId)) });
    }
    return results;
  }

  private async check(client: PoolClient, scope: VerifyScope): Promise<AuditVerification> {
    const last = scope === 'since_checkpoint' ? await this.events.lastCheckpoint(client) : null;
    // Since a checkpoint: start at its own event, whose signed hash vouches for everything before it.
    const checkpoints = last ? [last] : await this.events.checkpoints(client);
    const from = last?.seq ?? 1;
    const broken = (firstBrokenSeq: number, reason: ChainBreak, detail: string): AuditVerification => ({
      ok: false,
      firstBrokenSeq,
      reason,
      detail,
      verifiedFrom: from,
    });
    let next = 0;
    let matched: SignedCheckpoint | null = null;
    let expected = from;
    let prev: Buffer | undefined = last ? undefined : GENESIS_HASH;
    for (;;) {
      const page = await this.events.chainPage(client, expected - 1, PAGE);
      for (const event of page) {
        prev ??= event.prevHash;
        if (event.seq !== expected) {
          return broken(expected, 'sequence_gap', `event ${expected} is missing: the chain goes from ${expected - 1} to ${event.seq}`);
        }
        if (!event.prevHash.equals(prev)) {
          return broken(
            event.seq,
            'prev_hash_mismatch',
            `event ${event.seq} does not follow event ${event.seq - 1}: an event was inserted, removed or reordered here`,
          );
        }
        if (!eventHash(event).equals(event.hash)) {
          return broken(event.seq, 'hash_mismatch', `event ${event.seq} does not match its hash: its content was altered`);
        }
        const checkpoint = checkpoints[next];
        if (checkpoint?.seq === event.seq) {
          const signature = await this.signer.verify(checkpoint);
          if (signature === 'unknown_key') {
            return broken(
              event.seq,
              'checkpoint_key_unknown',
              `the checkpoint at event ${event.seq} was signed with key ${checkpoint.keyId}, which this installation does not hold`,
            );
          }
          if (signature === 'invalid') {
            return broken(event.seq, 'checkpoint_signature_invalid', `the checkpoint at event ${event.seq} has an invalid signature: it was forged or altered`);
          }
          if (!checkpoint.headHash.equals(event.hash)) {
            return broken(
              event.seq,
              'checkpoint_mismatch',
              `the chain up to event ${event.seq} differs from the checkpoint signed at ${checkpoint.signedAt.toISOString()}: events up to it were rewritten`,
            );
          }
          matched = checkpoint;
          next++;
        }
        prev = event.hash;
        expected++;
      }
      if (page.length < PAGE) break;
    }
    const headSeq = expected - 1;
    const beyond = checkpoints[next];
    if (beyond) {
      return broken(
        headSeq + 1,
        'events_missing',
        `the checkpoint signed at ${beyond.signedAt.toISOString()} covers events up to ${beyond.seq} but the chain ends at ${headSeq}: events were deleted`,
      );
    }
    return {
      ok: true,
      events: headSeq,
      head: headSeq > 0 && prev ? { seq: headSeq, hash: prev.toString('hex') } : null,
      checkpoint: matched ? { seq: matched.seq, signedAt: matched.signedAt.toISOString() } : null,
      verifiedFrom: from,
    };
  }
}
