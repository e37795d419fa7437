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
  graceSeconds: z.number().int().min(0).max(7 * 24 * 3600).default(DEFAULT_GRACE_SECONDS),
});
export type RotateSecretDto = z.infer<typeof rotateSecretSchema>;
