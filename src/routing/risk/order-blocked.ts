import type { AuditEventInput } from '../../audit/audit-event';

/** The audit event of an order a risk limit blocked (at planning, or right before sending), with the reason in words. */
export function orderBlockedEvent(
  jobId: string,
  order: { id: string; routeId: string; symbol: string },
  limit: string,
  reason: string,
  context: Record<string, string>,
): AuditEventInput {
  return {
    action: 'order.blocked',
    actor: { type: 'worker', id: jobId },
    resource: { type: 'order', id: order.id },
    requestId: jobId,
    reason,
    metadata: { limit, routeId: order.routeId, symbol: order.symbol, ...context },
  };
}
