import { z } from 'zod';
import { SIGNAL_STATUSES } from '../signals.repository';

export const signalListQuerySchema = z.strictObject({
  sourceId: z.uuid().optional(),
  status: z.enum(SIGNAL_STATUSES).optional(),
  /** Cursor: the id of the last signal already seen (newest first). */
  cursor: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type SignalListQuery = z.infer<typeof signalListQuerySchema>;
