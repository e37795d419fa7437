import { z } from 'zod';
import { TimeKeyset } from '../../common/pagination';

export const SIGNAL_STATUSES = ['received', 'queued', 'routing', 'routed', 'partially_routed', 'blocked', 'failed'] as const;
export type SignalStatus = (typeof SIGNAL_STATUSES)[number];

export const signalListFilters = z.strictObject({
  sourceId: z.uuid().optional().describe('Only signals of this source.'),
  status: z.enum(SIGNAL_STATUSES).optional().describe('Only signals in this status.'),
  connectionId: z.uuid().optional().describe('Only signals that made an order for this connection.'),
});
export type SignalListFilter = z.infer<typeof signalListFilters>;

export const signalOrder = new TimeKeyset('receivedAt');
