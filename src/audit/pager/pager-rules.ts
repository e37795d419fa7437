export type AlertSeverity = 'critical' | 'error' | 'warning' | 'info';

/**
 * What pages on-call. A rule named like an audit action fires when the AuditWriter records that
 * action; audit.verification_failed is raised by the AuditVerifier.
 */
export const PAGER_RULES = {
  'credential.read.out_of_context': { severity: 'error', title: 'Credential read outside a routing context' },
  'credential.break_glass': { severity: 'critical', title: 'Break-glass credential read' },
  'credential.decrypt_failure': { severity: 'error', title: 'Credential decrypt failure' },
  'source.signature_failures': { severity: 'warning', title: 'Repeated webhook signature failures' },
  'audit.verification_failed': { severity: 'critical', title: 'Audit chain verification failed' },
  'order.dead_lettered': { severity: 'error', title: 'Order failed after all retries' },
} as const satisfies Record<string, { severity: AlertSeverity; title: string }>;

export type PagerRule = keyof typeof PAGER_RULES;

export function isPagerRule(name: string): name is PagerRule {
  return Object.hasOwn(PAGER_RULES, name);
}
