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
});
export type AlertListFilter = z.infer<typeof alertListFilters>;
export const alertOrder = new TimeKeyset('firstRaisedAt');
