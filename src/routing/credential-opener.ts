import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import { AuditWriter } from '../audit/audit-writer';
import type { BrokerCredentials } from '../brokers/broker-adapter';
import { LOGGER } from '../common/logger';
import { TenantDb } from '../database/tenant-db';
import { openSealedSecret, SealedSecret } from '../kms/envelope';
import { KmsDecryptError } from '../kms/kms-errors';
import { brokerCredentialContext } from '../kms/kms-provider';
import { CachingKms } from './data-key-cache';
import { RoutingRepository } from './routing.repository';

/** Names the order job on whose behalf a credential is opened. */
export interface RoutingContext {
  workspaceId: string;
  jobId: string;
  orderId: string;
  connectionId: string;
}

/**
 * Names a connection-wide job (no order): a snapshot of positions and account (`taskId`: the api's request id)
 * or a flatten (`taskId`: the flatten id). Checked against that row, like an order job against its order.
 */
export interface TaskContext {
  workspaceId: string;
  jobId: string;
  connectionId: string;
  purpose: 'snapshot' | 'flatten';
  taskId: string;
}

type CredentialContext = RoutingContext | TaskContext;

/** What the audit events of a context name besides the connection. */
function contextIds(context: CredentialContext): { orderId: string } | { snapshotRequestId: string } | { flattenId: string } {
  if ('orderId' in context) return { orderId: context.orderId };
  return context.purpose === 'snapshot' ? { snapshotRequestId: context.taskId } : { flattenId: context.taskId };
}

/** Refused: the context did not name an order job active right now for that connection. */
export class OutOfContextError extends Error {
  constructor() {
    super('credential read refused: no active routing context');
    this.name = 'OutOfContextError';
  }
}

function credentialUse(context: RoutingContext, version: number, purpose?: 'sync') {
  return {
    action: 'credential.use' as const,
    actor: { type: 'worker' as const, id: context.jobId },
    resource: { type: 'connection', id: context.connectionId },
    requestId: context.jobId,
    metadata: { orderId: context.orderId, credentialVersion: version, ...(purpose ? { purpose } : {}) },
  };
}

/** Proof that authorize() ran for this context; only this module can mint one. */
export interface CredentialGrant {
  readonly context: CredentialContext;
}

interface GrantState {
  version: number;
  sealed: SealedSecret;
}

/**
 * The only decrypt path for broker credentials (lock 1 of three: an architecture test keeps every
 * other module away from it). authorize() runs inside the order's claim transaction: it checks the
 * context against the database and writes `credential.use` there, so the decrypt in open() happens
 * only after that audit event is durable (fail closed).
 */
@Injectable()
export class CredentialOpener {
  private readonly grants = new WeakMap<CredentialGrant, GrantState>();

