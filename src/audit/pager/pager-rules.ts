export type AlertSeverity = 'critical' | 'error' | 'warning' | 'info';

/** Who may acknowledge or resolve an alert: security pages are the platform's, so a tenant's admin cannot silence them. */
export type AlertOwner = 'platform' | 'workspace';

/**
 * What pages on-call. A rule named like an audit action fires when the AuditWriter records that
 * action; audit.verification_failed is raised by the AuditVerifier.
 */
export const PAGER_RULES = {
  'credential.read.out_of_context': { severity: 'error', owner: 'platform', title: 'Credential read outside a routing context' },
  'credential.break_glass': { severity: 'critical', owner: 'platform', title: 'Break-glass credential read' },
  'credential.decrypt_failure': { severity: 'error', owner: 'platform', title: 'Credential decrypt failure' },
  'source.signature_failures': { severity: 'warning', owner: 'workspace', title: 'Repeated webhook signature failures' },
  'audit.verification_failed': { severity: 'critical', owner: 'platform', title: 'Audit chain verification failed' },
  'order.dead_lettered': { severity: 'error', owner: 'workspace', title: 'Order failed after all retries' },
} as const satisfies Record<string, { severity: AlertSeverity; owner: AlertOwner; title: string }>;

export type PagerRule = keyof typeof PAGER_RULES;

export function isPagerRule(name: string): name is PagerRule {
  return Object.hasOwn(PAGER_RULES, name);
}

/** A rule no longer in the table (renamed since the alert opened) is treated as the platform's: fail closed. */
export function alertOwner(rule: string): AlertOwner {
  return isPagerRule(rule) ? PAGER_RULES[rule].owner : 'platform';
}

/** The rules one owner handles, for queries that filter by owner. */
export function rulesOwnedBy(owner: AlertOwner): PagerRule[] {
  return (Object.keys(PAGER_RULES) as PagerRule[]).filter((rule) => PAGER_RULES[rule].owner === owner);
}
