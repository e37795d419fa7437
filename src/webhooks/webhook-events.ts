/** The order events an endpoint may subscribe to: one per order status a broker reports (see the outbox trigger). */
export const WEBHOOK_EVENTS = ['order.accepted', 'order.partially_filled', 'order.filled', 'order.canceled', 'order.expired', 'order.rejected'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
