import { z } from 'zod';

const reason = z.string().trim().min(1).max(500);

export const approveOrderSchema = z.strictObject({
  reason: reason.optional().describe('Why the order may go; recorded in the audit trail.'),
});
export type ApproveOrderDto = z.infer<typeof approveOrderSchema>;

export const rejectOrderSchema = z.strictObject({
  reason: reason.describe('Why the order must not go; recorded on the order and in the audit trail.'),
});
export type RejectOrderDto = z.infer<typeof rejectOrderSchema>;
