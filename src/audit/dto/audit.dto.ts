import { z } from 'zod';
import { SeqKeyset, TimeKeyset } from '../../common/pagination';
import { AUDIT_ACTIONS } from '../audit-event';

export const auditListFilters = z.strictObject({
  action: z.enum(AUDIT_ACTIONS).optional().describe('Only events of this action.'),
  resourceType: z.string().min(1).max(100).optional().describe('Only events about resources of this type (`connection`, `source`, …).'),
  resourceId: z.string().min(1).max(200).optional().describe('Only events about the resource with this id.'),
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
