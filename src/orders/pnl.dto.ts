import { z } from 'zod';

const pnlReport = {
  symbols: z.array(
    z.object({
      symbol: z.string(),
      position: z.string().describe('Net position the fills leave (signed: negative short).'),
      averageCost: z.string().nullable().describe('Average cost of that position; null when flat.'),
      realizedPnl: z.string().describe("Realised on closes, average-cost method, in the symbol's quote currency; fees not deducted."),
      fees: z.string(),
      fills: z.int(),
    }),
  ),
  unattributedFills: z.int().describe('Fills of orders whose side was never recorded (an order found at the broker on a retry); left out above.'),
};

export const connectionPnlViewSchema = z.object({ connectionId: z.uuid(), ...pnlReport });
export type ConnectionPnlView = z.infer<typeof connectionPnlViewSchema>;
export const routePnlViewSchema = z.object({ routeId: z.uuid(), ...pnlReport });
export type RoutePnlView = z.infer<typeof routePnlViewSchema>;
