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
    .describe('Only alerts this owner handles: `platform` (security pages, handled by the platform on-call) or `workspace` (operational, handled by workspace admins).'),
});
export type AlertListFilter = z.infer<typeof alertListFilters>;
/** The platform's list takes the same filters across every workspace. */
export type PlatformAlertFilter = AlertListFilter;
export const alertOrder = new TimeKeyset('firstRaisedAt');
