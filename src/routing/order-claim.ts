import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { sent, TenantDb } from '../database/tenant-db';
import { ConnectionTurns } from './connection-turns';
import { CredentialGrant, CredentialOpener, RoutingContext } from './credential-opener';
import { riskGate } from './risk-gate';
import { connectionRiskRefusal } from './risk/connection-switch';
import { OrderRow, RoutingRepository, TERMINAL_ORDER_STATUSES } from './routing.repository';

/** An earlier signal's order on the same connection is still in flight: this one must wait its turn. */
export class WaitForEarlierOrder extends Error {
  constructor(readonly connectionId: string) {
    super('an earlier order on this connection is still in flight');
  }
}

export interface ExecutionJob {
  id: string;
  workspaceId: string;
  /** True on the job's last allowed attempt: a retryable failure then becomes terminal. */
  finalAttempt: boolean;
}

/** A safety net, not the way a turn ends: the earlier order's hand-off or release ends the wait (a short poll only adds busy claims). */
const LOCAL_TURN_POLL_MS = 2_000;
/** A last resort: a waiter waits here only while an order this process holds (a running job) comes before it. */
const LOCAL_TURN_BUDGET_MS = 60_000;

/** What claiming an order decided. `go` carries the grant authorize() minted in the claim transaction. */
export type Claim =
  | { kind: 'done'; status: OrderRow['status'] }
  | { kind: 'wait' }
  | { kind: 'blocked' }
  | { kind: 'go'; grant: CredentialGrant; environment: 'paper' | 'live'; lookupFirst: boolean };

/** A claim made in the plan transaction: `failed` when it threw (rolled back to its savepoint; the plan committed). */
export type FoldedClaim = Claim | { kind: 'failed'; error: unknown };

/** The savepoint a claim in the plan transaction runs under. */
const FOLD_SAVEPOINT = 'folded_claim';
/** The savepoint of a claim's go path sent ahead of its decision (see submit()). */
const AHEAD_SAVEPOINT = 'claim_ahead';

/** A claim that lets the order go to the broker. */
export type GoClaim = Extract<Claim, { kind: 'go' }>;

/** What a claim needs of an order (the plan transaction claims one it has only just inserted). */
export type ClaimedOrder = Pick<OrderRow, 'id' | 'connectionId' | 'signalSeq'>;

/**
 * Claims an order (lock the connection, keep signal order, re-check the risk gate, authorise the
 * credential — one transaction): in the plan's transaction, in another order's answer, or in its turn.
 */
@Injectable()
export class OrderClaimer {
  /** Whose turn it is on each connection, among the orders this process holds (see SignalRouter). */
  readonly turns = new ConnectionTurns<FoldedClaim>();

  constructor(
    private readonly db: TenantDb,
    private readonly repository: RoutingRepository,
    private readonly opener: CredentialOpener,
  ) {}

  /**
   * Claims the order inside the caller's transaction: lock the connection, then in one read its
   * progress, whether an earlier signal's order of the connection is unanswered, and the risk gate;
   * mark it submitted and have the opener authorise the credential (and audit credential.use).
   * The grant is good only once this transaction commits. `credentialVersion`: see submit().
   */
  async claim(client: PoolClient, job: ExecutionJob, order: ClaimedOrder, savepoint?: string, credentialVersion?: number): Promise<Claim> {
    // Pipelined (runPipelined), the reads go out right behind the lock; the server still runs them after it is granted.
    const locked = sent(this.repository.lockConnection(client, order.connectionId, savepoint));
    const reading = this.repository.claimState(client, order);
    const context = { workspaceId: job.workspaceId, jobId: job.id, orderId: order.id, connectionId: order.connectionId };
    // With the version the plan read, the go path goes out now, under a savepoint any other decision rolls back to.
    let ahead: (() => Promise<CredentialGrant>) | undefined;
    if (credentialVersion !== undefined) {
      sent(client.query(`SAVEPOINT ${AHEAD_SAVEPOINT}`));
      ahead = this.submit(client, job, context, credentialVersion);
    }
    const { progress, intent, earlierOpen, priorLeg, switches, connection } = await reading;
    await locked;
    // An order awaiting approval is never sent from here: only its approval (status pending) lets it go.
    const done = TERMINAL_ORDER_STATUSES.has(progress.status) || progress.status === 'awaiting_approval';
    const blocked =
      done || earlierOpen ? undefined : (riskGate(switches, connection) ?? connectionRiskRefusal(connection!.risk, intent) ?? priorLegRefusal(priorLeg));
    // Any earlier attempt (a retry, or a second run of this job) may have reached the broker.
    const go = (grant: CredentialGrant): Claim => ({ kind: 'go', grant, environment: connection!.environment, lookupFirst: progress.attempts > 0 });
    if (ahead) {
      if (!done && !earlierOpen && !blocked && connection!.credentialVersion === credentialVersion) return go(await ahead());
      sent(client.query(`ROLLBACK TO SAVEPOINT ${AHEAD_SAVEPOINT}`));
    }
    if (done) return { kind: 'done', status: progress.status };
    if (earlierOpen) return { kind: 'wait' };
    if (blocked) {
      await this.repository.finishOrder(client, order.id, { status: 'blocked', reason: blocked });
      return { kind: 'blocked' };
    }
    return go(await this.submit(client, job, context, connection!.credentialVersion)());
  }

