import { z } from 'zod';
import { AUDIT_ACTIONS } from '../audit-event';

export const auditListQuerySchema = z.strictObject({
  /** Cursor: the seq of the last event already seen (events come in chain order). */
  after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  action: z.enum(AUDIT_ACTIONS).optional(),
  resourceType: z.string().min(1).max(100).optional(),
  resourceId: z.string().min(1).max(200).optional(),
});
export type AuditListQuery = z.infer<typeof auditListQuerySchema>;

export const alertListQuerySchema = z.strictObject({
  status: z.enum(['open', 'acknowledged', 'resolved']).optional(),
  /** Cursor: the id of the last alert already seen (newest first). */
  cursor: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type AlertListQuery = z.infer<typeof alertListQuerySchema>;
