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
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600)
    .default(DEFAULT_GRACE_SECONDS),
});
export type RotateWebhookSecretDto = z.infer<typeof rotateWebhookSecretSchema>;

export const updateWebhookSchema = z.strictObject({
  /** false: no new events are recorded for the endpoint and its pending deliveries wait; true: they resume. */
  enabled: z.boolean(),
});
export type UpdateWebhookDto = z.infer<typeof updateWebhookSchema>;

export const deliveryListFilters = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional().describe('Only deliveries in this status.'),
});
export type DeliveryListFilter = z.infer<typeof deliveryListFilters>;

/** An endpoint as the api shows it: never its signing secret. */
export const webhookViewSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  description: z.string().nullable(),
  secretVersion: z.int(),
  enabled: z.boolean().describe('false while disabled: no new events are recorded for it and pending deliveries wait until it is enabled.'),
  previousSecretValidUntil: z.iso
    .datetime()
    .nullable()
    .describe('Until then deliveries carry a signature with the previous secret too; null when none is in its grace period.'),
  createdAt: z.iso.datetime(),
});
export type WebhookView = z.infer<typeof webhookViewSchema>;

/** The endpoint with its signing secret: shown at creation and rotation only. */
export const issuedWebhookViewSchema = webhookViewSchema.extend({ secret: z.string().describe('`whsec_<base64>`, shown this once.') });
export type IssuedWebhook = z.infer<typeof issuedWebhookViewSchema>;

const attemptViewSchema = z.object({
  at: z.iso.datetime(),
  statusCode: z.int().nullable().describe('The HTTP status; null when none came back.'),
  error: z.string().nullable(),
  responseExcerpt: z.string().nullable().describe("A short, control-character-free excerpt of the answer's body."),
  durationMs: z.int(),
});

export const deliveryViewSchema = z.object({
  id: z.uuid(),
  eventType: z.enum(WEBHOOK_EVENTS),
  orderId: z.uuid(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.int(),
  attemptLog: z.array(attemptViewSchema),
  lastStatusCode: z.int().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: z.iso.datetime().nullable(),
  deliveredAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
  payload: z.record(z.string(), z.unknown()).describe('The Standard Webhooks body the endpoint received.'),
});
export type DeliveryView = z.infer<typeof deliveryViewSchema>;
