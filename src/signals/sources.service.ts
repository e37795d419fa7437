import { Inject, Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { AuditWriter } from '../audit/audit-writer';
import { byCreatedAt, Page, PageRequest, TimeKey, toPage } from '../common/pagination';
import { Problem } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { TenantDb, TenantTx } from '../database/tenant-db';
import { sealSecret } from '../kms/envelope';
import { KmsUnavailableError } from '../kms/kms-errors';
import { KMS_PROVIDER, KmsProvider, sourceSecretContext } from '../kms/kms-provider';
import type { AuthContext } from '../common/auth/auth-context';
import { generateToken, sha256 } from '../common/bearer-secrets';
import type { CreateSourceDto, IssuedSource, RotateSecretDto, SourceView } from './dto/source.dto';
import type { WebhookAccepted } from './dto/signal.dto';
import { SignalIntakeService } from './signal-intake.service';
import { SecretMaterial, SourceAuthMode, SourceRecord, SourcesRepository } from './sources.repository';
import { TRADINGVIEW_PRESET } from './tradingview-ips';
import { WebhookKeyring } from './webhook-keyring';

const HMAC_KEY_BYTES = 32;

interface NewSecret {
  material: SecretMaterial;
  /** What the caller sees once. */
  shown: string;
  /** The HMAC key, kept in the api's key cache (and zeroed by the caller). */
  key?: Buffer;
}

@Injectable()
export class SourcesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(KMS_PROVIDER) private readonly kms: KmsProvider,
    private readonly db: TenantDb,
    private readonly sources: SourcesRepository,
    private readonly audit: AuditWriter,
    private readonly keyring: WebhookKeyring,
    private readonly intake: SignalIntakeService,
  ) {}

  async create(auth: AuthContext, dto: CreateSourceDto): Promise<IssuedSource> {
    const id = randomUUID();
    const secret = await this.newSecret(dto.auth, auth.workspaceId, id, 1);
    try {
      const record = await this.db.run(auth.workspaceId, async (tx) => {
        const created = await this.sources.create(
          tx,
          {
            id,
            workspaceId: auth.workspaceId,
            name: dto.name,
            authMode: dto.auth,
            allowedIps: dto.allowedIps,
            createdBy: `${auth.actor.type}:${auth.actor.id}`,
          },
          secret.material,
        );
        await this.audit.record(tx, {
          ...this.auditContext(auth, id),
          action: 'source.create',
          metadata: { authMode: dto.auth, allowedIpEntries: dto.allowedIps.length, tradingviewPreset: dto.allowedIps.includes(TRADINGVIEW_PRESET) },
        });
        return created;
      });
      if (secret.key) this.keyring.remember(id, 1, secret.key);
      return this.issued(record, secret.shown);
    } finally {
      secret.key?.fill(0);
    }
  }

  async list(auth: AuthContext, page: PageRequest<TimeKey>): Promise<Page<SourceView>> {
    return toPage(await this.db.run(auth.workspaceId, (tx) => this.sources.list(tx, page)), page, byCreatedAt, (s) => this.view(s));
  }

  async get(auth: AuthContext, id: string): Promise<SourceView> {
    return this.view(await this.db.run(auth.workspaceId, (tx) => this.mustFind(tx, id)));
  }

  /** A new current secret; the previous one keeps authenticating for `graceSeconds`. */
  async rotateSecret(auth: AuthContext, id: string, dto: RotateSecretDto): Promise<IssuedSource> {
    let secret: NewSecret | undefined;
    let version = 0;
    try {
      const record = await this.db.run(auth.workspaceId, async (tx) => {
        const source = await this.mustFind(tx, id);
        version = await this.sources.nextSecretVersion(tx, id);
        secret = await this.newSecret(source.authMode, auth.workspaceId, id, version);
        await this.sources.addSecretVersion(tx, auth.workspaceId, id, version, secret.material, new Date(Date.now() + dto.graceSeconds * 1000));
        await this.audit.record(tx, { ...this.auditContext(auth, id), action: 'source.rotate_secret', metadata: { version, graceSeconds: dto.graceSeconds } });
        return this.mustFind(tx, id);
      });
      this.keyring.forget(id);
      if (secret!.key) this.keyring.remember(id, version, secret!.key);
      return this.issued(record, secret!.shown);
    } finally {
      secret?.key?.fill(0);
    }
  }

  /** The console's "send test signal": a real signal on this source (404 for another workspace's). */
  async sendTestSignal(auth: AuthContext, id: string, body: unknown): Promise<WebhookAccepted> {
    await this.db.run(auth.workspaceId, (tx) => this.mustFind(tx, id));
    const accepted = await this.intake.acceptTest(auth.workspaceId, id, {
      body,
      rawBody: JSON.stringify(body ?? null),
      ip: auth.ip,
      requestId: auth.requestId,
    });
    // Webhook deliveries name no person; a test signal does: who placed these orders is on the trail.
    await this.db.run(auth.workspaceId, (tx) =>
      this.audit.record(tx, {
        ...this.auditContext(auth, id),
        action: 'source.test_signal',
        metadata: { signalId: accepted.signalId, duplicate: accepted.duplicate },
      }),
    );
    return accepted;
  }

  /** The source stops authenticating at once; its secrets are crypto-shredded; its signals remain. */
  async delete(auth: AuthContext, id: string): Promise<void> {
    await this.db.run(auth.workspaceId, async (tx) => {
      await this.mustFind(tx, id);
      await this.sources.delete(tx, id);
      await this.audit.record(tx, { ...this.auditContext(auth, id), action: 'source.delete' });
    });
    this.keyring.forget(id);
  }

  private async newSecret(mode: SourceAuthMode, workspaceId: string, sourceId: string, version: number): Promise<NewSecret> {
    if (mode === 'token') {
      const token = generateToken('syw');
      return { material: { tokenHash: sha256(token) }, shown: token };
    }
    const key = randomBytes(HMAC_KEY_BYTES);
    try {
      const sealed = await sealSecret(this.kms, sourceSecretContext({ workspaceId, sourceId, version }), key);
      return { material: { sealed }, shown: `whsec_${key.toString('base64')}`, key };
    } catch (err) {
      key.fill(0);
      if (err instanceof KmsUnavailableError)
        throw Problem.unavailable('kms_unavailable', 'The key management service is unavailable, so nothing was stored; try again shortly.');
      throw err;
    }
  }

  private async mustFind(tx: TenantTx, id: string): Promise<SourceRecord> {
    const source = await this.sources.find(tx, id);
    if (!source) throw Problem.notFound('Source');
    return source;
  }

  private auditContext(auth: AuthContext, sourceId: string) {
    return { actor: auth.actor, resource: { type: 'source', id: sourceId }, ip: auth.ip, requestId: auth.requestId };
  }

  private view(s: SourceRecord, token?: string): SourceView {
    const base = `${this.config.http.publicBaseUrl}/hooks/${s.id}`;
    return {
      id: s.id,
      name: s.name,
      auth: s.authMode,
      allowedIps: s.allowedIps,
      webhookUrl: s.authMode === 'token' ? `${base}/${token ?? '{token}'}` : base,
      secretVersion: s.secretVersion,
      previousSecretValidUntil: s.previousSecretExpiresAt?.toISOString() ?? null,
      createdAt: s.createdAt.toISOString(),
    };
  }

  private issued(s: SourceRecord, shown: string): IssuedSource {
    return s.authMode === 'token' ? { ...this.view(s, shown), token: shown } : { ...this.view(s), secret: shown };
  }
}
