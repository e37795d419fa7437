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
