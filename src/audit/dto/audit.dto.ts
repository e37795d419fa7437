import { z } from 'zod';
import { SeqKeyset, TimeKeyset } from '../../common/pagination';
import { AUDIT_ACTIONS } from '../audit-event';

export const auditListFilters = z.strictObject({
  action: z.enum(AUDIT_ACTIONS).optional().describe('Only events of this action.'),
  resourceType: z.string().min(1).max(100).optional().describe('Only events about resources of this type (`connection`, `source`, …).'),
  resourceId: z.string().min(1).max(200).optional().describe('Only events about the resource with this id.'),
  actorType: z.enum(['user', 'token', 'system', 'worker', 'platform']).optional().describe('Only events by actors of this type.'),
  actorId: z.string().min(1).max(200).optional().describe('Only events by the actor with this id (a member, token or worker id).'),
  since: z.iso.datetime({ offset: true }).optional().describe('Only events at or after this time (ISO 8601 with offset).'),
  until: z.iso.datetime({ offset: true }).optional().describe('Only events before this time (ISO 8601 with offset).'),
});
export type AuditListFilter = z.infer<typeof auditListFilters>;
export const auditOrder = new SeqKeyset();

export const alertListFilters = z.strictObject({
  status: z.enum(['open', 'acknowledged', 'resolved']).optional().describe('Only alerts in this status.'),
  owner: z
    .enum(['platform', 'workspace'])
    .optional()
    .describe(
      'Only alerts this owner handles: `platform` (security pages, handled by the platform on-call) or `workspace` (operational, handled by workspace admins).',
    ),
});
export type AlertListFilter = z.infer<typeof alertListFilters>;
/** The platform's list takes the same filters across every workspace. */
export type PlatformAlertFilter = AlertListFilter;
export const alertOrder = new TimeKeyset('firstRaisedAt');

/** An alert's details: ids, counts and flags (SafeDetails). */
const safeDetailsSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));

const alertFactsSchema = z.object({
  id: z.uuid(),
  rule: z.string(),
  owner: z.enum(['platform', 'workspace']).describe('Who acknowledges and resolves it: `platform` alerts are read-only to a workspace.'),
  severity: z.string(),
  status: z.string(),
  summary: z.string(),
  resource: z.object({ type: z.string(), id: z.string() }),
  details: safeDetailsSchema,
  occurrences: z.int(),
  firstRaisedAt: z.iso.datetime(),
  lastRaisedAt: z.iso.datetime(),
  acknowledgedAt: z.iso.datetime().nullable(),
  acknowledgedBy: z.string().nullable(),
  resolvedAt: z.iso.datetime().nullable(),
  resolvedBy: z.string().nullable(),
});

export const alertViewSchema = alertFactsSchema.extend({
  deliveries: z.array(
    z.object({
      channel: z.string(),
      action: z.string(),
      status: z.string(),
      attempts: z.int(),
      lastError: z.string().nullable(),
      deliveredAt: z.iso.datetime().nullable(),
    }),
  ),
});
export type AlertView = z.infer<typeof alertViewSchema>;

/** What the platform on-call sees of an alert: the alert and its workspace's id, not the workspace's data. */
export const platformAlertViewSchema = alertFactsSchema.extend({ workspaceId: z.uuid() });
export type PlatformAlertView = z.infer<typeof platformAlertViewSchema>;

export const auditEventViewSchema = z.object({
  seq: z.int(),
  occurredAt: z.iso.datetime(),
  actor: z.object({ type: z.string(), id: z.string().nullable() }),
  ip: z.string().nullable(),
  action: z.string(),
  resource: z.object({ type: z.string(), id: z.string().nullable() }),
  reason: z.string().nullable(),
  requestId: z.string().nullable(),
  metadata: safeDetailsSchema,
  hash: z.string(),
});
export type AuditEventView = z.infer<typeof auditEventViewSchema>;

export const CHAIN_BREAKS = [
  'sequence_gap',
  'prev_hash_mismatch',
  'hash_mismatch',
  'checkpoint_mismatch',
  'checkpoint_signature_invalid',
  'checkpoint_key_unknown',
  'events_missing',
] as const;
export type ChainBreak = (typeof CHAIN_BREAKS)[number];

const verifiedFrom = z.int().describe("The first event this run reread (the checkpoint's own event when since_checkpoint).");

export const auditVerificationViewSchema = z.union([
  z.object({
    ok: z.literal(true),
    events: z.int(),
    head: z.object({ seq: z.int(), hash: z.string() }).nullable(),
    checkpoint: z.object({ seq: z.int(), signedAt: z.iso.datetime() }).nullable().describe('The newest signed checkpoint, which the chain matched.'),
    verifiedFrom,
  }),
  z.object({ ok: z.literal(false), firstBrokenSeq: z.int(), reason: z.enum(CHAIN_BREAKS), detail: z.string(), verifiedFrom }),
]);
export type AuditVerification = z.infer<typeof auditVerificationViewSchema>;