  /**
   * The go path's writes, sent at once (submitted, the opener's context check, credential.use); the returned
   * function awaits them and yields the grant. Sent after the decision, or ahead of it (docs/ARCHITECTURE.md, Routing, "Fewer commits").
   */
  private submit(client: PoolClient, job: ExecutionJob, context: RoutingContext, credentialVersion: number): () => Promise<CredentialGrant> {
    const submitted = sent(this.repository.markSubmitted(client, context.orderId, job.id));
    const authorized = this.opener.request(client, context, credentialVersion);
    return async () => {
      await submitted;
      return authorized();
    };
  }

  /**
   * claim() inside another unit of work (the signal's plan, or the answer of the order this one waited
   * for), under a savepoint: if the claim fails, only the claim rolls back and the rest still commits
   * (a plan's orders keep their place in their connections' order; an answer is recorded).
   */
  async claimInPlan(client: PoolClient, job: ExecutionJob, order: ClaimedOrder, credentialVersion?: number): Promise<FoldedClaim> {
    try {
      return await this.claim(client, job, order, FOLD_SAVEPOINT, credentialVersion);
    } catch (error) {
      await client.query(`ROLLBACK TO SAVEPOINT ${FOLD_SAVEPOINT}`);
      return { kind: 'failed', error };
    }
  }

  /**
   * Claims the order once no earlier signal's order of its connection is unanswered. While the earlier
   * order is one this process holds, it waits here for it to be let go; otherwise it throws
   * WaitForEarlierOrder and the job waits in the queue.
   */
  async claimInTurn(job: ExecutionJob, order: OrderRow): Promise<Exclude<Claim, { kind: 'wait' }>> {
    const deadline = Date.now() + LOCAL_TURN_BUDGET_MS;
    for (;;) {
      if (Date.now() > deadline) throw new WaitForEarlierOrder(order.connectionId);
      if (this.turns.holdsEarlier(order.connectionId, order.signalSeq)) {
        // An earlier order of the connection is this process's: its executor claims this one in the
        // transaction that records its own answer (or wakes this waiter). Checked and registered in one
        // synchronous step, so no release in between goes unnoticed.
        const handedOver = await this.turns.waitForTurn(order.connectionId, order.signalSeq, LOCAL_TURN_POLL_MS, (client) =>
          this.claimInPlan(client as PoolClient, job, order),
        );
        if (handedOver?.kind === 'failed') throw handedOver.error;
        if (handedOver && handedOver.kind !== 'wait') return handedOver;
        continue; // woken, timed out, or another earlier order is still open: look again
      }
      const version = this.turns.version(order.connectionId);
      const claim = await this.db.runPipelined(job.workspaceId, (client) => this.claim(client, job, order));
      if (claim.kind !== 'wait') return claim;
      // An order of the connection was let go (or taken up here) while the claim looked: look again.
      if (this.turns.version(order.connectionId) !== version || this.turns.holdsEarlier(order.connectionId, order.signalSeq)) continue;
      // The earlier order is not this process's (another worker, a job in backoff): wait in the queue.
      throw new WaitForEarlierOrder(order.connectionId);
    }
  }
}

/** A reversal opens only after its close went through (or had nothing to close). */
function priorLegRefusal(prior: { status: OrderRow['status']; reason: string | null } | null): string | undefined {
  if (!prior || ['accepted', 'partially_filled', 'filled', 'skipped'].includes(prior.status)) return undefined;
  return `close_not_done: the closing order of this reversal ended ${prior.status}${prior.reason ? ` (${prior.reason.slice(0, 300)})` : ''}; the opening order was not sent`;
}
