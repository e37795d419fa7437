import { z } from 'zod';
import { TimeKeyset } from '../../common/pagination';
import { orderViewSchema } from '../../orders/order.dto';

export const SIGNAL_STATUSES = ['received', 'queued', 'routing', 'routed', 'partially_routed', 'blocked', 'failed'] as const;
export type SignalStatus = (typeof SIGNAL_STATUSES)[number];

export const signalListFilters = z.strictObject({
  sourceId: z.uuid().optional().describe('Only signals of this source.'),
  status: z.enum(SIGNAL_STATUSES).optional().describe('Only signals in this status.'),
  connectionId: z.uuid().optional().describe('Only signals that made an order for this connection.'),
});
export type SignalListFilter = z.infer<typeof signalListFilters>;

export const signalOrder = new TimeKeyset('receivedAt');

export const signalViewSchema = z.object({
  id: z.uuid(),
  sourceId: z.uuid(),
  seq: z.string().describe('Arrival order (a 64-bit integer, as a string).'),
  status: z.string(),
  payload: z.record(z.string(), z.unknown()).describe('The signal as routing read it (raw bodies are never served).'),
  ignoredFields: z.array(z.string()).describe('Body fields routing did not read (kept in the stored raw body): a misspelt field shows up here.'),
  error: z.string().nullable(),
  receivedAt: z.iso.datetime(),
  enqueuedAt: z.iso.datetime().nullable(),
  routingStartedAt: z.iso.datetime().nullable(),
  completedAt: z.iso.datetime().nullable(),
});
export type SignalView = z.infer<typeof signalViewSchema>;

/** A signal with the orders it produced. */
export const signalDetailViewSchema = signalViewSchema.extend({ orders: z.array(orderViewSchema) });
export type SignalDetailView = z.infer<typeof signalDetailViewSchema>;

/** What a delivery (or a console test signal) was answered: `duplicate` when its idempotency key was seen before. */
export const webhookAcceptedViewSchema = z.object({ signalId: z.uuid(), status: z.enum(SIGNAL_STATUSES), duplicate: z.boolean() });
export type WebhookAccepted = z.infer<typeof webhookAcceptedViewSchema>;
