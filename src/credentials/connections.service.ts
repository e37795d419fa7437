import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditWriter } from '../audit/audit-writer';
import type { AuditEventInput } from '../audit/audit-event';
import type { BrokerAdapter, BrokerCredentials, BrokerEnvironment, PermissionReport } from '../brokers/broker-adapter';
import { BrokerError } from '../brokers/broker-error';
import { BROKER_PROFILES } from '../brokers/broker-profiles';
import { BrokerRegistry } from '../brokers/broker-registry';
import { byCreatedAt, Page, PageRequest, TimeKey, toPage } from '../common/pagination';
import { Problem } from '../common/problem';
import { toFieldErrors } from '../common/validation';
import { TenantDb, TenantTx } from '../database/tenant-db';
import { KmsUnavailableError } from '../kms/kms-errors';
import type { AuthContext } from '../common/auth/auth-context';
import { ConnectionRiskRepository, ConnectionRiskRow } from './connection-risk.repository';
import { BrokerRevocation, ConnectionRecord, ConnectionsRepository, StoredPermissions } from './connections.repository';
import { CredentialRef, CredentialSealer, SealedCredential } from './credential-sealer';
import type { ConnectionView, CreateConnectionDto, RotateConnectionDto } from './dto/connection.dto';

// The resource type routing uses for the same connection (credential.use), so one filter finds its whole history.
export const CONNECTION_RESOURCE = 'connection';

function toView(c: ConnectionRecord, risk: ConnectionRiskRow | undefined): ConnectionView {
  const limited = risk && (risk.dailyLossLimit !== null || risk.maxDrawdown !== null);
  return {
    id: c.id,
    broker: c.broker,
    label: c.label,
    environment: c.environment,
    status: c.status,
    credentialVersion: c.credentialVersion,
    keyHint: c.keyHint,
    permissions: c.permissions,
    inspectedAt: c.inspectedAt.toISOString(),
    createdAt: c.createdAt.toISOString(),
    rotatedAt: c.rotatedAt?.toISOString() ?? null,
    revokedAt: c.revokedAt?.toISOString() ?? null,
    brokerRevocation: c.brokerRevocation,
    killSwitch: {
      engaged: risk?.killSwitchEngaged ?? false,
      reason: risk?.killSwitchReason ?? null,
      changedAt: risk?.killSwitchChangedAt?.toISOString() ?? null,
      changedBy: risk?.killSwitchBy ?? null,
    },
    lossLimits: limited
      ? {
          dailyLossLimit: risk.dailyLossLimit,
          maxDrawdown: risk.maxDrawdown,
          action: risk.lossAction,
          sessionStart: risk.sessionStart,
          sessionTimezone: risk.sessionTimezone,
          session: risk.session,
        }
      : null,
  };
}

/**
 * Onboarding, rotation and revocation of broker connections. Each write is: validate the
 * credentials with the broker (network), seal them (KMS), then one transaction with the audit
 * event, so a failure at any step stores nothing.
 */
@Injectable()
export class ConnectionsService {
  constructor(
    private readonly db: TenantDb,
    private readonly connections: ConnectionsRepository,
    private readonly brokers: BrokerRegistry,
    private readonly sealer: CredentialSealer,
    private readonly audit: AuditWriter,
    private readonly risk: ConnectionRiskRepository,
  ) {}

