import { z } from 'zod';
import { isAllowlistEntry, normaliseAllowlist } from '../ip-allowlist';

export const DEFAULT_GRACE_SECONDS = 24 * 3600;

const allowedIps = z
  .array(z.string().trim().toLowerCase().refine(isAllowlistEntry, 'must be an IP address, a CIDR range (203.0.113.0/24) or "tradingview"'))
  .max(100)
  .transform(normaliseAllowlist);

export const createSourceSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  auth: z.enum(['hmac', 'token']),
  /** Requests from anywhere else are refused; "tradingview" stands for TradingView's published sender addresses. */
  allowedIps: allowedIps.default([]),
});
export type CreateSourceDto = z.infer<typeof createSourceSchema>;

export const rotateSecretSchema = z.strictObject({
  /** How long the previous secret keeps working; 0 revokes it at once (a leaked secret). */
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600)
    .default(DEFAULT_GRACE_SECONDS),
});
export type RotateSecretDto = z.infer<typeof rotateSecretSchema>;

export const sourceViewSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  auth: z.enum(['hmac', 'token']),
  allowedIps: z.array(z.string()),
  webhookUrl: z.string().describe('Token mode shows `{token}` where the token goes; the full URL is shown once, at issue.'),
  secretVersion: z.int(),
  previousSecretValidUntil: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
});
export type SourceView = z.infer<typeof sourceViewSchema>;

/** A source with its new secret (hmac: `whsec_…`, Standard Webhooks format) or token: the only time it is shown. */
export const issuedSourceViewSchema = z.union([sourceViewSchema.extend({ secret: z.string() }), sourceViewSchema.extend({ token: z.string() })]);
export type IssuedSource = z.infer<typeof issuedSourceViewSchema>;
