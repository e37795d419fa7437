import { z } from 'zod';

const snapshotFields = {
  connectionId: z.uuid(),
  fetchedAt: z.iso.datetime(),
  stale: z.boolean().describe('True when the worker could not fetch a fresh snapshot in time: this is the last one it did fetch.'),
  error: z.string().optional().describe('Why the latest fetch failed, when it did.'),
};

export const positionsViewSchema = z.object({
  ...snapshotFields,
  positions: z.array(
    z.object({
      symbol: z.string(),
      quantity: z.string().describe('Signed: positive long, negative short.'),
      averagePrice: z.string().optional(),
      marketValue: z.string().optional(),
      unrealizedPnl: z.string().optional(),
    }),
  ),
});
export type PositionsView = z.infer<typeof positionsViewSchema>;

export const accountViewSchema = z.object({
  ...snapshotFields,
  account: z.object({ currency: z.string(), equity: z.string(), cash: z.string().optional(), buyingPower: z.string().optional() }),
});
export type AccountView = z.infer<typeof accountViewSchema>;
