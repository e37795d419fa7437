import { z } from 'zod';
import { ROLES } from '../../common/auth/auth-context';
import { limitsViewSchema, routeLimitsSchema } from '../../routes/route.dto';

const email = z
  .email()
  .max(320)
  .transform((e) => e.toLowerCase());
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

/**
 * The route limits as workspace defaults and ceilings: omitted leaves one unchanged, null clears it. A route may set a
 * value only as strict or stricter (422 limit_exceeds_workspace_ceiling); the workspace's trading windows apply on top of
 * a route's, and blocking exits outside them holds when either says so.
 */
function workspaceLimitFields() {
  const f = routeLimitsSchema.shape;
  const ceiling = 'Default and ceiling for the routes (omitted: unchanged; null: none).';
  return {
    maxQuantity: f.maxQuantity.unwrap().nullable().optional().describe(ceiling),
    maxNotional: f.maxNotional.unwrap().nullable().optional().describe(ceiling),
    maxOrdersPerMinute: f.maxOrdersPerMinute.unwrap().nullable().optional().describe(ceiling),
    maxPosition: f.maxPosition.unwrap().nullable().optional().describe(ceiling),
    maxOpenPositions: f.maxOpenPositions.unwrap().nullable().optional().describe(ceiling),
    tradingWindows: f.tradingWindows
      .unwrap()
      .nullable()
      .optional()
      .describe("Windows every route's entries must also fall in (omitted: unchanged; null: none)."),
    blockExitsOutsideWindows: f.blockExitsOutsideWindows
      .unwrap()
      .optional()
      .describe("Block every route's exits outside the workspace's windows too (omitted: unchanged)."),
  };
}

/** Workspace risk defaults and ceilings; null clears one. A route's own value applies only where it is stricter. */
export const riskLimitsSchema = z.strictObject({
  maxSignalAgeSeconds: riskSeconds.describe("Default and ceiling of the routes' signal age (seconds); null: routes decide (live routes 60 s by default)."),
  duplicateWindowSeconds: riskSeconds.describe('Default and shortest duplicate window (seconds) of the routes; null: none.'),
  approval: z
    .enum(['auto', 'manual'])
    .nullable()
    .optional()
    .describe("Default approval for routes that set none; `manual` holds every route's orders for approval. Omitted: unchanged; null: auto."),
  approvalExpirySeconds: z
    .number()
    .int()
    .min(10)
    .max(86_400)
    .nullable()
    .optional()
    .describe('Default and ceiling of how long an order waits for approval (seconds; default 300). Omitted: unchanged.'),
  ...workspaceLimitFields(),
  reason,
});
export type RiskLimitsDto = z.infer<typeof riskLimitsSchema>;

export const createMemberSchema = z.strictObject({
  email,
  password: password.optional(),
  role: z.enum(ROLES),
});
export type CreateMemberDto = z.infer<typeof createMemberSchema>;

export const changeMemberRoleSchema = z.strictObject({ role: z.enum(ROLES) });
export type ChangeMemberRoleDto = z.infer<typeof changeMemberRoleSchema>;

export const createTokenSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  role: z.enum(ROLES).default('trader'),
  // Defaults to API_TOKEN_MAX_LIFETIME_DAYS; "never" is an owner's explicit choice.
  expiresInDays: z.union([z.number().int().min(1).max(3650), z.literal('never')]).optional(),
});
export type CreateTokenDto = z.infer<typeof createTokenSchema>;

// Views: what the routes answer (documented in OpenAPI from these schemas; the services' types are inferred from them).

export const workspaceViewSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  killSwitch: z.object({ engaged: z.boolean(), reason: z.string().nullable() }),
  platformKillSwitch: z
    .object({ engaged: z.boolean(), engagedAt: z.iso.datetime().nullable() })
    .describe("The platform operator's switch, as it bears on this workspace: its state only, never the operator's reason."),
  liveTradingEnabled: z.boolean(),
  riskLimits: limitsViewSchema.describe(
    "Defaults for routes that set none, and ceilings: a route may only be stricter (the duplicate window only longer); the windows apply on top of a route's.",
  ),
  approval: z
    .object({ mode: z.string().nullable().describe('auto or manual; null: routes decide'), expirySeconds: z.int().nullable() })
    .describe("Default approval mode and expiry for routes that set none (`manual` holds every route's orders; the expiry caps theirs)."),
  createdAt: z.iso.datetime(),
});
export type WorkspaceView = z.infer<typeof workspaceViewSchema>;

/** What the platform operator sees of the platform switch (the reason is theirs). */
export const platformKillSwitchViewSchema = z.object({ engaged: z.boolean(), reason: z.string().nullable(), changedAt: z.iso.datetime().nullable() });
export type PlatformKillSwitchView = z.infer<typeof platformKillSwitchViewSchema>;

export const tokenViewSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  hint: z.string(),
  role: z.enum(ROLES),
  createdBy: z.uuid().nullable().describe('The member who answers for the token: it stops working when she is removed and never acts above her role.'),
  createdVia: z.uuid().nullable().describe('The token that minted this one, if any (revoking it revokes this one).'),
  expiresAt: z.iso.datetime().nullable(),
  revokedAt: z.iso.datetime().nullable(),
  lastUsedAt: z.iso.datetime().nullable().describe('Stamped at most once a minute.'),
  createdAt: z.iso.datetime(),
});
export type TokenView = z.infer<typeof tokenViewSchema>;

/** A freshly issued token: the only time its value is ever shown. */
export const issuedTokenViewSchema = tokenViewSchema.extend({ token: z.string() });
export type IssuedToken = z.infer<typeof issuedTokenViewSchema>;

/** A new workspace: `token` is the owner's bootstrap API token, shown this once; `tokenInfo` is its metadata. */
export const createdWorkspaceViewSchema = z.object({
  workspace: workspaceViewSchema,
  owner: z.object({ id: z.uuid(), email: z.string() }),
  token: z.string(),
  tokenInfo: tokenViewSchema,
});
export type CreatedWorkspace = z.infer<typeof createdWorkspaceViewSchema>;

export const memberViewSchema = z.object({ id: z.uuid(), email: z.string(), role: z.enum(ROLES), createdAt: z.iso.datetime() });
export type MemberView = z.infer<typeof memberViewSchema>;

/** The console's member session. */
export const sessionViewSchema = z.object({ workspaceId: z.uuid(), memberId: z.uuid(), role: z.enum(ROLES) });
export const openedSessionViewSchema = sessionViewSchema.extend({ expiresAt: z.iso.datetime() });
/** The platform on-call's console session. */
export const platformSessionViewSchema = z.object({ operator: z.literal(true) });
export const openedPlatformSessionViewSchema = platformSessionViewSchema.extend({ expiresAt: z.iso.datetime() });