  async create(auth: AuthContext, dto: CreateConnectionDto): Promise<ConnectionView> {
    const offered = BROKER_PROFILES[dto.broker].environments;
    if (!offered[dto.environment]) {
      const only = Object.keys(offered).join(' or ');
      throw Problem.validation([
        { path: 'environment', message: `${dto.broker} has no ${dto.environment} environment here: use ${only} (${Object.values(offered).join('; ')})` },
      ]);
    }
    const adapter = this.brokers.get(dto.broker);
    const credentials = this.credentialsFor(auth, adapter, dto.credentials);
    const report = await this.inspect(adapter, credentials, dto.environment);
    const ref: CredentialRef = { workspaceId: auth.workspaceId, connectionId: randomUUID(), version: 1 };
    const sealed = await this.seal(ref, credentials);
    const created = await this.db.run(auth.workspaceId, async (tx) => {
      const record = await this.connections.insert(tx, {
        id: ref.connectionId,
        workspaceId: auth.workspaceId,
        broker: dto.broker,
        label: dto.label,
        environment: dto.environment,
        keyHint: report.keyHint,
        permissions: storedPermissions(report),
      });
      await this.connections.insertVersion(tx, ref, sealed);
      await this.audit.record(tx, event(auth, 'credential.create', record, versionMetadata(ref, sealed, report)));
      return record;
    });
    return toView(created, undefined);
  }

  async list(auth: AuthContext, page: PageRequest<TimeKey>): Promise<Page<ConnectionView>> {
    const { rows, risk } = await this.db.run(auth.workspaceId, async (tx) => {
      const rows = await this.connections.list(tx, page);
      return {
        rows,
        risk: await this.risk.forConnections(
          tx,
          rows.map((r) => r.id),
        ),
      };
    });
    return toPage(rows, page, byCreatedAt, (c) => toView(c, risk.get(c.id)));
  }

  async get(auth: AuthContext, id: string): Promise<ConnectionView> {
    return this.db.run(auth.workspaceId, (tx) => this.view(tx, id));
  }

  /** The connection's view inside a transaction (the risk settings' writes answer with it). */
  async view(tx: TenantTx, id: string): Promise<ConnectionView> {
    const record = await this.found(tx, id);
    return toView(record, (await this.risk.forConnections(tx, [id])).get(id));
  }

  /** New credentials become version n+1 under a new data key; every older version is shredded. */
  async rotate(auth: AuthContext, id: string, dto: RotateConnectionDto): Promise<ConnectionView> {
    const current = await this.db.run(auth.workspaceId, (tx) => this.found(tx, id));
    if (current.status !== 'active') throw Problem.conflict('connection_revoked', 'This connection is revoked; connect the broker again instead.');
    const adapter = this.brokers.get(current.broker);
    const credentials = this.credentialsFor(auth, adapter, dto.credentials);
    const report = await this.inspect(adapter, credentials, current.environment);
    const ref: CredentialRef = { workspaceId: auth.workspaceId, connectionId: id, version: current.credentialVersion + 1 };
    const sealed = await this.seal(ref, credentials);
    const rotated = await this.db.run(auth.workspaceId, async (tx) => {
      const advanced = await this.connections.advanceVersion(tx, id, current.credentialVersion, {
        keyHint: report.keyHint,
        permissions: storedPermissions(report),
      });
      if (!advanced) throw Problem.conflict('connection_changed', 'The connection was rotated or revoked meanwhile; reload it and try again.');
      await this.connections.insertVersion(tx, ref, sealed);
      const shredded = await this.connections.shredVersions(tx, id, ref.version);
      const record = (await this.connections.find(tx, id))!;
      await this.audit.record(tx, event(auth, 'credential.rotate', record, { ...versionMetadata(ref, sealed, report), shreddedVersions: shredded }));
      return record;
    });
    return this.get(auth, rotated.id);
  }

  /**
   * Stops routing at once (the worker opens only the current version of an active connection) and
   * crypto-shreds every version. Broker-side revocation would need the plaintext key, which the api
   * cannot open, and none of the supported brokers' APIs offers it: that is recorded as such.
   */
  async revoke(auth: AuthContext, id: string): Promise<ConnectionView> {
    const revoked = await this.db.run(auth.workspaceId, async (tx) => {
      const current = await this.found(tx, id);
      const brokerRevocation: BrokerRevocation = current.broker === 'paper' ? 'not_applicable' : 'not_supported_by_broker';
      if (!(await this.connections.markRevoked(tx, id, { revokedBy: `${auth.actor.type}:${auth.actor.id}`, brokerRevocation }))) return current;
      const shredded = await this.connections.shredVersions(tx, id);
      const record = (await this.connections.find(tx, id))!;
      await this.audit.record(tx, event(auth, 'credential.revoke', record, { shreddedVersions: shredded, brokerRevocation }));
      return record;
    });
    return this.get(auth, revoked.id);
  }

