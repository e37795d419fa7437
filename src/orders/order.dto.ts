import { z } from 'zod';

export const orderListFilters = z.strictObject({
  signalId: z.uuid().optional().describe('Only orders made from this signal.'),
  status: z.enum(['awaiting_approval', 'pending', 'submitted', 'accepted', 'partially_filled', 'filled', 'canceled', 'expired', 'rejected', 'failed', 'blocked', 'skipped']).optional().describe('Only orders in this status.'),
});
export type OrderListFilter = z.infer<typeof orderListFilters>;