  constructor(
    private readonly repository: RoutingRepository,
    private readonly audit: AuditWriter,
    private readonly db: TenantDb,
    private readonly kms: CachingKms,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * With `expectedVersion` (the connection's credential version the caller read under the connection
   * lock in this transaction), the credential.use event is sent right behind the context check, in the
   * same round trip: the server still runs it after the check, and it is awaited before the grant exists.
   * A refused context, or a credential rotated meanwhile, throws: the transaction, event included, rolls back.
   */
  authorize(client: PoolClient, context: RoutingContext, expectedVersion?: number): Promise<CredentialGrant> {
    return this.request(client, context, expectedVersion)();
  }

  /**
   * authorize() in two steps: the statements go out now, their answers are looked at (a refusal audited
   * and paged) only when the returned function is called. A claim sends them ahead of its own decision
   * and, unless it decides to go, rolls them back to a savepoint without calling it.
   */
  request(client: PoolClient, context: RoutingContext, expectedVersion?: number): () => Promise<CredentialGrant> {
    // Only an order submitted right now by this job to this (active) connection gets its current credential.
    const reading = this.repository.sealedCredentialInContext(client, context);
    const auditing = expectedVersion === undefined ? undefined : this.audit.recordRaw(client, credentialUse(context, expectedVersion));
    // Awaited by the returned function, unless the check refuses first or the caller never calls it.
    reading.catch(() => undefined);
    auditing?.catch(() => undefined);
    return async () => {
      const current = await reading;
      if (!current) {
        this.kms.evictConnection(context.connectionId);
        await this.recordRefusal(context);
        throw new OutOfContextError();
      }
      if (auditing) {
        await auditing;
        if (current.version !== expectedVersion) throw new Error("the connection's credential was rotated while the order was being claimed");
      } else {
        await this.audit.recordRaw(client, credentialUse(context, current.version));
      }
      const grant: CredentialGrant = Object.freeze({ context: { ...context } });
      this.grants.set(grant, current);
      return grant;
    };
  }

  /**
   * For following an order at its broker (the lifecycle poller, `jobId` naming the sync pass): only while the
   * order is still working there and its connection is active; `credential.use` is written with purpose `sync`
   * in the caller's transaction, so the decrypt happens only once that event commits.
   */
  async authorizeSync(client: PoolClient, context: RoutingContext): Promise<CredentialGrant> {
    const current = await this.repository.sealedCredentialForSync(client, context);
    if (!current) {
      this.kms.evictConnection(context.connectionId);
      await this.recordRefusal(context);
      throw new OutOfContextError();
    }
    await this.audit.recordRaw(client, credentialUse(context, current.version, 'sync'));
    const grant: CredentialGrant = Object.freeze({ context: { ...context } });
    this.grants.set(grant, current);
    return grant;
  }

  /**
   * For a connection-wide job (snapshot, flatten): only while its request is unanswered (snapshot) or its flatten of
   * this connection is unfinished, and the connection is active; `credential.use` is written with the context's purpose
   * in the caller's transaction, so the decrypt happens only once that event commits.
   */
  async authorizeTask(client: PoolClient, context: TaskContext): Promise<CredentialGrant> {
    const current = await this.repository.sealedCredentialForTask(client, context);
    if (!current) {
      this.kms.evictConnection(context.connectionId);
      await this.recordRefusal(context);
      throw new OutOfContextError();
    }
    await this.audit.recordRaw(client, {
      action: 'credential.use',
      actor: { type: 'worker', id: context.jobId },
      resource: { type: 'connection', id: context.connectionId },
      requestId: context.jobId,
      metadata: { ...contextIds(context), credentialVersion: current.version, purpose: context.purpose },
    });
    const grant: CredentialGrant = Object.freeze({ context: { ...context } });
    this.grants.set(grant, current);
    return grant;
  }

  /** Decrypts for one broker call. The caller drops the object right after the call. */
  async open(grant: CredentialGrant): Promise<BrokerCredentials> {
    const state = this.grants.get(grant);
    if (!state) throw new OutOfContextError();
    this.grants.delete(grant); // one grant, one open
    const { context } = grant;
    const kmsContext = brokerCredentialContext({ workspaceId: context.workspaceId, connectionId: context.connectionId, version: state.version });
    let plaintext: Buffer | undefined;
    try {
      plaintext = await openSealedSecret(this.kms, state.sealed, kmsContext);
      return JSON.parse(plaintext.toString('utf8')) as BrokerCredentials;
    } catch (err) {
      this.kms.evictConnection(context.connectionId);
      if (err instanceof KmsDecryptError) await this.recordDecryptFailure(context, state.version);
      throw err;
    } finally {
      plaintext?.fill(0);
    }
  }

  private async recordRefusal(context: CredentialContext): Promise<void> {
    this.logger.warn({ ...contextIds(context), connectionId: context.connectionId, jobId: context.jobId }, 'credential read outside a routing context refused');
    // Its own transaction, on a connection aside: the caller's rolls back (the refusal and its page must not),
    // and the caller still holds its pooled connection, as may every other refused caller.
    await this.db.runRawAside(context.workspaceId, (client) =>
      this.audit.recordRaw(client, {
        action: 'credential.read.out_of_context',
        actor: { type: 'worker', id: context.jobId },
        resource: { type: 'connection', id: context.connectionId },
        requestId: context.jobId,
        reason:
          'orderId' in context ? 'no order job is active for this connection with this id' : `no unfinished ${context.purpose} of this connection has this id`,
        metadata: contextIds(context),
      }),
    );
  }

  private async recordDecryptFailure(context: CredentialContext, version: number): Promise<void> {
    await this.db.runRaw(context.workspaceId, (client) =>
      this.audit.recordRaw(client, {
        action: 'credential.decrypt_failure',
        actor: { type: 'worker', id: context.jobId },
        resource: { type: 'connection', id: context.connectionId },
        requestId: context.jobId,
        metadata: { ...contextIds(context), credentialVersion: version },
      }),
    );
  }
}
