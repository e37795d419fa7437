import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { LIMIT_STORE, LimitStore } from '../limits/limit-store';
import { Problem } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import type { VerifyScope } from './audit-verifier';

/** How often one workspace may run GET /v1/audit/verify (each call scans its chain and may sign a checkpoint). */
@Injectable()
export class AuditVerifyLimit {
  constructor(
    private readonly modules: ModuleRef,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** `scope`: the api's verify and the platform's full rescan are counted apart (one must not starve the other). */
  async take(workspaceId: string, scope: VerifyScope = 'since_checkpoint'): Promise<void> {
    // Resolved per call: the limit store lives in the api only, and the worker hosts this module too.
    const store = this.modules.get<LimitStore>(LIMIT_STORE, { strict: false });
    const { windowMs, auditVerifyPerMinute } = this.config.rateLimit;
    const counter = await store.add(scope === 'full' ? `audit:verify:full:${workspaceId}` : `audit:verify:${workspaceId}`, 1, windowMs);
    if (counter.count <= auditVerifyPerMinute) return;
    const retryAfter = Math.max(1, Math.ceil(counter.ttlMs / 1000));
    throw Problem.tooManyRequests(
      'audit_verify_rate_limited',
      `This workspace verified its audit chain ${auditVerifyPerMinute} times in the current window; retry after the indicated delay.`,
      retryAfter,
    );
  }
}
