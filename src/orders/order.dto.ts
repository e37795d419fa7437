import { z } from 'zod';

export const orderListFilters = z.strictObject({
  signalId: z.uuid().optional().describe('Only orders made from this signal.'),
  parentOrderId: z
    .uuid()
    .optional()
    .describe("Only the bracket legs of this entry. Without it the list holds the orders routing planned; each entry's legs are in GET /v1/orders/{id}."),
  status: z
    .enum([
      'awaiting_approval',
      'pending',
      'submitted',
      'accepted',
      'partially_filled',
      'filled',
      'canceled',
      'expired',
      'rejected',
      'failed',
      'blocked',
      'skipped',
    ])
    .optional()
    .describe('Only orders in this status.'),
});
export type OrderListFilter = z.infer<typeof orderListFilters>;

const decimal = z.string().describe('A decimal, as a string.');

export const orderViewSchema = z.object({
  id: z.uuid(),
  signalId: z.uuid(),
  routeId: z.uuid(),
  connectionId: z.uuid(),
  broker: z.string(),
  clientOrderId: z.string(),
  leg: z.int().describe('0, or 0 then 1 for a reversal (close, then open).'),
  intent: z.string(),
  symbol: z.string(),
  side: z.string().nullable(),
  type: z.string(),
  quantity: decimal.nullable(),
  limitPrice: decimal.nullable(),
  stopPrice: decimal.nullable(),
  brackets: z
    .object({
      takeProfit: decimal.nullable(),
      stopLoss: decimal.nullable(),
      stopLossLimit: decimal.nullable(),
      trailPercent: decimal.nullable(),
      trailAmount: decimal.nullable(),
    })
    .nullable()
    .describe('Bracket legs as sent to the broker (distances already resolved to prices): null where absent.'),
  bracketLeg: z
    .object({ parentOrderId: z.uuid(), role: z.enum(['take_profit', 'stop_loss']) })
    .nullable()
    .describe("Set on a bracket's take-profit or stop-loss leg (an order the broker created for an entry): its entry and role."),
  status: z.string(),
  reason: z.string().nullable(),
  brokerOrderId: z.string().nullable(),
  filledQuantity: decimal.nullable(),
  averagePrice: decimal.nullable(),
  attempts: z.int(),
  approval: z
    .object({ expiresAt: z.iso.datetime(), decidedAt: z.iso.datetime().nullable() })
    .nullable()
    .describe('Set on an order held for manual approval: when it expires unless approved, and when it was decided.'),
  timings: z.object({ routedAt: z.iso.datetime(), sentAt: z.iso.datetime().nullable(), acknowledgedAt: z.iso.datetime().nullable() }),
});
export type OrderView = z.infer<typeof orderViewSchema>;

/** One execution at the broker; `brokerFillId` is the broker's id (or, where the broker reports only cumulative fills, `cum:<filled so far>`). */
const fillViewSchema = z.object({ brokerFillId: z.string(), quantity: decimal, price: decimal, fee: decimal.nullable(), filledAt: z.iso.datetime() });

/** One of an entry's bracket legs, as it stands at the broker now. */
const legViewSchema = z.object({
  id: z.uuid(),
  role: z.enum(['take_profit', 'stop_loss']),
  status: z.string(),
  filledQuantity: decimal.nullable(),
  averagePrice: decimal.nullable(),
});

/** A single order: its view, every fill, every status change with its time (the lifecycle), and its bracket legs. */
export const orderDetailViewSchema = orderViewSchema.extend({
  fills: z.array(fillViewSchema),
  legs: z.array(legViewSchema).describe('The take-profit and stop-loss orders the broker created for this entry (each an order of its own); empty otherwise.'),
  transitions: z.array(z.object({ from: z.string().nullable(), to: z.string(), at: z.iso.datetime() })),
});
export type OrderDetailView = z.infer<typeof orderDetailViewSchema>;
