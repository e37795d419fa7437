/** The order events an endpoint may subscribe to: one per order status a broker reports (see the outbox trigger). */
export const WEBHOOK_EVENTS = ['order.accepted', 'order.partially_filled', 'order.filled', 'order.canceled', 'order.expired', 'order.rejected'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** The KMS encryption context an endpoint's signing secret is sealed under (purpose `webhook-signing`). */
export function signingSecretContext(ref: { workspaceId: string; endpointId: string; version: number }) {
  return { purpose: 'webhook-signing' as const, workspaceId: ref.workspaceId, endpointId: ref.endpointId, version: String(ref.version) };
}
