/**
 * Platform-level events (platform kill switch) have no workspace: they form their own chain under
 * this nil id (TenantDb.run(PLATFORM_WORKSPACE_ID, ...)), verified like any workspace's chain.
 */
export const PLATFORM_WORKSPACE_ID = '00000000-0000-0000-0000-000000000000';

/** Who did it. `worker`: the routing worker; `system`: a sweep or scheduler; `platform`: the platform admin token. */
export type AuditActorType = 'user' | 'token' | 'system' | 'worker' | 'platform';

export const AUDIT_ACTIONS = [
  'workspace.create',
  'member.create',
  'member.remove',
  'member.role_change',
  'token.create',
  'token.revoke',
  'auth.failure',
  'auth.login.failed',
  'auth.login.locked',
  'auth.logout',
  'platform.session.open',
  'platform.session.close',
  'auth.token.failed',
  'auth.token.locked',
  'kill_switch.workspace',
  'kill_switch.release_refused',
  'kill_switch.platform',
  'live_trading.change',
  'workspace.risk_limits',
  'connection.kill_switch',
  'connection.loss_limits',
  'connection.loss_limit_breached',
  'credential.create',
  'credential.read',
  'credential.use',
  'credential.rotate',
  'credential.rewrap',
  'credential.revoke',
  'credential.read.out_of_context',
  'credential.break_glass',
  'credential.decrypt_failure',
  'source.create',
  'source.rotate_secret',
  'source.delete',
  'source.test_signal',
  'source.signature_failures',
  'webhook.create',
  'webhook.rotate_secret',
  'webhook.delete',
  'webhook.retry_delivery',
  'webhook.enable',
  'webhook.disable',
  'route.create',
  'route.update',
  'route.delete',
  'order.blocked',
  'order.approve',
  'order.reject',
  'order.approval_expired',
  'flatten.request',
  'flatten.connection',
  'alert.ack',
  'alert.resolve',
  'alert.refused',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** What a module hands the audit writer. Metadata holds ids and flags only, never secrets. */
export interface AuditEventInput {
  action: AuditAction;
  actor: { type: AuditActorType; id?: string };
  resource: { type: string; id?: string };
  ip?: string;
  /** HTTP request id or queue job id: the context the action happened in. */
  requestId?: string;
  reason?: string;
  metadata?: SafeDetails;
}

/** Ids, counts and flags only: keys that name secrets are refused (see assertSafeDetails). */
export type SafeDetails = Record<string, string | number | boolean | null>;
