import { z } from 'zod';

export const flattenSchema = z.strictObject({
  reason: z.string().trim().min(1).max(500).describe('Why positions are being closed; recorded in the audit trail.'),
});
export type FlattenDto = z.infer<typeof flattenSchema>;

const flattenStatus = z.enum(['pending', 'running', 'done', 'failed']);

/** The 202 answer of a flatten request: its id (for GET /v1/flattens/:id) and the connections handed to the worker. */
export const flattenRequestedViewSchema = z.object({
  id: z.uuid(),
  scope: z.enum(['connection', 'workspace']),
  status: z.enum(['pending', 'done']).describe('`done` at once when no connection was active.'),
  connections: z.array(z.object({ connectionId: z.uuid(), status: z.literal('pending') })),
});

/** A flatten's progress per connection, with the closing orders the worker placed. */
export const flattenViewSchema = z.object({
  id: z.uuid(),
  scope: z.enum(['connection', 'workspace', 'route']),
  reason: z.string(),
  status: flattenStatus,
  requestedBy: z.object({ type: z.string(), id: z.string().nullable() }),
  createdAt: z.iso.datetime(),
  connections: z.array(
    z.object({
      connectionId: z.uuid(),
      status: flattenStatus,
      canceledOrders: z.int().nullable(),
      error: z.string().nullable(),
      attempts: z.int(),
      updatedAt: z.iso.datetime(),
      orders: z.array(
        z.object({
          symbol: z.string(),
          side: z.enum(['buy', 'sell']),
          quantity: z.string(),
          clientOrderId: z.string(),
          brokerOrderId: z.string().nullable(),
          status: z.string(),
          filledQuantity: z.string().nullable(),
          averagePrice: z.string().nullable(),
          reason: z.string().nullable(),
          createdAt: z.iso.datetime(),
        }),
      ),
    }),
  ),
});
