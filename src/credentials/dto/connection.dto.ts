import { z } from 'zod';
import { BROKER_NAMES } from '../../brokers/broker-adapter';

/** The shape only; each broker's adapter validates its own fields before anything leaves the process. */
const credentials = z.record(z.string().min(1).max(64), z.string().max(8192));

export const createConnectionSchema = z.strictObject({
  broker: z.enum(BROKER_NAMES),
  label: z.string().trim().min(1).max(200),
  environment: z.enum(['paper', 'live']).default('paper'),
  credentials: credentials.default({}),
});
export type CreateConnectionDto = z.infer<typeof createConnectionSchema>;

export const rotateConnectionSchema = z.strictObject({ credentials });
export type RotateConnectionDto = z.infer<typeof rotateConnectionSchema>;

/** A connection as the API shows it: metadata and the permission report, never credential material. */
export const connectionViewSchema = z.object({
  id: z.uuid(),
  broker: z.enum(BROKER_NAMES),
  label: z.string(),
  environment: z.enum(['paper', 'live']),
  status: z.enum(['active', 'revoked']),
  credentialVersion: z.int(),
  keyHint: z.string().describe('What the user needs to recognise the key, e.g. `…7QX2` (never part of a secret).'),
  permissions: z
    .object({
      inspection: z.enum(['inspected', 'single_tier', 'not_exposed', 'trading_only']),
      canTrade: z.boolean(),
      canWithdraw: z.boolean(),
      canTransfer: z.boolean(),
      note: z.string(),
      details: z.record(z.string(), z.union([z.boolean(), z.string(), z.array(z.string())])),
    })
    .describe("What onboarding learned about the key's reach."),
  inspectedAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
  rotatedAt: z.iso.datetime().nullable(),
  revokedAt: z.iso.datetime().nullable(),
  brokerRevocation: z
    .enum(['revoked', 'not_supported_by_broker', 'not_applicable'])
    .nullable()
    .describe('What revoking did at the broker: `revoked`, `not_supported_by_broker` or `not_applicable` (paper).'),
  killSwitch: z
    .object({ engaged: z.boolean(), reason: z.string().nullable(), changedAt: z.iso.datetime().nullable(), changedBy: z.string().nullable() })
    .describe("The connection's own kill switch: while engaged its entries are refused (exits and flattens still go)."),
  lossLimits: z
    .object({
      dailyLossLimit: z.string().nullable(),
      maxDrawdown: z.string().nullable(),
      action: z.enum(['block', 'flatten']),
      sessionStart: z.string(),
      sessionTimezone: z.string(),
      session: z
        .object({
          start: z.string(),
          end: z.string(),
          pnl: z.string(),
          peak: z.string(),
          breachedAt: z.string().nullable(),
          breachLimit: z.string().nullable(),
          breachReason: z.string().nullable(),
          flattenId: z.string().nullable(),
        })
        .nullable(),
    })
    .nullable()
    .describe("Daily loss / drawdown limits and the latest session's P&L as the worker last computed it; null when none set."),
});
export type ConnectionView = z.infer<typeof connectionViewSchema>;
