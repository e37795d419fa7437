import { z } from 'zod';
import { WEBHOOK_EVENTS } from '../webhook-events';

export const createWebhookSchema = z.strictObject({
  /** An https URL; checked by the SSRF guard (no private, loopback or metadata address unless the operator allows it). */
  url: z.string().trim().min(9).max(2000),
  /** Which order events the endpoint receives; all of them when omitted. */
  events: z
    .array(z.enum(WEBHOOK_EVENTS))
    .min(1)
    .max(WEBHOOK_EVENTS.length)
    .transform((events) => [...new Set(events)])
    .default([...WEBHOOK_EVENTS]),
  description: z.string().trim().max(500).optional(),
});
export type CreateWebhookDto = z.infer<typeof createWebhookSchema>;

export const DEFAULT_GRACE_SECONDS = 24 * 3600;

export const rotateWebhookSecretSchema = z.strictObject({
  /** How long the previous secret keeps signing beside the new one (both signatures are sent); 0 ends it at once (a leaked secret). */
  graceSeconds: z.number().int().min(0).max(7 * 24 * 3600).default(DEFAULT_GRACE_SECONDS),
});
export type RotateWebhookSecretDto = z.infer<typeof rotateWebhookSecretSchema>;

export const deliveryListFilters = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional().describe('Only deliveries in this status.'),
});
export type DeliveryListFilter = z.infer<typeof deliveryListFilters>;
