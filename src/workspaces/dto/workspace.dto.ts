import { z } from 'zod';
import { ROLES } from '../../common/auth/auth-context';

const email = z.email().max(320).transform((e) => e.toLowerCase());
const password = z.string().min(12, 'must be at least 12 characters').max(256);
const reason = z.string().trim().min(1).max(500);

export const createWorkspaceSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  ownerEmail: email,
  ownerPassword: password.optional(),
});
export type CreateWorkspaceDto = z.infer<typeof createWorkspaceSchema>;

export const loginSchema = z.strictObject({
  email,
  password: z.string().min(1).max(256),
  workspaceId: z.uuid().optional(),
});
export type LoginDto = z.infer<typeof loginSchema>;

export const killSwitchSchema = z.strictObject({ engaged: z.boolean(), reason });
export type KillSwitchDto = z.infer<typeof killSwitchSchema>;

export const liveTradingSchema = z.strictObject({ enabled: z.boolean(), reason });
export type LiveTradingDto = z.infer<typeof liveTradingSchema>;

const riskSeconds = z.number().int().min(1).max(86_400).nullable();

/** Workspace risk defaults; null clears one. A route's own value wins, except that no route may accept older signals than the workspace. */
export const riskLimitsSchema = z.strictObject({
  maxSignalAgeSeconds: riskSeconds.describe('Default and ceiling of the routes\' signal age (seconds); null: routes decide (live routes 60 s by default).'),
  duplicateWindowSeconds: riskSeconds.describe('Default duplicate window (seconds) for routes that set none; null: none.'),
  approval: z.enum(['auto', 'manual']).nullable().optional().describe("Default approval for routes that set none; `manual` holds every route's orders for approval. Omitted: unchanged; null: auto."),
  approvalExpirySeconds: z.number().int().min(10).max(86_400).nullable().optional().describe('Default and ceiling of how long an order waits for approval (seconds; default 300). Omitted: unchanged.'),
  reason,
});
export type RiskLimitsDto = z.infer<typeof riskLimitsSchema>;

export const createMemberSchema = z.strictObject({
  email,
  password: password.optional(),
  role: z.enum(ROLES),
});
export type CreateMemberDto = z.infer<typeof createMemberSchema>;

export const createTokenSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  role: z.enum(ROLES).default('trader'),
  // Defaults to API_TOKEN_MAX_LIFETIME_DAYS; "never" is an owner's explicit choice.
  expiresInDays: z.union([z.number().int().min(1).max(3650), z.literal('never')]).optional(),
});
export type CreateTokenDto = z.infer<typeof createTokenSchema>;