  private async found(tx: TenantTx, id: string): Promise<ConnectionRecord> {
    const record = await this.connections.find(tx, id);
    if (!record) throw Problem.notFound('Connection');
    return record;
  }

  /** Paper seals the server-set workspace binding its simulator needs (user input is ignored); other brokers their own fields. */
  private credentialsFor(auth: AuthContext, adapter: BrokerAdapter, given: BrokerCredentials): BrokerCredentials {
    if (adapter.broker === 'paper') return { workspaceId: auth.workspaceId };
    const parsed = adapter.credentialsSchema.safeParse(given);
    if (!parsed.success) {
      throw Problem.validation(toFieldErrors(parsed.error).map((e) => ({ ...e, path: e.path === '(body)' ? 'credentials' : `credentials.${e.path}` })));
    }
    return parsed.data;
  }

  private async inspect(adapter: BrokerAdapter, credentials: BrokerCredentials, environment: BrokerEnvironment): Promise<PermissionReport> {
    let report: PermissionReport;
    try {
      report = await adapter.inspect(credentials, environment);
    } catch (err) {
      throw err instanceof BrokerError ? brokerProblem(err) : err;
    }
    // Adapters refuse fund-moving keys themselves; this keeps the rule even if one forgets.
    if (report.canWithdraw || report.canTransfer) {
      throw Problem.unprocessable('withdrawal_scope_rejected', `This ${adapter.broker} key can move funds out of the account; create a trading-only key.`);
    }
    return report;
  }

  private async seal(ref: CredentialRef, credentials: BrokerCredentials): Promise<SealedCredential> {
    try {
      return await this.sealer.seal(ref, credentials);
    } catch (err) {
      if (err instanceof KmsUnavailableError) {
        throw Problem.unavailable('kms_unavailable', 'The key management service is unavailable, so nothing was stored; try again shortly.');
      }
      throw err;
    }
  }
}

function brokerProblem(err: BrokerError): Problem {
  switch (err.kind) {
    case 'credentials_invalid':
      return Problem.unprocessable('broker_credentials_invalid', err.message);
    case 'withdrawal_scope_rejected':
      return Problem.unprocessable('withdrawal_scope_rejected', err.message);
    case 'transient':
    case 'ambiguous':
      return Problem.unavailable('broker_unavailable', `${err.message}; nothing was stored.`);
    case 'rejected':
    case 'unsupported_order_type':
      return Problem.unprocessable('broker_rejected', err.message);
  }
}

function storedPermissions(report: PermissionReport): StoredPermissions {
  const { inspection, canTrade, canWithdraw, canTransfer, note, details } = report;
  return { inspection, canTrade, canWithdraw, canTransfer, note, details };
}

function versionMetadata(ref: CredentialRef, sealed: SealedCredential, report: PermissionReport) {
  return {
    credentialVersion: ref.version,
    kmsProvider: sealed.kmsProvider,
    kmsKeyId: sealed.kmsKeyId,
    inspection: report.inspection,
    canTrade: report.canTrade,
  };
}

function event(auth: AuthContext, action: AuditEventInput['action'], c: ConnectionRecord, metadata: AuditEventInput['metadata']): AuditEventInput {
  return {
    action,
    actor: auth.actor,
    resource: { type: CONNECTION_RESOURCE, id: c.id },
    ip: auth.ip,
    requestId: auth.requestId,
    metadata: { broker: c.broker, environment: c.environment, ...metadata },
  };
}
